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

    /// Create the state directories and lock them to root (see
    /// [`Root::private_dirs`]); a root made by an older glassbox with
    /// looser modes is tightened here. Under `--dry-run` nothing is made.
    pub fn ensure(&self) -> Result<()> {
        if crate::trace::dry_run() {
            return Ok(());
        }
        for dir in [&self.data, &self.run] {
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "create state directory {}: choose a writable --root or run as root",
                    dir.display()
                )
            })?;
        }
        for dir in self.private_dirs() {
            private_dir(&dir)?;
        }
        // Check that we can really write there (a read-only mount passes create_dir_all).
        let probe = self.data.join(".write-test");
        std::fs::write(&probe, b"")
            .with_context(|| format!("state directory {} is not writable", self.data.display()))?;
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }

    /// The directories no other user may enter: the roots, and the two that
    /// hold image and container content (`layers/`, `containers/`). Layers
    /// keep their files' owners, modes, setuid bits, capabilities and
    /// device nodes, so a path into them from an ordinary user would be a
    /// way to root (Docker's CVE-2021-41091). The content directories
    /// themselves (`diff/`, `upper/`, `merged/`) keep their modes: they
    /// become a container's `/`, where every user must be able to look.
    pub fn private_dirs(&self) -> Vec<PathBuf> {
        vec![
            self.data.clone(),
            self.run.clone(),
            self.data.join("layers"),
            self.data.join("containers"),
        ]
    }

    /// The private directories whose mode or owner lets another user in,
    /// with what is wrong (for `glassbox doctor`).
    pub fn loose_dirs(&self) -> Vec<(PathBuf, String)> {
        use std::os::unix::fs::MetadataExt;
        self.private_dirs()
            .into_iter()
            .filter_map(|dir| {
                let md = std::fs::symlink_metadata(&dir).ok()?;
                let mode = md.mode() & 0o7777;
                if mode & PRIVATE_MASK != 0 {
                    Some((dir, format!("mode {mode:04o}")))
                } else if md.uid() != 0 && nix::unistd::geteuid().is_root() {
                    Some((dir, format!("owned by uid {}", md.uid())))
                } else {
                    None
                }
            })
            .collect()
    }

    /// The names of host-global kernel objects for this root.
    pub fn names(&self) -> Names {
        Names::for_root(self)
    }
}

/// The mode of the private state directories.
pub const PRIVATE_MODE: u32 = 0o700;

/// Mode bits that let another user into a directory: group or other may
/// read, write or enter.
const PRIVATE_MASK: u32 = 0o077;

/// Create `dir` (mode 0700) or tighten it to 0700 and to root's ownership.
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(PRIVATE_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("mkdir {}", dir.display())),
    }
    let md = std::fs::symlink_metadata(dir).with_context(|| format!("lstat {}", dir.display()))?;
    if !md.is_dir() {
        bail!(
            "{} is not a directory: glassbox keeps its state there; move it aside",
            dir.display()
        );
    }
    let me = nix::unistd::geteuid();
    if me.is_root() && md.uid() != 0 {
        std::os::unix::fs::lchown(dir, Some(0), Some(0))
            .with_context(|| format!("chown root:root {}", dir.display()))?;
    }
    if md.mode() & PRIVATE_MASK != 0 || md.mode() & 0o700 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE_MODE))
            .with_context(|| format!("chmod 700 {}", dir.display()))?;
    }
    Ok(())
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
        let a = Root::new(Some(Path::new("/nonexistent-glassbox-test/a")))
            .unwrap()
            .names();
        let b = Root::new(Some(Path::new("/nonexistent-glassbox-test/b")))
            .unwrap()
            .names();
        assert_ne!(a.default_bridge, b.default_bridge);
        assert_ne!(a.cgroup_parent, b.cgroup_parent);
        assert_ne!(a.firewall_table, b.firewall_table);
        assert!(a.default_bridge.len() <= 15, "{}", a.default_bridge);
        assert_eq!(
            a,
            Root::new(Some(Path::new("/nonexistent-glassbox-test/a")))
                .unwrap()
                .names()
        );
    }

    #[test]
    fn private_root_holds_both_dirs() {
        let root = Root::new(Some(Path::new("/tmp/lab"))).unwrap();
        assert_eq!(root.data, Path::new("/tmp/lab"));
        assert_eq!(root.run, Path::new("/tmp/lab/run"));
    }

    #[test]
    fn ensure_locks_the_roots_and_the_content_parents() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("r");
        std::fs::create_dir(&top).unwrap();
        std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = Root::new(Some(&top)).unwrap();
        assert!(
            root.loose_dirs()
                .iter()
                .any(|(d, why)| d == &top && why == "mode 0755")
        );
        root.ensure().unwrap();
        for d in root.private_dirs() {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
        assert!(root.loose_dirs().is_empty());
    }

    #[test]
    fn a_file_is_not_a_root() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let err = Root::new(Some(f.path())).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
