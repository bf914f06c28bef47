//! `glassbox cgroup` on the real kernel: create/set/add/stat/ls/rm, the
//! values written for each flag on this host's cgroup version, bad input,
//! and snapshots of the traces. Runs on the hybrid host (v1) and inside
//! the v2 VM (`tests/vm/run-cgroup-tests.sh`).

mod cgroup_util;
mod common;

use std::process::Command;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use cgroup_util::{
    CONTROLLERS, assert_no_parent, dir, empty_parents, file, group_left, parent_dir, parent_left,
    records, spawn_in, stat, version, wait_for_procs,
};
use common::crash::{
    assert_clean_after_prune, check, doctor, each_crash_point, killed, run_crashing,
};
use common::{TestRoot, require_root};

const V1_UNLIMITED: &str = "9223372036854771712";

fn mem_limit(root: &TestRoot, name: &str) -> String {
    match version() {
        "v1" => file(root, name, "memory", "memory.limit_in_bytes"),
        _ => file(root, name, "memory", "memory.max"),
    }
}

/// The swap knob as the kernel holds it: v1 memory+swap, v2 swap alone.
fn swap_file(root: &TestRoot, name: &str) -> String {
    match version() {
        "v1" => file(root, name, "memory", "memory.memsw.limit_in_bytes"),
        _ => file(root, name, "memory", "memory.swap.max"),
    }
}

#[test]
fn create_writes_each_limit_and_rm_leaves_nothing() {
    require_root();
    let root = TestRoot::new();
    root.ok(&[
        "cgroup",
        "create",
        "web",
        "--memory",
        "200M",
        "--cpu-shares",
        "512",
        "--cpus",
        "0.5",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "100",
    ]);
    assert_eq!(mem_limit(&root, "web"), "209715200");
    assert_eq!(file(&root, "web", "pids", "pids.max"), "100");
    assert_eq!(file(&root, "web", "cpuset", "cpuset.cpus"), "0");
    match version() {
        "v1" => {
            assert_eq!(file(&root, "web", "cpu", "cpu.shares"), "512");
            assert_eq!(file(&root, "web", "cpu", "cpu.cfs_quota_us"), "50000");
            assert_eq!(file(&root, "web", "cpu", "cpu.cfs_period_us"), "100000");
        }
        _ => {
            assert_eq!(file(&root, "web", "cpu", "cpu.weight"), "59");
            assert_eq!(file(&root, "web", "cpu", "cpu.max"), "50000 100000");
        }
    }
    let s = stat(&root, "web");
    assert_eq!(s["memory"]["limit"], 209715200);
    assert_eq!(s["pids"]["max"], 100);
    assert_eq!(s["cpu"]["quota"], 50000);
    let ls = root.ok(&["cgroup", "ls"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with("web ") && l.contains("200M")),
        "{ls}"
    );

    root.ok(&["cgroup", "rm", "web"]);
    for c in ["memory", "cpu", "cpuset", "pids"] {
        assert!(!dir(&root, "web", c).exists(), "{c} directory left behind");
        assert!(
            !parent_dir(&root, c).exists(),
            "glassbox's parent cgroup left behind in {c}"
        );
    }
    assert!(!root.ok(&["cgroup", "ls"]).contains("web"));
}

#[test]
fn the_trace_shows_both_numbers_of_the_weight_and_the_other_versions_file() {
    require_root();
    let root = TestRoot::new();
    let err = root.ok_stderr(&["--explain", "cgroup", "create", "w", "--cpu-shares", "512"]);
    match version() {
        "v1" => {
            assert!(
                err.contains("echo 512 > ") && err.contains("/cpu.shares"),
                "{err}"
            );
            assert!(err.contains("v1 cpu.shares · v2 cpu.weight"), "{err}");
        }
        _ => {
            assert!(err.contains("--cpu-shares 512 -> cpu.weight 59"), "{err}");
            assert!(err.contains("v2 cpu.weight · v1 cpu.shares"), "{err}");
        }
    }
}

#[test]
fn swap_settings_write_dockers_values() {
    require_root();
    let root = TestRoot::new();
    let mb = |n: u64| (n << 20).to_string();
    let cases: [(&str, Option<&str>, String, String); 4] = [
        ("unset", None, mb(400), mb(200)),
        ("equal", Some("200M"), mb(200), "0".into()),
        ("larger", Some("300M"), mb(300), mb(100)),
        ("unlimited", Some("-1"), V1_UNLIMITED.into(), "max".into()),
    ];
    for (name, swap, v1, v2) in cases {
        let mut args = vec!["cgroup", "create", name, "--memory", "200M"];
        if let Some(s) = swap {
            args.extend(["--memory-swap", s]);
        }
        root.ok(&args);
        let want = if version() == "v1" { &v1 } else { &v2 };
        assert_eq!(&swap_file(&root, name), want, "--memory-swap {swap:?}");
    }
    // Raising memory live keeps Docker's rule (swap = memory) and the
    // kernel's (on v1 the total is raised first).
    root.ok(&["cgroup", "set", "unset", "--memory", "600M"]);
    assert_eq!(mem_limit(&root, "unset"), (600u64 << 20).to_string());
    let want = if version() == "v1" {
        1200u64 << 20
    } else {
        600 << 20
    };
    assert_eq!(swap_file(&root, "unset"), want.to_string());
}

#[test]
fn dockers_special_values_mean_unset_or_unlimited() {
    require_root();
    let root = TestRoot::new();
    root.ok(&[
        "cgroup",
        "create",
        "s",
        "--pids-limit",
        "-1",
        "--cpu-shares",
        "0",
    ]);
    assert_eq!(file(&root, "s", "pids", "pids.max"), "max");
    match version() {
        "v1" => assert_eq!(file(&root, "s", "cpu", "cpu.shares"), "1024"),
        _ => assert_eq!(file(&root, "s", "cpu", "cpu.weight"), "100"),
    }
    root.ok(&["cgroup", "set", "s", "--pids-limit", "20"]);
    assert_eq!(file(&root, "s", "pids", "pids.max"), "20");
    root.ok(&["cgroup", "set", "s", "--pids-limit", "0"]);
    assert_eq!(file(&root, "s", "pids", "pids.max"), "max");
}

#[test]
fn memory_zero_and_memory_swap_zero_are_dockers_unset_not_errors() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "z", "--memory", "0"]);
    let unlimited = mem_limit(&root, "z");
    root.ok(&[
        "cgroup",
        "create",
        "zs",
        "--memory",
        "100m",
        "--memory-swap",
        "0",
    ]);
    assert_eq!(mem_limit(&root, "zs"), (100u64 << 20).to_string());
    root.ok(&["cgroup", "create", "zz", "--memory-swap", "0"]);
    assert_eq!(mem_limit(&root, "zz"), unlimited);
}

#[test]
fn add_moves_a_process_and_rm_refuses_until_forced() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "lab/a", "--pids-limit", "10"]);
    let mut sleeper = Command::new("sleep").arg("300").spawn().unwrap();
    let pid = sleeper.id().to_string();
    root.ok(&["cgroup", "add", "lab/a", &pid]);
    let procs = file(&root, "lab/a", "pids", "cgroup.procs");
    assert!(procs.lines().any(|l| l == pid), "{procs}");
    assert_eq!(stat(&root, "lab/a")["pids"]["current"], 1);

    let err = root.fails(&["cgroup", "rm", "lab/a"]);
    assert!(
        err.contains("still has 1 process(es)") && err.contains(&pid),
        "{err}"
    );
    assert!(
        dir(&root, "lab/a", "memory").exists(),
        "a refused rm removed something"
    );
    let err = root.fails(&["cgroup", "rm", "lab"]);
    assert!(err.contains("has child cgroups (lab/a)"), "{err}");

    root.ok(&["cgroup", "rm", "--force", "lab/a"]);
    let status = sleeper.wait().unwrap();
    assert!(!status.success(), "the process in the group was not killed");
    assert!(!dir(&root, "lab/a", "pids").exists());
    assert!(
        dir(&root, "lab", "pids").exists(),
        "rm lab/a removed lab too"
    );
    root.ok(&["cgroup", "rm", "lab"]);
    assert!(!parent_dir(&root, "pids").exists());
}

#[test]
fn stat_watch_prints_until_the_group_is_gone() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "w", "--memory", "64M"]);
    let child = root
        .glassbox()
        .args([
            "cgroup",
            "stat",
            "w",
            "--json",
            "--watch",
            "--interval",
            "0.2",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    root.ok(&["cgroup", "rm", "w"]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert!(lines.len() >= 3, "only {} samples", lines.len());
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["memory"]["limit"], 64 << 20);
    }
}

/// Bad input: a clear error, and nothing created.
fn refused(root: &TestRoot, args: &[&str], expect: &str) {
    let err = root.fails(args);
    assert!(
        err.contains(expect),
        "{args:?}: expected {expect:?} in:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_no_parent(root, &format!("{args:?}"));
    let ledger = root.path().join("run/resources.json");
    if ledger.exists() {
        let text = std::fs::read_to_string(&ledger).unwrap();
        assert!(
            !text.contains("\"cgroup\""),
            "{args:?} left a ledger record: {text}"
        );
    }
}

#[test]
fn bad_input_is_refused_and_nothing_is_created() {
    require_root();
    let root = TestRoot::new();
    let c = |extra: &[&'static str]| -> Vec<&'static str> {
        [&["cgroup", "create", "bad"][..], extra].concat()
    };
    refused(&root, &c(&["--memory", "10x"]), "invalid size: '10x'");
    refused(
        &root,
        &c(&["--memory", "4m"]),
        "Minimum memory limit allowed is 6MB",
    );
    refused(
        &root,
        &c(&["--memory", "200m", "--memory-swap", "100m"]),
        "Minimum memoryswap limit should be larger than memory limit",
    );
    refused(
        &root,
        &c(&["--memory-swap", "300m"]),
        "You should always set the Memory limit when using Memoryswap limit",
    );
    refused(&root, &c(&["--cpu-shares", "-5"]), "invalid CPU shares -5");
    refused(&root, &c(&["--cpus", "abc"]), "rational number");
    refused(
        &root,
        &c(&["--cpus", "64"]),
        "Range of CPUs is from 0.01 to",
    );
    refused(
        &root,
        &c(&["--cpuset-cpus", "99"]),
        "Requested CPUs are not available",
    );
    refused(
        &root,
        &c(&["--cpuset-cpus", "x-y"]),
        "Invalid value x-y for cpuset cpus",
    );
    refused(&root, &c(&["--pids-limit", "-2"]), "invalid pids limit -2");
    refused(
        &root,
        &["cgroup", "create", "/sys/fs/cgroup/evil"],
        "is absolute",
    );
    refused(&root, &["cgroup", "create", "../evil"], "contains \"..\"");
    refused(
        &root,
        &["cgroup", "create", "lab/../../evil"],
        "contains \"..\"",
    );
    refused(
        &root,
        &["cgroup", "rm", "nosuch"],
        "no cgroup named \"nosuch\"",
    );
    refused(
        &root,
        &["cgroup", "stat", "nosuch"],
        "no cgroup named \"nosuch\"",
    );
    refused(
        &root,
        &["cgroup", "run", "nosuch", "--", "true"],
        "no cgroup named \"nosuch\"",
    );
}

#[test]
fn set_with_a_bad_value_changes_nothing() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "keep", "--memory", "100M"]);
    let err = root.fails(&["cgroup", "set", "keep", "--memory", "10x"]);
    assert!(err.contains("invalid size"), "{err}");
    let err = root.fails(&[
        "cgroup",
        "set",
        "keep",
        "--memory",
        "200m",
        "--memory-swap",
        "150m",
    ]);
    assert!(err.contains("Minimum memoryswap"), "{err}");
    assert_eq!(mem_limit(&root, "keep"), (100u64 << 20).to_string());
    let err = root.fails(&["cgroup", "create", "keep"]);
    assert!(err.contains("already exists"), "{err}");
    let err = root.fails(&["cgroup", "add", "keep", "4194304"]);
    assert!(err.contains("no process with pid 4194304"), "{err}");
}

#[test]
fn a_controller_the_host_does_not_offer_is_named() {
    require_root();
    let root = TestRoot::new();
    // In a private mount namespace, take the memory controller away: on v1
    // unmount its hierarchy, on v2 the whole cgroup2 tree.
    let target = parent_dir(&root, "memory").parent().unwrap().to_path_buf();
    let script = format!(
        "umount -l {} && exec {} --root {} --no-color cgroup create nomem --memory 200M",
        target.display(),
        common::glassbox_bin().display(),
        root.path().display()
    );
    let out = cgroup_util::in_private_mounts(&script);
    let err = common::stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("the memory controller is not available"),
        "{err}"
    );
    assert!(err.contains("--memory"), "{err}");
    assert_no_parent(&root, "a refused create");
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"glassbox-[0-9a-f]{6}", "glassbox-[tag]"),
        (r"ok +[0-9.]+(µs|ms|s)", "ok [time]"),
        (
            r"(read \S+/(cpu\.stat|cpuacct\.\S+|cpuset\.\S+|memory\.(current|peak|usage_in_bytes|max_usage_in_bytes|memsw\.usage_in_bytes|stat))) = .*",
            "$1 = [varies]",
        ),
        (
            r#"write "[0-9,-]+" to (\S+/cpuset\.(cpus|mems))"#,
            "write \"[host]\" to $1",
        ),
        (
            r"echo [0-9,-]+ > (\S+/cpuset\.(cpus|mems))",
            "echo [host] > $1",
        ),
        (
            r"(?m)^(memory\.current|memory\.peak|cpu\.usage|cpu\.user/system|cpu\.throttled|cpuset\.cpus)( +).*$",
            "$1$2[varies]",
        ),
    ]
}

#[test]
fn snapshot_of_the_create_and_stat_traces() {
    require_root();
    let v = version();
    let root = TestRoot::new();
    // On v2 the first group ever made also enables the controllers at the
    // top of the tree; make that happen before the trace is taken.
    root.ok(&[
        "cgroup", "create", "warmup", "--memory", "10M", "--cpus", "1",
    ]);
    root.ok(&["cgroup", "rm", "warmup"]);
    let create = root.ok_stderr(&[
        "-v",
        "--explain",
        "cgroup",
        "create",
        "snap",
        "--memory",
        "200M",
        "--cpu-shares",
        "512",
        "--cpus",
        "0.5",
        "--pids-limit",
        "100",
    ]);
    let out = root.succeeds(&["-vv", "cgroup", "stat", "snap"]);
    let stat_trace = common::stderr(&out);
    let stat_table = common::stdout(&out);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!(format!("cgroup_create_trace_{v}"), create);
        insta::assert_snapshot!(format!("cgroup_stat_trace_{v}"), stat_trace);
        insta::assert_snapshot!(format!("cgroup_stat_table_{v}"), stat_table);
    });
}

#[test]
fn dry_run_plans_without_creating_anything() {
    require_root();
    let root = TestRoot::new();
    let err = root.ok_stderr(&[
        "--dry-run",
        "cgroup",
        "create",
        "plan/a",
        "--memory",
        "200M",
        "--pids-limit",
        "5",
    ]);
    assert!(err.contains("planned"), "{err}");
    assert!(
        err.contains("echo 5 > ") && err.contains("/plan/a/pids.max"),
        "{err}"
    );
    assert_no_parent(&root, "--dry-run");
    assert!(
        !root.path().join("run/resources.json").exists(),
        "--dry-run wrote the ledger"
    );
}

#[test]
fn system_prune_removes_groups_and_kills_what_is_inside() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "left/over", "--memory", "50M"]);
    let mut sleeper = Command::new("sleep").arg("300").spawn().unwrap();
    root.ok(&["cgroup", "add", "left/over", &sleeper.id().to_string()]);
    let out = root.ok(&["system", "prune", "--all", "-f"]);
    assert!(out.contains("removed cgroup left/over"), "{out}");
    assert!(!sleeper.wait().unwrap().success());
    assert_no_parent(&root, "system prune");
    assert!(
        root.ok(&["system", "prune", "--all", "-f"])
            .contains("nothing to prune")
    );
}

/// Where the kernel does not account swap (v1 without `swapaccount=1`),
/// the swap limit cannot be enforced: glassbox must say so, never ignore
/// it silently. Where it does (this host, and every v2 kernel since 6.1,
/// where `swapaccount=0` is a no-op), the limit is written.
#[test]
fn a_swap_limit_is_enforced_or_warned_about() {
    require_root();
    let root = TestRoot::new();
    let err = root.ok_stderr(&[
        "cgroup",
        "create",
        "sw",
        "--memory",
        "200M",
        "--memory-swap",
        "300M",
    ]);
    let knob = if version() == "v1" {
        "memory.memsw.limit_in_bytes"
    } else {
        "memory.swap.max"
    };
    let accounted = dir(&root, "sw", "memory").join(knob).exists();
    eprintln!("swap accounting: {accounted}");
    if accounted {
        assert!(!err.contains("cannot be enforced"), "{err}");
        let want: u64 = if version() == "v1" {
            300 << 20
        } else {
            100 << 20
        };
        assert_eq!(swap_file(&root, "sw"), want.to_string());
    } else {
        assert!(err.contains("swap accounting is off"), "{err}");
        assert!(err.contains("cannot be enforced"), "{err}");
        assert_eq!(mem_limit(&root, "sw"), (200u64 << 20).to_string());
    }
}

#[test]
fn sigterm_to_cgroup_run_is_passed_on_and_leaves_no_process_in_the_group() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "sig"]);
    let mut child = spawn_in(&root, "sig", "exec sleep 300");
    wait_for_procs(&root, "sig", 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "the command's 128+SIGTERM");
    assert_eq!(
        stat(&root, "sig")["procs"].as_array().unwrap().len(),
        0,
        "the command outlived glassbox in the group"
    );
    root.ok(&["cgroup", "rm", "sig"]);
}

#[test]
fn add_refuses_init_and_kernel_threads_and_moves_nothing() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "notinit"]);
    let before = std::fs::read_to_string("/proc/1/cgroup").unwrap();
    let err = root.fails(&["cgroup", "add", "notinit", "1"]);
    assert!(err.contains("refusing to move pid 1 (init)"), "{err}");
    assert_eq!(std::fs::read_to_string("/proc/1/cgroup").unwrap(), before);
    let err = root.fails(&["cgroup", "add", "notinit", "2"]);
    assert!(err.contains("pid 2 is a kernel thread"), "{err}");
    assert!(!err.contains("Invalid argument"), "{err}");
    assert_eq!(stat(&root, "notinit")["procs"].as_array().unwrap().len(), 0);
    root.ok(&["cgroup", "rm", "notinit"]);
}

/// 10 `cgroup create` of one name at once: the kernel's EEXIST picks one
/// winner; the 9 others say "already exists" and touch nothing of its (its
/// limit, its record, its directories). Three rounds, since the old race
/// let 2 to 8 of 10 "succeed" and left the last writer's limit.
#[test]
fn parallel_creates_of_one_name_have_exactly_one_winner() {
    require_root();
    let root = TestRoot::new();
    for round in 0..3 {
        let name = format!("same{round}");
        let started: Vec<(u64, std::process::Child)> = (0..10u64)
            .map(|i| {
                let mb = 10 + i;
                let child = root
                    .glassbox()
                    .args(["cgroup", "create", &name, "--memory", &format!("{mb}m")])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                (mb, child)
            })
            .collect();
        let done: Vec<(u64, u32, Output)> = started
            .into_iter()
            .map(|(mb, c)| (mb, c.id(), c.wait_with_output().unwrap()))
            .collect();
        let winners: Vec<&(u64, u32, Output)> =
            done.iter().filter(|(_, _, o)| o.status.success()).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {} of 10 creates of {name} succeeded:\n{}",
            winners.len(),
            done.iter()
                .map(|(mb, _, o)| format!("--memory {mb}m: {} {}", o.status, common::stderr(o)))
                .collect::<Vec<_>>()
                .join("\n")
        );
        for (mb, _, out) in done.iter().filter(|(_, _, o)| !o.status.success()) {
            let err = common::stderr(out);
            assert!(
                err.contains(&format!("cgroup \"{name}\" already exists")),
                "--memory {mb}m lost, but said:\n{err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
        let (mb, pid, _) = winners[0];
        assert_eq!(
            mem_limit(&root, &name),
            (mb << 20).to_string(),
            "round {round}: the limit is not the winner's ({mb}m)"
        );
        for c in CONTROLLERS {
            assert!(
                dir(&root, &name, c).is_dir(),
                "a loser removed the winner's {c} directory"
            );
        }
        let recs: Vec<_> = records(&root)
            .into_iter()
            .filter(|r| r["id"] == name.as_str())
            .collect();
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0]["phase"], "live", "{recs:?}");
        assert_eq!(
            recs[0]["creator"], *pid,
            "the record is not the winner's: {recs:?}"
        );
    }
    for round in 0..3 {
        root.ok(&["cgroup", "rm", &format!("same{round}")]);
    }
    assert_no_parent(&root, "rm of the winners");
}

/// A group is a directory beside the kernel's interface files: a name that
/// is (or could be) one of them, or is no single path component, is
/// refused before anything is made. `cgroup create tasks` used to
/// "succeed" on v1 without making a group (the file `tasks` "existed").
#[test]
fn names_that_are_or_could_be_interface_files_are_refused() {
    require_root();
    let root = TestRoot::new();
    let long = "a".repeat(256);
    for (name, expect) in [
        ("tasks", "interface file (tasks"),
        ("notify_on_release", "interface file"),
        ("release_agent", "interface file"),
        ("cgroup.procs", "interface file (cgroup.procs"),
        ("cgroup.subtree_control", "interface file"),
        ("memory.max", "interface file (memory.max"),
        ("memory.limit_in_bytes", "interface file"),
        ("cpu.shares", "interface file"),
        ("cpuset.cpus", "interface file"),
        ("io.max", "interface file"),
        ("pids.max", "interface file"),
        ("lab/tasks", "interface file (tasks"),
        (".", "contains \".\""),
        ("..", "contains \"..\""),
        ("lab/.", "contains \".\""),
        ("/", "is absolute"),
        ("_x", "must start with a letter or a digit"),
        ("a%d", "a character other than"),
        (long.as_str(), "at most 255 bytes"),
    ] {
        refused(&root, &["cgroup", "create", name], expect);
    }
    refused(&root, &["cgroup", "create", ""], "cgroup name is empty");
    refused(
        &root,
        &["cgroup", "create", "--", "-x"],
        "must start with a letter or a digit",
    );
    // Docker-like names are fine, dots included.
    for ok in ["web.1", "my-app_2", "Tasks"] {
        root.ok(&["cgroup", "create", ok, "--pids-limit", "5"]);
        assert_eq!(file(&root, ok, "pids", "pids.max"), "5");
        root.ok(&["cgroup", "rm", ok]);
    }
    assert_no_parent(&root, "the Docker-like names");
}

/// `--cpuset-cpus 0-99999999999` used to abort glassbox, which tried to
/// list a hundred billion CPUs first (800 GB).
#[test]
fn a_huge_cpuset_range_is_refused_naming_the_cpus_there_are() {
    require_root();
    let root = TestRoot::new();
    let n = std::thread::available_parallelism().unwrap().get();
    let available = if n == 1 {
        "0".to_string()
    } else {
        format!("0-{}", n - 1)
    };
    for range in ["0-99999999999", "0-18446744073709551615", "99999999999"] {
        refused(
            &root,
            &["cgroup", "create", "big", "--cpuset-cpus", range],
            &format!(
                "Requested CPUs are not available - requested {range}, available: {available}"
            ),
        );
    }
    refused(
        &root,
        &[
            "cgroup",
            "create",
            "big",
            "--cpuset-cpus",
            "0-999999999999999999999",
        ],
        "Invalid value 0-999999999999999999999 for cpuset cpus",
    );
}

const CRASH_CREATE: [&str; 9] = [
    "cgroup",
    "create",
    "crashy",
    "--memory",
    "64m",
    "--cpus",
    "0.5",
    "--pids-limit",
    "20",
];

/// The group `crashy` as `CRASH_CREATE` makes it.
fn assert_crashy_made(root: &TestRoot, what: &str) {
    assert_eq!(
        mem_limit(root, "crashy"),
        (64u64 << 20).to_string(),
        "{what}"
    );
    assert_eq!(file(root, "crashy", "pids", "pids.max"), "20", "{what}");
    assert_eq!(stat(root, "crashy")["cpu"]["quota"], 50000, "{what}");
    for c in CONTROLLERS {
        assert!(dir(root, "crashy", c).is_dir(), "{what}: no {c} directory");
    }
}

/// Doctor's leftovers after a crash: each record left pending or without
/// its group, and each empty parent cgroup of the root, is named; when
/// there is none of those, doctor says all is well. Nothing on the host is
/// ever "not recorded".
fn assert_doctor_names_what_is_left(root: &TestRoot, what: &str) {
    let checks = doctor(root);
    let (unrec, unrec_detail) = check(&checks, "not recorded");
    assert_eq!(unrec, "ok", "{what}: {unrec_detail}");
    let mut left = Vec::new();
    for r in records(root) {
        let id = r["id"].as_str().unwrap();
        if r["phase"] == "pending" || !group_left(root, id) {
            left.push(format!("cgroup {id} ("));
        }
    }
    for p in empty_parents(root) {
        left.push(format!("cgroup-parent {} (", p.display()));
    }
    let (status, detail) = check(&checks, "leftovers");
    if left.is_empty() {
        assert_eq!(
            status, "ok",
            "{what}: nothing is left over, but doctor says: {detail}"
        );
    } else {
        assert_eq!(
            status, "warn",
            "{what}: {left:?} left, but doctor says: {detail}"
        );
        for l in left {
            assert!(
                detail.contains(&l),
                "{what}: doctor does not name {l:?}: {detail}"
            );
        }
    }
}

/// `cgroup create` killed after each of its steps (the ledger record,
/// every mkdir, cpuset copy and limit, the commit): doctor names what was
/// left, the same create then succeeds (or, once the group was finished,
/// says "already exists"), `cgroup rm` removes it, and prune leaves
/// nothing; and `system prune` alone cleans every crash too.
#[test]
fn a_crash_at_every_step_of_create_is_named_and_recovered() {
    require_root();
    let root = TestRoot::new();
    let make = || {
        let mut cmd = root.glassbox();
        cmd.args(CRASH_CREATE);
        cmd
    };
    let n = each_crash_point(make, |k, out| {
        let what = format!(
            "cgroup create killed after step {k} ({})",
            common::stderr(out).trim()
        );
        assert_doctor_names_what_is_left(&root, &what);
        let finished = records(&root)
            .iter()
            .any(|r| r["id"] == "crashy" && r["phase"] == "live");
        if finished {
            let err = root.fails(&CRASH_CREATE);
            assert!(err.contains("already exists"), "{what}: {err}");
        } else {
            let again = root.run(&CRASH_CREATE);
            common::assert_succeeded(&CRASH_CREATE, &again);
        }
        assert_crashy_made(&root, &what);
        root.ok(&["cgroup", "rm", "crashy"]);
        assert!(!group_left(&root, "crashy"), "{what}: rm left the group");
        assert_clean_after_prune(&root, &what);
        assert_no_parent(&root, &what);

        // The same crash, then only `system prune` (no --all: a half-made
        // group is an orphan) and a create that must not be refused.
        let out = run_crashing(make(), k);
        assert!(killed(&out), "{what}: not killed the second time");
        let pruned = root.run(&["system", "prune", "-f"]);
        common::assert_succeeded(&["system", "prune", "-f"], &pruned);
        let finished = records(&root)
            .iter()
            .any(|r| r["id"] == "crashy" && r["phase"] == "live");
        assert_eq!(
            group_left(&root, "crashy"),
            finished,
            "{what}: after system prune, the group is left half-made (or a finished one was removed)"
        );
        if finished {
            root.ok(&["cgroup", "rm", "crashy"]);
        } else {
            assert!(
                !parent_left(&root),
                "{what}: system prune left glassbox's parent cgroup"
            );
            root.ok(&CRASH_CREATE);
            assert_crashy_made(&root, &what);
            root.ok(&["cgroup", "rm", "crashy"]);
        }
        assert_clean_after_prune(&root, &format!("{what}, then system prune"));
    });
    eprintln!("cgroup create on {}: {n} crash points", version());
    assert!(n >= 6, "only {n} steps: the crash points are not counted");
}

/// `cgroup create lab/deep` makes and records `lab` too: killed after each
/// step, the same create then succeeds (rolling back only what is half
/// made) or says "already exists" once both are finished, and both go.
#[test]
fn a_crash_at_every_step_of_a_nested_create_is_recovered() {
    require_root();
    let root = TestRoot::new();
    let args = ["cgroup", "create", "lab/deep", "--pids-limit", "20"];
    let n = each_crash_point(
        || {
            let mut cmd = root.glassbox();
            cmd.args(args);
            cmd
        },
        |k, _| {
            let what = format!("cgroup create lab/deep killed after step {k}");
            assert_doctor_names_what_is_left(&root, &what);
            let finished = records(&root)
                .iter()
                .filter(|r| r["phase"] == "live")
                .count()
                == 2;
            if finished {
                let err = root.fails(&args);
                assert!(err.contains("already exists"), "{what}: {err}");
            } else {
                let again = root.run(&args);
                common::assert_succeeded(&args, &again);
            }
            assert_eq!(file(&root, "lab/deep", "pids", "pids.max"), "20", "{what}");
            assert_eq!(records(&root).len(), 2, "{what}: {:?}", records(&root));
            root.ok(&["cgroup", "rm", "lab/deep"]);
            root.ok(&["cgroup", "rm", "lab"]);
            assert_clean_after_prune(&root, &what);
            assert_no_parent(&root, &what);
        },
    );
    root.ok(&["cgroup", "rm", "--force", "lab"]);
    assert_clean_after_prune(&root, "the finished nested create");
    eprintln!("cgroup create lab/deep on {}: {n} crash points", version());
}

/// Make `gone` with two child groups and a process in each, as `cgroup rm
/// --force gone` finds it (processes only in leaves: cgroup v2 keeps none
/// in a group whose children have controllers). Returns the processes, to
/// reap.
fn make_gone(root: &TestRoot) -> Vec<std::process::Child> {
    root.ok(&[
        "cgroup",
        "create",
        "gone",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
    ]);
    let mut sleepers = Vec::new();
    for kid in ["gone/kid", "gone/kid2"] {
        root.ok(&["cgroup", "create", kid, "--pids-limit", "5"]);
        let child = Command::new("sleep").arg("300").spawn().unwrap();
        root.ok(&["cgroup", "add", kid, &child.id().to_string()]);
        sleepers.push(child);
    }
    sleepers
}

/// `cgroup rm --force` killed after each of its steps: what is left is
/// named by doctor, `cgroup rm` again finishes the removal (or says there
/// is no such group when nothing is left), a create of the name is not
/// refused, and prune leaves nothing.
#[test]
fn a_crash_at_every_step_of_rm_is_named_and_recovered() {
    require_root();
    let root = TestRoot::new();
    let rm = ["cgroup", "rm", "--force", "gone"];
    let mut sleepers = make_gone(&root);
    let n = each_crash_point(
        || {
            let mut cmd = root.glassbox();
            cmd.args(rm);
            cmd
        },
        |k, out| {
            let what = format!(
                "cgroup rm killed after step {k} ({})",
                common::stderr(out).trim()
            );
            assert_doctor_names_what_is_left(&root, &what);
            let again = root.run(&rm);
            if !again.status.success() {
                let err = common::stderr(&again);
                assert!(err.contains("no cgroup named \"gone\""), "{what}: {err}");
                assert!(records(&root).is_empty(), "{what}: {err}");
            }
            assert!(
                !group_left(&root, "gone"),
                "{what}: rm again left the group"
            );
            assert!(
                !parent_left(&root),
                "{what}: rm again left glassbox's parent"
            );
            for mut s in sleepers.drain(..) {
                assert!(!s.wait().unwrap().success(), "{what}: a process survived");
            }
            root.ok(&["cgroup", "create", "gone"]);
            root.ok(&["cgroup", "rm", "gone"]);
            assert_clean_after_prune(&root, &what);
            sleepers = make_gone(&root);
        },
    );
    for mut s in sleepers {
        assert!(!s.wait().unwrap().success());
    }
    assert!(!group_left(&root, "gone"));
    assert_clean_after_prune(&root, "the finished rm");
    eprintln!("cgroup rm --force on {}: {n} crash points", version());
    assert!(n >= 4, "only {n} steps");
}

/// `cgroup run` killed after each of its steps (the fork, each move into
/// the group): the command, held until it is in the group, never runs and
/// goes with glassbox; nothing is left over.
#[test]
fn a_crash_at_every_step_of_run_runs_nothing_and_leaves_nothing() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "runner", "--pids-limit", "20"]);
    let marker = root.path().join("ran");
    let script = format!("touch {}", marker.display());
    let n = each_crash_point(
        || {
            let mut cmd = root.glassbox();
            cmd.args(["cgroup", "run", "runner", "--", "sh", "-c", &script]);
            cmd
        },
        |k, _| {
            let what = format!("cgroup run killed after step {k}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while !stat(&root, "runner")["procs"]
                .as_array()
                .unwrap()
                .is_empty()
            {
                assert!(
                    Instant::now() < deadline,
                    "{what}: the held command outlived glassbox"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(
                !marker.exists(),
                "{what}: the command ran although glassbox died first"
            );
            assert_doctor_names_what_is_left(&root, &what);
        },
    );
    assert!(marker.exists(), "the uncrashed run did not run the command");
    root.ok(&["cgroup", "rm", "runner"]);
    assert_clean_after_prune(&root, "cgroup run");
    eprintln!("cgroup run on {}: {n} crash points", version());
    assert!(n >= 2, "only {n} steps");
}

/// Every argument and option of `glassbox cgroup` and its subcommands, by
/// its path in the clap tree, that `--help` shows without a line of help.
fn args_without_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        let help = a
            .get_help()
            .or(a.get_long_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        if help.trim().is_empty() && !a.is_hide_set() {
            out.push(format!("{path} {}", a.get_id()));
        }
    }
    for sub in cmd.get_subcommands() {
        let about = sub.get_about().map(|h| h.to_string()).unwrap_or_default();
        let sub_path = format!("{path} {}", sub.get_name());
        if about.trim().is_empty() && !sub.is_hide_set() {
            out.push(sub_path.clone());
        }
        args_without_help(sub, &sub_path, out);
    }
}

/// `glassbox cgroup run|stat|rm|add --help` listed NAME and PID with no
/// help at all.
#[test]
fn every_cgroup_argument_and_option_has_a_help_line() {
    use clap::CommandFactory;
    let mut cli = glassbox::cli::Cli::command();
    cli.build();
    let cgroup = cli.find_subcommand("cgroup").expect("a cgroup subcommand");
    let mut missing = Vec::new();
    args_without_help(cgroup, "cgroup", &mut missing);
    assert!(
        missing.is_empty(),
        "arguments and options without a help line: {missing:#?}"
    );
    // The walk sees the positional arguments it is about.
    let stat = cgroup.find_subcommand("stat").unwrap();
    assert!(stat.get_arguments().any(|a| a.get_id() == "name"));
}

/// Redactions for comparing a plan with its run: what is read differs
/// between the two (usage), and the order of values of a pid list.
const PLAN_REDACT: &[(&str, &str)] = &[(r"^read (\S+) = .*$", "read $1 = [value]")];

/// A plan made with `--dry-run` is what the real run does, step for step
/// (mechanism, action, summary, in order; what is read redacted), for each
/// `cgroup` command lab 02 uses, in the lab's order: create with each kind
/// of limit (the first one making glassbox's parents), ls, stat, set, add,
/// rm of an empty group, rm --force of a tree with processes. `cgroup
/// create x --memory 64m --dry-run` used to fail, reading the cpuset of a
/// parent the same plan was to create; on v2 the plan read the
/// `cgroup.subtree_control` of planned parents.
#[test]
fn a_dry_run_plan_is_what_each_lab_command_does() {
    require_root();
    eprintln!("cgroup {}", version());
    let root = TestRoot::new();
    // On v2, enable the controllers at the top of the tree now, so that a
    // test running beside this one cannot do it between a plan and its run.
    root.ok(&[
        "cgroup", "create", "warmup", "--memory", "10M", "--cpus", "1",
    ]);
    root.ok(&["cgroup", "rm", "warmup"]);
    let mut sleepers: Vec<std::process::Child> = (0..3)
        .map(|_| Command::new("sleep").arg("300").spawn().unwrap())
        .collect();
    let (hi, lo) = (sleepers[0].id().to_string(), sleepers[1].id().to_string());
    let third = sleepers[2].id().to_string();
    let table: Vec<Vec<&str>> = vec![
        vec!["cgroup", "create", "lab/mem", "--memory", "200M"],
        vec!["cgroup", "ls"],
        vec!["cgroup", "stat", "lab/mem"],
        vec!["cgroup", "stat", "lab/mem", "--json"],
        vec!["cgroup", "set", "lab/mem", "--memory", "600M"],
        vec![
            "cgroup",
            "create",
            "lab/hi",
            "--cpuset-cpus",
            "0",
            "--cpu-shares",
            "10",
        ],
        vec![
            "cgroup",
            "create",
            "lab/lo",
            "--cpuset-cpus",
            "0",
            "--cpu-shares",
            "5",
        ],
        vec!["cgroup", "create", "lab/half", "--cpus", "0.5"],
        vec!["cgroup", "create", "lab/few", "--pids-limit", "20"],
        vec!["cgroup", "add", "lab/hi", &hi],
        vec!["cgroup", "add", "lab/lo", &lo],
        vec!["cgroup", "stat", "lab/hi", "--json"],
        vec!["cgroup", "ls", "--json"],
        vec!["cgroup", "rm", "lab/half"],
        vec!["cgroup", "rm", "--force", "lab"],
    ];
    for args in &table {
        let what = args.join(" ");
        let steps = common::plan::assert_plan_is_the_run(
            &what,
            |flags| {
                let mut cmd = root.glassbox();
                cmd.args(flags).args(args);
                cmd
            },
            PLAN_REDACT,
        );
        let changes = steps.iter().filter(|s| !s.contains(" file-read ")).count();
        eprintln!("{what}: {} steps, {changes} of them changes", steps.len());
        if args[1] != "ls" && args[1] != "stat" {
            assert!(changes > 0, "{what}: the run changed nothing: {steps:#?}");
        }
    }
    // A refused command is refused by its plan too, with the same words.
    root.ok(&["cgroup", "create", "busy"]);
    root.ok(&["cgroup", "add", "busy", &third]);
    let planned = root.fails(&["--dry-run", "cgroup", "rm", "busy"]);
    let real = root.fails(&["cgroup", "rm", "busy"]);
    assert!(real.contains("still has 1 process(es)"), "{real}");
    assert_eq!(planned, real);
    root.ok(&["cgroup", "rm", "--force", "busy"]);
    for s in &mut sleepers {
        assert!(!s.wait().unwrap().success(), "rm --force spared a process");
    }
    assert!(records(&root).is_empty(), "{:?}", records(&root));
    assert_no_parent(&root, "the lab's commands");
}

/// Without root, `--dry-run` of each lab command plans without failing:
/// the ledger, which only root may read, shows as a planned read (the real
/// run reads it); every other step is planned or a read that worked.
#[test]
fn without_root_a_dry_run_plans_and_shows_the_root_only_read() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let root = TestRoot::new();
    let out_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(out_dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut sleeper = Command::new("sleep").arg("300").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let plan_as_nobody = |args: &[&str], n: usize| -> Vec<common::plan::Traced> {
        let json = out_dir.path().join(format!("plan{n}.jsonl"));
        let all = [
            &["--dry-run", "--trace-json", json.to_str().unwrap()][..],
            args,
        ]
        .concat();
        let out = root.run_as_nobody(&all);
        assert!(
            out.status.success(),
            "as nobody, {args:?} --dry-run failed\n{}",
            common::stderr(&out)
        );
        let steps = common::plan::read_trace(&json);
        let failed: Vec<_> = steps.iter().filter(|s| s.result == "error").collect();
        assert!(
            failed.is_empty(),
            "as nobody, {args:?}: failed steps {failed:#?}"
        );
        steps
    };
    let ledger_read = |steps: &[common::plan::Traced]| {
        steps.iter().any(|s| {
            s.result == "planned"
                && s.summary.contains("ledger")
                && s.summary.contains("(needs root")
        })
    };
    // In a root glassbox has not used yet there is no ledger to read.
    let steps = plan_as_nobody(&["cgroup", "create", "lab/mem", "--memory", "64m"], 0);
    assert!(!ledger_read(&steps), "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|s| s.summary.contains("create cgroup") && s.result == "planned"),
        "{steps:#?}"
    );
    // Then with groups there, made for real by root (whose root directory
    // and ledger only root may enter).
    root.ok(&["cgroup", "create", "lab/mem", "--memory", "64m"]);
    root.ok(&[
        "cgroup",
        "create",
        "lab/hi",
        "--cpuset-cpus",
        "0",
        "--cpu-shares",
        "10",
    ]);
    let cases: Vec<(Vec<&str>, bool)> = vec![
        (
            vec![
                "cgroup",
                "create",
                "lab/lo",
                "--cpuset-cpus",
                "0",
                "--cpu-shares",
                "5",
            ],
            true,
        ),
        (
            vec![
                "cgroup",
                "create",
                "lab/half",
                "--cpus",
                "0.5",
                "--pids-limit",
                "9",
            ],
            true,
        ),
        (vec!["cgroup", "set", "lab/mem", "--memory", "600M"], true),
        (vec!["cgroup", "add", "lab/hi", &pid], true),
        (vec!["cgroup", "stat", "lab/mem"], false),
        (vec!["cgroup", "stat", "lab/hi", "--json"], false),
        (vec!["cgroup", "ls"], false),
        (vec!["cgroup", "rm", "lab/mem"], true),
        (vec!["cgroup", "rm", "--force", "lab"], true),
    ];
    for (n, (args, reads_ledger)) in cases.iter().enumerate() {
        let steps = plan_as_nobody(args, n + 1);
        assert_eq!(ledger_read(&steps), *reads_ledger, "{args:?}: {steps:#?}");
    }
    // The plans changed nothing.
    assert!(dir(&root, "lab/mem", "memory").is_dir());
    assert!(!dir(&root, "lab/lo", "memory").exists());
    assert_eq!(records(&root).len(), 3, "{:?}", records(&root));
    root.ok(&["cgroup", "rm", "--force", "lab"]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

/// The shell lines of a plan are lines a student can type: run in order by
/// `sh -e`, they make the group glassbox would make. The v1 cpuset line
/// used to be `echo '$(cat …/cpuset.cpus)' > …`, which writes that text.
#[test]
fn the_plans_shell_lines_typed_make_the_same_group() {
    require_root();
    let root = TestRoot::new();
    let plan = root.ok_stderr(&[
        "--dry-run",
        "cgroup",
        "create",
        "typed/inner",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "7",
    ]);
    let lines: Vec<&str> = plan
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ "))
        .collect();
    assert!(
        lines.iter().all(|l| !l.contains("$(")),
        "a line that writes its own text: {lines:#?}"
    );
    if version() == "v1" {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("cat ") && l.ends_with("/typed/inner/cpuset.cpus")),
            "{lines:#?}"
        );
    }
    let script = lines.join("\n");
    let out = Command::new("sh").args(["-ec", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "typing the plan failed:\n{script}\n{}",
        common::stderr(&out)
    );
    assert_eq!(file(&root, "typed/inner", "cpuset", "cpuset.cpus"), "0");
    assert_eq!(file(&root, "typed/inner", "pids", "pids.max"), "7");
    // What was typed is nobody's record: take it down the same way.
    let mkdirs: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("mkdir "))
        .collect();
    for d in mkdirs.iter().rev() {
        std::fs::remove_dir(d).unwrap_or_else(|e| panic!("rmdir {d}: {e}"));
    }
    assert_no_parent(&root, "the typed plan, undone");
}

/// What `run` needs of a container's group: on v1 a directory in every
/// hierarchy (freezer, devices, blkio, cpuacct too) with no limit set, in
/// the ledger for the container's record; `cgroup stat` and `rm` see all
/// of it; and once the record is gone, `system prune` removes it whole.
#[test]
fn a_containers_group_has_a_directory_in_every_hierarchy() {
    use glassbox::cgroup::group::every_hierarchy;
    use glassbox::cgroup::{detect, lifecycle, spec::Limits};
    use glassbox::state::{Root, resources::Owner};
    require_root();
    let root = TestRoot::new();
    let state = Root::new(Some(root.path())).unwrap();
    let record = root.path().join("container.json");
    std::fs::write(&record, "{}").unwrap();
    let owner = Owner::StateFile {
        path: record.clone(),
    };
    let (g, _) =
        lifecycle::create_container(&state, "ctr1", &Limits::default(), owner.clone()).unwrap();
    let layout = detect::detect().unwrap();
    let dirs: Vec<std::path::PathBuf> = every_hierarchy(&layout)
        .iter()
        .map(|t| t.dir(&g.rel))
        .collect();
    let mounts: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    eprintln!("a container's group on {}: {mounts:#?}", version());
    for d in &dirs {
        assert!(d.is_dir(), "no directory {}", d.display());
    }
    if version() == "v1" {
        for c in [
            "freezer", "devices", "blkio", "cpuacct", "memory", "cpu", "cpuset", "pids",
        ] {
            assert!(
                mounts.iter().any(|m| m.contains(&format!("/{c}/"))),
                "no {c} hierarchy in {mounts:#?}"
            );
        }
        assert_eq!(dirs.len(), 8, "{mounts:#?}");
    } else {
        assert_eq!(dirs.len(), 1, "v2: one directory: {mounts:#?}");
    }
    let recs = records(&root);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["id"], "ctr1");
    assert_eq!(recs[0]["phase"], "live");
    assert_eq!(recs[0]["owner"]["type"], "state-file");
    // stat shows every directory; a process added goes into all of them.
    let s = stat(&root, "ctr1");
    assert_eq!(s["paths"].as_array().unwrap().len(), dirs.len(), "{s}");
    let mut sleeper = Command::new("sleep").arg("300").spawn().unwrap();
    root.ok(&["cgroup", "add", "ctr1", &sleeper.id().to_string()]);
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), sleeper.id().to_string(), "{}", d.display());
    }
    // rm --force takes all of it (the freezer empties it first on v1).
    let err = root.ok_stderr(&["-v", "cgroup", "rm", "--force", "ctr1"]);
    assert!(!sleeper.wait().unwrap().success());
    for d in &dirs {
        assert!(!d.exists(), "rm left {}", d.display());
        assert!(
            !d.parent().unwrap().exists(),
            "rm left glassbox's parent in {}",
            d.display()
        );
    }
    if version() == "v1" {
        assert!(
            err.contains("echo FROZEN > ") && err.contains("/freezer.state"),
            "{err}"
        );
        assert!(err.contains("echo THAWED > "), "{err}");
    } else {
        assert!(
            err.contains("echo 1 > ") && err.contains("/cgroup.kill"),
            "{err}"
        );
    }
    assert!(records(&root).is_empty());

    // Owned by the container's record: kept by prune while it exists,
    // removed whole once it is gone.
    lifecycle::create_container(&state, "ctr2", &Limits::default(), owner).unwrap();
    let kept = root.ok(&["system", "prune", "-f"]);
    assert!(!kept.contains("ctr2"), "{kept}");
    assert!(dirs.iter().all(|d| d.with_file_name("ctr2").is_dir()));
    std::fs::remove_file(&record).unwrap();
    let pruned = root.ok(&["system", "prune", "-f"]);
    assert!(pruned.contains("removed cgroup ctr2"), "{pruned}");
    for d in &dirs {
        assert!(
            !d.with_file_name("ctr2").exists(),
            "prune left {}",
            d.display()
        );
        assert!(
            !d.parent().unwrap().exists(),
            "prune left {}",
            d.parent().unwrap().display()
        );
    }
    assert_clean_after_prune(&root, "a container's groups");
}

/// `cgroup run` with a terminal on stdin that is not glassbox's
/// controlling terminal (the console of the v2 test VM, a service given a
/// tty) failed with "tcgetpgrp(3): ENOTTY" and ran nothing: every
/// `cgroup run` started in the background by these tests, in the VM.
#[test]
fn run_with_someone_elses_terminal_on_stdin_runs_the_command() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["cgroup", "create", "tty"]);
    // The master stays open while the command runs.
    let mut master = None;
    let stdin = match nix::pty::openpty(None, None) {
        // A pty's slave: nobody's controlling terminal here.
        Ok(pty) => {
            master = Some(pty.master);
            Stdio::from(pty.slave)
        }
        // No devpts (the v2 test VM): there this test's own stdin is such a
        // terminal, the console.
        Err(e) => {
            use std::io::IsTerminal;
            use std::os::fd::AsFd;
            let tty = std::io::stdin();
            assert!(
                tty.is_terminal() && nix::unistd::tcgetpgrp(tty.as_fd()).is_err(),
                "openpty(3): {e}, and stdin is not a terminal of someone else's: nothing to test with"
            );
            Stdio::from(tty.as_fd().try_clone_to_owned().unwrap())
        }
    };
    let out = root
        .glassbox()
        .args([
            "cgroup",
            "run",
            "tty",
            "--",
            "sh",
            "-c",
            "test -t 0 && exit 7",
        ])
        .stdin(stdin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", common::stderr(&out));
    drop(master);
    root.ok(&["cgroup", "rm", "tty"]);
}
