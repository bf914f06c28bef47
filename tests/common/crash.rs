//! Crash points, deterministically: `GLASSBOX_CRASH_AFTER_STEP=k` makes
//! glassbox SIGKILL itself right after its k-th change to the host (a
//! kernel call, a state-file write, a deletion). A test runs a command once
//! for every k until it finishes normally, and after each crash checks
//! that what was left is named by `doctor`, that the next ordinary command
//! copes, and that `system prune --all` leaves nothing.

use std::path::Path;
use std::process::{Command, Output};

use super::{TestRoot, stderr, stdout};

/// The environment variable glassbox reads (`trace::CRASH_AFTER_STEP_ENV`).
pub const CRASH_ENV: &str = "GLASSBOX_CRASH_AFTER_STEP";

/// Did the command die of SIGKILL (the crash point)?
pub fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(libc::SIGKILL)
}

/// Run `cmd` with the crash point at step `k`.
pub fn run_crashing(mut cmd: Command, k: usize) -> Output {
    cmd.env(CRASH_ENV, k.to_string())
        .output()
        .expect("spawn glassbox")
}

/// Run the command built by `make` once for every crash point k = 1, 2, ...
/// until it finishes without being killed; after each crash call `check`
/// with k and the crashed run's output. Returns the number of crash points
/// (the command's number of changing steps).
pub fn each_crash_point(
    make: impl Fn() -> Command,
    mut check: impl FnMut(usize, &Output),
) -> usize {
    for k in 1..500 {
        let out = run_crashing(make(), k);
        if !killed(&out) {
            assert!(
                out.status.success(),
                "with the crash point past its last step the command must succeed ({})\n--- stdout\n{}\n--- stderr\n{}",
                out.status,
                stdout(&out),
                stderr(&out)
            );
            return k - 1;
        }
        check(k, &out);
    }
    panic!("the command never finished: over 500 steps?");
}

/// `doctor --json`, parsed.
pub fn doctor(root: &TestRoot) -> Vec<serde_json::Value> {
    let out = root.run(&["doctor", "--json"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", stderr(&out)))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The status and detail of one doctor check.
pub fn check<'a>(checks: &'a [serde_json::Value], name: &str) -> (&'a str, &'a str) {
    let c = checks
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no doctor check {name:?}: {checks:#?}"));
    (
        c["status"].as_str().unwrap_or(""),
        c["detail"].as_str().unwrap_or(""),
    )
}

/// After `system prune --all`, nothing of the root may be left: no
/// leftover doctor names, no object on the host carrying the root's names,
/// an empty ledger, no temporary file, and every state file valid JSON.
pub fn assert_clean_after_prune(root: &TestRoot, what: &str) {
    let out = root.run(&["system", "prune", "--all", "-f"]);
    assert!(
        out.status.success(),
        "{what}: system prune --all failed\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let checks = doctor(root);
    for name in ["leftovers", "not recorded"] {
        let (status, detail) = check(&checks, name);
        assert_eq!(status, "ok", "{what}: after prune, doctor {name}: {detail}");
    }
    let ledger = root.path().join("run/resources.json");
    if let Ok(text) = std::fs::read_to_string(&ledger) {
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: resources.json is not JSON: {e}"));
        assert_eq!(
            v.as_array().map(|a| a.len()),
            Some(0),
            "{what}: ledger not empty after prune: {v}"
        );
    }
    assert_state_files_valid(root.path(), what);
}

/// Every `*.json` state file under `dir` parses and no temporary file of
/// a state write is left (image content and layers are not state).
pub fn assert_state_files_valid(dir: &Path, what: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if ![
                "layers", "blobs", "diff", "upper", "work", "merged", "rootfs",
            ]
            .contains(&name.as_str())
            {
                assert_state_files_valid(&path, what);
            }
        } else if name.contains(".tmp-") {
            panic!("{what}: temporary file {} left", path.display());
        } else if name.ends_with(".json") {
            let text = std::fs::read_to_string(&path).unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| {
                panic!("{what}: {} is not valid JSON ({e}): {text}", path.display())
            });
        }
    }
}

/// Is `path` a mount point (the test's own reading of mountinfo)?
pub fn is_mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == path.to_str())
}

/// A mount this root recorded whose creator died before finishing: an
/// overlay `unionfs mount` killed at the first crash point after which the
/// overlay is mounted. A real leftover, of the kind a crash leaves.
pub fn half_made_mount(root: &TestRoot, name: &str) -> std::path::PathBuf {
    let base = root.path().join(name);
    for d in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    let target = base.join("merged");
    for k in 1..100 {
        let mut cmd = root.glassbox();
        cmd.args(["unionfs", "mount", "--lower"])
            .arg(base.join("lower"))
            .arg("--upper")
            .arg(base.join("upper"))
            .arg("--work")
            .arg(base.join("work"))
            .arg(&target);
        let out = run_crashing(cmd, k);
        assert!(
            killed(&out),
            "unionfs mount finished before it mounted: {}",
            stderr(&out)
        );
        if is_mounted(&target) {
            return target;
        }
    }
    panic!("unionfs mount never mounted {}", target.display());
}
