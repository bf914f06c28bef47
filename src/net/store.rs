//! glassbox's records of its networks and of the addresses it handed out.
//!
//! `networks/NAME.json` says what a network is (subnet, gateway, bridge);
//! `networks/NAME.leases.json` lists who holds which address: the IPAM.
//! Both are changed only under `networks/NAME.lock`, so two commands that
//! attach at once never hand out one address twice. Files are written by
//! temp-then-rename ([`crate::state::write_json`]).
//!
//! A network or a lease that a command is still making or unmaking carries
//! a [`Busy`] mark with that command's pid, written before its first change
//! to the host and cleared by its last: a mark whose pid is dead is what a
//! crash left, and [`super::recover`] finishes or undoes it.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::state::resources::pid_alive;
use crate::state::{Root, StateLock, read_json, write_json};
use crate::trace::Mechanism;

/// What a command is doing to a network or a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// `network create`, `net bridge add`: undone if it dies.
    Creating,
    /// `network rm`, `net bridge del`: finished if it dies.
    Removing,
    /// `network connect`, `net veth add --bridge`: undone if it dies.
    Attaching,
    /// `network disconnect`, `net veth del --bridge`, or the undoing of an
    /// attachment or of a member that went away: finished if it dies.
    Detaching,
}

/// The mark of a command at work on a network or a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    pub op: Op,
    pub pid: u32,
}

impl Busy {
    /// This process, doing `op`.
    pub fn now(op: Op) -> Busy {
        Busy {
            op,
            pid: std::process::id(),
        }
    }

    /// Did the command that set the mark die before clearing it?
    pub fn abandoned(&self) -> bool {
        self.pid != std::process::id() && !pid_alive(self.pid)
    }

    /// The command, as a user typed it.
    pub fn command(&self) -> &'static str {
        match self.op {
            Op::Creating => "network create",
            Op::Removing => "network rm",
            Op::Attaching => "network connect",
            Op::Detaching => "network disconnect",
        }
    }
}

/// One network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    /// 64 hex digits, as Docker's network ids.
    pub id: String,
    pub driver: String,
    #[serde(with = "super::cidr::serde_net")]
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// The bridge interface on the host.
    pub bridge: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Made with `net bridge add` (by hand) rather than `network create`.
    #[serde(default)]
    pub manual: bool,
    /// The default `bridge` network: members get no names of each other.
    #[serde(default)]
    pub default_bridge: bool,
    /// Set while a command creates or removes the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy: Option<Busy>,
    /// The network namespace its bridge and members' host ends live in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<super::netns::NsId>,
}

/// One address handed out: who holds it and how it is plugged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub ip: Ipv4Addr,
    /// The member's name: a container name, an `ip netns` name, `pid-N`.
    pub endpoint: String,
    /// The member's network namespace file.
    pub netns: PathBuf,
    /// The veth end on the host, a port of the bridge.
    pub host_if: String,
    /// The veth end inside the member (`eth0`, `eth1`, ...).
    pub inner_if: String,
    /// The member's `hosts` file, rewritten in place when members change.
    #[serde(default)]
    pub hosts: Option<PathBuf>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The hardware address of the inner end.
    #[serde(default)]
    pub mac: String,
    /// Set while a command plugs the member in or out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy: Option<Busy>,
    /// Set when the member is a container: who it is, for its names and
    /// its hosts file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerMember>,
}

/// What a container adds to its leases: the names Docker's DNS answers
/// for it besides its member name (its short id, its hostname), and what
/// its hosts file keeps through every rewrite (`--add-host`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContainerMember {
    /// The container's id (64 hex digits): `network inspect` keys its
    /// members by it, and its first 12 are a name peers reach it by.
    pub id: String,
    /// Its hostname: the first name of its own line in its hosts file.
    pub hostname: String,
    /// `--add-host NAME:IP`, as given.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
}

impl ContainerMember {
    /// Docker's short id: the first 12 hex digits.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

impl Lease {
    /// Is the member leaving (its names no longer given to anyone)?
    pub fn leaving(&self) -> bool {
        self.busy.is_some_and(|b| b.op == Op::Detaching)
    }
}

pub fn dir(root: &Root) -> PathBuf {
    root.data.join("networks")
}

pub fn path(root: &Root, name: &str) -> PathBuf {
    dir(root).join(format!("{name}.json"))
}

fn leases_path(root: &Root, name: &str) -> PathBuf {
    dir(root).join(format!("{name}.leases.json"))
}

/// Take an exclusive state lock (none in a plan, which writes nothing and
/// may be made without root).
pub fn lock_file(path: &Path) -> Result<Option<StateLock>> {
    StateLock::for_change(path)
}

/// The lock of one network's record and leases.
pub fn lock(root: &Root, name: &str) -> Result<Option<StateLock>> {
    lock_file(&dir(root).join(format!("{name}.lock")))
}

/// The lock taken to create or remove networks (names and subnets).
pub fn global_lock(root: &Root) -> Result<Option<StateLock>> {
    lock_file(&dir(root).join(".networks.lock"))
}

/// A network name as Docker allows them.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !ok {
        bail!(
            "invalid network name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
        );
    }
    Ok(())
}

pub fn network_id(name: &str, created: &str) -> String {
    let d = Sha256::digest(format!("{name}\n{created}\n{}", std::process::id()).as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn load(root: &Root, name: &str) -> Result<Option<Network>> {
    read_json(&path(root, name))
}

pub fn save(root: &Root, net: &Network) -> Result<()> {
    write_json(&path(root, &net.name), net)
}

/// Remove a network's leases and then its record (the record last: while
/// it is there, what it owns can be found).
pub fn delete(root: &Root, name: &str) -> Result<()> {
    for p in [leases_path(root, name), path(root, name)] {
        crate::host::remove_file(
            Mechanism::Net,
            &p,
            "The network is gone from the host; its record goes last.",
        )?;
    }
    Ok(())
}

/// Every network, sorted by name.
pub fn all(root: &Root) -> Result<Vec<Network>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir(root)) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".json")
            && !stem.ends_with(".leases")
            && let Some(n) = load(root, stem)?
        {
            out.push(n);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Find a network by name, full id or id prefix, or bridge name.
pub fn find(root: &Root, key: &str) -> Result<Option<Network>> {
    let all = all(root)?;
    if let Some(n) = all.iter().find(|n| n.name == key) {
        return Ok(Some(n.clone()));
    }
    let by_id: Vec<_> = all
        .iter()
        .filter(|n| key.len() >= 3 && n.id.starts_with(key))
        .collect();
    if by_id.len() > 1 {
        bail!("network id prefix {key} is ambiguous: give more digits");
    }
    if let Some(n) = by_id.first() {
        return Ok(Some((*n).clone()));
    }
    Ok(all.into_iter().find(|n| n.bridge == key))
}

pub fn leases(root: &Root, name: &str) -> Result<Vec<Lease>> {
    Ok(read_json(&leases_path(root, name))?.unwrap_or_default())
}

pub fn save_leases(root: &Root, name: &str, leases: &[Lease]) -> Result<()> {
    write_json(&leases_path(root, name), &leases)
}

/// The lowest free host address of `subnet`: not the network, the
/// gateway, the broadcast, nor a taken one.
pub fn next_free(
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    taken: &BTreeSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    subnet
        .hosts()
        .find(|ip| *ip != gateway && !taken.contains(ip))
}

/// Hand out an address of `net` to `lease` (its `ip` is the wanted address,
/// or unspecified for "any"), under the network's lock; the lease is on
/// disk, marked [`Op::Attaching`] by this process, before this returns.
pub fn allocate(root: &Root, net: &Network, mut lease: Lease) -> Result<Lease> {
    let _lock = lock(root, &net.name)?;
    let mut all = leases(root, &net.name)?;
    if let Some(old) = all.iter().find(|l| l.endpoint == lease.endpoint) {
        match old.busy {
            Some(b) if b.pid != std::process::id() && !b.abandoned() => bail!(
                "endpoint {} is being plugged in or out of network {} by pid {}: wait for it to finish",
                lease.endpoint,
                net.name,
                b.pid
            ),
            _ => bail!(
                "endpoint with name {} already exists in network {}",
                lease.endpoint,
                net.name
            ),
        }
    }
    lease.busy = Some(Busy::now(Op::Attaching));
    let taken: BTreeSet<Ipv4Addr> = all.iter().map(|l| l.ip).collect();
    if lease.ip.is_unspecified() {
        lease.ip = match next_free(net.subnet, net.gateway, &taken) {
            Some(ip) => ip,
            None => bail!(
                "no free address left in network {} ({})",
                net.name,
                net.subnet
            ),
        };
    } else {
        if !net.subnet.contains(&lease.ip)
            || lease.ip == net.subnet.network()
            || lease.ip == net.subnet.broadcast()
        {
            bail!(
                "address {} is not a host address of network {} ({})",
                lease.ip,
                net.name,
                net.subnet
            );
        }
        if lease.ip == net.gateway || taken.contains(&lease.ip) {
            bail!(
                "address {} is already in use on network {}",
                lease.ip,
                net.name
            );
        }
    }
    all.push(lease.clone());
    save_leases(root, &net.name, &all)?;
    Ok(lease)
}

/// Give back the address `endpoint` holds on `net`; returns its lease.
pub fn release(root: &Root, net: &str, endpoint: &str) -> Result<Option<Lease>> {
    let _lock = lock(root, net)?;
    let mut all = leases(root, net)?;
    let found = all.iter().position(|l| l.endpoint == endpoint);
    let out = found.map(|i| all.remove(i));
    if out.is_some() {
        save_leases(root, net, &all)?;
    }
    Ok(out)
}

/// Give the leases of container `id` on `net` the member name `new` (a
/// container renamed), under the network's lock; whether there was one.
/// Refused while a command plugs it in or out, or if another member of
/// the network has that name.
pub fn rename_container(root: &Root, net: &str, id: &str, new: &str) -> Result<bool> {
    let _lock = lock(root, net)?;
    let mut all = leases(root, net)?;
    if all
        .iter()
        .any(|l| l.endpoint == new && l.container.as_ref().is_none_or(|c| c.id != id))
    {
        bail!("endpoint with name {new} already exists in network {net}");
    }
    let mut found = false;
    for l in all
        .iter_mut()
        .filter(|l| l.container.as_ref().is_some_and(|c| c.id == id))
    {
        if let Some(b) = l.busy
            && !b.abandoned()
        {
            bail!(
                "{} is being plugged in or out of network {net} by pid {}: wait for it to finish",
                l.endpoint,
                b.pid
            );
        }
        l.endpoint = new.to_string();
        found = true;
    }
    if found {
        save_leases(root, net, &all)?;
    }
    Ok(found)
}

/// What [`mark`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marked {
    /// The lease, now marked by this process.
    Mine(Box<Lease>),
    /// No lease of that endpoint: it is not (or no longer) plugged in.
    Absent,
    /// Another live command is at work on it.
    Busy(Busy),
}

/// Mark `endpoint`'s lease on `net` as worked on by this process (`op`),
/// unless another live command is at work on it.
pub fn mark(root: &Root, net: &str, endpoint: &str, op: Op) -> Result<Marked> {
    let _lock = lock(root, net)?;
    let mut all = leases(root, net)?;
    let Some(l) = all.iter_mut().find(|l| l.endpoint == endpoint) else {
        return Ok(Marked::Absent);
    };
    if let Some(b) = l.busy
        && b.pid != std::process::id()
        && !b.abandoned()
    {
        return Ok(Marked::Busy(b));
    }
    l.busy = Some(Busy::now(op));
    let out = l.clone();
    save_leases(root, net, &all)?;
    Ok(Marked::Mine(Box::new(out)))
}

/// Mark [`Op::Detaching`], in one write, every lease of `net` for which
/// `why` has a reason; those leases (as marked) with their reasons.
pub fn mark_all(
    root: &Root,
    net: &str,
    why: impl Fn(&Lease) -> Option<String>,
) -> Result<Vec<(Lease, String)>> {
    let _lock = lock(root, net)?;
    let mut all = leases(root, net)?;
    let mut out = Vec::new();
    for l in all.iter_mut() {
        if let Some(reason) = why(l) {
            l.busy = Some(Busy::now(Op::Detaching));
            out.push((l.clone(), reason));
        }
    }
    if !out.is_empty() {
        save_leases(root, net, &all)?;
    }
    Ok(out)
}

/// Save `lease` as this command's finished attachment to `net`, under the
/// network's lock: it replaces the marked lease of the same endpoint this
/// command allocated (or, in a plan, where nothing was written, joins the
/// others).
pub fn finish_lease(root: &Root, net: &str, lease: &Lease) -> Result<()> {
    let _lock = lock(root, net)?;
    let mut all = leases(root, net)?;
    match all.iter_mut().find(|l| l.endpoint == lease.endpoint) {
        Some(l) => *l = lease.clone(),
        None => all.push(lease.clone()),
    }
    save_leases(root, net, &all)
}

/// Now, in RFC 3339 (UTC, nanoseconds), as Docker prints `Created`.
pub fn now_rfc3339() -> String {
    crate::clock::now_rfc3339_nanos()
}

/// Where `ip netns exec NAME` finds the namespace's own `hosts` and
/// `resolv.conf` (bound over the ones in `/etc`).
pub fn hosts_dir_for_netns(name: &str) -> PathBuf {
    Path::new("/etc/netns").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(root: &Root) -> Network {
        let n = Network {
            name: "n1".into(),
            id: "ab".repeat(32),
            driver: "bridge".into(),
            subnet: "10.9.0.0/24".parse().unwrap(),
            gateway: "10.9.0.1".parse().unwrap(),
            bridge: "br".into(),
            created: now_rfc3339(),
            manual: false,
            default_bridge: false,
            busy: None,
            netns: None,
        };
        save(root, &n).unwrap();
        n
    }

    fn lease(endpoint: &str) -> Lease {
        Lease {
            ip: Ipv4Addr::UNSPECIFIED,
            endpoint: endpoint.into(),
            netns: "/run/netns/x".into(),
            host_if: "v".into(),
            inner_if: "eth0".into(),
            hosts: None,
            aliases: vec![],
            mac: String::new(),
            busy: None,
            container: None,
        }
    }

    #[test]
    fn next_free_skips_gateway_and_taken() {
        let s: Ipv4Net = "10.0.0.0/30".parse().unwrap();
        let gw = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(
            next_free(s, gw, &BTreeSet::new()),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        let taken = [Ipv4Addr::new(10, 0, 0, 2)].into_iter().collect();
        assert_eq!(next_free(s, gw, &taken), None);
    }

    #[test]
    fn twenty_parallel_allocations_are_distinct_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(Some(dir.path())).unwrap();
        root.ensure().unwrap();
        let n = net(&root);
        let threads: Vec<_> = (0..20)
            .map(|i| {
                let (root, n) = (root.clone(), n.clone());
                std::thread::spawn(move || allocate(&root, &n, lease(&format!("c{i}"))).unwrap().ip)
            })
            .collect();
        let ips: BTreeSet<Ipv4Addr> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(ips.len(), 20);
        assert!(!ips.contains(&n.gateway));
        assert_eq!(leases(&root, "n1").unwrap().len(), 20);
        // The same endpoint twice is refused; a release frees the address.
        let e = allocate(&root, &n, lease("c3")).unwrap_err().to_string();
        assert!(e.contains("already exists in network n1"), "{e}");
        let freed = release(&root, "n1", "c3").unwrap().unwrap().ip;
        let again = allocate(&root, &n, lease("c99")).unwrap().ip;
        assert_eq!(freed, again);
    }

    #[test]
    fn wanted_address_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(Some(dir.path())).unwrap();
        root.ensure().unwrap();
        let n = net(&root);
        let mut l = lease("a");
        l.ip = "10.9.0.1".parse().unwrap();
        assert!(allocate(&root, &n, l.clone()).is_err());
        l.ip = "10.10.0.5".parse().unwrap();
        assert!(allocate(&root, &n, l.clone()).is_err());
        l.ip = "10.9.0.5".parse().unwrap();
        assert_eq!(
            allocate(&root, &n, l).unwrap().ip,
            Ipv4Addr::new(10, 9, 0, 5)
        );
    }

    #[test]
    fn records_without_a_mark_are_finished_and_marks_of_the_dead_are_abandoned() {
        let old = r#"{"name":"n","id":"x","driver":"bridge","subnet":"10.0.0.0/24",
            "gateway":"10.0.0.1","bridge":"b","created":"t"}"#;
        let n: Network = serde_json::from_str(old).unwrap();
        assert_eq!(n.busy, None);
        assert!(!serde_json::to_string(&n).unwrap().contains("busy"));
        let dead = Busy {
            op: Op::Creating,
            pid: u32::MAX - 1,
        };
        assert!(dead.abandoned());
        assert!(!Busy::now(Op::Creating).abandoned());
        let l = Lease {
            busy: Some(Busy::now(Op::Detaching)),
            ..lease("a")
        };
        assert!(l.leaving());
        assert!(!lease("a").leaving());
    }

    #[test]
    fn a_renamed_container_keeps_its_lease_under_its_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(Some(dir.path())).unwrap();
        root.ensure().unwrap();
        let n = net(&root);
        let mut web = lease("web");
        web.container = Some(ContainerMember {
            id: "a".repeat(64),
            ..ContainerMember::default()
        });
        let ip = allocate(&root, &n, web).unwrap().ip;
        allocate(&root, &n, lease("db")).unwrap();
        let e = rename_container(&root, "n1", &"a".repeat(64), "db")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "endpoint with name db already exists in network n1");
        // Marked by this (live) process while it is being attached: refused.
        assert!(rename_container(&root, "n1", &"a".repeat(64), "www").is_err());
        let mut all = leases(&root, "n1").unwrap();
        all.iter_mut().for_each(|l| l.busy = None);
        save_leases(&root, "n1", &all).unwrap();
        assert!(rename_container(&root, "n1", &"a".repeat(64), "www").unwrap());
        assert!(!rename_container(&root, "n1", &"b".repeat(64), "x").unwrap());
        let all = leases(&root, "n1").unwrap();
        assert_eq!(all.iter().find(|l| l.endpoint == "www").unwrap().ip, ip);
        assert!(!all.iter().any(|l| l.endpoint == "web"));
    }

    #[test]
    fn names() {
        validate_name("my-network").unwrap();
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a b").is_err());
    }
}
