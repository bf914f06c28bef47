//! Masquerading and published ports, as records turned into rules.
//!
//! `nat on` lets members reach beyond the host with the host's address
//! (masquerade: source NAT to the outgoing link's address). `publish`
//! rewrites connections to a host port to a member's address (DNAT), on
//! every path a client may take: from outside (PREROUTING, needs
//! forwarding), from the host itself (OUTPUT), from `127.0.0.1` (OUTPUT,
//! plus `route_localnet` and masquerading the loopback source) and from a
//! member of the same network (hairpin: masquerade, so the answer comes
//! back through the host even when bridged traffic skips iptables).

use std::net::Ipv4Addr;

use anyhow::{Result, anyhow, bail};
use ipnet::Ipv4Net;

use super::firewall::{self, FwState, Nat, Port};
use super::ports::{self, HostPort, PortSpec, Publish};
use super::store::{self, Network};
use crate::state::Root;

/// A host port that cannot be published: a process listens on it, or
/// another member has it. `run` words it as Docker does, naming the
/// endpoint that wanted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortUnavailable(pub String);

impl std::fmt::Display for PortUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PortUnavailable {}

/// The bridge of the glassbox network on `subnet`, if any.
fn bridge_of_subnet(root: &Root, subnet: Ipv4Net) -> Result<Option<String>> {
    Ok(store::all(root)?
        .into_iter()
        .find(|n| n.subnet == subnet)
        .map(|n| n.bridge))
}

/// `net nat on --subnet`: masquerade `subnet` (through the bridge of the
/// glassbox network on it, if there is one).
pub fn nat_on(root: &Root, subnet: Ipv4Net) -> Result<FwState> {
    let bridge = bridge_of_subnet(root, subnet)?;
    masquerade(root, subnet, bridge)
}

/// Masquerade what leaves `subnet` for anywhere but its own `bridge`
/// (given, so that a plan names the bridge it is making); nothing changes
/// if it is masqueraded already.
pub fn masquerade(root: &Root, subnet: Ipv4Net, bridge: Option<String>) -> Result<FwState> {
    firewall::enable_forwarding()?;
    firewall::update(root, |s| {
        if !s.nat.iter().any(|n| n.subnet == subnet) {
            s.nat.push(Nat { subnet, bridge });
        }
        Ok(())
    })
}

pub fn nat_off(root: &Root, subnet: Ipv4Net) -> Result<FwState> {
    firewall::update(root, |s| {
        let before = s.nat.len();
        s.nat.retain(|n| n.subnet != subnet);
        if s.nat.len() == before {
            bail!("{subnet} is not masqueraded by glassbox (see `glassbox net show`)");
        }
        Ok(())
    })
}

/// Does an existing publish take the same host port?
fn clashes(a: &Publish, b: &Publish) -> bool {
    ports::takes(a, b.host_ip, b.host_port, b.proto)
}

/// `net publish`: publish `p` to a member of the glassbox network that
/// holds its container address.
pub fn publish(root: &Root, p: &Publish) -> Result<FwState> {
    let Some(net) = store::all(root)?
        .into_iter()
        .find(|n| n.subnet.contains(&p.container_ip))
    else {
        bail!(
            "no glassbox network holds {}: publish to a member's address (see `glassbox net show`)",
            p.container_ip
        );
    };
    let spec = PortSpec {
        host_ip: p.host_ip,
        host_port: HostPort::Fixed(p.host_port),
        port: p.port,
        proto: p.proto,
    };
    publish_to(root, &net, &[spec], p.container_ip)?;
    firewall::load(root)
}

/// Publish `specs` (Docker's `-p`) to `container_ip` on `net`, choosing
/// the host ports they leave open under the firewall's lock (so two
/// commands never choose one port); the ports published. `net` is given,
/// not looked up, so that a plan can publish on a network it would make.
pub fn publish_to(
    root: &Root,
    net: &Network,
    specs: &[PortSpec],
    container_ip: Ipv4Addr,
) -> Result<Vec<Publish>> {
    for s in specs {
        check_host_ip(s.host_ip)?;
        if let HostPort::Fixed(port) = s.host_port
            && let Some(holder) = ports::port_holder(port, s.proto)
        {
            return Err(anyhow!(PortUnavailable(format!(
                "listen {}4 {}:{port}: bind: address already in use (host port {port}/{} is already in use by {holder}): stop it or choose another host port",
                s.proto,
                firewall::shown_host(s.host_ip),
                s.proto
            ))));
        }
    }
    let range = if specs.iter().any(|s| s.host_port == HostPort::Any) {
        ports::ephemeral_range()
    } else {
        (0, 0)
    };
    firewall::enable_forwarding()?;
    firewall::enable_route_localnet(&net.bridge)?;
    let mut out = Vec::new();
    firewall::update(root, |s| {
        for spec in specs {
            let published: Vec<Publish> = s.ports.iter().map(|p| p.publish.clone()).collect();
            let p = spec.to(
                container_ip,
                ports::choose_host_port(spec, &published, range)?,
            );
            if let Some(old) = s.ports.iter().find(|o| clashes(&o.publish, &p)) {
                return Err(anyhow!(PortUnavailable(format!(
                    "Bind for {}:{} failed: port is already allocated (published to {})",
                    firewall::shown_host(p.host_ip),
                    p.host_port,
                    old.publish
                ))));
            }
            s.ports.push(Port {
                publish: p.clone(),
                bridge: net.bridge.clone(),
                subnet: net.subnet,
            });
            out.push(p);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Refuse a host address this host does not have (Docker: cannot assign
/// requested address).
fn check_host_ip(ip: Option<Ipv4Addr>) -> Result<()> {
    if let Some(ip) = ip
        && !ip.is_unspecified()
        && let Err(e) = std::net::UdpSocket::bind((ip, 0))
        && e.kind() == std::io::ErrorKind::AddrNotAvailable
    {
        bail!(
            "cannot publish on {ip}: no interface of this host has that address (bind: cannot assign requested address); leave the IP out to publish on every address, or use one `ip -4 addr` lists"
        );
    }
    Ok(())
}

pub fn unpublish(root: &Root, p: &Publish) -> Result<FwState> {
    firewall::update(root, |s| {
        let before = s.ports.len();
        s.ports.retain(|o| &o.publish != p);
        if s.ports.len() == before {
            bail!("{p} is not published (see `glassbox net show`)");
        }
        Ok(())
    })
}

/// Drop every rule of a network that is going away.
pub fn forget_network(root: &Root, subnet: Ipv4Net) -> Result<FwState> {
    firewall::update(root, |s| {
        s.nat.retain(|n| n.subnet != subnet);
        s.ports.retain(|p| p.subnet != subnet);
        Ok(())
    })
}

/// Remove every port published to `container_ip` (a member going away).
pub fn unpublish_all_to(root: &Root, container_ip: Ipv4Addr) -> Result<FwState> {
    firewall::update(root, |s| {
        s.ports.retain(|p| p.publish.container_ip != container_ip);
        Ok(())
    })
}
