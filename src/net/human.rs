//! What the network commands show, as values: Docker's `network ls` rows
//! and `network inspect` object (its fields in Docker's order), and the
//! report of `net show` (bridges, members, rules, and the nft table as the
//! kernel holds it). The commands in `src/cmd/net/` only print these.

use std::collections::BTreeMap;

use anyhow::Result;

use super::netlink::Netlink;
use super::network::{self, DEFAULT_NETWORK};
use super::store::{self, Network};
use super::{LINK_KIND, firewall, nftable};
use crate::state::Root;
use crate::state::resources::ResourceKind;
use crate::trace::Done;

/// Rows as aligned columns (three spaces apart; the last not padded).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A stable id for something of this root that has no record of its own
/// (the `host` and `none` networks, a member's endpoint).
pub fn pseudo_id(root: &Root, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{}/{name}", root.data.display()).as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// One row of `network ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsRow {
    /// The full id (64 hex digits).
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
}

/// `network ls`: every network, the default one (made on first use) and
/// the built-in `host` and `none` among them, sorted by name.
pub fn ls(root: &Root) -> Result<Vec<LsRow>> {
    let mut nets = store::all(root)?;
    if !nets.iter().any(|n| n.name == DEFAULT_NETWORK) {
        nets.push(network::default_network(root)?);
    }
    let mut rows: Vec<LsRow> = nets
        .into_iter()
        .map(|n| LsRow {
            id: n.id,
            name: n.name,
            driver: n.driver,
            scope: "local".into(),
        })
        .collect();
    for (name, driver) in [("host", "host"), ("none", "null")] {
        rows.push(LsRow {
            id: pseudo_id(root, name),
            name: name.into(),
            driver: driver.into(),
            scope: "local".into(),
        });
    }
    rows.sort_by(|x, y| x.name.cmp(&y.name));
    Ok(rows)
}

/// Docker's `network inspect` object, its fields in Docker's order.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspect {
    pub name: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub scope: &'static str,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigFrom,
    pub config_only: bool,
    pub containers: BTreeMap<String, Member>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: &'static str,
    pub options: Option<()>,
    pub config: Vec<IpamConfig>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub subnet: String,
    pub gateway: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigFrom {
    pub network: String,
}

#[derive(Debug, serde::Serialize)]
pub struct Member {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

fn empty_inspect(name: &str, id: String, driver: &str) -> Inspect {
    Inspect {
        name: name.into(),
        id,
        created: None,
        scope: "local",
        driver: driver.into(),
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default",
            options: None,
            config: vec![],
        },
        internal: false,
        attachable: false,
        ingress: false,
        config_from: ConfigFrom {
            network: String::new(),
        },
        config_only: false,
        containers: Default::default(),
        options: Default::default(),
        labels: Default::default(),
    }
}

/// Docker's `network inspect` object of one network.
pub fn inspect_net(root: &Root, net: &Network) -> Result<Inspect> {
    let mut out = empty_inspect(&net.name, net.id.clone(), &net.driver);
    out.created = Some(net.created.clone());
    out.ipam.config.push(IpamConfig {
        subnet: net.subnet.to_string(),
        gateway: net.gateway.to_string(),
    });
    for l in store::leases(root, &net.name)? {
        // Docker keys its members by container id.
        let key = match &l.container {
            Some(c) => c.id.clone(),
            None => pseudo_id(root, &format!("endpoint/{}", l.endpoint)),
        };
        out.containers.insert(
            key,
            Member {
                endpoint_id: pseudo_id(root, &format!("endpoint/{}/{}", net.name, l.endpoint)),
                name: l.endpoint,
                mac_address: l.mac,
                ipv4_address: format!("{}/{}", l.ip, net.subnet.prefix_len()),
                ipv6_address: String::new(),
            },
        );
    }
    out.options
        .insert("com.docker.network.bridge.name".into(), net.bridge.clone());
    if net.default_bridge {
        out.options.insert(
            "com.docker.network.bridge.default_bridge".into(),
            "true".into(),
        );
    }
    Ok(out)
}

/// `network inspect NAME...`: the objects, in the order asked.
pub fn inspect(root: &Root, names: &[String]) -> Result<Vec<Inspect>> {
    names
        .iter()
        .map(|n| match n.as_str() {
            "host" => Ok(empty_inspect(n, pseudo_id(root, n), "host")),
            "none" => Ok(empty_inspect(n, pseudo_id(root, n), "null")),
            _ => inspect_net(root, &network::find(root, n)?),
        })
        .collect()
}

/// `net show`: what glassbox has made, as text: bridges, members (and
/// point-to-point pairs), masquerades, published ports, accept rules, and
/// the nft table as the kernel lists it.
pub fn show(root: &Root) -> Result<String> {
    let mut nl = Netlink::new()?;
    let links = nl.links()?;
    let addrs = nl.addresses()?;
    let mut out = String::new();
    let mut rows = vec![vec![
        "BRIDGE".into(),
        "NETWORK".into(),
        "ADDRESS".into(),
        "STATE".into(),
    ]];
    let nets = store::all(root)?;
    for n in &nets {
        let link = links.iter().find(|l| l.name == n.bridge);
        let addr = link
            .and_then(|l| addrs.iter().find(|(i, _)| *i == l.index))
            .map(|(_, a)| a.to_string())
            .unwrap_or_else(|| format!("({} planned)", n.gateway));
        let state = match link {
            None => "absent",
            Some(l) if l.up => "up",
            Some(_) => "down",
        };
        rows.push(vec![n.bridge.clone(), n.name.clone(), addr, state.into()]);
    }
    out.push_str(&table(&rows));
    let mut rows = vec![vec![
        "MEMBER".into(),
        "NETWORK".into(),
        "ADDRESS".into(),
        "HOST END".into(),
        "INSIDE".into(),
    ]];
    for n in &nets {
        for l in store::leases(root, &n.name)? {
            rows.push(vec![
                l.endpoint,
                n.name.clone(),
                format!("{}/{}", l.ip, n.subnet.prefix_len()),
                l.host_if,
                l.inner_if,
            ]);
        }
    }
    let recorded = super::ledger(root)?;
    for r in &recorded {
        if r.kind == LINK_KIND.name()
            && r.id.starts_with(&root.names().link_prefix)
            && !rows.iter().any(|row| row[3] == r.id)
            && let Some(l) = links.iter().find(|l| l.name == r.id)
            && l.kind == "veth"
        {
            let addr = addrs
                .iter()
                .find(|(i, _)| *i == l.index)
                .map(|(_, a)| a.to_string())
                .unwrap_or_default();
            rows.push(vec![
                "(point-to-point)".into(),
                "-".into(),
                addr,
                r.id.clone(),
                "eth0".into(),
            ]);
        }
    }
    out.push('\n');
    out.push_str(&table(&rows));
    let fw = firewall::load(root)?;
    out.push('\n');
    for n in &fw.nat {
        out.push_str(&format!("nat      {} masqueraded\n", n.subnet));
    }
    for p in &fw.ports {
        out.push_str(&format!("publish  {}\n", p.publish));
    }
    for r in &recorded {
        if r.kind == super::IPT_KIND.name() {
            out.push_str(&format!("iptables {}\n", r.id));
        }
    }
    let table_name = root.names().firewall_table;
    if let Ok(Done::Ran(Some(rules))) = nftable::list(&table_name) {
        out.push('\n');
        out.push_str(&rules);
    }
    Ok(out)
}
