//! `image load` and `image pull` are transactions (issue 10, defect 7):
//! killed after any of their steps (`GLASSBOX_CRASH_AFTER_STEP=k`), what
//! they left (a work directory of the dead process, a partial layer or
//! blob, layers and blobs no image uses) is named by `doctor`, the same
//! command again succeeds, and `system prune` leaves nothing. `image prune
//! -a` reports the bytes it really freed. Needs root.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::crash::{assert_clean_after_prune, check, doctor, each_crash_point, run_crashing};
use common::fixtures::{self, LAYERED};
use common::registry::Registry;
use common::{TestRoot, entries, require_root};

/// What a user finds left in the store after a crash: every entry of
/// `tmp/`, every `.tmp-*` under `layers/` and `blobs/sha256/`, and every
/// layer and blob that no image in `images.json` uses. Paths.
fn left_in_store(root: &TestRoot) -> Vec<String> {
    let dir = root.path();
    let mut used = BTreeSet::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("images.json")) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for img in v["images"].as_object().unwrap().values() {
            for key in ["id", "manifest_digest"] {
                used.insert(img[key].as_str().unwrap().replace("sha256:", ""));
            }
            for l in img["layers"].as_array().unwrap() {
                for key in ["digest", "chain_id"] {
                    used.insert(l[key].as_str().unwrap().replace("sha256:", ""));
                }
            }
        }
    }
    let mut out = Vec::new();
    for name in entries(&dir.join("tmp")) {
        out.push(dir.join("tmp").join(name).display().to_string());
    }
    for sub in ["layers", "blobs/sha256"] {
        for name in entries(&dir.join(sub)) {
            if name.starts_with(".tmp-") || !used.contains(&name) {
                out.push(dir.join(sub).join(name).display().to_string());
            }
        }
    }
    out
}

/// doctor names each thing left (or says nothing is left).
fn assert_doctor_names_what_is_left(root: &TestRoot, what: &str) -> usize {
    let left = left_in_store(root);
    let checks = doctor(root);
    let (status, detail) = check(&checks, "leftovers");
    if left.is_empty() {
        assert_eq!(status, "ok", "{what}: nothing is left, yet: {detail}");
    } else {
        assert_eq!(status, "warn", "{what}: {left:?} left, doctor: {detail}");
        for l in &left {
            assert!(
                detail.contains(l.as_str()),
                "{what}: doctor does not name {l}: {detail}"
            );
        }
    }
    left.len()
}

/// The image is whole: every layer of `layered` unpacked, listed.
fn assert_layered_whole(root: &TestRoot, what: &str) {
    let v: serde_json::Value =
        serde_json::from_str(&root.ok(&["image", "inspect", "layered"])).unwrap();
    let upper = v[0]["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    for f in fixtures::layered::ADDED_FILES {
        assert!(
            std::path::Path::new(upper).join(f).exists(),
            "{what}: {f} missing from the top layer"
        );
    }
    for d in entries(&root.path().join("layers")) {
        assert!(
            root.path()
                .join("layers")
                .join(&d)
                .join("layer.json")
                .is_file(),
            "{what}: layer {d} is incomplete"
        );
    }
}

#[test]
fn every_crash_point_of_image_load_is_recoverable() {
    require_root();
    let root = TestRoot::new();
    let archive = fixtures::archive(LAYERED);
    let load = || {
        let mut cmd = root.glassbox();
        cmd.args(["image", "load", "-i", archive.to_str().unwrap()]);
        cmd
    };
    let mut named = 0;
    let n = each_crash_point(load, |k, _out| {
        let what = format!("image load, crash after step {k}");
        if assert_doctor_names_what_is_left(&root, &what) > 0 {
            named += 1;
        }
        let out = root.ok(&["image", "load", "-i", archive.to_str().unwrap()]);
        assert_eq!(out.trim(), "Loaded image: layered:latest", "{what}");
        assert_layered_whole(&root, &what);
        assert_doctor_names_what_is_left(&root, &format!("{what}, loaded again"));
        root.ok(&["image", "rm", "layered"]);
        assert_clean_after_prune(&root, &what);
        assert!(
            left_in_store(&root).is_empty(),
            "{what}: {:?}",
            left_in_store(&root)
        );
        assert!(entries(&root.path().join("layers")).is_empty(), "{what}");
    });
    eprintln!("image load: {n} crash points, {named} of them left something doctor named");
    assert!(n >= 10, "image load has only {n} changing steps");
    assert!(named > 0);
}

#[test]
fn every_crash_point_of_image_pull_is_recoverable() {
    require_root();
    let reg = Registry::start();
    reg.push(&[LAYERED]);
    let root = TestRoot::new();
    let r = reg.reference(LAYERED);
    let pull = || {
        let mut cmd = root.glassbox();
        cmd.args(["image", "pull", "-q", &r]);
        cmd
    };
    let mut named = 0;
    let n = each_crash_point(pull, |k, _out| {
        let what = format!("image pull, crash after step {k}");
        if assert_doctor_names_what_is_left(&root, &what) > 0 {
            named += 1;
        }
        root.ok(&["image", "pull", "-q", &r]);
        let v: serde_json::Value =
            serde_json::from_str(&root.ok(&["image", "inspect", &r])).unwrap();
        assert_eq!(
            v[0]["Id"],
            fixtures::config_digest(LAYERED).as_str(),
            "{what}"
        );
        assert_doctor_names_what_is_left(&root, &format!("{what}, pulled again"));
        root.ok(&["image", "rm", &r]);
        assert_clean_after_prune(&root, &what);
        assert!(
            left_in_store(&root).is_empty(),
            "{what}: {:?}",
            left_in_store(&root)
        );
    });
    eprintln!("image pull: {n} crash points, {named} of them left something doctor named");
    assert!(n >= 10, "image pull has only {n} changing steps");
    assert!(named > 0);
}

/// `du -s -B1` of the store's content directories.
fn du(root: &TestRoot) -> u64 {
    let out = Command::new("du")
        .args(["-s", "-B1", "--total"])
        .args(["layers", "blobs", "tmp"].map(|d| root.path().join(d)))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("du: {text}"))
}

/// `4.26MB` (decimal units, as Docker prints) in bytes.
fn parse_size(s: &str) -> f64 {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap());
    let mult = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other}"),
    };
    num.parse::<f64>().unwrap() * mult
}

#[test]
fn image_prune_reports_the_space_a_crashed_load_left() {
    require_root();
    let root = TestRoot::new();
    let archive = fixtures::archive(LAYERED);
    // Kill a load after it stored all three layers but before it recorded
    // the image: ~MBs of layers and blobs no image uses.
    let mut k = 1;
    loop {
        let mut cmd = root.glassbox();
        cmd.args(["image", "load", "-i", archive.to_str().unwrap()]);
        let out = run_crashing(cmd, k);
        assert!(
            common::crash::killed(&out),
            "the load finished before its record"
        );
        let layers = entries(&root.path().join("layers"))
            .into_iter()
            .filter(|d| !d.starts_with('.'))
            .count();
        if layers == 3 && !root.path().join("images.json").exists() {
            break;
        }
        root.ok(&["system", "prune", "-f"]);
        k += 1;
    }
    let before = du(&root);
    let out = root.ok(&["image", "prune", "-a", "-f"]);
    let after = du(&root);
    let reported = out
        .lines()
        .find_map(|l| l.strip_prefix("Total reclaimed space: "))
        .unwrap_or_else(|| panic!("{out}"));
    let freed = before.saturating_sub(after) as f64;
    let got = parse_size(reported);
    assert!(freed > 1e6, "the crash left {freed} bytes");
    assert!(
        (got - freed).abs() <= freed * 0.01 + 8192.0,
        "reported {reported}, du says {freed} bytes were freed"
    );
    assert!(
        left_in_store(&root).is_empty(),
        "{:?}",
        left_in_store(&root)
    );
    let checks = doctor(&root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "ok", "{detail}");
}
