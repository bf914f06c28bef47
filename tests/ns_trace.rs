//! Snapshots of the `ns run` trace at `-v` and `--explain`, as the book
//! shows them. Inodes, pids, durations, paths and the host's mount
//! propagation are redacted.

mod common;

use std::os::unix::process::CommandExt;

use common::{TestRoot, require_root, stderr, stdout};

fn filters(root: &TestRoot, rootfs: &std::path::Path) -> Vec<(String, String)> {
    vec![
        (
            regex_escape(&rootfs.display().to_string()),
            "[ROOTFS]".into(),
        ),
        (
            regex_escape(&root.path().display().to_string()),
            "[ROOT]".into(),
        ),
        (r"\b40265\d{5}\b".into(), "[INODE]".into()),
        (r"/proc/\d+/".into(), "/proc/[PID]/".into()),
        // The duration, and the padding before it (paths differ in length).
        (r"(?m) +ok \S+$".into(), " ok [DURATION]".into()),
        // The host's mounts and their shared:N tags differ per machine.
        (
            r"(?m)(propagation (?:before|after): +).*$".into(),
            "$1[PROPAGATION]".into(),
        ),
    ]
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn trace_of(flags: &[&str], ns: &[&str]) -> (String, TestRoot, tempfile::TempDir) {
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend_from_slice(&["ns", "run"]);
    args.extend_from_slice(ns);
    let p = rootfs.path().to_str().unwrap().to_string();
    args.extend_from_slice(&["--hostname", "lab", "--rootfs", &p, "--", "hostname"]);
    let out = root.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "lab\n");
    (stderr(&out), root, rootfs)
}

#[test]
fn ns_run_trace_verbose() {
    require_root();
    let (text, root, rootfs) = trace_of(&["-v"], &["--all"]);
    let f = filters(&root, rootfs.path());
    insta::with_settings!({filters => f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>()}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn ns_run_trace_explain() {
    require_root();
    let (text, root, rootfs) = trace_of(
        &["--explain"],
        &["--pid", "--uts", "--mnt", "--ipc", "--net"],
    );
    assert!(text.contains("chroot"), "--explain says why not chroot");
    let f = filters(&root, rootfs.path());
    insta::with_settings!({filters => f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>()}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn dry_run_lists_the_plan_without_root_and_changes_nothing() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    std::fs::set_permissions(
        rootfs.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = std::process::Command::new(common::glassbox_bin())
        .args([
            "--root",
            "/nonexistent/gb-dry-run",
            "--no-color",
            "--dry-run",
        ])
        .args(["ns", "run", "--all", "--hostname", "plan", "--rootfs"])
        .arg(rootfs.path())
        .args(["--", "sh"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for planned in [
        "clone sh",
        "set hostname to plan",
        "pivot_root into",
        "exec sh",
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(planned))
            .unwrap_or_else(|| panic!("{planned:?} not in the plan:\n{err}"));
        assert!(line.trim_end().ends_with("planned"), "{line}");
    }
    // Nothing was created in the rootfs, nothing mounted.
    let entries: Vec<String> = std::fs::read_dir(rootfs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!entries.contains(&"proc".to_string()), "{entries:?}");
    let _ = root;
}

/// A signal glassbox passes on to CMD is a step like any other change: a
/// detail step, in `--trace-json` and at `-vv`, not cluttering `-v`.
#[test]
fn a_forwarded_signal_is_a_traced_detail_step() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    require_root();
    let root = TestRoot::new();
    let trace = root.path().join("trace.json");
    let mut child = root
        .glassbox()
        .args(["-v", "--trace-json", trace.to_str().unwrap()])
        .args(["ns", "run", "--uts", "--", "sh", "-c"])
        .arg("trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let done = child.wait_with_output().unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(done.status.code(), Some(3));
    let steps: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sent = steps
        .iter()
        .find(|s| {
            s["summary"]
                .as_str()
                .is_some_and(|t| t.starts_with("send SIGTERM to process"))
        })
        .unwrap_or_else(|| panic!("no signal step in the trace: {steps:#?}"));
    assert_eq!(sent["action"], "process");
    assert_eq!(sent["detail"], true);
    assert_eq!(sent["result"], "ok");
    let pid = sent["args"]["pid"].as_str().unwrap();
    assert_eq!(sent["shell"], format!("kill -TERM {pid}"));
    assert!(
        !stderr(&done).contains("send SIGTERM"),
        "a detail step shown at -v: {}",
        stderr(&done)
    );
}

/// The clone step's shell line is what a student could type: `unshare`
/// for namespaces made, `nsenter` for those joined, and none for a plain
/// fork (`ns run -- true` used to show `nsenter  --`, which joins nothing).
#[test]
fn the_clone_step_shows_a_shell_line_that_does_what_it_does() {
    require_root();
    let root = TestRoot::new();
    let clone_shell = |args: &[&str]| -> Option<String> {
        let trace = root.path().join("clone.jsonl");
        let _ = std::fs::remove_file(&trace);
        let out = root.run(&[&["--trace-json", trace.to_str().unwrap()], args].concat());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = std::fs::read_to_string(&trace).unwrap();
        let clone: serde_json::Value = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|s| {
                s["summary"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("clone "))
            })
            .unwrap_or_else(|| panic!("no clone step: {text}"));
        clone["shell"].as_str().map(str::to_string)
    };
    assert_eq!(clone_shell(&["ns", "run", "--", "true"]), None);
    let out = root.run(&["-v", "ns", "run", "--", "true"]);
    assert!(!stderr(&out).contains("nsenter"), "{}", stderr(&out));
    assert_eq!(
        clone_shell(&["ns", "run", "--uts", "--pid", "--", "true"]).as_deref(),
        Some("unshare --pid --uts --fork")
    );
    let me = std::process::id();
    assert_eq!(
        clone_shell(&[
            "ns",
            "enter",
            "--target",
            &me.to_string(),
            "--uts",
            "--",
            "true"
        ]),
        Some(format!("nsenter --uts=/proc/{me}/ns/uts --"))
    );
}
