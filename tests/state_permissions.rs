//! The state root as a local user sees it. Image layers keep their files'
//! owners, modes, setuid bits, file capabilities and device nodes, so any
//! path an ordinary user can walk into them is a way to root (Docker's
//! CVE-2021-41091). These tests store an image holding a setuid-root
//! binary, a binary with a file capability, a device node and a
//! world-writable `/tmp`, then try each as uid 65534 (nobody).

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{TestRoot, fixtures, require_root};

const NOBODY: u32 = 65534;

/// `security.capability` for `cap_dac_read_search+ep` (VFS_CAP_REVISION_2:
/// magic_etc with the effective bit, then permitted/inheritable words).
fn dac_read_search_ep() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(0x0200_0000u32 | 1).to_le_bytes());
    v.extend_from_slice(&(1u32 << 2).to_le_bytes()); // permitted: CAP_DAC_READ_SEARCH
    v.extend_from_slice(&0u32.to_le_bytes()); // inheritable
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v
}

/// A layer with the dangerous things an image may carry.
fn dangerous_layer() -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, name: &str, mode: u32| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, name, &[][..]).unwrap();
    };
    dir(&mut b, "bin/", 0o755);
    dir(&mut b, "dev/", 0o755);
    dir(&mut b, "tmp/", 0o1777);
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o4755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(busybox.len() as u64);
    b.append_data(&mut h, "bin/suid-sh", &busybox[..]).unwrap();
    // The capability travels as a PAX extended header, as Docker writes it.
    let cap = dac_read_search_ep();
    b.append_pax_extensions([("SCHILY.xattr.security.capability", &cap[..])])
        .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(busybox.len() as u64);
    b.append_data(&mut h, "bin/cap-cat", &busybox[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Char);
    h.set_mode(0o666);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    b.append_data(&mut h, "dev/null", &[][..]).unwrap();
    b.into_inner().unwrap()
}

/// A docker save archive of one image with `layer`.
fn archive(dir: &Path, tag: &str, layer: Vec<u8>) -> PathBuf {
    let diff = fixtures::sha256_digest(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff]},
    }))
    .unwrap();
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
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    let path = dir.join("dangerous.tar");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&b.into_inner().unwrap())
        .unwrap();
    path
}

/// The one unpacked layer's content directory.
fn diff_dir(root: &TestRoot) -> PathBuf {
    let layers: Vec<_> = std::fs::read_dir(root.path().join("layers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(layers.len(), 1, "{layers:?}");
    layers[0].join("diff")
}

/// Run `argv` as nobody (std drops the supplementary groups when root sets a uid).
fn as_nobody(argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap_or_else(|e| panic!("spawn {argv:?} as nobody: {e}"))
}

fn refused(out: &Output, what: &str) {
    assert!(
        !out.status.success(),
        "{what}: nobody succeeded\n{}{}",
        common::stdout(out),
        common::stderr(out)
    );
    let err = common::stderr(out);
    assert!(err.contains("Permission denied"), "{what}: {err}");
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn a_local_user_cannot_reach_setuid_files_capabilities_devices_or_tmp_in_the_store() {
    require_root();
    let root = TestRoot::new();
    let src = tempfile::tempdir().unwrap();
    let tar = archive(src.path(), "dangerous:1", dangerous_layer());
    root.ok(&["image", "load", "-i", tar.to_str().unwrap()]);
    let diff = diff_dir(&root);
    // What the layer holds is stored as the image says.
    assert_eq!(mode(&diff.join("bin/suid-sh")), 0o4755);
    assert!(xattr_present(
        &diff.join("bin/cap-cat"),
        "security.capability"
    ));
    assert_eq!(mode(&diff.join("tmp")), 0o1777);
    // The content directories keep their modes (they become a container's
    // `/`); the parents are what is locked.
    assert_eq!(mode(&diff), 0o755);
    for d in [
        root.path().to_path_buf(),
        root.path().join("layers"),
        root.path().join("run"),
    ] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }

    let busybox = "/bin/busybox";
    let suid = diff.join("bin/suid-sh");
    let out = Command::new(&suid)
        .args(["id", "-u"])
        .uid(NOBODY)
        .gid(NOBODY)
        .output();
    match out {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
        Ok(o) => panic!(
            "nobody ran the store's setuid-root binary: {}{}",
            common::stdout(&o),
            common::stderr(&o)
        ),
    }
    let cap_cat = diff.join("bin/cap-cat");
    let out = Command::new(&cap_cat)
        .args(["cat", "/etc/shadow"])
        .uid(NOBODY)
        .gid(NOBODY)
        .output();
    assert!(
        matches!(&out, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied),
        "nobody ran the store's capability binary: {out:?}"
    );
    let dev = diff.join("dev/null").display().to_string();
    refused(
        &as_nobody(&[busybox, "cat", &dev]),
        "open the layer's device node",
    );
    let planted = diff.join("tmp/planted").display().to_string();
    refused(
        &as_nobody(&[busybox, "sh", "-c", &format!("echo x > {planted}")]),
        "plant a file in the image's /tmp",
    );
    assert!(!diff.join("tmp/planted").exists());
    // Lock files: whoever can open one can flock it and hang every command.
    let lock = root.path().join("locks/images");
    assert!(lock.exists());
    assert_eq!(mode(&lock), 0o600);
    refused(
        &as_nobody(&[busybox, "cat", &lock.display().to_string()]),
        "open the image store's lock",
    );
}

fn xattr_present(path: &Path, name: &str) -> bool {
    let out = Command::new("getfattr")
        .args(["-n", name, "--only-values"])
        .arg(path)
        .output();
    match out {
        Ok(o) => o.status.success() && !o.stdout.is_empty(),
        // Without getfattr, ask the kernel through the file's size of the value.
        Err(_) => {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            let n = std::ffi::CString::new(name).unwrap();
            // SAFETY: lgetxattr(2) with a null buffer only returns the size.
            unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) > 0 }
        }
    }
}

#[test]
fn a_root_with_the_old_modes_is_reported_then_tightened_by_the_next_command() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["image", "from-host", "/bin/busybox", "--tag", "bb:1"]);
    for d in [
        root.path().to_path_buf(),
        root.path().join("layers"),
        root.path().join("run"),
    ] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let lock = root.path().join("locks/images");
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o644)).unwrap();
    let checks = common::crash::doctor(&root);
    let (status, detail) = common::crash::check(&checks, "state modes");
    assert_eq!(status, "warn", "{detail}");
    assert!(detail.contains("(mode 0755)"), "{detail}");
    assert!(
        detail.contains(&format!("{}/layers", root.path().display())),
        "{detail}"
    );
    // Any command that takes the root's lock tightens them.
    root.ok(&["image", "tag", "bb:1", "bb:2"]);
    for d in [
        root.path().to_path_buf(),
        root.path().join("layers"),
        root.path().join("run"),
    ] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    assert_eq!(mode(&lock), 0o600);
    let checks = common::crash::doctor(&root);
    assert_eq!(common::crash::check(&checks, "state modes").0, "ok");
}
