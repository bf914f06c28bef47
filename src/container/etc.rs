//! The three files Docker writes for every container and bind-mounts over
//! the image's: `/etc/hostname`, `/etc/hosts` (loopback, the container's
//! own address and name, `--add-host` entries) and `/etc/resolv.conf` (the
//! host's, where a resolver on the host's loopback, such as
//! systemd-resolved's 127.0.0.53, is replaced by the servers it forwards
//! to, since the container's loopback is its own; `--dns` replaces the
//! servers). Pure text in, text out. Read `hosts(5)`, `resolv.conf(5)`.

/// `/etc/hosts` of a container: Docker's fixed lines, then its own
/// address (when it has one) with its hostname, then `--add-host` lines.
pub fn hosts(own: Option<(&str, &str)>, extra: &[String]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for e in extra {
        if let Some((name, ip)) = e.split_once(':') {
            s.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    if let Some((ip, name)) = own {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    s
}

/// Is this a nameserver on the host's loopback (useless inside)?
fn is_loopback(ns: &str) -> bool {
    ns.starts_with("127.") || ns == "::1"
}

/// The nameservers a resolv.conf names.
pub fn nameservers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|r| r.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Docker's fallback when no usable server is left.
pub const DEFAULT_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// The container's resolv.conf from the host's: its search and options
/// lines kept, loopback servers replaced by `upstream` (the forwarder's
/// own list, e.g. systemd-resolved's `/run/systemd/resolve/resolv.conf`),
/// and `dns` (`--dns`) in place of every server when given.
pub fn resolv_conf(host: &str, upstream: Option<&str>, dns: &[String]) -> String {
    let mut servers: Vec<String> = if !dns.is_empty() {
        dns.to_vec()
    } else {
        let mut own: Vec<String> = nameservers(host)
            .into_iter()
            .filter(|n| !is_loopback(n))
            .collect();
        if own.is_empty() && nameservers(host).iter().any(|n| is_loopback(n)) {
            own = upstream
                .map(nameservers)
                .unwrap_or_default()
                .into_iter()
                .filter(|n| !is_loopback(n))
                .collect();
        }
        own
    };
    if servers.is_empty() {
        servers = DEFAULT_DNS.iter().map(|s| s.to_string()).collect();
    }
    let mut out = String::new();
    for l in host.lines() {
        let t = l.trim();
        if t.starts_with("search") || t.starts_with("domain") || t.starts_with("options") {
            out.push_str(t);
            out.push('\n');
        }
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_resolver_is_replaced_by_its_upstream() {
        let host =
            "# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lab\n";
        let upstream = "nameserver 10.0.0.1\nnameserver 127.0.0.1\n";
        assert_eq!(
            resolv_conf(host, Some(upstream), &[]),
            "options edns0 trust-ad\nsearch lab\nnameserver 10.0.0.1\n"
        );
        assert_eq!(
            resolv_conf(host, None, &[]),
            "options edns0 trust-ad\nsearch lab\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf("nameserver 192.0.2.1\n", None, &["10.9.9.9".into()]),
            "nameserver 10.9.9.9\n"
        );
        assert_eq!(
            resolv_conf("nameserver 192.0.2.1\n", None, &[]),
            "nameserver 192.0.2.1\n"
        );
    }

    #[test]
    fn hosts_has_dockers_lines_the_own_name_and_extras() {
        let h = hosts(Some(("172.18.0.2", "abc123")), &["db:10.0.0.5".into()]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.0.0.5\tdb\n"));
        assert!(h.ends_with("172.18.0.2\tabc123\n"));
    }
}
