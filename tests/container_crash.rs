//! Crash points in the container commands (issue 10's harness): `run -d`,
//! `start`, `stop`, `rm` killed right after each of their changing steps
//! (`GLASSBOX_CRASH_AFTER_STEP`), and the shim killed after each of its
//! own (`GLASSBOX_SHIM_CRASH_AFTER_STEP`: the start of the container and
//! the teardown at its end). After every crash: the state is readable,
//! doctor names what was left (or nothing but whole containers is left),
//! the next ordinary command copes (the same command again, or `rm -f`),
//! and `system prune` leaves nothing.

mod common;

use std::path::Path;
use std::process::Output;

use common::crash::{each_crash_point, killed};
use common::probe::{self, Ctr, IMAGE, SHIM_CRASH_ENV, container_leftovers};
use common::{stderr, stdout};

/// Every JSON state file parses (a crash may leave a temporary file; the
/// files themselves are never half written).
fn assert_state_readable(dir: &Path, what: &str) {
    for e in common::entries(dir) {
        let p = dir.join(&e);
        if p.is_dir() {
            if ![
                "layers", "blobs", "diff", "upper", "work", "merged", "rootfs",
            ]
            .contains(&e.as_str())
            {
                assert_state_readable(&p, what);
            }
        } else if e.ends_with(".json") && !e.contains(".tmp-") {
            let text = std::fs::read_to_string(&p).unwrap();
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|err| panic!("{what}: {} is not JSON ({err})", p.display()));
        }
    }
}

/// After a crash: the state is readable, and doctor names what was left,
/// or nothing is left but whole containers (a record with its
/// directories; the resources of one whose shim runs).
fn assert_named_or_nothing_left(c: &Ctr, what: &str) {
    assert_state_readable(c.path(), what);
    let (status, detail) = c.leftovers();
    if status != "ok" {
        assert!(!detail.is_empty(), "{what}: doctor's leftovers say nothing");
        return;
    }
    let live = common::entries(&c.path().join("containers"))
        .iter()
        .any(|id| probe::shim_pid(id).is_some());
    let stray: Vec<String> = container_leftovers(c.path(), Some(&c.netns))
        .into_iter()
        .filter(|l| {
            if let Some(id) = l.strip_prefix("containers/") {
                return probe::record(c.path(), id).is_none();
            }
            if let Some(id) = l.strip_prefix("run/containers/") {
                return !c.path().join("containers").join(id).exists();
            }
            !live
        })
        .collect();
    assert!(
        stray.is_empty(),
        "{what}: doctor says nothing is left, but: {stray:?}"
    );
}

/// `ps -a` works and says whether container `name` is there.
fn listed(c: &Ctr, name: &str, what: &str) -> bool {
    let out = c.run(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        out.status.success(),
        "{what}: ps -a: {}",
        probe::shown(&out)
    );
    stdout(&out).lines().any(|l| l == name)
}

/// Remove container `name` if it is listed (`rm -f` must cope), then
/// `system prune` must leave nothing.
fn rm_f_then_clean(c: &Ctr, name: &str, what: &str) {
    if listed(c, name, what) {
        let out = c.run(&["rm", "-f", name]);
        assert!(
            out.status.success(),
            "{what}: rm -f: {}",
            probe::shown(&out)
        );
    }
    c.assert_clean_after_prune(what);
    c.assert_nothing_left(what);
}

/// A `run -d` (`code` 125) or `start` (1) that failed because its shim
/// died: Docker's exit code, and a message that says what to do.
fn assert_failed_cleanly(out: &Output, code: i32, what: &str) {
    assert!(!killed(out), "{what}: the CLI itself was killed");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: {}",
        probe::shown(out)
    );
    assert!(
        stderr(out).contains("died before the container started"),
        "{what}: {}",
        stderr(out)
    );
}

#[test]
fn run_d_at_every_crash_point_of_the_cli() {
    let c = Ctr::new();
    let n = each_crash_point(
        || c.cmd(&["run", "-d", "--name", "crash", IMAGE, "sleep", "1000"]),
        |k, _| {
            let what = format!("run -d, CLI crash point {k}");
            assert_named_or_nothing_left(&c, &what);
            // The same command again: it runs, or the name is taken by
            // what the crash left (Docker's conflict), which rm -f removes.
            let again = c.run(&["run", "-d", "--name", "crash", IMAGE, "sleep", "1000"]);
            if !again.status.success() {
                assert_eq!(
                    again.status.code(),
                    Some(125),
                    "{what}: {}",
                    probe::shown(&again)
                );
                assert!(
                    stderr(&again).contains("Conflict."),
                    "{what}: {}",
                    stderr(&again)
                );
            }
            rm_f_then_clean(&c, "crash", &what);
        },
    );
    eprintln!("run -d: {n} crash points in the CLI");
    assert!(n > 0);
    rm_f_then_clean(&c, "crash", "run -d without a crash");
}

/// Run `attempt` with the shim's crash point at k = from, from + 1, ...
/// until the shim completes (`done` says so); `check` after each crash.
/// The number of crash points.
fn each_shim_crash_point(
    c: &Ctr,
    from: usize,
    mut attempt: impl FnMut(usize) -> (Output, Option<String>),
    mut done: impl FnMut(&Output, &str) -> bool,
    mut check: impl FnMut(usize, &Output),
) -> usize {
    for k in from..400 {
        let (out, id) = attempt(k);
        if let Some(id) = &id
            && done(&out, id)
        {
            return k - from;
        }
        check(k, &out);
    }
    let _ = c;
    panic!("the shim never finished: over 400 steps?");
}

/// The id of the only container named `name` (from the directories: no
/// command that would settle it).
fn id_by_name(c: &Ctr, name: &str) -> Option<String> {
    common::entries(&c.path().join("containers"))
        .into_iter()
        .find(|id| probe::record(c.path(), id).is_some_and(|r| r["Name"] == name))
}

#[test]
fn run_d_at_every_crash_point_of_the_shim_start_and_teardown() {
    let c = Ctr::new();
    let socket = |id: &str| c.path().join("run/containers").join(id).join("shim.sock");
    let mut started_at = None;
    let n = each_shim_crash_point(
        &c,
        1,
        |k| {
            let out = c
                .cmd(&["run", "-d", "--name", "sc", IMAGE, "sh", "-c", "exit 3"])
                .env(SHIM_CRASH_ENV, k.to_string())
                .output()
                .unwrap();
            let id = id_by_name(&c, "sc");
            if let Some(id) = &id {
                probe::wait_shim_gone(id);
            }
            (out, id)
        },
        // The whole shim ran: run -d succeeded and the shim removed its
        // socket at its end (a crash before the socket was bound fails run).
        |out, id| out.status.success() && !socket(id).exists(),
        |k, out| {
            let what = format!("run -d, shim crash point {k}");
            if out.status.success() {
                started_at.get_or_insert(k);
            } else {
                assert_failed_cleanly(out, 125, &what);
            }
            assert_named_or_nothing_left(&c, &what);
            // The container is shown as it ended, or as created.
            let status = c.status("sc");
            assert!(
                status.starts_with("Exited (") || status == "Created",
                "{what}: ps -a says {status:?}"
            );
            // The next command: start it again; it runs to its end.
            let again = c.run(&["start", "-a", "sc"]);
            assert_eq!(
                again.status.code(),
                Some(3),
                "{what}: start -a: {}",
                probe::shown(&again)
            );
            rm_f_then_clean(&c, "sc", &what);
        },
    );
    let start = started_at.map_or(n, |s| s - 1);
    eprintln!(
        "run -d: {n} crash points in the shim ({start} in the start, {} in the teardown)",
        n - start
    );
    assert!(n > start && start > 0);
    let code = c.inspect("sc", "{{.State.Status}} {{.State.ExitCode}}");
    assert_eq!(code, "exited 3");
    rm_f_then_clean(&c, "sc", "run -d without a crash");
}

#[test]
fn run_d_rm_at_every_crash_point_of_the_shim_teardown() {
    let c = Ctr::new();
    let attempt = |k: usize| {
        let out = c
            .cmd(&["run", "-d", "--rm", "--name", "sr", IMAGE, "true"])
            .env(SHIM_CRASH_ENV, k.to_string())
            .output()
            .unwrap();
        let id = id_by_name(&c, "sr").or_else(|| Some(stdout(&out).trim().to_string()));
        let id = id.filter(|i| i.len() == 64);
        if let Some(id) = &id {
            probe::wait_shim_gone(id);
        }
        (out, id)
    };
    // The teardown's first crash point: the first k at which run -d
    // succeeds (the shim got through the start).
    let (mut lo, mut hi) = (1usize, 400usize);
    while lo < hi {
        let k = (lo + hi) / 2;
        let (out, _) = attempt(k);
        c.run(&["rm", "-f", "sr"]);
        // As after each crash point below, so every attempt takes the same
        // steps (prune --all takes the default bridge away too).
        c.run(&["system", "prune", "--all", "--force"]);
        if out.status.success() {
            hi = k;
        } else {
            lo = k + 1;
        }
    }
    let gone = |id: &str| {
        !c.path().join("containers").join(id).exists()
            && !c.path().join("run/containers").join(id).exists()
    };
    let n = each_shim_crash_point(
        &c,
        lo,
        attempt,
        |_, id| gone(id),
        |k, out| {
            let what = format!("run -d --rm, shim crash point {k}");
            assert!(out.status.success(), "{what}: {}", probe::shown(out));
            assert_named_or_nothing_left(&c, &what);
            // The next command removes what the crash left marked.
            assert!(
                !listed(&c, "sr", &what),
                "{what}: still listed after it ended"
            );
            c.assert_clean_after_prune(&what);
            c.assert_nothing_left(&what);
        },
    );
    eprintln!("run -d --rm: {n} crash points in the shim's teardown (from step {lo})");
    assert!(n > 0);
    c.assert_nothing_left("run -d --rm without a crash");
}

#[test]
fn start_at_every_crash_point() {
    let c = Ctr::new();
    let create = || c.ok(&["create", "--name", "st", IMAGE, "sleep", "1000"]);
    create();
    let cli = each_crash_point(
        || c.cmd(&["start", "st"]),
        |k, _| {
            let what = format!("start, CLI crash point {k}");
            assert_named_or_nothing_left(&c, &what);
            c.ok(&["start", "st"]);
            rm_f_then_clean(&c, "st", &what);
            create();
        },
    );
    c.ok(&["rm", "-f", "st"]);
    let n = each_shim_crash_point(
        &c,
        1,
        |k| {
            create();
            let out = c
                .cmd(&["start", "st"])
                .env(SHIM_CRASH_ENV, k.to_string())
                .output()
                .unwrap();
            (out, id_by_name(&c, "st"))
        },
        |out, _| out.status.success(),
        |k, out| {
            let what = format!("start, shim crash point {k}");
            assert_failed_cleanly(out, 1, &what);
            if let Some(id) = id_by_name(&c, "st") {
                probe::wait_shim_gone(&id);
            }
            assert_named_or_nothing_left(&c, &what);
            // The same command again: the container runs.
            c.ok(&["start", "st"]);
            assert!(c.status("st").starts_with("Up"), "{what}");
            rm_f_then_clean(&c, "st", &what);
        },
    );
    eprintln!("start: {cli} crash points in the CLI, {n} in the shim's start");
    assert!(n > 0);
    rm_f_then_clean(&c, "st", "start without a crash");
}

#[test]
fn stop_at_every_crash_point() {
    let c = Ctr::new();
    let run = || c.run_d(&["--name", "sp", IMAGE, "sleep", "1000"]);
    run();
    let n = each_crash_point(
        || c.cmd(&["stop", "-t", "1", "sp"]),
        |k, _| {
            let what = format!("stop, CLI crash point {k}");
            assert_named_or_nothing_left(&c, &what);
            c.ok(&["stop", "-t", "1", "sp"]);
            assert!(c.status("sp").starts_with("Exited (137)"), "{what}");
            rm_f_then_clean(&c, "sp", &what);
            run();
        },
    );
    eprintln!("stop: {n} crash points in the CLI");
    assert!(c.status("sp").starts_with("Exited (137)"));
    rm_f_then_clean(&c, "sp", "stop without a crash");
}

#[test]
fn rm_at_every_crash_point() {
    let c = Ctr::new();
    for (force, run) in [(true, "sleep 1000"), (false, "true")] {
        let make = || {
            let id = c.run_d(&["--name", "rmx", IMAGE, "sh", "-c", run]);
            if !force {
                probe::wait_shim_gone(&id);
            }
        };
        make();
        let args: Vec<&str> = if force {
            vec!["rm", "-f", "rmx"]
        } else {
            vec!["rm", "rmx"]
        };
        let n = each_crash_point(
            || c.cmd(&args),
            |k, _| {
                let what = format!("{}, crash point {k}", args.join(" "));
                assert_named_or_nothing_left(&c, &what);
                // The next command: rm again (if it is still listed).
                rm_f_then_clean(&c, "rmx", &what);
                make();
            },
        );
        eprintln!("{}: {n} crash points in the CLI", args.join(" "));
        assert!(n > 0);
        c.assert_clean_after_prune("rm without a crash");
        c.assert_nothing_left("rm without a crash");
    }
}
