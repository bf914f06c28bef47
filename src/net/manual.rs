//! Networks by hand, the library of `net bridge` and `net veth`: a bridge
//! named by the user (a network of its own, with no masquerade and no
//! names), and veth pairs into namespaces, plugged into such a bridge or
//! point to point. Each setup has its teardown here, and every teardown
//! works from the saved records alone and counts "already gone" as
//! success. Read `ip-link(8)`, `veth(4)`.

use ipnet::Ipv4Net;

use anyhow::{Result, bail};

use super::endpoint::{self, Attach, Detached, Target};
use super::netlink::Netlink;
use super::network::{self, check_usable, clear_abandoned};
use super::store::{self, Busy, Lease, Network, Op};
use super::{bridge, cidr, ifname, netns, p2p};
use crate::state::Root;

/// `net bridge add NAME --subnet CIDR`: a network by hand, named after
/// its bridge, with no masquerade and no names.
pub fn add_bridge(root: &Root, name: &str, subnet: Ipv4Net) -> Result<Network> {
    ifname::validate(name)?;
    root.ensure()?;
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
        let _ = network::teardown(root, &net);
        return Err(e);
    }
    net.busy = None;
    store::save(root, &net)?;
    Ok(net)
}

/// `net bridge del NAME`: remove a bridge made by `net bridge add` (with
/// what `net nat` and `net publish` made for its subnet); refused while
/// members are plugged in.
pub fn del_bridge(root: &Root, name: &str) -> Result<()> {
    ifname::validate(name)?;
    root.ensure()?;
    let _g = store::global_lock(root)?;
    if clear_abandoned(root, name)? {
        return Ok(());
    }
    let Some(net) = store::find(root, name)? else {
        bail!("no bridge named {name} was made by glassbox (see `glassbox net show`)");
    };
    network::remove(root, &net)
}

/// The network of `--bridge BR`, made by `net bridge add`.
fn bridge_network(root: &Root, br: &str) -> Result<Network> {
    ifname::validate(br)?;
    let Some(net) = store::find(root, br)? else {
        bail!(
            "bridge {br} was not made by glassbox: make it with `glassbox net bridge add {br} --subnet CIDR`"
        );
    };
    Ok(net)
}

/// What `net veth add` was asked for.
#[derive(Debug, Clone)]
pub struct VethAdd {
    pub target: Target,
    /// Plug the host end into this bridge (else point to point).
    pub bridge: Option<String>,
    /// The namespace end's address (point to point: required; on a
    /// bridge: else its next free one).
    pub ip: Option<Ipv4Net>,
}

/// What `net veth add` made.
#[derive(Debug, Clone)]
pub enum VethMade {
    /// A member of the bridge's network, with its lease.
    Bridged {
        net: Box<Network>,
        lease: Box<Lease>,
    },
    /// A pair with no bridge; the host end holds the gateway.
    PointToPoint,
}

/// `net veth add`: a veth pair into a namespace, on a bridge made by
/// `net bridge add` or point to point.
pub fn veth_add(root: &Root, spec: &VethAdd) -> Result<VethMade> {
    root.ensure()?;
    let Some(br) = &spec.bridge else {
        let Some(ip) = spec.ip else {
            bail!(
                "without --bridge give the namespace's address with --ip CIDR (e.g. --ip 10.0.0.2/24)"
            );
        };
        p2p::add(root, &spec.target, ip)?;
        return Ok(VethMade::PointToPoint);
    };
    let net = bridge_network(root, br)?;
    check_usable(&net)?;
    if let Some(ip) = spec.ip
        && ip.trunc() != net.subnet
    {
        bail!("address {ip} is not in bridge {br}'s subnet {}", net.subnet);
    }
    spec.target.check()?;
    network::ensure(root, &net)?;
    let attached = endpoint::attach(
        root,
        &net,
        &spec.target,
        &Attach {
            ip: spec.ip.map(|n| n.addr()),
            ..Attach::default()
        },
    )?;
    Ok(VethMade::Bridged {
        net: Box::new(net),
        lease: Box::new(attached.lease),
    })
}

/// What `net veth del` removed.
#[derive(Debug, Clone, Default)]
pub struct VethGone {
    /// A point-to-point pair.
    pub point_to_point: bool,
    /// Memberships, by network.
    pub detached: Vec<(String, Detached)>,
}

impl VethGone {
    pub fn is_empty(&self) -> bool {
        !self.point_to_point && self.detached.is_empty()
    }
}

/// `net veth del`: unplug `target` from bridge `bridge`, or (without one)
/// remove every veth pair glassbox plugged into it: the point-to-point
/// pair and its memberships of every network. From the records alone;
/// what is already gone is success (an empty [`VethGone`]).
pub fn veth_del(root: &Root, target: &Target, bridge: Option<&str>) -> Result<VethGone> {
    root.ensure()?;
    let mut gone = VethGone::default();
    let Some(br) = bridge else {
        gone.point_to_point = p2p::del(root, target)?;
        gone.detached = endpoint::detach_everywhere(root, &target.name)?;
        return Ok(gone);
    };
    ifname::validate(br)?;
    let Some(net) = store::find(root, br)? else {
        bail!("bridge {br} was not made by glassbox (see `glassbox net show`)");
    };
    let settled = endpoint::settle(root, &net)?;
    if let Some((lease, _)) = settled.into_iter().find(|(l, _)| l.endpoint == target.name) {
        gone.detached.push((
            net.name.clone(),
            Detached {
                lease,
                ports: vec![],
            },
        ));
        return Ok(gone);
    }
    if let Some(d) = endpoint::detach(root, &net, &target.name)? {
        gone.detached.push((net.name.clone(), d));
    }
    Ok(gone)
}
