//! `glassbox net` (also `glassbox network`): bridges, veth pairs, NAT and
//! published ports by hand, and Docker's `network` commands on top of the
//! same code. Parsing and printing only; the work is in `src/net/`.

use std::path::PathBuf;

use anyhow::Result;

use super::Ctx;

mod network;
use crate::net::endpoint::Target;
use crate::net::manual::{self, VethAdd, VethMade};
use crate::net::{cidr, human, ifname, nat, ports};
use crate::trace::{self, Mechanism};

pub use network::{ConnectArgs, CreateArgs, DisconnectArgs, LsArgs, NamesArgs, PruneArgs};

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
    /// Connect a namespace (an `ip netns` name, a PID or a namespace file) to a network
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
        /// The bridge's name (1 to 15 bytes, as `ip link` takes it), e.g. br0
        name: String,
        /// The bridge's subnet; it holds the first address, e.g. 10.0.0.0/24
        #[arg(long, value_name = "CIDR")]
        subnet: String,
    },
    /// Delete bridge NAME (made by `net bridge add`), with its NAT and ports
    Del {
        /// The bridge's name, as given to `net bridge add`
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum VethCmd {
    /// Create a veth pair into the namespace
    Add(VethAddArgs),
    /// Delete the veth pair(s) of the namespace (already gone is fine)
    Del(VethDelArgs),
}

#[derive(Debug, clap::Args)]
pub struct VethAddArgs {
    /// The namespace: a name from `ip netns list`, a PID, or a namespace file's path
    #[arg(long, value_name = "PID|NAME|PATH")]
    pub ns: String,
    /// Plug the host end into this bridge (made by `net bridge add`)
    #[arg(long, value_name = "BR")]
    pub bridge: Option<String>,
    /// The namespace end's address (default: the bridge's next free one)
    #[arg(long, value_name = "CIDR")]
    pub ip: Option<String>,
    /// Directory for the namespace's hosts file (PID targets)
    #[arg(long, value_name = "DIR")]
    pub hosts_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VethDelArgs {
    /// The namespace, as given to `net veth add --ns`
    #[arg(long, value_name = "PID|NAME|PATH")]
    pub ns: String,
    /// Only its pair on this bridge (default: every pair glassbox plugged into it)
    #[arg(long, value_name = "BR")]
    pub bridge: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OnOff {
    /// Masquerade the subnet
    On,
    /// Stop masquerading it
    Off,
}

#[derive(Debug, clap::Args)]
pub struct NatArgs {
    /// on: masquerade the subnet's traffic to the outside; off: stop
    pub state: OnOff,
    /// The subnet, e.g. 10.0.0.0/24
    #[arg(long, value_name = "CIDR")]
    pub subnet: String,
}

#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    /// [IP:]HOSTPORT:CONTAINER_IP:PORT[/tcp|udp]
    pub spec: String,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<()> {
    let root = &ctx.root;
    match cmd {
        Command::Bridge(BridgeCmd::Add { name, subnet }) => {
            ifname::validate(name)?;
            manual::add_bridge(root, name, cidr::parse_subnet(subnet)?).map(drop)
        }
        Command::Bridge(BridgeCmd::Del { name }) => manual::del_bridge(root, name),
        Command::Veth(VethCmd::Add(a)) => veth_add(ctx, a),
        Command::Veth(VethCmd::Del(a)) => veth_del(ctx, a),
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
        Command::Show => {
            print!("{}", human::show(root)?);
            Ok(())
        }
        Command::Ls(a) => network::ls(ctx, a),
        Command::Create(a) => network::create(ctx, a),
        Command::Rm(a) => network::rm(ctx, a),
        Command::Inspect(a) => network::inspect(ctx, a),
        Command::Connect(a) => network::connect(ctx, a),
        Command::Disconnect(a) => network::disconnect(ctx, a),
        Command::Prune(_) => network::prune(ctx),
    }
}

fn veth_add(ctx: &Ctx, a: &VethAddArgs) -> Result<()> {
    let spec = VethAdd {
        target: Target::parse(&a.ns, a.hosts_dir.clone())?,
        bridge: a.bridge.clone(),
        ip: a.ip.as_deref().map(cidr::parse_host_cidr).transpose()?,
    };
    if let VethMade::Bridged { net, lease } = manual::veth_add(&ctx.root, &spec)? {
        trace::say(
            Mechanism::Net,
            format!(
                "{} has {}/{} on {} ({})",
                lease.endpoint,
                lease.ip,
                net.subnet.prefix_len(),
                net.bridge,
                lease.inner_if
            ),
        );
    }
    Ok(())
}

fn veth_del(ctx: &Ctx, a: &VethDelArgs) -> Result<()> {
    let target = Target::parse(&a.ns, None)?;
    let gone = manual::veth_del(&ctx.root, &target, a.bridge.as_deref())?;
    if gone.is_empty() {
        let on = a
            .bridge
            .as_deref()
            .map_or(String::new(), |b| format!(" on {b}"));
        trace::say(
            Mechanism::Net,
            format!(
                "no veth pair of glassbox's goes to {}{on}: nothing to remove",
                a.ns
            ),
        );
    }
    Ok(())
}
