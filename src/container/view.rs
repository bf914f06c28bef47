//! How `cp` and `export` reach a container's files, in one place.
//!
//! - A running container, for `cp`: through its init's root,
//!   `/proc/PID/root`, opened once. That directory is the container's `/`
//!   *in the container's mount namespace*: its volumes and bind mounts are
//!   there, as the container sees them, and it is the anchor every path
//!   is resolved from with `openat2(2)` `RESOLVE_IN_ROOT`.
//! - A stopped container, for `cp`: its overlay (the image's layers and
//!   its writable layer, as its record has them) mounted in a private
//!   mount namespace of a short-lived child (`unshare(CLONE_NEWNS)`,
//!   propagation made private), its bind mounts bound on their targets
//!   (each resolved in the root). The mounts exist only in that namespace
//!   and vanish with the child, however it ends: nothing is left mounted
//!   on the host, even if the command is killed.
//! - `export`, running or not: the same child, with a read-only overlay
//!   of the same layers (the writable layer as the top lower layer, no
//!   upper): the container's own files, without its mounts, its `/proc`
//!   or its `/sys`, which are empty directories in its layers.
//!
//! The child is forked while this process is single-threaded
//! (`unshare(CLONE_NEWNS)` refuses a multithreaded process); it sends its
//! result back through a pipe. Read `mount_namespaces(7)`, `unshare(2)`,
//! `proc(5)` (`/proc/PID/root`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use super::copy::resolve::Anchor;
use super::state::{self, Container, Status};
use crate::ns::spec::BindMount;
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// What the view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `cp`: the container's `/` with its volumes and bind mounts, writable.
    Copy,
    /// `export`: the container's layers alone, read-only.
    Export,
}

/// An error of the local side (a host path, the command line): Docker's
/// CLI reports those itself, without `Error response from daemon:`.
#[derive(Debug)]
pub struct Local(pub String);

impl std::fmt::Display for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Local {}

/// Is the error one of the local side?
pub fn is_local(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Local>().is_some()
}

/// Does the container's init run (so `/proc/PID/root` is its root)?
pub fn running(c: &Container) -> bool {
    matches!(c.state.status, Status::Running | Status::Paused) && state::init_alive(&c.state)
}

/// The host paths bound into the container, and where: the hostname,
/// hosts and resolv.conf glassbox writes for it, then its binds and
/// volumes ([`super::mounts::host_mounts`]).
pub fn host_mounts(c: &Container) -> Vec<BindMount> {
    let mut out = Vec::new();
    for (source, target) in [
        (&c.hostname_path, "/etc/hostname"),
        (&c.hosts_path, "/etc/hosts"),
        (&c.resolv_conf_path, "/etc/resolv.conf"),
    ] {
        if !source.as_os_str().is_empty() && source.exists() {
            out.push(BindMount {
                source: source.clone(),
                target: target.into(),
                readonly: false,
            });
        }
    }
    for m in super::mounts::host_mounts(c) {
        out.push(BindMount {
            source: m.source,
            target: m.target,
            readonly: m.read_only,
        });
    }
    out
}

/// Run `f` on the container's `/` as `purpose` needs it; `f`'s count of
/// bytes comes back. Under `--dry-run` the steps are listed and `f` is
/// not run.
pub fn with_root(
    root: &Root,
    c: &Container,
    purpose: Purpose,
    f: impl FnOnce(&Anchor) -> Result<u64>,
) -> Result<u64> {
    if purpose == Purpose::Copy && running(c) {
        return through_init(c, f);
    }
    // A stopped container's writable layer is mounted here: no start may
    // mount it too meanwhile (the start waits for this lock).
    let lock = if purpose == Purpose::Copy {
        Some(state::lock(root, &c.id)?)
    } else {
        None
    };
    let fresh =
        state::load(root, &c.id)?.with_context(|| format!("No such container: {}", c.name))?;
    if purpose == Purpose::Copy && running(&fresh) {
        drop(lock);
        return through_init(&fresh, f);
    }
    let copied = in_child(root, &fresh, purpose, f);
    drop(lock);
    copied
}

/// A running container: its init's root.
fn through_init(c: &Container, f: impl FnOnce(&Anchor) -> Result<u64>) -> Result<u64> {
    let pid = c.state.pid;
    let path = PathBuf::from(format!("/proc/{pid}/root"));
    let anchor = Step::new(
        Mechanism::Run,
        Action::FileRead,
        format!("open the container's root {}", path.display()),
    )
    .arg("pid", pid)
    .shell(format!("ls {}/", path.display()))
    .why("/proc/PID/root is the init's own /, in its mount namespace: the container's files with its volumes and bind mounts, as it sees them; every path below is resolved from this descriptor with openat2(RESOLVE_IN_ROOT)")
    .man("proc(5)")
    .detail()
    .observe(|| Anchor::container(&path))?;
    // Opened, then checked: the pid was the init's when it was opened.
    if !state::init_alive(&c.state) {
        bail!("container {} stopped while its root was opened", c.name);
    }
    f(&anchor)
}

/// The overlay to mount for `purpose`.
fn overlay(c: &Container, purpose: Purpose) -> crate::unionfs::check::Request {
    let r = &c.rootfs;
    match purpose {
        Purpose::Copy => crate::unionfs::check::Request {
            lowers: r.lower.clone(),
            upper: Some(r.upper.clone()),
            work: Some(r.work.clone()),
            target: r.merged.clone(),
        },
        Purpose::Export => crate::unionfs::check::Request {
            lowers: std::iter::once(r.upper.clone())
                .chain(r.lower.iter().cloned())
                .collect(),
            upper: None,
            work: None,
            target: r.merged.clone(),
        },
    }
}

/// What the child sends back: `ok N`, `local MESSAGE` or `err MESSAGE`.
fn encode(r: &Result<u64>) -> String {
    match r {
        Ok(n) => format!("ok {n}"),
        Err(e) if is_local(e) => format!("local {e:#}"),
        Err(e) => format!("err {e:#}"),
    }
}

fn decode(msg: &str) -> Result<u64> {
    match msg.split_once(' ') {
        Some(("ok", n)) => n.trim().parse().context("the child's count of bytes"),
        Some(("local", m)) => Err(Local(m.to_string()).into()),
        Some(("err", m)) => Err(anyhow::anyhow!("{m}")),
        _ => bail!("the child that reached the container's files ended without an answer"),
    }
}

/// Mount what `purpose` needs in a private mount namespace of a child,
/// and run `f` there.
fn in_child(
    root: &Root,
    c: &Container,
    purpose: Purpose,
    f: impl FnOnce(&Anchor) -> Result<u64>,
) -> Result<u64> {
    let merged = c.rootfs.merged.clone();
    let parent = nix::unistd::getpid();
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2(2)")?;
    let mut w = Some(w);
    // The child waits for a byte on `go`: the fork's step is shown first.
    let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2(2)")?;
    let mut go_r = Some(go_r);
    let what = match purpose {
        Purpose::Copy => "its overlay and bind mounts",
        Purpose::Export => "a read-only overlay of its layers",
    };
    let done = Step::new(
        Mechanism::Run,
        Action::Process,
        format!("fork a child to mount {what} in a private mount namespace"),
    )
    .arg("container", &c.name)
    .shell(format!("unshare --mount --propagation private sh -c 'mount -t overlay ... {}; ...'", merged.display()))
    .why("the container's files are mounted in a mount namespace of a short-lived child, never on the host: when the child ends, however it ends, the kernel removes the namespace and every mount in it")
    .man("unshare(2)")
    .apply(|| {
        // SAFETY: this process is single-threaded here; the child only
        // runs glassbox's own code and leaves with _exit(2).
        match unsafe { nix::unistd::fork() }.context("fork(2)")? {
            nix::unistd::ForkResult::Child => {
                // Killed with the command: a copy nobody waits for ends,
                // and its namespace with it.
                let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
                if nix::unistd::getppid() != parent {
                    // SAFETY: the parent died before the line above.
                    unsafe { libc::_exit(1) }
                }
                let mut byte = [0u8; 1];
                let parent_there = go_r
                    .take()
                    .is_some_and(|g| std::fs::File::from(g).read(&mut byte).unwrap_or(0) == 1);
                if !parent_there {
                    // SAFETY: the parent is gone; leave at once.
                    unsafe { libc::_exit(1) }
                }
                let result = child(root, c, purpose, &merged, f);
                if let Some(w) = w.take() {
                    let _ = std::fs::File::from(w).write_all(encode(&result).as_bytes());
                }
                // SAFETY: leave without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => Ok(child),
        }
    })?;
    drop(w);
    drop(go_r);
    let Some(pid) = done.value() else {
        return Ok(0); // --dry-run
    };
    let mut go = std::fs::File::from(go_w);
    let _ = go.write_all(b"g");
    drop(go);
    let mut msg = String::new();
    let read = std::fs::File::from(r).read_to_string(&mut msg);
    let status = nix::sys::wait::waitpid(pid, None).context("waitpid(2) the child")?;
    read.context("read the child's answer")?;
    if matches!(status, WaitStatus::Signaled(_, Signal::SIGPIPE, _)) {
        // The reader of the stream went away (`export | head`): end as
        // the child did, quietly, as any program writing to a closed pipe.
        let _ = nix::sys::signal::raise(Signal::SIGPIPE);
    }
    if msg.is_empty() {
        bail!("the child that mounted the container's files ended without an answer ({status:?})");
    }
    decode(&msg)
}

/// The child: its own mount namespace, the mounts, then `f`.
fn child(
    root: &Root,
    c: &Container,
    purpose: Purpose,
    merged: &Path,
    f: impl FnOnce(&Anchor) -> Result<u64>,
) -> Result<u64> {
    Step::new(
        Mechanism::Ns,
        Action::Syscall,
        "unshare(CLONE_NEWNS): a mount namespace of this child's own",
    )
    .shell("unshare --mount")
    .why("mounts made in a new mount namespace are seen by its processes only, and go with it")
    .man("mount_namespaces(7)")
    .run(|| nix::sched::unshare(CloneFlags::CLONE_NEWNS).context("unshare(2) CLONE_NEWNS"))?;
    crate::host::mount::mount(
        Mechanism::Ns,
        "none",
        Path::new("/"),
        None,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None,
        "the new namespace's mounts are still peers of the host's; made private, the mounts below never propagate to the host",
    )?;
    if crate::host::mountinfo::is_mount_point(merged).unwrap_or(false) {
        // A running container's own overlay, in this namespace's copy of
        // the host's mounts: set aside here, where only this child sees.
        crate::host::mount::umount(
            Mechanism::Unionfs,
            merged,
            nix::mount::MntFlags::MNT_DETACH,
            "in this private mount namespace only, the running container's overlay is set aside so the view of its layers can be mounted in its place; the container and the host keep theirs",
        )?;
    }
    crate::unionfs::stack::mount_unrecorded(root, &overlay(c, purpose))?;
    if purpose == Purpose::Copy {
        for b in host_mounts(c) {
            crate::ns::rootfs::bind_in_root(merged, &b)?;
        }
    }
    f(&Anchor::container(merged)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_childs_answer_comes_back_as_it_was() {
        assert_eq!(decode(&encode(&Ok(42))).unwrap(), 42);
        let e = decode(&encode(&Err(Local("lstat /x: no such file".into()).into()))).unwrap_err();
        assert!(is_local(&e));
        assert_eq!(format!("{e}"), "lstat /x: no such file");
        let e = decode(&encode(&Err(anyhow::anyhow!(
            "Could not find the file /nope"
        ))))
        .unwrap_err();
        assert!(!is_local(&e));
        assert!(decode("").is_err());
    }
}
