//! A `--dry-run` plan is what the real run does, for every `ns`,
//! `unionfs` (and `cgroup run`) command the labs use (labs 01, 02 and 03):
//! each is run with `--dry-run` and then for real, both with
//! `--trace-json`, and the steps (mechanism, action, summary, in order,
//! detail steps and state writes included) must be the same once the
//! values only a real run knows (pids) are redacted. Without root, a plan
//! shows a root-only read as such and never fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::plan::{assert_plan_is_the_run, assert_plan_is_the_run_exiting};
use common::{TestRoot, require_root, stderr, stdout};

/// What only a real run knows: the child's pid, where it shows.
const REDACT: &[(&str, &str)] = &[
    (r"/proc/\d+/", "/proc/PID/"),
    (r#"write "\d+" to"#, r#"write "PID" to"#),
    (r"process group \d+", "process group PID"),
    (r"links-\d+", "links-PID"),
    // What a read found (a cgroup's counters, before and after CMD ran).
    (r" = .*$", " = [VALUE]"),
];

/// `glassbox --root ROOT --no-color FLAGS ARGS` in `dir`.
fn gb(root: &TestRoot, dir: &Path, args: &[&str]) -> impl Fn(&[&str]) -> Command {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let root_cmd = root.glassbox();
    let bin = root_cmd.get_program().to_owned();
    let fixed: Vec<_> = root_cmd.get_args().map(|a| a.to_owned()).collect();
    let dir = dir.to_path_buf();
    move |flags: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(&fixed).args(flags).args(&args).current_dir(&dir);
        c.env_remove("NO_COLOR").stdin(Stdio::null());
        c
    }
}

fn plan_is_run(root: &TestRoot, dir: &Path, args: &[&str]) -> Vec<String> {
    let what = format!("glassbox {}", args.join(" "));
    assert_plan_is_the_run(&what, gb(root, dir, args), REDACT)
}

fn plan_is_run_exiting(root: &TestRoot, dir: &Path, args: &[&str], plan: i32, run: i32) {
    let what = format!("glassbox {}", args.join(" "));
    assert_plan_is_the_run_exiting(&what, gb(root, dir, args), REDACT, plan, run);
}

/// Lab 01: every `ns run` of the lab, with each of its flags.
#[test]
fn lab01_ns_run_plans_are_the_runs() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let r = rootfs.path().to_str().unwrap();
    let here = root.path().to_path_buf();
    let cases: Vec<Vec<&str>> = vec![
        vec!["ns", "run", "--uts", "--hostname", "lab", "--", "hostname"],
        vec![
            "ns",
            "run",
            "--pid",
            "--mnt",
            "--",
            "sh",
            "-c",
            "echo $$; ps -e",
        ],
        vec![
            "ns",
            "run",
            "--mnt",
            "--",
            "sh",
            "-c",
            "mount -t tmpfs lab01-tmpfs /mnt; grep -c lab01-tmpfs /proc/self/mountinfo",
        ],
        vec!["ns", "run", "--net", "--", "ip", "link"],
        vec![
            "ns",
            "run",
            "--ipc",
            "--",
            "sh",
            "-c",
            "ipcs -q | grep -c ^0x; ipcmk -Q >/dev/null; ipcs -q | grep -c ^0x",
        ],
        vec![
            "ns",
            "run",
            "--user",
            "--map-root",
            "100000",
            "--",
            "sh",
            "-c",
            "id -u",
        ],
        vec!["ns", "run", "--cgroup", "--", "cat", "/proc/self/cgroup"],
        vec![
            "ns",
            "run",
            "--time",
            "--boottime",
            "86400",
            "--",
            "cat",
            "/proc/uptime",
        ],
        vec![
            "ns",
            "run",
            "--all",
            "--hostname",
            "box",
            "--rootfs",
            r,
            "--",
            "hostname",
        ],
        vec!["ns", "run", "--pid", "--rootfs", r, "--", "true"],
        vec!["ns", "run", "--uts", "--", "true"],
        vec!["ns", "run", "--", "true"],
    ];
    for args in &cases {
        let steps = plan_is_run(&root, &here, args);
        assert!(
            steps.iter().any(|s| s.starts_with("ns process exec ")),
            "{args:?}: no exec step in {steps:#?}"
        );
    }
    // Lab 01's exit codes: CMD's own, and Docker's when it cannot run.
    plan_is_run_exiting(
        &root,
        &here,
        &["ns", "run", "--uts", "--", "sh", "-c", "exit 3"],
        0,
        3,
    );
    plan_is_run_exiting(
        &root,
        &here,
        &["ns", "run", "--uts", "--", "nosuchcmd"],
        127,
        127,
    );
    plan_is_run_exiting(
        &root,
        &here,
        &["ns", "run", "--uts", "--", "sh", "-c", "kill -9 $$"],
        0,
        137,
    );
}

/// The pid of the first child of glassbox process `gb` (its CMD).
fn cmd_of(gb: &Child) -> u32 {
    let path = format!("/proc/{0}/task/{0}/children", gb.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            // Wait for the exec: the child shows CMD's name once it ran.
            let pid: u32 = pid.parse().unwrap();
            if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n") {
                return pid;
            }
        }
        assert!(std::time::Instant::now() < deadline, "CMD never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Lab 01, sections 11 and 12: pins, enter, unpin, ls, show.
#[test]
fn lab01_pin_enter_unpin_ls_show_plans_are_the_runs() {
    require_root();
    let root = TestRoot::new();
    let here = root.path().to_path_buf();
    let pin = [
        "ns",
        "run",
        "--uts",
        "--net",
        "--hostname",
        "pinned",
        "--pin",
        "lab",
        "--",
        "true",
    ];
    let steps = plan_is_run(&root, &here, &pin);
    for want in [
        "ns syscall bind /proc/PID/ns/net on",
        "system state write state file",
    ] {
        assert!(
            steps.iter().any(|s| s.starts_with(want)),
            "{want:?} not in {steps:#?}"
        );
    }
    let steps = plan_is_run(
        &root,
        &here,
        &["ns", "enter", "--pinned", "lab", "--", "hostname"],
    );
    assert!(
        steps.iter().any(|s| s.contains("join the uts namespace")),
        "{steps:#?}"
    );
    let steps = plan_is_run(&root, &here, &["ns", "unpin", "lab"]);
    assert!(steps.iter().any(|s| s.contains("unmount")), "{steps:#?}");
    assert!(
        !root.path().join("run/ns/lab").exists(),
        "unpinned for real"
    );

    let mut sleeper = root
        .glassbox()
        .args(["ns", "run", "--uts", "--", "sleep", "300"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = cmd_of(&sleeper).to_string();
    plan_is_run(&root, &here, &["ns", "ls", "--type", "uts"]);
    plan_is_run(&root, &here, &["ns", "show", &pid]);
    let steps = plan_is_run(
        &root,
        &here,
        &["ns", "enter", "--target", &pid, "--uts", "--", "hostname"],
    );
    assert!(
        steps.iter().any(|s| s.contains("join the uts namespace")),
        "{steps:#?}"
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

/// Lab 02's `cgroup run` is the same process core with a hook.
#[test]
fn lab02_cgroup_run_plan_is_the_run() {
    require_root();
    let root = TestRoot::new();
    let here = root.path().to_path_buf();
    root.ok(&["cgroup", "create", "plan"]);
    let steps = plan_is_run(&root, &here, &["cgroup", "run", "plan", "--", "true"]);
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("cgroup file-write write \"PID\" to")
                && s.ends_with("cgroup.procs")),
        "{steps:#?}"
    );
    plan_is_run_exiting(
        &root,
        &here,
        &["cgroup", "run", "plan", "--", "sh", "-c", "exit 3"],
        0,
        3,
    );
    root.ok(&["cgroup", "rm", "plan"]);
}

fn mkdirs(base: &Path, dirs: &[&str]) {
    for d in dirs {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
}

/// Lab 03: the demo, a stack of one's own, what overlay refuses, 120 layers.
#[test]
fn lab03_unionfs_plans_are_the_runs() {
    require_root();
    let root = TestRoot::new();
    let here = root.path().join("lab");
    mkdirs(&here, &["base", "app", "upper", "work", "merged"]);
    std::fs::write(here.join("base/hello"), "from base\n").unwrap();
    std::fs::write(here.join("app/hello"), "from app\n").unwrap();

    let steps = plan_is_run(&root, &here, &["unionfs", "demo", "demo"]);
    assert!(
        steps.iter().any(|s| s.contains("mount overlay on")),
        "{steps:#?}"
    );
    assert!(
        steps.iter().any(|s| s.contains("unmount overlay")),
        "{steps:#?}"
    );
    for method in ["new-api", "classic"] {
        plan_is_run(
            &root,
            &here,
            &[
                "unionfs",
                "demo",
                "--method",
                method,
                &format!("demo-{method}"),
            ],
        );
    }

    let mount = [
        "unionfs", "mount", "--lower", "app:base", "--upper", "upper", "--work", "work", "merged",
    ];
    plan_is_run(&root, &here, &mount);
    std::fs::write(here.join("merged/new.txt"), "new\n").unwrap();
    plan_is_run(&root, &here, &["unionfs", "diff", "upper"]);
    plan_is_run(&root, &here, &["unionfs", "diff", "--json", "upper"]);
    plan_is_run(&root, &here, &["unionfs", "umount", "merged"]);
    plan_is_run(
        &root,
        &here,
        &["unionfs", "diff", "--lower", "app:base", "upper"],
    );

    // What overlay refuses: the same refusal, planned or not.
    mkdirs(&here, &["upper/w"]);
    for args in [
        &[
            "unionfs", "mount", "--lower", "base", "--upper", "upper", "--work", "upper/w",
            "merged",
        ][..],
        &[
            "unionfs", "mount", "--lower", "nope", "--upper", "upper", "--work", "work", "merged",
        ],
    ] {
        plan_is_run_exiting(&root, &here, args, 125, 125);
    }

    // 120 layers through the classic mount: relative paths, then links.
    let tall = here.join("tall");
    mkdirs(&tall, &["u", "w", "m"]);
    for (prefix, dir) in [
        ("layer-of-the-image-", "m"),
        (
            "layer-of-the-image-with-a-really-long-digest-like-name-",
            "m",
        ),
    ] {
        let layers: Vec<PathBuf> = (0..120)
            .map(|i| tall.join(format!("{prefix}{i:03}")))
            .collect();
        for l in &layers {
            std::fs::create_dir_all(l).unwrap();
        }
        let lower = layers
            .iter()
            .map(|l| l.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        let args = [
            "unionfs", "mount", "--method", "classic", "--lower", &lower, "--upper", "u", "--work",
            "w", dir,
        ];
        plan_is_run(&root, &tall, &args);
        plan_is_run(&root, &tall, &["unionfs", "umount", dir]);
        for l in &layers {
            std::fs::remove_dir(l).unwrap();
        }
    }
}

/// Without root: every plan of the table succeeds, and a step that needs a
/// root-only read says so instead of failing.
#[test]
fn plans_without_root_show_root_only_reads_and_never_fail() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let root = TestRoot::new();
    // What root made for the nobody plans to look at: a pin, a stack, a
    // running container process. The root itself stays root's only.
    let lab = tempfile::Builder::new()
        .prefix("gbplan-")
        .tempdir()
        .unwrap();
    let here = lab.path();
    std::fs::set_permissions(here, std::fs::Permissions::from_mode(0o755)).unwrap();
    mkdirs(here, &["base", "app", "upper", "work", "merged"]);
    root.ok(&["ns", "run", "--uts", "--net", "--pin", "lab", "--", "true"]);
    let m = |s: &str| here.join(s).display().to_string();
    root.ok(&[
        "unionfs",
        "mount",
        "--lower",
        &format!("{}:{}", m("app"), m("base")),
        "--upper",
        &m("upper"),
        "--work",
        &m("work"),
        &m("merged"),
    ]);
    let mut sleeper = root
        .glassbox()
        .args(["ns", "run", "--uts", "--", "sleep", "300"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = cmd_of(&sleeper).to_string();
    let rootfs = common::rootfs::busybox();
    std::fs::set_permissions(rootfs.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = rootfs.path().to_str().unwrap();

    let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (
            vec![
                "ns",
                "run",
                "--all",
                "--hostname",
                "box",
                "--rootfs",
                r,
                "--",
                "hostname",
            ],
            None,
        ),
        (
            vec![
                "ns", "run", "--uts", "--net", "--pin", "other", "--", "true",
            ],
            None,
        ),
        (
            vec!["ns", "enter", "--target", &pid, "--uts", "--", "hostname"],
            Some("is a uts namespace (needs root: not read in this plan)"),
        ),
        (
            vec!["ns", "enter", "--pinned", "lab", "--", "hostname"],
            Some("read the pin lab (needs root: not read in this plan)"),
        ),
        (
            vec!["ns", "unpin", "lab"],
            Some("read the pin lab (needs root: not read in this plan)"),
        ),
        (vec!["ns", "ls"], None),
        (vec!["ns", "show", &pid], None),
        (vec!["cgroup", "run", "nobody-plan", "--", "true"], None),
        (
            vec!["unionfs", "demo", "demo"],
            Some("fsopen(\"overlay\") (needs root: not read in this plan)"),
        ),
        (
            vec!["unionfs", "umount", "merged"],
            Some("read this root's records of"),
        ),
        (vec!["unionfs", "diff", "upper"], None),
    ];
    let mut planned_root_reads = 0;
    for (args, needs_root) in &cases {
        if args[0] == "cgroup" {
            // A group for the plan to run in (made by root, as the lab does).
            root.ok(&["cgroup", "create", "nobody-plan"]);
        }
        let trace = lab.path().join("nobody.jsonl");
        let _ = std::fs::remove_file(&trace);
        let out = nobody(&root, here, args, &trace);
        let err = stderr(&out);
        assert!(
            out.status.success(),
            "glassbox --dry-run {args:?} as nobody failed\n{}{err}",
            stdout(&out)
        );
        let steps = common::plan::read_trace(&trace);
        assert!(
            steps.iter().all(|s| s.result != "error"),
            "{args:?}: a planned step failed as nobody: {steps:#?}"
        );
        if let Some(want) = needs_root {
            let step = steps
                .iter()
                .find(|s| s.summary.contains(want))
                .unwrap_or_else(|| panic!("{args:?}: no step {want:?} in {steps:#?}"));
            assert_eq!(step.result, "planned", "{args:?}: {step:?}");
            planned_root_reads += 1;
        }
        if args[0] == "cgroup" {
            root.ok(&["cgroup", "rm", "nobody-plan"]);
        }
    }
    assert_eq!(planned_root_reads, 5);
    // Nothing changed: the pin and the stack are still there, still root's.
    assert!(common::crash::is_mounted(
        &root.path().join("run/ns/lab/uts")
    ));
    assert!(common::crash::is_mounted(&here.join("merged")));
    assert!(!here.join("demo").exists());
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    root.ok(&["ns", "unpin", "lab"]);
    root.ok(&["unionfs", "umount", &m("merged")]);
}

/// `glassbox --dry-run --trace-json TRACE ARGS` as nobody in `dir`.
fn nobody(root: &TestRoot, dir: &Path, args: &[&str], trace: &Path) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    // The trace file is nobody's to write.
    std::fs::write(trace, "").unwrap();
    nix::unistd::chown(trace, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    root.glassbox()
        .arg("--dry-run")
        .arg("--trace-json")
        .arg(trace)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap()
}
