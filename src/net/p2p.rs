//! A point-to-point cable by hand (`net veth add` without `--bridge`): a
//! veth pair whose host end holds the subnet's first address and is the
//! namespace's gateway, with no bridge in between. The pair is recorded in
//! the ledger before it is made and marked live only once fully
//! configured, so a pair half made by a command that died is a half-made
//! record that `system prune` removes and the next `net veth add` replaces.
//! Read `veth(4)`, `ip-netns(8)`.

use std::net::Ipv4Addr;

use anyhow::{Result, bail};
use ipnet::Ipv4Net;

use super::endpoint::{Cable, HostEnd, Target};
use super::netlink::Netlink;
use super::{LINK_KIND, bridge, cidr, ifname};
use crate::state::Root;
use crate::state::resources::{self, Owner, Phase, ResourceKind, pid_alive};

/// The host end's name, for `target` (the other end is `eth0` inside).
pub fn host_name(root: &Root, target: &Target) -> String {
    ifname::veth_host(&root.names().link_prefix, "", &target.name)
}

/// Plug `target` in with address `ip`; the host end takes the subnet's
/// first address. The cable is [`endpoint`](super::endpoint)'s, with the
/// host end holding the gateway instead of joining a bridge.
pub fn add(root: &Root, target: &Target, ip: Ipv4Net) -> Result<()> {
    let gw = cidr::gateway(ip.trunc());
    if gw == ip.addr() {
        bail!(
            "{ip} is the address the host end takes: choose another, e.g. {}",
            Ipv4Addr::from(u32::from(gw) + 1)
        );
    }
    target.check()?;
    let host_if = host_name(root, target);
    let mut nl = Netlink::new()?;
    if let Some(r) = bridge::record_of(root, &host_if)? {
        if r.phase == Phase::Pending && !pid_alive(r.creator) {
            // Half made by a command that died: start again.
            nl.del_link(&host_if)?;
            resources::forget(root, LINK_KIND.name(), &host_if)?;
        } else {
            bail!(
                "a veth pair to {} is there already: remove it with `glassbox net veth del --ns {}`",
                target.ns_shell,
                target.ns_shell
            );
        }
    }
    let mut inside = Netlink::in_netns(&target.ns_path, &target.ip_cmd)?;
    let cable = Cable {
        target,
        host_if: host_if.clone(),
        inner_if: "eth0".into(),
        host_end: HostEnd::Address(Ipv4Net::new(gw, ip.prefix_len())?),
        addr: ip,
        gateway: gw,
    };
    // The record stays pending until the pair is wired: a pair half made
    // by a command that died is the ledger's to remove.
    let pending = resources::record(
        root,
        LINK_KIND.name(),
        &host_if,
        Owner::Manual {
            command: format!("net veth add --ns {}", target.ns_shell),
        },
    )?;
    cable.make(&mut nl)?;
    if let Err(e) = cable.wire(&mut nl, &mut inside) {
        let _ = nl.del_link(&host_if);
        return Err(e);
    }
    pending.commit()
}

/// Unplug `target`'s point-to-point pair, from its record alone; true if
/// there was one. A pair already gone (its namespace was deleted, or
/// another command removed it) only has its record dropped.
pub fn del(root: &Root, target: &Target) -> Result<bool> {
    let host_if = host_name(root, target);
    if bridge::record_of(root, &host_if)?.is_none() {
        return Ok(false);
    }
    Netlink::new()?.del_link(&host_if)?;
    resources::forget(root, LINK_KIND.name(), &host_if)?;
    Ok(true)
}
