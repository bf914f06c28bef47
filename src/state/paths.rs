//! Where state lives, and the names glassbox uses for kernel objects that
//! are global to the host (cgroup parent, bridges, firewall table).
//!
//! Those names are derived from the state root, so tests that each use a
//! private `--root` never collide with each other or with a real install.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

pub const DEFAULT_DATA: &str = "/var/lib/glassbox";
pub const DEFAULT_RUN: &str = "/run/glassbox";

/// The two state directories of one glassbox installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// Persistent data: images, containers, networks.
    pub data: PathBuf,
    /// Runtime files that vanish at reboot: sockets, pinned namespaces.
    pub run: PathBuf,
    /// True when `--root` was not given.
    pub is_default: bool,
}

impl Root {
    /// The state root from `--root` / `GLASSBOX_ROOT`, or the defaults.
    pub fn new(root: Option<&Path>) -> Result<Root> {
        match root {
            None => Ok(Root {
                data: PathBuf::from(DEFAULT_DATA),
                run: PathBuf::from(DEFAULT_RUN),
                is_default: true,
            }),
            Some(dir) => {
                if dir.as_os_str().is_empty() {
                    bail!("--root is empty: give a directory, e.g. --root /tmp/glassbox-lab");
                }
                if dir.exists() && !dir.is_dir() {
                    bail!(
                        "--root {} is not a directory: give a directory glassbox may own",
                        dir.display()
                    );
                }
                let abs = if dir.is_absolute() {
                    dir.to_path_buf()
                } else {
                    std::env::current_dir()
                        .context("read the current directory to resolve --root")?
                        .join(dir)
                };
                Ok(Root {
                    run: abs.join("run"),
                    data: abs,
                    is_default: false,
                })
            }
        }
    }

    /// Create both directories (mode 0700 parents are the caller's choice).
    pub fn ensure(&self) -> Result<()> {
        for dir in [&self.data, &self.run] {
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "create state directory {}: choose a writable --root or run as root",
                    dir.display()
                )
            })?;
        }
        // Check that we can really write there (a read-only mount passes create_dir_all).
        let probe = self.data.join(".write-test");
        std::fs::write(&probe, b"")
            .with_context(|| format!("state directory {} is not writable", self.data.display()))?;
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }

    /// The names of host-global kernel objects for this root.
    pub fn names(&self) -> Names {
        Names::for_root(self)
    }
}

/// Names of kernel objects that are global to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Short tag for this root: empty for the default root.
    pub tag: String,
    /// The cgroup under which every glassbox cgroup lives.
    pub cgroup_parent: String,
    /// The default bridge (at most 15 characters, IFNAMSIZ - 1).
    pub default_bridge: String,
    /// Prefix for other interface names glassbox makes.
    pub link_prefix: String,
    /// The nftables table (and iptables chain prefix) glassbox owns.
    pub firewall_table: String,
}

impl Names {
    pub fn for_root(root: &Root) -> Names {
        if root.is_default {
            return Names {
                tag: String::new(),
                cgroup_parent: "glassbox".into(),
                default_bridge: "glassbox0".into(),
                link_prefix: "gb".into(),
                firewall_table: "glassbox".into(),
            };
        }
        let tag = root_tag(&root.data);
        Names {
            cgroup_parent: format!("glassbox-{tag}"),
            default_bridge: format!("gb{tag}0"),
            link_prefix: format!("gb{tag}"),
            firewall_table: format!("glassbox_{tag}"),
            tag,
        }
    }
}

/// Six hex digits of the sha256 of the root's path.
pub fn root_tag(path: &Path) -> String {
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    digest[..3].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_root_uses_fhs_paths_and_plain_names() {
        let root = Root::new(None).unwrap();
        assert_eq!(root.data, Path::new("/var/lib/glassbox"));
        assert_eq!(root.run, Path::new("/run/glassbox"));
        let names = root.names();
        assert_eq!(names.default_bridge, "glassbox0");
        assert_eq!(names.cgroup_parent, "glassbox");
    }

    #[test]
    fn private_roots_get_distinct_short_names() {
        let a = Root::new(Some(Path::new("/tmp/a"))).unwrap().names();
        let b = Root::new(Some(Path::new("/tmp/b"))).unwrap().names();
        assert_ne!(a.default_bridge, b.default_bridge);
        assert_ne!(a.cgroup_parent, b.cgroup_parent);
        assert_ne!(a.firewall_table, b.firewall_table);
        assert!(a.default_bridge.len() <= 15, "{}", a.default_bridge);
        assert_eq!(a, Root::new(Some(Path::new("/tmp/a"))).unwrap().names());
    }

    #[test]
    fn private_root_holds_both_dirs() {
        let root = Root::new(Some(Path::new("/tmp/lab"))).unwrap();
        assert_eq!(root.data, Path::new("/tmp/lab"));
        assert_eq!(root.run, Path::new("/tmp/lab/run"));
    }

    #[test]
    fn a_file_is_not_a_root() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let err = Root::new(Some(f.path())).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
