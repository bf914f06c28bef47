//! Plugging a network namespace into a network: a veth pair whose host end
//! is a port of the bridge and whose other end moves into the namespace
//! (renamed `eth0`, `eth1`, ...), an address from the network's leases, the
//! default route through the gateway, the member's names, and the ports
//! it publishes. [`attach`] and [`detach`] are a pair: whatever attach
//! sets up, detach removes, from the saved lease alone (so a shim, `rm`,
//! prune or a command after a reboot can), and "already gone" is success.
//! Both are transactions: the lease is marked while a command works on
//! it, and [`settle`] undoes or finishes what a command that died left,
//! and releases members whose namespace is gone (deleting a namespace
//! deletes its veth ends). The cable itself ([`Cable`]) is also what a
//! point-to-point pair without a bridge is made of ([`super::p2p`]). Read
//! `veth(4)`, `ip-netns(8)`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ipnet::Ipv4Net;

use super::netlink::Netlink;
use super::ports::{PortSpec, Publish};
use super::store::{self, ContainerMember, Lease, Marked, Network, Op};
pub use super::target::{Target, name_of_path};
use super::{LINK_KIND, bridge, hosts, ifname, nat};
use crate::state::Root;
use crate::state::resources::{self, Owner, ResourceKind};

/// Options of an attachment.
#[derive(Debug, Clone, Default)]
pub struct Attach {
    /// A wanted address (else the next free one).
    pub ip: Option<Ipv4Addr>,
    pub aliases: Vec<String>,
    /// Copied to the member's `resolv.conf` when it has a hosts dir.
    pub resolv_conf: Option<PathBuf>,
    /// Ports to publish to the member's address (Docker's `-p`).
    pub ports: Vec<PortSpec>,
    /// The member is this container (its names, its hosts file's lines).
    pub container: Option<ContainerMember>,
}

/// What [`attach`] set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub lease: Lease,
    /// The ports published to the member, host ports chosen.
    pub published: Vec<Publish>,
}

/// What [`detach`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detached {
    pub lease: Lease,
    /// The ports that were published to the member's address.
    pub ports: Vec<String>,
}

/// The host side of a veth pair.
#[derive(Debug, Clone, Copy)]
pub enum HostEnd<'a> {
    /// A port of this bridge (which holds the gateway address).
    Bridge(&'a str),
    /// Point to point: the host end itself holds this address, the
    /// namespace's gateway.
    Address(Ipv4Net),
}

/// One veth pair into a namespace, as it is to be made.
#[derive(Debug, Clone)]
pub struct Cable<'a> {
    pub target: &'a Target,
    pub host_if: String,
    /// Its name inside (`eth0`, ...).
    pub inner_if: String,
    pub host_end: HostEnd<'a>,
    /// The inner end's address and prefix.
    pub addr: Ipv4Net,
    pub gateway: Ipv4Addr,
}

impl Cable<'_> {
    /// `ip link add HOST type veth peer name INNER netns NS` (the caller
    /// recorded the host end first): the other end is made inside.
    pub fn make(&self, nl: &mut Netlink) -> Result<()> {
        let t = self.target;
        nl.add_veth_into(&self.host_if, &self.inner_if, &t.ns_path, &t.ns_shell)
    }

    /// The rest, once the pair exists: the host end joins the bridge (or
    /// takes the gateway address), both come up with the inner address,
    /// and the default route goes through the gateway unless the
    /// namespace has one. Returns the inner end's hardware address (none
    /// in a plan).
    pub fn wire(&self, nl: &mut Netlink, inside: &mut Netlink) -> Result<String> {
        match self.host_end {
            HostEnd::Bridge(br) => {
                nl.set_master(&self.host_if, br)?;
                nl.set_hairpin(&self.host_if)?;
            }
            HostEnd::Address(a) => nl.add_address(&self.host_if, a)?,
        }
        nl.set_up(&self.host_if, true)?;
        inside.add_address(&self.inner_if, self.addr)?;
        inside.set_up("lo", true)?;
        inside.set_up(&self.inner_if, true)?;
        let mac = inside
            .link(&self.inner_if)?
            .map(|l| l.mac)
            .unwrap_or_default();
        let has_default = inside.routes()?.iter().any(|r| r.dst.prefix_len() == 0);
        if !has_default {
            inside.add_route(Ipv4Net::default(), Some(self.gateway), None)?;
        }
        Ok(mac)
    }
}

/// The first `ethN` not taken inside the namespace.
pub fn inner_name(nl: &mut Netlink) -> Result<String> {
    let taken: BTreeSet<String> = nl.links()?.into_iter().map(|l| l.name).collect();
    (0..100)
        .map(|i| format!("eth{i}"))
        .find(|n| !taken.contains(n))
        .context("no free ethN name in the namespace")
}

/// Plug `target` into `net`, whose bridge is up ([`super::network::ensure`])
/// and whose namespace the caller checked ([`Target::check`]). The lease
/// is written first, marked as being attached, and unmarked last:
/// everything made (the veth, the names, the published ports) is undone
/// on failure, and what a crash leaves is undone by the next command that
/// touches the network (or `system prune`). A lease of the same member
/// that a dead command left, or whose namespace went away, is cleared
/// first.
pub fn attach(root: &Root, net: &Network, target: &Target, opts: &Attach) -> Result<Attached> {
    settle(root, net)?;
    let mut inside = Netlink::in_netns(&target.ns_path, &target.ip_cmd)?;
    let prefix = root.names().link_prefix;
    let host_if = ifname::veth_host(&prefix, &net.name, &target.name);
    let lease = store::allocate(
        root,
        net,
        Lease {
            ip: opts.ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            endpoint: target.name.clone(),
            netns: target.ns_path.clone(),
            host_if: host_if.clone(),
            inner_if: inner_name(&mut inside)?,
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
            container: opts.container.clone(),
        },
    )?;
    let made = (|| -> Result<(String, Vec<Publish>)> {
        let owner = if net.manual {
            Owner::Manual {
                command: format!("net veth add --ns {}", target.ns_shell),
            }
        } else {
            Owner::StateFile {
                path: store::path(root, &net.name),
            }
        };
        let cable = Cable {
            target,
            host_if: host_if.clone(),
            inner_if: lease.inner_if.clone(),
            host_end: HostEnd::Bridge(&net.bridge),
            addr: Ipv4Net::new(lease.ip, net.subnet.prefix_len())?,
            gateway: net.gateway,
        };
        let mut nl = Netlink::new()?;
        let pending = resources::record(root, LINK_KIND.name(), &host_if, owner)?;
        cable.make(&mut nl)?;
        pending.commit()?;
        let mac = cable.wire(&mut nl, &mut inside)?;
        if let Some(dir) = &target.hosts_dir
            && !net.manual
            && let Some(src) = &opts.resolv_conf
        {
            let text = std::fs::read_to_string(src)
                .with_context(|| format!("read the resolv.conf source {}", src.display()))?;
            hosts::write_in_place(&dir.join("resolv.conf"), &text)?;
        }
        hosts::refresh(
            root,
            &members(root, net, &lease)?,
            &[(net.clone(), lease.clone())],
        )?;
        let published = if opts.ports.is_empty() {
            Vec::new()
        } else {
            nat::publish_to(root, net, &opts.ports, lease.ip)?
        };
        Ok((mac, published))
    })();
    let (mac, published) = match made {
        Ok(v) => v,
        Err(e) => {
            // Undo as a crash would be undone: what this command made goes,
            // a link of that name that was there before is someone else's.
            if let Ok(Marked::Mine(l)) = store::mark(root, &net.name, &target.name, Op::Detaching) {
                let _ = finish_detach(root, net, &l);
            }
            return Err(e);
        }
    };
    let done = Lease {
        mac,
        busy: None,
        ..lease
    };
    store::finish_lease(root, &net.name, &done)?;
    Ok(Attached {
        lease: done,
        published,
    })
}

/// Every member of `net` (leaving ones too: their files may have to go),
/// with `also` (a lease this command holds in hand).
fn members(root: &Root, net: &Network, also: &Lease) -> Result<BTreeSet<String>> {
    let mut out: BTreeSet<String> = store::leases(root, &net.name)?
        .into_iter()
        .map(|l| l.endpoint)
        .collect();
    out.insert(also.endpoint.clone());
    Ok(out)
}

/// Delete a host veth end this root recorded (the kernel deletes its
/// peer); "already gone" is success, a link this root did not record is
/// someone else's and stays.
pub fn unplug(root: &Root, host_if: &str) -> Result<()> {
    if bridge::record_of(root, host_if)?.is_none() {
        return Ok(());
    }
    Netlink::del_link_unlisted(host_if)?;
    resources::forget(root, LINK_KIND.name(), host_if)
}

/// How long a teardown waits for another command unplugging the same
/// member to finish.
const WAIT_FOR_OTHER: Duration = Duration::from_secs(60);

/// Unplug `endpoint` from `net`: its veth, its lease, its names, and the
/// ports published to its address, all from the saved lease (any process
/// can, after any other). `None` if it is not plugged in: already gone is
/// success. If another live command is unplugging it at the same time,
/// this waits for that one to finish (and then finds it gone).
pub fn detach(root: &Root, net: &Network, endpoint: &str) -> Result<Option<Detached>> {
    let start = Instant::now();
    loop {
        match store::mark(root, &net.name, endpoint, Op::Detaching)? {
            Marked::Mine(lease) => {
                let ports = finish_detach(root, net, &lease)?;
                return Ok(Some(Detached {
                    lease: *lease,
                    ports,
                }));
            }
            Marked::Absent => return Ok(None),
            Marked::Busy(b) if b.op == Op::Detaching && start.elapsed() < WAIT_FOR_OTHER => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Marked::Busy(b) => bail!(
                "{endpoint} is being plugged in or out of network {} by pid {}: wait for it to finish",
                net.name,
                b.pid
            ),
        }
    }
}

/// The rest of a detachment, once the lease is marked leaving: names
/// first (the member is left out of every hosts file, its own files go),
/// then the published ports, the veth, and last the lease. Each part is
/// done again harmlessly, so a detachment a crash cut short is finished
/// by running this again.
fn finish_detach(root: &Root, net: &Network, lease: &Lease) -> Result<Vec<String>> {
    hosts::refresh(
        root,
        &members(root, net, lease)?,
        &[(net.clone(), lease.clone())],
    )?;
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
    let troubled = store::mark_all(root, &net.name, |l| {
        let why = trouble(l, &links)?;
        // A member another command finished plugging in after the links
        // were listed has its veth: looked up again, under the network's
        // lock, before it counts as gone (an error counts as there).
        let made_since = l.busy.is_none()
            && Netlink::new()
                .and_then(|mut nl| nl.link(&l.host_if))
                .map_or(true, |link| link.is_some());
        (!made_since).then_some(why)
    })?;
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
/// away), from the saved leases alone; keeps going after an error and
/// reports them all. What it removed, by network (nothing if it was on
/// none).
pub fn detach_everywhere(root: &Root, endpoint: &str) -> Result<Vec<(String, Detached)>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for net in store::all(root)? {
        if store::leases(root, &net.name)?
            .iter()
            .any(|l| l.endpoint == endpoint)
        {
            match detach(root, &net, endpoint) {
                Ok(Some(d)) => out.push((net.name.clone(), d)),
                Ok(None) => {}
                Err(e) => errors.push(format!("{}: {e:#}", net.name)),
            }
        }
    }
    if !errors.is_empty() {
        bail!("detaching {endpoint}: {}", errors.join("; "));
    }
    Ok(out)
}
