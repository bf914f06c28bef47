//! `pause` and `unpause` through the freezer, on the real kernel: a busy
//! loop's CPU time, read from the container's own group (v1
//! `cpuacct.usage`, v2 `cpu.stat` `usage_usec`), stands still while it is
//! paused and grows again once it is unpaused; `ps` and `inspect` say
//! paused; a paused container is killed, stopped and removed as any other
//! (a frozen v1 task dies of SIGKILL only once thawed) and leaves nothing;
//! Docker's refusals; the `-v` trace of pause and unpause. Root; runs on
//! this hybrid host (v1) and in the cgroup v2 VM (tests/vm/).

mod cgroup_util;
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::probe::{Ctr, IMAGE, wait_for, wait_shim_gone};

const BUSY: &str = "while :; do :; done";

/// The group of container `id` (`ctr-` and 24 hex digits).
fn group(id: &str) -> String {
    format!("ctr-{}", &id[..24])
}

/// A file of container `id`'s group: in the v1 hierarchy of
/// `controller`, or in its one v2 directory.
fn group_file(c: &Ctr, id: &str, v: &str, controller: &str, file: &str) -> PathBuf {
    let controller = if v == "v1" { controller } else { "memory" };
    cgroup_util::dir(&c.root, &group(id), controller).join(file)
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// CPU time of the container's group in microseconds, from its own file.
fn cpu_usec(c: &Ctr, id: &str, v: &str) -> u64 {
    if v == "v1" {
        let ns: u64 = read(&group_file(c, id, v, "cpuacct", "cpuacct.usage"))
            .parse()
            .unwrap();
        ns / 1000
    } else {
        let stat = read(&group_file(c, id, v, "memory", "cpu.stat"));
        stat.lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no usage_usec in cpu.stat: {stat}"))
    }
}

/// Whether the freezer says frozen: v1 `freezer.state`, v2 `cgroup.events`.
fn frozen(c: &Ctr, id: &str, v: &str) -> bool {
    if v == "v1" {
        read(&group_file(c, id, v, "freezer", "freezer.state")) == "FROZEN"
    } else {
        read(&group_file(c, id, v, "memory", "cgroup.events"))
            .lines()
            .any(|l| l == "frozen 1")
    }
}

/// CPU time used over `d`.
fn used_over(c: &Ctr, id: &str, v: &str, d: Duration) -> u64 {
    let a = cpu_usec(c, id, v);
    std::thread::sleep(d);
    cpu_usec(c, id, v) - a
}

fn busy(c: &Ctr, name: &str, script: &str) -> String {
    c.run_d(&[
        "--name",
        name,
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        script,
    ])
}

/// `glassbox ARGS` in the test's namespace: (exit code, stdout, stderr).
fn status(c: &Ctr, args: &[&str]) -> (i32, String, String) {
    let out = c.run(args);
    (
        out.status.code().unwrap_or(-1),
        common::stdout(&out),
        common::stderr(&out),
    )
}

#[test]
fn a_paused_busy_loop_gets_no_cpu_time_until_unpaused() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    let id = busy(&c, "spin", BUSY);
    assert!(
        wait_for(Duration::from_secs(10), || cpu_usec(&c, &id, v) > 20_000),
        "the busy loop never ran"
    );
    assert_eq!(c.ok(&["pause", "spin"]), "spin\n");
    assert!(frozen(&c, &id, v), "{v}: the freezer does not say frozen");
    let paused = used_over(&c, &id, v, Duration::from_secs(1));
    eprintln!("{v}: CPU time while paused: {paused} µs in 1 s");
    assert!(
        paused < 1_000,
        "{v}: the paused loop used {paused} µs of CPU in a second"
    );
    assert!(
        c.status("spin").ends_with("(Paused)"),
        "ps: {}",
        c.status("spin")
    );
    assert_eq!(
        c.inspect(
            "spin",
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"
        ),
        "paused true true"
    );
    assert_eq!(c.ok(&["unpause", "spin"]), "spin\n");
    assert!(!frozen(&c, &id, v), "{v}: still frozen after unpause");
    let running = used_over(&c, &id, v, Duration::from_secs(1));
    eprintln!("{v}: CPU time once unpaused: {running} µs in 1 s");
    assert!(
        running > 50_000,
        "{v}: the unpaused loop used only {running} µs of CPU in a second"
    );
    let st = c.status("spin");
    assert!(st.starts_with("Up ") && !st.contains("Paused"), "ps: {st}");
    assert_eq!(
        c.inspect(
            "spin",
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"
        ),
        "running false true"
    );
    // `container pause` is the same command; several at once, like Docker.
    let id2 = busy(&c, "spin2", BUSY);
    assert_eq!(
        c.ok(&["container", "pause", "spin", "spin2"]),
        "spin\nspin2\n"
    );
    assert!(frozen(&c, &id, v) && frozen(&c, &id2, v));
    assert_eq!(
        c.ok(&["container", "unpause", "spin", "spin2"]),
        "spin\nspin2\n"
    );
    c.ok(&["rm", "-f", "spin", "spin2"]);
    c.assert_nothing_left("after pause and unpause");
}

#[test]
fn kill_stop_and_rm_f_end_a_paused_container_and_leave_nothing() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    let killed = busy(&c, "killed", BUSY);
    // Its trap runs only once the SIGTERM is delivered: after the thaw.
    let stopped = busy(&c, "stopped", &format!("trap 'exit 3' TERM; {BUSY}"));
    let removed = busy(&c, "removed", BUSY);
    c.ok(&["pause", "killed", "stopped", "removed"]);
    for id in [&killed, &stopped, &removed] {
        assert!(frozen(&c, id, v), "{v}: {id} is not frozen");
    }
    assert_eq!(c.ok(&["kill", "killed"]), "killed\n");
    wait_shim_gone(&killed);
    assert_eq!(
        c.inspect(
            "killed",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}"
        ),
        "exited 137 false"
    );
    // Without the thaw the SIGTERM would wait (on v2 too: only a fatal
    // signal gets through a freeze) until the grace period ran out and
    // SIGKILL came: exit 137, not the trap's 3.
    let t0 = Instant::now();
    assert_eq!(c.ok(&["stop", "-t", "60", "stopped"]), "stopped\n");
    eprintln!("{v}: stop of a paused container took {:?}", t0.elapsed());
    assert_eq!(
        c.inspect("stopped", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 3",
        "the stop signal reaches a paused container once it is thawed"
    );
    assert_eq!(c.ok(&["rm", "-f", "removed"]), "removed\n");
    let (code, _, err) = status(&c, &["inspect", "removed"]);
    assert_eq!(code, 1, "{err}");
    c.ok(&["rm", "killed", "stopped"]);
    c.assert_nothing_left("after ending paused containers");
    c.assert_doctor_clean("after ending paused containers");
}

#[test]
fn bad_input_is_refused_as_docker_does_and_changes_nothing() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    let id = c.run_d(&["--name", "up", "--network", "none", IMAGE, "sleep", "1000"]);
    c.ok(&[
        "create",
        "--name",
        "made",
        "--network",
        "none",
        IMAGE,
        "true",
    ]);
    let made = c.inspect("made", "{{.Id}}");
    let record = || c.record(&id).unwrap().to_string();
    let before = record();
    // unpause of a running container.
    let (code, out, err) = status(&c, &["unpause", "up"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("Error response from daemon: Container {id} is not paused\n")
    );
    assert_eq!(record(), before, "the record changed");
    assert!(!frozen(&c, &id, v));
    // pause of one that is not running, and of one already paused.
    let (code, _, err) = status(&c, &["pause", "made"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("Error response from daemon: Container {made} is not running\n")
    );
    c.ok(&["pause", "up"]);
    let paused = record();
    let (code, _, err) = status(&c, &["pause", "up"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("Error response from daemon: Container {id} is already paused\n")
    );
    assert_eq!(record(), paused);
    // start of a paused container.
    let (code, out, err) = status(&c, &["start", "up"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "Error response from daemon: cannot start a paused container, try unpause instead\n"
    );
    assert_eq!(record(), paused);
    // exec into a paused container.
    let (code, _, err) = status(&c, &["exec", "up", "true"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error response from daemon: Container up is paused, unpause the container before exec\n"
    );
    assert!(frozen(&c, &id, v), "a refused exec thawed it");
    // Several at once: the others are still done (Docker's way).
    let (code, out, err) = status(&c, &["unpause", "nope", "up"]);
    assert_eq!(code, 1);
    assert_eq!(out, "up\n");
    assert_eq!(err, "Error response from daemon: No such container: nope\n");
    assert!(!frozen(&c, &id, v));
    c.ok(&["rm", "-f", "up", "made"]);
    c.assert_nothing_left("after the refusals");
}

#[test]
fn verbose_pause_and_unpause_trace_the_freezer() {
    let c = Ctr::new();
    let v = cgroup_util::version();
    c.run_d(&[
        "--name",
        "traced",
        "--network",
        "none",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let mut trace = String::new();
    for cmd in ["pause", "unpause"] {
        let out = c.run(&["-v", cmd, "traced"]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        trace.push_str(&format!("$ glassbox -v {cmd} traced\n"));
        trace.push_str(&common::stderr(&out));
    }
    let frozen_file = if v == "v1" {
        "freezer.state"
    } else {
        "cgroup.events"
    };
    assert!(trace.contains(frozen_file), "{trace}");
    let filters = vec![
        (r"[0-9a-f]{64}", "[ID]"),
        (r"ctr-[0-9a-f]{24}", "ctr-[ID]"),
        (r"glassbox([-_])[0-9a-f]{6}", "glassbox$1[TAG]"),
        (r"(ok|planned) [0-9.]+(µs|ms|s)\b", "$1 [TIME]"),
        (r" {2,}(ok|planned) \[TIME\]", " $1 [TIME]"),
    ];
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!(format!("pause_trace_v_{v}"), trace);
    });
    c.ok(&["rm", "-f", "traced"]);
}
