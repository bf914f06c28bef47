//! Docker's networks as a library: the default network, find, create,
//! remove, connect, disconnect, prune; what `network ...` and `run` call.
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

use super::endpoint::{self, Attach, Attached, Detached, Target};
use super::store::{self, Busy, Network, Op};
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
    root.ensure()?;
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
    /// `bridge` (the only driver), or unset.
    pub driver: Option<String>,
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
    if let Some(d) = spec.driver.as_deref()
        && d != "bridge"
    {
        bail!(
            "plugin \"{d}\" not found: glassbox has the bridge driver only (host and none are built in)"
        );
    }
    if PREDEFINED.contains(&spec.name.as_str()) {
        bail!(
            "network with name {} already exists (it is pre-defined)",
            spec.name
        );
    }
    if let (Some(s), Some(g)) = (spec.subnet, spec.gateway) {
        check_gateway(s, g)?;
    }
    root.ensure()?;
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
        .and_then(|()| nat::masquerade(root, subnet, Some(net.bridge.clone())).map(drop))
        .and_then(|()| default.as_ref().map_or(Ok(()), |d| store::save(root, d)));
    if let Err(e) = made {
        let _ = teardown(root, &net);
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
    teardown(root, &marked)
}

/// `network rm NAME`: remove a network nothing is plugged into (members
/// whose namespace went away are released first). A removal or creation
/// that a command which died left half done is finished (undone) and
/// counts as this one.
pub fn rm(root: &Root, name: &str) -> Result<()> {
    if PREDEFINED.contains(&name) {
        bail!("{name} is a pre-defined network and cannot be removed");
    }
    root.ensure()?;
    let _g = store::global_lock(root)?;
    if clear_abandoned(root, name)? {
        return Ok(());
    }
    let Some(net) = store::find(root, name)? else {
        bail!("network {name} not found");
    };
    remove(root, &net)
}

/// Remove everything of `net` from the host (its masquerade and published
/// ports, its accept rules, its bridge), then its record; each part is
/// "already gone" harmlessly, so this both undoes a half-made network and
/// finishes a half-removed one. It works from the record alone.
pub fn teardown(root: &Root, net: &Network) -> Result<()> {
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
    teardown(root, &net)?;
    Ok(true)
}

/// Make sure what every member of `net` needs is there: for Docker's
/// networks their masquerade (the default network's is switched on with
/// its first member, as Docker does from the start), and the bridge,
/// made on first use or finished after a crash.
pub fn ensure(root: &Root, net: &Network) -> Result<()> {
    if !net.manual {
        nat::masquerade(root, net.subnet, Some(net.bridge.clone()))?;
    }
    bridge::ensure(root, net)
}

/// `network connect`: plug `target` into the network `key`, publishing
/// `opts.ports` to its address; [`disconnect`] removes all of it.
pub fn connect(
    root: &Root,
    key: &str,
    target: &Target,
    opts: &Attach,
) -> Result<(Network, Attached)> {
    root.ensure()?;
    let net = find(root, key)?;
    check_usable(&net)?;
    if net.default_bridge && !opts.aliases.is_empty() {
        bail!("network-scoped alias is supported only for containers in user defined networks");
    }
    target.check()?;
    ensure(root, &net)?;
    let attached = endpoint::attach(root, &net, target, opts)?;
    Ok((net, attached))
}

/// `network disconnect`: unplug member `endpoint` from the network `key`
/// (its veth, address, names and published ports). A disconnect that a
/// command which died left half done is finished, and counts as this one;
/// `None` if the member was not connected (already gone is success).
pub fn disconnect(root: &Root, key: &str, endpoint: &str) -> Result<Option<Detached>> {
    root.ensure()?;
    let net = find(root, key)?;
    let settled = endpoint::settle(root, &net)?;
    if let Some((lease, _)) = settled.into_iter().find(|(l, _)| l.endpoint == endpoint) {
        return Ok(Some(Detached {
            lease,
            ports: vec![],
        }));
    }
    endpoint::detach(root, &net, endpoint)
}

/// `system prune --all`: the default network's bridge and masquerade go
/// when nothing is plugged into it (members that went away are released
/// first); the next container on it makes them again, as after a reboot.
/// The bridge's name if it went.
pub fn release_default(root: &Root) -> Result<Option<String>> {
    root.ensure()?;
    let _g = store::global_lock(root)?;
    let Some(net) = store::load(root, DEFAULT_NETWORK)? else {
        return Ok(None);
    };
    // Made in another network namespace: only glassbox run there removes it.
    if net.busy.is_some() || !netns::is_here(net.netns) {
        return Ok(None);
    }
    endpoint::settle(root, &net)?;
    if !store::leases(root, &net.name)?.is_empty() {
        return Ok(None);
    }
    teardown(root, &net)?;
    Ok(Some(net.bridge))
}

/// `network prune`: remove every user network nothing is plugged into
/// (after releasing members that went away); the names removed.
pub fn prune(root: &Root) -> Result<Vec<String>> {
    root.ensure()?;
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
