//! Which network namespace to plug in, and how a student names it: an
//! `ip netns` name (`/run/netns/NAME`), a `PID` (`/proc/PID/ns/net`), or
//! the path of a namespace file, such as the one a container's pin holds
//! (`.../ns/net`). Read `namespaces(7)`, `ip-netns(8)`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::store;
use crate::trace::{Action, Mechanism, Step};

/// A network namespace to plug in: an `ip netns` name (`/run/netns/NAME`),
/// a `PID` (`/proc/PID/ns/net`) or the path of a namespace file (a
/// container's pin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The member's name on the network.
    pub name: String,
    pub ns_path: PathBuf,
    /// How `ip link set ... netns X` names it.
    pub ns_shell: String,
    /// The `ip` command that works inside it.
    pub ip_cmd: String,
    /// Where its `hosts` and `resolv.conf` go.
    pub hosts_dir: Option<PathBuf>,
}

impl Target {
    /// `NAME` (from `ip netns list`), `PID`, or an absolute PATH to a
    /// network namespace file, named after it ([`Target::at_path`]).
    pub fn parse(s: &str, hosts_dir: Option<PathBuf>) -> Result<Target> {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
            let pid: u32 = s.parse().with_context(|| format!("invalid pid {s}"))?;
            return Ok(Target {
                name: format!("pid-{pid}"),
                ns_path: PathBuf::from(format!("/proc/{pid}/ns/net")),
                ns_shell: pid.to_string(),
                ip_cmd: format!("nsenter -t {pid} -n ip"),
                hosts_dir,
            });
        }
        if s.starts_with('/') {
            let path = Path::new(s);
            return Target::at_path(path, &name_of_path(path)?, hosts_dir);
        }
        if s.is_empty() || s.contains('/') || s == "." || s == ".." {
            bail!(
                "invalid namespace {s:?}: give a PID, a name from `ip netns list`, or the absolute path of a namespace file"
            );
        }
        Ok(Target {
            name: s.to_string(),
            ns_path: PathBuf::from(format!("/run/netns/{s}")),
            ns_shell: s.to_string(),
            ip_cmd: format!("ip -n {s}"),
            hosts_dir: Some(hosts_dir.unwrap_or_else(|| store::hosts_dir_for_netns(s))),
        })
    }

    /// The namespace whose file is at `path` (a container's pinned
    /// `ns/net`, `/proc/PID/ns/net`), known as `name` on its networks.
    pub fn at_path(path: &Path, name: &str, hosts_dir: Option<PathBuf>) -> Result<Target> {
        if !path.is_absolute() {
            bail!("namespace file {} must be an absolute path", path.display());
        }
        store::validate_name(name).context("invalid member name")?;
        let shown = path.display().to_string();
        Ok(Target {
            name: name.to_string(),
            ns_path: path.to_path_buf(),
            // iproute2 opens a netns argument with a '/' as a path.
            ns_shell: shown.clone(),
            ip_cmd: format!("nsenter --net={shown} ip"),
            hosts_dir,
        })
    }

    /// Can the namespace be opened? (Before anything is made for it.)
    pub fn check(&self) -> Result<()> {
        let path = &self.ns_path;
        Step::new(
            Mechanism::Net,
            Action::Syscall,
            format!("open network namespace {}", path.display()),
        )
        .arg("path", path.display())
        .shell(format!("ls -l {}", path.display()))
        .man("namespaces(7)")
        .detail()
        .observe_or_plan(|| {
            std::fs::File::open(path).map(drop).with_context(|| {
                format!(
                    "open network namespace {}: no such process, pin or `ip netns` name {:?}",
                    path.display(),
                    self.ns_shell
                )
            })
        })
        .map(drop)
    }
}

/// The member name of a namespace file: `pid-N` for `/proc/N/ns/net`, the
/// directory that holds `[ns/]net` for a pin (`.../c1/ns/net` is `c1`),
/// else the file's own name.
pub fn name_of_path(path: &Path) -> Result<String> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .filter(|c| *c != "/")
        .collect();
    let name = match parts.as_slice() {
        ["proc", pid, "ns", "net"] if pid.chars().all(|c| c.is_ascii_digit()) => {
            format!("pid-{pid}")
        }
        [.., dir, "ns", "net"] | [.., dir, "net"] => dir.to_string(),
        [.., file] => file.to_string(),
        [] => String::new(),
    };
    store::validate_name(&name).with_context(|| {
        format!(
            "no member name in namespace path {}: give a path whose directory names the member",
            path.display()
        )
    })?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("1234", None).unwrap();
        assert_eq!(t.ns_path, PathBuf::from("/proc/1234/ns/net"));
        assert_eq!(t.name, "pid-1234");
        assert!(t.hosts_dir.is_none());
        let t = Target::parse("c1", None).unwrap();
        assert_eq!(t.ns_path, PathBuf::from("/run/netns/c1"));
        assert_eq!(t.ip_cmd, "ip -n c1");
        assert_eq!(t.hosts_dir.unwrap(), PathBuf::from("/etc/netns/c1"));
        assert!(Target::parse("../x", None).is_err());
        assert!(Target::parse("x/y", None).is_err());
        assert!(Target::parse("", None).is_err());
    }

    #[test]
    fn a_namespace_file_is_a_target_named_after_its_directory() {
        let t = Target::parse("/run/glassbox/containers/web1/ns/net", None).unwrap();
        assert_eq!(t.name, "web1");
        assert_eq!(
            t.ns_path,
            PathBuf::from("/run/glassbox/containers/web1/ns/net")
        );
        assert_eq!(t.ns_shell, "/run/glassbox/containers/web1/ns/net");
        assert_eq!(
            t.ip_cmd,
            "nsenter --net=/run/glassbox/containers/web1/ns/net ip"
        );
        assert!(t.hosts_dir.is_none());
        assert_eq!(Target::parse("/run/gb/ns/c1/net", None).unwrap().name, "c1");
        assert_eq!(
            Target::parse("/proc/42/ns/net", None).unwrap().name,
            "pid-42"
        );
        assert_eq!(Target::parse("/tmp/mypin", None).unwrap().name, "mypin");
        let t = Target::at_path(Path::new("/proc/7/ns/net"), "web", None).unwrap();
        assert_eq!(t.name, "web");
        assert!(Target::at_path(Path::new("rel/net"), "web", None).is_err());
        assert!(Target::at_path(Path::new("/x/net"), "bad name", None).is_err());
    }
}
