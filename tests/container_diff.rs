//! `diff` as a Docker user reads it: after a container added, changed and
//! deleted files, `glassbox diff` lists them in Docker's `A`/`C`/`D` form,
//! sorted by path, and nothing else: not the mount points of the init
//! layer (/proc, /dev, /etc/hosts, ...), not what a bind mount shows
//! (that lives on the host). Docker's error for a container that does not
//! exist. Root, real kernel.

mod common;

use common::lifecycle::{IMAGE, Lab};

#[test]
fn diff_lists_what_the_container_added_changed_and_deleted() {
    let lab = Lab::new();
    let script = "echo more >> /etc/passwd; rm /etc/group; echo hi > /root/new; mkdir -p /srv/www";
    lab.ok(&[
        "run",
        "--name",
        "dd",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let out = lab.ok(&["diff", "dd"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "C /etc",
            "D /etc/group",
            "C /etc/passwd",
            "C /root",
            "A /root/new",
            "A /srv",
            "A /srv/www",
        ],
        "{out}"
    );
    // `container diff` is the same command.
    assert_eq!(lab.ok(&["container", "diff", "dd"]), out);
}

#[test]
fn mount_points_and_what_binds_show_are_not_changes() {
    let lab = Lab::new();
    let host = lab.root.path().join("host-data");
    std::fs::create_dir_all(&host).unwrap();
    let bind = format!("{}:/data", host.display());
    // A running container, its /proc, /dev, /sys, /etc/hosts mounted.
    lab.detached(&[
        "--name",
        "bm",
        "-v",
        &bind,
        IMAGE,
        "sh",
        "-c",
        "echo x > /data/f; echo y > /tmp/t; sleep 1000",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !host.join("f").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the container never wrote /data/f"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = lab.ok(&["diff", "bm"]);
    let lines: Vec<&str> = out.lines().collect();
    // The bind's mount point, made in the container's layer as runc makes
    // it for Docker, and the container's own file; not what is in the bind.
    assert_eq!(lines, ["A /data", "C /tmp", "A /tmp/t"], "{out}");
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "x\n");
}

#[test]
fn a_fresh_container_has_no_changes_and_a_missing_one_is_dockers_error() {
    let lab = Lab::new();
    lab.ok(&["create", "--name", "fresh", IMAGE, "true"]);
    assert_eq!(lab.ok(&["diff", "fresh"]), "");
    let (code, out, err) = lab.status(&["diff", "nope"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err.trim(),
        "Error response from daemon: No such container: nope"
    );
}
