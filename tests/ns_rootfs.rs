//! `glassbox ns run --rootfs`: pivot_root into a busybox root, with /proc,
//! /sys and a minimal /dev, and no host path left reachable.

mod common;

use common::{TestRoot, require_root, stderr, stdout};

fn run_in(root: &TestRoot, rootfs: &std::path::Path, flags: &[&str], script: &str) -> String {
    let mut args = vec!["ns", "run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[
        "--rootfs",
        rootfs.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        script,
    ]);
    let out = root.run(&args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
}

const FLAGS: &[&str] = &["--pid", "--uts", "--ipc", "--net", "--mnt"];

#[test]
fn slash_is_the_rootfs() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    std::fs::write(rootfs.path().join("marker"), "from the rootfs\n").unwrap();
    let out = run_in(&root, rootfs.path(), FLAGS, "cat /marker; ls /");
    assert_eq!(
        out,
        "from the rootfs\nbin\ndev\netc\nmarker\nproc\nroot\nsys\ntmp\n"
    );
}

#[test]
fn no_host_path_is_reachable() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let here = std::env::current_dir().unwrap();
    let script = format!(
        "ls {} 2>/dev/null && echo REACHABLE; awk '{{print $5}}' /proc/self/mountinfo",
        here.display()
    );
    let out = run_in(&root, rootfs.path(), FLAGS, &script);
    assert!(!out.contains("REACHABLE"), "{out}");
    let points: Vec<&str> = out.lines().collect();
    // Only what glassbox mounted: the old root is gone.
    assert_eq!(
        points,
        vec![
            "/",
            "/proc",
            "/sys",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue"
        ],
        "{out}"
    );
}

#[test]
fn proc_lists_only_the_container_processes() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let out = run_in(
        &root,
        rootfs.path(),
        FLAGS,
        "ls /proc | grep -E '^[0-9]+$' | sort -n",
    );
    let pids: Vec<u32> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(pids.first(), Some(&1), "{out}");
    assert!(pids.len() <= 4, "more than the container's tree: {pids:?}");
    assert!(pids.iter().all(|p| *p < 10), "{pids:?}");
}

#[test]
fn device_nodes_work() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let script = "head -c 8 /dev/urandom | wc -c; echo gone > /dev/null; head -c 4 /dev/zero | od -An -tx1; ls /dev/pts/ptmx; readlink /dev/fd; grep -c . /dev/null || true";
    let out = run_in(&root, rootfs.path(), FLAGS, script);
    assert_eq!(
        out, "8\n 00 00 00 00\n/dev/pts/ptmx\n/proc/self/fd\n0\n",
        "{out}"
    );
}

#[test]
fn in_a_user_namespace_devices_are_bound_from_the_host() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let mut args = vec!["ns", "run", "--all", "--hostname", "userns"];
    let p = rootfs.path().to_str().unwrap().to_string();
    args.extend_from_slice(&["--rootfs", &p, "--", "sh", "-c"]);
    args.push("head -c 8 /dev/urandom | wc -c; hostname; id -u; grep -c ' /dev/null ' /proc/self/mountinfo");
    let out = root.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "8\nuserns\n0\n1\n");
}

#[test]
fn no_mount_is_left_on_the_host() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let _ = run_in(&root, rootfs.path(), &["--all"], "true");
    let _ = run_in(&root, rootfs.path(), FLAGS, "exit 0");
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let p = rootfs.path().display().to_string();
    assert!(!host.contains(&p), "left mounted:\n{host}");
}

#[test]
fn posix_message_queues_are_private_to_the_ipc_namespace() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let queue = format!("gbq-{}", std::process::id());
    // In an mqueue filesystem, creating a file creates a message queue.
    let out = run_in(
        &root,
        rootfs.path(),
        FLAGS,
        &format!("touch /dev/mqueue/{queue} && ls /dev/mqueue"),
    );
    assert_eq!(out, format!("{queue}\n"));
    // The host's IPC namespace, seen through an mqueue mount of our own.
    let host = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "mqueue", "none"])
        .arg(host.path())
        .status()
        .unwrap();
    assert!(status.success());
    let seen = std::fs::read_dir(host.path())
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy() == queue);
    let _ = std::process::Command::new("umount")
        .arg(host.path())
        .status();
    assert!(!seen, "the queue made inside is visible on the host");
}

/// The state root and `layers/` are root's alone (0700), but an overlay of
/// an image layer under them is still every user's `/` inside: path walks
/// inside the container start at its root, never at the locked parents.
#[test]
fn a_non_root_user_inside_reads_an_overlay_of_a_layer_under_the_locked_root() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let root = TestRoot::new();
    root.ok(&["image", "from-host", "/bin/busybox", "--tag", "nobody:1"]);
    let inspect: serde_json::Value =
        serde_json::from_str(&root.ok(&["image", "inspect", "nobody:1"])).unwrap();
    let layer = std::path::PathBuf::from(
        inspect[0]["GraphDriver"]["Data"]["UpperDir"]
            .as_str()
            .unwrap(),
    );
    assert!(
        layer.starts_with(root.path().join("layers")),
        "{}",
        layer.display()
    );
    for d in [root.path().to_path_buf(), root.path().join("layers")] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is not locked", d.display());
    }
    let base = root.path().join("ovl");
    for d in ["upper", "work", "merged"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    let merged = base.join("merged");
    root.ok(&[
        "unionfs",
        "mount",
        "--lower",
        layer.to_str().unwrap(),
        "--upper",
        base.join("upper").to_str().unwrap(),
        "--work",
        base.join("work").to_str().unwrap(),
        merged.to_str().unwrap(),
    ]);
    // Outside, nobody cannot reach the layer through the locked root.
    let outside = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "ls"])
        .arg(&layer)
        .output()
        .unwrap();
    assert!(
        !outside.status.success(),
        "nobody listed {}",
        layer.display()
    );
    // Inside, nobody lists / and reads a file of the layer (busybox's
    // setpriv cannot change uids; its su can, for root, without a password).
    let out = run_in(
        &root,
        &merged,
        FLAGS,
        "su -s /bin/sh nobody -c 'id -u; ls /; cat /etc/group; ls /bin/busybox'",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "65534", "{out}");
    for want in ["bin", "etc", "proc", "tmp", "usr"] {
        assert!(lines.contains(&want), "ls / as nobody misses {want}: {out}");
    }
    assert!(out.contains("nogroup:x:65534:"), "{out}");
    assert!(out.contains("/bin/busybox"), "{out}");
    root.ok(&["unionfs", "umount", merged.to_str().unwrap()]);
}
