//! An image handed to a container being made is kept by a lease until the
//! container's record holds it (issue 11, item 3): what `run` will do is
//! resolve (or pull) the image, take a lease, write
//! `containers/<id>/config.json` naming the image, drop the lease. While
//! the lease is held, `image rm` refuses (Docker's conflict message) and
//! `image prune -a` keeps the image; once the holder dies, the lease keeps
//! nothing: doctor names it, and prune removes it and then the image.
//! Needs root.

mod common;

use std::process::{Child, Command};

use common::crash::{assert_clean_after_prune, check, doctor};
use common::fixtures::{self, BUSYBOX};
use common::registry::Registry;
use common::{TestRoot, entries, require_root};
use glassbox::image::lease::{self, Holder};
use glassbox::state::Root;

fn groot(root: &TestRoot) -> Root {
    Root::new(Some(root.path())).unwrap()
}

fn layers(root: &TestRoot) -> Vec<String> {
    entries(&root.path().join("layers"))
}

fn leases(root: &TestRoot) -> Vec<String> {
    entries(&root.path().join("leases"))
}

/// A process to hold a lease on the test's behalf, as a shim would.
fn holder() -> Child {
    Command::new("sleep").arg("600").spawn().unwrap()
}

#[test]
fn a_leased_image_is_kept_from_rm_and_prune_until_its_holder_dies() {
    require_root();
    let reg = Registry::start();
    reg.push(&[BUSYBOX]);
    let root = TestRoot::new();
    let r = reg.reference(BUSYBOX);
    root.ok(&["pull", "-q", &r]);
    let id = fixtures::config_digest(BUSYBOX);
    let short = &id["sha256:".len()..][..12];

    let mut shim = holder();
    let held = lease::take(
        &groot(&root),
        &r,
        Holder::of(shim.id()).unwrap(),
        "run test",
    )
    .unwrap();
    assert_eq!(held.image(), id);
    assert_eq!(leases(&root).len(), 1);

    // rm by reference: Docker's conflict, naming the lease's holder.
    let err = root.fails(&["image", "rm", &r]);
    assert!(
        err.contains(&format!(
            "conflict: unable to remove repository reference \"{r}\" (must force) - a container being created (lease "
        )) && err.contains(&format!("of pid {}, run test) is using its referenced image {short}", shim.id())),
        "{err}"
    );
    // rm by id cannot be forced.
    let err = root.fails(&["rmi", "-f", short]);
    assert!(
        err.contains(&format!(
            "conflict: unable to delete {short} (cannot be forced)"
        )),
        "{err}"
    );
    // prune -a keeps it.
    let pruned = root.ok(&["image", "prune", "-a", "-f"]);
    assert!(!pruned.contains("deleted"), "{pruned}");
    assert_eq!(layers(&root).len(), 1);
    // A live holder's lease is nothing doctor or prune should touch.
    let checks = doctor(&root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "ok", "{detail}");
    root.ok(&["system", "prune", "--all", "-f"]);
    assert_eq!(leases(&root).len(), 1);
    // rmi -f by reference only untags it: the image stays, dangling.
    let out = root.ok(&["rmi", "-f", &r]);
    assert_eq!(out.trim(), format!("Untagged: {r}"));
    assert!(root.ok(&["images", "-q"]).contains(short));
    assert_eq!(layers(&root).len(), 1);

    // The holder dies without dropping the lease.
    shim.kill().unwrap();
    shim.wait().unwrap();
    std::mem::forget(held);
    let checks = doctor(&root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "warn", "{detail}");
    assert!(
        detail.contains(&leases(&root)[0]) && detail.contains("died"),
        "doctor names the stale lease: {detail}"
    );
    // It keeps nothing: prune removes it, then the image.
    let pruned = root.ok(&["image", "prune", "-a", "-f"]);
    assert!(pruned.contains(&format!("deleted: {id}")), "{pruned}");
    assert!(leases(&root).is_empty());
    assert!(layers(&root).is_empty());
    assert_clean_after_prune(&root, "after the holder died");
}

#[test]
fn system_prune_removes_a_lease_whose_holder_died() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["image", "from-host", "busybox", "--tag", "bb"]);
    let mut shim = holder();
    let held = lease::take(
        &groot(&root),
        "bb",
        Holder::of(shim.id()).unwrap(),
        "run bb",
    )
    .unwrap();
    shim.kill().unwrap();
    shim.wait().unwrap();
    std::mem::forget(held);
    let checks = doctor(&root);
    let (status, detail) = check(&checks, "leftovers");
    assert!(status == "warn" && detail.contains("lease"), "{detail}");
    // A dead holder's lease does not keep the image from rm either.
    root.ok(&["system", "prune", "-f"]);
    assert!(leases(&root).is_empty());
    root.ok(&["rmi", "bb"]);
    assert_clean_after_prune(&root, "a stale lease");
}

#[test]
fn run_hands_the_image_over_with_a_lease_until_the_container_record_holds_it() {
    require_root();
    let reg = Registry::start();
    reg.push(&[BUSYBOX]);
    let root = TestRoot::new();
    let r = reg.reference(BUSYBOX);
    // What run will do: resolve or pull, with a lease ...
    let img = glassbox::image::for_run(&groot(&root), &r, true).unwrap();
    assert_eq!(leases(&root).len(), 1);
    let err = root.fails(&["rmi", &r]);
    assert!(err.contains("a container being created"), "{err}");
    // ... write the container's record naming the image ...
    let c = root.path().join("containers/c0ffee");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(
        c.join("config.json"),
        format!(r#"{{"Id":"c0ffee","Image":"{}"}}"#, img.id),
    )
    .unwrap();
    // ... and drop the lease: the record keeps the image now.
    img.lease.release().unwrap();
    assert!(leases(&root).is_empty());
    let err = root.fails(&["rmi", &r]);
    assert!(
        err.contains(&format!(
            "conflict: unable to remove repository reference \"{r}\" (must force) - container c0ffee is using its referenced image"
        )),
        "{err}"
    );
    let pruned = root.ok(&["image", "prune", "-a"]);
    assert!(!pruned.contains("deleted"), "{pruned}");
    std::fs::remove_dir_all(&c).unwrap();
    root.ok(&["rmi", &r]);
    assert!(layers(&root).is_empty());
    // A run that gives up before its record drops its lease with it.
    let img = glassbox::image::for_run(&groot(&root), &r, true).unwrap();
    assert_eq!(leases(&root).len(), 1);
    drop(img);
    assert!(leases(&root).is_empty());
    assert_clean_after_prune(&root, "after run handed the image over");
}
