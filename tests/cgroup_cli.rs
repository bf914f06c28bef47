//! `glassbox cgroup` on the real kernel: create/set/add/stat/ls/rm, the
//! values written for each flag on this host's cgroup version, bad input,
//! and snapshots of the traces. Runs on the hybrid host (v1) and inside
//! the v2 VM (`tests/vm/run-cgroup-tests.sh`).

mod cgroup_util;
mod common;

use std::process::Command;

use cgroup_util::{
    assert_no_parent, dir, file, parent_dir, spawn_in, stat, version, wait_for_procs,
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
    let ledger = root.path().join("resources.json");
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
        !root.path().join("resources.json").exists(),
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
    let out = root.ok(&["system", "prune", "--all"]);
    assert!(out.contains("removed cgroup left/over"), "{out}");
    assert!(!sleeper.wait().unwrap().success());
    assert_no_parent(&root, "system prune");
    assert!(
        root.ok(&["system", "prune", "--all"])
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
