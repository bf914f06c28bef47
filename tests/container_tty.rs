//! `glassbox run` attached, as a user at a terminal and in a pipeline
//! sees it: `run -it` through a pty (a prompt, the container's own
//! `/dev/pts/0`, resizes, Ctrl-C for the container's terminal, the exit
//! status, the outer terminal given back as it was); `run -i` in a pipe
//! (stdin's end is the container's) with stdout and stderr apart; the
//! signals the command receives passed to the container's init, or not
//! with `--sig-proxy=false`; and Docker's refusal of `-t` without a
//! terminal. Root, the real kernel, glassbox in a network namespace of
//! the lab's own.

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};
use common::pty::{Screen, on_terminal, openpty, set_size};
use common::{stderr, stdout, wait_within};

/// Poll `f` until it holds, up to `limit`.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// The process `pid` runs the glassbox binary itself (so a signal sent to
/// it is the CLI's, not a wrapper's: `nsenter --net` execs without a fork).
fn is_glassbox(pid: u32) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .is_ok_and(|p| p.file_name() == common::glassbox_bin().file_name())
}

/// A host process whose command line is exactly `argv`, in the foreground
/// of its terminal (its process group is the terminal's): a command the
/// container's shell runs and a Ctrl-C would interrupt.
fn in_the_foreground(argv: &[&str]) -> bool {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"])
        .flatten()
        .copied()
        .collect();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name();
        let Ok(pid) = name.to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read(format!("/proc/{pid}/cmdline")).ok() != Some(want.clone()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After "(comm)": state ppid pgrp session tty_nr tpgid ...
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        if rest.len() > 5 && rest[2] == rest[5] {
            return true;
        }
    }
    false
}

#[test]
fn run_it_is_a_terminal_with_resize_ctrl_c_exit_status_and_the_terminal_restored() {
    use nix::sys::termios::{LocalFlags, tcgetattr};
    let lab = Lab::new();
    let (master, slave) = openpty(24, 80);
    let before = tcgetattr(&slave).unwrap();
    let mut cmd = lab.cmd();
    cmd.args(["run", "-it", "--name", "tty", IMAGE, "sh"]);
    on_terminal(&mut cmd, &slave);
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut screen = Screen::watch(&master);
    let mut keys = std::fs::File::from(master.try_clone().unwrap());

    // A prompt, and a typed command runs.
    screen.expect("# ");
    keys.write_all(b"echo hel''lo\r").unwrap();
    screen.expect("hello");
    let raw = tcgetattr(&slave).unwrap();
    assert!(
        !raw.local_flags.contains(LocalFlags::ICANON)
            && !raw.local_flags.contains(LocalFlags::ECHO),
        "glassbox's terminal is in raw mode while attached"
    );
    // The shell's terminal is the container's own, the first of its devpts.
    keys.write_all(b"tty\r").unwrap();
    screen.expect("/dev/pts/0");
    keys.write_all(b"stty size\r").unwrap();
    screen.expect("24 80");

    // A resize of the outer terminal: the kernel sends glassbox SIGWINCH,
    // glassbox resizes the container's.
    set_size(&master, 33, 77);
    let mut followed = false;
    for _ in 0..50 {
        keys.write_all(b"stty size\r").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        if screen.shows("33 77") {
            followed = true;
            break;
        }
    }
    assert!(followed, "stty size never showed 33 77:\n{}", screen.text());
    screen.expect("33 77");

    // Ctrl-C is a byte for the container's terminal, which interrupts its
    // foreground command, not the shell, the container nor glassbox.
    let secs = format!("{}", 1000 + std::process::id() % 9000);
    keys.write_all(format!("sleep {secs}\r").as_bytes())
        .unwrap();
    assert!(
        eventually(Duration::from_secs(20), || in_the_foreground(&[
            "sleep", &secs
        ])),
        "sleep {secs} never ran in the foreground:\n{}",
        screen.text()
    );
    keys.write_all(b"\x03").unwrap();
    keys.write_all(b"echo rc=$?\r").unwrap();
    screen.expect("rc=130");
    assert!(child.try_wait().unwrap().is_none(), "glassbox survived ^C");
    assert_eq!(lab.inspect("tty", "{{.State.Status}}"), "running");

    // The shell's exit status is glassbox's.
    keys.write_all(b"exit 3\r").unwrap();
    let status = wait_within(&mut child, Duration::from_secs(20), "exit 3");
    assert_eq!(status.code(), Some(3), "{}", screen.text());
    assert_eq!(lab.inspect("tty", "{{.State.ExitCode}}"), "3");

    // The outer terminal is as it was.
    let after = tcgetattr(&slave).unwrap();
    assert_eq!(after.local_flags, before.local_flags, "lflag restored");
    assert_eq!(after.input_flags, before.input_flags, "iflag restored");
    assert_eq!(after.output_flags, before.output_flags, "oflag restored");
    assert_eq!(after.control_flags, before.control_flags, "cflag restored");
    assert_eq!(after.control_chars, before.control_chars, "cc restored");
}

/// Spawn `glassbox ARGS` with stdin, stdout and stderr piped.
fn spawn_piped(lab: &Lab, args: &[&str]) -> Child {
    let mut cmd = lab.cmd();
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Feed `input` to `glassbox ARGS` and close its stdin; (status, stdout,
/// stderr) once it ended (within 60 s).
fn pipe_through(lab: &Lab, args: &[&str], input: &[u8]) -> (ExitStatus, String, String) {
    let mut child = spawn_piped(lab, args);
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = Screen::read(child.stdout.take().unwrap());
    let err = Screen::read(child.stderr.take().unwrap());
    let status = wait_within(&mut child, Duration::from_secs(60), &format!("{args:?}"));
    feeder.join().unwrap();
    // The pipes' last bytes are read (the readers end at EOF).
    std::thread::sleep(Duration::from_millis(100));
    (status, out.text(), err.text())
}

#[test]
fn run_i_in_a_pipe_gets_stdin_and_its_end_and_keeps_stdout_and_stderr_apart() {
    let lab = Lab::new();
    // `echo hi | glassbox run -i IMAGE cat`: the end of glassbox's stdin
    // is the end of cat's.
    let (status, out, err) = pipe_through(&lab, &["run", "-i", IMAGE, "cat"], b"hi\n");
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(out, "hi\n", "stderr: {err}");
    assert_eq!(err, "");
    // Much more than a pipe holds, every byte.
    let big = vec![b'x'; 300_000];
    let (status, out, err) = pipe_through(&lab, &["run", "-i", IMAGE, "wc", "-c"], &big);
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(out.trim(), "300000", "stderr: {err}");
    // Without -i the container's stdin is not glassbox's: cat sees nothing.
    let (status, out, err) = pipe_through(&lab, &["run", IMAGE, "cat"], b"hi\n");
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(out, "", "without -i: stderr: {err}");
    // Without -t, the container's stdout and stderr are glassbox's, apart.
    let out = lab.run(&["run", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
}

/// `sh -c` that says it is ready, then loops until SIGTERM, which it
/// answers with `got TERM` and exit 7.
const TRAPS_TERM: &str =
    "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done";

#[test]
fn signals_to_an_attached_run_go_to_the_init_unless_sig_proxy_is_false() {
    let lab = Lab::new();
    // Proxied (the default): SIGTERM to glassbox is the init's.
    let mut child = spawn_piped(
        &lab,
        &["run", "--name", "proxied", IMAGE, "sh", "-c", TRAPS_TERM],
    );
    drop(child.stdin.take());
    let mut out = Screen::read(child.stdout.take().unwrap());
    out.expect("ready");
    assert!(is_glassbox(child.id()), "the child is glassbox itself");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(20), "SIGTERM proxied");
    out.expect("got TERM");
    assert_eq!(status.code(), Some(7), "{}", out.text());
    assert_eq!(lab.inspect("proxied", "{{.State.ExitCode}}"), "7");

    // --sig-proxy=false: glassbox does not catch SIGTERM, which ends it
    // (as it ends a docker CLI that does not proxy); the container is not
    // told and runs on.
    let mut child = spawn_piped(
        &lab,
        &[
            "run",
            "--sig-proxy=false",
            "--name",
            "unproxied",
            IMAGE,
            "sh",
            "-c",
            TRAPS_TERM,
        ],
    );
    drop(child.stdin.take());
    let mut out = Screen::read(child.stdout.take().unwrap());
    out.expect("ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(20), "SIGTERM not proxied");
    assert_eq!(
        status.signal(),
        Some(libc::SIGTERM),
        "glassbox ended by the signal: {status:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.inspect("unproxied", "{{.State.Status}}"), "running");
    let ps = lab.ps(&["--filter", "name=unproxied"]);
    assert!(ps.len() == 2 && ps[1].contains("Up "), "{ps:#?}");
    assert!(!lab.ok(&["logs", "unproxied"]).contains("got TERM"));
    // The container would have answered a SIGTERM: it was never sent one.
    lab.ok(&["kill", "-s", "TERM", "unproxied"]);
    assert!(eventually(Duration::from_secs(20), || lab
        .inspect("unproxied", "{{.State.Status}}")
        == "exited"));
    assert_eq!(lab.inspect("unproxied", "{{.State.ExitCode}}"), "7");
    assert!(lab.ok(&["logs", "unproxied"]).contains("got TERM"));
    // As Docker's bool flags: `--sig-proxy` alone is true, and a value
    // only comes after `=` (`--sig-proxy false` names the image `false`).
    let (code, _, err) = lab.status(&["run", "--sig-proxy", IMAGE, "true"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = lab.status(&["run", "--sig-proxy", "false", IMAGE, "true"]);
    assert_eq!(code, 125, "--sig-proxy false: `false` is no image");
}

#[test]
fn run_it_without_a_terminal_is_refused_in_dockers_words_and_creates_nothing() {
    let lab = Lab::new();
    for stdin in [Stdio::null(), Stdio::piped()] {
        let mut cmd = lab.cmd();
        cmd.args(["run", "-it", "--name", "nope", IMAGE, "sh"])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        drop(child.stdin.take());
        let out = Screen::read(child.stdout.take().unwrap());
        let err = Screen::read(child.stderr.take().unwrap());
        // (Were it not refused, the shell would wait for input forever.)
        let status = wait_within(&mut child, Duration::from_secs(20), "run -it refused");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(status.code(), Some(1), "{}", err.text());
        assert_eq!(err.text().trim_end(), "the input device is not a TTY");
        assert_eq!(out.text(), "");
    }
    assert_eq!(lab.ps(&["-aq"]), Vec::<String>::new(), "nothing created");
    common::probe::assert_no_container_left(lab.root.path(), Some(&lab.netns), "run -it refused");
    // A terminal on stdin is all -t needs: -it works once it has one
    // (and -t alone needs none).
    let out = lab.run(&["run", "-t", IMAGE, "sh", "-c", "tty"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("/dev/pts/0"), "{}", stdout(&out));
}

#[test]
fn sigterm_to_run_it_goes_to_the_init_and_the_terminal_is_given_back() {
    // Docker's `run` proxies signals with -t too (`start -a` does not):
    // `timeout 5 glassbox run -it ...` ends the container, not only the
    // command, and the terminal is not left raw.
    use nix::sys::termios::tcgetattr;
    let lab = Lab::new();
    let (master, slave) = openpty(24, 80);
    let before = tcgetattr(&slave).unwrap();
    let mut cmd = lab.cmd();
    cmd.args([
        "run", "-it", "--name", "ttyterm", IMAGE, "sh", "-c", TRAPS_TERM,
    ]);
    on_terminal(&mut cmd, &slave);
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut screen = Screen::watch(&master);
    screen.expect("ready");
    assert!(is_glassbox(child.id()), "the child is glassbox itself");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(20), "SIGTERM to run -it");
    screen.expect("got TERM");
    assert_eq!(status.code(), Some(7), "{status:?}: {}", screen.text());
    assert_eq!(lab.inspect("ttyterm", "{{.State.ExitCode}}"), "7");
    let after = tcgetattr(&slave).unwrap();
    assert_eq!(after.local_flags, before.local_flags, "lflag restored");
    assert_eq!(after.input_flags, before.input_flags, "iflag restored");
    assert_eq!(after.output_flags, before.output_flags, "oflag restored");
}
