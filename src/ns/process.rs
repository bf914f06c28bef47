//! The running container process seen from its parent: signal it, wait for
//! it, give it the terminal and take the terminal back, and turn its end
//! into an exit code the way a shell (and Docker) does.
//!
//! Waiting belongs to whoever holds the [`Child`]: `ns run` waits through
//! [`super::signals::Forwarder::wait`]; a shim polls the child's pidfd in
//! its own loop. Read `wait(2)`, `pidfd_open(2)`, `tcsetpgrp(3)`.

use std::io::IsTerminal as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result};
use nix::sys::signal::{SigHandler, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::clone::send_signal;
use crate::trace::{Action, Mechanism, Step};

const M: Mechanism = Mechanism::Ns;

/// Why a child glassbox gives up on is killed.
pub(super) const KILL_WHY: &str = "glassbox is giving up on this child (its start failed, or glassbox is leaving early): nothing it started may outlive it.";

/// Docker's exit codes for a command that never ran.
pub const EXIT_SETUP: u8 = 125;
pub const EXIT_CANNOT_INVOKE: u8 = 126;
pub const EXIT_NOT_FOUND: u8 = 127;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It called `exit(code)`.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// From what `waitpid(2)` said; `None` for a stop or a continue.
    pub fn from_wait(status: WaitStatus) -> Option<Exit> {
        match status {
            WaitStatus::Exited(_, code) => Some(Exit::Code(code)),
            WaitStatus::Signaled(_, sig, _) => Some(Exit::Signal(sig as i32)),
            _ => None,
        }
    }

    /// The status a shell reports: the exit code, or 128+N for signal N.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// How a run of a container process ended, as glassbox reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `--dry-run`: the plan was listed, nothing was started.
    Planned,
    /// CMD ran and ended.
    Ran(Exit),
    /// CMD never ran: its setup failed (125), it cannot be invoked (126)
    /// or it was not found (127); `message` says which, in Docker's words.
    NotStarted { message: String, code: u8 },
}

impl Outcome {
    /// The exit code glassbox leaves with: 0 for a plan, CMD's own code,
    /// 128+N when signal N killed it, 125/126/127 when it never ran.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Planned => 0,
            Outcome::Ran(e) => e.status().clamp(0, 255) as u8,
            Outcome::NotStarted { code, .. } => *code,
        }
    }
}

/// How a process ended, as a shell reports it: its exit code, or 128+N for
/// signal N.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    Exit::from_wait(status).map(Exit::status)
}

/// A running container process. Dropped before it was waited for, it is
/// killed and reaped: nothing glassbox started outlives it by accident.
pub struct Child {
    pid: Pid,
    pidfd: OwnedFd,
    /// The terminal's foreground group to give back after the child exits.
    restore_tty: Option<Pid>,
    reaped: Option<Exit>,
    /// The master of the terminal the child opened in its own devpts.
    console: Option<OwnedFd>,
}

impl Child {
    /// A child just cloned.
    pub(super) fn new(pid: Pid, pidfd: OwnedFd) -> Child {
        Child {
            pid,
            pidfd,
            restore_tty: None,
            reaped: None,
            console: None,
        }
    }

    pub(super) fn set_console(&mut self, master: OwnedFd) {
        self.console = Some(master);
    }

    /// The master of the child's terminal, once (`-t`).
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// A file descriptor naming exactly this process: readable once it has
    /// exited (poll it), usable to signal it without pid reuse races.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Send signal `sig` (a traced step, shown at `-vv`).
    pub fn signal(&self, sig: i32, why: &str) -> Result<()> {
        send_signal(&self.pidfd, self.pid, sig, why)
    }

    /// Reap the child if it has exited; `None` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<Exit>> {
        if let Some(e) = self.reaped {
            return Ok(Some(e));
        }
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(s) => {
                    if let Some(e) = Exit::from_wait(s) {
                        return Ok(Some(self.reaped_as(e)));
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context(format!("waitpid(2) {}", self.pid)),
            }
        }
    }

    /// Block until the child exits and reap it; the terminal goes back to
    /// glassbox. Signals are not passed on here (see
    /// [`super::signals::Forwarder::wait`]).
    pub fn wait(&mut self) -> Result<Exit> {
        if let Some(e) = self.reaped {
            return Ok(e);
        }
        loop {
            match waitpid(self.pid, None) {
                Ok(s) => {
                    if let Some(e) = Exit::from_wait(s) {
                        return Ok(self.reaped_as(e));
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context(format!("waitpid(2) {}", self.pid)),
            }
        }
    }

    fn reaped_as(&mut self, e: Exit) -> Exit {
        self.reaped = Some(e);
        if let Some(pgrp) = self.restore_tty.take() {
            // Still ignoring SIGTTOU: we are a background group until this
            // call returns the terminal to us.
            let _ = nix::unistd::tcsetpgrp(std::io::stdin().as_fd(), pgrp);
            // SAFETY: restoring the default disposition is always sound.
            let _ = unsafe { nix::sys::signal::signal(Signal::SIGTTOU, SigHandler::SigDfl) };
        }
        e
    }

    /// Kill and reap a child glassbox gives up on.
    pub(super) fn abandon(&mut self) {
        if self.reaped.is_none() {
            let _ = send_signal(&self.pidfd, self.pid, libc::SIGKILL, KILL_WHY);
            let _ = self.wait();
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// Does glassbox hold a terminal on stdin that CMD could take?
pub(super) fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Would [`take_terminal`] hand the terminal over: glassbox's stdin is a
/// terminal and glassbox is its foreground process group?
pub(super) fn would_take_terminal() -> bool {
    let tty = std::io::stdin();
    tty.is_terminal()
        && nix::unistd::tcgetpgrp(tty.as_fd()).is_ok_and(|g| g == nix::unistd::getpgrp())
}

/// The step of the terminal hand-over to process group `pid`.
pub(super) fn terminal_step(pid: &str) -> Step {
    Step::new(M, Action::Process, format!("give the terminal to process group {pid}"))
        .arg("pid", pid)
        .shell("(done by an interactive shell for each job)")
        .why("Only the terminal's foreground process group receives Ctrl-C and may read it, so CMD gets its own group and the terminal.")
        .man("tcsetpgrp(3)")
        .detail()
}

/// Make the child the terminal's foreground process group, so Ctrl-C and
/// job control reach CMD and not glassbox.
pub(super) fn take_terminal(child: &mut Child) -> Result<()> {
    let tty = std::io::stdin();
    // ENOTTY: a terminal, but not the controlling terminal of glassbox's
    // session (a VM's console, a service given a tty): not ours to give.
    let Ok(ours) = nix::unistd::tcgetpgrp(tty.as_fd()) else {
        return Ok(());
    };
    if ours != nix::unistd::getpgrp() {
        // We run in the background (`glassbox ... &`): the terminal is not
        // ours to give.
        return Ok(());
    }
    let pid = child.pid;
    terminal_step(&pid.to_string()).run(|| {
        // A background process writing tcsetpgrp gets SIGTTOU: ignore it.
        // SAFETY: setting a disposition to SIG_IGN is always sound.
        unsafe { nix::sys::signal::signal(Signal::SIGTTOU, SigHandler::SigIgn) }
            .context("signal(2) SIGTTOU")?;
        nix::unistd::setpgid(pid, pid).context("setpgid(2)")?;
        nix::unistd::tcsetpgrp(tty.as_fd(), pid).context("tcsetpgrp(3)")
    })?;
    child.restore_tty = Some(ours);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        let p = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            Some(137)
        );
    }

    #[test]
    fn outcomes_map_to_docker_exit_codes() {
        assert_eq!(Outcome::Planned.exit_code(), 0);
        assert_eq!(Outcome::Ran(Exit::Code(0)).exit_code(), 0);
        assert_eq!(Outcome::Ran(Exit::Code(3)).exit_code(), 3);
        assert_eq!(Outcome::Ran(Exit::Signal(libc::SIGINT)).exit_code(), 130);
        assert_eq!(Outcome::Ran(Exit::Signal(libc::SIGKILL)).exit_code(), 137);
        for code in [EXIT_SETUP, EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND] {
            let o = Outcome::NotStarted {
                message: "x".into(),
                code,
            };
            assert_eq!(o.exit_code(), code);
        }
    }
}
