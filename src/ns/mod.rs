//! Namespaces, and the container-process core built on them.
//!
//! A namespace wraps one kind of global kernel state so the processes in it
//! see their own copy: hostname (uts), process ids (pid), mounts (mnt),
//! network devices (net), SysV IPC and message queues (ipc), user ids
//! (user), the cgroup tree (cgroup) and the boot/monotonic clocks (time).
//! A student should notice that a namespace is just an inode
//! (`readlink /proc/self/ns/uts`), that `clone(2)`/`unshare(2)` make new
//! ones, `setns(2)` joins existing ones, and that a namespace lives as long
//! as a process is in it or a bind mount pins it.
//!
//! [`spawn`] is the one process core: `ns run`, `ns enter`, `cgroup run`
//! (and a container's shim) start a process from a [`Spec`] with it, with
//! its stdio as given descriptors or a pty, and wait as they see fit;
//! [`run`] starts one and waits for it while [`signals`] passes on what
//! other processes send glassbox, and says how it ended as an [`Outcome`].
//! [`request`] checks what `ns run` and `ns enter` ask for; [`enter`] joins
//! a running process's namespaces. Read `namespaces(7)`, `clone(2)`,
//! `setns(2)`, `pivot_root(2)`.

pub mod child;
pub mod clone;
pub mod console;
pub mod inode;
pub mod inroot;
pub mod kind;
pub mod list;
pub mod pin;
pub mod pin_state;
pub mod process;
pub mod request;
pub mod rootfs;
pub mod runner;
pub mod signals;
pub mod spawn;
pub mod spec;
pub mod sync;
pub mod walls;

use std::path::PathBuf;

use anyhow::{Result, bail};

pub use kind::{Namespaces, NsMode, NsType};
pub use process::{Child, Exit, Outcome, exit_code};
pub use request::{Caller, EnterRequest, EnterTarget, Entering, Prepared, RunRequest};
pub use spawn::{ChildError, Hooks, NoHooks, require_sys_admin, run, spawn};
pub use spec::{BindMount, IdMap, Spec, Stdio, TimeOffsets, TmpfsMount};

/// The namespaces of `pid` to join, as `/proc/PID/ns/TYPE` paths; checks
/// that the process exists.
pub fn targets_of(pid: u32, types: &[NsType]) -> Result<Vec<(NsType, PathBuf)>> {
    if pid == 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        bail!("process {pid} does not exist (has it exited?): give the pid of a running process");
    }
    Ok(types
        .iter()
        .map(|t| (*t, inode::ns_path(Some(pid), *t)))
        .collect())
}

/// The process that joins existing namespaces (given by path) and runs
/// `argv` there, like `nsenter`: pid and time are joined by glassbox itself
/// and the process forked after, so CMD is really inside; the others are
/// joined by the child before it execs. Start it with [`run`].
pub fn enter_spec(targets: &[(NsType, PathBuf)], argv: Vec<String>) -> Spec {
    let mut spec = Spec::new(argv);
    for (t, path) in targets {
        spec.namespaces.set(*t, NsMode::Join(path.clone()));
    }
    spec
}
