//! The parent's side of starting a container process: a [`Spec`] in, a
//! running [`Child`] (pid and pidfd) out, or under `--dry-run` the plan of
//! every step both sides would take.
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
//!    terminal's foreground group goes to the child when it shares
//!    glassbox's terminal, the parent says `Exec`, the child execs, and
//!    [`Hooks::started`] runs.
//!
//! The child's stdio is what the [`Spec`] gives it: glassbox's own, given
//! descriptors (pipes), or a pty slave that becomes its controlling
//! terminal. Its signal mask and dispositions are reset before exec. The
//! waiting is the caller's: `ns run` waits in [`run`] while it passes
//! signals on; a shim waits in its own loop. Read `clone(2)`,
//! `user_namespaces(7)`, `time_namespaces(7)`.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::child;
use super::clone::{Forked, clone3};
use super::kind::{Namespaces, NsType};
use super::process::{
    Child, Outcome, stdin_is_tty, take_terminal, terminal_step, would_take_terminal,
};
use super::signals::Forwarder;
use super::spec::{IdMap, Spec, Stdio};
use super::sync::{self, Msg};
use crate::host::shell_quote;
use crate::trace::{Action, Done, Mechanism, Step};

const M: Mechanism = Mechanism::Ns;

/// Callbacks at the fixed points of the handshake. Each gets the child's
/// pid, or `None` in a `--dry-run` plan (no child exists; the hook lists
/// the steps it would take).
pub trait Hooks {
    /// The child exists in its namespaces and waits: place it in cgroups,
    /// give it a network. Its uid/gid maps are already written.
    fn created(&mut self, _pid: Option<Pid>) -> Result<()> {
        Ok(())
    }
    /// The child has set up its root and waits to exec.
    fn ready(&mut self, _pid: Option<Pid>) -> Result<()> {
        Ok(())
    }
    /// CMD has been exec'd: commit what was made for it. An error kills it.
    fn started(&mut self, _pid: Option<Pid>) -> Result<()> {
        Ok(())
    }
    /// The child opened its terminal (a container with a console) and sent
    /// the master: set its window size before CMD starts.
    fn console(&mut self, _master: &OwnedFd) -> Result<()> {
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

/// Start `spec`, pass on the signals other processes send glassbox while
/// CMD runs, and wait for it: the whole of `ns run` and `cgroup run`.
pub fn run(spec: Spec, hooks: &mut dyn Hooks) -> Result<Outcome> {
    let forwarder = Forwarder::new()?;
    match spawn(spec, hooks) {
        Ok(Done::Planned) => Ok(Outcome::Planned),
        Ok(Done::Ran(mut child)) => Ok(Outcome::Ran(forwarder.wait(&mut child)?)),
        Err(e) => match e.downcast::<ChildError>() {
            Ok(ce) => Ok(Outcome::NotStarted {
                message: ce.message,
                code: ce.code,
            }),
            Err(e) => Err(e),
        },
    }
}

/// Start the process described by `spec` and return it running, or
/// [`Done::Planned`] once a `--dry-run` plan is listed. A start that fails
/// leaves no process behind; when CMD cannot run the error is a
/// [`ChildError`] with Docker's exit code.
pub fn spawn(mut spec: Spec, hooks: &mut dyn Hooks) -> Result<Done<Child>> {
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
        // A root an earlier step of this plan would mount is not there to
        // look into: its path is planned as it is.
        let unmade = spec.rootfs_planned && crate::trace::dry_run() && !root.exists();
        let root = if unmade {
            root.clone()
        } else {
            super::rootfs::absolute(root)?
        };
        // Look for CMD before anything is mounted or created, so a rootfs
        // without it fails cleanly (the child checks again after pivot_root).
        // A program bound in (`--init`'s /sbin/docker-init) is there once
        // the mounts are made.
        let bound = spec
            .mounts
            .iter()
            .any(|m| m.target.as_os_str() == spec.argv[0].as_str());
        if !unmade && !bound && !super::child::findable_in(&root, &spec.argv[0], &spec.path_var()) {
            return Err(anyhow!(ChildError {
                message: super::child::not_found_message(&spec.argv[0]),
                code: super::child::EXIT_NOT_FOUND,
            }));
        }
        spec.rootfs = Some(root);
    }
    let ns = spec.namespaces.clone();
    let privileged = !ns.new_types().is_empty() || !ns.joins().is_empty();
    // Open every namespace to join now, while /proc is ours.
    let mut parent_joins = Vec::new();
    let mut child_joins = Vec::new();
    for (t, path) in ns.joins() {
        let fd = open_joinable(t, &path)?;
        if t == NsType::User
            && fd.is_some()
            && super::inode::inode_of(&path)? == super::inode::inode(None, t)?
        {
            continue; // already there: setns would fail with EINVAL
        }
        let j = child::Join { ns: t, path, fd };
        if matches!(t, NsType::Pid | NsType::Time) {
            parent_joins.push(j);
        } else {
            child_joins.push(j);
        }
    }
    // pid and time namespaces apply to children only: join them here, the
    // child is born inside.
    for j in &parent_joins {
        let t = j.ns;
        Step::new(M, Action::Syscall, format!("join the {t} namespace for the next child"))
            .arg("type", t)
            .arg("path", j.path.display())
            .arg("flags", t.clone_flag_name())
            .shell(format!("nsenter {}={}", t.nsenter_long(), j.path.display()))
            .why("Joining a pid or time namespace changes only where this process's children are born, so glassbox joins it and then forks.")
            .man("setns(2)")
            .run(|| {
                require_sys_admin("joining namespaces")?;
                let fd = j.fd.as_ref().with_context(|| format!("{} was not opened", j.path.display()))?;
                nix::sched::setns(fd.as_fd(), CloneFlags::from_bits_retain(t.clone_flag() as i32))
                    .with_context(|| format!("setns(2) {}", t.clone_flag_name()))
            })?;
    }
    if ns.is_new(NsType::Time) {
        unshare_time(&spec)?;
    }
    let (parent_chan, child_chan) = sync::pair()?;
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
    let mut clone_step = Step::new(M, Action::Process, format!("clone {}", spec.argv[0]))
        .arg("flags", flag_names.join("|"))
        .why(if privileged {
            "clone3(2) creates the child directly inside the new namespaces (a new pid namespace only applies to children, so CMD becomes its PID 1) and returns a pidfd that names exactly this child."
        } else {
            "With no namespace to create or join, clone3(2) is a plain fork that also returns a pidfd naming exactly this child; CMD is exec'd in it once the parent has done its part."
        })
        .man("clone(2)");
    if let Some(shell) = clone_shell(&ns) {
        clone_step = clone_step.shell(shell);
    }
    let inherit_stdio = matches!(spec.stdio, Stdio::Inherit);
    let argv = spec.argv.clone();
    let plan_spec = PlanSpec {
        argv: argv.clone(),
        id_map,
        inherit_stdio,
    };
    // The child's copy of the spec; the parent keeps what the plan needs.
    let mut child_spec = Some(spec);
    let mut joins = Some(child_joins);
    let forked = clone_step.apply(|| {
        if privileged {
            require_sys_admin("creating and joining namespaces")?;
        }
        // SAFETY: glassbox is single-threaded here; the child only runs
        // child::main, which execs or _exits, so it never returns into
        // this step (which would report the clone a second time).
        match unsafe { clone3(flags) }.context("clone3(2)")? {
            Forked::Child => {
                let _ = nix::unistd::close(parent_end);
                let spec = child_spec.take().unwrap_or_default();
                child::main(spec, child_chan, joins.take().unwrap_or_default())
            }
            Forked::Parent { pid, pidfd } => Ok(Child::new(pid, pidfd)),
        }
    })?;
    let mut child = match forked {
        Done::Ran(child) => child,
        Done::Planned => {
            let spec = child_spec.take().unwrap_or_default();
            plan(&plan_spec, &spec, &joins.take().unwrap_or_default(), hooks)?;
            return Ok(Done::Planned);
        }
    };
    drop(child_spec);
    drop(joins);
    match handshake(&mut child, &plan_spec, hooks, &parent_chan) {
        Ok(()) => Ok(Done::Ran(child)),
        Err(e) if e.is::<ChildError>() => {
            // The child said why it cannot go on and exits by itself.
            let _ = child.wait();
            Err(e)
        }
        Err(e) => {
            // Nothing may survive a failed start.
            child.abandon();
            Err(e)
        }
    }
}

/// What the parent keeps of the spec once the child has its copy.
struct PlanSpec {
    argv: Vec<String>,
    id_map: Option<IdMap>,
    inherit_stdio: bool,
}

/// The shell line of the clone: `unshare` for the namespaces made,
/// `nsenter` for those joined, both when both; none for a plain fork.
pub fn clone_shell(ns: &Namespaces) -> Option<String> {
    let joins: Vec<String> = ns
        .joins()
        .iter()
        .map(|(t, p)| format!("{}={}", t.nsenter_long(), p.display()))
        .collect();
    let new = !ns.new_types().is_empty();
    match (joins.is_empty(), new) {
        (true, false) => None,
        (true, true) => Some(ns.unshare_shell()),
        (false, false) => Some(format!("nsenter {} --", joins.join(" "))),
        (false, true) => Some(format!(
            "nsenter {} -- {}",
            joins.join(" "),
            ns.unshare_shell()
        )),
    }
}

/// Open a namespace file to join, and check that it is one of kind `t`:
/// a pin unmounted behind glassbox's back is a plain file, and the command
/// must never run in glassbox's own namespace instead of the one asked
/// for. Under `--dry-run` without the right to open it (another user's
/// process), the plan says so and `None` is returned.
fn open_joinable(t: NsType, path: &Path) -> Result<Option<OwnedFd>> {
    let mut step = Step::new(
        M,
        Action::FileRead,
        format!("check that {} is a {t} namespace", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("stat -f -c %T {}", path.display()))
    .why("A namespace file lives on nsfs (statfs(2)) and the ioctl NS_GET_NSTYPE names its kind: setns(2) is given only the kind asked for.")
    .man("ioctl_ns(2)")
    .detail();
    if crate::trace::dry_run() && path.starts_with(super::inode::PLANNED_PROC) {
        // A plan that does not know the process: nothing to open.
        step.summary = format!("{} (not known in this plan)", step.summary);
        step.run(|| Ok(()))?;
        return Ok(None);
    }
    let opened = step.observe_or_plan(|| {
        let fd: OwnedFd = File::open(path)
            .with_context(|| {
                format!(
                    "open {} to join its {t} namespace (has the process exited?)",
                    path.display()
                )
            })?
            .into();
        let kind = super::inode::ns_type_of_fd(fd.as_fd())?;
        Ok((fd, kind))
    })?;
    let Done::Ran((fd, kind)) = opened else {
        return Ok(None);
    };
    match kind {
        Some(k) if k == t => Ok(Some(fd)),
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

/// `unshare(CLONE_NEWTIME)` and the clock offsets, before the clone.
fn unshare_time(spec: &Spec) -> Result<()> {
    Step::new(M, Action::Syscall, "unshare a time namespace for the next child")
        .arg("flags", "CLONE_NEWTIME")
        .shell(format!(
            "unshare --time --boottime {} --monotonic {} --fork",
            spec.time_offsets.boottime, spec.time_offsets.monotonic
        ))
        .why("clone(2) cannot create a time namespace (CLONE_NEWTIME shares bits with the exit signal); unshare(2) makes one that only children enter, and its clock offsets can be set while it is still empty.")
        .man("time_namespaces(7)")
        .run(|| {
            require_sys_admin("creating namespaces")?;
            nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)).context("unshare(2) CLONE_NEWTIME")
        })?;
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
        })
}

/// The step that writes one id map of the child.
fn id_map_step(file: &str, pid: &str, line: &str) -> Step {
    crate::host::write_file_step(M, Path::new(&format!("/proc/{pid}/{file}")), line)
        .why("Only the parent, outside, can write the map: `0 OUTSIDE COUNT` makes root inside the namespace an unprivileged id outside.")
}

/// The step of the exec: the child's execve, released by the parent.
fn exec_step(argv: &[String], pid: &str) -> Step {
    let shell = argv
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    Step::new(M, Action::Process, format!("exec {}", argv[0]))
        .arg("pid", pid)
        .arg("argv", &shell)
        .shell(format!("exec {shell}"))
        .why("execve(2) replaces the child's program with CMD in place: same pid, same namespaces, same root; the handshake socket is close-on-exec, so the parent sees end-of-file when it succeeds.")
        .man("execve(2)")
}

/// `--dry-run`: list the steps of both sides, in the order a real run
/// takes them, without doing any of them.
fn plan(p: &PlanSpec, spec: &Spec, joins: &[child::Join], hooks: &mut dyn Hooks) -> Result<()> {
    if let Some(map) = p.id_map {
        for (file, line) in [("uid_map", map.uid_line()), ("gid_map", map.gid_line())] {
            id_map_step(file, "PID", &line).run(|| Ok(()))?;
        }
    }
    hooks.created(None)?;
    child::setup(spec, joins)?;
    if spec.container.as_ref().is_some_and(|c| c.console) {
        super::console::setup(None, spec.rootfs.is_some())?;
    }
    child::become_user(spec)?;
    if let Err((message, code)) = child::would_resolve(spec) {
        // The child would fail here, before its Ready: so does the plan.
        return Err(anyhow!(ChildError { message, code }));
    }
    hooks.ready(None)?;
    if p.inherit_stdio && would_take_terminal() {
        terminal_step("PID").run(|| Ok(()))?;
    }
    exec_step(&p.argv, "PID").run(|| Ok(()))?;
    hooks.started(None)
}

fn handshake(
    child: &mut Child,
    p: &PlanSpec,
    hooks: &mut dyn Hooks,
    chan: &sync::Channel,
) -> Result<()> {
    let pid = child.pid();
    if let Some(map) = p.id_map {
        for (file, line) in [("uid_map", map.uid_line()), ("gid_map", map.gid_line())] {
            let path = std::path::PathBuf::from(format!("/proc/{pid}/{file}"));
            id_map_step(file, &pid.to_string(), &line).run(|| {
                std::fs::write(&path, &line).with_context(|| format!("write {}", path.display()))
            })?;
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
    hooks.created(Some(pid))?;
    chan.send(&Msg::Go)?;
    loop {
        match chan.recv_with_fd()? {
            Some((Msg::Ready, _)) => break,
            Some((Msg::Console, Some(master))) => {
                hooks.console(&master)?;
                child.set_console(master);
            }
            Some((Msg::Error { message, code }, _)) => {
                return Err(anyhow!(ChildError { message, code }));
            }
            other => bail!(
                "the child died during setup (handshake got {:?})",
                other.map(|(m, _)| m)
            ),
        }
    }
    hooks.ready(Some(pid))?;
    if p.inherit_stdio && stdin_is_tty() {
        take_terminal(child)?;
    }
    // The exec is the child's own step (its execve); the parent releases
    // it and watches: end-of-file on the close-on-exec socket means CMD
    // runs. Like the child's other steps, it is no change of glassbox's
    // own, so a crash point never falls between the release and CMD.
    exec_step(&p.argv, &pid.to_string()).observe(|| {
        chan.send(&Msg::Exec)?;
        match chan.recv()? {
            None => Ok(()),
            Some(Msg::Error { message, code }) => Err(anyhow!(ChildError { message, code })),
            Some(other) => bail!("handshake: unexpected {other:?} after exec"),
        }
    })?;
    hooks.started(Some(pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ns::kind::NsMode;

    #[test]
    fn the_clone_shell_line_says_what_is_made_and_joined() {
        let mut ns = Namespaces::default();
        assert_eq!(clone_shell(&ns), None, "a plain fork has no nsenter line");
        ns.set(NsType::Uts, NsMode::New);
        assert_eq!(clone_shell(&ns).as_deref(), Some("unshare --uts"));
        ns.set(NsType::Net, NsMode::Join("/run/x/net".into()));
        assert_eq!(
            clone_shell(&ns).as_deref(),
            Some("nsenter --net=/run/x/net -- unshare --uts")
        );
        ns.set(NsType::Uts, NsMode::Host);
        assert_eq!(
            clone_shell(&ns).as_deref(),
            Some("nsenter --net=/run/x/net --")
        );
    }
}
