//! `glassbox ns enter`, pins, `ns ls` and `ns show`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::{TestRoot, require_root, stderr, stdout};

/// A `ns run` that prints its namespace links then sleeps; returns the
/// glassbox process, the links, and the host pid of CMD.
/// A running `ns run`, killed (with its child) when dropped, even when a
/// test fails half way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        // SIGKILL glassbox: its child dies with it (PR_SET_PDEATHSIG).
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(root: &TestRoot, flags: &[&str]) -> (Running, Vec<String>, u32) {
    let mut child = root
        .glassbox()
        .args(["ns", "run"])
        .args(flags)
        .args(["--", "sh", "-c"])
        .arg("for t in mnt net pid uts ipc; do readlink /proc/self/ns/$t; done; echo ready; exec sleep 60")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Running(child);
    let mut reader = BufReader::new(stdout);
    let mut links = Vec::new();
    loop {
        let mut l = String::new();
        assert!(reader.read_line(&mut l).unwrap() > 0, "ns run ended early");
        if l.trim() == "ready" {
            break;
        }
        links.push(l.trim().to_string());
    }
    // CMD is the process whose uts namespace is the printed one.
    let uts = links[3].clone();
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|p| {
            std::fs::read_link(format!("/proc/{p}/ns/uts"))
                .is_ok_and(|l| l.to_string_lossy() == uts)
        })
        .expect("find CMD on the host");
    (child, links, pid)
}

fn stop(child: Running) {
    drop(child);
}

#[test]
fn enter_sees_the_same_namespaces_as_the_running_process() {
    require_root();
    let root = TestRoot::new();
    let (child, links, pid) = start(
        &root,
        &[
            "--pid",
            "--mnt",
            "--net",
            "--uts",
            "--ipc",
            "--hostname",
            "inner",
        ],
    );
    let out = root.run(&[
        "ns", "enter", "--target", &pid.to_string(), "--all", "--", "sh", "-c",
        "for t in mnt net pid uts ipc; do readlink /proc/self/ns/$t; done; hostname; ps -e -o pid= | wc -l",
    ]);
    stop(child);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..5],
        &links.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    assert_eq!(lines[5], "inner");
    // ps in the joined pid namespace (with its /proc): sleep, sh, ps, wc.
    let n: u32 = lines[6].trim().parse().unwrap();
    assert!(n <= 4, "ps saw {n} processes");
    assert!(stderr(&out).contains(&format!("nsenter -t {pid}")));
}

#[test]
fn a_pinned_namespace_outlives_its_process_and_can_be_entered() {
    require_root();
    let root = TestRoot::new();
    let out = root.run(&[
        "ns",
        "run",
        "--uts",
        "--net",
        "--hostname",
        "pinned",
        "--pin",
        "lab",
        "--",
        "readlink",
        "/proc/self/ns/uts",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let uts = stdout(&out).trim().to_string();
    let pin = root.path().join("run/ns/lab/uts");
    let ledger = std::fs::read_to_string(root.path().join("run/resources.json")).unwrap();
    assert!(ledger.contains(&pin.display().to_string()), "{ledger}");
    // The process is gone, the namespace is not.
    let out = root.run(&[
        "ns",
        "enter",
        "--pinned",
        "lab",
        "--",
        "sh",
        "-c",
        "readlink /proc/self/ns/uts; hostname; ip -o link | wc -l",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{uts}\npinned\n1\n"));
    root.ok(&["ns", "unpin", "lab"]);
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains(&pin.display().to_string()));
    let ledger = std::fs::read_to_string(root.path().join("run/resources.json")).unwrap();
    assert!(!ledger.contains("run/ns/lab"), "{ledger}");
    let err = root.fails(&["ns", "enter", "--pinned", "lab", "--", "true"]);
    assert!(err.contains("no namespaces are pinned as \"lab\""), "{err}");
    assert!(
        err.contains("glassbox ns run --pin lab"),
        "say how to pin: {err}"
    );
    let err = root.fails(&["ns", "unpin", "lab"]);
    assert!(err.contains("nothing to unpin"), "{err}");
}

#[test]
fn ls_lists_a_new_namespace_with_its_process() {
    require_root();
    let root = TestRoot::new();
    let (child, links, pid) = start(&root, &["--uts"]);
    let out = root.run(&["ns", "ls", "--type", "uts"]);
    stop(child);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let inode = links[3].trim_start_matches("uts:[").trim_end_matches(']');
    let row = text
        .lines()
        .find(|l| l.starts_with(inode))
        .unwrap_or_else(|| panic!("no row for {inode}:\n{text}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], "uts");
    assert_eq!(cols[2], "1", "{row}");
    assert_eq!(cols[3], pid.to_string(), "{row}");
    assert_eq!(&cols[5..], &["sleep", "60"], "{row}");
    assert!(text.lines().skip(1).all(|l| l.contains(" uts ")), "{text}");
}

#[test]
fn show_compares_a_process_with_pid_1() {
    require_root();
    let root = TestRoot::new();
    let (child, links, pid) = start(&root, &["--uts", "--net"]);
    let out = root.run(&["ns", "show", &pid.to_string()]);
    stop(child);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let uts_inode = links[3].trim_start_matches("uts:[").trim_end_matches(']');
    let uts = text.lines().find(|l| l.starts_with("uts ")).unwrap();
    assert!(uts.contains(uts_inode), "{text}");
    // Marked as differing from PID 1's (or, where a sandbox hides PID 1's,
    // from glassbox's own, which are the host's here); ipc was not unshared.
    assert!(uts.trim_end().ends_with('*'), "{text}");
    let ipc = text.lines().find(|l| l.starts_with("ipc ")).unwrap();
    assert!(!ipc.trim_end().ends_with('*'), "{text}");
    if std::fs::read_link("/proc/1/ns/uts").is_err() {
        assert!(
            stderr(&out).contains("comparing with this glassbox process"),
            "{}",
            stderr(&out)
        );
    }
}
