//! The three files Docker writes for every container and bind-mounts over
//! the image's: `/etc/hostname`, `/etc/hosts` (Docker's loopback lines,
//! `--add-host` entries, the container's own address with its hostname)
//! and `/etc/resolv.conf` (the host's, less the servers on the host's
//! loopback, since the container's loopback is its own: systemd-resolved's
//! stub 127.0.0.53 is replaced by the servers it forwards to; `--dns`
//! replaces the servers). Text in, text out, and where the host's files
//! are. Read `hosts(5)`, `resolv.conf(5)`.

use std::path::PathBuf;

/// `/etc/hosts` of a container: Docker's fixed lines, then `--add-host`
/// lines, then its own address (when it has one) with its hostname.
pub fn hosts(own: Option<(&str, &str)>, extra: &[String]) -> String {
    let own: Vec<crate::net::hosts::Entry> = own
        .and_then(|(ip, name)| Some((ip.parse().ok()?, vec![name.to_string()])))
        .into_iter()
        .collect();
    crate::net::hosts::render_container(extra, &own, &[])
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

/// systemd-resolved's stub: when it is the host's only server, Docker
/// reads the servers it forwards to instead.
pub const RESOLVED_STUB: &str = "127.0.0.53";

/// The values of the `search`/`options` lines of a resolv.conf.
fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key))
        .filter(|r| r.starts_with([' ', '\t']))
        .flat_map(|r| r.split_whitespace())
        .collect()
}

/// The container's resolv.conf from the host's, as Docker makes it: when
/// the host's only server is systemd-resolved's stub, the file it
/// forwards to (`upstream`) is the source; with `dns` (`--dns`) the
/// servers are those, then the source's search domains and options;
/// otherwise the source's lines less the servers on loopback and IPv6
/// (useless in the container's own namespace), and Docker's fallback
/// servers when none is left.
pub fn resolv_conf(host: &str, upstream: Option<&str>, dns: &[String]) -> String {
    let source = match upstream {
        Some(up) if nameservers(host) == [RESOLVED_STUB] => up,
        _ => host,
    };
    let mut out = String::new();
    if !dns.is_empty() {
        for s in dns {
            out.push_str(&format!("nameserver {s}\n"));
        }
        for key in ["search", "options"] {
            let v = values(source, key);
            if !v.is_empty() {
                out.push_str(&format!("{key} {}\n", v.join(" ")));
            }
        }
        return out;
    }
    for l in source.lines() {
        let dropped = l
            .trim()
            .strip_prefix("nameserver")
            .map(str::trim)
            .is_some_and(|n| is_loopback(n) || n.contains(':'));
        if !dropped {
            out.push_str(l);
            out.push('\n');
        }
    }
    if nameservers(&out).is_empty() {
        for s in DEFAULT_DNS {
            out.push_str(&format!("nameserver {s}\n"));
        }
    }
    out
}

/// The host's resolv.conf (`GLASSBOX_RESOLV_CONF` names another, for
/// tests and labs that must not use the real servers).
pub fn resolv_source() -> PathBuf {
    std::env::var_os("GLASSBOX_RESOLV_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf"))
}

/// The file systemd-resolved's stub forwards to
/// (`GLASSBOX_SYSTEMD_RESOLV_CONF` names another, for tests).
pub fn upstream_source() -> PathBuf {
    std::env::var_os("GLASSBOX_SYSTEMD_RESOLV_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/systemd/resolve/resolv.conf"))
}

/// The container's resolv.conf from this host's, `dns` (`--dns`) in
/// place of its servers when given.
pub fn resolv_text(dns: &[String]) -> String {
    let host = std::fs::read_to_string(resolv_source()).unwrap_or_default();
    let upstream = std::fs::read_to_string(upstream_source()).ok();
    resolv_conf(&host, upstream.as_deref(), dns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_resolver_is_replaced_by_its_upstream() {
        // systemd-resolved's stub: the file it forwards to is the source.
        let host =
            "# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lab\n";
        let upstream = "nameserver 10.0.0.1\nnameserver 127.0.0.1\nsearch corp\n";
        assert_eq!(
            resolv_conf(host, Some(upstream), &[]),
            "nameserver 10.0.0.1\nsearch corp\n"
        );
        // Without it (or with another loopback server): Docker's fallback.
        assert_eq!(
            resolv_conf(host, None, &[]),
            "# systemd-resolved\noptions edns0 trust-ad\nsearch lab\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf("nameserver 127.0.0.1\n", Some(upstream), &[]),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        // Loopback and IPv6 servers go, the others and the rest stay.
        assert_eq!(
            resolv_conf(
                "search a b\nnameserver 192.0.2.1\nnameserver ::1\nnameserver 2001:db8::1\nnameserver 127.0.0.1\n",
                None,
                &[]
            ),
            "search a b\nnameserver 192.0.2.1\n"
        );
        // --dns: those servers, then the source's search and options.
        assert_eq!(
            resolv_conf(
                "nameserver 192.0.2.1\noptions ndots:2\nsearch lab\n",
                None,
                &["10.9.9.9".into(), "10.9.9.8".into()]
            ),
            "nameserver 10.9.9.9\nnameserver 10.9.9.8\nsearch lab\noptions ndots:2\n"
        );
        assert_eq!(
            resolv_conf(host, Some(upstream), &["10.9.9.9".into()]),
            "nameserver 10.9.9.9\nsearch corp\n"
        );
    }

    #[test]
    fn hosts_has_dockers_lines_the_own_name_and_extras() {
        let h = hosts(Some(("172.18.0.2", "abc123")), &["db:10.0.0.5".into()]);
        assert_eq!(
            h,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n10.0.0.5\tdb\n172.18.0.2\tabc123\n"
        );
    }
}
