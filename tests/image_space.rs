//! A decompression bomb meets a small disk (issue 10, defect 6): a 2 MB
//! gzip layer holding 2 GiB of zeros, loaded into a state root on a 64 MiB
//! tmpfs, stops when the free space falls below the reserve
//! (`GLASSBOX_STORE_RESERVE`), or at `ENOSPC` with no reserve; the partial
//! layer and blobs are removed, the error says what happened and what to
//! do, the store is as it was and doctor is clean. `image import` of such
//! a tarball stops the same way. Needs root.

mod common;

use std::io::Write;
use std::path::Path;

use common::archive::{Archive, config, docker_manifest};
use common::crash::{check, doctor};
use common::fixtures::{self, BUSYBOX};
use common::tmpfs::Tmpfs;
use common::{TestRoot, entries, require_root};

const MIB: u64 = 1 << 20;

/// A gzip stream of a tar holding one file of `zeros` zero bytes: a tar
/// header, then the same 1 MiB gzip member of zeros again and again (a
/// multi-member gzip, as `cat a.gz b.gz` makes; `gzip -d` reads it whole).
fn gzip_bomb(zeros: u64) -> Vec<u8> {
    let gz = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let mut h = tar::Header::new_gnu();
    h.set_path("zeros").unwrap();
    h.set_size(zeros);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    let mut out = gz(h.as_bytes());
    let member = gz(&vec![0u8; MIB as usize]);
    // The file's bytes, then the two zero blocks that end a tar.
    for _ in 0..(zeros + 1024).div_ceil(MIB) {
        out.extend_from_slice(&member);
    }
    out
}

/// A docker save archive of one image whose only layer is `layer`.
fn archive_with_layer(dir: &Path, layer: &[u8]) -> std::path::PathBuf {
    // The diff id does not matter: the bomb never gets that far.
    let diff = fixtures::sha256_digest(b"the uncompressed bomb");
    let path = dir.join("bomb.tar");
    Archive::new()
        .file("config.json", &config(&[&diff]))
        .file(
            "manifest.json",
            &docker_manifest(&[("config.json", "bomb:latest", &["layer.tar"])]),
        )
        .file("layer.tar", layer)
        .write(&path);
    path
}

/// layers, blobs, images.json and tmp of the store.
fn store_state(root: &TestRoot) -> (Vec<String>, Vec<String>, String, Vec<String>) {
    (
        entries(&root.path().join("layers")),
        entries(&root.path().join("blobs/sha256")),
        std::fs::read_to_string(root.path().join("images.json")).unwrap_or_default(),
        entries(&root.path().join("tmp")),
    )
}

/// Run glassbox with the reserve set; its stderr (it must fail).
fn fails_with_reserve(root: &TestRoot, reserve: &str, args: &[&str]) -> String {
    let out = root
        .glassbox()
        .env("GLASSBOX_STORE_RESERVE", reserve)
        .args(args)
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert!(!out.status.success(), "{args:?} succeeded: {err}");
    assert_eq!(out.status.code(), Some(125), "{err}");
    err
}

/// After a stopped bomb: the store as before, the space back, doctor clean.
fn assert_undone(
    root: &TestRoot,
    fs: &Tmpfs,
    before: &(Vec<String>, Vec<String>, String, Vec<String>),
    what: &str,
) {
    assert_eq!(&store_state(root), before, "{what}: the store is unchanged");
    let dot_tmp: Vec<String> = entries(&root.path().join("layers"))
        .into_iter()
        .chain(entries(&root.path().join("blobs/sha256")))
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(
        dot_tmp.is_empty(),
        "{what}: partial layer or blob left: {dot_tmp:?}"
    );
    assert!(
        fs.avail() > 48 * MIB,
        "{what}: only {} MiB free after the undo",
        fs.avail() / MIB
    );
    let checks = doctor(root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "ok", "{what}: {detail}");
}

#[test]
fn a_gzip_bomb_stops_at_the_reserve_and_leaves_nothing() {
    require_root();
    let root = TestRoot::new();
    let fs = Tmpfs::mount(root.path(), "64m");
    let work = tempfile::tempdir().unwrap();
    let bomb = gzip_bomb(2048 * MIB);
    assert!(bomb.len() < 4 * MIB as usize, "{} bytes", bomb.len());
    let archive = archive_with_layer(work.path(), &bomb);
    // An image already there must survive.
    root.ok(&[
        "image",
        "load",
        "-i",
        fixtures::archive(BUSYBOX).to_str().unwrap(),
    ]);
    let before = store_state(&root);

    let load = ["image", "load", "-i", archive.to_str().unwrap()];
    let err = fails_with_reserve(&root, "16M", &load);
    for want in [
        "not enough free space",
        "below the 16.0MiB reserve",
        "removed the partial layer",
        "GLASSBOX_STORE_RESERVE",
        "glassbox image prune",
        "--root",
    ] {
        assert!(err.contains(want), "says {want:?}: {err}");
    }
    assert_undone(&root, &fs, &before, "reserve 16M");

    // No reserve: the kernel's ENOSPC stops it, with the same cleanup.
    let err = fails_with_reserve(&root, "0", &load);
    for want in [
        "no space left",
        "removed the partial layer",
        "GLASSBOX_STORE_RESERVE",
    ] {
        assert!(err.contains(want), "says {want:?}: {err}");
    }
    assert_undone(&root, &fs, &before, "ENOSPC");
    assert!(root.ok(&["image", "ls"]).contains("busybox"));
}

#[test]
fn an_import_bomb_stops_too() {
    require_root();
    let root = TestRoot::new();
    let fs = Tmpfs::mount(root.path(), "64m");
    let work = tempfile::tempdir().unwrap();
    let tgz = work.path().join("rootfs.tgz");
    std::fs::write(&tgz, gzip_bomb(256 * MIB)).unwrap();
    root.ok(&["image", "ls"]);
    let before = store_state(&root);
    let err = fails_with_reserve(
        &root,
        "16M",
        &["image", "import", tgz.to_str().unwrap(), "bomb:1"],
    );
    assert!(
        err.contains("not enough free space") && err.contains("removed the partial layer"),
        "{err}"
    );
    assert_undone(&root, &fs, &before, "import");
}

#[test]
fn a_reserve_that_is_not_a_size_is_refused() {
    require_root();
    let root = TestRoot::new();
    let err = fails_with_reserve(
        &root,
        "lots",
        &[
            "image",
            "load",
            "-i",
            fixtures::archive(BUSYBOX).to_str().unwrap(),
        ],
    );
    assert!(err.contains("GLASSBOX_STORE_RESERVE=lots"), "{err}");
    assert!(entries(&root.path().join("layers")).is_empty());
}
