//! What the demo teaches, asserted on real mounts made with `unionfs
//! mount`: copy-up, whiteouts, opaque directories, and `unionfs diff`
//! (text and --json, lowers from mountinfo, from glassbox's record when
//! the kernel shows relative paths, or from --lower).

mod common;
mod unionfs_util;

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use common::TestRoot;
use glassbox::unionfs::whiteout::is_overlay_opaque;
use unionfs_util::*;

const EXPECTED_DIFF: &str = "\
C /data  (opaque: the lower layers' entries are hidden)
D /data/a
D /data/b
A /data/c
C /etc
D /etc/hostname
C /etc/motd
A /new.txt
";

fn exercise(extra: &[&str]) {
    common::require_root();
    let root = TestRoot::new();
    let l = Layout::new(&root.path().join("s"));
    let mut args = l.mount_args();
    for (i, e) in extra.iter().enumerate() {
        args.insert(2 + i, e.to_string());
    }
    root.ok(&strs(&args));
    let m = &l.merged;

    // a new file lands in upper
    std::fs::write(m.join("new.txt"), "new\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(l.upper.join("new.txt")).unwrap(),
        "new\n"
    );

    // copy-up: the changed file appears in upper, the lower copy is untouched
    let lower_before = std::fs::read(l.l2.join("etc/motd")).unwrap();
    assert!(!l.upper.join("etc/motd").exists());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(m.join("etc/motd"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"changed\n").unwrap();
    drop(f);
    assert_eq!(
        std::fs::read_to_string(l.upper.join("etc/motd")).unwrap(),
        "bottom motd\nchanged\n"
    );
    assert_eq!(std::fs::read(l.l2.join("etc/motd")).unwrap(), lower_before);
    assert_eq!(
        std::fs::read_to_string(m.join("etc/motd")).unwrap(),
        "bottom motd\nchanged\n"
    );

    // delete: a 0/0 character device in upper, gone from the merged view
    std::fs::remove_file(m.join("etc/hostname")).unwrap();
    let wh = std::fs::symlink_metadata(l.upper.join("etc/hostname")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!m.join("etc/hostname").exists());
    assert!(l.l1.join("etc/hostname").exists() && l.l2.join("etc/hostname").exists());

    // rm -r and mkdir again: an opaque directory hides the lower entries
    std::fs::remove_dir_all(m.join("data")).unwrap();
    std::fs::create_dir(m.join("data")).unwrap();
    std::fs::write(m.join("data/c"), "c\n").unwrap();
    assert!(is_overlay_opaque(&l.upper.join("data")));
    let mut listed: Vec<String> = std::fs::read_dir(m.join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, vec!["c"]);
    assert!(l.l2.join("data/a").exists() && l.l2.join("data/b").exists());

    // diff, lowers read from the mount that uses the upper
    let upper = l.upper.to_str().unwrap();
    assert_eq!(root.ok(&["unionfs", "diff", upper]), EXPECTED_DIFF);
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["unionfs", "diff", "--json", upper])).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 8);
    assert_eq!(
        arr[0],
        serde_json::json!({"Path": "/data", "Kind": 0, "Change": "C", "Opaque": true})
    );
    assert_eq!(
        arr[1],
        serde_json::json!({"Path": "/data/a", "Kind": 2, "Change": "D"})
    );
    assert_eq!(
        arr[3],
        serde_json::json!({"Path": "/data/c", "Kind": 1, "Change": "A"})
    );

    root.ok(&["unionfs", "umount", m.to_str().unwrap()]);
    assert!(!mounted(m));

    // after umount: the lowers must be given
    let err = root.fails(&["unionfs", "diff", upper]);
    assert!(err.contains("no overlay mount uses"), "{err}");
    assert!(err.contains("--lower"), "{err}");
    assert_eq!(
        root.ok(&["unionfs", "diff", "--lower", &l.lower(), upper]),
        EXPECTED_DIFF
    );
}

#[test]
fn copy_up_whiteout_opaque_and_diff_new_api() {
    exercise(&["--method", "new-api"]);
}

/// The kernel shows `lowerdir=l1:l2` relative to the layers' parent here,
/// so diff finds the lowers through glassbox's record of the mount.
#[test]
fn copy_up_whiteout_opaque_and_diff_classic_relative_paths() {
    exercise(&["--method", "classic", "--short-paths"]);
}

#[test]
fn diff_of_a_missing_upper() {
    common::require_root();
    let root = TestRoot::new();
    let err = root.fails(&["unionfs", "diff", "/nonexistent/upper", "--lower", "/"]);
    assert!(
        err.contains("upper directory /nonexistent/upper does not exist"),
        "{err}"
    );
}
