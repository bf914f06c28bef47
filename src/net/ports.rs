//! Published ports: the `-p` and `net publish` specs, and who already
//! holds a host port.
//!
//! Publishing `1314:80` means: a connection to the host's port 1314 is
//! rewritten (DNAT) to the container's address, port 80. The specs are
//! Docker's: `[IP:]HOSTPORT:PORT[/tcp|udp]`, `IP::PORT` and `PORT` (a free
//! host port is chosen). Read `nft(8)` (nat statements) and `proc(5)`
//! (`/proc/net/tcp`).

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

/// A `-p` spec before the container's address is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<Ipv4Addr>,
    /// `None`: choose a free port.
    pub host_port: Option<u16>,
    pub port: u16,
    pub proto: Proto,
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
        Some((rest, "tcp")) => Ok((rest, Proto::Tcp)),
        Some((rest, "udp")) => Ok((rest, Proto::Udp)),
        Some((_, p)) => bail!("invalid protocol {p:?} in port spec {s:?}: use tcp or udp"),
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

/// Docker's `-p`: `PORT`, `HOSTPORT:PORT`, `IP:HOSTPORT:PORT`, `IP::PORT`,
/// each with an optional `/tcp` or `/udp`.
pub fn parse_port_spec(spec: &str) -> Result<PortSpec> {
    let (body, proto) = split_proto(spec)?;
    let parts: Vec<&str> = body.split(':').collect();
    let (host_ip, host_port, port) = match parts.as_slice() {
        [port] => (None, None, *port),
        [hp, port] => (None, Some(*hp), *port),
        [ip, hp, port] => (Some(*ip), Some(*hp), *port),
        _ => bail!("invalid port spec {spec:?}: use [IP:]HOSTPORT:PORT[/tcp|udp] or PORT"),
    };
    let host_ip = host_ip.map(|ip| parse_host_ip(ip, spec)).transpose()?;
    let host_port = match host_port {
        None | Some("") => None,
        Some(p) => Some(parse_port(p, spec)?),
    };
    Ok(PortSpec {
        host_ip,
        host_port,
        port: parse_port(port, spec)?,
        proto,
    })
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

/// A free host port from the ephemeral range, as Docker picks for `-p PORT`.
pub fn free_port(proto: Proto, taken: &[u16]) -> Result<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_else(|_| "32768 60999".into());
    let mut it = range
        .split_whitespace()
        .filter_map(|s| s.parse::<u16>().ok());
    let (lo, hi) = (it.next().unwrap_or(32768), it.next().unwrap_or(60999));
    // Start at a point that depends on the pid, so parallel commands rarely race.
    let span = u32::from(hi - lo) + 1;
    let start = std::process::id() % span;
    for i in 0..span {
        let p = lo + ((start + i) % span) as u16;
        if !taken.contains(&p) && port_holder(p, proto).is_none() {
            return Ok(p);
        }
    }
    bail!("no free host port in {lo}-{hi}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_p_forms() {
        let s = parse_port_spec("8080").unwrap();
        assert_eq!((s.host_port, s.port, s.proto), (None, 8080, Proto::Tcp));
        let s = parse_port_spec("1314:80").unwrap();
        assert_eq!((s.host_port, s.port), (Some(1314), 80));
        let s = parse_port_spec("127.0.0.1:1314:80/udp").unwrap();
        assert_eq!(s.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(s.proto, Proto::Udp);
        let s = parse_port_spec("127.0.0.1::80").unwrap();
        assert_eq!(s.host_port, None);
    }

    #[test]
    fn bad_ports_are_refused() {
        for bad in [
            "0", "65536", "http", "1:2:3:4", "80/sctp", "x:80:80", "-1:80", "",
        ] {
            assert!(parse_port_spec(bad).is_err(), "{bad}");
        }
        let e = parse_port_spec("99999:80").unwrap_err().to_string();
        assert!(e.contains("1 to 65535"), "{e}");
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
