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

use super::netlink_probe::{Netlink, errno_of};
use super::{Check, is_permission_error, planned};
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
            } else if errno_of(e) == Some(libc::EOPNOTSUPP) {
                "load the modules: modprobe bridge veth"
            } else {
                "check dmesg; the kernel needs CONFIG_BRIDGE and CONFIG_VETH"
            };
            Check::fail(NAME, format!("link test failed: {e:#}"), hint)
        }
    }
}

fn netlink_step(summary: String, shell: String) -> Step {
    Step::new(Mechanism::Net, Action::Netlink, summary)
        .shell(shell)
        .man("rtnetlink(7)")
}

fn socket(nl: &mut Option<Netlink>) -> Result<&mut Netlink> {
    if nl.is_none() {
        *nl = Some(Netlink::open()?);
    }
    nl.as_mut().context("no netlink socket")
}

fn gone(nl: &mut Netlink, name: &str) -> Result<()> {
    match nl.link_index(name)? {
        None => Ok(()),
        Some(i) => anyhow::bail!("{name} (index {i}) still exists after RTM_DELLINK"),
    }
}

/// Create, attach, delete and verify. Deletion runs whatever happened; the
/// first error wins.
fn make_and_remove(nl: &mut Option<Netlink>, t: &TestLinks) -> Result<()> {
    let made = (|| -> Result<()> {
        netlink_step(
            format!("create bridge {}", t.bridge),
            format!("ip link add {} type bridge", t.bridge),
        )
        .arg("name", &t.bridge)
        .why("Containers of a network hang off one bridge, a switch inside the kernel.")
        .run(|| socket(nl)?.add_bridge(&t.bridge))?;
        netlink_step(
            format!("create veth pair {}/{}", t.veth, t.peer),
            format!("ip link add {} type veth peer name {}", t.veth, t.peer),
        )
        .arg("name", &t.veth)
        .arg("peer", &t.peer)
        .why("A veth pair is a cable: one end goes into the container, the other onto the bridge.")
        .man("veth(4)")
        .run(|| socket(nl)?.add_veth(&t.veth, &t.peer))?;
        netlink_step(
            format!("attach {} to {}", t.veth, t.bridge),
            format!("ip link set {} master {}", t.veth, t.bridge),
        )
        .run(|| {
            let nl = socket(nl)?;
            nl.set_master(&t.veth, &t.bridge)?;
            let bridge = nl.link_index(&t.bridge)?;
            if nl.master_of(&t.veth)? != bridge || bridge.is_none() {
                anyhow::bail!(
                    "{} is not attached to {} after RTM_SETLINK",
                    t.veth,
                    t.bridge
                );
            }
            Ok(())
        })
    })();
    // Deleting one end of a veth pair deletes both.
    let mut removed = Ok(());
    for name in [&t.veth, &t.bridge] {
        let r = netlink_step(format!("delete {name}"), format!("ip link del {name}"))
            .arg("name", name)
            .run(|| {
                let nl = socket(nl)?;
                nl.del_link(name)?;
                gone(nl, name)?;
                if name == &t.veth {
                    gone(nl, &t.peer)?;
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
            let mut nl = None;
            make_and_remove(&mut nl, &t)
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
        .observe(|| Netlink::open()?.link_names())
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
