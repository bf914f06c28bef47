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

/// A bind mount into the container root, made before `pivot_root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: PathBuf,
    /// The path inside the container.
    pub target: PathBuf,
    pub readonly: bool,
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

/// Everything needed to start one process in its namespaces.
#[derive(Debug, Default)]
pub struct Spec {
    pub namespaces: Namespaces,
    /// The container root (pivot_root into it); `None`: keep the host's.
    pub rootfs: Option<PathBuf>,
    /// Extra bind mounts into the root.
    pub mounts: Vec<BindMount>,
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
