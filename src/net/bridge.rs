//! A network's bridge: a virtual switch on the host holding the gateway
//! address. Members' veth ends are its ports; the kernel routes between
//! the bridge's subnet and the rest through the gateway address. Read
//! `ip-link(8)` (type bridge).

use anyhow::{Result, bail};
use ipnet::Ipv4Net;

use super::cidr;
use super::iptables;
use super::netlink::{self, Netlink};
use super::store::{self, Network};
use crate::state::Root;
use crate::state::resources::{self, Owner};

/// Subnets a new network may not overlap: routes and addresses here, and
/// other glassbox networks (whose bridge may not be up yet).
pub fn used_subnets(root: &Root, except: Option<&str>) -> Result<Vec<(Ipv4Net, String)>> {
    let mut used: Vec<(Ipv4Net, String)> = store::all(root)?
        .into_iter()
        .filter(|n| Some(n.name.as_str()) != except)
        .map(|n| (n.subnet, format!("network {}", n.name)))
        .collect();
    let mut nl = Netlink::new()?;
    used.extend(
        netlink::used_subnets(&mut nl)?
            .into_iter()
            .map(|n| (n, "a route on this host".to_string())),
    );
    Ok(used)
}

/// Refuse a subnet that overlaps something in use.
pub fn check_free(root: &Root, subnet: Ipv4Net) -> Result<()> {
    for (u, what) in used_subnets(root, None)? {
        if cidr::overlaps(subnet, u) {
            bail!("subnet {subnet} overlaps {u} ({what}): choose another with --subnet");
        }
    }
    Ok(())
}

/// A free subnet from the default pools.
pub fn choose(root: &Root) -> Result<Ipv4Net> {
    let used: Vec<Ipv4Net> = used_subnets(root, None)?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
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

/// Create the bridge of `net`, give it the gateway address, bring it up,
/// and let FORWARD accept its traffic. Undone on failure.
pub fn create(root: &Root, net: &Network) -> Result<()> {
    let owner = owner(root, net);
    let mut nl = Netlink::new()?;
    let pending = resources::record(root, super::LINK_KIND_NAME, &net.bridge, owner.clone())?;
    nl.add_bridge(&net.bridge)?;
    pending.commit()?;
    let rest = (|| -> Result<()> {
        let gw = Ipv4Net::new(net.gateway, net.subnet.prefix_len())?;
        nl.add_address(&net.bridge, gw)?;
        nl.set_up(&net.bridge, true)?;
        iptables::add_forward_accepts(root, &net.bridge, &owner)
    })();
    if let Err(e) = rest {
        let _ = remove(root, net);
        return Err(e);
    }
    Ok(())
}

/// Create the bridge if it is not there (the default network's bridge is
/// made on first use).
pub fn ensure(root: &Root, net: &Network) -> Result<()> {
    if Netlink::new()?.link(&net.bridge)?.is_some() {
        return Ok(());
    }
    create(root, net)
}

/// Remove the bridge and its accept rules; "already gone" is success.
pub fn remove(root: &Root, net: &Network) -> Result<()> {
    let mut errors = Vec::new();
    if let Err(e) = iptables::remove_forward_accepts(root, &net.bridge) {
        errors.push(format!("{e:#}"));
    }
    match Netlink::new().and_then(|mut nl| nl.del_link(&net.bridge)) {
        Ok(()) => resources::forget(root, super::LINK_KIND_NAME, &net.bridge)?,
        Err(e) => errors.push(format!("{e:#}")),
    }
    if !errors.is_empty() {
        bail!("removing bridge {}: {}", net.bridge, errors.join("; "));
    }
    Ok(())
}
