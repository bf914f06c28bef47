//! Pins as the kernel sees them: `ns enter --pinned` joins only real
//! namespace files of the kinds asked for, and `ns run --pin` is a
//! transaction that a crash at any step cannot wedge.

mod common;

use std::path::Path;

use common::crash::{assert_clean_after_prune, check, doctor, each_crash_point, is_mounted};
use common::{TestRoot, require_root, stderr, stdout};

fn umount(path: &Path) {
    nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH)
        .unwrap_or_else(|e| panic!("umount {}: {e}", path.display()));
}

fn ledger(root: &TestRoot) -> String {
    std::fs::read_to_string(root.path().join("run/resources.json")).unwrap_or_default()
}

/// Defect 5: a pin unmounted by hand is an empty file; `ns enter` ran the
/// command in the host's namespace and exited 0.
#[test]
fn enter_refuses_a_pin_that_is_no_longer_mounted() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["ns", "run", "--all", "--pin", "p", "--", "true"]);
    let pin = root.path().join("run/ns/p");
    let uts = std::fs::read_link("/proc/self/ns/uts").unwrap();
    let pinned_uts = root.ok(&[
        "ns",
        "enter",
        "--pinned",
        "p",
        "--uts",
        "--",
        "readlink",
        "/proc/self/ns/uts",
    ]);
    assert_ne!(pinned_uts.trim(), uts.to_str().unwrap());
    umount(&pin.join("net"));

    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let out = root.run(&[
        "ns",
        "enter",
        "--pinned",
        "p",
        "--net",
        "--",
        "readlink",
        "/proc/self/ns/net",
    ]);
    assert!(
        !out.status.success(),
        "joined a pin that is no namespace: {}",
        stdout(&out)
    );
    assert!(
        !stdout(&out).contains(host_net.to_str().unwrap()),
        "the command ran in the host's net namespace"
    );
    let err = stderr(&out);
    for want in [
        "the net pin of p",
        &pin.join("net").display().to_string(),
        "no namespace file",
        "glassbox ns unpin p",
    ] {
        assert!(err.contains(want), "{want:?} missing in: {err}");
    }
    // Every pinned kind, one of them broken: refused too.
    let err = root.fails(&["ns", "enter", "--pinned", "p", "--", "true"]);
    assert!(err.contains("the net pin of p"), "{err}");
    // The kinds still pinned can be joined.
    let again = root.ok(&[
        "ns",
        "enter",
        "--pinned",
        "p",
        "--uts",
        "--",
        "readlink",
        "/proc/self/ns/uts",
    ]);
    assert_eq!(again, pinned_uts);

    // doctor names the broken pin; prune (without --all) removes only it.
    let checks = doctor(&root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "warn", "{detail}");
    assert!(
        detail.contains(&pin.join("net").display().to_string()),
        "{detail}"
    );
    root.ok(&["system", "prune", "-f"]);
    assert_eq!(check(&doctor(&root), "leftovers").0, "ok");
    assert!(!pin.join("net").exists());
    assert!(is_mounted(&pin.join("uts")), "prune removed a working pin");
    // Only some kinds are pinned now: asking for another is refused.
    let err = root.fails(&["ns", "enter", "--pinned", "p", "--net", "--", "true"]);
    assert!(
        err.contains("the pin p holds no net namespace") && err.contains("it pins only"),
        "{err}"
    );
    root.ok(&["ns", "unpin", "p"]);
    assert!(!pin.exists());
    assert!(!ledger(&root).contains("run/ns/p"), "{}", ledger(&root));
}

#[test]
fn enter_refuses_kinds_the_pin_does_not_hold() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["ns", "run", "--uts", "--pin", "u", "--", "true"]);
    let err = root.fails(&["ns", "enter", "--pinned", "u", "--net", "--", "true"]);
    assert!(
        err.contains("the pin u holds no net namespace: it pins only uts"),
        "{err}"
    );
    let err = root.fails(&[
        "ns", "enter", "--pinned", "u", "--uts", "--pid", "--", "true",
    ]);
    assert!(err.contains("a pid namespace is never pinned"), "{err}");
    // --all means every kind the pin holds.
    let uts = root.ok(&[
        "ns",
        "enter",
        "--pinned",
        "u",
        "--all",
        "--",
        "readlink",
        "/proc/self/ns/uts",
    ]);
    assert_ne!(
        uts.trim(),
        std::fs::read_link("/proc/self/ns/uts")
            .unwrap()
            .to_str()
            .unwrap()
    );
}

#[test]
fn enter_refuses_a_pin_holding_a_namespace_of_another_kind() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["ns", "run", "--uts", "--net", "--pin", "w", "--", "true"]);
    let pin = root.path().join("run/ns/w");
    // Something else is mounted over the uts pin: an ipc namespace.
    nix::mount::mount(
        Some("/proc/self/ns/ipc"),
        &pin.join("uts"),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let err = root.fails(&["ns", "enter", "--pinned", "w", "--uts", "--", "true"]);
    assert!(
        err.contains("holds a ipc namespace, not a uts one"),
        "{err}"
    );
    umount(&pin.join("uts"));
    root.ok(&["ns", "unpin", "w"]);
}

/// What the old code left after a crash right after its `mkdir`: an empty
/// pin directory no ledger knew, and every later `ns run --pin` said
/// "already pinned", even after `system prune --all`.
#[test]
fn an_empty_pin_directory_is_named_and_rolled_back() {
    require_root();
    let root = TestRoot::new();
    let pin = root.path().join("run/ns/p");
    std::fs::create_dir_all(&pin).unwrap();
    let checks = doctor(&root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "warn", "{detail}");
    assert!(
        detail.contains(&format!("pin {}", pin.display())) && detail.contains("no namespace"),
        "{detail}"
    );
    let err = root.ok_stderr(&["ns", "run", "--uts", "--pin", "p", "--", "true"]);
    assert!(err.contains("rolling back the earlier pin p"), "{err}");
    assert!(is_mounted(&pin.join("uts")));
    root.ok(&["ns", "unpin", "p"]);
    // And `ns unpin` and `system prune` roll it back as well.
    std::fs::create_dir_all(&pin).unwrap();
    root.ok(&["ns", "unpin", "p"]);
    assert!(!pin.exists());
    std::fs::create_dir_all(&pin).unwrap();
    root.ok(&["system", "prune", "-f"]);
    assert!(!pin.exists());
    assert_clean_after_prune(&root, "empty pin directory");
}

#[test]
fn a_failed_run_leaves_no_pin() {
    require_root();
    let root = TestRoot::new();
    let rootfs = common::rootfs::busybox();
    let out = root.run(&[
        "ns",
        "run",
        "--uts",
        "--rootfs",
        rootfs.path().to_str().unwrap(),
        "--pin",
        "f",
        "--",
        "/bin/no-such-command",
    ]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(!root.path().join("run/ns/f").exists());
    assert!(!ledger(&root).contains("run/ns/f"), "{}", ledger(&root));
    let err = root.fails(&["ns", "run", "--pid", "--pin", "f", "--", "true"]);
    assert!(err.contains("nothing to pin"), "{err}");
}

/// Defect 7: a SIGKILL at every step of `ns run --pin`: doctor names what
/// is left (or nothing is left), the same command then works (or says
/// exactly what to do), and prune leaves nothing.
#[test]
fn pin_survives_a_crash_at_every_step() {
    require_root();
    let root = TestRoot::new();
    let args = ["ns", "run", "--pin", "p", "--net", "--uts", "--", "true"];
    let pin = root.path().join("run/ns/p");
    let n = each_crash_point(
        || {
            let mut c = root.glassbox();
            c.args(args);
            c
        },
        |k, crashed| {
            let what = format!("crash point {k} ({})", stderr(crashed).trim());
            let checks = doctor(&root);
            let (status, detail) = check(&checks, "leftovers");
            let complete = ["net", "uts"].iter().all(|t| is_mounted(&pin.join(t)))
                && root
                    .run(&["ns", "enter", "--pinned", "p", "--", "true"])
                    .status
                    .success();
            if status == "ok" {
                // Nothing left, or the finished pin the command was for.
                assert!(
                    complete || (!pin.exists() && !ledger(&root).contains("run/ns/p")),
                    "{what}: doctor sees nothing, but left: {:?} {}",
                    common::entries(&pin),
                    ledger(&root)
                );
            } else {
                assert!(
                    detail.contains(&pin.display().to_string()),
                    "{what}: {detail}"
                );
            }
            let again = root.run(&args);
            if !again.status.success() {
                let err = stderr(&again);
                assert!(
                    complete
                        && err.contains("already pinned")
                        && err.contains("glassbox ns unpin p"),
                    "{what}: the same command again: {err}"
                );
                root.ok(&["ns", "unpin", "p"]);
                root.ok(&args);
            }
            assert!(
                is_mounted(&pin.join("net")) && is_mounted(&pin.join("uts")),
                "{what}"
            );
            assert_clean_after_prune(&root, &what);
            assert!(!pin.exists(), "{what}: prune --all left {}", pin.display());
        },
    );
    eprintln!("ns run --pin p --net --uts -- true: {n} crash points");
    assert!(n >= 10, "only {n} crash points: is every step counted?");
}
