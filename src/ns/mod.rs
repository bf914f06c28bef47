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
//! [`spawn`] is what `ns run`, `net` and `run` use to start a container
//! process from a [`Spec`]; [`enter`] joins a running process's namespaces.
//! Read `namespaces(7)`, `clone(2)`, `setns(2)`, `pivot_root(2)`.

pub mod child;
pub mod clone;
pub mod inode;
pub mod kind;
pub mod list;
pub mod pin;
pub mod pin_state;
pub mod process;
pub mod rootfs;
pub mod spawn;
pub mod spec;
pub mod sync;

use std::path::PathBuf;

use anyhow::{Result, bail};

pub use kind::{Namespaces, NsMode, NsType};
pub use process::{Child, exit_code};
pub use spawn::{ChildError, Hooks, NoHooks, require_sys_admin, spawn};
pub use spec::{BindMount, IdMap, Spec, Stdio, TimeOffsets};

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

/// Join existing namespaces (given by path) and run `argv` there, like
/// `nsenter`: pid and time are joined by glassbox itself and the process
/// forked after, so CMD is really inside; the others are joined by the
/// child before it execs.
pub fn enter(
    targets: &[(NsType, PathBuf)],
    argv: Vec<String>,
    hooks: &mut dyn Hooks,
) -> Result<Child> {
    let mut spec = Spec::new(argv);
    for (t, path) in targets {
        spec.namespaces.set(*t, NsMode::Join(path.clone()));
    }
    spawn(spec, hooks)
}
