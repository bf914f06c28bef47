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

use anyhow::{Result, bail};
use ipnet::Ipv4Net;

use super::firewall::{self, FwState, Nat, Port};
use super::ports::{self, Publish};
use super::store;
use crate::state::Root;

/// The bridge of the glassbox network on `subnet`, if any.
fn bridge_of_subnet(root: &Root, subnet: Ipv4Net) -> Result<Option<String>> {
    Ok(store::all(root)?
        .into_iter()
        .find(|n| n.subnet == subnet)
        .map(|n| n.bridge))
}

pub fn nat_on(root: &Root, subnet: Ipv4Net) -> Result<FwState> {
    let bridge = bridge_of_subnet(root, subnet)?;
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
    a.proto == b.proto
        && a.host_port == b.host_port
        && (a.host_ip.is_none() || b.host_ip.is_none() || a.host_ip == b.host_ip)
}

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
    if let Some(ip) = p.host_ip
        && !ip.is_unspecified()
        && let Err(e) = std::net::UdpSocket::bind((ip, 0))
        && e.kind() == std::io::ErrorKind::AddrNotAvailable
    {
        bail!(
            "cannot publish on {ip}: no interface of this host has that address (bind: cannot assign requested address); leave the IP out to publish on every address, or use one `ip -4 addr` lists"
        );
    }
    if let Some(holder) = ports::port_holder(p.host_port, p.proto) {
        bail!(
            "host port {}/{} is already in use by {holder}: stop it or choose another host port",
            p.host_port,
            p.proto
        );
    }
    firewall::enable_forwarding()?;
    firewall::enable_route_localnet(&net.bridge)?;
    firewall::update(root, |s| {
        if let Some(old) = s.ports.iter().find(|o| clashes(&o.publish, p)) {
            bail!(
                "Bind for {}:{} failed: port is already allocated (published to {})",
                firewall::shown_host(p.host_ip),
                p.host_port,
                old.publish
            );
        }
        s.ports.push(Port {
            publish: p.clone(),
            bridge: net.bridge.clone(),
            subnet: net.subnet,
        });
        Ok(())
    })
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

/// Remove every port published to `container_ip` (a container going away).
pub fn unpublish_all_to(root: &Root, container_ip: std::net::Ipv4Addr) -> Result<FwState> {
    firewall::update(root, |s| {
        s.ports.retain(|p| p.publish.container_ip != container_ip);
        Ok(())
    })
}
