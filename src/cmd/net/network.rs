//! Docker's `network` commands (`ls`, `create`, `rm`, `inspect`,
//! `connect`, `disconnect`, `prune`) on top of the same mechanism as the
//! by-hand `net` commands; output shaped like Docker's.

use anyhow::{Context, Result, bail};

use super::{ConnectArgs, CreateArgs, DisconnectArgs, LsArgs, table};
use crate::net::cidr;
use crate::net::endpoint::{Attach, Target};
use crate::net::network::{self as networks, DEFAULT_NETWORK};
use crate::net::store::{self, Network};
use crate::state::Root;
use crate::trace::{self, Mechanism};

// ----- Docker's network commands ----------------------------------------

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

fn default_network(root: &Root) -> Result<Network> {
    networks::default_network(root)
}

fn find_network(root: &Root, key: &str) -> Result<Network> {
    networks::find(root, key)
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
    let spec = networks::Spec {
        name: a.name.clone(),
        subnet: a.subnet.as_deref().map(cidr::parse_subnet).transpose()?,
        gateway: a.gateway.as_deref().map(cidr::parse_ip).transpose()?,
    };
    let net = networks::create(root, &spec)?;
    println!("{}", net.id);
    Ok(())
}

pub(super) fn rm(root: &Root, names: &[String]) -> Result<()> {
    let mut failed = Vec::new();
    for name in names {
        let r = (|| -> Result<()> {
            if networks::PREDEFINED.contains(&name.as_str()) {
                bail!("{name} is a pre-defined network and cannot be removed");
            }
            let _g = store::global_lock(root)?;
            if networks::clear_abandoned(root, name)? {
                return Ok(());
            }
            let Some(net) = store::find(root, name)? else {
                bail!("network {name} not found");
            };
            networks::remove(root, &net)
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
    let target = Target::parse(&a.target, a.hosts_dir.clone())?;
    let ip = a.ip.as_deref().map(cidr::parse_ip).transpose()?;
    for al in &a.alias {
        store::validate_name(al).context("invalid alias")?;
    }
    let (net, lease) = networks::connect(
        root,
        &a.network,
        &target,
        &Attach {
            ip,
            aliases: a.alias.clone(),
            resolv_conf: Some(a.resolv_conf.clone()),
        },
    )?;
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
    let target = Target::parse(&a.target, None)?;
    let (lease, gone) = networks::disconnect(root, &a.network, &target.name)?;
    if !gone.is_empty() {
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

pub(super) fn prune(root: &Root) -> Result<()> {
    let removed = networks::prune(root)?;
    if !removed.is_empty() {
        println!("Deleted Networks:");
        for r in removed {
            println!("{r}");
        }
    }
    Ok(())
}
