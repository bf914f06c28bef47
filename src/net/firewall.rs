//! The firewall: NAT and published ports in one nftables table of
//! glassbox's own, and accept rules where Docker lets users put them.
//!
//! The whole table is data: [`batch`] turns glassbox's record of what is
//! masqueraded and published into one `nft -f -` script that deletes and
//! re-creates the table in a single transaction, so a change is atomic and
//! `nft list table` always shows exactly the record. Read `nft(8)`.
//!
//! Coexisting with Docker's iptables rules is [`super::iptables`]'s job.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::ports::Publish;
use crate::state::resources::{self, Owner, ResourceKind};

pub use super::iptables::{IPT_KIND, accept_chain};
use crate::state::{Root, read_json, write_json};
use crate::trace::{Action, Mechanism, Step};

/// A masqueraded subnet (`net nat on`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nat {
    #[serde(with = "super::cidr::serde_net")]
    pub subnet: Ipv4Net,
    /// The bridge the subnet lives on, when known.
    pub bridge: Option<String>,
}

/// A published port (`net publish`, `run -p`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub publish: Publish,
    pub bridge: String,
    #[serde(with = "super::cidr::serde_net")]
    pub subnet: Ipv4Net,
}

/// What glassbox's table holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwState {
    #[serde(default)]
    pub nat: Vec<Nat>,
    #[serde(default)]
    pub ports: Vec<Port>,
}

impl FwState {
    pub fn is_empty(&self) -> bool {
        self.nat.is_empty() && self.ports.is_empty()
    }
}

fn state_path(root: &Root) -> std::path::PathBuf {
    root.data.join("firewall.json")
}

/// Read, change and apply the firewall record under its lock.
pub fn update(root: &Root, f: impl FnOnce(&mut FwState) -> Result<()>) -> Result<FwState> {
    let _lock = super::store::lock_file(&root.data.join("firewall.lock"))?;
    let mut state: FwState = read_json(&state_path(root))?.unwrap_or_default();
    let before = state.clone();
    f(&mut state)?;
    if state != before {
        apply(root, &state)?;
        if !crate::trace::dry_run() {
            write_json(&state_path(root), &state)?;
        }
    }
    Ok(state)
}

pub fn load(root: &Root) -> Result<FwState> {
    Ok(read_json(&state_path(root))?.unwrap_or_default())
}

/// The rules of one published port, one per path a client may take.
fn port_rules(table_rules: &mut Rules, p: &Port) {
    let pb = &p.publish;
    let proto = pb.proto.as_str();
    let dest = match pb.host_ip {
        Some(ip) => format!("ip daddr {ip}"),
        None => "fib daddr type local".into(),
    };
    let to = format!("dnat to {}:{}", pb.container_ip, pb.port);
    let tag = format!("comment \"{pb}\"");
    let m = format!("{dest} {proto} dport {}", pb.host_port);
    table_rules.prerouting.push(format!("{m} {to} {tag}"));
    table_rules.output.push(format!("{m} {to} {tag}"));
    let back = format!("ip daddr {} {proto} dport {}", pb.container_ip, pb.port);
    // From the host to 127.0.0.1: the source must not stay a loopback address.
    table_rules
        .postrouting
        .push(format!("ip saddr 127.0.0.0/8 {back} masquerade {tag}"));
    // Hairpin: a member reaching a published port of its own network.
    table_rules.postrouting.push(format!(
        "ip saddr {} {back} ct status dnat masquerade {tag}",
        p.subnet
    ));
}

#[derive(Default)]
struct Rules {
    prerouting: Vec<String>,
    output: Vec<String>,
    postrouting: Vec<String>,
}

/// The `nft -f -` script for `state`: delete and re-create the table, in
/// one transaction.
pub fn batch(table: &str, state: &FwState) -> String {
    let mut r = Rules::default();
    for n in &state.nat {
        let rule = match &n.bridge {
            Some(br) => format!(
                "ip saddr {} oifname != \"{br}\" masquerade comment \"nat {}\"",
                n.subnet, n.subnet
            ),
            None => format!(
                "ip saddr {} ip daddr != {} masquerade comment \"nat {}\"",
                n.subnet, n.subnet, n.subnet
            ),
        };
        r.postrouting.push(rule);
    }
    for p in &state.ports {
        port_rules(&mut r, p);
    }
    let mut s = format!("add table ip {table}\ndelete table ip {table}\n");
    if state.is_empty() {
        return s;
    }
    s.push_str(&format!("table ip {table} {{\n"));
    let chains = [
        (
            "prerouting",
            "type nat hook prerouting priority dstnat",
            &r.prerouting,
        ),
        ("output", "type nat hook output priority -100", &r.output),
        (
            "postrouting",
            "type nat hook postrouting priority srcnat",
            &r.postrouting,
        ),
    ];
    for (name, hook, rules) in chains {
        s.push_str(&format!("  chain {name} {{\n    {hook}; policy accept;\n"));
        for rule in rules.iter() {
            s.push_str(&format!("    {rule}\n"));
        }
        s.push_str("  }\n");
    }
    s.push_str("}\n");
    s
}

/// Run a tool, feeding `stdin`; its stdout, or an error with its stderr.
pub fn tool(prog: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| {
        format!("run {prog}: is it installed? (Debian: apt-get install nftables iptables)")
    })?;
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes())
            .with_context(|| format!("write to {prog}'s stdin"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("wait for {prog}"))?;
    if !out.status.success() {
        bail!(
            "{prog} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn table_exists(table: &str) -> bool {
    tool("nft", &["list", "table", "ip", table], None).is_ok()
}

/// Load `state` into the kernel as glassbox's table (or delete the table
/// when nothing is left), recording the table in the ledger first.
fn apply(root: &Root, state: &FwState) -> Result<()> {
    let table = root.names().firewall_table;
    let script = batch(&table, state);
    let pending = if state.is_empty() {
        None
    } else {
        Some(resources::record(
            root,
            NFT_KIND.name(),
            &table,
            Owner::StateFile {
                path: state_path(root),
            },
        ))
    };
    let pending = match pending {
        Some(Err(e)) if e.to_string().contains("already recorded") => None,
        Some(p) => Some(p?),
        None => None,
    };
    let n_rules = state.nat.len() + state.ports.len() * 4;
    Step::new(
        Mechanism::Net,
        Action::Firewall,
        if state.is_empty() {
            format!("delete nft table ip {table}")
        } else {
            format!("load nft table ip {table} ({n_rules} rules)")
        },
    )
    .arg("table", &table)
    .shell(format!("nft -f - <<'EOF'\n{}EOF", script))
    .why("One table of our own, replaced in one transaction: DNAT sends published ports to members, masquerade gives them the host's address outside.")
    .man("nft(8)")
    .run(|| tool("nft", &["-f", "-"], Some(&script)).map(drop))?;
    if let Some(p) = pending {
        p.commit()?;
    }
    if state.is_empty() {
        resources::forget(root, NFT_KIND.name(), &table)?;
    }
    Ok(())
}

/// `net.ipv4.ip_forward=1`: the host routes between its links.
pub fn enable_forwarding() -> Result<()> {
    sysctl(
        "/proc/sys/net/ipv4/ip_forward",
        "1",
        "Without forwarding the host drops packets that are neither from nor for itself: members could not reach out, nor be reached through a published port.",
    )
}

/// `route_localnet=1` on a bridge: 127.0.0.1 may be routed out of it.
pub fn enable_route_localnet(bridge: &str) -> Result<()> {
    sysctl(
        &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "1",
        "A connection to 127.0.0.1 rewritten to a member leaves by the bridge with a loopback source; the kernel drops that unless route_localnet is set.",
    )
}

fn sysctl(path: &str, value: &str, why: &str) -> Result<()> {
    let p = std::path::Path::new(path);
    if std::fs::read_to_string(p)
        .map(|s| s.trim() == value)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let key = path.trim_start_matches("/proc/sys/").replace('/', ".");
    crate::host::write_file_step(Mechanism::Net, p, value)
        .shell(format!("sysctl -w {key}={value}"))
        .why(why)
        .man("proc_sys_net(5)")
        .run(|| std::fs::write(p, value).with_context(|| format!("write {path}")))
}

// ----- resource kinds ----------------------------------------------------

/// glassbox's nftables table.
pub struct NftTableKind;
pub static NFT_KIND: NftTableKind = NftTableKind;

impl ResourceKind for NftTableKind {
    fn name(&self) -> &'static str {
        "nft-table"
    }
    fn exists(&self, _root: &Root, id: &str) -> bool {
        table_exists(id)
    }
    fn remove(&self, _root: &Root, id: &str) -> Result<()> {
        if !table_exists(id) {
            return Ok(());
        }
        Step::new(
            Mechanism::Net,
            Action::Firewall,
            format!("delete nft table ip {id}"),
        )
        .shell(format!("nft delete table ip {id}"))
        .run(|| tool("nft", &["delete", "table", "ip", id], None).map(drop))
    }
    fn scan(&self, root: &Root) -> Vec<String> {
        let table = root.names().firewall_table;
        if table_exists(&table) {
            vec![table]
        } else {
            vec![]
        }
    }
}

/// Which firewall tools this host has, for `glassbox doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backend {
    /// `nft --version`, if nft runs: glassbox's NAT table needs it.
    pub nft: Option<String>,
    /// `iptables --version` (`nf_tables` or `legacy`), if it runs.
    pub iptables: Option<String>,
    /// Where glassbox puts its accept rules here, if anywhere.
    pub accept_chain: Option<String>,
}

pub fn backend() -> Backend {
    let version = |prog: &str| {
        tool(prog, &["--version"], None)
            .ok()
            .map(|s| s.trim().to_string())
    };
    Backend {
        nft: version("nft"),
        iptables: version("iptables"),
        accept_chain: accept_chain().map(String::from),
    }
}

/// The address a published port is reached at, for messages.
pub fn shown_host(ip: Option<Ipv4Addr>) -> String {
    ip.map(|i| i.to_string())
        .unwrap_or_else(|| "0.0.0.0".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ports::{Proto, parse_publish};

    #[test]
    fn batch_for_nat_and_one_port() {
        let state = FwState {
            nat: vec![Nat {
                subnet: "172.18.0.0/16".parse().unwrap(),
                bridge: Some("gbn0".into()),
            }],
            ports: vec![Port {
                publish: parse_publish("1314:172.18.0.2:80").unwrap(),
                bridge: "gbn0".into(),
                subnet: "172.18.0.0/16".parse().unwrap(),
            }],
        };
        insta::assert_snapshot!(batch("glassbox_test", &state));
    }

    #[test]
    fn empty_state_only_deletes_the_table() {
        let s = batch("t", &FwState::default());
        assert_eq!(s, "add table ip t\ndelete table ip t\n");
    }

    #[test]
    fn udp_port_uses_udp() {
        let mut p = parse_publish("5353:10.0.0.2:53/udp").unwrap();
        p.proto = Proto::Udp;
        let state = FwState {
            nat: vec![],
            ports: vec![Port {
                publish: p,
                bridge: "b".into(),
                subnet: "10.0.0.0/24".parse().unwrap(),
            }],
        };
        let s = batch("t", &state);
        assert!(s.contains("udp dport 5353 dnat to 10.0.0.2:53"), "{s}");
    }
}
