//! `glassbox image pull` against a real registry on loopback (the rig's
//! `docker-registry`, filled by skopeo with the fixtures): single layer,
//! three layers with a whiteout and an opaque directory, an index, shared
//! layers, removal, and the errors a user meets. Needs root.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixtures::{self, ARM64, BUSYBOX, LAYERED, MULTIARCH};
use common::registry::Registry;
use common::{TestRoot, require_root};

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in diff_ids {
        let id = match out.last() {
            None => d.clone(),
            Some(p) => fixtures::sha256_digest(format!("{p} {d}").as_bytes()),
        };
        out.push(id);
    }
    out
}

fn layer_dirs(root: &TestRoot) -> Vec<String> {
    common::entries(&root.path().join("layers"))
}

fn blobs(root: &TestRoot) -> Vec<String> {
    common::entries(&root.path().join("blobs/sha256"))
}

#[test]
fn pull_single_layer_image_and_list_it() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    let r = reg.reference(BUSYBOX);
    let out = root.ok(&["image", "pull", &r]);
    assert!(out.contains("latest: Pulling from busybox"), "{out}");
    assert!(out.contains(": Pull complete"), "{out}");
    assert!(
        out.contains(&format!("Digest: {}", fixtures::digest(BUSYBOX))),
        "{out}"
    );
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {r}")),
        "{out}"
    );
    assert!(out.trim_end().ends_with(&r), "{out}");

    // One layer unpacked under its chain id (= its diff id), real files.
    let diff = fixtures::diff_ids(BUSYBOX);
    assert_eq!(layer_dirs(&root), vec![hex(&diff[0]).to_string()]);
    let rootfs = root.path().join("layers").join(hex(&diff[0])).join("diff");
    let bb = std::fs::metadata(rootfs.join("bin/busybox")).unwrap();
    assert_eq!(bb.mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    // Every blob is stored under the sha256 of its bytes.
    for b in blobs(&root) {
        let bytes = std::fs::read(root.path().join("blobs/sha256").join(&b)).unwrap();
        assert_eq!(fixtures::sha256_digest(&bytes), format!("sha256:{b}"));
    }

    let ls = root.ok(&["image", "ls"]);
    let id = fixtures::config_digest(BUSYBOX);
    assert!(ls.starts_with("REPOSITORY"), "{ls}");
    assert!(ls.contains(&hex(&id)[..12]), "{ls}");
    assert_eq!(
        root.ok(&["images", "-q"]).trim(),
        &hex(&id)[..12],
        "the images alias"
    );
    let digests = root.ok(&["images", "--digests"]);
    assert!(digests.contains("DIGEST"), "{digests}");
    assert!(digests.contains(&fixtures::digest(BUSYBOX)), "{digests}");
    // Pulling again downloads nothing.
    let again = root.ok(&["pull", &r]);
    assert!(again.contains("Already exists"), "{again}");
    assert!(again.contains("Status: Image is up to date for"), "{again}");
    assert!(!again.contains("Downloading"), "{again}");
}

/// Mount the image's layers read-only as one overlay and run `f` on it.
fn with_overlay(root: &TestRoot, image: &str, f: impl FnOnce(&Path)) {
    let inspect: serde_json::Value =
        serde_json::from_str(&root.ok(&["image", "inspect", image])).unwrap();
    let g = &inspect[0]["GraphDriver"]["Data"];
    let mut lowers = vec![g["UpperDir"].as_str().unwrap().to_string()];
    if let Some(l) = g["LowerDir"].as_str() {
        lowers.extend(l.split(':').map(String::from));
    }
    let target = tempfile::tempdir().unwrap();
    let st = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!("ro,lowerdir={}", lowers.join(":")))
        .arg(target.path())
        .status()
        .unwrap();
    assert!(st.success(), "mount overlay");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(target.path())));
    let _ = Command::new("umount").arg(target.path()).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn layered_image_shares_the_base_and_applies_whiteouts() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    root.ok(&["pull", &reg.reference(BUSYBOX)]);
    let out = root.ok(&["pull", &reg.reference(LAYERED)]);
    let base = fixtures::layer_digests(LAYERED)[0].clone();
    assert!(
        out.contains(&format!("{}: Already exists", &hex(&base)[..12])),
        "{out}"
    );
    assert_eq!(out.matches("Pull complete").count(), 2, "{out}");

    let chains = chain_ids(&fixtures::diff_ids(LAYERED));
    assert_eq!(chains.len(), 3);
    assert_eq!(layer_dirs(&root).len(), 3, "the base layer is stored once");
    // Layer 2 holds overlay's forms of the OCI whiteout and opaque marker.
    let l2 = root
        .path()
        .join("layers")
        .join(hex(&chains[1]))
        .join("diff");
    let wh = std::fs::symlink_metadata(l2.join(fixtures::layered::DELETED_FILE)).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "whiteout 0/0"
    );
    let opaque = l2.join(fixtures::layered::OPAQUE_DIR);
    assert!(
        glassbox::unionfs::whiteout::is_overlay_opaque(&opaque),
        "trusted.overlay.opaque=y on {}",
        opaque.display()
    );

    with_overlay(&root, &reg.reference(LAYERED), |m| {
        assert!(!m.join(fixtures::layered::DELETED_FILE).exists(), "deleted");
        for hidden in fixtures::layered::HIDDEN_FILES {
            assert!(
                !m.join(hidden).exists(),
                "{hidden} hidden by the opaque dir"
            );
        }
        assert!(m.join(fixtures::layered::OPAQUE_DIR_FILE).exists());
        for added in fixtures::layered::ADDED_FILES {
            assert!(m.join(added).exists(), "{added}");
        }
        assert!(m.join("bin/busybox").exists());
    });

    let tree = root.ok(&["image", "layers"]);
    assert!(tree.contains(&hex(&chains[0])[..12]), "{tree}");
    let shared_line = tree
        .lines()
        .find(|l| l.starts_with(&hex(&chains[0])[..12]))
        .unwrap();
    assert!(shared_line.contains("   2   "), "{tree}");

    // Removing one image keeps the shared layer; removing both frees it.
    let rm = root.ok(&["rmi", &reg.reference(LAYERED)]);
    assert!(rm.contains("Untagged:") && rm.contains("Deleted:"), "{rm}");
    assert_eq!(layer_dirs(&root), vec![hex(&chains[0]).to_string()]);
    root.ok(&["image", "rm", &reg.reference(BUSYBOX)]);
    assert!(layer_dirs(&root).is_empty(), "{:?}", layer_dirs(&root));
    assert!(blobs(&root).is_empty(), "{:?}", blobs(&root));
    assert_eq!(root.ok(&["image", "ls", "-q"]), "");
}

#[test]
fn index_picks_the_host_platform_or_the_asked_one() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    let r = reg.reference(MULTIARCH);
    let out = root.ok(&["pull", &r]);
    assert!(
        out.contains(&format!("Digest: {}", fixtures::digest(MULTIARCH))),
        "{out}"
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&root.ok(&["image", "inspect", &r])).unwrap();
    assert_eq!(inspect[0]["Architecture"], "amd64");
    assert_eq!(inspect[0]["Id"], fixtures::config_digest(BUSYBOX).as_str());
    assert_eq!(
        inspect[0]["RepoDigests"][0],
        format!("{}/multiarch@{}", reg.addr(), fixtures::digest(MULTIARCH)).as_str()
    );

    let other = TestRoot::new();
    other.ok(&["pull", "--platform", "linux/arm64", &r]);
    let inspect: serde_json::Value =
        serde_json::from_str(&other.ok(&["image", "inspect", &r])).unwrap();
    assert_eq!(inspect[0]["Architecture"], "arm64");
    assert_eq!(inspect[0]["Id"], fixtures::config_digest(ARM64).as_str());

    let err = other.fails(&["pull", "--platform", "linux/s390x", &r]);
    assert!(
        err.contains("no matching manifest for linux/s390x"),
        "{err}"
    );
    // A single-platform image for another platform is refused.
    let err = other.fails(&["pull", "--platform", "linux/arm64", &reg.reference(BUSYBOX)]);
    assert!(
        err.contains("not the requested platform linux/arm64"),
        "{err}"
    );

    // Pinned by digest: the registry's bytes must hash to it.
    let pinned = format!("{}/busybox@{}", reg.addr(), fixtures::digest(BUSYBOX));
    let out = other.ok(&["pull", &pinned]);
    assert!(
        out.contains(&format!("Digest: {}", fixtures::digest(BUSYBOX))),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&other.ok(&["image", "inspect", &pinned])).unwrap();
    assert_eq!(v[0]["Id"], fixtures::config_digest(BUSYBOX).as_str());
}

#[test]
fn pull_errors_are_clear_and_store_nothing() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    let err = root.fails(&["pull", &format!("{}/busybox:nope", reg.addr())]);
    assert!(
        err.contains("not found") && err.contains("MANIFEST_UNKNOWN"),
        "{err}"
    );
    let err = root.fails(&["pull", &format!("{}/nosuch:latest", reg.addr())]);
    assert!(err.contains("not found"), "{err}");
    let err = root.fails(&["pull", "Busybox"]);
    assert!(err.contains("must be lowercase"), "{err}");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = root.fails(&["pull", &format!("127.0.0.1:{port}/busybox")]);
    assert!(err.contains("cannot reach registry"), "{err}");
    assert!(layer_dirs(&root).is_empty());
    assert!(blobs(&root).is_empty());
}

/// The path of a blob inside the registry's filesystem storage.
fn registry_blob(reg: &Registry, digest: &str) -> PathBuf {
    let h = hex(digest);
    reg.dir()
        .join("storage/docker/registry/v2/blobs/sha256")
        .join(&h[..2])
        .join(h)
        .join("data")
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_refused_and_not_stored() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    let layer = fixtures::layer_digests(BUSYBOX)[0].clone();
    let path = registry_blob(&reg, &layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = root.fails(&["pull", &reg.reference(BUSYBOX)]);
    assert!(err.contains("refusing"), "{err}");
    assert!(err.contains(&layer), "{err}");
    assert!(layer_dirs(&root).is_empty(), "{:?}", layer_dirs(&root));
    assert!(!blobs(&root).contains(&hex(&layer).to_string()));
    assert_eq!(root.ok(&["image", "ls", "-q"]), "");
}

#[test]
fn concurrent_pulls_sharing_a_layer_unpack_it_once() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    let spawn = |r: String| {
        root.glassbox()
            .args(["pull", &r])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let a = spawn(reg.reference(BUSYBOX));
    let b = spawn(reg.reference(LAYERED));
    for mut c in [a, b] {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(layer_dirs(&root).len(), 3);
    let ls = root.ok(&["image", "ls"]);
    assert!(ls.contains("/busybox") && ls.contains("/layered"), "{ls}");
}

#[test]
fn dry_run_pull_plans_without_storing() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    let out = root.run(&["--dry-run", "pull", &reg.reference(LAYERED)]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("download layer"),
        "the plan lists downloads: {err}"
    );
    assert!(!root.path().join("layers").exists(), "nothing stored");
    assert!(!root.path().join("images.json").exists());
}

#[test]
fn an_image_a_container_uses_is_kept_unless_forced() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    root.ok(&["pull", &reg.reference(BUSYBOX)]);
    // A container record as the container module writes it.
    let c = root.path().join("containers/c0ffee");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(
        c.join("config.json"),
        format!(
            r#"{{"Id":"c0ffee","Image":"{}"}}"#,
            fixtures::config_digest(BUSYBOX)
        ),
    )
    .unwrap();
    let err = root.fails(&["rmi", &reg.reference(BUSYBOX)]);
    assert!(
        err.contains("container c0ffee is using its referenced image"),
        "{err}"
    );
    assert_eq!(layer_dirs(&root).len(), 1);
    let pruned = root.ok(&["image", "prune", "-a"]);
    assert!(!pruned.contains("deleted"), "{pruned}");
    root.ok(&["rmi", "-f", &reg.reference(BUSYBOX)]);
    assert!(layer_dirs(&root).is_empty());
}

#[test]
fn zstd_layers_unpack_to_the_same_layer() {
    require_root();
    let reg = Registry::start();
    // skopeo recompresses: new layer digests and media types, the same
    // diff ids.
    reg.push_as(LAYERED, "zlayered", &["--dest-compress-format", "zstd"]);
    let root = TestRoot::new();
    let r = reg.reference("zlayered");
    root.ok(&["pull", &r]);
    let v: serde_json::Value = serde_json::from_str(&root.ok(&["image", "inspect", &r])).unwrap();
    assert_eq!(v[0]["Id"], fixtures::config_digest(LAYERED).as_str());
    let manifest_digest = v[0]["Descriptor"]["digest"].as_str().unwrap().to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.path().join("blobs/sha256").join(hex(&manifest_digest))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let chains = chain_ids(&fixtures::diff_ids(LAYERED));
    let mut want: Vec<String> = chains.iter().map(|c| hex(c).to_string()).collect();
    want.sort();
    assert_eq!(layer_dirs(&root), want);
    with_overlay(&root, &r, |m| {
        assert!(!m.join(fixtures::layered::DELETED_FILE).exists());
        assert!(m.join("bin/busybox").exists());
    });
}

#[test]
fn for_run_finds_or_pulls_and_gives_the_lower_dirs_top_first() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    let groot = glassbox::state::Root::new(Some(root.path())).unwrap();
    let r = reg.reference(LAYERED);
    let err = glassbox::image::for_run(&groot, &r, false).unwrap_err();
    assert!(format!("{err:#}").contains("No such image"), "{err:#}");
    let img = glassbox::image::for_run(&groot, &r, true).unwrap();
    assert_eq!(img.id, fixtures::config_digest(LAYERED));
    let chains = chain_ids(&fixtures::diff_ids(LAYERED));
    let want: Vec<PathBuf> = chains
        .iter()
        .rev()
        .map(|c| root.path().join("layers").join(hex(c)).join("diff"))
        .collect();
    assert_eq!(img.lower_dirs, want);
    assert_eq!(img.config.config["WorkingDir"], "/app");
    // By id, no pull needed.
    let again = glassbox::image::for_run(&groot, &img.id[7..19], false).unwrap();
    assert_eq!(again.id, img.id);
}

/// A fake registry on loopback that answers every request with one
/// content type and body (for documents a real registry would not serve).
fn fake_registry(
    content_type: &'static str,
    body: String,
) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        // One manifest request is all a pull makes before it fails.
        if let Ok((conn, _)) = listener.accept() {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let mut out = conn;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, handle)
}

#[test]
fn documents_glassbox_cannot_use_are_refused_clearly() {
    require_root();
    let foreign = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": format!("sha256:{}", "a".repeat(64)), "size": 2},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                    "digest": format!("sha256:{}", "b".repeat(64)), "size": 2}],
    })
    .to_string();
    let cases = [
        (
            "text/html",
            "<html>not a manifest</html>".to_string(),
            "is not JSON",
        ),
        (
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            r#"{"schemaVersion":1}"#.to_string(),
            "schema 1",
        ),
        (
            "application/vnd.example.weird+json",
            "{}".to_string(),
            "unsupported manifest media type",
        ),
        (
            "application/vnd.docker.distribution.manifest.v2+json",
            foreign,
            "unsupported layer media type",
        ),
    ];
    for (ct, body, expect) in cases {
        let root = TestRoot::new();
        let (addr, server) = fake_registry(ct, body);
        let err = root.fails(&["pull", &format!("{addr}/app:latest")]);
        server.join().unwrap();
        assert!(err.contains(expect), "{ct}: {err}");
        assert!(layer_dirs(&root).is_empty() && blobs(&root).is_empty());
        assert!(!root.path().join("images.json").exists());
    }
}
