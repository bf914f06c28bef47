//! `clone3(2)`: create the child in its new namespaces in one call, and get
//! a pidfd for it (`CLONE_PIDFD`), a file descriptor that names exactly
//! this process, so signals and waits can never hit a recycled pid.
//!
//! With no stack given, `clone3` behaves like `fork(2)`: the child continues
//! from the same point with a copy of the memory. That is only sound in a
//! single-threaded process, which glassbox is at this point.

use std::os::fd::{FromRawFd, OwnedFd};

use anyhow::Result;
use nix::unistd::Pid;

use crate::trace::{Action, Mechanism, Step};

/// `struct clone_args` from `linux/sched.h` (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of the clone we are on.
pub enum Forked {
    Parent { pid: Pid, pidfd: OwnedFd },
    Child,
}

/// `clone3({flags | CLONE_PIDFD, exit_signal = SIGCHLD})`.
///
/// # Safety
/// The caller must be single-threaded, and the child must only exec or
/// `_exit` (never return into code that assumes it is the parent).
pub unsafe fn clone3(flags: u64) -> Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: args is a valid clone_args of the size we pass; with stack 0
    // the kernel gives the child a copy of our stack (fork semantics), and
    // the caller guarantees we are single-threaded.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(std::io::Error::last_os_error().into()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: Pid::from_raw(pid as i32),
            // SAFETY: the kernel just gave us this fd (CLONE_PIDFD); we own it.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}

/// Send `sig` to the process behind `pidfd`, as a traced step (a detail
/// step, shown at `-vv`): a signal changes another process, so it is a
/// step like any other change glassbox makes.
pub fn send_signal(pidfd: &OwnedFd, pid: Pid, sig: i32, why: &str) -> Result<()> {
    let name = signal_name(sig);
    Step::new(
        Mechanism::Ns,
        Action::Process,
        format!("send {name} to process {pid}"),
    )
    .arg("pid", pid)
    .arg("signal", &name)
    .shell(format!("kill -{} {pid}", name.trim_start_matches("SIG")))
    .why(why)
    .man("pidfd_send_signal(2)")
    .detail()
    .run(|| pidfd_kill(pidfd, sig))
}

/// `SIGTERM` for 15 (the number itself when it is no signal).
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| sig.to_string())
}

/// `pidfd_send_signal(2)`: signal exactly the process behind `pidfd`.
pub fn pidfd_kill(pidfd: &OwnedFd, sig: i32) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall with a valid fd, a signal number, no siginfo.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret == -1 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(());
        }
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_named() {
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
        assert_eq!(signal_name(1000), "1000");
    }
}
