//! The firewall tools and IP forwarding.
//!
//! glassbox writes NAT and filter rules for published ports and outbound
//! traffic with `nft` (preferred) or `iptables`. "Usable" means the tool
//! runs and may read the kernel's rules: `nft list tables` and
//! `iptables -L -n` exit 0 (both only read). `ip_forward` decides whether
//! the host routes packets between interfaces; it is information only,
//! since glassbox turns it on when a network needs it. Read `nft(8)`,
//! `iptables(8)`, and `ip-sysctl.rst` in the kernel docs.

use std::process::Command;

use super::Check;
use crate::trace::{Action, Mechanism, Step};

/// What running a tool gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    /// Not installed (spawning it gave ENOENT).
    Missing,
    /// Ran and exited 0.
    Usable,
    /// Ran and failed: its exit code and first line of stderr.
    Failed(Option<i32>, String),
}

/// Run a read-only command of a firewall tool.
fn run(program: &str, args: &[&str]) -> Tool {
    let shell = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    Step::new(Mechanism::Net, Action::Firewall, format!("run {shell}"))
        .shell(shell)
        .man(format!("{program}(8)"))
        .detail()
        .observe(|| {
            Ok(match Command::new(program).args(args).output() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Tool::Missing,
                Err(e) => Tool::Failed(None, e.to_string()),
                Ok(out) if out.status.success() => Tool::Usable,
                Ok(out) => Tool::Failed(
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                ),
            })
        })
        .unwrap_or(Tool::Missing)
}

fn tool_verdict(check: &str, command: &str, package: &str, t: &Tool) -> Check {
    match t {
        Tool::Usable => Check::ok(check, format!("`{command}` works")),
        Tool::Missing => Check::warn(
            check,
            format!(
                "{} is not installed",
                command.split(' ').next().unwrap_or(command)
            ),
            format!("apt-get install -y {package}"),
        ),
        Tool::Failed(code, err) => Check::warn(
            check,
            format!(
                "`{command}` failed (exit {}): {err}",
                code.map_or("by signal".to_string(), |c| c.to_string())
            ),
            "run as root (reading the rule set needs CAP_NET_ADMIN)",
        ),
    }
}

/// One line per tool, then which backend glassbox would use.
pub fn verdicts(nft: &Tool, iptables: &Tool) -> Vec<Check> {
    let backend = match (nft, iptables) {
        (Tool::Usable, _) => Check::ok("firewall backend", "glassbox will use nft"),
        (_, Tool::Usable) => Check::ok(
            "firewall backend",
            "glassbox will use iptables (nft is not usable)",
        ),
        _ => Check::fail(
            "firewall backend",
            "neither nft nor iptables is usable: no port publishing, no outbound NAT",
            "apt-get install -y nftables, and run as root",
        ),
    };
    vec![
        tool_verdict("nftables", "nft list tables", "nftables", nft),
        tool_verdict("iptables", "iptables -L -n", "iptables", iptables),
        backend,
    ]
}

pub fn checks() -> Vec<Check> {
    let nft = run("nft", &["list", "tables"]);
    let iptables = run("iptables", &["-L", "-n"]);
    verdicts(&nft, &iptables)
}

/// `/proc/sys/net/ipv4/ip_forward`: information, never a failure.
pub fn ip_forward_verdict(value: Result<&str, String>) -> Check {
    match value.map(str::trim) {
        Ok("1") => Check::info(
            "ip_forward",
            "1: the host routes packets between interfaces",
        ),
        Ok("0") => Check::info(
            "ip_forward",
            "0: off; glassbox turns it on when a network needs it",
        ),
        Ok(other) => Check::info("ip_forward", format!("{other:?}")),
        Err(e) => Check::info("ip_forward", format!("cannot read it: {e}")),
    }
}

pub fn ip_forward() -> Check {
    let path = std::path::Path::new("/proc/sys/net/ipv4/ip_forward");
    let text = crate::host::read_file(Mechanism::Net, path).map_err(|e| format!("{e:#}"));
    ip_forward_verdict(text.as_deref().map_err(Clone::clone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn nft_is_preferred() {
        let c = verdicts(&Tool::Usable, &Tool::Usable);
        assert_eq!(c[2].detail, "glassbox will use nft");
        let c = verdicts(&Tool::Missing, &Tool::Usable);
        assert_eq!(c[0].status, Status::Warn);
        assert!(c[2].detail.contains("iptables"));
        assert_eq!(c[2].status, Status::Ok);
    }

    #[test]
    fn no_tool_fails() {
        let denied = Tool::Failed(Some(1), "Operation not permitted (you must be root)".into());
        let c = verdicts(&Tool::Missing, &denied);
        assert_eq!(c[2].status, Status::Fail);
        assert!(c[1].detail.contains("exit 1"));
        assert!(c[1].hint.as_deref().unwrap().contains("run as root"));
        assert_eq!(c[0].hint.as_deref(), Some("apt-get install -y nftables"));
    }

    #[test]
    fn ip_forward_is_only_information() {
        assert_eq!(ip_forward_verdict(Ok("0\n")).status, Status::Info);
        assert!(ip_forward_verdict(Ok("0\n")).detail.starts_with("0: off"));
        assert!(ip_forward_verdict(Ok("1\n")).detail.starts_with("1:"));
        assert_eq!(
            ip_forward_verdict(Err("EACCES".into())).status,
            Status::Info
        );
    }
}
