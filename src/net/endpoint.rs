//! Plugging a network namespace into a network: a veth pair whose host end
//! is a port of the bridge and whose other end moves into the namespace
//! (renamed `eth0`, `eth1`, ...), an address from the network's leases, the
//! default route through the gateway, and the member's names. Detaching
//! deletes the host end (the kernel deletes its peer), gives the address
//! back and rewrites the names. Both are transactions: the lease is marked
//! while a command works on it, and [`settle`] undoes or finishes what a
//! command that died left, and releases members whose namespace is gone
//! (deleting a namespace deletes its veth ends). Read `veth(4)`,
//! `ip-netns(8)`.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ipnet::Ipv4Net;

use super::netlink::Netlink;
use super::store::{self, Lease, Network, Op};
use super::{LINK_KIND_NAME, bridge, hosts, ifname, nat};
use crate::state::Root;
use crate::state::resources::{self, Owner};

/// A network namespace to plug in: `NAME` (`/run/netns/NAME`, as `ip netns
/// add` makes) or a `PID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The member's name on the network.
    pub name: String,
    pub ns_path: PathBuf,
    /// How `ip link set ... netns X` names it.
    pub ns_shell: String,
    /// The `ip` command that works inside it.
    pub ip_cmd: String,
    /// Where its `hosts` and `resolv.conf` go.
    pub hosts_dir: Option<PathBuf>,
}

impl Target {
    pub fn parse(s: &str, hosts_dir: Option<PathBuf>) -> Result<Target> {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
            let pid: u32 = s.parse().with_context(|| format!("invalid pid {s}"))?;
            return Ok(Target {
                name: format!("pid-{pid}"),
                ns_path: PathBuf::from(format!("/proc/{pid}/ns/net")),
                ns_shell: pid.to_string(),
                ip_cmd: format!("nsenter -t {pid} -n ip"),
                hosts_dir,
            });
        }
        if s.is_empty() || s.contains('/') || s == "." || s == ".." {
            bail!("invalid namespace {s:?}: give a PID or a name from `ip netns list`");
        }
        Ok(Target {
            name: s.to_string(),
            ns_path: PathBuf::from(format!("/run/netns/{s}")),
            ns_shell: s.to_string(),
            ip_cmd: format!("ip -n {s}"),
            hosts_dir: Some(hosts_dir.unwrap_or_else(|| store::hosts_dir_for_netns(s))),
        })
    }

    fn open(&self) -> Result<File> {
        File::open(&self.ns_path).with_context(|| {
            format!(
                "open network namespace {}: no such process or `ip netns` name {:?}",
                self.ns_path.display(),
                self.ns_shell
            )
        })
    }
}

/// Options of an attachment.
#[derive(Debug, Clone, Default)]
pub struct Attach {
    /// A wanted address (else the next free one).
    pub ip: Option<Ipv4Addr>,
    pub aliases: Vec<String>,
    /// Copied to the member's `resolv.conf` when it has a hosts dir.
    pub resolv_conf: Option<PathBuf>,
}

/// The first `ethN` not taken inside the namespace.
fn inner_name(nl: &mut Netlink) -> Result<String> {
    let taken: BTreeSet<String> = nl.links()?.into_iter().map(|l| l.name).collect();
    (0..100)
        .map(|i| format!("eth{i}"))
        .find(|n| !taken.contains(n))
        .context("no free ethN name in the namespace")
}

/// Plug `target` into `net`. The lease is written first, marked as being
/// attached, and unmarked last: everything made is undone on failure, and
/// what a crash leaves is undone by the next command that touches the
/// network (or `system prune`). A lease of the same member that a dead
/// command left, or whose namespace went away, is cleared first.
pub fn attach(root: &Root, net: &Network, target: &Target, opts: &Attach) -> Result<Lease> {
    let ns = target.open()?;
    bridge::ensure(root, net)?;
    settle(root, net)?;
    let mut inside = Netlink::in_netns(&target.ns_path, &target.ip_cmd)?;
    let prefix = root.names().link_prefix;
    let host_if = ifname::veth_host(&prefix, &net.name, &target.name);
    let peer_if = ifname::veth_peer(&prefix, &net.name, &target.name);
    let inner_if = inner_name(&mut inside)?;
    let lease = store::allocate(
        root,
        net,
        Lease {
            ip: opts.ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            endpoint: target.name.clone(),
            netns: target.ns_path.clone(),
            host_if: host_if.clone(),
            inner_if: inner_if.clone(),
            // Names are a feature of Docker's networks, not of a bridge
            // made by hand.
            hosts: if net.manual {
                None
            } else {
                target.hosts_dir.as_ref().map(|d| d.join("hosts"))
            },
            aliases: opts.aliases.clone(),
            mac: String::new(),
            busy: None,
        },
    )?;
    let made = (|| -> Result<String> {
        let owner = if net.manual {
            Owner::Manual {
                command: format!("net veth add --ns {}", target.ns_shell),
            }
        } else {
            Owner::StateFile {
                path: store::path(root, &net.name),
            }
        };
        let mut nl = Netlink::new()?;
        let pending = resources::record(root, LINK_KIND_NAME, &host_if, owner)?;
        nl.add_veth(&host_if, &peer_if)?;
        pending.commit()?;
        nl.move_to_netns(&peer_if, &ns, &target.ns_shell, &inner_if)?;
        nl.set_master(&host_if, &net.bridge)?;
        nl.set_hairpin(&host_if)?;
        nl.set_up(&host_if, true)?;
        inside.add_address(&inner_if, Ipv4Net::new(lease.ip, net.subnet.prefix_len())?)?;
        inside.set_up("lo", true)?;
        inside.set_up(&inner_if, true)?;
        let mac = inside.link(&inner_if)?.map(|l| l.mac).unwrap_or_default();
        let has_default = inside.routes()?.iter().any(|r| r.dst.prefix_len() == 0);
        if !has_default {
            inside.add_route(Ipv4Net::default(), Some(net.gateway), None)?;
        }
        if let Some(dir) = &target.hosts_dir
            && !net.manual
            && let Some(src) = &opts.resolv_conf
        {
            let text = std::fs::read_to_string(src)
                .with_context(|| format!("read the resolv.conf source {}", src.display()))?;
            hosts::write_in_place(&dir.join("resolv.conf"), &text)?;
        }
        hosts::refresh(root, &members(root, net)?)?;
        Ok(mac)
    })();
    let mac = match made {
        Ok(mac) => mac,
        Err(e) => {
            // Undo as a crash would be undone: what this command made goes,
            // a link of that name that was there before is someone else's.
            if let Ok(Some(l)) = store::mark(root, &net.name, &target.name, Op::Detaching) {
                let _ = finish_detach(root, net, &l);
            }
            return Err(e);
        }
    };
    let done = store::update_lease(root, &net.name, &target.name, |l| {
        l.mac = mac.clone();
        l.busy = None;
    })?;
    Ok(done.unwrap_or(Lease { mac, ..lease }))
}

/// Every member of `net` (leaving ones too: their files may have to go).
fn members(root: &Root, net: &Network) -> Result<BTreeSet<String>> {
    Ok(store::leases(root, &net.name)?
        .into_iter()
        .map(|l| l.endpoint)
        .collect())
}

/// Delete a host veth end this root recorded (the kernel deletes its
/// peer); "already gone" is success, a link this root did not record is
/// someone else's and stays.
fn unplug(root: &Root, host_if: &str) -> Result<()> {
    if bridge::record_of(root, host_if)?.is_none() {
        return Ok(());
    }
    Netlink::new()?.del_link(host_if)?;
    resources::forget(root, LINK_KIND_NAME, host_if)
}

/// Unplug `endpoint` from `net`: its veth, its lease, its names, and the
/// ports published to its address. Returns the lease and the ports that
/// went with it.
pub fn detach(root: &Root, net: &Network, endpoint: &str) -> Result<(Lease, Vec<String>)> {
    let Some(lease) = store::mark(root, &net.name, endpoint, Op::Detaching)? else {
        bail!("{endpoint} is not connected to network {}", net.name);
    };
    let ports = finish_detach(root, net, &lease)?;
    Ok((lease, ports))
}

/// The rest of a detachment, once the lease is marked leaving: names
/// first (the member is left out of every hosts file, its own files go),
/// then the published ports, the veth, and last the lease. Each part is
/// done again harmlessly, so a detachment a crash cut short is finished
/// by running this again.
fn finish_detach(root: &Root, net: &Network, lease: &Lease) -> Result<Vec<String>> {
    hosts::refresh(root, &members(root, net)?)?;
    // A port published to the address it leaves would forward to whoever
    // gets that address next: it goes with the member.
    let ports: Vec<String> = super::firewall::load(root)?
        .ports
        .iter()
        .filter(|p| p.publish.container_ip == lease.ip)
        .map(|p| p.publish.to_string())
        .collect();
    if !ports.is_empty() {
        nat::unpublish_all_to(root, lease.ip)?;
    }
    unplug(root, &lease.host_if)?;
    store::release(root, &net.name, &lease.endpoint)?;
    Ok(ports)
}

/// Why a lease needs putting right, if it does: a command that died while
/// plugging it in or out, or a member whose veth is gone (its namespace
/// was deleted, or its process exited). `links` are the names of the
/// links in glassbox's network namespace.
pub fn trouble(l: &Lease, links: &BTreeSet<String>) -> Option<String> {
    match l.busy {
        Some(b) if b.abandoned() => Some(match b.op {
            Op::Attaching => format!(
                "half-made: `network connect` (pid {}) died before finishing",
                b.pid
            ),
            _ => format!(
                "half-removed: a disconnect (pid {}) died before finishing",
                b.pid
            ),
        }),
        Some(_) => None,
        None if !links.contains(&l.host_if) => Some(format!(
            "its veth {} is gone: the namespace {} was deleted or its process exited",
            l.host_if,
            l.netns.display()
        )),
        None => None,
    }
}

/// The names of the links in glassbox's network namespace.
pub fn link_names() -> Result<BTreeSet<String>> {
    Ok(Netlink::new()?
        .links()?
        .into_iter()
        .map(|l| l.name)
        .collect())
}

/// Put right every lease of `net` that [`trouble`] finds: a half-made
/// attachment is undone, a half-done detachment finished, a member that
/// went away released (its veth end, its address, its names, its ports).
/// Returns the leases released, with why. Nothing is done from another
/// network namespace than the network's: its veth ends are not gone, only
/// out of sight.
pub fn settle(root: &Root, net: &Network) -> Result<Vec<(Lease, String)>> {
    if !super::netns::is_here(net.netns) {
        return Ok(vec![]);
    }
    let links = link_names()?;
    let troubled = store::mark_all(root, &net.name, |l| trouble(l, &links))?;
    let mut errors = Vec::new();
    for (l, why) in &troubled {
        crate::trace::say(
            crate::trace::Mechanism::Net,
            format!("releasing {} from network {}: {why}", l.endpoint, net.name),
        );
        if let Err(e) = finish_detach(root, net, l) {
            errors.push(format!("{}: {e:#}", l.endpoint));
        }
    }
    if !errors.is_empty() {
        bail!(
            "could not release every member of network {} that needs it: {}",
            net.name,
            errors.join("; ")
        );
    }
    Ok(troubled)
}

/// Unplug `endpoint` from every network it is on (a container going
/// away); keeps going after an error and reports them all.
pub fn detach_everywhere(root: &Root, endpoint: &str) -> Result<Vec<Lease>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for net in store::all(root)? {
        if store::leases(root, &net.name)?
            .iter()
            .any(|l| l.endpoint == endpoint)
        {
            match detach(root, &net, endpoint) {
                Ok((l, _)) => out.push(l),
                Err(e) => errors.push(format!("{}: {e:#}", net.name)),
            }
        }
    }
    if !errors.is_empty() {
        bail!("detaching {endpoint}: {}", errors.join("; "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("1234", None).unwrap();
        assert_eq!(t.ns_path, PathBuf::from("/proc/1234/ns/net"));
        assert_eq!(t.name, "pid-1234");
        assert!(t.hosts_dir.is_none());
        let t = Target::parse("c1", None).unwrap();
        assert_eq!(t.ns_path, PathBuf::from("/run/netns/c1"));
        assert_eq!(t.ip_cmd, "ip -n c1");
        assert_eq!(t.hosts_dir.unwrap(), PathBuf::from("/etc/netns/c1"));
        assert!(Target::parse("../x", None).is_err());
        assert!(Target::parse("", None).is_err());
    }
}
