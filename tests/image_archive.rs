//! `image load`, `save`, `import`, `from-host`, and layers crafted to
//! escape their directory: archives written by skopeo load, ours are read
//! by skopeo, a round trip keeps the image id, and refused input leaves
//! the store as it was. Snapshot tests of `image ls`, `history` and
//! `inspect`. Needs root.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixtures::{self, BUSYBOX, LAYERED};
use common::{TestRoot, entries, require_root};

/// What the store holds: layers, blobs, images.json.
fn store_state(root: &TestRoot) -> (Vec<String>, Vec<String>, String) {
    (
        entries(&root.path().join("layers")),
        entries(&root.path().join("blobs/sha256")),
        std::fs::read_to_string(root.path().join("images.json")).unwrap_or_default(),
    )
}

fn inspect(root: &TestRoot, what: &str) -> serde_json::Value {
    serde_json::from_str(&root.ok(&["image", "inspect", what])).unwrap()
}

/// The top layer's directory of an image, from `image inspect`.
fn upper_dir(root: &TestRoot, what: &str) -> PathBuf {
    let v = inspect(root, what);
    PathBuf::from(v[0]["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap())
}

/// `image load -i` of a fixture's docker archive.
fn load(root: &TestRoot, name: &str) -> String {
    root.ok(&[
        "image",
        "load",
        "-i",
        fixtures::archive(name).to_str().unwrap(),
    ])
}

/// Run a command that must succeed (skopeo, tar); its output.
fn succeeds(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn skopeo_archives_load_and_save_round_trips_the_id() {
    require_root();
    let root = TestRoot::new();
    let out = load(&root, LAYERED);
    assert_eq!(out.trim(), "Loaded image: layered:latest");
    let v = inspect(&root, "layered");
    assert_eq!(v[0]["Id"], fixtures::config_digest(LAYERED).as_str());
    let layers: Vec<String> = v[0]["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(layers, fixtures::diff_ids(LAYERED));
    assert_eq!(entries(&root.path().join("layers")).len(), 3);

    // Save, check skopeo reads it, remove, load again: same id.
    let saved = root.path().join("saved.tar");
    root.ok(&["image", "save", "-o", saved.to_str().unwrap(), "layered"]);
    succeeds(
        Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("docker-archive:{}", saved.display())),
    );
    let sk = succeeds(
        Command::new("skopeo")
            .arg("inspect")
            .arg(format!("docker-archive:{}", saved.display())),
    );
    let sk: serde_json::Value = serde_json::from_slice(&sk.stdout).unwrap();
    assert_eq!(sk["Layers"].as_array().unwrap().len(), 3, "{sk}");
    // skopeo can also read it as an OCI layout once unpacked.
    let layout = tempfile::tempdir().unwrap();
    succeeds(
        Command::new("tar")
            .arg("-xf")
            .arg(&saved)
            .arg("-C")
            .arg(layout.path()),
    );
    succeeds(
        Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci:{}", layout.path().display())),
    );

    root.ok(&["rmi", "layered"]);
    assert!(entries(&root.path().join("layers")).is_empty());
    let out = root.ok(&["image", "load", "-i", saved.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: layered:latest");
    assert_eq!(
        inspect(&root, "layered")[0]["Id"],
        fixtures::config_digest(LAYERED).as_str()
    );
}

#[test]
fn an_oci_layout_archive_loads() {
    require_root();
    let root = TestRoot::new();
    let tarball = root.path().join("layout.tar");
    succeeds(
        Command::new("tar")
            .arg("-cf")
            .arg(&tarball)
            .arg("-C")
            .arg(fixtures::oci_layout(BUSYBOX))
            .arg("."),
    );
    let out = root.ok(&["image", "load", "-i", tarball.to_str().unwrap()]);
    let id = fixtures::config_digest(BUSYBOX);
    assert_eq!(out.trim(), format!("Loaded image ID: {id}"));
    // Untagged: listed as <none>, kept its original manifest.
    let ls = root.ok(&["image", "ls"]);
    assert!(ls.contains("<none>"), "{ls}");
    let v = inspect(&root, &id);
    assert_eq!(
        v[0]["Descriptor"]["digest"],
        fixtures::digest(BUSYBOX).as_str()
    );
    root.ok(&["image", "tag", &id, "mybox:v1"]);
    assert!(root.ok(&["images", "mybox"]).contains("v1"));
    let pruned = root.ok(&["image", "prune", "-a", "-f"]);
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    assert!(entries(&root.path().join("layers")).is_empty());
}

#[test]
fn a_truncated_archive_is_refused_and_stores_nothing() {
    require_root();
    let root = TestRoot::new();
    let bytes = std::fs::read(fixtures::archive(BUSYBOX)).unwrap();
    let cut = root.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = root.fails(&["image", "load", "-i", cut.to_str().unwrap()]);
    assert!(err.contains("truncated"), "{err}");
    let (layers, blobs, images) = store_state(&root);
    assert!(layers.is_empty() && blobs.is_empty() && images.is_empty());
    assert!(
        entries(&root.path().join("tmp")).is_empty(),
        "temp dirs removed"
    );
    let err = root.fails(&["image", "load", "-i", "/nonexistent.tar"]);
    assert!(err.contains("/nonexistent.tar"), "{err}");
}

#[test]
fn import_and_from_host_make_one_layer_images() {
    require_root();
    let root = TestRoot::new();
    let out = root.ok(&["image", "from-host", "busybox", "--tag", "hostbox"]);
    assert!(out.trim().starts_with("sha256:"), "{out}");
    let v = inspect(&root, "hostbox");
    assert_eq!(v[0]["Config"]["Cmd"][0], "sh");
    let diff = upper_dir(&root, "hostbox");
    let bb = glassbox::image::import::which("busybox").unwrap();
    assert!(diff.join(bb.strip_prefix("/").unwrap()).is_file());
    assert!(
        std::fs::symlink_metadata(diff.join("bin/sh"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The busybox in the image runs (it is static).
    let st = Command::new(diff.join(bb.strip_prefix("/").unwrap()))
        .arg("true")
        .status()
        .unwrap();
    assert!(st.success());

    // A dynamically linked binary brings its libraries.
    root.ok(&["image", "from-host", "ls", "--tag", "hostls"]);
    let d = upper_dir(&root, "hostls");
    let libc = Command::new("ldd")
        .arg(glassbox::image::import::which("ls").unwrap())
        .output()
        .unwrap();
    let libs = glassbox::image::import::parse_ldd(&String::from_utf8_lossy(&libc.stdout));
    assert!(!libs.is_empty());
    for l in libs {
        assert!(
            Path::new(&d).join(l.strip_prefix("/").unwrap()).exists(),
            "{}",
            l.display()
        );
    }

    // import a directory and a gzip tarball of it.
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("etc")).unwrap();
    std::fs::write(src.path().join("etc/hello"), "hi\n").unwrap();
    let id1 = root.ok(&["image", "import", src.path().to_str().unwrap(), "dirimg:1"]);
    let tgz = root.path().join("root.tgz");
    succeeds(
        Command::new("tar")
            .arg("-czf")
            .arg(&tgz)
            .arg("-C")
            .arg(src.path())
            .arg("."),
    );
    let id2 = root.ok(&["image", "import", tgz.to_str().unwrap(), "tgzimg"]);
    assert!(id1.starts_with("sha256:") && id2.starts_with("sha256:"));
    let d = upper_dir(&root, "tgzimg");
    assert_eq!(
        std::fs::read_to_string(Path::new(&d).join("etc/hello")).unwrap(),
        "hi\n"
    );
    let err = root.fails(&["image", "import", "/nonexistent", "x"]);
    assert!(err.contains("no such file"), "{err}");
}

/// A tar entry with a raw name (and link name), as an attacker writes it.
fn raw_entry(
    b: &mut tar::Builder<Vec<u8>>,
    kind: tar::EntryType,
    name: &str,
    link: &str,
    body: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(body.len() as u64);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    if name.len() >= 100 {
        // GNU long name record.
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::GNULongName);
        l.set_size(name.len() as u64 + 1);
        l.set_mode(0o644);
        {
            let g = l.as_gnu_mut().unwrap();
            g.name[..13].copy_from_slice(b"././@LongLink");
        }
        l.set_cksum();
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        b.append(&l, &n[..]).unwrap();
    } else {
        let g = h.as_gnu_mut().unwrap();
        g.name[..name.len()].copy_from_slice(name.as_bytes());
    }
    {
        let g = h.as_gnu_mut().unwrap();
        g.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_cksum();
    b.append(&h, body).unwrap();
}

/// A docker save archive with one (crafted) layer.
fn evil_archive(dir: &Path, layer: Vec<u8>) -> std::path::PathBuf {
    one_layer_archive(dir, "evil:latest", serde_json::json!({}), layer)
}

/// A docker save archive of one image tagged `tag` with one layer; `extra`
/// adds fields to its config (e.g. an odd `created`).
fn one_layer_archive(
    dir: &Path,
    tag: &str,
    extra: serde_json::Value,
    layer: Vec<u8>,
) -> std::path::PathBuf {
    let diff = fixtures::sha256_digest(&layer);
    let mut config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff]},
    });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"],
    }]))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("config.json", &config),
        ("manifest.json", &manifest),
        ("layer.tar", &layer),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    let path = dir.join(format!("archive-{}.tar", &diff[7..19]));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&b.into_inner().unwrap())
        .unwrap();
    path
}

#[test]
fn crafted_layers_are_refused_and_the_store_is_unchanged() {
    require_root();
    let root = TestRoot::new();
    load(&root, BUSYBOX);
    let before = store_state(&root);
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().to_str().unwrap().to_string();
    use tar::EntryType as T;
    let long = format!("{}/x", "n".repeat(300));
    type Entries = Vec<(T, String, String)>;
    let cases: Vec<(&str, Entries, &str)> = vec![
        (
            "dotdot",
            vec![(T::Regular, "../../evil".into(), String::new())],
            "`..`",
        ),
        (
            "absolute",
            vec![(T::Regular, format!("{out}/abs"), String::new())],
            "absolute",
        ),
        (
            "symlink",
            vec![
                (T::Symlink, "link".into(), out.clone()),
                (T::Regular, "link/through".into(), String::new()),
            ],
            "symlink",
        ),
        (
            "hardlink",
            vec![(T::Link, "hl".into(), "/etc/shadow".into())],
            "outside",
        ),
        (
            "longname",
            vec![(T::Regular, long.clone(), String::new())],
            "NAME_MAX",
        ),
    ];
    for (what, items, expect) in cases {
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, T::Regular, "ok-before", "", b"fine");
        for (kind, name, link) in &items {
            raw_entry(&mut b, *kind, name, link, b"");
        }
        let archive = evil_archive(root.path(), b.into_inner().unwrap());
        let err = root.fails(&["image", "load", "-i", archive.to_str().unwrap()]);
        let entry = &items.last().unwrap().1;
        assert!(err.contains(expect), "{what}: {err}");
        assert!(
            err.contains(&format!("{:?}", entry)),
            "{what}: names the entry: {err}"
        );
        assert_eq!(store_state(&root), before, "{what}: store unchanged");
        assert!(
            entries(outside.path()).is_empty(),
            "{what}: nothing landed outside"
        );
        assert!(
            entries(&root.path().join("tmp")).is_empty(),
            "{what}: no temp left"
        );
    }
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
        (r"\b[0-9a-f]{64}\b", "[HEX]"),
        (r"\b[0-9a-f]{12}\b", "[ID]"),
        (
            r"\d+ (years|months|weeks|days|hours|minutes|seconds) ago",
            "[AGO]",
        ),
        (
            r"About an? (hour|minute) ago|Less than a second ago|1 second ago",
            "[AGO]",
        ),
        (r"/tmp/gbtest-[A-Za-z0-9]+", "[ROOT]"),
        (r#""LastTagTime": "[^"]+""#, r#""LastTagTime": "[TIME]""#),
        (r"\d+(\.\d+)?[kMG]?B\b", "[SIZE]"),
        (r#""Size": \d+"#, r#""Size": [BYTES]"#),
        (r#""size": \d+"#, r#""size": [BYTES]"#),
    ]
}

#[test]
fn ls_history_and_inspect_snapshots() {
    require_root();
    let root = TestRoot::new();
    load(&root, LAYERED);
    load(&root, BUSYBOX);
    root.ok(&["image", "tag", "layered", "example.com/team/layered:v2"]);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("image_inspect", root.ok(&["image", "inspect", "layered"]));
    });
    // Tables: column widths follow the redacted values, so runs of
    // spaces are shown as one column gap.
    let mut table_filters = filters();
    table_filters.push((r" {2,}", "  "));
    insta::with_settings!({filters => table_filters}, {
        insta::assert_snapshot!("image_ls", root.ok(&["image", "ls"]));
        insta::assert_snapshot!("image_ls_no_trunc", root.ok(&["image", "ls", "--no-trunc"]));
        insta::assert_snapshot!("image_history", root.ok(&["image", "history", "layered"]));
        insta::assert_snapshot!("image_layers", root.ok(&["image", "layers"]));
        insta::assert_snapshot!("image_ls_tree", root.ok(&["image", "ls", "--tree"]));
    });
}

#[test]
fn image_inspect_format_prints_the_template_once_per_image() {
    require_root();
    let root = TestRoot::new();
    load(&root, LAYERED);
    load(&root, BUSYBOX);
    let layered = inspect(&root, "layered");
    let busybox = inspect(&root, "busybox");
    assert_eq!(
        root.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{len .RootFS.Layers}}",
            "layered",
            "busybox"
        ]),
        format!(
            "{} {}\n{} {}\n",
            layered[0]["Id"].as_str().unwrap(),
            layered[0]["RootFS"]["Layers"].as_array().unwrap().len(),
            busybox[0]["Id"].as_str().unwrap(),
            busybox[0]["RootFS"]["Layers"].as_array().unwrap().len()
        )
    );
    let json = root.ok(&["image", "inspect", "--format", "json", "layered"]);
    assert_eq!(json.lines().count(), 1, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v, layered[0]);
    // A template that does not parse: an error naming it, nothing printed.
    let out = root.run(&["image", "inspect", "-f", "{{.Id", "layered"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("template"), "{err}");
}

#[test]
fn retagging_leaves_a_dangling_image_that_prune_removes() {
    require_root();
    let root = TestRoot::new();
    load(&root, BUSYBOX);
    let old = fixtures::config_digest(BUSYBOX);
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("hello"), "hi\n").unwrap();
    let new = root.ok(&[
        "image",
        "import",
        src.path().to_str().unwrap(),
        "busybox:latest",
    ]);
    let ls = root.ok(&["image", "ls"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with("<none>") && l.contains(&old[7..19])),
        "{ls}"
    );
    // --format json: one object per line, Docker's keys.
    let lines: Vec<serde_json::Value> = root
        .ok(&["image", "ls", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .any(|v| v["Repository"] == "busybox" && v["Tag"] == "latest")
    );
    assert!(lines.iter().all(|v| v["ID"].as_str().unwrap().len() == 12));
    let out = root.ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {old}")), "{out}");
    assert!(!out.contains(new.trim()), "the tagged image stays: {out}");
    assert_eq!(entries(&root.path().join("layers")).len(), 1);
    assert_eq!(root.ok(&["images", "-q", "--no-trunc"]).trim(), new.trim());
}

/// A PAX extended header record: `LEN key=value\n`.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// A PAX extended header at `path` setting `SCHILY.xattr.KEY` to `value`
/// for the next entry.
fn append_pax(b: &mut tar::Builder<Vec<u8>>, path: &str, key: &str, value: &str) {
    let pax = pax_record(&format!("SCHILY.xattr.{key}"), value);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(pax.len() as u64);
    h.set_mode(0o644);
    h.set_path(path).unwrap();
    h.set_cksum();
    b.append(&h, &pax[..]).unwrap();
}

/// An entry owned by 1234:5678.
fn append_owned(
    b: &mut tar::Builder<Vec<u8>>,
    kind: tar::EntryType,
    path: &str,
    mode: u32,
    mtime: u64,
    body: &[u8],
) {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(mtime);
    h.set_size(body.len() as u64);
    b.append_data(&mut h, path, body).unwrap();
}

fn getxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid NUL-terminated strings and a buffer of its length.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (r >= 0).then(|| buf[..r as usize].to_vec())
}

#[test]
fn owners_modes_xattrs_and_times_are_kept_and_overlay_xattrs_are_not_forged() {
    require_root();
    use std::os::unix::fs::MetadataExt;
    let root = TestRoot::new();
    let mut b = tar::Builder::new(Vec::new());
    // A directory that tries to make itself opaque by xattr.
    append_pax(&mut b, "PaxHeaders/data", "trusted.overlay.opaque", "y");
    append_owned(
        &mut b,
        tar::EntryType::Directory,
        "data/",
        0o750,
        1_500_000_000,
        b"",
    );
    // A setgid file owned by 1234:5678 with a user xattr.
    append_pax(&mut b, "PaxHeaders/tool", "user.glassbox", "kept");
    append_owned(
        &mut b,
        tar::EntryType::Regular,
        "data/tool",
        0o2755,
        1_600_000_000,
        b"hi\n",
    );
    let archive = evil_archive(root.path(), b.into_inner().unwrap());
    root.ok(&["image", "load", "-i", archive.to_str().unwrap()]);
    let d = upper_dir(&root, "evil");
    let m = std::fs::metadata(d.join("data/tool")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(m.mode() & 0o7777, 0o2755, "setgid kept after lchown");
    assert_eq!(m.mtime(), 1_600_000_000);
    assert_eq!(
        getxattr(&d.join("data/tool"), "user.glassbox").as_deref(),
        Some(&b"kept"[..])
    );
    let dm = std::fs::metadata(d.join("data")).unwrap();
    assert_eq!(
        (dm.uid(), dm.mode() & 0o7777, dm.mtime()),
        (1234, 0o750, 1_500_000_000)
    );
    assert!(
        !glassbox::unionfs::whiteout::is_overlay_opaque(&d.join("data")),
        "a layer cannot forge trusted.overlay.* xattrs"
    );
}

#[test]
fn a_created_date_with_a_multibyte_offset_does_not_panic_ls() {
    require_root();
    let root = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let mut lb = tar::Builder::new(Vec::new());
    raw_entry(&mut lb, tar::EntryType::Regular, "hello", "", b"hi\n");
    // 6 bytes after the seconds, but byte 3 falls inside the 'é'.
    let path = one_layer_archive(
        dir.path(),
        "oddtime:latest",
        serde_json::json!({"created": "2024-01-01T00:00:00+0\u{e9}00"}),
        lb.into_inner().unwrap(),
    );
    root.ok(&["image", "load", "-i", path.to_str().unwrap()]);
    let ls = root.ok(&["image", "ls"]);
    assert!(ls.contains("oddtime") && ls.contains("N/A"), "{ls}");
    root.ok(&["image", "ls", "--format", "json"]);
}

#[test]
fn load_and_import_from_an_empty_stdin_say_so_and_store_nothing() {
    require_root();
    let root = TestRoot::new();
    for args in [
        &["image", "load"][..],
        &["image", "import", "-", "empty:1"][..],
    ] {
        let out = root
            .glassbox()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        let err = common::stderr(&out);
        assert!(err.contains("stdin is empty"), "{args:?}: {err}");
        assert!(!err.contains("neither a docker save"), "{err}");
    }
    assert!(!root.ok(&["image", "ls"]).contains("empty"));
}

#[test]
fn a_corrupt_header_is_reported_without_its_control_characters() {
    require_root();
    let root = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let mut block = vec![b'x'; 100];
    block.resize(512, 0);
    // An escape sequence where the header checksum belongs.
    block[148..156].copy_from_slice(b"AAAA\x1b[2J");
    let path = dir.path().join("esc.tar");
    std::fs::write(&path, &block).unwrap();
    let err = root.fails(&["image", "load", "-i", path.to_str().unwrap()]);
    assert!(err.contains("truncated or corrupt"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "a raw escape reached the terminal: {err:?}"
    );
    assert!(!root.ok(&["image", "ls"]).contains("esc"));
}
