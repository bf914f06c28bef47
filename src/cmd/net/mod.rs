//! `glassbox net` (also `glassbox network`): bridges, veth pairs, NAT and
//! published ports by hand, and Docker's `network` commands on top of the
//! same code. Parsing and printing only; the work is in `src/net/`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::Ctx;

mod network;
use crate::net::endpoint::{self, Attach, Target};
use crate::net::netlink::Netlink;
use crate::net::network as networks;
use crate::net::store::{self, Network};
use crate::net::{cidr, firewall, ifname, nat, p2p, ports};
use crate::state::Root;
use crate::state::resources;
use crate::trace::{self, Mechanism};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make or remove a bridge (a network by hand)
    #[command(subcommand)]
    Bridge(BridgeCmd),
    /// Plug a network namespace in with a veth pair, or unplug it
    #[command(subcommand)]
    Veth(VethCmd),
    /// Masquerade a subnet's traffic to the outside (ip_forward + MASQUERADE)
    Nat(NatArgs),
    /// Publish a host port to a member: [IP:]HOSTPORT:CONTAINER_IP:PORT[/udp]
    Publish(SpecArgs),
    /// Remove a published port (the same spec)
    Unpublish(SpecArgs),
    /// What glassbox has made: bridges, veths, addresses, rules
    Show,
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Create a network
    Create(CreateArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Display detailed information on one or more networks
    Inspect(NamesArgs),
    /// Connect a namespace (a `ip netns` name or a PID) to a network
    Connect(ConnectArgs),
    /// Disconnect a namespace from a network
    Disconnect(DisconnectArgs),
    /// Remove all networks nothing is connected to
    Prune(PruneArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum BridgeCmd {
    /// Create bridge NAME holding the subnet's first address as gateway
    Add {
        name: String,
        #[arg(long, value_name = "CIDR")]
        subnet: String,
    },
    /// Delete bridge NAME
    Del { name: String },
}

#[derive(Debug, clap::Args)]
pub struct VethTarget {
    /// The namespace: a name from `ip netns list`, or a PID
    #[arg(long, value_name = "PID|NAME")]
    pub ns: String,
    /// Plug the host end into this bridge (made by `net bridge add`)
    #[arg(long, value_name = "BR")]
    pub bridge: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum VethCmd {
    /// Create a veth pair into the namespace
    Add {
        #[command(flatten)]
        target: VethTarget,
        /// The namespace end's address (default: the bridge's next free one)
        #[arg(long, value_name = "CIDR")]
        ip: Option<String>,
        /// Directory for the namespace's hosts file (PID targets)
        #[arg(long, value_name = "DIR")]
        hosts_dir: Option<PathBuf>,
    },
    /// Delete the veth pair of the namespace
    Del {
        #[command(flatten)]
        target: VethTarget,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, clap::Args)]
pub struct NatArgs {
    pub state: OnOff,
    #[arg(long, value_name = "CIDR")]
    pub subnet: String,
}

#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    /// [IP:]HOSTPORT:CONTAINER_IP:PORT[/tcp|udp]
    pub spec: String,
}

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
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    pub network: String,
    /// A name from `ip netns list`, or a PID
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
}

#[derive(Debug, clap::Args)]
pub struct DisconnectArgs {
    pub network: String,
    pub target: String,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt (accepted for Docker compatibility; never prompts)
    #[arg(short, long)]
    pub force: bool,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<()> {
    let root = &ctx.root;
    if !trace::dry_run() {
        root.ensure()?;
        std::fs::create_dir_all(store::dir(root))
            .with_context(|| format!("create {}", store::dir(root).display()))?;
    }
    match cmd {
        Command::Bridge(BridgeCmd::Add { name, subnet }) => bridge_add(root, name, subnet),
        Command::Bridge(BridgeCmd::Del { name }) => bridge_del(root, name),
        Command::Veth(VethCmd::Add {
            target,
            ip,
            hosts_dir,
        }) => veth_add(root, target, ip.as_deref(), hosts_dir.clone()),
        Command::Veth(VethCmd::Del { target }) => veth_del(root, target),
        Command::Nat(a) => {
            let subnet = cidr::parse_subnet(&a.subnet)?;
            match a.state {
                OnOff::On => nat::nat_on(root, subnet).map(drop),
                OnOff::Off => nat::nat_off(root, subnet).map(drop),
            }
        }
        Command::Publish(a) => {
            let p = ports::parse_publish(&a.spec)?;
            nat::publish(root, &p)?;
            trace::say(Mechanism::Net, format!("published {p}"));
            Ok(())
        }
        Command::Unpublish(a) => nat::unpublish(root, &ports::parse_publish(&a.spec)?).map(drop),
        Command::Show => show(root),
        Command::Ls(a) => network::ls(root, a),
        Command::Create(a) => network::create(root, a),
        Command::Rm(a) => network::rm(root, &a.names),
        Command::Inspect(a) => network::inspect(root, &a.names),
        Command::Connect(a) => network::connect(root, a),
        Command::Disconnect(a) => network::disconnect(root, a),
        Command::Prune(_) => network::prune(root),
    }
}

// ----- by hand -----------------------------------------------------------

fn bridge_add(root: &Root, name: &str, subnet: &str) -> Result<()> {
    ifname::validate(name)?;
    let subnet = cidr::parse_subnet(subnet)?;
    networks::add_bridge(root, name, subnet).map(drop)
}

fn bridge_del(root: &Root, name: &str) -> Result<()> {
    ifname::validate(name)?;
    let _g = store::global_lock(root)?;
    networks::clear_abandoned(root, name)?;
    let Some(net) = store::find(root, name)? else {
        bail!("no bridge named {name} was made by glassbox (see `glassbox net show`)");
    };
    networks::remove(root, &net)
}

/// The network of `--bridge BR`, made by `net bridge add`.
fn bridge_network(root: &Root, br: &str) -> Result<Network> {
    ifname::validate(br)?;
    let Some(net) = store::find(root, br)? else {
        bail!(
            "bridge {br} was not made by glassbox: make it with `glassbox net bridge add {br} --subnet CIDR`"
        );
    };
    networks::check_usable(&net)?;
    Ok(net)
}

fn veth_add(
    root: &Root,
    t: &VethTarget,
    ip: Option<&str>,
    hosts_dir: Option<PathBuf>,
) -> Result<()> {
    let target = Target::parse(&t.ns, hosts_dir)?;
    let ip = ip.map(cidr::parse_host_cidr).transpose()?;
    let Some(br) = &t.bridge else {
        let Some(ip) = ip else {
            bail!(
                "without --bridge give the namespace's address with --ip CIDR (e.g. --ip 10.0.0.2/24)"
            );
        };
        return p2p::add(root, &target, ip);
    };
    let net = bridge_network(root, br)?;
    if let Some(ip) = ip
        && (ip.trunc() != net.subnet)
    {
        bail!("address {ip} is not in bridge {br}'s subnet {}", net.subnet);
    }
    let lease = endpoint::attach(
        root,
        &net,
        &target,
        &Attach {
            ip: ip.map(|n| n.addr()),
            ..Attach::default()
        },
    )?;
    trace::say(
        Mechanism::Net,
        format!(
            "{} has {}/{} on {br} ({})",
            target.name,
            lease.ip,
            net.subnet.prefix_len(),
            lease.inner_if
        ),
    );
    Ok(())
}

fn veth_del(root: &Root, t: &VethTarget) -> Result<()> {
    let target = Target::parse(&t.ns, None)?;
    let Some(br) = &t.bridge else {
        return p2p::del(root, &target);
    };
    ifname::validate(br)?;
    let Some(net) = store::find(root, br)? else {
        bail!("bridge {br} was not made by glassbox (see `glassbox net show`)");
    };
    let settled = endpoint::settle(root, &net)?;
    if !settled.iter().any(|(l, _)| l.endpoint == target.name) {
        endpoint::detach(root, &net, &target.name)?;
    }
    Ok(())
}

// ----- show --------------------------------------------------------------

/// Print rows as aligned columns (two spaces apart; the last not padded).
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

fn show(root: &Root) -> Result<()> {
    let mut nl = Netlink::new()?;
    let links = nl.links()?;
    let addrs = nl.addresses()?;
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
    print!("{}", table(&rows));
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
    for r in resources::list(root)? {
        if r.kind == crate::net::LINK_KIND_NAME
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
    println!();
    print!("{}", table(&rows));
    let fw = firewall::load(root)?;
    println!();
    for n in &fw.nat {
        println!("nat      {} masqueraded", n.subnet);
    }
    for p in &fw.ports {
        println!("publish  {}", p.publish);
    }
    for r in resources::list(root)? {
        if r.kind == crate::net::IPT_KIND.name() {
            println!("iptables {}", r.id);
        }
    }
    let table_name = root.names().firewall_table;
    if let Ok(rules) = firewall::tool("nft", &["list", "table", "ip", &table_name], None) {
        println!();
        print!("{rules}");
    }
    Ok(())
}

use crate::state::resources::ResourceKind as _;
