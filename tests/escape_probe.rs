//! The escape probe itself: built from tests/probe/escape.c and run in a
//! default container, it reports each attempt the same way the escape
//! suite reads it ("ok ..." and exit 0, or "denied ..." and exit 1).

mod common;

use common::escape;

#[test]
fn the_probe_runs_in_a_container_and_reports_each_attempt() {
    let lab = escape::lab();
    let p = escape::probe();
    let (code, out, err) = lab.status(&[
        "run",
        "--rm",
        "--network",
        "none",
        escape::ESCAPE_IMAGE,
        p,
        "fds",
    ]);
    assert_eq!(code, 0, "escape fds: {out}{err}");
    assert!(out.lines().last() == Some("ok fds"), "{out}");
    // an attempt the probe does not know is bad usage, exit 2
    let (code, _, err) = lab.status(&[
        "run",
        "--rm",
        "--network",
        "none",
        escape::ESCAPE_IMAGE,
        p,
        "nothing",
    ]);
    assert_eq!(code, 2, "{err}");
}
