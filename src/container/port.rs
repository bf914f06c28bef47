//! `port CONTAINER [PRIVATE_PORT[/PROTO]]`: the host ports published to a
//! running container, as the Docker CLI prints them from
//! `NetworkSettings.Ports` (`80/tcp -> 0.0.0.0:32768`; with a port asked
//! for, its host addresses alone), sorted in natural order. What is
//! published is the DNAT rules of the firewall table (see
//! [`crate::net::nat`]); this reads the container's record of them. Pure.

use std::cmp::Ordering;

use anyhow::{Result, bail};

use super::state::{Container, Status};

/// The lines `port` prints for `c` (called `key` by the user), all its
/// published ports or those of `private` (`80`, `80/tcp`); Docker's
/// errors for a port that is no number or that is not published.
pub fn lines(c: &Container, key: &str, private: Option<&str>) -> Result<Vec<String>> {
    let published = if matches!(c.state.status, Status::Running | Status::Paused) {
        super::network::published(c)
    } else {
        Default::default()
    };
    let host = |b: &super::state::PortBinding| {
        let ip = if b.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &b.host_ip
        };
        // Go's net.JoinHostPort: an IPv6 address in brackets.
        if ip.contains(':') {
            format!("[{ip}]:{}", b.host_port)
        } else {
            format!("{ip}:{}", b.host_port)
        }
    };
    let mut out: Vec<String> = match private {
        Some(asked) => {
            let (port, proto) = asked.split_once('/').unwrap_or((asked, "tcp"));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            if port.parse::<u16>().is_err() {
                bail!(
                    "Error: invalid port ({port}): strconv.ParseUint: parsing {port:?}: {}",
                    if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
                        "value out of range"
                    } else {
                        "invalid syntax"
                    }
                );
            }
            match published.get(&format!("{port}/{proto}")) {
                Some(b) if !b.is_empty() => b.iter().map(host).collect(),
                _ => bail!("Error: No public port '{asked}' published for {key}"),
            }
        }
        None => published
            .iter()
            .flat_map(|(k, bs)| bs.iter().map(move |b| format!("{k} -> {}", host(b))))
            .collect(),
    };
    out.sort_by(|a, b| natural(a, b));
    Ok(out)
}

/// Natural order (`fvbommel/sortorder.NaturalLess`): runs of digits
/// compare as numbers, the rest byte by byte.
pub fn natural(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&a[si..i]);
            let nb = trim_zeros(&b[sj..j]);
            let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            // Equal values: fewer leading zeros first.
            let o = by_value.then_with(|| (i - si).cmp(&(j - sj)));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|b| **b == b'0').count();
    &d[n..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::{Endpoint, PortBinding};

    fn running() -> Container {
        let bind = |ip: &str, p: &str| PortBinding {
            host_ip: ip.into(),
            host_port: p.into(),
        };
        let mut c = crate::container::list::tests_sample("web");
        let mut ports = std::collections::BTreeMap::new();
        ports.insert(
            "80/tcp".to_string(),
            vec![bind("0.0.0.0", "32768"), bind("127.0.0.1", "8080")],
        );
        ports.insert("9/tcp".to_string(), vec![bind("0.0.0.0", "9000")]);
        ports.insert("53/udp".to_string(), vec![bind("0.0.0.0", "5353")]);
        c.endpoints = vec![Endpoint {
            network: "bridge".into(),
            ports,
            ..Endpoint::default()
        }];
        c
    }

    #[test]
    fn every_port_or_one_as_the_docker_cli_prints_them() {
        let c = running();
        assert_eq!(
            lines(&c, "web", None).unwrap(),
            [
                "9/tcp -> 0.0.0.0:9000",
                "53/udp -> 0.0.0.0:5353",
                "80/tcp -> 0.0.0.0:32768",
                "80/tcp -> 127.0.0.1:8080",
            ]
        );
        assert_eq!(
            lines(&c, "web", Some("80")).unwrap(),
            ["0.0.0.0:32768", "127.0.0.1:8080"]
        );
        assert_eq!(lines(&c, "web", Some("53/udp")).unwrap(), ["0.0.0.0:5353"]);
        let err = |p: &str| lines(&c, "web", Some(p)).unwrap_err().to_string();
        assert_eq!(err("53"), "Error: No public port '53' published for web");
        assert_eq!(
            err("http"),
            "Error: invalid port (http): strconv.ParseUint: parsing \"http\": invalid syntax"
        );
        assert!(err("70000").ends_with("value out of range"));
        // A stopped container has none.
        let mut stopped = c.clone();
        stopped.state.status = Status::Exited;
        assert!(lines(&stopped, "web", None).unwrap().is_empty());
        assert!(lines(&stopped, "web", Some("80")).is_err());
    }

    #[test]
    fn natural_order_reads_numbers_as_numbers() {
        let mut v = vec!["80/tcp", "9/tcp", "443/tcp", "8080/tcp", "a", "08/tcp"];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(v, ["08/tcp", "9/tcp", "80/tcp", "443/tcp", "8080/tcp", "a"]);
    }
}
