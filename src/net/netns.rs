//! Which network namespace glassbox runs in. Links, addresses and nft
//! tables belong to one network namespace; a namespace is known by the
//! device and inode of its nsfs file (`/proc/thread-self/ns/net`, what
//! `readlink` shows as `net:[INODE]`). Records of what glassbox made on
//! the host side carry the namespace they were made in, so that glassbox
//! run from another namespace (a lab's, a container's, the real host's)
//! neither takes them for gone nor makes them again there. Read
//! `network_namespaces(7)`, `nsfs` in `namespaces(7)`.

use std::os::unix::fs::MetadataExt;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::{firewall, store};
use crate::state::Root;

/// A network namespace's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsId {
    pub dev: u64,
    pub ino: u64,
}

/// The network namespace of the calling thread, if it can be read.
pub fn current() -> Option<NsId> {
    let md = std::fs::metadata("/proc/thread-self/ns/net").ok()?;
    Some(NsId {
        dev: md.dev(),
        ino: md.ino(),
    })
}

/// Was something stamped with `made_in` made in the namespace glassbox
/// runs in now? Unknown (an older record, or an unreadable nsfs file)
/// counts as here.
pub fn is_here(made_in: Option<NsId>) -> bool {
    match (made_in, current()) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// The other network namespace that link `name` of this root lives in:
/// the bridge, or a member's host end, of a network made there.
pub fn link_elsewhere(root: &Root, name: &str) -> Option<NsId> {
    for net in store::all(root).ok()? {
        if is_here(net.netns) {
            continue;
        }
        if net.bridge == name
            || store::leases(root, &net.name)
                .ok()?
                .iter()
                .any(|l| l.host_if == name)
        {
            return net.netns;
        }
    }
    None
}

/// The other network namespace this root's nft table was loaded in.
pub fn table_elsewhere(root: &Root) -> Option<NsId> {
    firewall::load(root)
        .ok()?
        .netns
        .filter(|n| !is_here(Some(*n)))
}

/// Refuse to act here on something that lives in namespace `ns`.
pub fn refuse(what: &str, ns: NsId) -> anyhow::Result<()> {
    bail!(
        "{what} lives in another network namespace (net:[{}]): run glassbox there (`lsns -t net` lists them)",
        ns.ino
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_thread_is_here_and_another_namespace_is_not() {
        let me = current().expect("read /proc/thread-self/ns/net");
        assert!(is_here(Some(me)));
        assert!(is_here(None));
        let other = NsId {
            ino: me.ino + 1,
            ..me
        };
        assert!(!is_here(Some(other)));
    }
}
