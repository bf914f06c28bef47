//! Networking: bridges, veth pairs, addresses, NAT and published ports.
//!
//! The pieces Docker's bridge driver is made of, each one kernel concept:
//! [`netlink`] speaks rtnetlink (what `ip` does), [`bridge`] makes a
//! network's virtual switch, [`endpoint`] plugs a network namespace into
//! it with a veth pair and an address from [`store`]'s leases, [`nat`]
//! masquerades and publishes ports through [`firewall`]'s nftables table
//! (loaded by [`nftable`]), [`hosts`] gives members each other's names.
//! [`network`] strings them together into Docker's commands, each a
//! transaction whose leftovers after a crash [`recover`] finds and puts
//! right; [`p2p`] is the cable without a bridge. Read `veth(4)`,
//! `network_namespaces(7)`, `ip-link(8)`, `nft(8)`.

pub mod bridge;
pub mod cidr;
pub mod endpoint;
pub mod firewall;
pub mod hosts;
pub mod ifname;
pub mod iptables;
pub mod mode;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod network;
pub mod nftable;
pub mod p2p;
pub mod ports;
pub mod recover;
pub mod store;

use anyhow::Result;

use crate::state::Root;
use crate::state::resources::ResourceKind;

pub use firewall::{IPT_KIND, NFT_KIND};

/// The ledger kind of links.
pub const LINK_KIND_NAME: &str = "link";

/// A network link glassbox made (bridge or host end of a veth pair), in
/// the network namespace glassbox runs in. A link of a network made in
/// another namespace is out of sight here, not gone: it counts as
/// existing, and is not removed from here.
pub struct LinkKind;
pub static LINK_KIND: LinkKind = LinkKind;

impl ResourceKind for LinkKind {
    fn name(&self) -> &'static str {
        "link"
    }
    fn exists(&self, root: &Root, id: &str) -> bool {
        netlink::Netlink::new()
            .and_then(|mut nl| nl.link(id))
            .map(|l| l.is_some())
            .unwrap_or(false)
            || netns::link_elsewhere(root, id).is_some()
    }
    fn remove(&self, root: &Root, id: &str) -> Result<()> {
        if let Some(ns) = netns::link_elsewhere(root, id) {
            return netns::refuse(&format!("link {id}"), ns);
        }
        netlink::Netlink::new()?.del_link(id)?;
        // A bridge made by hand (`net bridge add`) is described by a
        // network record of its own, which would be stale without it.
        for net in store::all(root)? {
            if net.manual && net.bridge == id {
                store::delete(root, &net.name)?;
            }
        }
        Ok(())
    }
    fn scan(&self, root: &Root) -> Vec<String> {
        let names = root.names();
        let Ok(links) = netlink::Netlink::new().and_then(|mut nl| nl.links()) else {
            return vec![];
        };
        links
            .into_iter()
            .map(|l| l.name)
            .filter(|n| n == &names.default_bridge || is_ours(&names.link_prefix, n))
            .collect()
    }
}

/// Does `name` follow the pattern of names [`ifname`] derives for this
/// prefix (`PREFIX` + role letter `n`/`v`/`p` + hex)?
pub fn is_ours(prefix: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let mut chars = rest.chars();
    matches!(chars.next(), Some('n' | 'v' | 'p'))
        && name.len() == ifname::IFNAME_MAX
        && chars.all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_names_are_told_apart_from_other_roots() {
        let mine = ifname::veth_host("gb", "n", "e");
        assert!(is_ours("gb", &mine));
        let other_root = ifname::veth_host("gbabc123", "n", "e");
        assert!(!is_ours("gb", &other_root), "{other_root}");
        assert!(is_ours("gbabc123", &other_root));
        assert!(!is_ours("gb", "gbr0"));
    }
}
