//! CPU limits measured from the groups' own usage counters (v1
//! `cpuacct.usage`, v2 `cpu.stat usage_usec`), so load from outside the
//! groups does not skew the ratios.
//!
//! RUN THESE ALONE, one at a time, never beside other tests or the VM:
//!     cargo test --test cgroup_cpu -- --test-threads=1
//! (tests/vm/run-cgroup-tests.sh does the same inside the VM.)

mod cgroup_util;
mod common;

use std::time::{Duration, Instant};

use cgroup_util::{cpu_weight, spawn_in, stat, usage_usec, version, wait_for_procs};
use common::{TestRoot, require_root};

const BUSY: &str = "while :; do :; done";
/// How long to measure: long enough that tiny v2 weights (4 and 2) under
/// an emulated CPU average out.
const WINDOW_SECS: u64 = 6;

/// Two busy loops pinned to CPU 0 with these shares; the ratio of the
/// CPU time each group got over a few seconds.
fn measured_ratio(shares: (&str, &str)) -> (f64, serde_json::Value, serde_json::Value) {
    let root = TestRoot::new();
    root.ok(&[
        "cgroup",
        "create",
        "hi",
        "--cpuset-cpus",
        "0",
        "--cpu-shares",
        shares.0,
    ]);
    root.ok(&[
        "cgroup",
        "create",
        "lo",
        "--cpuset-cpus",
        "0",
        "--cpu-shares",
        shares.1,
    ]);
    let mut a = spawn_in(&root, "hi", BUSY);
    let mut b = spawn_in(&root, "lo", BUSY);
    wait_for_procs(&root, "hi", 1);
    wait_for_procs(&root, "lo", 1);
    std::thread::sleep(Duration::from_millis(500));
    let (a0, b0) = (usage_usec(&root, "hi"), usage_usec(&root, "lo"));
    std::thread::sleep(Duration::from_secs(WINDOW_SECS));
    let (a1, b1) = (usage_usec(&root, "hi"), usage_usec(&root, "lo"));
    let (sa, sb) = (stat(&root, "hi"), stat(&root, "lo"));
    root.ok(&["cgroup", "rm", "--force", "hi"]);
    root.ok(&["cgroup", "rm", "--force", "lo"]);
    let _ = a.wait();
    let _ = b.wait();
    let (da, db) = ((a1 - a0) as f64, (b1 - b0) as f64);
    eprintln!(
        "cpu usage over 4 s: hi {:.3}s, lo {:.3}s",
        da / 1e6,
        db / 1e6
    );
    assert!(db > 0.0, "the low group got no CPU at all");
    (da / db, sa, sb)
}

fn assert_within(ratio: f64, want: f64, what: &str) {
    let err = (ratio - want).abs() / want;
    eprintln!(
        "{what}: measured {ratio:.3}, expected {want:.3} ({:.1}% off)",
        err * 100.0
    );
    assert!(
        err <= 0.15,
        "{what}: ratio {ratio:.3} is more than 15% from {want:.3}"
    );
}

#[test]
fn shares_10_and_5_give_two_to_one() {
    require_root();
    let v = version();
    let (ratio, a, b) = measured_ratio(("10", "5"));
    let (wa, wb) = (cpu_weight(&a, v), cpu_weight(&b, v));
    assert_eq!((wa, wb), if v == "v1" { (10, 5) } else { (4, 2) });
    assert_within(ratio, 2.0, "shares 10:5");
}

#[test]
fn shares_1024_and_512_follow_the_values_written() {
    require_root();
    let v = version();
    let (ratio, a, b) = measured_ratio(("1024", "512"));
    let (wa, wb) = (cpu_weight(&a, v), cpu_weight(&b, v));
    assert_eq!((wa, wb), if v == "v1" { (1024, 512) } else { (100, 59) });
    assert_within(ratio, wa as f64 / wb as f64, "shares 1024:512");
}

#[test]
fn cpus_half_caps_a_busy_loop_and_throttles_it() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "half", "--cpus", "0.5"]);
    let mut child = spawn_in(&root, "half", BUSY);
    wait_for_procs(&root, "half", 1);
    let s0 = stat(&root, "half");
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let s1 = stat(&root, "half");
    let elapsed = t0.elapsed().as_secs_f64();
    root.ok(&["cgroup", "rm", "--force", "half"]);
    let _ = child.wait();
    let used = (s1["cpu"]["usage_usec"].as_u64().unwrap()
        - s0["cpu"]["usage_usec"].as_u64().unwrap()) as f64
        / 1e6;
    let share = used / elapsed;
    eprintln!("--cpus 0.5: {used:.3}s of CPU in {elapsed:.3}s = {share:.3} CPU");
    assert!(share <= 0.575, "the loop got {share:.3} of a CPU");
    assert!(
        share > 0.05,
        "the loop barely ran ({share:.3}): the measurement is meaningless"
    );
    let throttled =
        s1["cpu"]["nr_throttled"].as_u64().unwrap() - s0["cpu"]["nr_throttled"].as_u64().unwrap();
    assert!(throttled > 0, "the throttling count did not grow: {s1}");
}
