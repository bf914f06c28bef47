//! Attach and detach as a Docker user at a terminal meets them: `run -it`
//! left with Ctrl-P Ctrl-Q (the command ends with Docker's message, the
//! container runs on), `attach` to it again and the container's exit code
//! as the command's; `start -ai` with `--detach-keys` of one's own (a
//! broken sequence passes its keys on); several `attach` clients at once
//! see the same output; and Docker's refusals (a bad `--detach-keys`, a
//! container that does not run) with nothing changed; and live `stats` on
//! a terminal, redrawn in place, the cursor given back after Ctrl-C.
//! Root, the real kernel, through a pty (the cgroup v2 VM has none: the
//! rest of `stats` is tests/container_stats.rs).

mod common;

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};
use common::pty::{Screen, on_terminal, openpty};
use common::wait_within;

/// `glassbox ARGS` on a terminal of its own: the process, what the
/// terminal shows, and its keyboard.
fn on_pty(lab: &Lab, args: &[&str]) -> (Child, Screen, std::fs::File) {
    let (master, slave) = openpty(24, 80);
    let mut cmd = lab.cmd();
    cmd.args(args);
    on_terminal(&mut cmd, &slave);
    let child = cmd.spawn().unwrap();
    drop(cmd);
    drop(slave);
    let screen = Screen::watch(&master);
    let keys = std::fs::File::from(master);
    (child, screen, keys)
}

#[test]
fn run_it_detaches_with_ctrl_p_ctrl_q_and_attach_gets_the_exit_code() {
    let lab = Lab::new();
    let (mut run, mut screen, mut keys) =
        on_pty(&lab, &["run", "-it", "--name", "det", IMAGE, "sh"]);
    screen.expect("# ");
    keys.write_all(b"echo on$((1+1))\r").unwrap();
    screen.expect("on2");
    keys.write_all(b"\x10\x11").unwrap();
    let status = wait_within(&mut run, Duration::from_secs(20), "run -it detached");
    assert_eq!(status.code(), Some(0), "{}", screen.text());
    screen.expect("read escape sequence");
    assert_eq!(lab.inspect("det", "{{.State.Status}}"), "running");

    // Attached again: the same shell, and its exit code is attach's.
    let (mut att, mut screen, mut keys) = on_pty(&lab, &["attach", "det"]);
    // (Nothing shows until the shell writes: type until it answers.)
    let deadline = Instant::now() + Duration::from_secs(20);
    while !screen.shows("back3") {
        assert!(Instant::now() < deadline, "attach: {}", screen.text());
        keys.write_all(b"echo back$((1+2))\r").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    screen.expect("back3");
    keys.write_all(b"exit 3\r").unwrap();
    let status = wait_within(&mut att, Duration::from_secs(20), "attach, exit 3");
    assert_eq!(status.code(), Some(3), "{}", screen.text());
    assert_eq!(lab.inspect("det", "{{.State.ExitCode}}"), "3");
    assert_eq!(lab.inspect("det", "{{.State.Status}}"), "exited");
}

#[test]
fn start_ai_with_detach_keys_of_ones_own_passes_a_broken_sequence_on() {
    let lab = Lab::new();
    lab.ok(&["create", "-it", "--name", "cat", IMAGE, "cat"]);
    let (mut start, mut screen, mut keys) =
        on_pty(&lab, &["start", "-ai", "--detach-keys", "ctrl-a,x", "cat"]);
    // Ctrl-A then `r` is no sequence: both reach the container's terminal
    // (cat gives the line back with the Ctrl-A byte in it), and so does a
    // lone `x`; Ctrl-P is no key of the sequence here.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !screen.shows("pa\x01rtx\x10\r\n") {
        assert!(Instant::now() < deadline, "start -ai: {:?}", screen.text());
        keys.write_all(b"pa\x01rtx\x10\r").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    keys.write_all(b"\x01x").unwrap();
    let status = wait_within(&mut start, Duration::from_secs(20), "start -ai detached");
    assert_eq!(status.code(), Some(0), "{:?}", screen.text());
    screen.expect("read escape sequence");
    assert_eq!(lab.inspect("cat", "{{.State.Status}}"), "running");
    lab.ok(&["rm", "-f", "cat"]);
}

#[test]
fn attach_clients_at_once_see_the_same_output() {
    let lab = Lab::new();
    lab.detached(&[
        "--name",
        "talk",
        IMAGE,
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo line$i; sleep 0.2; done",
    ]);
    let client = |extra: &[&str]| {
        let mut cmd = lab.cmd();
        cmd.arg("attach").args(extra).arg("talk");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut c = cmd.spawn().unwrap();
        let out = Screen::read(c.stdout.take().unwrap());
        (c, out)
    };
    let (mut a, out_a) = client(&["--no-stdin"]);
    let (mut b, out_b) = client(&["--no-stdin", "--sig-proxy=false"]);
    // Once both have lines, the next lines are the same for both.
    let last = |s: &Screen| -> Option<u64> {
        s.text()
            .lines()
            .filter_map(|l| l.strip_prefix("line")?.parse().ok())
            .next_back()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let n = loop {
        if let (Some(x), Some(y)) = (last(&out_a), last(&out_b)) {
            break x.max(y);
        }
        assert!(Instant::now() < deadline, "no output attached");
        std::thread::sleep(Duration::from_millis(50));
    };
    let want: Vec<String> = (n + 1..=n + 3).map(|i| format!("line{i}\n")).collect();
    for s in [&out_a, &out_b] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !s.text().contains(&want[2]) {
            assert!(Instant::now() < deadline, "{}", s.text());
            std::thread::sleep(Duration::from_millis(50));
        }
        for w in &want {
            assert!(s.text().contains(w), "{w} in {}", s.text());
        }
    }
    // --sig-proxy=false: a SIGTERM ends the client, not the container.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(b.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_within(&mut b, Duration::from_secs(20), "attach --sig-proxy=false");
    a.kill().unwrap();
    a.wait().unwrap();
    assert_eq!(lab.inspect("talk", "{{.State.Status}}"), "running");
    lab.ok(&["rm", "-f", "talk"]);
}

#[test]
fn bad_detach_keys_are_refused_in_dockers_words_and_change_nothing() {
    let lab = Lab::new();
    let want =
        |spec: &str, key: &str| format!("invalid detach keys ({spec}): unknown character: '{key}'");
    // run and create: glassbox's own refusal (125), nothing created.
    for args in [
        vec!["run", "-d", "--detach-keys", "shift-a", IMAGE, "true"],
        vec!["create", "--detach-keys", "shift-a", IMAGE, "true"],
    ] {
        let (code, out, err) = lab.status(&args);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(err.contains(&want("shift-a", "shift-a")), "{err}");
        assert_eq!(out, "");
    }
    assert_eq!(lab.ps(&["-aq"]), Vec::<String>::new(), "nothing created");
    // start and attach: Docker's CLI refusal (1), the container as it was.
    lab.ok(&["create", "--name", "made", IMAGE, "true"]);
    let (code, _, err) = lab.status(&["start", "-a", "--detach-keys", "ctrl-p,ctrl-", "made"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&want("ctrl-p,ctrl-", "ctrl-")), "{err}");
    assert_eq!(lab.inspect("made", "{{.State.Status}}"), "created");
    lab.detached(&["--name", "up", IMAGE, "sleep", "1000"]);
    let (code, _, err) = lab.status(&["attach", "--detach-keys", "ctrl-A", "up"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&want("ctrl-A", "ctrl-A")), "{err}");
    assert_eq!(lab.inspect("up", "{{.State.Status}}"), "running");
}

#[test]
fn attach_to_a_container_that_does_not_run_is_refused() {
    let lab = Lab::new();
    lab.ok(&["run", "--name", "done", IMAGE, "true"]);
    lab.ok(&["create", "--name", "new", IMAGE, "true"]);
    for name in ["done", "new"] {
        let (code, out, err) = lab.status(&["attach", name]);
        assert_eq!(code, 1, "{err}");
        assert_eq!(
            err.trim_end(),
            "You cannot attach to a stopped container, start it first"
        );
        assert_eq!(out, "");
    }
    assert_eq!(lab.inspect("done", "{{.State.Status}}"), "exited");
    assert_eq!(lab.inspect("new", "{{.State.Status}}"), "created");
    let (code, _, err) = lab.status(&["container", "attach", "nope"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim_end(),
        "Error response from daemon: No such container: nope"
    );
}

#[test]
fn live_on_a_terminal_redraws_in_place_and_ctrl_c_shows_the_cursor_again() {
    let lab = Lab::new();
    lab.detached(&[
        "--network",
        "none",
        "--name",
        "shown",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let (master, slave) = openpty(24, 80);
    let mut cmd = lab.cmd();
    cmd.args(["stats", "--format", "table {{.Name}}\t{{.PIDs}}"]);
    on_terminal(&mut cmd, &slave);
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    drop(slave);
    let screen = Screen::watch(&master);
    // Cleared once, the cursor hidden, then each round drawn from the top.
    let round = "\x1b[HNAME      PIDS\x1b[K\r\nshown     1\x1b[K\r\n\x1b[J";
    screen.until(Duration::from_secs(30), "two rounds", |t| {
        t.matches(round).count() >= 2
    });
    assert!(
        screen.text().starts_with("\x1b[2J\x1b[?25l\x1b[H"),
        "{:?}",
        screen.text()
    );
    // Ctrl-C at the terminal: the cursor is shown again, the command ends.
    std::io::Write::write_all(
        &mut std::fs::File::from(master.try_clone().unwrap()),
        b"\x03",
    )
    .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(10), "stats after Ctrl-C");
    assert_eq!(status.code(), Some(130));
    screen.until(Duration::from_secs(5), "the cursor back", |t| {
        t.ends_with("\x1b[?25h")
    });
}

#[test]
fn attach_no_stdin_to_a_terminal_leaves_ctrl_c_to_the_command() {
    // Without stdin the terminal stays as it is (not raw): Ctrl-C is the
    // command's own SIGINT, which with a terminal is not passed on (as
    // Docker's attach): the command ends, the container runs on.
    let lab = Lab::new();
    lab.detached(&[
        "-t",
        "--name",
        "ticks",
        IMAGE,
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.3; done",
    ]);
    let (mut att, mut screen, mut keys) = on_pty(&lab, &["attach", "--no-stdin", "ticks"]);
    screen.expect("tick");
    keys.write_all(b"\x03").unwrap();
    let status = wait_within(&mut att, Duration::from_secs(20), "attach after Ctrl-C");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGINT),
        "{status:?}"
    );
    assert_eq!(lab.inspect("ticks", "{{.State.Status}}"), "running");
    lab.ok(&["rm", "-f", "ticks"]);
}

#[test]
fn attach_with_stdin_to_run_di_feeds_it_and_leaves_its_stdin_open() {
    // `run -di`: not StdinOnce, so the end of one attach's input does not
    // close the container's stdin; the next attach feeds it again.
    let lab = Lab::new();
    lab.detached(&["-i", "--name", "cat", IMAGE, "cat"]);
    for word in ["first", "second"] {
        let mut cmd = lab.cmd();
        cmd.args(["attach", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut c = cmd.spawn().unwrap();
        let mut input = c.stdin.take().unwrap();
        let out = Screen::read(c.stdout.take().unwrap());
        input.write_all(format!("{word}\n").as_bytes()).unwrap();
        drop(input);
        out.until(Duration::from_secs(20), word, |t| t.contains(word));
        c.kill().unwrap();
        c.wait().unwrap();
    }
    assert_eq!(lab.inspect("cat", "{{.State.Status}}"), "running");
    lab.ok(&["rm", "-f", "cat"]);
}
