//! `logs -f`, `--tail`, `-t` and `run --read-only`, as a Docker user
//! checks them. Root, real kernel, glassbox in a network namespace of the
//! test's own (tests/common/lifecycle.rs).

mod common;

use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};

/// A container that prints `line1` to `line5`, one every 0.3 s.
fn talker(lab: &Lab, name: &str) {
    lab.detached(&[
        "--network",
        "none",
        "--name",
        name,
        IMAGE,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; sleep 0.3; done",
    ]);
}

#[test]
fn logs_f_follows_until_the_container_exits() {
    let lab = Lab::new();
    talker(&lab, "talker");
    let t = Instant::now();
    let out = lab.ok(&["logs", "-f", "talker"]);
    let took = t.elapsed();
    // Every line, including those printed after logs -f began, and it
    // ended by itself when the container did.
    assert_eq!(out, "line1\nline2\nline3\nline4\nline5\n");
    assert!(
        took >= Duration::from_millis(600),
        "logs -f returned early: {took:?}"
    );
    assert_eq!(lab.inspect("talker", "{{.State.Status}}"), "exited");
    // On an exited container, -f returns at once.
    let t = Instant::now();
    assert_eq!(lab.ok(&["logs", "-f", "talker"]).lines().count(), 5);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn logs_tail_and_timestamps_as_docker_prints_them() {
    let lab = Lab::new();
    talker(&lab, "tail");
    lab.ok(&["wait", "tail"]);
    assert_eq!(lab.ok(&["logs", "--tail", "2", "tail"]), "line4\nline5\n");
    assert_eq!(lab.ok(&["logs", "--tail", "0", "tail"]), "");
    assert_eq!(
        lab.ok(&["logs", "--tail", "all", "tail"]).lines().count(),
        5
    );
    let stamped = lab.ok(&["logs", "-t", "--tail", "1", "tail"]);
    let (time, text) = stamped
        .trim_end()
        .split_once(' ')
        .unwrap_or_else(|| panic!("no timestamp: {stamped:?}"));
    assert_eq!(text, "line5");
    // RFC 3339 with nanoseconds in UTC, as Docker prints it.
    let re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$").unwrap();
    assert!(re.is_match(time), "{time:?}");
}

#[test]
fn read_only_makes_the_containers_root_read_only() {
    let lab = Lab::new();
    let (code, out, err) = lab.status(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--read-only",
        IMAGE,
        "sh",
        "-c",
        "touch /x; echo root=$?; echo fine > /dev/shm/y && echo shm=$?",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "root=1\nshm=0\n", "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    // Without it the same write works.
    assert_eq!(
        lab.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            IMAGE,
            "sh",
            "-c",
            "touch /x; echo root=$?"
        ]),
        "root=0\n"
    );
}
