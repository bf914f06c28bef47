//! `ps` the way the Docker CLI prints it: `Up 3 seconds`, `Exited (137) 2
//! minutes ago`, a quoted command cut at 20 characters, ports as
//! `0.0.0.0:1314->80/tcp`, times as `2 minutes ago`. Pure: the same record
//! and clock always print the same.

use crate::clock::parse_rfc3339;
use crate::image::human::duration;

use super::state::{Container, Status, ZERO_TIME};

/// Seconds since `rfc3339` (0 when it cannot be read).
fn since(rfc3339: &str, now: u64) -> u64 {
    parse_rfc3339(rfc3339).map_or(0, |t| now.saturating_sub(t.max(0) as u64))
}

/// The STATUS column (Docker's `State.String()`).
pub fn status(c: &Container, now: u64) -> String {
    let s = &c.state;
    match s.status {
        Status::Running => format!("Up {}", duration(since(&s.started_at, now))),
        Status::Paused => format!("Up {} (Paused)", duration(since(&s.started_at, now))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            duration(since(&s.finished_at, now))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Created => "Created".into(),
        Status::Exited if s.finished_at.is_empty() || s.finished_at == ZERO_TIME => String::new(),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            duration(since(&s.finished_at, now))
        ),
    }
}

/// The CREATED column.
pub fn created(c: &Container, now: u64) -> String {
    format!("{} ago", duration(since(&c.created, now)))
}

/// The command as one line: the program and its arguments.
pub fn command_line(c: &Container) -> String {
    std::iter::once(c.path.as_str())
        .chain(c.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Docker's `Ellipsis`: at most `width` characters, the last one `…`.
pub fn ellipsis(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Go's `strconv.Quote` for the printable text a command usually is.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The COMMAND column: quoted, and cut at 20 characters unless
/// `--no-trunc`.
pub fn command(c: &Container, no_trunc: bool) -> String {
    let line = command_line(c);
    go_quote(&if no_trunc { line } else { ellipsis(&line, 20) })
}

/// One published or exposed port, for grouping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct PortEntry {
    host_ip: String,
    proto: String,
    port: u16,
    host_port: Option<u16>,
}

/// The PORTS column: `0.0.0.0:1314->80/tcp, 443/tcp`, consecutive ports
/// grouped into ranges as Docker groups them (`0.0.0.0:8000-8001->80-81/tcp`).
/// Only a running container has ports, as in Docker: the host ports
/// really published to it.
pub fn ports(c: &Container) -> String {
    if !matches!(c.state.status, Status::Running | Status::Paused) {
        return String::new();
    }
    ports_of(&super::network::published(c), &c.config.exposed_ports)
}

fn ports_of(
    published: &std::collections::BTreeMap<String, Vec<super::state::PortBinding>>,
    exposed: &std::collections::BTreeMap<String, serde_json::Value>,
) -> String {
    let mut entries = Vec::new();
    let parse = |key: &str| -> Option<(u16, String)> {
        let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        Some((p.parse().ok()?, proto.to_string()))
    };
    for (key, bindings) in published {
        let Some((port, proto)) = parse(key) else {
            continue;
        };
        for b in bindings {
            entries.push(PortEntry {
                host_ip: if b.host_ip.is_empty() {
                    "0.0.0.0".into()
                } else {
                    b.host_ip.clone()
                },
                proto: proto.clone(),
                port,
                host_port: b.host_port.parse().ok(),
            });
        }
    }
    for key in exposed.keys() {
        if published.contains_key(key) {
            continue;
        }
        if let Some((port, proto)) = parse(key) {
            entries.push(PortEntry {
                host_ip: String::new(),
                proto,
                port,
                host_port: None,
            });
        }
    }
    entries.sort_by(|a, b| {
        (&a.host_ip, &a.proto, a.host_port, a.port).cmp(&(
            &b.host_ip,
            &b.proto,
            b.host_port,
            b.port,
        ))
    });
    // Group runs where both the port and the host port go up by one.
    let mut groups: Vec<(PortEntry, u16, Option<u16>)> = Vec::new();
    for e in entries {
        if let Some((first, last, last_host)) = groups.last_mut()
            && first.host_ip == e.host_ip
            && first.proto == e.proto
            && e.port == last.wrapping_add(1)
            && match (*last_host, e.host_port) {
                (Some(h), Some(n)) => n == h.wrapping_add(1),
                (None, None) => true,
                _ => false,
            }
        {
            *last = e.port;
            *last_host = e.host_port;
            continue;
        }
        let (p, h) = (e.port, e.host_port);
        groups.push((e, p, h));
    }
    let range = |a: u16, b: u16| {
        if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        }
    };
    groups
        .iter()
        .map(
            |(first, last, last_host)| match (first.host_port, last_host) {
                (Some(h0), Some(h1)) => format!(
                    "{}:{}->{}/{}",
                    first.host_ip,
                    range(h0, *h1),
                    range(first.port, *last),
                    first.proto
                ),
                _ => format!("{}/{}", range(first.port, *last), first.proto),
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// Go's `%.{prec}g` (`strconv.FormatFloat(v, 'g', prec, 64)`): `prec`
/// significant digits, trailing zeros dropped, and the exponent form
/// when the exponent is below -4 or at least `prec` (`1e+03`).
pub fn go_g(v: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if v == 0.0 {
        return "0".into();
    }
    let neg = v < 0.0;
    // Rust rounds the exact value half to even, as Go's decimal does.
    let e = format!("{:.*e}", prec - 1, v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let mut eprec = prec as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let mut out = String::from(if neg { "-" } else { "" });
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    } else if dp <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-dp) as usize));
        out.push_str(digits);
    } else if dp >= nd {
        out.push_str(digits);
        out.push_str(&"0".repeat((dp - nd) as usize));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// go-units' `CustomSize`: divide by `base` while it fits, then `%.{prec}g`
/// and the unit.
fn custom_size(bytes: f64, prec: usize, base: f64, units: &[&str]) -> String {
    let mut size = bytes;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", go_g(size, prec), units[i])
}

/// go-units' `HumanSizeWithPrecision`: decimal units (`1.5kB`, `0B`), as
/// `stats` prints NET I/O and BLOCK I/O (precision 3) and `prune` its
/// reclaimed space (`HumanSize`, precision 4).
pub fn human_size(bytes: u64, prec: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    custom_size(bytes as f64, prec, 1000.0, &UNITS)
}

/// go-units' `BytesSize`: binary units, four digits (`344KiB`,
/// `23.54GiB`), as `stats` prints memory.
pub fn bytes_size(bytes: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    custom_size(bytes, 4, 1024.0, &UNITS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::PortBinding;

    fn sample() -> Container {
        Container {
            id: "ab".repeat(32),
            name: "web".into(),
            created: "2024-01-01T00:00:00Z".into(),
            path: "httpd".into(),
            args: vec![
                "-f".into(),
                "-p".into(),
                "80".into(),
                "-h".into(),
                "/www".into(),
            ],
            image: "sha256:1".into(),
            ..Container::default()
        }
    }

    const T0: u64 = 1_704_067_200; // 2024-01-01T00:00:00Z

    #[test]
    fn statuses_read_as_dockers() {
        let mut c = sample();
        assert_eq!(status(&c, T0), "Created");
        c.state.status = Status::Running;
        c.state.started_at = "2024-01-01T00:00:00Z".into();
        assert_eq!(status(&c, T0 + 3), "Up 3 seconds");
        c.state.status = Status::Paused;
        assert_eq!(status(&c, T0 + 120), "Up 2 minutes (Paused)");
        c.state.status = Status::Exited;
        c.state.exit_code = 137;
        c.state.finished_at = "2024-01-01T00:00:00.5Z".into();
        assert_eq!(status(&c, T0 + 120), "Exited (137) 2 minutes ago");
        assert_eq!(created(&c, T0 + 3600), "About an hour ago");
    }

    #[test]
    fn sizes_read_as_go_units_prints_them() {
        assert_eq!(go_g(1.5, 4), "1.5");
        assert_eq!(go_g(1000.0, 3), "1e+03");
        assert_eq!(go_g(999.7, 3), "1e+03");
        assert_eq!(go_g(100.0, 3), "100");
        assert_eq!(go_g(0.000012345, 3), "1.23e-05");
        assert_eq!(go_g(0.0123, 3), "0.0123");
        assert_eq!(go_g(23.5361, 4), "23.54");
        assert_eq!(human_size(0, 3), "0B");
        assert_eq!(human_size(1536, 3), "1.54kB");
        assert_eq!(human_size(212, 4), "212B");
        assert_eq!(human_size(4_260_000, 4), "4.26MB");
        assert_eq!(bytes_size(352256.0), "344KiB");
        assert_eq!(bytes_size(25_271_000_000.0), "23.54GiB");
        assert_eq!(bytes_size(0.0), "0B");
    }

    #[test]
    fn commands_are_quoted_and_cut_at_20() {
        let c = sample();
        assert_eq!(command(&c, false), "\"httpd -f -p 80 -h /…\"");
        assert_eq!(command(&c, true), "\"httpd -f -p 80 -h /www\"");
        assert_eq!(ellipsis("short", 20), "short");
    }

    #[test]
    fn ports_are_grouped_as_docker_groups_them() {
        let mut c = sample();
        let bind = |ip: &str, p: &str| {
            vec![PortBinding {
                host_ip: ip.into(),
                host_port: p.into(),
            }]
        };
        let mut published = std::collections::BTreeMap::new();
        published.insert("80/tcp".to_string(), bind("0.0.0.0", "8000"));
        published.insert("81/tcp".to_string(), bind("0.0.0.0", "8001"));
        published.insert("53/udp".to_string(), bind("127.0.0.1", "5353"));
        c.endpoints = vec![crate::container::state::Endpoint {
            network: "bridge".into(),
            ports: published,
            ..Default::default()
        }];
        c.config
            .exposed_ports
            .insert("443/tcp".into(), serde_json::json!({}));
        c.config
            .exposed_ports
            .insert("80/tcp".into(), serde_json::json!({}));
        // Only a running container has ports.
        assert_eq!(ports(&c), "");
        c.state.status = Status::Running;
        assert_eq!(
            ports(&c),
            "443/tcp, 0.0.0.0:8000-8001->80-81/tcp, 127.0.0.1:5353->53/udp"
        );
    }
}
