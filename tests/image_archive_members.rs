//! Archives are read only from their regular files (issue 10, defect 6):
//! a `docker save` or OCI layout archive whose manifest, config, layer,
//! index or blob is a symlink out of the archive (to a tar elsewhere on
//! the host, to `/proc/self/pagemap`), a hard link or a FIFO is refused
//! at once with an error naming the member, and nothing enters the store.
//! A relative symlink to another member, as Docker up to 24 writes for a
//! layer two images share, still loads. Needs root.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::archive::{Archive, config, docker_manifest, layer};
use common::crash::{check, doctor};
use common::fixtures::{self, BUSYBOX};
use common::{TestRoot, entries, require_root};

/// What the store holds: layers, blobs, images.json, tmp.
fn store_state(root: &TestRoot) -> (Vec<String>, Vec<String>, String, Vec<String>) {
    (
        entries(&root.path().join("layers")),
        entries(&root.path().join("blobs/sha256")),
        std::fs::read_to_string(root.path().join("images.json")).unwrap_or_default(),
        entries(&root.path().join("tmp")),
    )
}

/// Run `cmd`, killing it after `secs`; the output and whether it finished.
fn run_within(mut cmd: Command, secs: u64) -> (Output, bool) {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut finished = true;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            finished = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), finished)
}

/// `image load -i ARCHIVE` must fail fast naming `member` and `expect`,
/// and leave the store as it was, with doctor clean.
fn refused(root: &TestRoot, archive: &Path, member: &str, expect: &[&str]) {
    let before = store_state(root);
    let mut cmd = root.glassbox();
    cmd.args(["image", "load", "-i", archive.to_str().unwrap()]);
    let (out, finished) = run_within(cmd, 20);
    assert!(
        finished,
        "{member}: load did not finish within 20 s (spinning?)"
    );
    let err = common::stderr(&out);
    assert!(!out.status.success(), "{member}: was loaded: {err}");
    assert!(
        err.contains(&format!("{member:?}")),
        "names {member:?}: {err}"
    );
    for e in expect {
        assert!(err.contains(e), "{member}: says {e:?}: {err}");
    }
    assert_eq!(
        store_state(root),
        before,
        "{member}: the store is unchanged"
    );
    let checks = doctor(root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "ok", "{member}: {detail}");
}

/// A real layer tar somewhere on the host, outside any archive.
fn host_layer(dir: &Path) -> (PathBuf, String) {
    let (tar, diff) = layer("secret", b"from the host\n");
    let p = dir.join("host-layer.tar");
    std::fs::write(&p, tar).unwrap();
    (p, diff)
}

fn load_busybox(root: &TestRoot) {
    root.ok(&[
        "image",
        "load",
        "-i",
        fixtures::archive(BUSYBOX).to_str().unwrap(),
    ]);
}

#[test]
fn a_layer_symlinked_to_a_host_tar_is_refused() {
    require_root();
    let root = TestRoot::new();
    load_busybox(&root);
    let host = tempfile::tempdir().unwrap();
    let (host_tar, diff) = host_layer(host.path());
    let archive = host.path().join("evil.tar");
    Archive::new()
        .file("config.json", &config(&[&diff]))
        .file(
            "manifest.json",
            &docker_manifest(&[("config.json", "evil:latest", &["layer.tar"])]),
        )
        .symlink("layer.tar", host_tar.to_str().unwrap())
        .write(&archive);
    refused(
        &root,
        &archive,
        "layer.tar",
        &["symlink", "outside the archive", "regular files"],
    );
    assert!(!root.ok(&["image", "ls"]).contains("evil"));
}

#[test]
fn a_layer_symlinked_to_proc_pagemap_fails_fast() {
    require_root();
    let root = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let (_, diff) = layer("x", b"x");
    let archive = dir.path().join("pagemap.tar");
    Archive::new()
        .file("config.json", &config(&[&diff]))
        .file(
            "manifest.json",
            &docker_manifest(&[("config.json", "spin:latest", &["layer.tar"])]),
        )
        .symlink("layer.tar", "/proc/self/pagemap")
        .write(&archive);
    let start = Instant::now();
    refused(&root, &archive, "layer.tar", &["/proc/self/pagemap"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_manifest_or_config_symlinked_to_the_host_is_refused() {
    require_root();
    let root = TestRoot::new();
    let host = tempfile::tempdir().unwrap();
    let (tar, diff) = layer("hello", b"hi\n");
    // A valid manifest, but on the host: the archive only links to it.
    let host_manifest = host.path().join("manifest.json");
    std::fs::write(
        &host_manifest,
        docker_manifest(&[("config.json", "evil:latest", &["layer.tar"])]),
    )
    .unwrap();
    let archive = host.path().join("manifest-link.tar");
    Archive::new()
        .file("config.json", &config(&[&diff]))
        .symlink("manifest.json", host_manifest.to_str().unwrap())
        .file("layer.tar", &tar)
        .write(&archive);
    refused(
        &root,
        &archive,
        "manifest.json",
        &["symlink", "outside the archive"],
    );

    let host_config = host.path().join("config.json");
    std::fs::write(&host_config, config(&[&diff])).unwrap();
    let archive = host.path().join("config-link.tar");
    Archive::new()
        .symlink("config.json", host_config.to_str().unwrap())
        .file(
            "manifest.json",
            &docker_manifest(&[("config.json", "evil:latest", &["layer.tar"])]),
        )
        .file("layer.tar", &tar)
        .write(&archive);
    refused(
        &root,
        &archive,
        "config.json",
        &["symlink", "outside the archive"],
    );
}

#[test]
fn hard_links_fifos_and_escaping_relative_links_are_refused() {
    require_root();
    let root = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let (tar, diff) = layer("hello", b"hi\n");
    let manifest = docker_manifest(&[("config.json", "evil:latest", &["layer.tar"])]);
    let cases: Vec<(&str, Archive, &[&str])> = vec![
        (
            "hard",
            Archive::new()
                .file("other.tar", &tar)
                .hardlink("layer.tar", "other.tar"),
            &["hard link"],
        ),
        (
            "fifo",
            Archive::new().fifo("layer.tar"),
            &["a FIFO", "not a regular file"],
        ),
        (
            "climb",
            Archive::new().symlink("layer.tar", "../../../../../../etc/passwd"),
            &["outside the archive"],
        ),
        (
            "dir",
            Archive::new().symlink("sub", "/etc").file("x", b""),
            &[],
        ),
    ];
    for (what, a, expect) in cases {
        let archive = dir.path().join(format!("{what}.tar"));
        let member = if what == "dir" {
            "sub/passwd"
        } else {
            "layer.tar"
        };
        let manifest = if what == "dir" {
            docker_manifest(&[("config.json", "evil:latest", &["sub/passwd"])])
        } else {
            manifest.clone()
        };
        a.file("config.json", &config(&[&diff]))
            .file("manifest.json", &manifest)
            .write(&archive);
        let mut expect = expect.to_vec();
        if what == "dir" {
            expect.push("not a directory");
        }
        refused(&root, &archive, member, &expect);
    }
}

#[test]
fn an_oci_layout_with_linked_index_or_blob_is_refused() {
    require_root();
    let root = TestRoot::new();
    let host = tempfile::tempdir().unwrap();
    let layout = fixtures::oci_layout(BUSYBOX);
    // index.json linked to the real one, outside the archive.
    let archive = host.path().join("index-link.tar");
    let mut a = Archive::new()
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .symlink("index.json", layout.join("index.json").to_str().unwrap())
        .dir("blobs/")
        .dir("blobs/sha256/");
    for name in entries(&layout.join("blobs/sha256")) {
        a = a.file(
            &format!("blobs/sha256/{name}"),
            &std::fs::read(layout.join("blobs/sha256").join(&name)).unwrap(),
        );
    }
    a.write(&archive);
    refused(
        &root,
        &archive,
        "index.json",
        &["symlink", "outside the archive"],
    );

    // A layer blob linked to the layout's real blob on the host.
    let layer_hex = fixtures::layer_digests(BUSYBOX)[0]["sha256:".len()..].to_string();
    let archive = host.path().join("blob-link.tar");
    let mut a = Archive::new()
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file(
            "index.json",
            &std::fs::read(layout.join("index.json")).unwrap(),
        )
        .dir("blobs/")
        .dir("blobs/sha256/");
    for name in entries(&layout.join("blobs/sha256")) {
        let real = layout.join("blobs/sha256").join(&name);
        let member = format!("blobs/sha256/{name}");
        a = if name == layer_hex {
            a.symlink(&member, real.to_str().unwrap())
        } else {
            a.file(&member, &std::fs::read(&real).unwrap())
        };
    }
    a.write(&archive);
    refused(
        &root,
        &archive,
        &format!("blobs/sha256/{layer_hex}"),
        &["symlink", "outside the archive"],
    );
}

#[test]
fn a_layer_shared_by_a_relative_link_as_docker_24_writes_loads() {
    require_root();
    let root = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let (tar, diff) = layer("shared", b"one copy\n");
    let (tar2, diff2) = layer("top", b"second image\n");
    let archive = dir.path().join("docker24.tar");
    Archive::new()
        .dir("aaa/")
        .file("aaa/layer.tar", &tar)
        .dir("bbb/")
        .symlink("bbb/layer.tar", "../aaa/layer.tar")
        .dir("ccc/")
        .file("ccc/layer.tar", &tar2)
        .file("one.json", &config(&[&diff]))
        .file("two.json", &config(&[&diff, &diff2]))
        .file(
            "manifest.json",
            &docker_manifest(&[
                ("one.json", "one:latest", &["aaa/layer.tar"]),
                (
                    "two.json",
                    "two:latest",
                    &["bbb/layer.tar", "ccc/layer.tar"],
                ),
            ]),
        )
        .write(&archive);
    let out = root.ok(&["image", "load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["Loaded image: one:latest", "Loaded image: two:latest"]
    );
    assert_eq!(entries(&root.path().join("layers")).len(), 2);
    let checks = doctor(&root);
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "ok", "{detail}");
}
