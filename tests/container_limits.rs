//! The limits through `run`, as the source material shows them: a
//! `--memory=200M` container whose PID 1 allocates 500M is OOM-killed
//! (exit 137, `inspect` says OOMKilled), `--memory-swap`'s defaults, the
//! container reading its own limit in /sys/fs/cgroup, and `--cpu-shares`
//! 10 against 5 on one CPU giving 2:1, measured from the groups' own
//! counters. These run on the host (cgroup v1 here) and in the cgroup v2
//! VM (tests/vm/run-cgroup-tests.sh).
//!
//! RUN THIS TARGET ALONE (the CPU ratio needs the CPUs to itself):
//!     cargo test --test container_limits -- --test-threads=1

mod cgroup_util;
mod common;

use std::time::Duration;

use common::probe::{Ctr, IMAGE};

/// `run ARGS...` attached: (exit code, stdout, stderr).
fn run(c: &Ctr, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let out = c.run(&all);
    (
        out.status.code().unwrap_or(-1),
        common::stdout(&out),
        common::stderr(&out),
    )
}

#[test]
fn memory_200m_against_500m_allocated_by_pid_1_is_oom_killed() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    for (name, cmd) in [
        ("tail", vec!["tail", "/dev/zero"]),
        (
            "dd",
            vec!["dd", "if=/dev/zero", "of=/dev/null", "bs=500M", "count=1"],
        ),
    ] {
        let mut args = vec!["--name", name, "--network", "none", "--memory=200M", IMAGE];
        args.extend(cmd);
        let t0 = std::time::Instant::now();
        let (code, _, err) = run(&c, &args);
        eprintln!(
            "{v}: {name} with 500M under --memory=200M: exit {code} in {:?}",
            t0.elapsed()
        );
        assert_eq!(code, 137, "{name}: {err}");
        assert_eq!(
            c.inspect(
                name,
                "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}"
            ),
            "exited 137 true",
            "{name}"
        );
    }
    // Killed by hand, not by the OOM killer: OOMKilled stays false.
    let id = c.run_d(&[
        "--name",
        "killed",
        "--network",
        "none",
        "--memory=200M",
        IMAGE,
        "sleep",
        "1000",
    ]);
    c.ok(&["kill", "killed"]);
    common::probe::wait_shim_gone(&id);
    assert_eq!(
        c.inspect("killed", "{{.State.ExitCode}} {{.State.OOMKilled}}"),
        "137 false"
    );
    c.ok(&["rm", "tail", "dd", "killed"]);
    c.assert_nothing_left("after the OOM kills");
}

/// The container's own memory limit files, as it reads them (v1: its
/// directory of the memory hierarchy; v2: its group through a cgroup
/// namespace).
fn limits_inside(c: &Ctr, v: &str, flags: &[&str]) -> Vec<String> {
    let files = if v == "v1" {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"
    } else {
        "/sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max"
    };
    let mut args = vec!["--rm", "--network", "none"];
    args.extend_from_slice(flags);
    args.extend([IMAGE, "sh", "-c"]);
    let script = format!("cat {files}");
    args.push(&script);
    let (code, out, err) = run(c, &args);
    assert_eq!(code, 0, "{flags:?}: {err}");
    out.lines().map(String::from).collect()
}

#[test]
fn memory_swap_defaults_and_the_container_reads_its_own_limit() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    let m = 200u64 << 20;
    // What the container reads for: --memory alone (swap: as much again),
    // --memory-swap equal to it (no swap), --memory-swap -1 (unlimited).
    let cases: [(&[&str], [String; 2], i64); 3] = if v == "v1" {
        // v1's "no limit": the largest page-aligned count.
        let unlimited = (i64::MAX as u64 & !4095).to_string();
        [
            (
                &["--memory=200M"],
                [m.to_string(), (2 * m).to_string()],
                2 * m as i64,
            ),
            (
                &["--memory=200M", "--memory-swap=200M"],
                [m.to_string(), m.to_string()],
                m as i64,
            ),
            (
                &["--memory=200M", "--memory-swap=-1"],
                [m.to_string(), unlimited],
                -1,
            ),
        ]
    } else {
        [
            (
                &["--memory=200M"],
                [m.to_string(), m.to_string()],
                2 * m as i64,
            ),
            (
                &["--memory=200M", "--memory-swap=200M"],
                [m.to_string(), "0".into()],
                m as i64,
            ),
            (
                &["--memory=200M", "--memory-swap=-1"],
                [m.to_string(), "max".into()],
                -1,
            ),
        ]
    };
    for (flags, want, swap) in cases {
        assert_eq!(limits_inside(&c, v, flags), want.to_vec(), "{v} {flags:?}");
        // inspect's HostConfig, as Docker's daemon records it.
        let mut args = vec!["create", "--name", "lim", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend([IMAGE, "true"]);
        c.ok(&args);
        assert_eq!(
            c.inspect("lim", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"),
            format!("{m} {swap}"),
            "{flags:?}"
        );
        c.ok(&["rm", "lim"]);
    }
    c.assert_nothing_left("after the limits");
}

#[test]
fn cpu_shares_10_against_5_on_one_cpu_give_two_to_one() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    let busy = "while :; do :; done";
    let mut groups = Vec::new();
    for (name, shares) in [("hi", "10"), ("lo", "5")] {
        let id = c.run_d(&[
            "--name",
            name,
            "--network",
            "none",
            "--cpuset-cpus",
            "0",
            "--cpu-shares",
            shares,
            IMAGE,
            "sh",
            "-c",
            busy,
        ]);
        groups.push(format!("ctr-{}", &id[..24]));
    }
    let (hi, lo) = (&groups[0], &groups[1]);
    let (shi, slo) = (
        cgroup_util::stat(&c.root, hi),
        cgroup_util::stat(&c.root, lo),
    );
    let weights = (
        cgroup_util::cpu_weight(&shi, v),
        cgroup_util::cpu_weight(&slo, v),
    );
    assert_eq!(weights, if v == "v1" { (10, 5) } else { (4, 2) });
    std::thread::sleep(Duration::from_millis(500));
    let (a0, b0) = (
        cgroup_util::usage_usec(&c.root, hi),
        cgroup_util::usage_usec(&c.root, lo),
    );
    std::thread::sleep(Duration::from_secs(6));
    let (a1, b1) = (
        cgroup_util::usage_usec(&c.root, hi),
        cgroup_util::usage_usec(&c.root, lo),
    );
    c.ok(&["rm", "-f", "hi", "lo"]);
    let (da, db) = ((a1 - a0) as f64, (b1 - b0) as f64);
    assert!(db > 0.0, "the low container got no CPU at all");
    let ratio = da / db;
    let err = (ratio - 2.0).abs() / 2.0;
    eprintln!(
        "{v}: --cpu-shares 10 vs 5 on CPU 0 over 6 s: {:.3}s vs {:.3}s of CPU, ratio {ratio:.3} ({:.1}% off 2:1)",
        da / 1e6,
        db / 1e6,
        err * 100.0
    );
    assert!(err <= 0.15, "ratio {ratio:.3} is more than 15% from 2:1");
    c.assert_nothing_left("after the CPU test");
}
