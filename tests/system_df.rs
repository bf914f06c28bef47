//! `system df` as a Docker user reads it: one row per kind (images,
//! containers, local volumes, build cache) with TOTAL, ACTIVE, SIZE and
//! RECLAIMABLE; `-v` one table per kind, an image's SHARED and UNIQUE
//! sizes; and glassbox's line of what the shared layers save. Made for
//! real: a container that writes 5000 bytes, committed as a second image
//! on the first one's layer, and a volume of 3000 bytes. Root, real
//! kernel.

mod common;

use std::time::Duration;

use common::lifecycle::{IMAGE, Lab};
use serde_json::Value;

/// `system df --format json`: the rows by type.
fn summary(lab: &Lab) -> std::collections::BTreeMap<String, Value> {
    lab.ok(&["system", "df", "--format", "json"])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["Type"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// The row of `table` whose first column is `first`, split on runs of
/// two or more spaces.
fn row<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        })
        .find(|cols| cols.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first} in\n{table}"))
}

#[test]
fn images_containers_and_volumes_are_counted_and_the_shared_layer_once() {
    let lab = Lab::new();
    let empty = summary(&lab);
    assert_eq!(empty["Images"]["TotalCount"], "1");
    assert_eq!(empty["Containers"]["TotalCount"], "0");
    assert_eq!(empty["Local Volumes"]["TotalCount"], "0");
    assert_eq!(empty["Build Cache"]["Size"], "0B");

    lab.ok(&[
        "run",
        "--name",
        "maker",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /blob",
    ]);
    lab.ok(&["commit", "maker", "app:1"]);
    lab.detached(&[
        "--name",
        "live",
        "--network",
        "none",
        "-v",
        "data:/data",
        IMAGE,
        "sh",
        "-c",
        "head -c 3000 /dev/zero > /data/f; sleep 1000",
    ]);
    let volume = lab.root.path().join("volumes/data/_data/f");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::metadata(&volume).is_ok_and(|m| m.len() == 3000) {
        assert!(
            std::time::Instant::now() < deadline,
            "the volume's file was not written"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let s = summary(&lab);
    // Two images, one used by a container (bb:1, by both); app:1 by none.
    assert_eq!(s["Images"]["TotalCount"], "2");
    assert_eq!(s["Images"]["Active"], "1");
    // The writable layers: maker's 5000 bytes (stopped, so reclaimable);
    // live's holds only its mount point.
    assert_eq!(s["Containers"]["TotalCount"], "2");
    assert_eq!(s["Containers"]["Active"], "1");
    assert_eq!(s["Containers"]["Size"], "5kB");
    assert_eq!(s["Containers"]["Reclaimable"], "5kB (100%)");
    assert_eq!(s["Local Volumes"]["TotalCount"], "1");
    assert_eq!(s["Local Volumes"]["Active"], "1");
    assert_eq!(s["Local Volumes"]["Size"], "3kB");
    assert_eq!(s["Local Volumes"]["Reclaimable"], "0B (0%)");

    let v = lab.ok(&["system", "df", "-v"]);
    for title in [
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
        "Build cache usage: 0B",
    ] {
        assert!(v.contains(title), "{title} not in\n{v}");
    }
    // REPOSITORY TAG IMAGE-ID CREATED SIZE SHARED UNIQUE CONTAINERS
    let base = row(&v, "bb");
    let app = row(&v, "app");
    assert_eq!(base[4], base[5], "bb:1 is all shared: {base:?}");
    assert_eq!(base[6], "0B");
    assert_eq!(base[7], "2");
    assert_eq!(app[5], base[4], "app:1 shares bb:1's layer: {app:?}");
    assert_eq!(app[6], "5kB", "app:1's own layer: {app:?}");
    assert_eq!(app[7], "0");
    assert_eq!(row(&v, "data"), ["data", "1", "3kB"]);
    let maker = v
        .lines()
        .find(|l| l.ends_with(" maker"))
        .unwrap_or_else(|| panic!("no maker row in\n{v}"));
    assert!(maker.contains(" 0               5kB "), "{maker}");
    let live = v.lines().find(|l| l.ends_with(" live")).unwrap();
    assert!(live.contains(" 1               0B "), "{live}");

    // The shared layer is on disk once: it saves its own size.
    let text = lab.ok(&["system", "df"]);
    let want = format!("Shared layers save {}: ", base[4]);
    assert!(text.contains(&want), "{want} not in\n{text}");

    lab.ok(&["rm", "-f", "live", "maker"]);
    lab.ok(&["volume", "rm", "data"]);
    let after = summary(&lab);
    assert_eq!(after["Containers"]["TotalCount"], "0");
    assert_eq!(after["Local Volumes"]["Size"], "0B");
}

#[test]
fn verbose_and_format_together_are_refused() {
    let lab = Lab::new();
    let (code, _, err) = lab.status(&["system", "df", "-v", "--format", "json"]);
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("the verbose and the format options conflict"),
        "{err}"
    );
}
