//! The running container process seen from its parent: wait for it while
//! forwarding signals, give it the terminal and take the terminal back, and
//! turn its end into an exit code the way a shell does. Read `wait(2)`,
//! `pidfd_open(2)`, `signalfd(2)`, `tcsetpgrp(3)`.

use std::io::IsTerminal as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::clone::send_signal;
use crate::trace::{Action, Mechanism, Step};

const M: Mechanism = Mechanism::Ns;

/// Why a child glassbox gives up on is killed.
pub(super) const KILL_WHY: &str = "glassbox is giving up on this child (its start failed, or glassbox is leaving early): nothing it started may outlive it.";

/// A running container process.
pub struct Child {
    pub pid: Pid,
    pub pidfd: OwnedFd,
    /// The terminal's foreground group to give back after the child exits.
    restore_tty: Option<Pid>,
    old_mask: SigSet,
    /// The child shares our process group (no terminal): a Ctrl-C reaches
    /// it directly, so we must not forward it a second time.
    same_pgrp: bool,
    reaped: bool,
}

impl Child {
    /// A child just cloned; `old_mask` is the signal mask to restore.
    pub(super) fn new(pid: Pid, pidfd: OwnedFd, old_mask: SigSet) -> Child {
        Child {
            pid,
            pidfd,
            restore_tty: None,
            old_mask,
            same_pgrp: true,
            reaped: false,
        }
    }

    /// Does glassbox hold a terminal that CMD could take?
    pub(super) fn stdin_is_tty() -> bool {
        std::io::stdin().is_terminal()
    }
}

/// Make the child the terminal's foreground process group, so Ctrl-C and
/// job control reach CMD and not glassbox.
pub(super) fn take_terminal(child: &mut Child) -> Result<()> {
    let tty = std::io::stdin();
    let ours = nix::unistd::tcgetpgrp(tty.as_fd()).context("tcgetpgrp(3)")?;
    if ours != nix::unistd::getpgrp() {
        // We run in the background (`glassbox ... &`): the terminal is not
        // ours to give.
        return Ok(());
    }
    Step::new(M, Action::Process, format!("give the terminal to process group {}", child.pid))
        .arg("pid", child.pid)
        .shell("(done by an interactive shell for each job)")
        .why("Only the terminal's foreground process group receives Ctrl-C and may read it, so CMD gets its own group and the terminal.")
        .man("tcsetpgrp(3)")
        .detail()
        .run(|| {
            // A background process writing tcsetpgrp gets SIGTTOU: ignore it.
            // SAFETY: setting a disposition to SIG_IGN is always sound.
            unsafe { nix::sys::signal::signal(Signal::SIGTTOU, SigHandler::SigIgn) }
                .context("signal(2) SIGTTOU")?;
            nix::unistd::setpgid(child.pid, child.pid).context("setpgid(2)")?;
            nix::unistd::tcsetpgrp(tty.as_fd(), child.pid).context("tcsetpgrp(3)")
        })?;
    child.restore_tty = Some(ours);
    child.same_pgrp = false;
    Ok(())
}

/// How a process ended, as a shell reports it: its exit code, or 128+N for
/// signal N.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

impl Child {
    /// Wait for the child to exit, forwarding SIGINT, SIGTERM, SIGHUP and
    /// SIGQUIT to it. Returns the exit code (128+N for signal N).
    pub fn wait(mut self) -> Result<i32> {
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ] {
            mask.add(s);
        }
        let sfd = nix::sys::signalfd::SignalFd::with_flags(
            &mask,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
        )
        .context("signalfd(2)")?;
        loop {
            let pidfd_b: BorrowedFd = self.pidfd.as_fd();
            let mut fds = [
                nix::poll::PollFd::new(pidfd_b, nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(sfd.as_fd(), nix::poll::PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("poll(2) on the child's pidfd"),
            }
            let child_done = fds[0].any().unwrap_or(false);
            let signalled = fds[1].any().unwrap_or(false);
            if signalled {
                while let Ok(Some(info)) = sfd.read_signal() {
                    let sig = info.ssi_signo as i32;
                    // With a shared process group the terminal already sent
                    // SIGINT/SIGQUIT to the child too.
                    let from_tty = matches!(sig, libc::SIGINT | libc::SIGQUIT);
                    if !(self.same_pgrp && from_tty) {
                        // The child may have exited meanwhile: nothing to forward to.
                        let _ = send_signal(
                            &self.pidfd,
                            self.pid,
                            sig,
                            "glassbox stands between the caller and CMD: a signal sent to glassbox (kill, Ctrl-C on another terminal) is passed on to CMD, which decides what it means.",
                        );
                    }
                }
            }
            if child_done {
                return self.reap();
            }
        }
    }

    /// Collect the exit status; give the terminal and signals back.
    pub(super) fn reap(&mut self) -> Result<i32> {
        let status = loop {
            match waitpid(self.pid, None) {
                Ok(s) => {
                    if let Some(code) = exit_code(s) {
                        break code;
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("waitpid(2)"),
            }
        };
        self.reaped = true;
        if let Some(pgrp) = self.restore_tty.take() {
            // Still ignoring SIGTTOU: we are a background group until this
            // call returns the terminal to us.
            let _ = nix::unistd::tcsetpgrp(std::io::stdin().as_fd(), pgrp);
            // SAFETY: restoring the default disposition is always sound.
            let _ = unsafe { nix::sys::signal::signal(Signal::SIGTTOU, SigHandler::SigDfl) };
        }
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
        Ok(status)
    }

    pub fn pidfd_raw(&self) -> i32 {
        self.pidfd.as_raw_fd()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = send_signal(&self.pidfd, self.pid, libc::SIGKILL, KILL_WHY);
            let _ = self.reap();
        }
    }
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
}
