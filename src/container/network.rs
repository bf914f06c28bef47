//! A container's network, as its mode (`--network`) makes it: `bridge`
//! (the default network) or a user-defined network, where the container's
//! own network namespace is plugged into the network's bridge with a veth
//! pair, gets an address, its names and its published ports (`-p`);
//! `none`, a namespace with only `lo`; `host`, the host's own; and
//! `container:NAME`, the namespace of another running container, whose
//! `/etc/hosts`, `/etc/resolv.conf` and hostname it shares, as Docker's
//! does. The plugging is `net`'s ([`crate::net::network::connect`]), the
//! same code as `network connect` of a namespace: what a container adds is
//! who it is (its id and hostname, for its names and its hosts file) and
//! its record (`Endpoints`: the networks it is on; while it runs, its
//! address and its host ports, what `inspect` and `ps` show). Everything
//! is released from the leases that name the container, so any process
//! can, after any other. Read `network_namespaces(7)`, `veth(4)`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::config::Request;
use super::state::{self, Container, Endpoint, PortBinding};
use super::{etc, start};
use crate::net::endpoint::{Attach, Attached, Target};
use crate::net::mode::{self, Mode};
use crate::net::network as networks;
use crate::net::store::{self, ContainerMember, Lease, Network};
use crate::state::Root;

/// What the network mode makes of a container's namespace and files.
#[derive(Debug, Clone)]
pub struct NetPlan {
    pub mode: Mode,
    /// The network namespace to join (`container:NAME`: that container's
    /// pin); `None` with a mode that makes its own or uses the host's.
    pub join: Option<PathBuf>,
    /// The hostname inside (`container:NAME`: NAME's, as Docker does).
    pub hostname: String,
    /// The files bound over `/etc/hostname`, `/etc/hosts` and
    /// `/etc/resolv.conf` (`container:NAME`: NAME's).
    pub hostname_path: PathBuf,
    pub hosts_path: PathBuf,
    pub resolv_conf_path: PathBuf,
}

/// The network namespace a `container:NAME` container joins: NAME's pin,
/// or the pin of the container NAME itself joined; `None` if that one
/// uses the host's.
fn joined_netns(root: &Root, joiner: &str, key: &str) -> Result<(Container, Option<PathBuf>)> {
    let o = state::find(root, key)?;
    if o.id == joiner {
        bail!("cannot join own network");
    }
    if !super::shim::runs(o.state.status) || !state::init_alive(&o.state) {
        bail!("cannot join network of a non running container: {}", o.id);
    }
    let ns = match mode::parse_mode(&o.host_config.network_mode)? {
        Mode::Host => None,
        Mode::Container(next) if next != key => {
            let (_, ns) = joined_netns(root, &o.id, &next)?;
            ns
        }
        _ => Some(start::netns_pin(root, &o.id)),
    };
    Ok((o, ns))
}

/// The plan of `c`'s network for a start: refused with Docker's message
/// when `container:NAME` names no running container.
pub fn plan(root: &Root, c: &Container) -> Result<NetPlan> {
    let mode = mode::parse_mode(&c.host_config.network_mode)?;
    let mut plan = NetPlan {
        mode: mode.clone(),
        join: None,
        hostname: c.config.hostname.clone(),
        hostname_path: c.hostname_path.clone(),
        hosts_path: c.hosts_path.clone(),
        resolv_conf_path: c.resolv_conf_path.clone(),
    };
    if let Mode::Container(other) = &mode {
        let (o, ns) = joined_netns(root, &c.id, other)?;
        plan.mode = if ns.is_some() { mode } else { Mode::Host };
        plan.join = ns;
        plan.hostname = o.config.hostname.clone();
        plan.hostname_path = o.hostname_path.clone();
        plan.hosts_path = o.hosts_path.clone();
        plan.resolv_conf_path = o.resolv_conf_path.clone();
    }
    Ok(plan)
}

/// Docker's checks of `run`/`create`'s network options, before anything
/// is made: the network exists; a `container:NAME` container has NAME's
/// hostname, hosts and resolv.conf (`conflicting options`); aliases and
/// `--ip` are for a user-defined network, the address one of its subnet's;
/// `--dns` takes addresses. (An address another member holds is refused
/// at start, as Docker refuses it.)
pub fn check_request(root: &Root, req: &Request) -> Result<()> {
    check_options(req)?;
    if let Mode::Network(n) = mode::parse_mode(&req.network)?
        && n != networks::DEFAULT_NETWORK
    {
        let Some(net) = store::find(root, &n)? else {
            bail!("network {n} not found");
        };
        if let Some(ip) = req.ip {
            check_ip_in(&net, ip)?;
        }
    }
    Ok(())
}

/// Is `ip` a host address of `net`'s subnet? Docker's message if not.
pub fn check_ip_in(net: &Network, ip: Ipv4Addr) -> Result<()> {
    let s = net.subnet;
    if !s.contains(&ip) || ip == s.network() || ip == s.broadcast() {
        bail!(
            "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address {ip} (network {} is {s})",
            net.name
        );
    }
    Ok(())
}

/// For `run`, before anything is made: `container:NAME` must name a
/// running container, so that a run refused for it leaves no record.
/// (`create` makes the container all the same, as Docker's does: the
/// check is its start's.)
pub fn check_join_now(root: &Root, req: &Request) -> Result<()> {
    if let Mode::Container(key) = mode::parse_mode(&req.network)? {
        let o = state::find(root, &key)?;
        if !super::shim::runs(o.state.status) || !state::init_alive(&o.state) {
            bail!("cannot join network of a non running container: {}", o.id);
        }
    }
    Ok(())
}

/// The checks of [`check_request`] that need no state.
fn check_options(req: &Request) -> Result<()> {
    let mode = mode::parse_mode(&req.network)?;
    if matches!(mode, Mode::Container(_)) {
        for (given, what) in [
            (req.hostname.is_some(), "hostname"),
            (!req.add_hosts.is_empty(), "custom host-to-IP mapping"),
            (!req.dns.is_empty(), "dns"),
        ] {
            if given {
                bail!(
                    "conflicting options: {what} and the network mode (a container:NAME container has NAME's)"
                );
            }
        }
    }
    let user_network = matches!(&mode, Mode::Network(n) if n != networks::DEFAULT_NETWORK);
    if !req.network_aliases.is_empty() && !user_network {
        bail!("network-scoped alias is supported only for containers in user defined networks");
    }
    if req.ip.is_some() && !user_network {
        bail!("user specified IP address is supported on user defined networks only");
    }
    for a in &req.network_aliases {
        store::validate_name(a).context("invalid --network-alias")?;
    }
    for d in &req.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            bail!("invalid argument \"{d}\" for \"--dns\" flag: {d} is not an ip address");
        }
    }
    Ok(())
}

/// The record's networks at `create` (Docker lists the mode's network,
/// with no address until it runs).
pub fn initial_endpoints(req: &Request) -> Vec<Endpoint> {
    match mode::parse_mode(&req.network) {
        Ok(Mode::Network(n)) => vec![Endpoint {
            network: n,
            aliases: req.network_aliases.clone(),
            ipv4_address: req.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            ..Endpoint::default()
        }],
        _ => Vec::new(),
    }
}

/// `/etc/hosts` and `/etc/resolv.conf` of `c` before it starts, as
/// Docker writes them: `host` has the host's (with `--add-host`, Docker's
/// own lines and those); `none` Docker's lines and `--add-host`; a network
/// the same until `net` adds the container's address and its peers (and
/// copies `resolv.conf.src`, the text for it); `container:NAME` NAME's.
pub fn write_etc(root: &Root, c: &Container, plan: &NetPlan) -> Result<()> {
    if plan.join.is_some() || matches!(plan.mode, Mode::Container(_)) {
        return Ok(());
    }
    let dir = state::container_dir(root, &c.id);
    let extra = &c.host_config.extra_hosts;
    let (hosts, resolv) = match &plan.mode {
        Mode::Host => {
            let hosts = match (extra.is_empty(), std::fs::read_to_string("/etc/hosts")) {
                (true, Ok(text)) => text,
                _ => etc::hosts(None, extra),
            };
            let resolv = if c.host_config.dns.is_empty() {
                // The host's network, the host's resolver, loopback included.
                std::fs::read_to_string(etc::resolv_source()).unwrap_or_default()
            } else {
                etc::resolv_text(&c.host_config.dns)
            };
            (hosts, resolv)
        }
        _ => (
            etc::hosts(None, extra),
            etc::resolv_text(&c.host_config.dns),
        ),
    };
    start::write_file(&dir.join("resolv.conf.src"), &resolv)?;
    start::write_file(&c.hosts_path, &hosts)?;
    start::write_file(&c.resolv_conf_path, &resolv)
}

/// Who the container is, for its leases.
pub fn member(c: &Container) -> ContainerMember {
    ContainerMember {
        id: c.id.clone(),
        hostname: c.config.hostname.clone(),
        extra_hosts: c.host_config.extra_hosts.clone(),
    }
}

/// The id Docker shows for an endpoint (`network inspect`'s EndpointID).
fn endpoint_id(root: &Root, net: &str, name: &str) -> String {
    crate::net::human::pseudo_id(root, &format!("endpoint/{net}/{name}"))
}

/// The record's endpoint for what `attach` made (`wanted`: the address
/// asked for, if one was).
fn endpoint_of(
    net: &Network,
    a: &Attached,
    aliases: &[String],
    wanted: Option<Ipv4Addr>,
) -> Endpoint {
    let mut ports: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for p in &a.published {
        ports
            .entry(format!("{}/{}", p.port, p.proto))
            .or_default()
            .push(PortBinding {
                host_ip: crate::net::firewall::shown_host(p.host_ip),
                host_port: p.host_port.to_string(),
            });
    }
    Endpoint {
        network: net.name.clone(),
        ip_address: a.lease.ip.to_string(),
        ip_prefix_len: net.subnet.prefix_len(),
        gateway: net.gateway.to_string(),
        mac_address: a.lease.mac.clone(),
        aliases: aliases.to_vec(),
        ipv4_address: wanted.map(|ip| ip.to_string()).unwrap_or_default(),
        ports,
    }
}

/// Plug the running container's namespace (pinned at `pin`) into network
/// `key`, publishing `ports` there; its endpoint. A port that cannot be
/// published is refused in Docker's words.
fn plug(
    root: &Root,
    c: &Container,
    pin: &Path,
    key: &str,
    ip: Option<Ipv4Addr>,
    aliases: &[String],
    ports: Vec<crate::net::ports::PortSpec>,
) -> Result<Endpoint> {
    let dir = state::container_dir(root, &c.id);
    let target = Target::at_path(pin, &c.name, Some(dir.clone()))?;
    let opts = Attach {
        ip,
        aliases: aliases.to_vec(),
        resolv_conf: Some(dir.join("resolv.conf.src")),
        ports,
        container: Some(member(c)),
    };
    match networks::connect(root, key, &target, &opts) {
        Ok((net, attached)) => {
            crate::events::record(root, crate::events::Event::network(&net, "connect", &c.id));
            Ok(endpoint_of(&net, &attached, aliases, ip))
        }
        Err(e) => match e.downcast_ref::<crate::net::nat::PortUnavailable>() {
            Some(p) => Err(anyhow!(
                "driver failed programming external connectivity on endpoint {} ({}): {p}",
                c.name,
                endpoint_id(root, key, &c.name)
            )),
            None => Err(e),
        },
    }
}

/// The networks a start plugs `c` into, in order: those of its record
/// (the mode's first), or the mode's network alone.
fn networks_at_start(c: &Container, mode_net: &str) -> Vec<Endpoint> {
    let mode_net = if mode_net == "default" {
        networks::DEFAULT_NETWORK
    } else {
        mode_net
    };
    let mut out: Vec<Endpoint> = c.endpoints.clone();
    match out.iter().position(|e| e.network == mode_net) {
        Some(i) => {
            let e = out.remove(i);
            out.insert(0, e);
        }
        None if out.is_empty() => out.push(Endpoint {
            network: mode_net.to_string(),
            ..Endpoint::default()
        }),
        None => {}
    }
    out
}

/// At start: plug the container's pinned namespace into each of its
/// networks (the `-p` ports published on the first, the mode's), and
/// record where it is. A failure unplugs what this start plugged in.
pub fn connect_at_start(root: &Root, rec: &mut Container, pin: &Path) -> Result<()> {
    let Mode::Network(mode_net) = mode::parse_mode(&rec.host_config.network_mode)? else {
        return Ok(());
    };
    let mut ports = Some(ports_at_start(rec)?);
    let mut done: Vec<Endpoint> = Vec::new();
    for want in networks_at_start(rec, &mode_net) {
        let publish = if want.network == mode_net || done.is_empty() {
            ports.take().unwrap_or_default()
        } else {
            Vec::new()
        };
        let ip = match want.ipv4_address.as_str() {
            "" => None,
            a => Some(
                a.parse::<Ipv4Addr>()
                    .with_context(|| format!("the recorded --ip {a:?} of {}", rec.name))?,
            ),
        };
        match plug(root, rec, pin, &want.network, ip, &want.aliases, publish) {
            Ok(e) => done.push(e),
            Err(e) => {
                for d in &done {
                    let _ = networks::disconnect(root, &d.network, &rec.name);
                }
                return Err(e);
            }
        }
    }
    rec.endpoints = done;
    Ok(())
}

/// The ports a start publishes: the `-p` bindings and, with `-P`, each
/// exposed port that has none, to a free host port (Docker's
/// `PublishAllPorts`).
pub fn ports_at_start(rec: &Container) -> Result<Vec<crate::net::ports::PortSpec>> {
    let mut out = start::published_specs(rec)?;
    if rec.host_config.publish_all_ports {
        for key in rec.config.exposed_ports.keys() {
            if !rec.host_config.port_bindings.contains_key(key) {
                out.extend(crate::net::ports::parse_port_spec(key)?);
            }
        }
    }
    Ok(out)
}

/// Does `l` belong to container `c`? (Its lease names it, or, for a lease
/// older than that, its namespace is `c`'s pin.)
fn belongs(root: &Root, l: &Lease, c: &Container) -> bool {
    match &l.container {
        Some(m) => m.id == c.id,
        None => l.netns == start::netns_pin(root, &c.id),
    }
}

/// Unplug container `c` from every network a lease says it is on: its
/// veths, addresses, published ports and its names in its peers' hosts
/// files. From the leases alone, so it works in whatever process, after
/// whatever crash; "already gone" is success, every network is tried.
pub fn release(root: &Root, c: &Container) -> Result<()> {
    let mut errors = Vec::new();
    for net in store::all(root)? {
        let mine: Vec<String> = store::leases(root, &net.name)?
            .into_iter()
            .filter(|l| belongs(root, l, c))
            .map(|l| l.endpoint)
            .collect();
        for endpoint in mine {
            match networks::disconnect(root, &net.name, &endpoint) {
                Ok(None) => {}
                Ok(Some(_)) => crate::events::record(
                    root,
                    crate::events::Event::network(&net, "disconnect", &c.id),
                ),
                Err(e) => errors.push(format!("disconnect from {}: {e:#}", net.name)),
            }
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// Forget what only a running container has: its addresses and host
/// ports (Docker's `releaseNetwork`); the networks it is on stay.
pub fn clear_runtime(c: &mut Container) {
    for e in &mut c.endpoints {
        *e = Endpoint {
            network: std::mem::take(&mut e.network),
            aliases: std::mem::take(&mut e.aliases),
            ipv4_address: std::mem::take(&mut e.ipv4_address),
            ..Endpoint::default()
        };
    }
}

/// The host ports published to `c` while it runs (`NetworkSettings.Ports`
/// and the PORTS column), by container port (`80/tcp`).
pub fn published(c: &Container) -> BTreeMap<String, Vec<PortBinding>> {
    let mut out: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for e in &c.endpoints {
        for (k, v) in &e.ports {
            out.entry(k.clone()).or_default().extend(v.iter().cloned());
        }
    }
    out
}

/// The container `network connect`/`disconnect` name, if `key` names
/// one: a container's exact name, else (unless an `ip netns` name, a PID
/// or a path: a namespace) a container id or unique id prefix; `None`
/// for a namespace.
pub fn container_target(root: &Root, key: &str) -> Result<Option<Container>> {
    if key.is_empty() || key.starts_with('/') || key.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    let all = state::all(root)?;
    if let Some(c) = all.iter().find(|c| c.name == key) {
        return Ok(Some(super::settle::settle(root, c)?));
    }
    if Path::new("/run/netns").join(key).exists() {
        return Ok(None);
    }
    let known: Vec<(String, String)> = all.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
    match super::id::resolve(key, &known) {
        Ok((id, _)) => match all.iter().find(|c| &c.id == id) {
            Some(c) => Ok(Some(super::settle::settle(root, c)?)),
            None => Ok(None),
        },
        // No container: a namespace (whose own checks say if it is none).
        Err(e) if e.to_string().starts_with("No such container") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The names peers on a user-defined network reach `c` by there
/// (Docker's `DNSNames`: its name, its aliases, its short id, its
/// hostname); none on the default bridge or while it is not running.
pub fn dns_names(c: &Container, e: &Endpoint) -> Option<Vec<String>> {
    if e.network == networks::DEFAULT_NETWORK || e.ip_address.is_empty() {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for n in std::iter::once(&c.name)
        .chain(&e.aliases)
        .chain([&c.id[..c.id.len().min(12)].to_string(), &c.config.hostname])
    {
        if !n.is_empty() && !out.contains(n) {
            out.push(n.clone());
        }
    }
    Some(out)
}

/// What `network connect NET CONTAINER` was asked.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub ip: Option<Ipv4Addr>,
    pub aliases: Vec<String>,
}

/// Docker's refusals for a container whose mode has no networks to add.
fn check_mode_takes_networks(c: &Container) -> Result<()> {
    match mode::parse_mode(&c.host_config.network_mode)? {
        Mode::Host | Mode::Container(_) => bail!(
            "container sharing network namespace with another container or host cannot be connected to any other network"
        ),
        Mode::None => bail!(
            "container cannot be connected to multiple networks with one of the networks in private (none) mode"
        ),
        Mode::Network(_) => Ok(()),
    }
}

/// Is `c`'s init running, its namespace pinned? Its pin if so.
fn running_pin(root: &Root, c: &Container) -> Option<PathBuf> {
    let pin = start::netns_pin(root, &c.id);
    (super::shim::runs(c.state.status)
        && state::init_alive(&c.state)
        && crate::host::mountinfo::is_mount_point(&pin).unwrap_or(false))
    .then_some(pin)
}

/// Change `c`'s record under its lock (read fresh: the shim may have
/// written since).
fn update(root: &Root, id: &str, f: impl FnOnce(&mut Container)) -> Result<()> {
    let _lock = state::lock(root, id)?;
    let mut rec = state::load(root, id)?.with_context(|| format!("No such container: {id}"))?;
    f(&mut rec);
    state::save(root, &rec)
}

/// `network connect NET CONTAINER`: a running container gets one more
/// interface (`eth1`, ...) on network `key`, with its names; a stopped one
/// is plugged in at its next start, as Docker does. Its endpoint.
pub fn connect(root: &Root, key: &str, c: &Container, opts: &ConnectOptions) -> Result<Endpoint> {
    check_mode_takes_networks(c)?;
    let net = networks::find(root, key)?;
    if c.endpoints.iter().any(|e| e.network == net.name) {
        bail!(
            "endpoint with name {} already exists in network {}",
            c.name,
            net.name
        );
    }
    if net.default_bridge && !opts.aliases.is_empty() {
        bail!("network-scoped alias is supported only for containers in user defined networks");
    }
    if let Some(ip) = opts.ip {
        if net.default_bridge {
            bail!("user specified IP address is supported on user defined networks only");
        }
        check_ip_in(&net, ip)?;
    }
    let Some(pin) = running_pin(root, c) else {
        // Plugged in at its next start, with the address asked for.
        let e = Endpoint {
            network: net.name.clone(),
            aliases: opts.aliases.clone(),
            ipv4_address: opts.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            ..Endpoint::default()
        };
        update(root, &c.id, |rec| rec.endpoints.push(e.clone()))?;
        return Ok(e);
    };
    let e = plug(root, c, &pin, &net.name, opts.ip, &opts.aliases, Vec::new())?;
    if let Err(err) = update(root, &c.id, |rec| rec.endpoints.push(e.clone())) {
        let _ = networks::disconnect(root, &net.name, &c.name);
        return Err(err);
    }
    Ok(e)
}

/// `network disconnect NET CONTAINER`: its interface on `key` goes (with
/// its address, names and the ports published to it), and the network
/// leaves its record.
pub fn disconnect(root: &Root, key: &str, c: &Container) -> Result<()> {
    let net = networks::find(root, key)?;
    let leased = store::leases(root, &net.name)?
        .iter()
        .any(|l| belongs(root, l, c));
    if !leased && !c.endpoints.iter().any(|e| e.network == net.name) {
        bail!(
            "container {} is not connected to network {}",
            c.id,
            net.name
        );
    }
    if leased {
        networks::disconnect(root, &net.name, &c.name)?;
        crate::events::record(
            root,
            crate::events::Event::network(&net, "disconnect", &c.id),
        );
    }
    update(root, &c.id, |rec| {
        rec.endpoints.retain(|e| e.network != net.name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(net: &str) -> Endpoint {
        Endpoint {
            network: net.into(),
            ip_address: "10.0.0.2".into(),
            mac_address: "aa".into(),
            aliases: vec!["x".into()],
            ..Endpoint::default()
        }
    }

    #[test]
    fn options_are_checked_as_docker_checks_them() {
        let req = |network: &str| Request {
            network: network.into(),
            ..Request::default()
        };
        let err = |r: Request| check_options(&r).unwrap_err().to_string();
        let mut r = req("bridge");
        r.hostname = Some("h".into());
        r.add_hosts = vec!["db:10.0.0.5".into()];
        r.dns = vec!["192.0.2.1".into()];
        check_options(&r).unwrap();
        check_options(&req("container:web")).unwrap();
        for (f, word) in [
            (
                (|r: &mut Request| r.hostname = Some("h".into())) as fn(&mut Request),
                "hostname",
            ),
            (
                |r: &mut Request| r.add_hosts = vec!["db:10.0.0.5".into()],
                "custom host-to-IP mapping",
            ),
            (|r: &mut Request| r.dns = vec!["192.0.2.1".into()], "dns"),
        ] {
            let mut r = req("container:web");
            f(&mut r);
            let e = err(r);
            assert!(
                e.starts_with(&format!("conflicting options: {word} and the network mode")),
                "{e}"
            );
        }
        let mut r = req("bridge");
        r.network_aliases = vec!["www".into()];
        assert!(err(r.clone()).contains("supported only for containers in user defined networks"));
        r.network = "mynet".into();
        check_options(&r).unwrap();
        assert_eq!(initial_endpoints(&r)[0].aliases, ["www"]);
        assert_eq!(initial_endpoints(&req("default"))[0].network, "bridge");
        assert!(initial_endpoints(&req("host")).is_empty());
        let mut r = req("bridge");
        r.ip = Some("172.17.0.9".parse().unwrap());
        assert_eq!(
            err(r.clone()),
            "user specified IP address is supported on user defined networks only"
        );
        r.network = "host".into();
        assert!(check_options(&r).is_err());
        r.network = "mynet".into();
        check_options(&r).unwrap();
        assert_eq!(initial_endpoints(&r)[0].ipv4_address, "172.17.0.9");
        let mut r = req("bridge");
        r.dns = vec!["nope".into()];
        assert_eq!(
            err(r),
            "invalid argument \"nope\" for \"--dns\" flag: nope is not an ip address"
        );
    }

    fn sample() -> Container {
        Container {
            id: "ab".repeat(32),
            name: "web".into(),
            path: "sh".into(),
            state: Default::default(),
            image: String::new(),
            ..Container::default()
        }
    }

    #[test]
    fn a_stop_keeps_the_networks_and_forgets_the_addresses() {
        let mut e = ep("n1");
        e.ports.insert(
            "80/tcp".into(),
            vec![PortBinding {
                host_ip: "0.0.0.0".into(),
                host_port: "1314".into(),
            }],
        );
        let mut c = sample();
        c.endpoints = vec![e];
        assert_eq!(published(&c)["80/tcp"][0].host_port, "1314");
        clear_runtime(&mut c);
        assert_eq!(
            c.endpoints,
            vec![Endpoint {
                network: "n1".into(),
                aliases: vec!["x".into()],
                ..Endpoint::default()
            }]
        );
        assert!(published(&c).is_empty());
    }

    #[test]
    fn publish_all_adds_each_exposed_port_without_a_binding() {
        let mut c = sample();
        for p in ["80/tcp", "81/tcp", "53/udp"] {
            c.config
                .exposed_ports
                .insert(p.into(), serde_json::json!({}));
        }
        c.host_config.port_bindings.insert(
            "80/tcp".into(),
            vec![PortBinding {
                host_ip: String::new(),
                host_port: "1314".into(),
            }],
        );
        let ports = |c: &Container| -> Vec<String> {
            ports_at_start(c)
                .unwrap()
                .iter()
                .map(|p| format!("{:?}->{}/{}", p.host_port, p.port, p.proto))
                .collect()
        };
        assert_eq!(ports(&c), ["Fixed(1314)->80/tcp"]);
        c.host_config.publish_all_ports = true;
        assert_eq!(
            ports(&c),
            ["Fixed(1314)->80/tcp", "Any->53/udp", "Any->81/tcp"]
        );
        let net = Network {
            name: "n".into(),
            id: String::new(),
            driver: "bridge".into(),
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: "10.1.0.1".parse().unwrap(),
            bridge: "b".into(),
            created: String::new(),
            manual: false,
            default_bridge: false,
            busy: None,
            netns: None,
        };
        check_ip_in(&net, "10.1.0.9".parse().unwrap()).unwrap();
        for bad in ["10.2.0.9", "10.1.0.0", "10.1.0.255"] {
            let e = check_ip_in(&net, bad.parse().unwrap())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("no configured subnet or ip-range contain the IP address"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_start_joins_the_modes_network_first() {
        let mut c = sample();
        let names = |c: &Container, m: &str| -> Vec<String> {
            networks_at_start(c, m)
                .into_iter()
                .map(|e| e.network)
                .collect()
        };
        assert_eq!(names(&c, "bridge"), ["bridge"]);
        assert_eq!(names(&c, "default"), ["bridge"]);
        c.endpoints = vec![ep("n2"), ep("n1")];
        assert_eq!(names(&c, "n1"), ["n1", "n2"]);
        // Disconnected from its mode's network: it stays off it.
        assert_eq!(names(&c, "bridge"), ["n2", "n1"]);
    }
}
