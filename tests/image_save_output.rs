//! `image save -o PATH` never replaces what is not a regular file
//! (issue 10, defect 3): a FIFO and a device are written in place and
//! stay what they were, a symlink stays a symlink (the archive goes where
//! it points), a regular file is replaced atomically keeping its mode and
//! owner, and a failed save leaves the old file and no temporary file.
//! The private cases run before `/dev/null` itself. Needs root.

mod common;

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fixtures::{self, BUSYBOX};
use common::tmpfs::Tmpfs;
use common::{TestRoot, entries, require_root};

/// A root holding busybox.
fn root_with_busybox() -> TestRoot {
    let root = TestRoot::new();
    root.ok(&[
        "image",
        "load",
        "-i",
        fixtures::archive(BUSYBOX).to_str().unwrap(),
    ]);
    root
}

/// The member names of a tar archive.
fn members(bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

/// Is this a complete archive of ours (docker save and OCI layout)?
fn assert_archive(bytes: &[u8], what: &str) {
    let names = members(bytes);
    for want in ["manifest.json", "index.json", "oci-layout"] {
        assert!(
            names.iter().any(|n| n == want),
            "{what}: no {want} in {names:?}"
        );
    }
}

fn save_to(root: &TestRoot, out: &Path) -> std::process::Output {
    root.run(&["image", "save", "-o", out.to_str().unwrap(), "busybox"])
}

fn file_type(p: &Path) -> std::fs::FileType {
    std::fs::symlink_metadata(p).unwrap().file_type()
}

/// No `.NAME.tmp-*` left beside the output.
fn assert_no_temp(dir: &Path, what: &str) {
    let left: Vec<String> = entries(dir)
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{what}: temporary files left: {left:?}");
}

#[test]
fn a_fifo_is_written_in_place_and_stays_a_fifo() {
    require_root();
    let root = root_with_busybox();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let got = dir.path().join("got.tar");
    // Another program reads the FIFO, as `glassbox image save -o pipe` is meant for.
    let mut reader = Command::new("cat")
        .arg(&fifo)
        .stdout(std::fs::File::create(&got).unwrap())
        .spawn()
        .unwrap();
    let out = save_to(&root, &fifo);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = reader.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = reader.kill();
            let _ = reader.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        out.status.success(),
        "save to a FIFO: {}",
        common::stderr(&out)
    );
    assert!(
        file_type(&fifo).is_fifo(),
        "the FIFO was replaced by {:?}",
        file_type(&fifo)
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "the reader never saw the archive end: nothing was written into the FIFO"
    );
    assert_archive(&std::fs::read(&got).unwrap(), "through the FIFO");
    assert_no_temp(dir.path(), "FIFO");
}

#[test]
fn a_device_is_written_in_place_and_stays_a_device() {
    require_root();
    let root = root_with_busybox();
    // A private null device first (what /dev/null is: char 1:3).
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    let dev = libc::makedev(1, 3);
    nix::sys::stat::mknod(
        &null,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        dev,
    )
    .unwrap();
    let out = save_to(&root, &null);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let md = std::fs::symlink_metadata(&null).unwrap();
    assert!(
        md.file_type().is_char_device() && md.rdev() == dev,
        "the device node was replaced by {:?} ({} bytes)",
        md.file_type(),
        md.len()
    );
    assert_no_temp(dir.path(), "device");
    // And /dev/null itself.
    let out = root.run(&["image", "save", "-o", "/dev/null", "busybox"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let md = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(md.file_type().is_char_device() && md.rdev() == dev);
    assert_no_temp(Path::new("/dev"), "/dev/null");
}

#[test]
fn a_symlink_is_followed_never_replaced() {
    require_root();
    let root = root_with_busybox();
    let dir = tempfile::tempdir().unwrap();

    // To a regular file: the file is replaced atomically, the link stays.
    let real = dir.path().join("real.tar");
    std::fs::write(&real, b"old").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.tar");
    std::os::unix::fs::symlink("real.tar", &link).unwrap();
    let out = save_to(&root, &link);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(file_type(&link).is_symlink(), "the symlink was replaced");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("real.tar"));
    assert!(file_type(&real).is_file());
    assert_archive(&std::fs::read(&real).unwrap(), "through the symlink");
    assert_eq!(
        std::fs::metadata(&real).unwrap().mode() & 0o777,
        0o640,
        "the replaced file keeps its mode"
    );

    // To a pipe (what /dev/stdout is when the output is piped).
    let to_stdout = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &to_stdout).unwrap();
    let out = root
        .glassbox()
        .args([
            "image",
            "save",
            "-o",
            to_stdout.to_str().unwrap(),
            "busybox",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(file_type(&to_stdout).is_symlink());
    assert_archive(&out.stdout, "through a symlink to the pipe");

    // To nothing: refused, and nothing is created.
    let dangling = dir.path().join("dangling.tar");
    std::os::unix::fs::symlink("missing/nothing.tar", &dangling).unwrap();
    let err = root.fails(&["image", "save", "-o", dangling.to_str().unwrap(), "busybox"]);
    assert!(
        err.contains("symlink") && err.contains("does not exist") && err.contains("never replaced"),
        "{err}"
    );
    assert!(file_type(&dangling).is_symlink());
    assert_no_temp(dir.path(), "symlinks");
}

#[test]
fn a_regular_file_is_replaced_atomically_keeping_mode_and_owner() {
    require_root();
    let root = root_with_busybox();
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("busybox.tar");
    std::fs::write(&old, b"old archive").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o604)).unwrap();
    std::os::unix::fs::chown(&old, Some(1234), Some(5678)).unwrap();
    let ino = std::fs::metadata(&old).unwrap().ino();
    let out = save_to(&root, &old);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let md = std::fs::symlink_metadata(&old).unwrap();
    assert!(md.file_type().is_file());
    assert_ne!(md.ino(), ino, "written to a new file, renamed over the old");
    assert_eq!(md.mode() & 0o777, 0o604);
    assert_eq!((md.uid(), md.gid()), (1234, 5678));
    assert_archive(&std::fs::read(&old).unwrap(), "regular file");

    // A new path.
    let new = dir.path().join("new.tar");
    let out = save_to(&root, &new);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(file_type(&new).is_file());
    assert_archive(&std::fs::read(&new).unwrap(), "new file");
    assert_no_temp(dir.path(), "regular");

    // A directory is refused.
    let err = root.fails(&[
        "image",
        "save",
        "-o",
        dir.path().to_str().unwrap(),
        "busybox",
    ]);
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn a_failed_save_keeps_the_old_file_and_leaves_no_temporary() {
    require_root();
    let root = root_with_busybox();
    let dir = tempfile::tempdir().unwrap();
    let small = Tmpfs::mount(&dir.path().join("small"), "256k");
    let old = small.path.join("busybox.tar");
    std::fs::write(&old, b"old archive").unwrap();
    let out = save_to(&root, &old);
    assert!(!out.status.success(), "the archive cannot fit in 256k");
    let err = common::stderr(&out);
    assert!(
        err.contains(old.to_str().unwrap()),
        "names the output: {err}"
    );
    let mut kept = String::new();
    std::fs::File::open(&old)
        .unwrap()
        .read_to_string(&mut kept)
        .unwrap();
    assert_eq!(kept, "old archive");
    assert_no_temp(&small.path, "failed save");
    // Saving an image that does not exist touches nothing either.
    let err = root.fails(&["image", "save", "-o", old.to_str().unwrap(), "nosuch"]);
    assert!(err.contains("No such image"), "{err}");
    assert_eq!(std::fs::read(&old).unwrap(), b"old archive");
}
