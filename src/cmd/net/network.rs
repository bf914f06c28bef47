//! Docker's `network` commands (`ls`, `create`, `rm`, `inspect`,
//! `connect`, `disconnect`, `prune`) on top of the same mechanism as the
//! by-hand `net` commands; output shaped like Docker's.

use anyhow::{Context, Result, bail};

use super::{ConnectArgs, CreateArgs, DisconnectArgs, LsArgs, remove_network, table};
use crate::net::endpoint::{self, Attach, Target};
use crate::net::store::{self, Network};
use crate::net::{bridge, cidr, ifname, nat};
use crate::state::Root;
use crate::trace::{self, Mechanism};

// ----- Docker's network commands ----------------------------------------

const DEFAULT_NETWORK: &str = "bridge";

fn short_id(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        &id[..12.min(id.len())]
    }
}

/// Stable ids for the `host` and `none` pseudo networks of this root.
fn pseudo_id(root: &Root, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{}/{name}", root.data.display()).as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The default `bridge` network's record, made (without its bridge) on
/// first use.
pub fn default_network(root: &Root) -> Result<Network> {
    let _g = store::global_lock(root)?;
    if let Some(n) = store::load(root, DEFAULT_NETWORK)? {
        return Ok(n);
    }
    let subnet = bridge::choose(root)?;
    let created = store::now_rfc3339();
    let net = Network {
        name: DEFAULT_NETWORK.into(),
        id: store::network_id(DEFAULT_NETWORK, &created),
        driver: "bridge".into(),
        subnet,
        gateway: cidr::gateway(subnet),
        bridge: root.names().default_bridge,
        created,
        manual: false,
        default_bridge: true,
    };
    store::save(root, &net)?;
    Ok(net)
}

fn find_network(root: &Root, key: &str) -> Result<Network> {
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

pub(super) fn ls(root: &Root, a: &LsArgs) -> Result<()> {
    let mut nets = store::all(root)?;
    if !nets.iter().any(|n| n.name == DEFAULT_NETWORK) {
        nets.push(default_network(root)?);
    }
    let mut rows: Vec<(String, String, String, String)> = nets
        .iter()
        .map(|n| {
            (
                n.id.clone(),
                n.name.clone(),
                n.driver.clone(),
                "local".into(),
            )
        })
        .collect();
    for p in ["host", "none"] {
        rows.push((
            pseudo_id(root, p),
            p.into(),
            if p == "none" { "null" } else { "host" }.into(),
            "local".into(),
        ));
    }
    rows.sort_by(|x, y| x.1.cmp(&y.1));
    if a.quiet {
        for r in rows {
            println!("{}", short_id(&r.0, a.no_trunc));
        }
        return Ok(());
    }
    let mut t = vec![vec![
        "NETWORK ID".into(),
        "NAME".into(),
        "DRIVER".into(),
        "SCOPE".into(),
    ]];
    for r in rows {
        t.push(vec![short_id(&r.0, a.no_trunc).into(), r.1, r.2, r.3]);
    }
    print!("{}", table(&t));
    Ok(())
}

pub(super) fn create(root: &Root, a: &CreateArgs) -> Result<()> {
    store::validate_name(&a.name)?;
    if a.driver != "bridge" {
        bail!(
            "plugin \"{}\" not found: glassbox has the bridge driver only (host and none are built in)",
            a.driver
        );
    }
    if ["bridge", "host", "none"].contains(&a.name.as_str()) {
        bail!(
            "network with name {} already exists (it is pre-defined)",
            a.name
        );
    }
    let subnet = a.subnet.as_deref().map(cidr::parse_subnet).transpose()?;
    let gateway = a.gateway.as_deref().map(cidr::parse_ip).transpose()?;
    // The default bridge network exists first, as in Docker, so it keeps
    // the first free subnet.
    default_network(root)?;
    let _g = store::global_lock(root)?;
    if store::load(root, &a.name)?.is_some() {
        bail!("network with name {} already exists", a.name);
    }
    let subnet = match subnet {
        Some(s) => {
            bridge::check_free(root, s)?;
            s
        }
        None => bridge::choose(root)?,
    };
    let gateway = gateway.unwrap_or_else(|| cidr::gateway(subnet));
    if !subnet.contains(&gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
        bail!("gateway {gateway} is not a host address of subnet {subnet}");
    }
    let created = store::now_rfc3339();
    let id = store::network_id(&a.name, &created);
    let net = Network {
        name: a.name.clone(),
        bridge: ifname::bridge(&root.names().link_prefix, &id),
        id,
        driver: "bridge".into(),
        subnet,
        gateway,
        created,
        manual: false,
        default_bridge: false,
    };
    store::save(root, &net)?;
    let made = bridge::create(root, &net).and_then(|_| nat::nat_on(root, subnet).map(drop));
    if let Err(e) = made {
        let _ = nat::forget_network(root, subnet);
        let _ = bridge::remove(root, &net);
        let _ = store::delete(root, &net.name);
        return Err(e);
    }
    println!("{}", net.id);
    Ok(())
}

pub(super) fn rm(root: &Root, names: &[String]) -> Result<()> {
    let mut failed = Vec::new();
    for name in names {
        let r = (|| -> Result<()> {
            if ["bridge", "host", "none"].contains(&name.as_str()) {
                bail!("{name} is a pre-defined network and cannot be removed");
            }
            let _g = store::global_lock(root)?;
            let Some(net) = store::find(root, name)? else {
                bail!("network {name} not found");
            };
            remove_network(root, &net)
        })();
        match r {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed.push(name.clone());
            }
        }
    }
    if !failed.is_empty() {
        bail!("could not remove {}", failed.join(", "));
    }
    Ok(())
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
    pub containers: std::collections::BTreeMap<String, Member>,
    pub options: std::collections::BTreeMap<String, String>,
    pub labels: std::collections::BTreeMap<String, String>,
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
        out.containers.insert(
            pseudo_id(root, &format!("endpoint/{}", l.endpoint)),
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

pub(super) fn inspect(root: &Root, names: &[String]) -> Result<()> {
    let mut out = Vec::new();
    for n in names {
        out.push(match n.as_str() {
            "host" => empty_inspect(n, pseudo_id(root, n), "host"),
            "none" => empty_inspect(n, pseudo_id(root, n), "null"),
            _ => inspect_net(root, &find_network(root, n)?)?,
        });
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub(super) fn connect(root: &Root, a: &ConnectArgs) -> Result<()> {
    let net = find_network(root, &a.network)?;
    let target = Target::parse(&a.target, a.hosts_dir.clone())?;
    let ip = a.ip.as_deref().map(cidr::parse_ip).transpose()?;
    if !net.default_bridge && !a.alias.is_empty() {
        for al in &a.alias {
            store::validate_name(al).context("invalid alias")?;
        }
    } else if !a.alias.is_empty() {
        bail!("network-scoped alias is supported only for containers in user defined networks");
    }
    let lease = endpoint::attach(
        root,
        &net,
        &target,
        &Attach {
            ip,
            aliases: a.alias.clone(),
            resolv_conf: Some(a.resolv_conf.clone()),
        },
    )?;
    if net.default_bridge {
        // Docker masquerades its default bridge from the start.
        nat::nat_on(root, net.subnet)?;
    }
    trace::say(
        Mechanism::Net,
        format!(
            "{} is on {} as {}/{} ({})",
            target.name,
            net.name,
            lease.ip,
            net.subnet.prefix_len(),
            lease.inner_if
        ),
    );
    Ok(())
}

pub(super) fn disconnect(root: &Root, a: &DisconnectArgs) -> Result<()> {
    let net = find_network(root, &a.network)?;
    let target = Target::parse(&a.target, None)?;
    let lease = endpoint::detach(root, &net, &target.name)?;
    // A port published to the address it leaves would forward to whoever
    // gets that address next: it goes with the member.
    let gone: Vec<String> = nat_ports_to(root, lease.ip)?;
    if !gone.is_empty() {
        nat::unpublish_all_to(root, lease.ip)?;
        trace::say(
            Mechanism::Net,
            format!(
                "unpublished {} (published to {}, which {} no longer holds)",
                gone.join(", "),
                lease.ip,
                target.name
            ),
        );
    }
    Ok(())
}

fn nat_ports_to(root: &Root, ip: std::net::Ipv4Addr) -> Result<Vec<String>> {
    Ok(crate::net::firewall::load(root)?
        .ports
        .iter()
        .filter(|p| p.publish.container_ip == ip)
        .map(|p| p.publish.to_string())
        .collect())
}

pub(super) fn prune(root: &Root) -> Result<()> {
    let _g = store::global_lock(root)?;
    let mut removed = Vec::new();
    for net in store::all(root)? {
        if net.default_bridge || net.manual || !store::leases(root, &net.name)?.is_empty() {
            continue;
        }
        remove_network(root, &net)?;
        removed.push(net.name);
    }
    if !removed.is_empty() {
        println!("Deleted Networks:");
        for r in removed {
            println!("{r}");
        }
    }
    Ok(())
}
