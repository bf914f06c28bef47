//! `update` on the real kernel: a running container's group gets the new
//! limits at once (its own files say so, and an allocation over the new
//! memory limit is OOM-killed where it passed before), a stopped one gets
//! them at its next start, `inspect`'s HostConfig shows them, and bad
//! input is refused with Docker's message and exit code, nothing changed.
//! Root; runs on this hybrid host (v1) and in the cgroup v2 VM
//! (tests/vm/).

mod cgroup_util;
mod common;

use std::path::PathBuf;

use common::probe::{Ctr, IMAGE};

const M: u64 = 1 << 20;

/// A file of container `id`'s group: in the v1 hierarchy of
/// `controller`, or in its one v2 directory.
fn file(c: &Ctr, id: &str, v: &str, controller: &str, name: &str) -> String {
    let controller = if v == "v1" { controller } else { "memory" };
    let p: PathBuf =
        cgroup_util::dir(&c.root, &format!("ctr-{}", &id[..24]), controller).join(name);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The memory limit and the swap file: v1 memory and memory+swap; v2
/// `memory.max` and `memory.swap.max` (swap alone).
fn memory_files(c: &Ctr, id: &str, v: &str) -> (String, String) {
    if v == "v1" {
        (
            file(c, id, v, "memory", "memory.limit_in_bytes"),
            file(c, id, v, "memory", "memory.memsw.limit_in_bytes"),
        )
    } else {
        (
            file(c, id, v, "memory", "memory.max"),
            file(c, id, v, "memory", "memory.swap.max"),
        )
    }
}

/// `glassbox ARGS`: (exit code, stdout, stderr).
fn status(c: &Ctr, args: &[&str]) -> (i32, String, String) {
    let out = c.run(args);
    (
        out.status.code().unwrap_or(-1),
        common::stdout(&out),
        common::stderr(&out),
    )
}

/// 50M allocated at once by `dd` in the container: its exit code.
fn allocate_50m(c: &Ctr, name: &str) -> i32 {
    let (code, _, err) = status(
        c,
        &[
            "exec",
            name,
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=50M",
            "count=1",
        ],
    );
    eprintln!("dd bs=50M in {name}: exit {code}: {}", err.trim());
    code
}

#[test]
fn update_memory_of_a_running_container_is_live_and_enforced() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    let id = c.run_d(&[
        "--name",
        "live",
        "--network",
        "none",
        IMAGE,
        "sleep",
        "1000",
    ]);
    assert_eq!(allocate_50m(&c, "live"), 0, "no limit yet: 50M fits");
    assert_eq!(
        c.ok(&["update", "-m", "20m", "--memory-swap", "20m", "live"]),
        "live\n"
    );
    let want = if v == "v1" {
        ((20 * M).to_string(), (20 * M).to_string())
    } else {
        ((20 * M).to_string(), "0".to_string())
    };
    assert_eq!(memory_files(&c, &id, v), want, "{v}");
    assert_eq!(
        c.inspect("live", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"),
        format!("{} {}", 20 * M, 20 * M)
    );
    assert_eq!(
        allocate_50m(&c, "live"),
        137,
        "{v}: 50M under the new 20M limit is OOM-killed"
    );
    let events = if v == "v1" {
        file(&c, &id, v, "memory", "memory.oom_control")
    } else {
        file(&c, &id, v, "memory", "memory.events")
    };
    let kills: u64 = events
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(kills >= 1, "{v}: no OOM kill counted: {events}");
    assert_eq!(c.inspect("live", "{{.State.Status}}"), "running");
    // Raised again, past the old memory+swap limit (v1 writes the total
    // first): the allocation fits again.
    c.ok(&["update", "-m", "100m", "--memory-swap", "200m", "live"]);
    let want = if v == "v1" {
        ((100 * M).to_string(), (200 * M).to_string())
    } else {
        ((100 * M).to_string(), (100 * M).to_string())
    };
    assert_eq!(memory_files(&c, &id, v), want, "{v}");
    assert_eq!(allocate_50m(&c, "live"), 0, "50M fits under 100M");
    // The other knobs, live too, and on a paused container as well.
    c.ok(&["pause", "live"]);
    c.ok(&[
        "update",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "50",
        "--memory-reservation",
        "40m",
        "live",
    ]);
    c.ok(&["unpause", "live"]);
    let got: Vec<String> = if v == "v1" {
        vec![
            file(&c, &id, v, "cpu", "cpu.cfs_quota_us"),
            file(&c, &id, v, "cpu", "cpu.shares"),
            file(&c, &id, v, "cpuset", "cpuset.cpus"),
            file(&c, &id, v, "pids", "pids.max"),
            file(&c, &id, v, "memory", "memory.soft_limit_in_bytes"),
        ]
    } else {
        vec![
            file(&c, &id, v, "cpu", "cpu.max"),
            file(&c, &id, v, "cpu", "cpu.weight"),
            file(&c, &id, v, "cpuset", "cpuset.cpus"),
            file(&c, &id, v, "pids", "pids.max"),
            file(&c, &id, v, "memory", "memory.low"),
        ]
    };
    let want = if v == "v1" {
        ["50000", "512", "0", "50", &(40 * M).to_string()].map(String::from)
    } else {
        ["50000 100000", "59", "0", "50", &(40 * M).to_string()].map(String::from)
    };
    assert_eq!(got, want.to_vec(), "{v}");
    assert_eq!(
        c.inspect(
            "live",
            "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.MemoryReservation}} {{.HostConfig.Memory}}"
        ),
        format!("500000000 512 0 50 {} {}", 40 * M, 100 * M)
    );
    c.ok(&["rm", "-f", "live"]);
    c.assert_nothing_left("after the live updates");
}

#[test]
fn update_of_a_stopped_container_is_applied_at_its_next_start() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    c.ok(&[
        "create",
        "--name",
        "later",
        "--network",
        "none",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let id = c.run_d(&[
        "--name",
        "stopped",
        "--network",
        "none",
        IMAGE,
        "sleep",
        "1000",
    ]);
    c.ok(&["stop", "-t", "0", "stopped"]);
    let later = c.inspect("later", "{{.Id}}");
    assert_eq!(
        c.ok(&[
            "update",
            "-m",
            "32m",
            "--memory-swap",
            "64m",
            "--pids-limit",
            "9",
            "later",
            "stopped",
        ]),
        "later\nstopped\n"
    );
    assert!(
        common::probe::cgroup_dirs_of(c.path(), &id).is_empty(),
        "a stopped container got a group"
    );
    for name in ["later", "stopped"] {
        assert_eq!(
            c.inspect(
                name,
                "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}}"
            ),
            format!("{} {} 9", 32 * M, 64 * M)
        );
    }
    c.ok(&["start", "later", "stopped"]);
    let swap = if v == "v1" { 64 * M } else { 32 * M };
    for id in [&later, &id] {
        assert_eq!(
            memory_files(&c, id, v),
            ((32 * M).to_string(), swap.to_string()),
            "{v}"
        );
        assert_eq!(file(&c, id, v, "pids", "pids.max"), "9");
    }
    c.ok(&["rm", "-f", "later", "stopped"]);
    c.assert_nothing_left("after updating stopped containers");
}

#[test]
fn bad_input_gives_dockers_message_and_exit_code_and_changes_nothing() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    let id = c.run_d(&[
        "--name",
        "held",
        "--network",
        "none",
        "-m",
        "100m",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let record = || c.record(&id).unwrap().to_string();
    let before = (record(), memory_files(&c, &id, v));
    let cases: [(&[&str], i32, String); 6] = [
        (
            &["update", "--memory", "foo", "held"],
            125,
            "invalid argument \"foo\" for \"-m, --memory\" flag: invalid size: 'foo'".into(),
        ),
        (
            &["update", "--cpus", "many", "held"],
            125,
            "invalid argument \"many\" for \"--cpus\" flag".into(),
        ),
        (
            &["update", "-m", "5m", "held"],
            1,
            "Error response from daemon: Minimum memory limit allowed is 6MB\n".into(),
        ),
        (
            &["update", "-m", "300m", "held"],
            1,
            format!(
                "Error response from daemon: Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time\n"
            ),
        ),
        (
            &["update", "held"],
            1,
            "you must provide one or more flags when using this command\n".into(),
        ),
        (
            &["update", "-m", "50m", "nope"],
            1,
            "Error response from daemon: No such container: nope\n".into(),
        ),
    ];
    for (args, want_code, want) in cases {
        let (code, out, err) = status(&c, args);
        assert_eq!(code, want_code, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        if want.ends_with('\n') {
            assert_eq!(err, want, "{args:?}");
        } else {
            assert!(err.contains(&want), "{args:?}: {err}");
        }
        assert_eq!(
            (record(), memory_files(&c, &id, v)),
            before,
            "{args:?} changed something"
        );
    }
    c.ok(&["rm", "-f", "held"]);
    c.assert_nothing_left("after the refused updates");
}

/// cgroup v1 refuses a memory limit below what the group uses and cannot
/// reclaim (EBUSY; v2 takes it and OOM-kills): the update fails, the old
/// limits stay, in the group and in the record.
#[test]
fn a_memory_limit_the_kernel_refuses_changes_nothing() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    if v != "v1" {
        eprintln!("{v}: the kernel takes any memory limit (and OOM-kills): nothing to refuse");
        return;
    }
    // 30M in the container's /dev/shm: charged to its group, and with no
    // swap nothing can reclaim it.
    let id = c.run_d(&[
        "--name",
        "full",
        "--network",
        "none",
        "-m",
        "100m",
        IMAGE,
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/shm/fill bs=1M count=30 && sleep 1000",
    ]);
    assert!(
        common::probe::wait_for(std::time::Duration::from_secs(10), || {
            file(&c, &id, v, "memory", "memory.usage_in_bytes")
                .parse::<u64>()
                .unwrap()
                > 30 * M
        }),
        "the container never filled its /dev/shm"
    );
    let record = || c.record(&id).unwrap().to_string();
    let before = (record(), memory_files(&c, &id, v));
    let (code, out, err) = status(&c, &["update", "-m", "10m", "--memory-swap", "10m", "full"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.contains(&format!(
            "Error response from daemon: Cannot update container {id}: "
        )) && err.contains("Device or resource busy")
            && err.contains("uses more memory than that now"),
        "{err}"
    );
    assert_eq!((record(), memory_files(&c, &id, v)), before);
    c.ok(&["rm", "-f", "full"]);
    c.assert_nothing_left("after the refused limit");
}
