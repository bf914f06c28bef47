//! Docker's `network` commands (`ls`, `create`, `rm`, `inspect`,
//! `connect`, `disconnect`, `prune`): their arguments, and their output
//! shaped like Docker's. The work is in `src/net/network.rs` (of a
//! container: `src/container/network.rs`), the shapes in
//! `src/net/human.rs`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::container::network as cnet;
use crate::net::endpoint::{Attach, Target};
use crate::net::{cidr, human, network as networks, ports, store};
use crate::trace::{self, Mechanism};

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The new network's name
    pub name: String,
    /// Driver to manage the network
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format (default: a free one from Docker's pools)
    #[arg(long)]
    pub subnet: Option<String>,
    /// Gateway address (default: the subnet's first host address)
    #[arg(long)]
    pub gateway: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    /// Networks, by name or id (or a unique id prefix)
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// The network, by name or id
    pub network: String,
    /// A container (name or id), or a namespace: a name from `ip netns list`, a PID, or a namespace file's path (a pin)
    pub target: String,
    /// IPv4 address on the network
    #[arg(long)]
    pub ip: Option<String>,
    /// Another name the member is known by on this network
    #[arg(long)]
    pub alias: Vec<String>,
    /// Directory for its hosts and resolv.conf (default for NAME: /etc/netns/NAME)
    #[arg(long, value_name = "DIR")]
    pub hosts_dir: Option<PathBuf>,
    /// Where the member's resolv.conf comes from
    #[arg(long, env = "GLASSBOX_RESOLV_CONF", default_value = "/etc/resolv.conf")]
    pub resolv_conf: PathBuf,
    /// Publish a port of the member on the host, as Docker's -p: [IP:][HOSTPORT:]PORT[/udp]
    #[arg(short, long, value_name = "SPEC")]
    pub publish: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct DisconnectArgs {
    /// The network, by name or id
    pub network: String,
    /// The container or the namespace, as given to `network connect`
    pub target: String,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt (accepted for Docker compatibility; never prompts)
    #[arg(short, long)]
    pub force: bool,
}

fn short_id(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        &id[..12.min(id.len())]
    }
}

pub(super) fn ls(ctx: &Ctx, a: &LsArgs) -> Result<()> {
    let rows = human::ls(&ctx.root)?;
    if a.quiet {
        for r in rows {
            println!("{}", short_id(&r.id, a.no_trunc));
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
        t.push(vec![
            short_id(&r.id, a.no_trunc).into(),
            r.name,
            r.driver,
            r.scope,
        ]);
    }
    print!("{}", human::table(&t));
    Ok(())
}

pub(super) fn create(ctx: &Ctx, a: &CreateArgs) -> Result<()> {
    store::validate_name(&a.name)?;
    let spec = networks::Spec {
        name: a.name.clone(),
        driver: Some(a.driver.clone()),
        subnet: a.subnet.as_deref().map(cidr::parse_subnet).transpose()?,
        gateway: a.gateway.as_deref().map(cidr::parse_ip).transpose()?,
    };
    let net = networks::create(&ctx.root, &spec)?;
    println!("{}", net.id);
    Ok(())
}

pub(super) fn rm(ctx: &Ctx, a: &NamesArgs) -> Result<()> {
    let mut failed = Vec::new();
    for name in &a.names {
        match networks::rm(&ctx.root, name) {
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

pub(super) fn inspect(ctx: &Ctx, a: &NamesArgs) -> Result<()> {
    let out = human::inspect(&ctx.root, &a.names)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub(super) fn connect(ctx: &Ctx, a: &ConnectArgs) -> Result<()> {
    let ip = a.ip.as_deref().map(cidr::parse_ip).transpose()?;
    for al in &a.alias {
        store::validate_name(al).context("invalid alias")?;
    }
    if let Some(c) = cnet::container_target(&ctx.root, &a.target)? {
        if !a.publish.is_empty() || a.hosts_dir.is_some() {
            bail!(
                "{} is a container: its ports are published with `run -p`, its files are its own; --publish and --hosts-dir are for namespaces",
                a.target
            );
        }
        let opts = cnet::ConnectOptions {
            ip,
            aliases: a.alias.clone(),
        };
        let e = cnet::connect(&ctx.root, &a.network, &c, &opts)?;
        let what = if e.ip_address.is_empty() {
            "at its next start".to_string()
        } else {
            format!("as {}/{}", e.ip_address, e.ip_prefix_len)
        };
        trace::say(
            Mechanism::Net,
            format!("{} is on {} {what}", c.name, e.network),
        );
        return Ok(());
    }
    let target = Target::parse(&a.target, a.hosts_dir.clone())?;
    let mut specs = Vec::new();
    for p in &a.publish {
        specs.extend(ports::parse_port_spec(p)?);
    }
    let opts = Attach {
        ip,
        aliases: a.alias.clone(),
        resolv_conf: Some(a.resolv_conf.clone()),
        ports: specs,
        container: None,
    };
    let (net, attached) = networks::connect(&ctx.root, &a.network, &target, &opts)?;
    let lease = &attached.lease;
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
    for p in &attached.published {
        trace::say(Mechanism::Net, format!("published {p}"));
    }
    Ok(())
}

pub(super) fn disconnect(ctx: &Ctx, a: &DisconnectArgs) -> Result<()> {
    if let Some(c) = cnet::container_target(&ctx.root, &a.target)? {
        return cnet::disconnect(&ctx.root, &a.network, &c);
    }
    let target = Target::parse(&a.target, None)?;
    match networks::disconnect(&ctx.root, &a.network, &target.name)? {
        None => trace::say(
            Mechanism::Net,
            format!(
                "{} is not connected to network {}: nothing to do",
                target.name, a.network
            ),
        ),
        Some(d) if !d.ports.is_empty() => trace::say(
            Mechanism::Net,
            format!(
                "unpublished {} (published to {}, which {} no longer holds)",
                d.ports.join(", "),
                d.lease.ip,
                target.name
            ),
        ),
        Some(_) => {}
    }
    Ok(())
}

pub(super) fn prune(ctx: &Ctx) -> Result<()> {
    let removed = networks::prune(&ctx.root)?;
    if !removed.is_empty() {
        println!("Deleted Networks:");
        for r in removed {
            println!("{r}");
        }
    }
    Ok(())
}
