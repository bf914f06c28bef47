//! `run --init`: Debian's static tini at `/sbin/docker-init` as the
//! container's PID 1, in front of the command. It reaps an orphan's zombie
//! (without it the zombie stays, its parent being a PID 1 that never
//! waits), passes `stop`'s SIGTERM to the command (which, as PID 1, would
//! ignore it), and runs in an image without a libc. Root, real kernel.

mod common;

use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};

/// A PID 1 that runs `sleep` after a child made an orphan: `(sleep 1 &)`
/// leaves a `sleep 1` whose parent is gone, re-parented to PID 1; the
/// shell then becomes `sleep 100`, which never waits for anyone.
const ORPHAN_MAKER: &str = "(sleep 1 &); exec sleep 100";

/// The zombies (state Z) in the container's own /proc.
fn zombies(lab: &Lab, name: &str) -> usize {
    let stat = lab.ok(&["exec", name, "sh", "-c", "cat /proc/[0-9]*/stat"]);
    stat.lines()
        .filter(|l| {
            let after = &l[l.rfind(')').unwrap() + 1..];
            after.split_whitespace().next() == Some("Z")
        })
        .count()
}

#[test]
fn init_reaps_an_orphans_zombie_and_without_it_the_zombie_stays() {
    let lab = Lab::new();
    let net = ["--network", "none"];
    lab.detached(
        &[
            &net[..],
            &["--name", "plain", IMAGE, "sh", "-c", ORPHAN_MAKER],
        ]
        .concat(),
    );
    lab.detached(
        &[
            &net[..],
            &[
                "--name",
                "inited",
                "--init",
                IMAGE,
                "sh",
                "-c",
                ORPHAN_MAKER,
            ],
        ]
        .concat(),
    );
    // Without an init the orphan's zombie appears once it exits, and stays.
    let deadline = Instant::now() + Duration::from_secs(10);
    while zombies(&lab, "plain") == 0 {
        assert!(Instant::now() < deadline, "no zombie without --init");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(zombies(&lab, "plain"), 1);
    // With it, the orphan (gone by now) was reaped by tini, PID 1.
    assert_eq!(zombies(&lab, "inited"), 0);
    let one = lab.ok(&["exec", "inited", "cat", "/proc/1/cmdline"]);
    assert_eq!(
        one,
        "/sbin/docker-init\0--\0sh\0-c\0(sleep 1 &); exec sleep 100\0"
    );
    assert_eq!(lab.inspect("inited", "{{.HostConfig.Init}}"), "true");
    // Docker's Path and Args stay the command's.
    assert_eq!(lab.inspect("inited", "{{.Path}}"), "sh");
    let ro = lab.run(&["exec", "inited", "touch", "/sbin/docker-init"]);
    assert!(!ro.status.success(), "the init is bound read-only");
}

#[test]
fn stop_reaches_the_command_through_the_init() {
    let lab = Lab::new();
    lab.detached(&[
        "--network",
        "none",
        "--name",
        "fast",
        "--init",
        IMAGE,
        "sleep",
        "100",
    ]);
    let t = Instant::now();
    lab.ok(&["stop", "fast"]);
    let took = t.elapsed();
    // sleep as PID 1 would ignore SIGTERM for the whole 10 s grace period.
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert_eq!(lab.inspect("fast", "{{.State.ExitCode}}"), "143");
    // And the command's own status comes back through the init.
    let (rc, out, err) = lab.status(&[
        "run",
        "--rm",
        "--init",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo hi; exit 7",
    ]);
    assert_eq!((rc, out.as_str()), (7, "hi\n"), "{err}");
}

#[test]
fn init_runs_in_an_image_without_a_libc() {
    let lab = Lab::new();
    // The image is the host's static busybox alone: no libc, no loader.
    let libs = lab.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "find",
        "/",
        "-xdev",
        "-name",
        "libc.so*",
        "-o",
        "-name",
        "ld-linux*",
    ]);
    assert_eq!(libs, "", "the test image has a libc");
    let out = lab.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--init",
        IMAGE,
        "echo",
        "static",
    ]);
    assert_eq!(out, "static\n");
}

#[test]
fn a_missing_init_says_what_to_install_and_makes_nothing() {
    let lab = Lab::new();
    let out = lab
        .cmd()
        .env("GLASSBOX_INIT", "/nonexistent/tini")
        .args(["run", "--init", "--network", "none", IMAGE, "true"])
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains("/nonexistent/tini") && err.contains("GLASSBOX_INIT"),
        "{err}"
    );
    assert!(lab.ps(&["-aq"]).is_empty(), "a container was made");
}
