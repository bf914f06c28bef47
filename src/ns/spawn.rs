//! The parent's side of starting a container process: a [`Spec`] in, a
//! running [`Child`] (pid and pidfd) out.
//!
//! Order of events, each one a traced step:
//! 1. `unshare(CLONE_NEWTIME)` and the clock offsets, if a time namespace
//!    is asked for (`clone(2)` cannot make one: the flag collides with the
//!    exit-signal bits), so the child is born in it;
//! 2. `clone3(2)` with the `CLONE_NEW*` flags and `CLONE_PIDFD`;
//! 3. the parent writes `uid_map`/`gid_map`, then calls [`Hooks::created`]
//!    (cgroups, veth) and says `Go`;
//! 4. the child sets up (see [`super::child`]) and says `Ready`;
//! 5. [`Hooks::ready`] (print the inode table, pin namespaces), the
//!    terminal's foreground group goes to the child, the parent says `Exec`.
//!
//! Read `clone(2)`, `user_namespaces(7)`, `time_namespaces(7)`.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result, anyhow, bail};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;

use super::child;
use super::clone::{Forked, clone3, send_signal};
use super::kind::NsType;
use super::process::{Child, take_terminal};
use super::spec::{Spec, Stdio};
use super::sync::{self, Msg};
use crate::trace::{Action, Mechanism, Step};

const M: Mechanism = Mechanism::Ns;

/// The error `spawn` returns under `--dry-run`, once the plan is listed.
pub const DRY_RUN_DONE: &str = "dry run: nothing started";

/// Callbacks at the fixed points of the handshake.
pub trait Hooks {
    /// The child exists in its namespaces and waits: place it in cgroups,
    /// give it a network. Its uid/gid maps are already written.
    fn created(&mut self, _pid: Pid) -> Result<()> {
        Ok(())
    }
    /// The child has set up its root and waits to exec.
    fn ready(&mut self, _pid: Pid) -> Result<()> {
        Ok(())
    }
}

/// No callbacks.
pub struct NoHooks;
impl Hooks for NoHooks {}

/// The child failed before exec (missing command, bad mount). Carries the
/// exit code Docker uses (125 setup, 126 cannot invoke, 127 not found).
#[derive(Debug)]
pub struct ChildError {
    pub message: String,
    pub code: u8,
}

impl std::fmt::Display for ChildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ChildError {}

/// Is CAP_SYS_ADMIN in our effective set? Say what is missing otherwise.
pub fn require_sys_admin(what: &str) -> Result<()> {
    let has = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_ADMIN,
    )
    .unwrap_or(false);
    if !has {
        bail!(
            "{what} needs the CAP_SYS_ADMIN capability (to create and join namespaces, mount and pivot_root), which this process lacks: run it as root, e.g. with sudo"
        );
    }
    Ok(())
}

/// Start the process described by `spec`.
pub fn spawn(mut spec: Spec, hooks: &mut dyn Hooks) -> Result<Child> {
    if spec.argv.is_empty() {
        bail!("no command given: say what to run after `--`, e.g. -- sh");
    }
    if spec.namespaces.is_new(NsType::User) && spec.id_map.is_none() {
        bail!("a new user namespace needs an id map");
    }
    if let Some(root) = &spec.rootfs {
        if !spec.namespaces.is_new(NsType::Mnt) {
            bail!("--rootfs needs a new mount namespace (--mnt)");
        }
        let root = super::rootfs::absolute(root)?;
        // Look for CMD before anything is mounted or created, so a rootfs
        // without it fails cleanly (the child checks again after pivot_root).
        if !super::child::findable_in(&root, &spec.argv[0], &spec.path_var()) {
            return Err(anyhow!(ChildError {
                message: super::child::not_found_message(&spec.argv[0]),
                code: super::child::EXIT_NOT_FOUND,
            }));
        }
        spec.rootfs = Some(root);
    }
    let ns = spec.namespaces.clone();
    // Open every namespace to join now, while /proc is ours.
    let mut parent_joins = Vec::new();
    let mut child_joins = Vec::new();
    for (t, path) in ns.joins() {
        let fd: OwnedFd = File::open(&path)
            .with_context(|| {
                format!(
                    "open {} to join its {t} namespace (has the process exited?)",
                    path.display()
                )
            })?
            .into();
        check_joinable(t, &path, &fd)?;
        if t == NsType::User && super::inode::inode_of(&path)? == super::inode::inode(None, t)? {
            continue; // already there: setns would fail with EINVAL
        }
        if matches!(t, NsType::Pid | NsType::Time) {
            parent_joins.push(child::Join { ns: t, path, fd });
        } else {
            child_joins.push(child::Join { ns: t, path, fd });
        }
    }
    // pid and time namespaces apply to children only: join them here, the
    // child is born inside.
    for j in &parent_joins {
        let (t, fd) = (j.ns, &j.fd);
        Step::new(M, Action::Syscall, format!("join the {t} namespace for the next child"))
            .arg("type", t)
            .arg("path", j.path.display())
            .arg("flags", t.clone_flag_name())
            .shell(format!("nsenter {}={}", t.nsenter_long(), j.path.display()))
            .why("Joining a pid or time namespace changes only where this process's children are born, so glassbox joins it and then forks.")
            .man("setns(2)")
            .run(|| {
                nix::sched::setns(fd.as_fd(), CloneFlags::from_bits_retain(t.clone_flag() as i32))
                    .with_context(|| format!("setns(2) {}", t.clone_flag_name()))
            })?;
    }
    if ns.is_new(NsType::Time) {
        Step::new(M, Action::Syscall, "unshare a time namespace for the next child")
            .arg("flags", "CLONE_NEWTIME")
            .shell(format!(
                "unshare --time --boottime {} --monotonic {} --fork",
                spec.time_offsets.boottime, spec.time_offsets.monotonic
            ))
            .why("clone(2) cannot create a time namespace (CLONE_NEWTIME shares bits with the exit signal); unshare(2) makes one that only children enter, and its clock offsets can be set while it is still empty.")
            .man("time_namespaces(7)")
            .run(|| nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)).context("unshare(2) CLONE_NEWTIME"))?;
        let text = spec.time_offsets.file_text();
        Step::new(M, Action::FileWrite, "set the clock offsets of the new time namespace")
            .arg("path", "/proc/self/timens_offsets")
            .arg("value", text.trim_end().replace('\n', "; "))
            .shell(format!(
                "printf '{}' > /proc/self/timens_offsets",
                text.replace('\n', "\\n")
            ))
            .why("The offsets of CLOCK_BOOTTIME and CLOCK_MONOTONIC can be written only while no process is in the new time namespace yet.")
            .man("time_namespaces(7)")
            .run(|| {
                std::fs::write("/proc/self/timens_offsets", &text).map_err(|e| {
                    let hint = if e.raw_os_error() == Some(libc::ERANGE) {
                        ": an offset may not take a clock below zero (nor past its limit); give --boottime/--monotonic no lower than minus the host's uptime (see /proc/uptime)"
                    } else {
                        ""
                    };
                    anyhow::Error::new(e).context(format!("write /proc/self/timens_offsets{hint}"))
                })
            })?;
    }
    let (parent_chan, child_chan) = sync::pair()?;
    // Signals that arrive while the child runs are read from a signalfd and
    // forwarded; block them now so none is lost. The child unblocks them.
    let mut forwarded = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        forwarded.add(s);
    }
    let mut old_mask = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded), Some(&mut old_mask))
        .context("sigprocmask(2)")?;
    let flags = ns.clone_flags();
    let flag_names: Vec<&str> = ns
        .new_types()
        .into_iter()
        .filter(|t| t.clone_flag() & flags != 0)
        .map(|t| t.clone_flag_name())
        .chain(std::iter::once("CLONE_PIDFD"))
        .collect();
    let parent_end = parent_chan.raw_fd();
    let id_map = spec.id_map.filter(|_| ns.is_new(NsType::User));
    let inherit_stdio = matches!(spec.stdio, Stdio::Inherit);
    let argv = spec.argv.clone();
    let argv0 = argv[0].clone();
    let clone_step = Step::new(M, Action::Process, format!("clone {argv0}"))
        .arg("flags", flag_names.join("|"))
        .shell(if ns.new_types().is_empty() {
            let joins: Vec<String> = ns
                .joins()
                .iter()
                .map(|(t, p)| format!("{}={}", t.nsenter_long(), p.display()))
                .collect();
            format!("nsenter {} --", joins.join(" "))
        } else {
            ns.unshare_shell()
        })
        .why("clone3(2) creates the child directly inside the new namespaces (a new pid namespace only applies to children, so CMD becomes its PID 1) and returns a pidfd that names exactly this child.")
        .man("clone(2)");
    if crate::trace::dry_run() {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
        return plan(clone_step, &spec, id_map);
    }
    let forked = clone_step.run(move || {
        // SAFETY: glassbox is single-threaded here; the child only runs
        // child::main, which execs or _exits, so it never returns into
        // this step (which would report the clone a second time).
        match unsafe { clone3(flags) }.context("clone3(2)")? {
            Forked::Child => {
                let _ = nix::unistd::close(parent_end);
                child::main(spec, child_chan, child_joins)
            }
            parent => Ok(Some(parent)),
        }
    });
    let (pid, pidfd) = match forked {
        Ok(Some(Forked::Parent { pid, pidfd })) => (pid, pidfd),
        Ok(_) => {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            bail!(DRY_RUN_DONE)
        }
        Err(e) => {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            return Err(e);
        }
    };
    let mut child = Child::new(pid, pidfd, old_mask);
    match handshake(
        &mut child,
        id_map,
        inherit_stdio,
        &argv,
        hooks,
        &parent_chan,
    ) {
        Ok(()) => Ok(child),
        Err(e) => {
            // Nothing may survive a failed start.
            let _ = send_signal(
                &child.pidfd,
                child.pid,
                libc::SIGKILL,
                super::process::KILL_WHY,
            );
            let _ = child.reap();
            Err(e)
        }
    }
}

/// Refuse to join anything but a namespace file of kind `t`: a pin
/// unmounted behind glassbox's back is a plain file, and the command must
/// never run in glassbox's own namespace instead of the one asked for.
fn check_joinable(t: NsType, path: &std::path::Path, fd: &OwnedFd) -> Result<()> {
    let kind = Step::new(
        M,
        Action::FileRead,
        format!("check that {} is a {t} namespace", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("stat -f -c %T {}", path.display()))
    .why("A namespace file lives on nsfs (statfs(2)) and the ioctl NS_GET_NSTYPE names its kind: setns(2) is given only the kind asked for.")
    .man("ioctl_ns(2)")
    .detail()
    .observe(|| super::inode::ns_type_of_fd(fd.as_fd()))?;
    match kind {
        Some(k) if k == t => Ok(()),
        Some(k) => bail!(
            "{} is a {k} namespace, not a {t} one: refusing to join it as the {t} namespace",
            path.display()
        ),
        None => bail!(
            "{} is not a namespace file (its filesystem is not nsfs): refusing to run the command without its {t} namespace",
            path.display()
        ),
    }
}

/// `--dry-run`: list the steps of both sides without doing any of them.
fn plan(clone_step: Step, spec: &Spec, id_map: Option<super::spec::IdMap>) -> Result<Child> {
    clone_step.run(|| Ok(()))?;
    if let Some(map) = id_map {
        for (file, line) in [("uid_map", map.uid_line()), ("gid_map", map.gid_line())] {
            crate::host::write_file_step(
                M,
                std::path::Path::new(&format!("/proc/PID/{file}")),
                &line,
            )
            .run(|| Ok(()))?;
        }
    }
    child::setup(spec, &[])?;
    Step::new(M, Action::Process, format!("exec {}", spec.argv[0]))
        .shell(format!(
            "exec {}",
            spec.argv
                .iter()
                .map(|a| crate::host::shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        ))
        .man("execve(2)")
        .run(|| Ok(()))?;
    bail!(DRY_RUN_DONE)
}

fn handshake(
    child: &mut Child,
    id_map: Option<super::spec::IdMap>,
    inherit_stdio: bool,
    argv: &[String],
    hooks: &mut dyn Hooks,
    chan: &sync::Channel,
) -> Result<()> {
    let pid = child.pid;
    if let Some(map) = id_map {
        for (file, line) in [("uid_map", map.uid_line()), ("gid_map", map.gid_line())] {
            let path = std::path::PathBuf::from(format!("/proc/{pid}/{file}"));
            crate::host::write_file(
                M,
                &path,
                &line,
                "Only the parent, outside, can write the map: `0 OUTSIDE COUNT` makes root inside the namespace an unprivileged id outside.",
            )?;
            let shown = std::fs::read_to_string(&path).unwrap_or_default();
            crate::trace::say(
                M,
                format!(
                    "{file}: {}",
                    shown.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
            );
        }
    }
    hooks.created(pid)?;
    chan.send(&Msg::Go)?;
    match chan.recv()? {
        Some(Msg::Ready) => {}
        Some(Msg::Error { message, code }) => return Err(anyhow!(ChildError { message, code })),
        other => bail!("the child died during setup (handshake got {other:?})"),
    }
    hooks.ready(pid)?;
    if inherit_stdio && Child::stdin_is_tty() {
        take_terminal(child)?;
    }
    let shell = argv
        .iter()
        .map(|a| crate::host::shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    Step::new(M, Action::Process, format!("exec {}", argv[0]))
        .arg("pid", pid)
        .arg("argv", &shell)
        .shell(format!("exec {shell}"))
        .why("execve(2) replaces the child's program with CMD in place: same pid, same namespaces, same root; the handshake socket is close-on-exec, so the parent sees end-of-file when it succeeds.")
        .man("execve(2)")
        .run(|| {
            chan.send(&Msg::Exec)?;
            match chan.recv()? {
                None => Ok(()),
                Some(Msg::Error { message, code }) => Err(anyhow!(ChildError { message, code })),
                Some(other) => bail!("handshake: unexpected {other:?} after exec"),
            }
        })
}
