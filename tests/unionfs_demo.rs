//! `unionfs demo`: snapshot of its narrative (inodes and paths redacted)
//! and of its `--explain` trace; the same story through both mount methods;
//! nothing left mounted or recorded afterwards.

mod common;
mod unionfs_util;

use common::TestRoot;
use unionfs_util::*;

/// Redact the state root (temp path), inode numbers and durations.
fn redact(root: &TestRoot, text: &str) -> String {
    let out = text.replace(&root.path().display().to_string(), "[ROOT]");
    let out = simple_replace(&out, "inode", "inode [INODE]");
    simple_replace(&out, "ok", "ok [TIME]")
}

/// Replace `inode N` / `ok DURATION` without a regex crate.
fn simple_replace(text: &str, re: &str, to: &str) -> String {
    let prefix = if re.starts_with("inode") {
        "inode "
    } else {
        "ok "
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i]);
        let after = &rest[i + prefix.len()..];
        let digits = after
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after.len());
        let unit = ["µs", "ms", "s"]
            .iter()
            .find(|u| prefix == "ok " && after[digits..].starts_with(*u))
            .map(|u| u.len())
            .unwrap_or(0);
        if digits > 0 && (prefix == "inode " || unit > 0) {
            out.push_str(to);
            rest = &after[digits + unit..];
        } else {
            out.push_str(prefix);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn demo_output() {
    common::require_root();
    let root = TestRoot::new();
    let dir = root.path().join("demo");
    let out = root
        .glassbox()
        .args(["--explain", "unionfs", "demo"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let stdout = common::stdout(&out);
    assert!(
        stdout.contains("unchanged: overlay keeps reporting the lower file's inode number")
            || stdout.contains("changed: the file is now upper's copy")
    );
    assert!(
        mounts_under(root.path()).is_empty(),
        "the demo left a mount"
    );
    let ledger = std::fs::read_to_string(root.path().join("run/resources.json")).unwrap();
    assert_eq!(ledger.trim(), "[]");
    insta::assert_snapshot!("demo_stdout", redact(&root, &stdout));
    insta::assert_snapshot!("demo_explain", redact(&root, &common::stderr(&out)));

    // a second run refuses the used directory and changes nothing
    let before = tree(&dir);
    let err = root.fails(&["unionfs", "demo", dir.to_str().unwrap()]);
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(tree(&dir), before);
}

#[test]
fn demo_tells_the_same_story_through_the_classic_mount() {
    common::require_root();
    let root = TestRoot::new();
    let a = root.ok(&[
        "unionfs",
        "demo",
        "--method",
        "classic",
        root.path().join("a").to_str().unwrap(),
    ]);
    let b = root.ok(&[
        "unionfs",
        "demo",
        "--method",
        "new-api",
        root.path().join("b").to_str().unwrap(),
    ]);
    let a = redact(&root, &a).replace("[ROOT]/a", "[DIR]");
    let b = redact(&root, &b).replace("[ROOT]/b", "[DIR]");
    assert_eq!(a, b);
    assert!(mounts_under(root.path()).is_empty());
}

#[test]
fn redaction_helper() {
    assert_eq!(
        simple_replace("a inode 123 b inode x", "inode", "inode [INODE]"),
        "a inode [INODE] b inode x"
    );
    assert_eq!(
        simple_replace("ok 1.5ms ok 20µs ok", "ok", "ok [TIME]"),
        "ok [TIME] ok [TIME] ok"
    );
}
