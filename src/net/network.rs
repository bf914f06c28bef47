//! A network's life: create it (its record, its bridge, its masquerade
//! rule), plug members in and out, remove it. Each is a transaction: the
//! network's record is written first, marked with the creating or removing
//! command's pid ([`store::Busy`]), and unmarked (or deleted) last. A mark
//! left by a command that died is what a crash left: the next command that
//! touches the network, or `system prune`, removes what the dead command
//! made (a half-made network is undone, a half-removed one finished), and
//! `glassbox doctor` names it until then. What each step does to the
//! kernel is in [`bridge`], [`endpoint`] and [`nat`]. Read `ip-link(8)`,
//! `nft(8)`.

use std::net::Ipv4Addr;

use anyhow::{Result, bail};
use ipnet::Ipv4Net;

use super::endpoint::{self, Attach, Target};
use super::netlink::Netlink;
use super::store::{self, Busy, Lease, Network, Op};
use super::{bridge, cidr, ifname, nat, netns};
use crate::state::Root;
use crate::trace::{self, Mechanism};

/// Docker's default network, made (without its bridge) on first use.
pub const DEFAULT_NETWORK: &str = "bridge";

/// Networks every root has and no command may create or remove.
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// A new record of the default network, not yet saved.
fn new_default(root: &Root) -> Result<Network> {
    let subnet = bridge::choose(root, &[])?;
    let created = store::now_rfc3339();
    Ok(Network {
        name: DEFAULT_NETWORK.into(),
        id: store::network_id(DEFAULT_NETWORK, &created),
        driver: "bridge".into(),
        subnet,
        gateway: cidr::gateway(subnet),
        bridge: root.names().default_bridge,
        created,
        manual: false,
        default_bridge: true,
        busy: None,
        netns: netns::current(),
    })
}

/// The default `bridge` network's record, made (without its bridge) on
/// first use.
pub fn default_network(root: &Root) -> Result<Network> {
    let _g = store::global_lock(root)?;
    if let Some(n) = store::load(root, DEFAULT_NETWORK)? {
        return Ok(n);
    }
    let net = new_default(root)?;
    store::save(root, &net)?;
    Ok(net)
}

/// A network by name, id (prefix) or bridge; `bridge` is the default one.
pub fn find(root: &Root, key: &str) -> Result<Network> {
    if key == DEFAULT_NETWORK {
        return default_network(root);
    }
    match store::find(root, key)? {
        Some(n) => Ok(n),
        None if key == "host" || key == "none" => {
            bail!("container cannot be disconnected from host network or connected to host network")
        }
        None => bail!("network {key} not found"),
    }
}

/// Refuse to plug members into a network that a command is creating or
/// removing, or that one left half done; say what to do.
pub fn check_usable(net: &Network) -> Result<()> {
    let Some(b) = net.busy else {
        return Ok(());
    };
    let doing = match b.op {
        Op::Removing => "removed",
        _ => "created",
    };
    if b.abandoned() {
        let again = match b.op {
            Op::Removing => format!("`glassbox network rm {}`", net.name),
            _ if net.manual => format!(
                "`glassbox net bridge add {} --subnet {}`",
                net.name, net.subnet
            ),
            _ => format!("`glassbox network create {}`", net.name),
        };
        bail!(
            "network {} was being {doing} by pid {}, which died before finishing: run {again} again, or `glassbox system prune`",
            net.name,
            b.pid
        );
    }
    bail!(
        "network {} is being {doing} by pid {}: wait for it to finish",
        net.name,
        b.pid
    )
}

/// What `network create` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    pub name: String,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
}

fn check_gateway(subnet: Ipv4Net, gateway: Ipv4Addr) -> Result<()> {
    if !subnet.contains(&gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
        bail!("gateway {gateway} is not a host address of subnet {subnet}");
    }
    Ok(())
}

/// `network create`: the record (marked), the bridge, the masquerade
/// rule, then the record unmarked. A failure undoes it all and leaves no
/// record: input is checked before anything is written, and the default
/// network's record (which takes the first free subnet, as in Docker) is
/// saved only with a network that was made.
pub fn create(root: &Root, spec: &Spec) -> Result<Network> {
    store::validate_name(&spec.name)?;
    if PREDEFINED.contains(&spec.name.as_str()) {
        bail!(
            "network with name {} already exists (it is pre-defined)",
            spec.name
        );
    }
    if let (Some(s), Some(g)) = (spec.subnet, spec.gateway) {
        check_gateway(s, g)?;
    }
    let _g = store::global_lock(root)?;
    clear_abandoned(root, &spec.name)?;
    if let Some(old) = store::load(root, &spec.name)? {
        if old.busy.is_some() {
            check_usable(&old)?;
        }
        bail!("network with name {} already exists", spec.name);
    }
    let default = match store::load(root, DEFAULT_NETWORK)? {
        Some(_) => None,
        None => Some(new_default(root)?),
    };
    let also: Vec<(Ipv4Net, String)> = default
        .iter()
        .map(|d| (d.subnet, "the default bridge network".to_string()))
        .collect();
    let subnet = match spec.subnet {
        Some(s) => {
            bridge::check_free(root, s, &also)?;
            s
        }
        None => bridge::choose(root, &also.iter().map(|a| a.0).collect::<Vec<_>>())?,
    };
    let gateway = spec.gateway.unwrap_or_else(|| cidr::gateway(subnet));
    check_gateway(subnet, gateway)?;
    let created = store::now_rfc3339();
    let id = store::network_id(&spec.name, &created);
    let mut net = Network {
        name: spec.name.clone(),
        bridge: ifname::bridge(&root.names().link_prefix, &id),
        id,
        driver: "bridge".into(),
        subnet,
        gateway,
        created,
        manual: false,
        default_bridge: false,
        busy: Some(Busy::now(Op::Creating)),
        netns: netns::current(),
    };
    store::save(root, &net)?;
    let made = bridge::create(root, &net)
        .and_then(|()| nat::nat_on(root, subnet).map(drop))
        .and_then(|()| default.as_ref().map_or(Ok(()), |d| store::save(root, d)));
    if let Err(e) = made {
        let _ = undo(root, &net);
        return Err(e);
    }
    net.busy = None;
    store::save(root, &net)?;
    Ok(net)
}

/// `net bridge add NAME --subnet CIDR`: a network by hand, named after
/// its bridge, with no masquerade and no names.
pub fn add_bridge(root: &Root, name: &str, subnet: Ipv4Net) -> Result<Network> {
    ifname::validate(name)?;
    let _g = store::global_lock(root)?;
    clear_abandoned(root, name)?;
    if store::find(root, name)?.is_some() {
        bail!("a network or bridge named {name} already exists: choose another name");
    }
    if Netlink::new()?.link(name)?.is_some() {
        bail!(
            "a link named {name} already exists on this host (`ip link show {name}`): choose another name"
        );
    }
    bridge::check_free(root, subnet, &[])?;
    let created = store::now_rfc3339();
    let mut net = Network {
        name: name.into(),
        id: store::network_id(name, &created),
        driver: "bridge".into(),
        subnet,
        gateway: cidr::gateway(subnet),
        bridge: name.into(),
        created,
        manual: true,
        default_bridge: false,
        busy: Some(Busy::now(Op::Creating)),
        netns: netns::current(),
    };
    store::save(root, &net)?;
    if let Err(e) = bridge::create(root, &net) {
        let _ = undo(root, &net);
        return Err(e);
    }
    net.busy = None;
    store::save(root, &net)?;
    Ok(net)
}

/// Remove `net` (`network rm`, `net bridge del`); the caller holds the
/// global lock. Members whose namespace went away are released first;
/// live members make it refuse.
pub fn remove(root: &Root, net: &Network) -> Result<()> {
    endpoint::settle(root, net)?;
    let members = store::leases(root, &net.name)?;
    if !members.is_empty() {
        let names: Vec<_> = members.iter().map(|l| l.endpoint.as_str()).collect();
        bail!(
            "error while removing network: network {} id {} has active endpoints ({}): disconnect them first",
            net.name,
            net.id,
            names.join(", ")
        );
    }
    let mut marked = net.clone();
    marked.busy = Some(Busy::now(Op::Removing));
    store::save(root, &marked)?;
    undo(root, &marked)
}

/// Remove everything of `net` from the host, then its record; each part
/// is "already gone" harmlessly, so this both undoes a half-made network
/// and finishes a half-removed one.
fn undo(root: &Root, net: &Network) -> Result<()> {
    nat::forget_network(root, net.subnet)?;
    bridge::remove(root, net)?;
    store::delete(root, &net.name)
}

/// If a command that died left network `name` half made or half removed,
/// remove what it made; true if it did. The caller holds the global lock.
pub fn clear_abandoned(root: &Root, name: &str) -> Result<bool> {
    let Some(net) = store::load(root, name)? else {
        return Ok(false);
    };
    let Some(b) = net.busy.filter(|b| b.abandoned()) else {
        return Ok(false);
    };
    trace::say(
        Mechanism::Net,
        format!(
            "network {name} was left half done by `{}` (pid {}), which died: removing what it made",
            b.command(),
            b.pid
        ),
    );
    undo(root, &net)?;
    Ok(true)
}

/// `network connect`: plug `target` into the network `key`.
pub fn connect(root: &Root, key: &str, target: &Target, opts: &Attach) -> Result<(Network, Lease)> {
    let net = find(root, key)?;
    check_usable(&net)?;
    if net.default_bridge && !opts.aliases.is_empty() {
        bail!("network-scoped alias is supported only for containers in user defined networks");
    }
    if net.default_bridge {
        // Docker masquerades its default bridge from the start.
        nat::nat_on(root, net.subnet)?;
    }
    let lease = endpoint::attach(root, &net, target, opts)?;
    Ok((net, lease))
}

/// `network disconnect`: unplug member `endpoint` from the network `key`.
/// A disconnect that a command which died left half done is finished,
/// and counts as this one. Returns the lease and the ports that went.
pub fn disconnect(root: &Root, key: &str, endpoint: &str) -> Result<(Lease, Vec<String>)> {
    let net = find(root, key)?;
    let settled = endpoint::settle(root, &net)?;
    if let Some((l, _)) = settled.into_iter().find(|(l, _)| l.endpoint == endpoint) {
        return Ok((l, vec![]));
    }
    endpoint::detach(root, &net, endpoint)
}

/// `network prune`: remove every user network nothing is plugged into
/// (after releasing members that went away); the names removed.
pub fn prune(root: &Root) -> Result<Vec<String>> {
    let _g = store::global_lock(root)?;
    let mut removed = Vec::new();
    for net in store::all(root)? {
        if net.default_bridge || net.manual {
            continue;
        }
        if clear_abandoned(root, &net.name)? {
            continue;
        }
        if net.busy.is_some() {
            continue;
        }
        endpoint::settle(root, &net)?;
        if !store::leases(root, &net.name)?.is_empty() {
            continue;
        }
        remove(root, &net)?;
        removed.push(net.name);
    }
    Ok(removed)
}
