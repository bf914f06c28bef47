//! Start a command inside a group, wait for it, and tell an OOM kill
//! from any other death.
//!
//! glassbox forks; the child waits on a pipe until the parent has written
//! its pid into the group's `cgroup.procs` (in every hierarchy), then
//! execs the command, so not one instruction of the command runs outside
//! the group. When the command dies of SIGKILL and the group's `oom_kill`
//! counter went up meanwhile, the OOM killer did it: status 137, as
//! Docker reports `OOMKilled`. Read `fork(2)`, `execve(2)`, `wait(2)`.

use std::ffi::CString;
use std::os::fd::AsRawFd;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::Group;
use crate::trace::{self, Action, Mechanism, Step};

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub pid: u32,
    /// The shell-style status: the exit code, or 128 + signal.
    pub status: i32,
    pub signal: Option<i32>,
    /// The group's OOM killer struck while the command ran.
    pub oom_kills: u64,
    pub oom_killed: bool,
}

/// Docker's codes for a command that cannot be run.
const NOT_EXECUTABLE: i32 = 126;
const NOT_FOUND: i32 = 127;

/// Decide how to report a finished command (pure).
pub fn classify(pid: u32, status: WaitStatus, oom_before: u64, oom_after: u64) -> Exit {
    let oom_kills = oom_after.saturating_sub(oom_before);
    let (code, signal) = match status {
        WaitStatus::Exited(_, c) => (c, None),
        WaitStatus::Signaled(_, s, _) => (128 + s as i32, Some(s as i32)),
        _ => (1, None),
    };
    let oom_killed = signal == Some(Signal::SIGKILL as i32) && oom_kills > 0;
    Exit {
        pid,
        status: code,
        signal,
        oom_kills,
        oom_killed,
    }
}

/// The signals glassbox passes on to the command while it waits (as
/// `docker run` does), plus SIGCHLD to learn that the command ended.
fn waited_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    set
}

/// Wait for `pid`, passing SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to glassbox
/// on to it, so that killing glassbox does not leave the command running
/// in the group. The signals must already be blocked (before the fork).
fn wait_forwarding(pid: Pid) -> Result<WaitStatus> {
    let set = waited_signals();
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(s) => return Ok(s),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waitpid(2)"),
        }
        // SAFETY: a zeroed siginfo_t is a valid out-buffer.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: set is a valid sigset_t and info a writable siginfo_t.
        let sig = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
        if sig < 0 {
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(e).context("sigwaitinfo(2)");
        }
        if sig == libc::SIGCHLD {
            continue;
        }
        // Ctrl-C on the terminal (sent by the kernel to the whole process
        // group) already reached the command, which shares our group.
        let from_tty =
            info.si_code == libc::SI_KERNEL && matches!(sig, libc::SIGINT | libc::SIGQUIT);
        if !from_tty && let Ok(s) = Signal::try_from(sig) {
            let _ = nix::sys::signal::kill(pid, s);
        }
    }
}

/// Run `argv` inside `group` and wait for it.
pub fn run(group: &Group, argv: &[String]) -> Result<Exit> {
    if argv.is_empty() {
        bail!("no command given: `glassbox cgroup run NAME -- CMD [ARGS...]`");
    }
    let cargs: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).context("a command argument contains a NUL byte"))
        .collect::<Result<_>>()?;
    let oom_before = group.oom_kills();
    let (read_end, write_end) =
        nix::unistd::pipe().context("pipe(2) to hold the child until it is in the cgroup")?;
    let wfd = write_end.as_raw_fd();
    let shell = argv
        .iter()
        .map(|a| crate::host::shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let mut old_mask = SigSet::empty();
    let pid = Step::new(Mechanism::Cgroup, Action::Process, format!("start {} (held until it is in the group)", argv[0]))
        .arg("argv", format!("{argv:?}"))
        .shell(format!("sh -c 'echo $$ > cgroup.procs && exec {shell}'"))
        .why("The child is forked, moved into the group, and only then execs the command, so all of it runs under the limits.")
        .man("fork(2)")
        .run(|| {
            // Block the signals to pass on before forking, so none is lost
            // between the fork and the wait.
            nix::sys::signal::sigprocmask(
                SigmaskHow::SIG_BLOCK,
                Some(&waited_signals()),
                Some(&mut old_mask),
            )
            .context("sigprocmask(2)")?;
            // SAFETY: glassbox is single-threaded here; the child only
            // reads a pipe, then execs or exits.
            let forked = unsafe { fork() }.context("fork(2)");
            if forked.is_err() {
                let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            }
            match forked? {
                ForkResult::Child => {
                    // The command gets the signal mask glassbox started with.
                    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
                    // SAFETY: closing our copy of the write end, so the read sees EOF if the parent dies.
                    unsafe { libc::close(wfd) };
                    let mut b = [0u8; 1];
                    let got = nix::unistd::read(&read_end, &mut b);
                    if !matches!(got, Ok(1)) {
                        // The parent gave up: do not run outside the group.
                        unsafe { libc::_exit(1) };
                    }
                    let err = nix::unistd::execvp(&cargs[0], &cargs).unwrap_err();
                    eprintln!("glassbox: error: exec {}: {err}", argv[0]);
                    let code = if err == nix::errno::Errno::ENOENT { NOT_FOUND } else { NOT_EXECUTABLE };
                    // SAFETY: leave the forked child without running the parent's destructors.
                    unsafe { libc::_exit(code) };
                }
                ForkResult::Parent { child } => Ok(child.as_raw() as u32),
            }
        })?;
    if trace::dry_run() {
        return Ok(Exit {
            pid: 0,
            status: 0,
            signal: None,
            oom_kills: 0,
            oom_killed: false,
        });
    }
    drop(read_end);
    let restore = || {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
    };
    if let Err(e) = group.add(pid) {
        drop(write_end);
        let _ = waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
        restore();
        return Err(e);
    }
    if let Err(e) = nix::unistd::write(&write_end, b"g") {
        drop(write_end);
        let _ = waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
        restore();
        return Err(e).context("release the child");
    }
    drop(write_end);
    let status = Step::new(
        Mechanism::Cgroup,
        Action::Process,
        format!("wait for process {pid}"),
    )
    .arg("pid", pid)
    .man("wait(2)")
    .detail()
    .observe(|| wait_forwarding(Pid::from_raw(pid as i32)));
    restore();
    let status = status?;
    let exit = classify(pid, status, oom_before, group.oom_kills());
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::Pid;

    #[test]
    fn sigkill_with_an_oom_kill_is_oom() {
        let p = Pid::from_raw(7);
        let e = classify(7, WaitStatus::Signaled(p, Signal::SIGKILL, false), 0, 1);
        assert!(e.oom_killed);
        assert_eq!(e.status, 137);
        let e = classify(7, WaitStatus::Signaled(p, Signal::SIGKILL, false), 1, 1);
        assert!(!e.oom_killed, "a plain kill -9 is not an OOM kill");
        let e = classify(7, WaitStatus::Exited(p, 1), 0, 1);
        assert!(!e.oom_killed, "a child was killed, the command survived");
        assert_eq!(e.oom_kills, 1);
        assert_eq!(classify(7, WaitStatus::Exited(p, 0), 0, 0).status, 0);
    }
}
