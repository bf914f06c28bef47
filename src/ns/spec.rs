//! The description of a container process: what `ns run`, `net` and `run`
//! hand to [`super::spawn`]. Plain data, no side effects.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use super::kind::Namespaces;

/// Where the child's stdin, stdout and stderr come from.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The parent's own (a terminal passes through, and CMD becomes its
    /// foreground process group).
    #[default]
    Inherit,
    /// Given descriptors (pipes, a log file, /dev/null).
    Fds {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// The slave side of a pseudo-terminal: the child starts a session and
    /// makes it its controlling terminal (the caller keeps the master).
    Pty(OwnedFd),
}

/// A bind mount into the container root, made before `pivot_root`. The
/// target is resolved inside the root ([`super::inroot`]); a missing one is
/// made (a directory for a directory, an empty file for a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: PathBuf,
    /// The path inside the container.
    pub target: PathBuf,
    pub readonly: bool,
}

/// A fresh tmpfs in the container root (`--tmpfs`, `--mount
/// type=tmpfs`), mounted before `pivot_root` with the binds, its target
/// resolved inside the root as theirs is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    /// The path inside the container.
    pub target: PathBuf,
    pub readonly: bool,
    pub noexec: bool,
    pub nosuid: bool,
    pub nodev: bool,
    /// The filesystem's options (`size=64m,mode=1777`), maybe empty.
    pub data: String,
}

/// The user namespace's id maps: root inside is `outside` outside, and the
/// next `count - 1` ids follow it (`0 outside count` in `uid_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub outside_uid: u32,
    pub outside_gid: u32,
    pub count: u32,
}

impl IdMap {
    pub fn uid_line(&self) -> String {
        format!("0 {} {}", self.outside_uid, self.count)
    }
    pub fn gid_line(&self) -> String {
        format!("0 {} {}", self.outside_gid, self.count)
    }
}

/// Clock offsets of a new time namespace, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeOffsets {
    pub boottime: i64,
    pub monotonic: i64,
}

impl TimeOffsets {
    /// The text written to `/proc/PID/timens_offsets`.
    pub fn file_text(&self) -> String {
        format!(
            "monotonic {} 0\nboottime {} 0\n",
            self.monotonic, self.boottime
        )
    }
}

/// How a container sees its own cgroup at `/sys/fs/cgroup` (read-only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CgroupView {
    /// Nothing is mounted there.
    #[default]
    None,
    /// cgroup v2, mounted from inside the container's cgroup namespace: the
    /// container's own group is its `/`.
    V2,
    /// cgroup v1: a tmpfs, and for each hierarchy (its name under
    /// `/sys/fs/cgroup`, e.g. `memory` or `cpu,cpuacct`) the container's own
    /// directory on the host bound there.
    V1(Vec<(String, PathBuf)>),
}

/// What a container adds to a plain `ns run` child: Docker's walls (a
/// reduced capability set, masked and read-only paths of `/proc` and
/// `/sys`), its own cgroup view, supplementary groups, a terminal from its
/// own devpts, a read-only root.
#[derive(Debug, Clone, Default)]
pub struct Container {
    pub cgroup_view: CgroupView,
    /// Paths hidden from the container (`/dev/null` bound over files, an
    /// empty read-only tmpfs over directories).
    pub masked_paths: Vec<PathBuf>,
    /// Paths the container may read but not write.
    pub readonly_paths: Vec<PathBuf>,
    /// The capabilities kept (bounding, permitted, effective); the rest are
    /// dropped, and the inheritable and ambient sets emptied. `None`: all.
    pub keep_caps: Option<Vec<caps::Capability>>,
    /// Supplementary groups of the user (`-u`).
    pub groups: Vec<u32>,
    /// Open a terminal in the container's own devpts (`-t`): its slave
    /// becomes the process's stdio and `/dev/console`; its master goes to
    /// the parent over the handshake socket.
    pub console: bool,
    /// Remount the root read-only after the mounts (`--read-only`).
    pub readonly_rootfs: bool,
}

/// Everything needed to start one process in its namespaces.
#[derive(Debug, Default)]
pub struct Spec {
    pub namespaces: Namespaces,
    /// The container root (pivot_root into it); `None`: keep the host's.
    pub rootfs: Option<PathBuf>,
    /// The root is made by an earlier step of the same `--dry-run` plan (a
    /// container's overlay, only planned): it need not exist to be planned.
    pub rootfs_planned: bool,
    /// Extra bind mounts into the root.
    pub mounts: Vec<BindMount>,
    /// Tmpfs mounts into the root (made with the binds, the shallower
    /// target first).
    pub tmpfs: Vec<TmpfsMount>,
    /// Hostname to set in a new UTS namespace.
    pub hostname: Option<String>,
    /// The environment; `None` keeps the parent's.
    pub env: Option<Vec<(String, String)>>,
    /// Working directory inside; `None`: `/` with a rootfs, else unchanged.
    pub cwd: Option<PathBuf>,
    /// `(uid, gid)` to become before exec; `None`: stay root.
    pub user: Option<(u32, u32)>,
    pub argv: Vec<String>,
    pub stdio: Stdio,
    /// Maps for a new user namespace (required when it is new).
    pub id_map: Option<IdMap>,
    pub time_offsets: TimeOffsets,
    /// A container's walls and extras; `None` for `ns run`.
    pub container: Option<Container>,
}

/// The PATH a container gets when its environment has none (Docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Spec {
    pub fn new(argv: Vec<String>) -> Spec {
        Spec {
            argv,
            ..Default::default()
        }
    }

    /// The PATH the command is looked up in.
    pub fn path_var(&self) -> String {
        let from_env = match &self.env {
            Some(env) => env
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone()),
            None => std::env::var("PATH").ok(),
        };
        from_env.unwrap_or_else(|| DEFAULT_PATH.to_string())
    }
}
