//! A point-to-point cable by hand (`net veth add` without `--bridge`): a
//! veth pair whose host end holds the subnet's first address and is the
//! namespace's gateway, with no bridge in between. The pair is recorded in
//! the ledger before it is made and marked live only once fully
//! configured, so a pair half made by a command that died is a half-made
//! record that `system prune` removes and the next `net veth add` replaces.
//! Read `veth(4)`, `ip-netns(8)`.

use std::net::Ipv4Addr;

use anyhow::{Context, Result, bail};
use ipnet::Ipv4Net;

use super::endpoint::Target;
use super::netlink::Netlink;
use super::{LINK_KIND_NAME, bridge, cidr, ifname};
use crate::state::Root;
use crate::state::resources::{self, Owner, Phase, pid_alive};

/// The host end and the temporary name of the other end, for `target`.
pub fn names(root: &Root, target: &Target) -> (String, String) {
    let prefix = root.names().link_prefix;
    (
        ifname::veth_host(&prefix, "", &target.name),
        ifname::veth_peer(&prefix, "", &target.name),
    )
}

/// Plug `target` in with address `ip`; the host end takes the subnet's
/// first address.
pub fn add(root: &Root, target: &Target, ip: Ipv4Net) -> Result<()> {
    let gw = cidr::gateway(ip.trunc());
    if gw == ip.addr() {
        bail!(
            "{ip} is the address the host end takes: choose another, e.g. {}",
            Ipv4Addr::from(u32::from(gw) + 1)
        );
    }
    let ns = std::fs::File::open(&target.ns_path)
        .with_context(|| format!("open network namespace {}", target.ns_path.display()))?;
    let (host_if, peer_if) = names(root, target);
    let mut nl = Netlink::new()?;
    if let Some(r) = bridge::record_of(root, &host_if)? {
        if r.phase == Phase::Pending && !pid_alive(r.creator) {
            // Half made by a command that died: start again.
            nl.del_link(&host_if)?;
            resources::forget(root, LINK_KIND_NAME, &host_if)?;
        } else {
            bail!(
                "a veth pair to {} is there already: remove it with `glassbox net veth del --ns {}`",
                target.ns_shell,
                target.ns_shell
            );
        }
    }
    let mut inside = Netlink::in_netns(&target.ns_path, &target.ip_cmd)?;
    let pending = resources::record(
        root,
        LINK_KIND_NAME,
        &host_if,
        Owner::Manual {
            command: format!("net veth add --ns {}", target.ns_shell),
        },
    )?;
    nl.add_veth(&host_if, &peer_if)?;
    let rest = (|| -> Result<()> {
        let inner = "eth0";
        nl.move_to_netns(&peer_if, &ns, &target.ns_shell, inner)?;
        nl.add_address(&host_if, Ipv4Net::new(gw, ip.prefix_len())?)?;
        nl.set_up(&host_if, true)?;
        inside.add_address(inner, ip)?;
        inside.set_up("lo", true)?;
        inside.set_up(inner, true)?;
        inside.add_route(Ipv4Net::default(), Some(gw), None)
    })();
    if let Err(e) = rest {
        let _ = nl.del_link(&host_if);
        return Err(e);
    }
    pending.commit()
}

/// Unplug `target`'s point-to-point pair; a pair already gone (its
/// namespace was deleted) only has its record dropped.
pub fn del(root: &Root, target: &Target) -> Result<()> {
    let (host_if, _) = names(root, target);
    let recorded = bridge::record_of(root, &host_if)?.is_some();
    let mut nl = Netlink::new()?;
    if !recorded {
        bail!(
            "no veth pair to {} was made by `glassbox net veth add` without --bridge",
            target.ns_shell
        );
    }
    nl.del_link(&host_if)?;
    resources::forget(root, LINK_KIND_NAME, &host_if)
}
