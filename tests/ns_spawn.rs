//! `ns::spawn`, the process core a shim will use: the child's stdio is the
//! descriptors it is given (pipes, or a pty it takes as its controlling
//! terminal), its signal mask and dispositions start clean whatever its
//! parent had, and the waiting is left to the caller.
//!
//! Each test's body runs in a fresh copy of this test binary (see
//! [`in_a_fresh_process`]): spawn clones the calling process, which must
//! not have other busy threads, and these tests change the caller's signal
//! state, which must not leak into other tests.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use glassbox::ns::{self, Exit, NoHooks, NsMode, NsType, Spec, Stdio};
use glassbox::trace::Done;

const HELPER_ENV: &str = "GLASSBOX_SPAWN_TEST_BODY";

/// Run the test `name` of this binary alone in a new process with the
/// helper variable set (the test then runs its body), and fail when the
/// body failed.
fn in_a_fresh_process(name: &str) {
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A body that hangs (CMD waiting for an end-of-file that never comes)
    // fails the test instead of hanging the suite.
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if std::time::Instant::now() > deadline {
                    // SAFETY: kill(2) of the body process, our own child.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            false
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let timed_out = watchdog.join().unwrap();
    assert!(
        !timed_out,
        "the body of {name} hung for 60 s and was killed"
    );
    assert!(
        out.status.success(),
        "the body of {name} failed\n--- stdout\n{}\n--- stderr\n{}",
        common::stdout(&out),
        common::stderr(&out)
    );
    assert!(
        common::stdout(&out).contains("1 passed"),
        "{name} did not run: {}",
        common::stdout(&out)
    );
}

fn is_body() -> bool {
    std::env::var_os(HELPER_ENV).is_some()
}

fn start(spec: Spec) -> ns::Child {
    match ns::spawn(spec, &mut NoHooks).unwrap() {
        Done::Ran(child) => child,
        Done::Planned => panic!("planned outside --dry-run"),
    }
}

fn sh(script: &str) -> Spec {
    Spec::new(vec!["sh".into(), "-c".into(), script.into()])
}

#[test]
fn stdio_through_pipes_the_caller_gives() {
    if !is_body() {
        return in_a_fresh_process("stdio_through_pipes_the_caller_gives");
    }
    let (stdin_r, stdin_w) = nix::unistd::pipe().unwrap();
    let (stdout_r, stdout_w) = nix::unistd::pipe().unwrap();
    let (stderr_r, stderr_w) = nix::unistd::pipe().unwrap();
    // cat ends only at end-of-file on stdin: the child must hold no copy
    // of the pipe's write end (nor of any other descriptor of ours).
    let mut spec = sh("cat; echo to-stderr >&2; ls /proc/self/fd >&2");
    spec.stdio = Stdio::Fds {
        stdin: stdin_r,
        stdout: stdout_w,
        stderr: stderr_w,
    };
    let mut child = start(spec);
    // No terminal to hand over: CMD stays in its parent's process group.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.pid())).unwrap();
    assert_eq!(
        stat_fields(&stat)[1],
        nix::unistd::getpgrp().as_raw() as i64,
        "CMD's process group: {stat}"
    );
    let mut input = std::fs::File::from(stdin_w);
    input.write_all(b"through the pipe\n").unwrap();
    drop(input);
    let mut out = String::new();
    std::fs::File::from(stdout_r)
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    std::fs::File::from(stderr_r)
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!(out, "through the pipe\n");
    let mut lines = err.lines();
    assert_eq!(lines.next(), Some("to-stderr"));
    // ls lists 0, 1, 2 and the directory it reads (3): nothing else leaked.
    let fds: Vec<&str> = lines.collect();
    assert!(fds.len() <= 4 && fds[..3] == ["0", "1", "2"], "{fds:?}");
}

/// The fields of `/proc/PID/stat` after the command name.
fn stat_fields(line: &str) -> Vec<i64> {
    let rest = &line[line.rfind(')').unwrap() + 2..];
    rest.split_whitespace()
        .skip(1) // the state letter
        .take(5)
        .map(|f| f.parse().unwrap())
        .collect()
}

#[test]
fn a_pty_slave_becomes_the_controlling_terminal_of_a_session_leader() {
    if !is_body() {
        common::require_root();
        return in_a_fresh_process(
            "a_pty_slave_becomes_the_controlling_terminal_of_a_session_leader",
        );
    }
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
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();
    let slave_dev = std::fs::metadata(&slave_path).unwrap().rdev();
    // With namespaces too, as a container's shim starts it.
    let mut spec = sh("readlink /proc/$$/fd/0; exec cat /proc/self/stat");
    spec.namespaces.set(NsType::Uts, NsMode::New);
    spec.stdio = Stdio::Pty(slave);
    let mut child = start(spec);
    let pid = child.pid().as_raw() as i64;
    let mut master = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // EIO: every slave descriptor is closed (the child exited).
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("read the pty master: {e}"),
        }
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    let text = String::from_utf8_lossy(&out).replace("\r\n", "\n");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(slave_path.to_str().unwrap()),
        "stdin is the slave: {text}"
    );
    let stat = lines
        .next()
        .unwrap_or_else(|| panic!("no stat line: {text}"));
    let f = stat_fields(stat);
    let (pgrp, session, tty_nr, tpgid) = (f[1], f[2], f[3], f[4]);
    assert_eq!(session, pid, "the child leads its own session: {stat}");
    assert_eq!(pgrp, pid, "and its own process group: {stat}");
    assert_eq!(
        tty_nr as u64, slave_dev,
        "its controlling tty is the slave: {stat}"
    );
    assert_eq!(tpgid, pid, "in the terminal's foreground: {stat}");
}

/// `SigBlk` and `SigIgn` of a `/proc/PID/status`.
fn signal_masks(status: &str) -> (String, String) {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .trim()
            .to_string()
    };
    (field("SigBlk:"), field("SigIgn:"))
}

#[test]
fn the_child_starts_with_no_signal_blocked_or_ignored() {
    if !is_body() {
        return in_a_fresh_process("the_child_starts_with_no_signal_blocked_or_ignored");
    }
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
    // The parent blocks some signals and ignores others, as a nohup'ed or
    // backgrounded glassbox (or a shim forwarding signals) does.
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    set.add(Signal::SIGINT);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).unwrap();
    for s in [
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGPIPE,
    ] {
        // SAFETY: SIG_IGN is a valid disposition for these signals.
        unsafe { signal(s, SigHandler::SigIgn) }.unwrap();
    }
    let (blk, ign) = signal_masks(&std::fs::read_to_string("/proc/thread-self/status").unwrap());
    assert_ne!(blk, "0000000000000000", "the parent blocks signals");
    assert_ne!(ign, "0000000000000000", "the parent ignores signals");

    let (out_r, out_w) = nix::unistd::pipe().unwrap();
    let (in_r, in_w) = nix::unistd::pipe().unwrap();
    drop(in_w);
    let mut spec = Spec::new(vec!["cat".into(), "/proc/self/status".into()]);
    spec.stdio = Stdio::Fds {
        stdin: in_r,
        stdout: out_w,
        stderr: std::fs::File::create("/dev/null").unwrap().into(),
    };
    let mut child = start(spec);
    let mut status = String::new();
    std::fs::File::from(out_r)
        .read_to_string(&mut status)
        .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!(
        signal_masks(&status),
        ("0000000000000000".into(), "0000000000000000".into()),
        "CMD's SigBlk and SigIgn"
    );
}

#[test]
fn the_caller_waits_spawn_does_not() {
    if !is_body() {
        return in_a_fresh_process("the_caller_waits_spawn_does_not");
    }
    let (in_r, in_w) = nix::unistd::pipe().unwrap();
    let mut spec = sh("read x; exit 7");
    spec.stdio = Stdio::Fds {
        stdin: in_r,
        stdout: std::fs::File::create("/dev/null").unwrap().into(),
        stderr: std::fs::File::create("/dev/null").unwrap().into(),
    };
    let mut child = start(spec);
    let pid = child.pid().as_raw();
    // spawn returned with CMD still running, waiting for its input.
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "CMD ended before its input"
    );
    drop(std::fs::File::from(in_w)); // end-of-file: `read` returns, sh exits 7
    // The pidfd says when it has exited; nobody has reaped it yet.
    let mut fds = [nix::poll::PollFd::new(
        child.pidfd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let n = nix::poll::poll(&mut fds, 10_000u16).unwrap();
    assert_eq!(n, 1, "the pidfd never became readable");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = stat[stat.rfind(')').unwrap() + 2..].chars().next();
    assert_eq!(
        state,
        Some('Z'),
        "exited and left for the caller to reap: {stat}"
    );
    assert_eq!(child.try_wait().unwrap(), Some(Exit::Code(7)));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "reaped by the caller"
    );
    assert_eq!(
        child.wait().unwrap(),
        Exit::Code(7),
        "waiting again says the same"
    );
}
