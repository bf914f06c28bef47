//! Published ports: the `-p` and `net publish` specs, who already holds a
//! host port, and which free one to take.
//!
//! Publishing `1314:80` means: a connection to the host's port 1314 is
//! rewritten (DNAT) to the container's address, port 80. The `-p` specs
//! are Docker's: `[IP:][HOSTPORT:]PORT[/tcp|udp]`, `IP::PORT`, ranges
//! `8000-8001:80-81`; a spec gives one [`PortSpec`] per container port,
//! relative to a container whose address is known later. A missing host
//! port is chosen as Docker does: the first one of the kernel's ephemeral
//! range (`ip_local_port_range`) that nothing listens on and this root has
//! not published. Read `nft(8)` (nat statements), `proc(5)`
//! (`/proc/net/tcp`) and `ip-sysctl` (`ip_local_port_range`).

use std::fmt;
use std::net::Ipv4Addr;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host side of a `-p` mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPort {
    /// `-p 80`, `-p IP::80`: a free port of the ephemeral range.
    Any,
    /// `-p 1314:80`.
    Fixed(u16),
    /// `-p 8000-8010:80`: a free port of this range.
    Within(u16, u16),
}

/// One `-p` mapping, relative to a container whose address is known
/// later: [`PortSpec::to`] makes it a [`Publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: HostPort,
    /// The container's port.
    pub port: u16,
    pub proto: Proto,
}

impl PortSpec {
    /// The published port, once the container's address and the host
    /// port are known.
    pub fn to(&self, container_ip: Ipv4Addr, host_port: u16) -> Publish {
        Publish {
            host_ip: self.host_ip,
            host_port,
            container_ip,
            port: self.port,
            proto: self.proto,
        }
    }
}

/// A published port: host side and container side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub port: u16,
    pub proto: Proto,
}

impl fmt::Display for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(
            f,
            "{}:{}:{}/{}",
            self.host_port, self.container_ip, self.port, self.proto
        )
    }
}

fn split_proto(s: &str) -> Result<(&str, Proto)> {
    match s.rsplit_once('/') {
        None => Ok((s, Proto::Tcp)),
        Some((rest, p)) => match p.to_ascii_lowercase().as_str() {
            "" | "tcp" => Ok((rest, Proto::Tcp)),
            "udp" => Ok((rest, Proto::Udp)),
            _ => bail!("invalid proto: {p} (in {s:?}: glassbox publishes tcp and udp)"),
        },
    }
}

/// A port number 1-65535.
pub fn parse_port(s: &str, spec: &str) -> Result<u16> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => bail!("invalid port {s:?} in {spec:?}: a port is a number from 1 to 65535"),
    }
}

fn parse_host_ip(s: &str, spec: &str) -> Result<Ipv4Addr> {
    s.parse()
        .with_context(|| format!("invalid host address {s:?} in {spec:?}"))
}

/// `PORT` or `START-END`, each 1-65535, END not below START.
fn parse_range(s: &str) -> Option<(u16, u16)> {
    let one = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    match s.split_once('-') {
        None => one(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            (a <= b).then_some((a, b))
        }
    }
}

const PORTS: &str = "a port is a number from 1 to 65535, a range START-END";

/// Docker's `-p`: `[IP:][HOSTPORT:]PORT[/tcp|udp]`, where either port may
/// be a range `START-END` (of the same length, or a host range for one
/// container port, to choose from) and `IP::PORT` leaves the host port to
/// be chosen. One mapping per container port; the errors are Docker's.
pub fn parse_port_spec(spec: &str) -> Result<Vec<PortSpec>> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        [ip @ .., _, _] => {
            bail!(
                "invalid IP address: {} (in {spec:?}: glassbox publishes on IPv4 addresses only)",
                ip.join(":")
            )
        }
        [] => bail!("no port specified: {spec}<empty>"),
    };
    let (container, proto) = split_proto(container)?;
    if container.is_empty() {
        bail!("no port specified: {spec}<empty>");
    }
    let host_ip = match ip {
        "" => None,
        ip => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
            anyhow::anyhow!(
                "invalid IP address: {ip} (in {spec:?}: give an IPv4 address of this host, or none)"
            )
        })?),
    };
    let Some((c0, c1)) = parse_range(container) else {
        bail!("invalid containerPort: {container} ({PORTS})");
    };
    let host_text = host;
    let host = match host {
        "" => None,
        h => match parse_range(h) {
            Some(r) => Some(r),
            None => bail!("invalid hostPort: {h} ({PORTS})"),
        },
    };
    let count = c1 - c0;
    let mut out = Vec::new();
    for i in 0..=count {
        let host_port = match host {
            None => HostPort::Any,
            Some((h0, h1)) if h1 - h0 == count => HostPort::Fixed(h0 + i),
            // One container port and a host range: a free port of it.
            Some((h0, h1)) if count == 0 => HostPort::Within(h0, h1),
            Some(_) => bail!(
                "invalid ranges specified for container and host Ports: {container} and {host_text} (the two ranges must have the same length)"
            ),
        };
        out.push(PortSpec {
            host_ip,
            host_port,
            port: c0 + i,
            proto,
        });
    }
    Ok(out)
}

/// `net publish`: `[IP:]HOSTPORT:CONTAINER_IP:PORT[/tcp|udp]`.
pub fn parse_publish(spec: &str) -> Result<Publish> {
    let (body, proto) = split_proto(spec)?;
    let parts: Vec<&str> = body.split(':').collect();
    let (host_ip, hp, cip, port) = match parts.as_slice() {
        [hp, cip, port] => (None, *hp, *cip, *port),
        [ip, hp, cip, port] => (Some(*ip), *hp, *cip, *port),
        _ => bail!(
            "invalid publish spec {spec:?}: use [IP:]HOSTPORT:CONTAINER_IP:PORT[/udp], e.g. 1314:172.17.0.2:80"
        ),
    };
    Ok(Publish {
        host_ip: host_ip.map(|ip| parse_host_ip(ip, spec)).transpose()?,
        host_port: parse_port(hp, spec)?,
        container_ip: cip
            .parse()
            .with_context(|| format!("invalid container address {cip:?} in {spec:?}"))?,
        port: parse_port(port, spec)?,
        proto,
    })
}

/// The socket inodes listening on `port` in a `/proc/net/{tcp,udp}` table.
pub fn listeners(table: &str, port: u16, proto: Proto) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local = f.get(1)?;
            let state = f.get(3)?;
            let inode: u64 = f.get(9)?.parse().ok()?;
            let (_, p) = local.rsplit_once(':')?;
            let p = u16::from_str_radix(p, 16).ok()?;
            // TCP: 0A is LISTEN. UDP: 07 is an unconnected bound socket.
            let bound = match proto {
                Proto::Tcp => *state == "0A",
                Proto::Udp => *state == "07",
            };
            (p == port && bound).then_some(inode)
        })
        .collect()
}

/// Who holds `port` in this network namespace: `Some("pid 42 (nc)")`,
/// `Some("a socket of another namespace's process")`, or `None` if free.
pub fn port_holder(port: u16, proto: Proto) -> Option<String> {
    let mut inodes = Vec::new();
    for v in ["", "6"] {
        if let Ok(t) = std::fs::read_to_string(format!("/proc/net/{}{v}", proto.as_str())) {
            inodes.extend(listeners(&t, port, proto));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if let Ok(target) = std::fs::read_link(fd.path())
                    && wanted.iter().any(|w| target.as_os_str() == w.as_str())
                {
                    let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
                    return Some(format!("pid {pid} ({})", comm.trim()));
                }
            }
        }
    }
    Some("a socket no visible process holds".into())
}

/// Docker's range when the kernel's cannot be read.
const DEFAULT_RANGE: (u16, u16) = (49153, 65535);

/// The kernel's ephemeral port range (`ip_local_port_range`), where Docker
/// takes the host ports it chooses.
pub fn ephemeral_range() -> (u16, u16) {
    let path = std::path::Path::new("/proc/sys/net/ipv4/ip_local_port_range");
    let Ok(text) = crate::host::read_file(crate::trace::Mechanism::Net, path) else {
        return DEFAULT_RANGE;
    };
    let mut it = text
        .split_whitespace()
        .filter_map(|s| s.parse::<u16>().ok());
    match (it.next(), it.next()) {
        (Some(lo), Some(hi)) if lo > 0 && lo <= hi => (lo, hi),
        _ => DEFAULT_RANGE,
    }
}

/// Does `p` take the host port `port` of `proto` on `host_ip` (either
/// address unset means every address)?
pub fn takes(p: &Publish, host_ip: Option<Ipv4Addr>, port: u16, proto: Proto) -> bool {
    p.proto == proto
        && p.host_port == port
        && (p.host_ip.is_none() || host_ip.is_none() || p.host_ip == host_ip)
}

/// The host port for `spec`: its own, or the first of its range (the
/// ephemeral `range` for [`HostPort::Any`]) that no process listens on and
/// none of `published` takes.
pub fn choose_host_port(spec: &PortSpec, published: &[Publish], range: (u16, u16)) -> Result<u16> {
    let (lo, hi) = match spec.host_port {
        HostPort::Fixed(p) => return Ok(p),
        HostPort::Within(lo, hi) => (lo, hi),
        HostPort::Any => range,
    };
    for p in lo..=hi {
        let taken = published
            .iter()
            .any(|o| takes(o, spec.host_ip, p, spec.proto));
        if !taken && port_holder(p, spec.proto).is_none() {
            return Ok(p);
        }
    }
    bail!(
        "no free host port for {}/{} in {lo}-{hi}: every one is listened on or published; free one or give the host port",
        spec.port,
        spec.proto
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortSpec {
        let v = parse_port_spec(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}: {v:?}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn docker_p_forms() {
        let s = one("80");
        assert_eq!(
            (s.host_ip, s.host_port, s.port, s.proto),
            (None, HostPort::Any, 80, Proto::Tcp)
        );
        let s = one("1314:80");
        assert_eq!((s.host_port, s.port), (HostPort::Fixed(1314), 80));
        let s = one("127.0.0.1:8080:80");
        assert_eq!(s.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(s.host_port, HostPort::Fixed(8080));
        let s = one("127.0.0.1::80");
        assert_eq!(
            (s.host_ip, s.host_port),
            (Some(Ipv4Addr::LOCALHOST), HostPort::Any)
        );
        let s = one("127.0.0.1:1314:80/udp");
        assert_eq!(s.proto, Proto::Udp);
        assert_eq!(one("53/UDP").proto, Proto::Udp);
        assert_eq!(one("80/tcp").proto, Proto::Tcp);
        // Ranges of the same length map port to port.
        let v = parse_port_spec("8000-8001:80-81").unwrap();
        let got: Vec<_> = v.iter().map(|s| (s.host_port, s.port)).collect();
        assert_eq!(
            got,
            vec![(HostPort::Fixed(8000), 80), (HostPort::Fixed(8001), 81)]
        );
        // A container range alone: each gets a free port.
        let v = parse_port_spec("80-82/udp").unwrap();
        assert_eq!(v.len(), 3);
        assert!(
            v.iter()
                .all(|s| s.host_port == HostPort::Any && s.proto == Proto::Udp)
        );
        // A host range for one container port: a free one of the range.
        assert_eq!(one("8000-8010:80").host_port, HostPort::Within(8000, 8010));
        // Relative to a container whose address is known later.
        let p = one("127.0.0.1::80").to(Ipv4Addr::new(172, 18, 0, 2), 32768);
        assert_eq!(p.to_string(), "127.0.0.1:32768:172.18.0.2:80/tcp");
    }

    #[test]
    fn bad_ports_are_refused_in_dockers_words() {
        let err = |spec: &str| format!("{:#}", parse_port_spec(spec).unwrap_err());
        for (spec, words) in [
            ("", "no port specified: <empty>"),
            ("8080:", "no port specified: 8080:<empty>"),
            ("0", "invalid containerPort: 0"),
            ("65536", "invalid containerPort: 65536"),
            ("http", "invalid containerPort: http"),
            ("99999:80", "invalid hostPort: 99999"),
            ("-1:80", "invalid hostPort: -1"),
            ("x:80:80", "invalid IP address: x"),
            ("1:2:3:4", "invalid IP address: 1:2"),
            ("80/sctp", "invalid proto: sctp"),
            (
                "8000-8001:80-82",
                "invalid ranges specified for container and host Ports: 80-82 and 8000-8001",
            ),
            ("81-80", "invalid containerPort: 81-80"),
        ] {
            let e = err(spec);
            assert!(e.contains(words), "{spec:?}: {e}");
        }
        assert!(err("99999:80").contains("1 to 65535"));
    }

    #[test]
    fn a_chosen_port_skips_what_is_published_and_stays_in_its_range() {
        let spec = one("80");
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        // Ports of the range nothing here listens on: high in the space.
        let range = (64990, 64995);
        let first = choose_host_port(&spec, &[], range).unwrap();
        assert!((64990..=64995).contains(&first));
        let published = vec![one("64990:80").to(ip, 64990), one("64991:80").to(ip, 64991)];
        let p = choose_host_port(&spec, &published, range).unwrap();
        assert!((64992..=64995).contains(&p), "{p}");
        // udp is another space; another host address is another port.
        let udp = one("80/udp");
        assert!(choose_host_port(&udp, &published, (64990, 64990)).is_ok());
        let full = (64990, 64991);
        let e = choose_host_port(&spec, &published, full)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no free host port for 80/tcp in 64990-64991"),
            "{e}"
        );
        assert_eq!(
            choose_host_port(&one("1314:80"), &published, full).unwrap(),
            1314
        );
        assert_eq!(
            choose_host_port(&one("64990-64992:80"), &published, range).unwrap(),
            64992
        );
    }

    #[test]
    fn publish_forms() {
        let p = parse_publish("1314:172.17.0.2:80").unwrap();
        assert_eq!(p.to_string(), "1314:172.17.0.2:80/tcp");
        let p = parse_publish("10.0.0.1:53:172.17.0.2:53/udp").unwrap();
        assert_eq!(p.to_string(), "10.0.0.1:53:172.17.0.2:53/udp");
        assert!(parse_publish("1314:80").is_err());
        assert!(parse_publish("1314:172.17.0.300:80").is_err());
    }

    #[test]
    fn listeners_read_proc_net() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0522 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n   1: 0100007F:0050 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0\n";
        assert_eq!(listeners(table, 1314, Proto::Tcp), vec![4242]);
        assert!(listeners(table, 80, Proto::Tcp).is_empty());
    }
}
