//! `unionfs mount` / `umount` on real overlay mounts: the top layer wins,
//! the ledger records the mount, unmount and failed mounts leave nothing,
//! and a 120-layer stack mounts through both the new mount API and the
//! portable short-path method (both of its forms).

mod common;
mod unionfs_util;

use std::path::{Path, PathBuf};

use common::TestRoot;
use unionfs_util::*;

fn ledger(root: &TestRoot) -> serde_json::Value {
    let text = std::fs::read_to_string(root.path().join("run/resources.json"))
        .unwrap_or_else(|_| "[]".into());
    serde_json::from_str(&text).unwrap()
}

fn records(root: &TestRoot) -> Vec<PathBuf> {
    std::fs::read_dir(root.path().join("run/unionfs"))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

fn mount_and_umount(method: &str) {
    common::require_root();
    let root = TestRoot::new();
    let l = Layout::new(&root.path().join("stack"));
    let mut args = l.mount_args();
    args.splice(2..2, ["--method".to_string(), method.to_string()]);
    root.ok(&strs(&args));
    assert!(mounted(&l.merged));
    assert_eq!(
        std::fs::read_to_string(l.merged.join("etc/hostname")).unwrap(),
        "top\n",
        "the leftmost lower is on top"
    );
    assert_eq!(
        std::fs::read_to_string(l.merged.join("etc/motd")).unwrap(),
        "bottom motd\n"
    );
    let led = ledger(&root);
    let rec = led
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == l.merged.display().to_string())
        .unwrap_or_else(|| panic!("mount not in the ledger: {led}"));
    assert_eq!(rec["kind"], "mount");
    assert_eq!(rec["phase"], "live");
    assert_eq!(rec["owner"]["type"], "manual");
    assert_eq!(records(&root).len(), 1);

    root.ok(&["unionfs", "umount", l.merged.to_str().unwrap()]);
    assert!(!mounted(&l.merged), "still mounted after umount");
    assert_eq!(ledger(&root), serde_json::json!([]));
    assert!(records(&root).is_empty(), "{:?}", records(&root));
    assert!(mounts_under(root.path()).is_empty());
}

#[test]
fn mount_and_umount_new_api() {
    mount_and_umount("new-api");
}

#[test]
fn mount_and_umount_classic() {
    mount_and_umount("classic");
}

#[test]
fn read_only_stack_without_upper() {
    common::require_root();
    let root = TestRoot::new();
    let l = Layout::new(&root.path().join("stack"));
    root.ok(&[
        "unionfs",
        "mount",
        "--lower",
        &l.lower(),
        l.merged.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(l.merged.join("etc/hostname")).unwrap(),
        "top\n"
    );
    let err = std::fs::write(l.merged.join("new"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    root.ok(&["unionfs", "umount", l.merged.to_str().unwrap()]);
    assert!(!mounted(&l.merged));
}

/// 120 layers, layer 0 on top; each has `f` (its number) and `only-N`.
fn layers(base: &Path, name: impl Fn(usize) -> String) -> Vec<PathBuf> {
    (0..120)
        .map(|i| {
            let d = base.join(name(i));
            put(&d.join("f"), &i.to_string());
            put(&d.join(format!("only-{i}")), "");
            d
        })
        .collect()
}

fn tall_stack(method: &str, hex_names: bool, expect: &str) {
    common::require_root();
    let root = TestRoot::new();
    let base = root.path().join("a-long-directory-of-layers");
    let lowers = if hex_names {
        layers(&base, |i| format!("{:064x}/diff", i + 1))
    } else {
        layers(&base, |i| format!("layer-{i:03}"))
    };
    let abs: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
    let joined = abs.join(":");
    assert!(
        joined.len() > 4096,
        "the absolute paths ({} bytes) must not fit in one page for this test to mean anything",
        joined.len()
    );
    let (u, w, m) = (base.join("u"), base.join("w"), base.join("m"));
    dirs(&base, &["u", "w", "m"]);
    let out = root
        .glassbox()
        .args([
            "-v", "unionfs", "mount", "--method", method, "--lower", &joined,
        ])
        .args([
            "--upper",
            u.to_str().unwrap(),
            "--work",
            w.to_str().unwrap(),
        ])
        .arg(&m)
        .output()
        .unwrap();
    let stderr = common::stderr(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(expect), "expected {expect:?} in:\n{stderr}");
    assert_eq!(std::fs::read_to_string(m.join("f")).unwrap(), "0");
    let only = std::fs::read_dir(&m)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("only-")
        })
        .count();
    assert_eq!(only, 120, "every layer shows through");
    std::fs::write(m.join("f"), "written").unwrap();
    assert_eq!(std::fs::read_to_string(u.join("f")).unwrap(), "written");
    assert_eq!(std::fs::read_to_string(lowers[0].join("f")).unwrap(), "0");
    let leftovers: Vec<_> = std::fs::read_dir(root.path().join("run/unionfs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("links-"))
        .collect();
    assert!(leftovers.is_empty(), "link directory left: {leftovers:?}");
    // diff finds the 120 lowers even when the kernel shows relative names
    let diff = root.ok(&["unionfs", "diff", u.to_str().unwrap()]);
    assert_eq!(diff, "C /f\n");
    root.ok(&["unionfs", "umount", m.to_str().unwrap()]);
    assert!(!mounted(&m));
}

#[test]
fn stack_of_120_layers_new_api() {
    tall_stack("new-api", false, "(120 lower, new mount API)");
}

#[test]
fn stack_of_120_layers_classic_relative_to_common_parent() {
    tall_stack(
        "classic",
        false,
        "(120 lower, paths relative to the layers' common parent)",
    );
}

#[test]
fn stack_of_120_layers_classic_through_short_symlinks() {
    tall_stack(
        "classic",
        true,
        "(120 lower, short symlinks in a link directory)",
    );
}

/// A mount the kernel itself refuses (checks skipped): nothing is left.
fn kernel_refusal_leaves_nothing(method: &str, extra: &[&str], hex: bool) {
    common::require_root();
    let root = TestRoot::new();
    let base = root.path().join("s");
    let lowers = if hex {
        layers(&base, |i| format!("{:064x}/diff", i + 1))
    } else {
        vec![base.join("l")]
    };
    dirs(&base, &["l", "u/w", "m"]);
    let before = tree(&base);
    let joined = lowers
        .iter()
        .map(|l| l.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let u = base.join("u");
    let w = base.join("u/w");
    let m = base.join("m");
    let mut args = vec![
        "unionfs",
        "mount",
        "--no-preflight",
        "--method",
        method,
        "--lower",
        &joined,
        "--upper",
        u.to_str().unwrap(),
        "--work",
        w.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(m.to_str().unwrap());
    let err = root.fails(&args);
    assert!(err.contains("mount"), "{err}");
    // the kernel's own reason, read back from its log
    assert!(err.contains("separate subtrees"), "{err}");
    assert!(!mounted(&m));
    assert!(mounts_under(root.path()).is_empty());
    assert_eq!(ledger(&root), serde_json::json!([]));
    assert!(records(&root).is_empty(), "{:?}", records(&root));
    assert_eq!(tree(&base), before, "the layers changed");
}

#[test]
fn failed_mount_leaves_nothing_new_api() {
    kernel_refusal_leaves_nothing("new-api", &[], false);
}

#[test]
fn failed_mount_leaves_nothing_classic() {
    kernel_refusal_leaves_nothing("classic", &["--short-paths"], false);
}

#[test]
fn failed_mount_leaves_nothing_classic_with_symlinks() {
    kernel_refusal_leaves_nothing("classic", &[], true);
}

#[test]
fn dry_run_plans_and_mounts_nothing() {
    common::require_root();
    let root = TestRoot::new();
    let l = Layout::new(&root.path().join("s"));
    let before = tree(&root.path().join("s"));
    let mut args = l.mount_args();
    args.insert(0, "--dry-run".into());
    args.splice(3..3, ["--method".to_string(), "classic".to_string()]);
    let out = root.run(&strs(&args));
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("planned"), "{err}");
    assert!(
        err.contains("$ mount -t overlay overlay -o lowerdir="),
        "{err}"
    );
    assert!(err.contains("would mount overlay"), "{err}");
    assert!(!mounted(&l.merged));
    assert!(records(&root).is_empty());
    assert_eq!(ledger(&root), serde_json::json!([]));
    assert_eq!(tree(&root.path().join("s")), before);
}

/// `unionfs mount` is recorded as made by hand: plain prune keeps it,
/// `system prune --all` unmounts it.
#[test]
fn prune_all_removes_a_manual_stack() {
    common::require_root();
    let root = TestRoot::new();
    let l = Layout::new(&root.path().join("s"));
    root.ok(&strs(&l.mount_args()));
    root.ok(&["system", "prune", "-f"]);
    assert!(
        mounted(&l.merged),
        "plain prune removed a stack made by hand"
    );
    let out = root.ok(&["system", "prune", "--all", "-f"]);
    assert!(out.contains("removed mount"), "{out}");
    assert!(!mounted(&l.merged));
    assert_eq!(ledger(&root), serde_json::json!([]));
}
