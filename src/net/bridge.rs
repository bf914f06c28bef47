//! A network's bridge: a virtual switch on the host holding the gateway
//! address. Members' veth ends are its ports; the kernel routes between
//! the bridge's subnet and the rest through the gateway address. Read
//! `ip-link(8)` (type bridge).
//!
//! Making a bridge is several kernel changes (the link, its address, up,
//! the accept rules); [`ensure`] finds whatever part is missing and makes
//! it, so a bridge half made by a command that died is finished by the
//! next one. A link is removed only if this root's ledger recorded it: a
//! link of the same name made by someone else is never touched.

use anyhow::{Result, bail};
use ipnet::Ipv4Net;

use super::iptables;
use super::netlink::{self, Netlink};
use super::store::{self, Network};
use super::{LINK_KIND, cidr};
use crate::state::Root;
use crate::state::resources::{self, Owner, Phase, ResourceKind};

/// Subnets a new network may not overlap: routes and addresses here, and
/// other glassbox networks (whose bridge may not be up yet).
pub fn used_subnets(root: &Root, except: Option<&str>) -> Result<Vec<(Ipv4Net, String)>> {
    let mut used: Vec<(Ipv4Net, String)> = store::all(root)?
        .into_iter()
        .filter(|n| Some(n.name.as_str()) != except)
        .map(|n| {
            let what = match n.busy {
                Some(b) if b.abandoned() => format!(
                    "network {}, left half-made by a `{}` that died: `glassbox system prune` clears it",
                    n.name,
                    b.command()
                ),
                _ => format!("network {}", n.name),
            };
            (n.subnet, what)
        })
        .collect();
    let mut nl = Netlink::new()?;
    used.extend(
        netlink::used_subnets(&mut nl)?
            .into_iter()
            .map(|n| (n, "a route on this host".to_string())),
    );
    Ok(used)
}

/// Refuse a subnet that overlaps something in use, or one of `also`
/// (networks about to be made in the same command).
pub fn check_free(root: &Root, subnet: Ipv4Net, also: &[(Ipv4Net, String)]) -> Result<()> {
    for (u, what) in used_subnets(root, None)?.iter().chain(also) {
        if cidr::overlaps(subnet, *u) {
            bail!("subnet {subnet} overlaps {u} ({what}): choose another with --subnet");
        }
    }
    Ok(())
}

/// A free subnet from the default pools, overlapping none of `also`.
pub fn choose(root: &Root, also: &[Ipv4Net]) -> Result<Ipv4Net> {
    let mut used: Vec<Ipv4Net> = used_subnets(root, None)?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    used.extend(also);
    cidr::choose_subnet(&used)
}

/// Who keeps a network's bridge.
pub fn owner(root: &Root, net: &Network) -> Owner {
    if net.manual {
        Owner::Manual {
            command: format!("net bridge add {}", net.bridge),
        }
    } else {
        Owner::StateFile {
            path: store::path(root, &net.name),
        }
    }
}

/// This root's ledger record of link `name`, if any.
pub fn record_of(root: &Root, name: &str) -> Result<Option<resources::Resource>> {
    Ok(super::ledger(root)?
        .into_iter()
        .find(|r| r.kind == LINK_KIND.name() && r.id == name))
}

/// Create the bridge of `net`, give it the gateway address, bring it up,
/// and let FORWARD accept its traffic. Undone on failure.
pub fn create(root: &Root, net: &Network) -> Result<()> {
    let owner = owner(root, net);
    let mut nl = Netlink::new()?;
    let pending = resources::record(root, LINK_KIND.name(), &net.bridge, owner.clone())?;
    nl.add_bridge(&net.bridge)?;
    pending.commit()?;
    if let Err(e) = configure(root, net, &mut nl, &owner) {
        let _ = remove(root, net);
        return Err(e);
    }
    Ok(())
}

/// The parts of a bridge after the link: address, up, accept rules; each
/// only if it is missing.
fn configure(root: &Root, net: &Network, nl: &mut Netlink, owner: &Owner) -> Result<()> {
    let gw = Ipv4Net::new(net.gateway, net.subnet.prefix_len())?;
    let link = nl.link(&net.bridge)?;
    let has_gw = match &link {
        Some(l) => nl
            .addresses()?
            .iter()
            .any(|(i, a)| *i == l.index && *a == gw),
        None => false,
    };
    if !has_gw {
        nl.add_address(&net.bridge, gw)?;
    }
    if !link.is_some_and(|l| l.up) {
        nl.set_up(&net.bridge, true)?;
    }
    iptables::add_forward_accepts(root, &net.bridge, owner)
}

/// Make sure the bridge of `net` is there and whole: create it (the
/// default network's bridge is made on first use), or finish what a
/// command that died left of it. Under the network's lock, so two
/// members plugged in at once make it once.
pub fn ensure(root: &Root, net: &Network) -> Result<()> {
    let _lock = store::lock(root, &net.name)?;
    let mut nl = Netlink::new()?;
    if nl.link(&net.bridge)?.is_none() {
        return create(root, net);
    }
    let owner = owner(root, net);
    match record_of(root, &net.bridge)? {
        None => bail!(
            "a link named {} is on this host, but this root did not make it: remove it (`ip link del {}`) or give glassbox another --root",
            net.bridge,
            net.bridge
        ),
        // A bridge whose creator died between making the link and marking
        // the record live: it is ours, finish it.
        Some(r) if r.phase == Phase::Pending => {
            resources::record(root, LINK_KIND.name(), &net.bridge, owner.clone())?.commit()?
        }
        Some(_) => {}
    }
    configure(root, net, &mut nl, &owner)
}

/// What a bridge of `net` that this root made lacks (its gateway
/// address, up, its accept rules), if anything: a command that died while
/// making it, or a change by hand. Nothing for a bridge that is not there
/// (its record is the ledger's business) or that a live command is making.
pub fn missing(root: &Root, net: &Network) -> Result<Option<String>> {
    let Some(rec) = record_of(root, &net.bridge)? else {
        return Ok(None);
    };
    if rec.creator != std::process::id() && resources::pid_alive(rec.creator) {
        return Ok(None);
    }
    let mut nl = Netlink::new()?;
    let Some(link) = nl.link(&net.bridge)? else {
        return Ok(None);
    };
    let gw = Ipv4Net::new(net.gateway, net.subnet.prefix_len())?;
    let mut missing = Vec::new();
    if !nl
        .addresses()?
        .iter()
        .any(|(i, a)| *i == link.index && *a == gw)
    {
        missing.push(format!("its gateway address {gw}"));
    }
    if !link.up {
        missing.push("up".to_string());
    }
    if let Some(chain) = iptables::missing_accepts(root, &net.bridge)? {
        missing.push(format!("its accept rules in iptables {chain}"));
    }
    Ok((!missing.is_empty()).then(|| format!("lacks {}", missing.join(", "))))
}

/// Remove the bridge and its accept rules; "already gone" is success, and
/// a link this root did not record is left alone.
pub fn remove(root: &Root, net: &Network) -> Result<()> {
    let mut errors = Vec::new();
    if let Err(e) = iptables::remove_forward_accepts(root, &net.bridge) {
        errors.push(format!("{e:#}"));
    }
    let removed = (|| -> Result<()> {
        if record_of(root, &net.bridge)?.is_some() {
            Netlink::new()?.del_link(&net.bridge)?;
            resources::forget(root, LINK_KIND.name(), &net.bridge)?;
        }
        Ok(())
    })();
    if let Err(e) = removed {
        errors.push(format!("{e:#}"));
    }
    if !errors.is_empty() {
        bail!("removing bridge {}: {}", net.bridge, errors.join("; "));
    }
    Ok(())
}
