//! Signals and `ns run` (and `cgroup run`, the same process core): what
//! another process sends glassbox is passed on to CMD, whichever way it was
//! sent (kill, sigqueue, tgkill) and even when CMD shares glassbox's
//! process group; what a terminal sends the whole foreground group (Ctrl-C)
//! already reached CMD and is not sent a second time.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{TestRoot, require_root};

/// How the test sends glassbox a signal.
#[derive(Debug, Clone, Copy)]
enum Send {
    /// `kill(2)`: si_code SI_USER.
    Kill,
    /// `sigqueue(3)`: si_code SI_QUEUE.
    Queue,
    /// `tgkill(2)`: si_code SI_TKILL.
    Tgkill,
}

fn send(how: Send, pid: u32, sig: i32) {
    let pid = pid as libc::pid_t;
    // SAFETY: plain signal-sending syscalls on a child of this test.
    let r = unsafe {
        match how {
            Send::Kill => libc::kill(pid, sig),
            Send::Queue => libc::sigqueue(
                pid,
                sig,
                libc::sigval {
                    sival_ptr: std::ptr::null_mut(),
                },
            ),
            Send::Tgkill => libc::syscall(libc::SYS_tgkill, pid, pid, sig) as i32,
        }
    };
    assert_eq!(r, 0, "{how:?}: {}", std::io::Error::last_os_error());
}

/// Wait for `child` to print its first line ("up": CMD runs).
fn wait_up(child: &mut Child) {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n");
}

/// Wait for `child` to exit within `limit`; kill it and fail otherwise.
fn exit_within(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: glassbox did not end within {limit:?}: the signal never reached CMD");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    child
        .stderr
        .as_mut()
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// `exec sleep` so that CMD is the process glassbox signals (no core
/// file for SIGQUIT).
const SLEEPER: &str = "ulimit -c 0; echo up; exec sleep 30";

#[test]
fn a_signal_another_process_sends_is_passed_on_when_cmd_shares_the_process_group() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "sig"]);
    let runs: [&[&str]; 2] = [
        &["ns", "run", "--uts", "--"],
        &["cgroup", "run", "sig", "--"],
    ];
    for run in runs {
        for (how, sig) in [
            (Send::Kill, libc::SIGINT),
            (Send::Queue, libc::SIGQUIT),
            (Send::Tgkill, libc::SIGINT),
            (Send::Kill, libc::SIGTERM),
        ] {
            let what = format!("{how:?} signal {sig} to `glassbox {}`", run.join(" "));
            // No terminal: CMD stays in glassbox's process group.
            let mut child = root
                .glassbox()
                .arg("-vv")
                .args(run)
                .args(["sh", "-c", SLEEPER])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            wait_up(&mut child);
            send(how, child.id(), sig);
            let status = exit_within(&mut child, Duration::from_secs(10), &what);
            let err = stderr_of(&mut child);
            assert_eq!(status.code(), Some(128 + sig), "{what}\n{err}");
            let name = nix::sys::signal::Signal::try_from(sig).unwrap().as_str();
            assert_eq!(
                err.matches(&format!("send {name} to process")).count(),
                1,
                "{what}: passed on once, as a traced step\n{err}"
            );
        }
    }
    root.ok(&["cgroup", "rm", "sig"]);
}

/// A pty pair: (master, slave).
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors; no name, termios or size.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty just gave us these descriptors.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn a_terminal_ctrl_c_reaches_cmd_once() {
    require_root();
    let root = TestRoot::new();
    let (master, slave) = openpty();
    let slave_fd = slave.as_raw_fd();
    // glassbox runs in the foreground of a terminal (the pty) with its
    // stdin elsewhere, as `echo x | glassbox ns run ...` typed at a shell
    // does: no terminal to hand over, so CMD stays in glassbox's process
    // group, the terminal's foreground group.
    let mut cmd = root.glassbox();
    cmd.arg("-vv")
        .args(["ns", "run", "--uts", "--", "sh", "-c", SLEEPER])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 || libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(slave);
    wait_up(&mut child);
    // ^C typed on the terminal: the kernel sends SIGINT to the foreground
    // process group, glassbox and CMD alike.
    // (The master stays open: closing it would hang the terminal up.)
    let mut master = std::fs::File::from(master);
    master.write_all(b"\x03").unwrap();
    let status = exit_within(&mut child, Duration::from_secs(10), "Ctrl-C");
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "CMD died of SIGINT\n{err}");
    assert!(status.signal().is_none(), "glassbox itself survived Ctrl-C");
    assert!(
        !err.contains("send SIGINT to process"),
        "the terminal's SIGINT already reached CMD: glassbox must not send it again\n{err}"
    );
    drop(master);
}
