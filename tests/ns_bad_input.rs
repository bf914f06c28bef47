//! Bad input to `glassbox ns`: a clear error, and nothing mounted or left
//! running.

mod common;

use common::{TestRoot, require_root, stderr};

fn mounts_mentioning(path: &std::path::Path) -> usize {
    let p = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&p))
        .count()
}

#[test]
fn not_root_says_which_capability_is_missing() {
    require_root();
    let root = TestRoot::new();
    let out = root.run_as_nobody(&["ns", "run", "--uts", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("CAP_SYS_ADMIN"), "{err}");
    assert!(err.contains("run it as root"), "{err}");
}

#[test]
fn a_rootfs_that_does_not_exist() {
    require_root();
    let root = TestRoot::new();
    let err = root.fails(&[
        "ns",
        "run",
        "--rootfs",
        "/nonexistent/gb-rootfs",
        "--",
        "sh",
    ]);
    assert!(
        err.contains("rootfs /nonexistent/gb-rootfs does not exist"),
        "{err}"
    );
}

#[test]
fn a_rootfs_without_the_command_fails_with_127_and_leaves_nothing() {
    require_root();
    let root = TestRoot::new();
    let empty = tempfile::tempdir().unwrap();
    let out = root.run(&[
        "ns",
        "run",
        "--pid",
        "--rootfs",
        empty.path().to_str().unwrap(),
        "--",
        "sh",
    ]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains(r#"exec: "sh": executable file not found in $PATH"#),
        "{}",
        stderr(&out)
    );
    assert_eq!(mounts_mentioning(empty.path()), 0);
    // Not even the /proc, /sys, /dev directories were made.
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

/// Lab 01's loop `for a in $(busybox --list); do ln -sf busybox
/// rootfs/bin/$a; done` also links busybox to itself: every applet then
/// ends in a symlink loop, and glassbox says so (ELOOP), not "not found".
#[test]
fn a_command_behind_a_symlink_loop_is_named_as_a_loop() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let bin = rootfs.path().join("bin");
    let busybox = bin.join("busybox");
    std::fs::remove_file(&busybox).unwrap();
    std::os::unix::fs::symlink("busybox", &busybox).unwrap(); // ln -sf busybox bin/busybox
    let r = rootfs.path().to_str().unwrap();
    for cmd in ["sh", "/bin/sh", "busybox"] {
        let out = root.run(&["ns", "run", "--pid", "--rootfs", r, "--", cmd]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(126), "{cmd}: {err}");
        assert!(
            err.contains(&format!("exec: {cmd:?}: symlink loop at /bin/busybox")),
            "{cmd}: {err}"
        );
        assert!(err.contains("too many levels of symbolic links"), "{err}");
        assert!(!err.contains("not found"), "{cmd}: {err}");
        assert_eq!(mounts_mentioning(rootfs.path()), 0, "{cmd}: left a mount");
    }
    let out = root.run(&["ns", "run", "--pid", "--rootfs", r, "--", "sh"]);
    assert!(
        stderr(&out).contains("(reached from /bin/sh)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failing_mount_inside_is_reported_and_undone() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    // /dev is a regular file: the tmpfs cannot be mounted on it.
    std::fs::write(rootfs.path().join("dev"), "not a directory").unwrap();
    let out = root.run(&[
        "ns",
        "run",
        "--pid",
        "--rootfs",
        rootfs.path().to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("glassbox: error:"), "{err}");
    assert!(err.contains("/dev"), "{err}");
    assert_eq!(mounts_mentioning(rootfs.path()), 0);
}

#[test]
fn an_unknown_namespace_type() {
    require_root();
    let root = TestRoot::new();
    let out = root.run(&["ns", "ls", "--type", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("invalid value 'bogus'"), "{err}");
    assert!(
        err.contains("cgroup, ipc, mnt, net, pid, time, user, uts"),
        "{err}"
    );
    let out = root.run(&["ns", "run", "--bogus", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unexpected argument '--bogus'"));
}

#[test]
fn enter_into_a_pid_that_is_gone() {
    require_root();
    let root = TestRoot::new();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id().to_string();
    child.wait().unwrap();
    let err = root.fails(&["ns", "enter", "--target", &pid, "--net", "--", "true"]);
    assert!(
        err.contains(&format!("process {pid} does not exist")),
        "{err}"
    );
}

#[test]
fn hostname_without_uts_is_refused() {
    require_root();
    let root = TestRoot::new();
    let before = nix::unistd::gethostname().unwrap();
    let err = root.fails(&["ns", "run", "--hostname", "oops", "--", "true"]);
    assert!(err.contains("--hostname needs --uts"), "{err}");
    assert_eq!(nix::unistd::gethostname().unwrap(), before);
}

#[test]
fn hostname_longer_than_host_name_max_is_refused_before_the_kernel() {
    require_root();
    let root = TestRoot::new();
    let long = "h".repeat(65);
    let err = root.fails(&["ns", "run", "--uts", "--hostname", &long, "--", "true"]);
    assert!(err.contains("at most 64"), "{err}");
    assert!(!err.contains("EINVAL"), "{err}");
    assert_eq!(mounts_mentioning(root.path()), 0);
}

#[test]
fn map_count_zero_is_refused_before_writing_uid_map() {
    require_root();
    let root = TestRoot::new();
    let err = root.fails(&["ns", "run", "--user", "--map-count", "0", "--", "true"]);
    assert!(err.contains("--map-count 0"), "{err}");
    assert!(!err.contains("uid_map"), "{err}");
    let err = root.fails(&[
        "ns",
        "run",
        "--user",
        "--map-root",
        "4294967295",
        "--map-count",
        "2",
        "--",
        "true",
    ]);
    assert!(err.contains("runs past the last uid"), "{err}");
}

#[test]
fn rootfs_of_the_host_root_or_user_without_pid_is_refused_before_any_mount() {
    require_root();
    let root = TestRoot::new();
    let err = root.fails(&["ns", "run", "--rootfs", "/", "--", "/bin/true"]);
    assert!(err.contains("is the host's own root"), "{err}");
    assert!(!err.contains("EBUSY"), "{err}");
    let rootfs = tempfile::tempdir().unwrap();
    let err = root.fails(&[
        "ns",
        "run",
        "--rootfs",
        rootfs.path().to_str().unwrap(),
        "--user",
        "--",
        "/bin/true",
    ]);
    assert!(err.contains("needs --pid too"), "{err}");
    assert!(!err.contains("EPERM"), "{err}");
    assert_eq!(mounts_mentioning(rootfs.path()), 0);
}

#[test]
fn a_time_offset_out_of_range_says_what_range_is_allowed() {
    require_root();
    let root = TestRoot::new();
    let err = root.fails(&[
        "ns",
        "run",
        "--time",
        "--boottime",
        "-99999999999",
        "--",
        "true",
    ]);
    assert!(err.contains("may not take a clock below zero"), "{err}");
    assert!(err.contains("/proc/uptime"), "{err}");
}
