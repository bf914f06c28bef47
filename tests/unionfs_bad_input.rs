//! Bad input to `unionfs mount`/`umount`: a clear error that names the
//! problem, nothing mounted, no directory changed, nothing in the ledger.

mod common;
mod unionfs_util;

use std::path::{Path, PathBuf};

use common::TestRoot;
use unionfs_util::*;

/// A tmpfs the test mounts itself, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn at(path: &Path) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap();
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn ledger_is_empty(root: &TestRoot) -> bool {
    std::fs::read_to_string(root.path().join("run/resources.json"))
        .map(|t| t.trim() == "[]")
        .unwrap_or(true)
}

/// Run a mount that must fail; check the error and that nothing changed.
fn refused(root: &TestRoot, base: &Path, args: &[String], expect: &[&str]) -> String {
    let before = tree(base);
    let mounts_before = mounts_under(root.path());
    let err = root.fails(&strs(args));
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in the error:\n{err}");
    }
    assert!(err.contains("glassbox: error:"), "{err}");
    assert_eq!(mounts_under(root.path()), mounts_before, "a mount appeared");
    assert_eq!(tree(base), before, "a directory changed");
    err
}

/// The refused stack is not mounted and nothing is recorded.
fn nothing_left(root: &TestRoot, l: &Layout) {
    assert!(!mounted(&l.merged));
    assert!(ledger_is_empty(root));
}

#[test]
fn lower_that_does_not_exist() {
    let (root, base, l) = root_with_stack();
    let mut args = l.mount_args();
    let missing = base.join("no-such-layer");
    let i = args.iter().position(|a| a == "--lower").unwrap();
    args[i + 1] = format!("{}:{}", l.l1.display(), missing.display());
    refused(
        &root,
        &base,
        &args,
        &["lower layer", "no-such-layer", "does not exist"],
    );
    nothing_left(&root, &l);
}

#[test]
fn upper_and_work_on_different_filesystems() {
    let (root, base, l) = root_with_stack();
    let fs = Tmpfs::at(&base.join("other-fs"));
    std::fs::create_dir(fs.0.join("w")).unwrap();
    let mut args = l.mount_args();
    set(&mut args, "--work", &fs.0.join("w"));
    refused(
        &root,
        &base,
        &args,
        &[
            "different filesystems",
            "rename(2)",
            "tmpfs",
            "put work next to upper",
        ],
    );
    nothing_left(&root, &l);
}

#[test]
fn work_inside_upper() {
    let (root, base, l) = root_with_stack();
    std::fs::create_dir(l.upper.join("w")).unwrap();
    let mut args = l.mount_args();
    set(&mut args, "--work", &l.upper.join("w"));
    refused(
        &root,
        &base,
        &args,
        &["work directory", "is inside upper directory"],
    );
    nothing_left(&root, &l);
}

#[test]
fn upper_without_work() {
    let (root, base, l) = root_with_stack();
    let args: Vec<String> = [
        "unionfs",
        "mount",
        "--lower",
        &l.lower(),
        "--upper",
        l.upper.to_str().unwrap(),
        l.merged.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    refused(&root, &base, &args, &["--upper needs --work"]);
}

#[test]
fn single_lower_without_upper_is_refused_before_the_kernel() {
    let (root, base, l) = root_with_stack();
    let args: Vec<String> = [
        "unionfs",
        "mount",
        "--lower",
        l.l1.to_str().unwrap(),
        l.merged.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let err = refused(
        &root,
        &base,
        &args,
        &["needs at least 2 lower layers", "add another --lower"],
    );
    assert!(!err.contains("fsconfig"), "{err}");
    nothing_left(&root, &l);
}

#[test]
fn upper_that_is_also_a_lower_is_refused_before_the_kernel() {
    let (root, base, l) = root_with_stack();
    let mut args = l.mount_args();
    set(&mut args, "--upper", &l.l1);
    let err = refused(&root, &base, &args, &["is also lower layer", "l1"]);
    assert!(!err.contains("fsconfig"), "{err}");
    nothing_left(&root, &l);
}

#[test]
fn upper_already_used_by_another_stack_is_refused() {
    let (root, base, l) = root_with_stack();
    root.ok(&strs(&l.mount_args()));
    let other = base.join("m2");
    std::fs::create_dir(&other).unwrap();
    let mut args = l.mount_args();
    *args.last_mut().unwrap() = other.display().to_string();
    let err = root.fails(&strs(&args));
    assert!(
        err.contains("is already in use by the overlay mounted at"),
        "{err}"
    );
    assert!(err.contains(&l.merged.display().to_string()), "{err}");
    assert!(
        !mounted(&other),
        "a second stack was mounted on the same upper"
    );
    root.ok(&["unionfs", "umount", l.merged.to_str().unwrap()]);
}

#[test]
fn target_already_mounted() {
    let (root, base, l) = root_with_stack();
    root.ok(&strs(&l.mount_args()));
    let u2 = base.join("u2");
    let w2 = base.join("w2");
    dirs(&base, &["u2", "w2"]);
    let mut args = l.mount_args();
    set(&mut args, "--upper", &u2);
    set(&mut args, "--work", &w2);
    refused(
        &root,
        &base,
        &args,
        &["is already a mount point", "overlay", "unmount it first"],
    );
    let stacked = glassbox::host::mountinfo::read(None)
        .unwrap()
        .iter()
        .filter(|m| m.mount_point == l.merged)
        .count();
    assert_eq!(stacked, 1, "a second mount was stacked on the target");
    root.ok(&["unionfs", "umount", l.merged.to_str().unwrap()]);
    assert!(!mounted(&l.merged));
}

#[test]
fn target_busy_at_umount() {
    let (root, _, l) = root_with_stack();
    root.ok(&strs(&l.mount_args()));
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .current_dir(&l.merged)
        .spawn()
        .unwrap();
    let err = root.fails(&["unionfs", "umount", l.merged.to_str().unwrap()]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(err.contains("is busy"), "{err}");
    assert!(err.contains("fuser -vm"), "{err}");
    assert!(mounted(&l.merged), "a busy umount must leave the mount");
    assert!(!ledger_is_empty(&root), "the mount is still recorded");
    root.ok(&["unionfs", "umount", l.merged.to_str().unwrap()]);
    nothing_left(&root, &l);
}

/// overlay is the filesystem we can make here that overlay refuses as upper.
#[test]
fn upper_on_an_overlay() {
    common::require_root();
    let root = TestRoot::new();
    let base = root.path().join("s");
    let (first, second, args) = upper_on_overlay(&root, &base);
    refused(
        &root,
        &base,
        &args,
        &[
            "is on overlay mounted at",
            "overlay cannot use as an upper layer",
            "ext4, xfs, btrfs or tmpfs",
        ],
    );
    assert!(!mounted(&second.merged));
    root.ok(&["unionfs", "umount", first.merged.to_str().unwrap()]);
}

#[test]
fn umount_of_what_is_not_an_overlay() {
    common::require_root();
    let root = TestRoot::new();
    let base = root.path().join("s");
    std::fs::create_dir_all(base.join("plain")).unwrap();
    let err = root.fails(&["unionfs", "umount", base.join("plain").to_str().unwrap()]);
    assert!(err.contains("is not a mount point"), "{err}");
    let fs = Tmpfs::at(&base.join("t"));
    let err = root.fails(&["unionfs", "umount", fs.0.to_str().unwrap()]);
    assert!(err.contains("is a tmpfs mount, not an overlay"), "{err}");
    assert!(mounted(&fs.0));
}

/// What the kernel itself says about an overlay as upper (checks skipped):
/// glassbox passes its words on, and nothing is mounted.
fn kernel_refuses_overlay_as_upper(method: &str) {
    common::require_root();
    let root = TestRoot::new();
    let base = root.path().join("s");
    let (first, second, mut args) = upper_on_overlay(&root, &base);
    args.splice(
        2..2,
        ["--no-preflight", "--method", method].map(String::from),
    );
    refused(&root, &base, &args, &["not supported as upperdir"]);
    assert!(!mounted(&second.merged));
    root.ok(&["unionfs", "umount", first.merged.to_str().unwrap()]);
}

#[test]
fn kernel_refuses_overlay_as_upper_new_api() {
    kernel_refuses_overlay_as_upper("new-api");
}

#[test]
fn kernel_refuses_overlay_as_upper_classic() {
    kernel_refuses_overlay_as_upper("classic");
}

/// Defect 8: the kernel mounts a stack on one of its own layers, inside
/// one, or above them all; glassbox refuses first, with or without its
/// other checks, and touches nothing.
#[test]
fn target_that_is_a_layer_or_holds_one_is_refused() {
    let (root, base, l) = root_with_stack();
    let cases = [
        (l.l2.clone(), "is also the lower layer"),
        (l.l1.join("etc"), "is inside the lower layer"),
        (base.clone(), "is inside mount point"),
        (l.upper.clone(), "is also the upper directory"),
        (l.work.clone(), "is also the work directory"),
    ];
    for (target, expect) in cases {
        let mut args = l.mount_args();
        *args.last_mut().unwrap() = target.display().to_string();
        let fix = "mount the stack on an empty directory of its own outside every layer";
        refused(&root, &base, &args, &[expect, fix]);
        args.insert(2, "--no-preflight".into());
        refused(&root, &base, &args, &[expect, fix]);
        assert!(!mounted(&target), "{} was mounted", target.display());
        nothing_left(&root, &l);
    }
}
