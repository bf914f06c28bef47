//! Passing signals on to a container process: the one implementation that
//! `ns run`, `ns enter`, `cgroup run` (and a shim) use.
//!
//! glassbox stands between the caller and CMD. A signal that another
//! process sends to glassbox (`kill -INT`, `kill -TERM`, `sigqueue`, a
//! thread-directed `tgkill`) is meant for CMD, so it is passed on. A signal
//! that the kernel generated for a terminal (Ctrl-C, Ctrl-\, a hang-up) is
//! sent to the terminal's whole foreground process group: when CMD is in
//! that group too it already got its own copy, and forwarding ours would
//! deliver it twice. The kernel says which is which in the `ssi_code` field
//! of what `signalfd(2)` reads: `SI_USER`, `SI_QUEUE`, `SI_TKILL` for a
//! process, `SI_KERNEL` for the terminal.
//!
//! The signals are blocked (and read from the signalfd) from before the
//! child is created, so none is lost between `clone` and the wait. The
//! child unblocks them before it execs. Read `signalfd(2)`,
//! `sigaction(2)` (`siginfo_t`), `credentials(7)` (process groups).

use std::os::fd::{AsFd, BorrowedFd};

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::process::{Child, Exit};

/// The signals glassbox passes on, as `docker run` does.
pub const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// Why a signal is passed on; the `--explain` text of the send step.
const WHY: &str = "glassbox stands between the caller and CMD: a signal another process sent to glassbox (kill, sigqueue) is passed on to CMD, which decides what it means; one the terminal generated already reached CMD's process group and is not sent twice.";

/// Was a signal with this `si_code` sent by a process (`kill(2)`,
/// `sigqueue(3)`, `tgkill(2)`), and so meant to be passed on? A signal the
/// kernel generated (`SI_KERNEL`: a terminal's Ctrl-C or hang-up) is not.
pub fn sent_by_a_process(si_code: i32) -> bool {
    matches!(si_code, libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL)
}

/// The forwarded signals, blocked and readable from a signalfd for as long
/// as this value lives; the old signal mask comes back when it is dropped.
pub struct Forwarder {
    fd: SignalFd,
    old_mask: SigSet,
}

impl Forwarder {
    /// Block the forwarded signals and open a signalfd for them. Call it
    /// before the child is created, so no signal falls between.
    pub fn new() -> Result<Forwarder> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(s);
        }
        let mut old_mask = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old_mask))
            .context("sigprocmask(2) SIG_BLOCK the forwarded signals")?;
        let fd = match SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
            Ok(fd) => fd,
            Err(e) => {
                let _ =
                    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
                return Err(e).context("signalfd(2) for the forwarded signals");
            }
        };
        Ok(Forwarder { fd, old_mask })
    }

    /// The signalfd, for a caller's own poll loop (a shim).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Read every pending signal and pass on those another process sent.
    pub fn forward_pending(&self, child: &Child) -> Result<()> {
        loop {
            let info = match self.fd.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("read(2) from the signalfd"),
            };
            if sent_by_a_process(info.ssi_code) {
                // The child may have exited meanwhile: nothing to pass on to.
                let _ = child.signal(info.ssi_signo as i32, WHY);
            }
        }
    }

    /// Wait for `child` to exit, passing signals on meanwhile; reap it.
    pub fn wait(&self, child: &mut Child) -> Result<Exit> {
        loop {
            let mut fds = [
                nix::poll::PollFd::new(child.pidfd(), nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(self.fd.as_fd(), nix::poll::PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("poll(2) on the child's pidfd and the signalfd"),
            }
            let exited = fds[0].any().unwrap_or(false);
            if fds[1].any().unwrap_or(false) {
                self.forward_pending(child)?;
            }
            if exited {
                return child.wait();
            }
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // Signals still pending were meant for a child that is gone: drop
        // them rather than let them act on glassbox once unblocked.
        while let Ok(Some(_)) = self.fd.read_signal() {}
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_obeyed_and_the_terminal_is_not_repeated() {
        assert!(sent_by_a_process(libc::SI_USER), "kill(2)");
        assert!(sent_by_a_process(libc::SI_QUEUE), "sigqueue(3)");
        assert!(sent_by_a_process(libc::SI_TKILL), "tgkill(2)");
        assert!(!sent_by_a_process(libc::SI_KERNEL), "a terminal's Ctrl-C");
    }
}
