//! Netlink, bridges and veth pairs: can glassbox wire a container?
//!
//! First a read-only look: open an rtnetlink socket and list the host's
//! links (`ip link show`). Then the real test, in a throwaway network
//! namespace: a thread `unshare(CLONE_NEWNET)`s itself (a network
//! namespace belongs to a thread, not to the whole process), creates a
//! bridge and a veth pair over netlink, attaches one veth end to the
//! bridge, deletes all of it and checks it is gone. When the thread ends
//! its namespace ends too, so nothing can be left on the host; the names
//! still carry this root's link prefix so a trace reads clearly. Read
//! `veth(4)`, `network_namespaces(7)`, `rtnetlink(7)`; by hand:
//! `unshare --net sh -c 'ip link add b0 type bridge; ip link add v0 type veth peer name v1; ip link set v0 master b0'`.

use anyhow::{Context, Result};

use super::{Check, is_permission_error, planned};
use crate::net::netlink::{Netlink, is_errno};
use crate::state::Root;
use crate::trace::{self, Action, Mechanism, Step};

/// The names of the test links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestLinks {
    pub bridge: String,
    pub veth: String,
    pub peer: String,
}

impl TestLinks {
    /// `<link_prefix>{br,va,vb}<4 hex>`: at most 14 characters with a
    /// private root's 8-character prefix (IFNAMSIZ allows 15).
    pub fn new(link_prefix: &str, suffix: u16) -> TestLinks {
        TestLinks {
            bridge: format!("{link_prefix}br{suffix:04x}"),
            veth: format!("{link_prefix}va{suffix:04x}"),
            peer: format!("{link_prefix}vb{suffix:04x}"),
        }
    }
}

fn random_suffix() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ std::process::id().rotate_left(16)) as u16
}

/// The verdict on the read-only netlink look.
pub fn netlink_verdict(links: &Result<Vec<String>>) -> Check {
    match links {
        Ok(names) => Check::ok(
            "netlink",
            format!(
                "rtnetlink answers: {} link(s) in this namespace",
                names.len()
            ),
        ),
        Err(e) => Check::fail(
            "netlink",
            format!("cannot talk rtnetlink: {e:#}"),
            "glassbox needs NETLINK_ROUTE sockets (CONFIG_NETLINK); check seccomp or LSM policy",
        ),
    }
}

/// The verdict on the bridge and veth test.
pub fn links_verdict(result: &Result<()>, dry_run: bool, t: &TestLinks) -> Check {
    const NAME: &str = "bridge and veth";
    if dry_run {
        return planned(
            NAME,
            &format!(
                "create bridge {} and veth pair {}/{} in a throwaway network namespace, then delete them",
                t.bridge, t.veth, t.peer
            ),
        );
    }
    match result {
        Ok(()) => Check::ok(
            NAME,
            format!(
                "created bridge {} and veth pair {}/{} over netlink in a throwaway netns, attached {} to {}, deleted all",
                t.bridge, t.veth, t.peer, t.veth, t.bridge
            ),
        ),
        Err(e) => {
            let hint = if is_permission_error(e) {
                "run as root (needs CAP_SYS_ADMIN for the namespace and CAP_NET_ADMIN for links)"
            } else if is_errno(e, libc::EOPNOTSUPP) {
                "load the modules: modprobe bridge veth"
            } else {
                "check dmesg; the kernel needs CONFIG_BRIDGE and CONFIG_VETH"
            };
            Check::fail(NAME, format!("link test failed: {e:#}"), hint)
        }
    }
}

fn gone(nl: &mut Netlink, name: &str) -> Result<()> {
    match nl.link(name)? {
        None => Ok(()),
        Some(l) => anyhow::bail!("{name} (index {}) still exists after RTM_DELLINK", l.index),
    }
}

/// Is `t.veth` a port of `t.bridge`?
fn attached(nl: &mut Netlink, t: &TestLinks) -> Result<()> {
    let bridge = nl.link(&t.bridge)?.map(|l| l.index);
    let master = nl.link(&t.veth)?.and_then(|l| l.master);
    if bridge.is_none() || master != bridge {
        anyhow::bail!(
            "{} is not attached to {} after RTM_SETLINK",
            t.veth,
            t.bridge
        );
    }
    Ok(())
}

/// Create, attach, delete and verify, with the same traced netlink calls
/// `glassbox network` uses. Deletion runs whatever happened; the first
/// error wins. Under `--dry-run` the changes are only planned, so there is
/// nothing to verify.
fn make_and_remove(t: &TestLinks) -> Result<()> {
    let verify = !trace::dry_run();
    let mut nl = Netlink::new()?;
    let made = (|| -> Result<()> {
        nl.add_bridge(&t.bridge)?;
        nl.add_veth(&t.veth, &t.peer)?;
        nl.set_master(&t.veth, &t.bridge)?;
        if verify {
            attached(&mut nl, t)?;
        }
        Ok(())
    })();
    // Deleting one end of a veth pair deletes both.
    let mut removed = Ok(());
    for name in [&t.veth, &t.bridge] {
        let r = nl.del_link(name).and_then(|()| {
            if verify {
                gone(&mut nl, name)?;
                if name == &t.veth {
                    gone(&mut nl, &t.peer)?;
                }
            }
            Ok(())
        });
        removed = removed.and(r);
    }
    made.and(removed)
}

/// The whole test, run on a thread of its own that enters a new network
/// namespace first.
fn probe(t: &TestLinks) -> Result<()> {
    let t = t.clone();
    let worker = std::thread::Builder::new()
        .name("doctor-links".into())
        .spawn(move || -> Result<()> {
            Step::new(
                Mechanism::Net,
                Action::Syscall,
                "enter a throwaway network namespace (this thread only)",
            )
            .arg("flags", "CLONE_NEWNET")
            .shell("unshare --net")
            .why("Test links made in a namespace of their own cannot collide with the host's, and vanish with it.")
            .man("network_namespaces(7)")
            .run(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .context("unshare(CLONE_NEWNET)")
            })?;
            make_and_remove(&t)
        })
        .context("spawn the link test thread")?;
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the link test thread panicked"))?
}

/// The host's links, over netlink (read-only).
fn host_links() -> Result<Vec<String>> {
    Step::new(Mechanism::Net, Action::Netlink, "list links over rtnetlink")
        .shell("ip -o link show")
        .man("rtnetlink(7)")
        .detail()
        .observe(|| {
            let links = Netlink::new()?.links()?;
            Ok(links.into_iter().map(|l| l.name).collect())
        })
}

pub fn checks(root: &Root) -> Vec<Check> {
    let t = TestLinks::new(&root.names().link_prefix, random_suffix());
    let listed = host_links();
    let dry = trace::dry_run();
    // Under --dry-run the probe's steps are only listed as planned.
    let result = probe(&t);
    vec![netlink_verdict(&listed), links_verdict(&result, dry, &t)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn names_fit_ifnamsiz() {
        let t = TestLinks::new("gba1b2c3", 0xbeef);
        assert_eq!(t.bridge, "gba1b2c3brbeef");
        assert_eq!(t.peer, "gba1b2c3vbbeef");
        assert!(t.bridge.len() <= 15 && t.veth.len() <= 15 && t.peer.len() <= 15);
    }

    #[test]
    fn netlink_error_fails() {
        let c = netlink_verdict(&Err(anyhow::anyhow!("EAFNOSUPPORT")));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(netlink_verdict(&Ok(vec!["lo".into()])).status, Status::Ok);
    }

    #[test]
    fn permission_error_says_run_as_root() {
        let t = TestLinks::new("gb", 1);
        let err = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EPERM));
        let c = links_verdict(&Err(err), false, &t);
        assert_eq!(c.status, Status::Fail);
        assert!(c.hint.unwrap().contains("CAP_NET_ADMIN"));
        let err = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        assert!(
            links_verdict(&Err(err), false, &t)
                .hint
                .unwrap()
                .contains("modprobe")
        );
    }

    #[test]
    fn dry_run_names_the_links_it_would_make() {
        let t = TestLinks::new("gb", 0x12);
        let c = links_verdict(&Ok(()), true, &t);
        assert_eq!(c.status, Status::Info);
        assert!(c.detail.contains("gbbr0012"), "{}", c.detail);
    }
}
