//! Plugging a network namespace into a network: a veth pair whose host end
//! is a port of the bridge and whose other end moves into the namespace
//! (renamed `eth0`, `eth1`, ...), an address from the network's leases, the
//! default route through the gateway, and the member's names. Detaching
//! deletes the host end (the kernel deletes its peer), gives the address
//! back and rewrites the names. Read `veth(4)`, `ip-netns(8)`.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ipnet::Ipv4Net;

use super::netlink::Netlink;
use super::store::{self, Lease, Network};
use super::{LINK_KIND_NAME, bridge, hosts, ifname};
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

/// Plug `target` into `net`. Everything made is undone on failure.
pub fn attach(root: &Root, net: &Network, target: &Target, opts: &Attach) -> Result<Lease> {
    let ns = target.open()?;
    bridge::ensure(root, net)?;
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
        },
    )?;
    let mut mac = String::new();
    let mut created = false;
    let made = (|| -> Result<()> {
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
        created = true;
        pending.commit()?;
        nl.move_to_netns(&peer_if, &ns, &target.ns_shell, &inner_if)?;
        nl.set_master(&host_if, &net.bridge)?;
        nl.set_hairpin(&host_if)?;
        nl.set_up(&host_if, true)?;
        inside.add_address(&inner_if, Ipv4Net::new(lease.ip, net.subnet.prefix_len())?)?;
        inside.set_up("lo", true)?;
        inside.set_up(&inner_if, true)?;
        if let Some(l) = inside.link(&inner_if)? {
            mac = l.mac;
        }
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
        Ok(())
    })();
    if let Err(e) = made {
        // Remove only what this command made: a link of that name that
        // was there before is someone else's.
        if created {
            let _ = unplug(root, &host_if);
        }
        let _ = store::release(root, &net.name, &target.name);
        return Err(e);
    }
    if !mac.is_empty() {
        store::set_mac(root, &net.name, &target.name, &mac)?;
    }
    hosts::refresh(root, &members_and(root, net, &target.name)?, None)?;
    Ok(Lease { mac, ..lease })
}

/// Every member of `net`, and `also`.
fn members_and(root: &Root, net: &Network, also: &str) -> Result<BTreeSet<String>> {
    let mut set: BTreeSet<String> = store::leases(root, &net.name)?
        .into_iter()
        .map(|l| l.endpoint)
        .collect();
    set.insert(also.to_string());
    Ok(set)
}

fn unplug(root: &Root, host_if: &str) -> Result<()> {
    Netlink::new()?.del_link(host_if)?;
    resources::forget(root, LINK_KIND_NAME, host_if)
}

/// Unplug `endpoint` from `net`: its veth, its lease, its names.
pub fn detach(root: &Root, net: &Network, endpoint: &str) -> Result<Lease> {
    let Some(lease) = store::leases(root, &net.name)?
        .into_iter()
        .find(|l| l.endpoint == endpoint)
    else {
        bail!("{endpoint} is not connected to network {}", net.name);
    };
    unplug(root, &lease.host_if)?;
    store::release(root, &net.name, endpoint)?;
    hosts::refresh(root, &members_and(root, net, endpoint)?, Some(&lease))?;
    Ok(lease)
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
                Ok(l) => out.push(l),
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
