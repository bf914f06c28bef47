//! The kernel enforcing glassbox's limits: the OOM killer in a 200M
//! group (status 137, `oom_kill 1`), the same work completing once the
//! limit is raised, a fork loop stopped at pids.max. Runs on the hybrid
//! host (v1) and inside the v2 VM (`tests/vm/run-cgroup-tests.sh`).

mod cgroup_util;
mod common;

use std::time::{Duration, Instant};

use cgroup_util::{spawn_in, stat, version};
use common::{TestRoot, require_root};

/// dd with a 500M buffer: malloc plus read(2) from /dev/zero touches
/// every page of it, like Docker's `stress --vm 1 --vm-bytes 500M`.
const TOUCH_500M: &[&str] = &["dd", "if=/dev/zero", "of=/dev/null", "bs=500M", "count=1"];

#[test]
fn a_process_touching_500m_in_a_200m_group_is_oom_killed_and_completes_under_600m() {
    require_root();
    eprintln!("cgroup {}", version());
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "mem", "--memory", "200M"]);
    let out = root.run(&[&["cgroup", "run", "mem", "--"][..], TOUCH_500M].concat());
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(137), "{err}");
    assert!(err.contains("killed by the OOM killer"), "{err}");
    let s = stat(&root, "mem");
    assert_eq!(s["memory"]["oom_kill"], 1, "{s}");
    assert!(s["memory"]["limit_hits"].as_u64().unwrap() > 0, "{s}");
    let table = root.ok(&["cgroup", "stat", "mem"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("memory.oom_kill") && l.ends_with(" 1")),
        "{table}"
    );

    root.ok(&["cgroup", "set", "mem", "--memory", "600M"]);
    let out = root.run(&[&["cgroup", "run", "mem", "--"][..], TOUCH_500M].concat());
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let s = stat(&root, "mem");
    assert_eq!(
        s["memory"]["oom_kill"], 1,
        "no new OOM kill under 600M: {s}"
    );
    assert!(s["memory"]["peak"].as_u64().unwrap() >= 500 << 20, "{s}");
}

#[test]
fn run_reports_the_commands_own_status() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "st"]);
    assert_eq!(
        root.run(&["cgroup", "run", "st", "--", "sh", "-c", "exit 3"])
            .status
            .code(),
        Some(3)
    );
    let out = root.run(&["cgroup", "run", "st", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(137));
    assert!(
        !common::stderr(&out).contains("OOM"),
        "a plain kill -9 is not an OOM kill"
    );
    assert_eq!(
        root.run(&["cgroup", "run", "st", "--", "/nonexistent/cmd"])
            .status
            .code(),
        Some(127)
    );
    // The command runs inside the group from its first instruction.
    let out = root.ok(&["cgroup", "run", "st", "--", "cat", "/proc/self/cgroup"]);
    assert!(out.contains("/st\n") && out.contains("glassbox-"), "{out}");
}

#[test]
fn a_fork_loop_cannot_exceed_the_pids_limit() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "forks", "--pids-limit", "20"]);
    let child = spawn_in(
        &root,
        "forks",
        "for i in $(seq 1 60); do sleep 20 & done; sleep 20",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut most = 0;
    let mut refused = 0;
    while Instant::now() < deadline && (most < 19 || refused == 0) {
        let s = stat(&root, "forks");
        most = most.max(s["pids"]["current"].as_u64().unwrap());
        refused = s["pids"]["refused"].as_u64().unwrap();
        assert!(most <= 20, "the group held {most} tasks: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // dash gives up at the first refused fork, so the count may settle at
    // 19 sleeps once the shell itself has exited.
    assert!(
        most >= 19,
        "the fork loop never reached the limit (most {most})"
    );
    assert!(refused > 0, "no fork was refused");
    root.ok(&["cgroup", "rm", "--force", "forks"]);
    let out = child.wait_with_output().unwrap();
    let err = common::stderr(&out);
    assert!(
        err.to_lowercase().contains("fork") || err.contains("Resource temporarily unavailable"),
        "{err}"
    );
}

/// A tree that keeps forking: a shell, three children each with three
/// sleeping grandchildren and a loop that forks `true` without end, in a
/// container's group. `Group::kill` empties it in every hierarchy: on v2
/// through `cgroup.kill`, on v1 through the freezer (freeze, SIGKILL each,
/// thaw, wait), not racing the forks with a kill loop.
#[test]
fn kill_empties_a_group_whose_processes_keep_forking() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    use glassbox::cgroup::kill::Method;
    use glassbox::cgroup::{lifecycle, spec::Limits};
    use glassbox::state::{Root, resources::Owner};

    require_root();
    let v = version();
    let root = TestRoot::new();
    let state = Root::new(Some(root.path())).unwrap();
    let limits = Limits {
        pids: Some(Some(200)),
        ..Limits::default()
    };
    let owner = Owner::Manual {
        command: "the kill test".into(),
    };
    let (g, _) = lifecycle::create_container(&state, "bomb", &limits, owner).unwrap();
    match (v, g.kill_method()) {
        ("v1", Method::Freeze(_)) | ("v2", Method::KillFile(_)) => {}
        (v, m) => panic!("cgroup {v}: a container's group is emptied by {m:?}"),
    }
    // The shell waits for a line, so that it forks only once in the group.
    let tree = "read go; \
        for i in 1 2 3; do \
          ( sleep 300 & sleep 300 & sleep 300 & while :; do /bin/true; done ) & \
        done; wait";
    let mut top = Command::new("sh")
        .args(["-c", tree])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    root.ok(&["cgroup", "add", "bomb", &top.id().to_string()]);
    top.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut most = 0;
    while most < 13 {
        most = most.max(g.subtree_procs().unwrap().len());
        assert!(Instant::now() < deadline, "the tree never grew: {most}");
        std::thread::sleep(Duration::from_millis(50));
    }
    g.kill().unwrap();
    for d in g.dirs() {
        let left = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(left.trim().is_empty(), "{} still lists {left}", d.display());
    }
    let status = top.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    if v == "v1" {
        let state = g
            .dirs()
            .into_iter()
            .find(|d| d.join("freezer.state").exists());
        let state = std::fs::read_to_string(state.unwrap().join("freezer.state")).unwrap();
        assert_eq!(state.trim(), "THAWED", "the group was left frozen");
    }
    // Nothing left to kill: a second kill is no step at all.
    g.kill().unwrap();
    root.ok(&["cgroup", "rm", "bomb"]);
    assert!(!g.exists());
}
