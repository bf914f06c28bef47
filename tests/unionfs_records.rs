//! Which overlays a root may unmount, and how its records of them stay
//! true: after an unmount behind glassbox's back, and after a crash at
//! every step of `unionfs mount`.

mod common;
mod unionfs_util;

use std::path::{Path, PathBuf};

use common::crash::{assert_clean_after_prune, check, doctor, each_crash_point};
use common::{TestRoot, entries, stderr};
use unionfs_util::*;

fn ledger(root: &TestRoot) -> String {
    std::fs::read_to_string(root.path().join("run/resources.json")).unwrap_or_default()
}

/// The stack records (`run/unionfs/<id>.json`) and link directories.
fn records(root: &TestRoot) -> Vec<String> {
    entries(&root.path().join("run/unionfs"))
}

fn umount_by_hand(path: &Path) {
    nix::mount::umount2(path, nix::mount::MntFlags::empty())
        .unwrap_or_else(|e| panic!("umount {}: {e}", path.display()));
}

/// An overlay mounted by hand (no glassbox), unmounted when dropped.
struct HandMade(PathBuf);

impl HandMade {
    fn mount(l: &Layout) -> HandMade {
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            l.lower(),
            l.upper.display(),
            l.work.display()
        );
        nix::mount::mount(
            Some("overlay"),
            &l.merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data.as_str()),
        )
        .unwrap();
        HandMade(l.merged.clone())
    }
}

impl Drop for HandMade {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Defect 1: `--root B unionfs umount A/m` unmounted root A's overlay, and
/// any hand-made one.
#[test]
fn umount_refuses_an_overlay_this_root_did_not_mount() {
    common::require_root();
    let a = TestRoot::new();
    let b = TestRoot::new();
    let l = Layout::new(&a.path().join("s"));
    a.ok(&strs(&l.mount_args()));
    let m = l.merged.to_str().unwrap();
    let err = b.fails(&["unionfs", "umount", m]);
    for want in [
        "is an overlay that this root",
        "did not mount",
        &format!("glassbox --root {} unionfs umount {m}", a.path().display()),
    ] {
        assert!(err.contains(want), "{want:?} missing in: {err}");
    }
    assert!(mounted(&l.merged), "root B unmounted root A's overlay");

    let h = Layout::new(&b.path().join("h"));
    let hand = HandMade::mount(&h);
    let hm = h.merged.to_str().unwrap();
    let err = b.fails(&["unionfs", "umount", hm]);
    for want in [
        "did not mount",
        "mounted by hand",
        &format!("`umount {hm}`"),
    ] {
        assert!(err.contains(want), "{want:?} missing in: {err}");
    }
    assert!(mounted(&h.merged), "unmounted a hand-made overlay");
    drop(hand);

    a.ok(&["unionfs", "umount", m]);
    assert!(!mounted(&l.merged));
}

/// Defect 9: an overlay unmounted by hand kept its records until `system
/// prune --all`, and `run/unionfs/<id>.json` stayed even then.
#[test]
fn an_overlay_unmounted_by_hand_is_named_and_its_records_recovered() {
    let (root, _base, l) = root_with_stack();
    let m = l.merged.to_str().unwrap();
    let clean = |what: &str| {
        assert!(records(&root).is_empty(), "{what}: {:?}", records(&root));
        assert!(!ledger(&root).contains(m), "{what}: {}", ledger(&root));
        let checks = doctor(&root);
        assert_eq!(check(&checks, "leftovers").0, "ok", "{what}");
    };

    root.ok(&strs(&l.mount_args()));
    assert_eq!(records(&root).len(), 1, "{:?}", records(&root));
    umount_by_hand(&l.merged);
    let checks = doctor(&root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "warn", "{detail}");
    assert!(
        detail.contains(&format!("mount {m} (recorded, but gone from the host")),
        "{detail}"
    );
    // `unionfs umount` says so and clears the records.
    let said = root.ok_stderr(&["unionfs", "umount", m]);
    assert!(said.contains("was already unmounted"), "{said}");
    clean("after unionfs umount");

    // `unionfs mount` on the same target works again.
    root.ok(&strs(&l.mount_args()));
    umount_by_hand(&l.merged);
    root.ok(&strs(&l.mount_args()));
    assert!(mounted(&l.merged));
    assert_eq!(records(&root).len(), 1, "{:?}", records(&root));

    // `system prune` (without --all) recovers, the record file too.
    umount_by_hand(&l.merged);
    root.ok(&["system", "prune", "-f"]);
    clean("after system prune");

    // `system prune --all` of a mounted stack takes its record with it.
    root.ok(&strs(&l.mount_args()));
    root.ok(&["system", "prune", "--all", "-f"]);
    assert!(!mounted(&l.merged));
    clean("after system prune --all");
}

/// Defect 7: a SIGKILL at every step of `unionfs mount`; returns the
/// number of crash points. `split` puts one lower outside the root's tree
/// so that the classic method needs a directory of short links.
fn crash_at_every_step(method: &str, split: bool) -> usize {
    common::require_root();
    let root = TestRoot::new();
    let l = Layout::new(&root.path().join("s"));
    let far = tempfile::tempdir_in("/var/tmp").unwrap();
    put(&far.path().join("l2/etc/motd"), "far motd\n");
    let lower = if split {
        format!("{}:{}", l.l1.display(), far.path().join("l2").display())
    } else {
        l.lower()
    };
    let m = l.merged.display().to_string();
    let mut args: Vec<String> = vec!["unionfs".into(), "mount".into()];
    args.extend(["--method".into(), method.into()]);
    if split {
        args.push("--short-paths".into());
    }
    args.extend([
        "--lower".into(),
        lower,
        "--upper".into(),
        l.upper.display().to_string(),
        "--work".into(),
        l.work.display().to_string(),
        m.clone(),
    ]);
    let mut links_seen = false;
    let n = each_crash_point(
        || {
            let mut c = root.glassbox();
            c.args(&args);
            c
        },
        |k, crashed| {
            let what = format!("crash point {k} ({})", stderr(crashed).trim());
            let checks = doctor(&root);
            let (status, detail) = check(&checks, "leftovers");
            let left = records(&root);
            links_seen |= left.iter().any(|r| r.starts_with("links-"));
            let complete = mounted(&l.merged)
                && ledger(&root).contains("\"live\"")
                && left.len() == 1
                && left[0].ends_with(".json");
            if status == "ok" {
                let nothing = !mounted(&l.merged) && !ledger(&root).contains(&m) && left.is_empty();
                assert!(
                    complete || nothing,
                    "{what}: doctor sees nothing, but left: {left:?} {}",
                    ledger(&root)
                );
            } else {
                assert!(
                    detail.contains(&m) || detail.contains("links-"),
                    "{what}: {detail}"
                );
            }
            // The same command again works, or says exactly what to do.
            let again = root.run(&strs(&args));
            if !again.status.success() {
                let err = stderr(&again);
                assert!(
                    complete && err.contains(&format!("glassbox unionfs umount {m}")),
                    "{what}: unionfs mount again: {err}"
                );
            }
            assert!(mounted(&l.merged), "{what}");
            root.ok(&["unionfs", "umount", &m]);
            assert!(!mounted(&l.merged), "{what}");
            assert_clean_after_prune(&root, &what);
            assert!(records(&root).is_empty(), "{what}: {:?}", records(&root));
        },
    );
    root.ok(&["unionfs", "umount", &m]);
    assert_eq!(
        links_seen, split,
        "a link directory was (not) left at some crash point"
    );
    eprintln!("unionfs mount --method {method} (split lowers: {split}): {n} crash points");
    n
}

#[test]
fn unionfs_mount_survives_a_crash_at_every_step_new_api() {
    assert!(crash_at_every_step("new-api", false) >= 5);
}

#[test]
fn unionfs_mount_survives_a_crash_at_every_step_classic() {
    assert!(crash_at_every_step("classic", false) >= 3);
}

#[test]
fn unionfs_mount_survives_a_crash_at_every_step_with_a_link_directory() {
    assert!(crash_at_every_step("classic", true) >= 6);
}
