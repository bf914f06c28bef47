//! `export` as a Docker user checks it: the container's whole filesystem
//! as a tar (what it wrote on top of its image's files), to a file with
//! `-o` or to stdout, of a running and a stopped container; its bind
//! mounts, its volumes and what is under `/proc` and `/sys` left out; bad input with
//! Docker's words, and no mount or temporary file left. Root, real kernel.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};

/// Every entry of a tar: name -> contents (empty for non-files).
fn members(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut ar = tar::Archive::new(bytes);
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut s = Vec::new();
        e.read_to_end(&mut s).unwrap();
        out.insert(name, String::from_utf8_lossy(&s).into_owned());
    }
    out
}

fn mounts_under(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect()
}

/// What an export must and must not hold.
fn check(m: &BTreeMap<String, String>) {
    assert_eq!(
        m.get("made.txt").map(String::as_str),
        Some("made\n"),
        "{:?}",
        m.keys()
    );
    assert!(m.contains_key("bin/busybox"), "{:?}", m.keys());
    // Deleted in the container: its layer's whiteout hides the image's.
    assert!(
        m.contains_key("bin/true") && !m.contains_key("bin/false"),
        "{:?}",
        m.keys()
    );
    for dir in ["proc/", "sys/", "mnt/"] {
        assert!(
            m.contains_key(dir),
            "{dir} is in the layers: {:?}",
            m.keys()
        );
    }
    let leaked: Vec<&String> = m
        .keys()
        .filter(|k| {
            (k.starts_with("proc/") && *k != "proc/")
                || (k.starts_with("sys/") && *k != "sys/")
                || (k.starts_with("mnt/") && *k != "mnt/")
                || (k.starts_with("srv/vol/") && *k != "srv/vol/")
        })
        .collect();
    assert!(leaked.is_empty(), "mounts' contents exported: {leaked:?}");
    assert!(
        !m.keys().any(|k| k.starts_with("./") || k.starts_with('/')),
        "{:?}",
        m.keys()
    );
}

#[test]
fn export_writes_the_containers_layers_without_its_mounts() {
    let lab = Lab::new();
    let bind = tempfile::Builder::new()
        .prefix("gbexp-bind-")
        .tempdir()
        .unwrap();
    std::fs::write(bind.path().join("host-only"), "not exported\n").unwrap();
    let v = format!("{}:/mnt", bind.path().display());
    lab.detached(&[
        "--name",
        "ex",
        "-v",
        &v,
        "-v",
        "vol:/srv/vol",
        IMAGE,
        "sh",
        "-c",
        "echo in-volume > /srv/vol/v && echo made > /made.txt && rm /bin/false && sleep 1000",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab
        .run(&["exec", "ex", "test", "-e", "/made.txt"])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "the container never wrote /made.txt"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = mounts_under(lab.root.path());
    let out = tempfile::Builder::new()
        .prefix("gbexp-out-")
        .tempdir()
        .unwrap();
    let file = out.path().join("ex.tar");
    assert_eq!(lab.ok(&["export", "-o", file.to_str().unwrap(), "ex"]), "");
    check(&members(&std::fs::read(&file).unwrap()));
    // Nothing beside the archive, nothing more mounted.
    assert_eq!(common::entries(out.path()), ["ex.tar"]);
    assert_eq!(mounts_under(lab.root.path()), before);

    // To stdout, under `container export` too.
    let piped = lab.run(&["container", "export", "ex"]);
    assert!(piped.status.success(), "{}", common::stderr(&piped));
    check(&members(&piped.stdout));

    // A reader that stops early (`export | head`): glassbox ends as any
    // writer to a closed pipe does, by SIGPIPE, without an error message.
    let mut child = lab
        .cmd()
        .args(["export", "ex"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 512];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let done = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(done.status.signal(), Some(libc::SIGPIPE), "{done:?}");
    assert_eq!(common::stderr(&done), "");
    assert_eq!(mounts_under(lab.root.path()), before);

    // Stopped: the same files.
    lab.ok(&["stop", "-t", "1", "ex"]);
    let piped = lab.run(&["export", "ex"]);
    assert!(piped.status.success(), "{}", common::stderr(&piped));
    check(&members(&piped.stdout));
    assert_eq!(
        mounts_under(lab.root.path()),
        Vec::<String>::new(),
        "a stopped container's export leaves nothing mounted"
    );
}

#[test]
fn export_of_nothing_or_to_nowhere_fails_and_leaves_nothing() {
    let lab = Lab::new();
    let (code, out, err) = lab.status(&["export", "nosuch"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err.trim(),
        "Error response from daemon: No such container: nosuch"
    );
    lab.ok(&["create", "--name", "cx", IMAGE, "true"]);
    let dir = tempfile::Builder::new()
        .prefix("gbexp-out-")
        .tempdir()
        .unwrap();
    let nowhere = dir.path().join("missing/cx.tar");
    let (code, _, err) = lab.status(&["export", "-o", nowhere.to_str().unwrap(), "cx"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "failed to export container: invalid output path: directory {:?} does not exist",
            dir.path().join("missing").display().to_string()
        )
    );
    assert_eq!(common::entries(dir.path()), Vec::<String>::new());
    assert_eq!(mounts_under(lab.root.path()), Vec::<String>::new());
}
