//! Helpers shared by the cgroup integration tests: which cgroup version
//! this run exercises (v1 on the hybrid host, v2 inside the VM of
//! `tests/vm/`), where a group's files are, and JSON `stat` readings.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use glassbox::cgroup::detect::{self, Placement};
use glassbox::state::Root;

use crate::common::TestRoot;

/// `v1` when the memory controller is on a v1 hierarchy (hybrid/legacy
/// hosts), `v2` on a unified host. Printed so the log says what ran.
pub fn version() -> &'static str {
    let layout = detect::detect().expect("read the cgroup layout");
    let v = match layout.controller("memory") {
        Some(Placement::V1(_)) => "v1",
        Some(Placement::V2(_)) => "v2",
        None => panic!("this host has no memory controller: the cgroup tests need one"),
    };
    eprintln!("cgroup tests on {} ({v})", layout.mode.describe());
    v
}

/// The directory of group `name` for `controller`.
pub fn dir(root: &TestRoot, name: &str, controller: &str) -> PathBuf {
    let layout = detect::detect().unwrap();
    let parent = Root::new(Some(root.path())).unwrap().names().cgroup_parent;
    match layout.controller(controller) {
        Some(Placement::V1(m)) | Some(Placement::V2(m)) => m.join(parent).join(name),
        None => panic!("no {controller} controller"),
    }
}

/// glassbox's parent cgroup of this root, for `controller`.
pub fn parent_dir(root: &TestRoot, controller: &str) -> PathBuf {
    dir(root, "x", controller).parent().unwrap().to_path_buf()
}

/// Assert that glassbox's parent cgroup of this root exists in none of
/// the memory, cpu and pids trees (`after` says what ran).
pub fn assert_no_parent(root: &TestRoot, after: &str) {
    for c in ["memory", "cpu", "pids"] {
        assert!(
            !parent_dir(root, c).exists(),
            "{after} left {} behind",
            parent_dir(root, c).display()
        );
    }
}

/// The relative CPU weight `stat --json` reports: `cpu.shares` on v1,
/// `cpu.weight` on v2.
pub fn cpu_weight(stat: &serde_json::Value, version: &str) -> u64 {
    let key = if version == "v1" { "shares" } else { "weight" };
    stat["cpu"][key].as_u64().unwrap()
}

/// The trimmed content of a group's file.
pub fn file(root: &TestRoot, name: &str, controller: &str, f: &str) -> String {
    let p = dir(root, name, controller).join(f);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// `glassbox cgroup stat NAME --json`.
pub fn stat(root: &TestRoot, name: &str) -> serde_json::Value {
    let out = root.ok(&["cgroup", "stat", name, "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("stat --json: {e}: {out}"))
}

/// CPU time used by a group, in microseconds, from its own counter.
pub fn usage_usec(root: &TestRoot, name: &str) -> u64 {
    stat(root, name)["cpu"]["usage_usec"].as_u64().unwrap()
}

/// Start `glassbox cgroup run NAME -- sh -c SCRIPT` in the background.
pub fn spawn_in(root: &TestRoot, name: &str, script: &str) -> Child {
    root.glassbox()
        .args(["cgroup", "run", name, "--", "sh", "-c", script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn glassbox cgroup run")
}

/// Wait until the group holds at least `n` processes.
pub fn wait_for_procs(root: &TestRoot, name: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let procs = stat(root, name)["procs"].as_array().unwrap().len();
        if procs >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never got {n} processes");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `unshare -m` then a shell line (a private mount namespace, so
/// unmounting a cgroup hierarchy there leaves the host alone).
pub fn in_private_mounts(script: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .output()
        .expect("run unshare")
}

/// The ledger's cgroup records of this root (`resources.json`).
pub fn records(root: &TestRoot) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(root.path().join("run/resources.json")) else {
        return Vec::new();
    };
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("resources.json: {e}: {text}"));
    all.into_iter()
        .filter(|r| r["kind"] == glassbox::cgroup::KIND_NAME)
        .collect()
}

/// The controllers a group spans, for checks that look at every tree.
pub const CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuset", "pids"];

/// Does any directory of group `name` exist, in any tree?
pub fn group_left(root: &TestRoot, name: &str) -> bool {
    CONTROLLERS.iter().any(|c| dir(root, name, c).exists())
}

/// Does glassbox's parent cgroup of this root exist, in any tree?
pub fn parent_left(root: &TestRoot) -> bool {
    CONTROLLERS.iter().any(|c| parent_dir(root, c).exists())
}

/// glassbox's parent cgroups of this root, in every tree a group may span
/// (a container's group spans the freezer, devices and blkio trees too),
/// that exist with no group in them.
pub fn empty_parents(root: &TestRoot) -> Vec<PathBuf> {
    let layout = detect::detect().unwrap();
    let parent = Root::new(Some(root.path())).unwrap().names().cgroup_parent;
    glassbox::cgroup::group::every_hierarchy(&layout)
        .iter()
        .map(|t| t.dir(&parent))
        .filter(|p| {
            std::fs::read_dir(p).is_ok_and(|rd| {
                !rd.flatten()
                    .any(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            })
        })
        .collect()
}
