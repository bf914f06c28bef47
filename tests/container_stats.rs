//! `stats` as a Docker user watches it: several containers in one table
//! with `--format`; live, a round every second printed one after another
//! in a pipe (a container that stops drops out, one that starts joins),
//! redrawn in place on a terminal, and Ctrl-C gives the cursor back.
//! Root, the real kernel (the containers' own cgroups).

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};
use common::pty::{Screen, on_terminal, openpty};
use common::wait_within;

/// Wait until `f` holds (up to `limit`), else fail with `what`.
fn until(limit: Duration, what: &str, s: &Screen, mut f: impl FnMut(&str) -> bool) {
    let deadline = Instant::now() + limit;
    while !f(&s.text()) {
        assert!(Instant::now() < deadline, "{what}: {:?}", s.text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn no_stream_formats_several_containers() {
    let lab = Lab::new();
    lab.detached(&["--name", "one", "--memory", "64m", IMAGE, "sleep", "1000"]);
    lab.detached(&["--name", "two", "--memory", "32m", IMAGE, "sleep", "1000"]);
    let out = lab.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    // Newest first, as Docker lists them.
    assert!(
        lines[0].starts_with("two ") && lines[0].ends_with(" / 32MiB"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("one ") && lines[1].ends_with(" / 64MiB"),
        "{out}"
    );
    let out = lab.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "table {{.Name}}\t{{.PIDs}}",
        "one",
        "two",
    ]);
    assert_eq!(out, "NAME      PIDS\none       1\ntwo       1\n");
    // A template that cannot be run: refused, no table.
    let (code, out, err) = lab.status(&["stats", "--no-stream", "--format", "{{.Nope}}"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
}

#[test]
fn live_in_a_pipe_prints_round_after_round_and_follows_the_running_ones() {
    let lab = Lab::new();
    lab.detached(&["--name", "stay", IMAGE, "sleep", "1000"]);
    lab.detached(&["--name", "go", IMAGE, "sleep", "1000"]);
    let mut cmd = lab.cmd();
    cmd.args(["stats", "--format", "table {{.Name}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let out = Screen::read(child.stdout.take().unwrap());
    let rounds = |t: &str| t.matches("NAME\n").count();
    until(Duration::from_secs(30), "two rounds", &out, |t| {
        rounds(t) >= 2
    });
    let text = out.text();
    assert!(!text.contains('\x1b'), "no escapes in a pipe: {text:?}");
    assert!(
        text.starts_with("NAME\ngo\nstay\nNAME\ngo\nstay\n"),
        "{text:?}"
    );
    // One stops: it drops out; one starts: it joins.
    lab.ok(&["rm", "-f", "go"]);
    lab.detached(&["--name", "new", IMAGE, "sleep", "1000"]);
    until(Duration::from_secs(30), "the new set", &out, |t| {
        t.ends_with("NAME\nnew\nstay\n")
    });
    // A SIGTERM ends it at once (128 + 15), nothing left behind.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(10), "stats after SIGTERM");
    assert_eq!(status.code(), Some(143));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(err, "");
}

#[test]
fn live_on_a_terminal_redraws_in_place_and_ctrl_c_shows_the_cursor_again() {
    let lab = Lab::new();
    lab.detached(&["--name", "shown", IMAGE, "sleep", "1000"]);
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
    until(Duration::from_secs(30), "two rounds", &screen, |t| {
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
    until(Duration::from_secs(5), "the cursor back", &screen, |t| {
        t.ends_with("\x1b[?25h")
    });
}
