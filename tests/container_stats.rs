//! `stats` as a Docker user watches it: several containers in one table
//! with `--format`; live, a round every second printed one after another
//! in a pipe (a container that stops drops out, one that starts joins).
//! (On a terminal: tests/container_attach.rs, with the other pty tests.)
//! Root, the real kernel (the containers' own cgroups; also in the cgroup
//! v2 VM, hence `--network none`: it has no nftables).

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use common::lifecycle::{IMAGE, Lab};
use common::pty::Screen;
use common::wait_within;

#[test]
fn no_stream_formats_several_containers() {
    let lab = Lab::new();
    lab.detached(&[
        "--network",
        "none",
        "--name",
        "one",
        "--memory",
        "64m",
        IMAGE,
        "sleep",
        "1000",
    ]);
    lab.detached(&[
        "--network",
        "none",
        "--name",
        "two",
        "--memory",
        "32m",
        IMAGE,
        "sleep",
        "1000",
    ]);
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
    lab.detached(&[
        "--network",
        "none",
        "--name",
        "stay",
        IMAGE,
        "sleep",
        "1000",
    ]);
    lab.detached(&["--network", "none", "--name", "go", IMAGE, "sleep", "1000"]);
    let mut cmd = lab.cmd();
    cmd.args(["stats", "--format", "table {{.Name}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let out = Screen::read(child.stdout.take().unwrap());
    let rounds = |t: &str| t.matches("NAME\n").count();
    out.until(Duration::from_secs(30), "two rounds", |t| rounds(t) >= 2);
    let text = out.text();
    assert!(!text.contains('\x1b'), "no escapes in a pipe: {text:?}");
    assert!(
        text.starts_with("NAME\ngo\nstay\nNAME\ngo\nstay\n"),
        "{text:?}"
    );
    // One stops: it drops out; one starts: it joins.
    lab.ok(&["rm", "-f", "go"]);
    lab.detached(&["--network", "none", "--name", "new", IMAGE, "sleep", "1000"]);
    out.until(Duration::from_secs(30), "the new set", |t| {
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
