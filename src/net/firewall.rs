//! The firewall: NAT and published ports in one nftables table of
//! glassbox's own, and accept rules where Docker lets users put them.
//!
//! The whole table is data: [`batch`] turns glassbox's record of what is
//! masqueraded and published into one `nft -f -` script that deletes and
//! re-creates the table in a single transaction, so a change is atomic and
//! `nft list table` always shows exactly the record. Read `nft(8)`.
//!
//! Coexisting with Docker's iptables rules is [`super::iptables`]'s job.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::netns::{self, NsId};
use super::nftable;
use super::ports::Publish;
use crate::state::resources::{self, Owner, Phase, ResourceKind, pid_alive};

pub use super::iptables::{IPT_KIND, accept_chain};
pub use super::nftable::NFT_KIND;
use crate::state::{Root, read_json, write_json};
use crate::trace::{Done, Mechanism};

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
    /// The pid of the command loading this record into the kernel: set
    /// before the table is touched, cleared once it holds the record. Left
    /// set by a command that died; the next update loads it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applying: Option<u32>,
    /// The network namespace the table was loaded in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<NsId>,
}

impl FwState {
    pub fn is_empty(&self) -> bool {
        self.nat.is_empty() && self.ports.is_empty()
    }

    /// The same rules (whoever is applying them)?
    pub fn same_rules(&self, other: &FwState) -> bool {
        self.nat == other.nat && self.ports == other.ports
    }
}

pub fn state_path(root: &Root) -> std::path::PathBuf {
    root.data.join("firewall.json")
}

/// The record as this command left it when its load into the kernel was
/// only planned (`--dry-run`): nothing was written, so the rest of the
/// plan reads this instead of the file, as the real run would read what
/// it wrote.
static PLANNED: Mutex<Option<(PathBuf, FwState)>> = Mutex::new(None);

fn planned(root: &Root) -> Option<FwState> {
    let guard = PLANNED.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .as_ref()
        .filter(|(p, _)| *p == state_path(root))
        .map(|(_, s)| s.clone())
}

fn remember_planned(root: &Root, state: &FwState) {
    *PLANNED.lock().unwrap_or_else(|e| e.into_inner()) = Some((state_path(root), state.clone()));
}

/// Read, change and apply the firewall record under its lock. The record
/// is written first, marked as being applied, then loaded into the
/// kernel, then unmarked: a crash anywhere leaves a marked record, which
/// the next update (or `system prune`) loads again. A record left marked
/// is loaded even when `f` changes nothing.
pub fn update(root: &Root, f: impl FnOnce(&mut FwState) -> Result<()>) -> Result<FwState> {
    root.ensure()?;
    let _lock = super::store::lock_file(&root.data.join("firewall.lock"))?;
    let mut state = load(root)?;
    // Under the lock no other command is applying: a mark is a dead one's.
    let interrupted = state.applying.is_some();
    let before = state.clone();
    f(&mut state)?;
    if state.same_rules(&before) && !interrupted && !table_gone(root, &state)? {
        return Ok(state);
    }
    state.applying = Some(std::process::id());
    state.netns = netns::current();
    write_json(&state_path(root), &state)?;
    let done = match apply(root, &state) {
        Ok(done) => done,
        Err(e) => {
            // Put back what was there: the old record, in the kernel too.
            let mut old = before;
            old.applying = Some(std::process::id());
            if write_json(&state_path(root), &old).is_ok() && apply(root, &old).is_ok() {
                old.applying = None;
                let _ = write_json(&state_path(root), &old);
            }
            return Err(e);
        }
    };
    state.applying = None;
    write_json(&state_path(root), &state)?;
    if !done.ran() {
        remember_planned(root, &state);
    }
    Ok(state)
}

/// Has the kernel lost the table the record holds (a reboot, a flush by
/// hand)? Then an update that changes nothing loads it again. Read only
/// where the table lives, and only when it can be read.
fn table_gone(root: &Root, state: &FwState) -> Result<bool> {
    if state.is_empty() || !netns::is_here(state.netns) {
        return Ok(false);
    }
    let table = root.names().firewall_table;
    Ok(matches!(nftable::present(&table), Ok(Done::Ran(false))))
}

/// Load the record into the kernel again (a crash left it half applied,
/// or the table was changed behind glassbox's back), in the network
/// namespace it was loaded in (from another one, nothing is done).
pub fn reapply(root: &Root) -> Result<()> {
    let _lock = super::store::lock_file(&root.data.join("firewall.lock"))?;
    let Some(mut state) = read_json::<FwState>(&state_path(root))? else {
        return Ok(());
    };
    if !netns::is_here(state.netns) {
        return Ok(());
    }
    state.applying = Some(std::process::id());
    write_json(&state_path(root), &state)?;
    apply(root, &state)?;
    state.applying = None;
    write_json(&state_path(root), &state)
}

/// What is wrong between the record and the kernel's table, if anything:
/// an update that died half way, or a table that does not hold the
/// record's rules. Nothing while a live command is applying, when the
/// rule set cannot be read here, or from another network namespace than
/// the table's (where it is out of sight, not gone).
pub fn out_of_step(root: &Root) -> Result<Option<String>> {
    let path = state_path(root);
    if !path.exists() {
        return Ok(None);
    }
    let state: FwState = read_json(&path)?.unwrap_or_default();
    if !netns::is_here(state.netns) {
        return Ok(None);
    }
    if let Some(pid) = state.applying {
        if pid_alive(pid) {
            return Ok(None);
        }
        return Ok(Some(format!(
            "an update by pid {pid} died before the kernel's table was known to hold it"
        )));
    }
    if !nftable::readable() {
        return Ok(None);
    }
    let table = root.names().firewall_table;
    let recorded = super::ledger(root)?
        .iter()
        .any(|r| r.kind == NFT_KIND.name() && r.id == table);
    let Done::Ran(listing) = nftable::list(&table)? else {
        return Ok(None);
    };
    let want = nftable::comments(&batch(&table, &state));
    Ok(match listing {
        None if state.is_empty() => None,
        None => Some(format!(
            "it holds {} rule(s) but nft table ip {table} is gone",
            want.len()
        )),
        Some(_) if state.is_empty() && !recorded => None,
        Some(text) => {
            let have = nftable::comments(&text);
            (have != want).then(|| {
                format!(
                    "nft table ip {table} holds {} rule(s) that differ from its {} (changed by hand?)",
                    have.len(),
                    want.len()
                )
            })
        }
    })
}

/// The record: as this command planned it (`--dry-run`), else as saved.
pub fn load(root: &Root) -> Result<FwState> {
    if let Some(s) = planned(root) {
        return Ok(s);
    }
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

/// Load `state` into the kernel as glassbox's table (or delete the table
/// when nothing is left); whether it ran or was only planned. The table
/// is recorded in the ledger before it is made, unless it is live already
/// (recorded so, or loaded earlier in this plan): then it is only
/// replaced. A record a dead command left pending is taken over.
fn apply(root: &Root, state: &FwState) -> Result<Done<()>> {
    let table = root.names().firewall_table;
    let script = batch(&table, state);
    let live = planned(root).is_some_and(|s| !s.is_empty())
        || super::ledger(root)?
            .iter()
            .any(|r| r.kind == NFT_KIND.name() && r.id == table && r.phase == Phase::Live);
    let pending = if state.is_empty() || live {
        None
    } else {
        Some(resources::record(
            root,
            NFT_KIND.name(),
            &table,
            Owner::StateFile {
                path: state_path(root),
            },
        )?)
    };
    let n_rules = state.nat.len() + state.ports.len() * 4;
    let done = nftable::load(
        &table,
        &script,
        if state.is_empty() {
            format!("delete nft table ip {table}")
        } else {
            format!("load nft table ip {table} ({n_rules} rules)")
        },
    )?;
    if let Some(p) = pending {
        p.commit()?;
    }
    if state.is_empty() {
        resources::forget(root, NFT_KIND.name(), &table)?;
    }
    Ok(done)
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

/// The sysctls this command has set (or planned to set): set once.
static SET: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn sysctl(path: &str, value: &str, why: &str) -> Result<()> {
    let p = std::path::Path::new(path);
    let done_here = SET
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|s| s == path);
    if done_here
        || std::fs::read_to_string(p)
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
        .run(|| std::fs::write(p, value).with_context(|| format!("write {path}")))?;
    SET.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_string());
    Ok(())
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
        let read = nftable::read(format!("{prog} --version"), prog, &["--version"], |said| {
            Ok(said.ok.then(|| said.stdout.trim().to_string()))
        });
        match read {
            Ok(Done::Ran(v)) => v,
            _ => None,
        }
    };
    Backend {
        nft: version("nft"),
        iptables: version("iptables"),
        accept_chain: accept_chain().value().flatten().map(String::from),
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
            applying: None,
            netns: None,
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
            applying: None,
            netns: None,
        };
        let s = batch("t", &state);
        assert!(s.contains("udp dport 5353 dnat to 10.0.0.2:53"), "{s}");
    }
}
