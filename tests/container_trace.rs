//! The `-v` trace of a whole `glassbox run`: every step of every
//! mechanism, in the order the container is built, snapshot-tested per
//! cgroup layout (v1 on this hybrid host; v2 in the VM of tests/vm/, which
//! runs this file too). Root, real kernel.

mod common;

use common::lifecycle::{IMAGE, Lab};

#[test]
fn verbose_run_traces_the_whole_container_in_order() {
    let lab = Lab::new();
    let v = cgroup_version();
    // The v2 snapshot is written in the VM of tests/vm/, whose kernel has
    // no nf_tables: there the container has no network of its own.
    let network = if v == "v2" { "none" } else { "bridge" };
    // Warm up: the default bridge and its firewall are made on first use.
    lab.ok(&["run", "--rm", "--network", network, IMAGE, "true"]);
    let out = lab.run(&[
        "-v",
        "run",
        "--rm",
        "--name",
        "traced",
        "--network",
        network,
        "--memory",
        "64m",
        IMAGE,
        "echo",
        "hi",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::stdout(&out), "hi\n");
    let trace = common::stderr(&out);
    // Every mechanism, in the order the container is built.
    let first = |needle: &str| {
        trace
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in the trace:\n{trace}"))
    };
    let mut order = vec![
        "start the shim",
        "create cgroup",
        if v == "v2" {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        },
        "mount overlay",
        "clone echo",
        "cgroup.procs",
        "create veth pair",
        "give eth0 the address",
        "set hostname",
        "mount proc",
        "pivot_root",
        "keep 14 capabilities",
        "exec echo",
    ];
    if network == "none" {
        order.retain(|s| !s.contains("veth") && !s.contains("eth0"));
    }
    let at: Vec<usize> = order.iter().map(|n| first(n)).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "out of order: {order:?} at {at:?}\n{trace}"
    );
    let root = lab.root.path().display().to_string();
    let bin = regex::escape(&common::glassbox_bin().display().to_string());
    let filters = vec![
        (root.as_str(), "[ROOT]"),
        (bin.as_str(), "[GLASSBOX]"),
        (r"[0-9a-f]{64}", "[ID]"),
        (r"ctr-[0-9a-f]{24}", "ctr-[ID]"),
        (r"\b[0-9a-f]{12}\b", "[SHORT]"),
        (r"glassbox([-_])[0-9a-f]{6}", "glassbox$1[TAG]"),
        (r"\bgb[0-9a-f]{6}0\b", "gb[TAG]0"),
        (r"\bgb[0-9a-f]{6}([vp])[0-9a-f]+", "gb[TAG]$1[N]"),
        (
            r"\d+ of \d+ mounts shared( \([^)]*\))?",
            "[N] of [M] mounts shared",
        ),
        (r"\b(\d+\.){3}\d+", "[IP]"),
        (r#""\d+" to (\S+/cgroup\.procs)"#, r#""[PID]" to $1"#),
        (r"echo \d+ > (\S+/cgroup\.procs)", "echo [PID] > $1"),
        (r"/proc/\d+/", "/proc/[PID]/"),
        (r"(ok|planned) [0-9.]+(µs|ms|s)\b", "$1 [TIME]"),
        (r" {2,}(ok|planned) \[TIME\]", " $1 [TIME]"),
    ];
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!(format!("run_trace_v_{v}"), trace);
    });
}

/// `v1` when the memory controller is on a v1 hierarchy (this hybrid host),
/// `v2` on a unified host (the VM of `tests/vm/`): the trace of a run names
/// every hierarchy it writes to, so each layout has its own snapshot.
fn cgroup_version() -> &'static str {
    use glassbox::cgroup::detect::{self, Placement};
    let layout = detect::detect().expect("read the cgroup layout");
    match layout.controller("memory") {
        Some(Placement::V1(_)) => "v1",
        Some(Placement::V2(_)) => "v2",
        None => panic!("this host has no memory controller: run needs one"),
    }
}
