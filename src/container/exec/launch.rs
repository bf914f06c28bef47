//! Starting the exec'd process with [`crate::ns::spawn`]: glassbox makes
//! itself non-dumpable (the child inherits it, so it is non-dumpable from
//! its first instruction in the container's pid namespace), the child is
//! born in the init's pid namespace, the container's cgroup takes it
//! before it is released ([`Hooks::created`]), and glassbox goes back to
//! its own pid namespace after. A start that fails says so in Docker's
//! words ([`ExecError`]).

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result, anyhow};
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::ExecError;
use super::target::{self, Target};
use crate::cgroup::Group;
use crate::container::cgroup as ccgroup;
use crate::ns::process::Child;
use crate::ns::spawn::{ChildError, Hooks};
use crate::ns::spec::Spec;
use crate::state::Root;
use crate::trace::{Action, Done, Mechanism, Step};

/// Why a process is written to `cgroup.procs` (as the cgroup library
/// says it).
const CGROUP_WHY: &str = "A process joins a cgroup when its pid is written to cgroup.procs; its children are born there.";

/// The hooks of an exec's start: the cgroup, the terminal's size.
struct ExecHooks<'a> {
    root: &'a Root,
    target: &'a Target,
    size: (u16, u16),
}

impl Hooks for ExecHooks<'_> {
    /// The child exists, in the container's pid namespace, and waits: the
    /// init must still be the one whose namespaces were opened (a pid
    /// reused in between would have given a stranger's), then the child
    /// goes into the container's cgroup (its limits count it from now on).
    fn created(&mut self, pid: Option<Pid>) -> Result<()> {
        let name = match &self.target.rec {
            Some(rec) => rec.cgroup.clone(),
            None => ccgroup::name(self.target.id()),
        };
        let group = Group::open(self.root, &name)?;
        let Some(pid) = pid else {
            if let Some(rec) = &self.target.rec {
                target::init_alive(rec)?;
            }
            for dir in group.dirs() {
                crate::host::write_file(
                    Mechanism::Cgroup,
                    &dir.join("cgroup.procs"),
                    "PID",
                    CGROUP_WHY,
                )?;
            }
            return Ok(());
        };
        if let Some(rec) = &self.target.rec
            && !target::init_alive(rec)?
        {
            return Err(target::not_running(rec));
        }
        group.add(pid.as_raw() as u32)
    }

    fn console(&mut self, master: &OwnedFd) -> Result<()> {
        let (rows, cols) = self.size;
        if rows > 0 && cols > 0 {
            crate::ns::console::set_size(master, rows, cols)?;
        }
        Ok(())
    }
}

/// Start `spec` in `target`, its terminal `size` (rows, cols) with `-t`;
/// `detached` words a failure as `exec -d` does.
pub fn spawn(
    root: &Root,
    target: &Target,
    spec: Spec,
    size: (u16, u16),
    detached: bool,
) -> Result<Done<Child>> {
    non_dumpable()?;
    let home = own_pid_ns()?;
    let mut hooks = ExecHooks { root, target, size };
    let spawned = crate::ns::spawn::spawn(spec, &mut hooks);
    back_home(&home)?;
    spawned.map_err(|e| explain(e, target, detached))
}

/// Docker's words for a failed start: the child's own reason (126, or 127
/// for a command not found), or the container stopped in between.
fn explain(e: anyhow::Error, target: &Target, detached: bool) -> anyhow::Error {
    if super::docker_failure(&e).is_some() {
        return e;
    }
    if let Some(ce) = e.downcast_ref::<ChildError>() {
        return ExecError::start_failed(&ce.message, ce.code, detached);
    }
    match &target.rec {
        Some(rec) if !crate::container::state::init_alive(&rec.state) => target::not_running(rec),
        _ => e,
    }
}

/// `prctl(PR_SET_DUMPABLE, 0)` on glassbox itself, before the clone.
fn non_dumpable() -> Result<()> {
    Step::new(
        Mechanism::Ns,
        Action::Syscall,
        "make glassbox non-dumpable before its child joins the container",
    )
    .arg("option", "PR_SET_DUMPABLE")
    .arg("value", 0)
    .why("The child is born in the container's pid namespace and is glassbox's own binary until it execs: non-dumpable (inherited through clone), the container's processes cannot open it through /proc/PID/exe to overwrite it on the host (runc's CVE-2019-5736). execve(2) makes CMD dumpable again.")
    .man("prctl(2)")
    .run(|| {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == -1 {
            return Err(std::io::Error::last_os_error()).context("prctl(PR_SET_DUMPABLE, 0)");
        }
        Ok(())
    })
}

/// glassbox's own pid namespace, to come back to.
fn own_pid_ns() -> Result<OwnedFd> {
    let path = "/proc/self/ns/pid";
    Ok(std::fs::File::open(path)
        .with_context(|| format!("open {path}"))?
        .into())
}

/// Back to glassbox's own pid namespace for its next children: `clone(2)`
/// refuses a thread to a process whose children would be born in another
/// pid namespace than its own, and the attached session starts threads.
fn back_home(home: &OwnedFd) -> Result<()> {
    Step::new(
        Mechanism::Ns,
        Action::Syscall,
        "return to glassbox's own pid namespace",
    )
    .arg("path", "/proc/self/ns/pid")
    .arg("flags", "CLONE_NEWPID")
    .why("Joining the container's pid namespace changed only where glassbox's next children are born; going back lets glassbox start threads again (clone(2) refuses them while the two differ).")
    .man("setns(2)")
    .detail()
    .run(|| {
        nix::sched::setns(home.as_fd(), CloneFlags::CLONE_NEWPID)
            .map_err(|e| anyhow!(e))
            .context("setns(2) CLONE_NEWPID back to glassbox's own pid namespace")
    })
}
