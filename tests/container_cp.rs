//! `cp` as a Docker user checks it: a file and a directory both ways by
//! Docker's path rules (`DIR/.`, a trailing `/`, a missing parent, a
//! directory onto a file), `-` as a tar stream on stdin and stdout, `-a`
//! and `-L`, on a running and a stopped container, through their bind
//! mounts; a container's symlinks to host paths (its own `/x -> /`, a
//! target that is a symlink to `/etc`) copy the container's files and
//! write into the container, also while a process in it keeps swapping
//! the path; and bad input (a missing path, no such container, no `:`)
//! with Docker's messages and nothing left behind. Root, real kernel.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};

/// Wait until `cond` holds (up to 10 s).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The mounts whose mount point is under `dir`, as this (host) namespace
/// sees them.
fn mounts_under(dir: &Path) -> Vec<String> {
    read(Path::new("/proc/self/mountinfo"))
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect()
}

/// A private host directory of the test, outside the state root.
fn host_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(name).tempdir().unwrap()
}

/// `glassbox cp ARGS` with `input` on stdin; (status, stdout, stderr).
fn cp_stdin(lab: &Lab, args: &[&str], input: &[u8]) -> (i32, Vec<u8>, String) {
    use std::io::Write;
    let mut child = lab
        .cmd()
        .arg("cp")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The names and contents of the regular files in a tar stream.
fn tar_members(bytes: &[u8]) -> Vec<(String, String)> {
    use std::io::Read;
    let mut ar = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut s = Vec::new();
        e.read_to_end(&mut s).unwrap();
        out.push((name, String::from_utf8_lossy(&s).into_owned()));
    }
    out
}

/// A running container `web` with `/data/a.txt`, `/data/sub/b` and
/// `/data/link -> a.txt`, a bind of `bind` at `/mnt`.
fn web(lab: &Lab, bind: &Path) {
    let v = format!("{}:/mnt", bind.display());
    lab.detached(&[
        "--name",
        "web",
        "-v",
        &v,
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /data/sub /tmp && echo hello > /data/a.txt && echo deep > /data/sub/b \
         && ln -s a.txt /data/link && touch /ready && sleep 1000",
    ]);
    eventually("the container's files", || {
        lab.run(&["exec", "web", "test", "-e", "/ready"])
            .status
            .success()
    });
}

#[test]
fn cp_from_a_running_container_follows_dockers_path_rules() {
    let lab = Lab::new();
    let bind = host_dir("gbcp-bind-");
    std::fs::write(bind.path().join("on-the-host"), "bound\n").unwrap();
    web(&lab, bind.path());
    let out = host_dir("gbcp-out-");
    let o = |p: &str| out.path().join(p).display().to_string();

    // A file onto a missing path makes it; into a directory keeps its name.
    assert_eq!(lab.ok(&["cp", "web:/data/a.txt", &o("copy.txt")]), "");
    assert_eq!(read(&out.path().join("copy.txt")), "hello\n");
    lab.ok(&["cp", "web:data/a.txt", &o("")]);
    assert_eq!(read(&out.path().join("a.txt")), "hello\n");
    // Onto an existing file: replaced.
    std::fs::write(out.path().join("copy.txt"), "old and longer\n").unwrap();
    lab.ok(&["cp", "web:/data/sub/b", &o("copy.txt")]);
    assert_eq!(read(&out.path().join("copy.txt")), "deep\n");

    // A directory onto a missing path makes it; into one keeps its name;
    // DIR/. copies what is in it.
    lab.ok(&["cp", "web:/data", &o("new")]);
    assert_eq!(read(&out.path().join("new/sub/b")), "deep\n");
    lab.ok(&["cp", "web:/data", &o("")]);
    assert_eq!(read(&out.path().join("data/a.txt")), "hello\n");
    std::fs::create_dir(out.path().join("contents")).unwrap();
    lab.ok(&["cp", "web:/data/.", &o("contents")]);
    assert_eq!(read(&out.path().join("contents/a.txt")), "hello\n");
    assert!(!out.path().join("contents/data").exists());

    // A symlink is copied as a symlink; -L copies what it points at.
    lab.ok(&["cp", "web:/data/link", &o("l1")]);
    assert_eq!(
        std::fs::read_link(out.path().join("l1")).unwrap(),
        PathBuf::from("a.txt")
    );
    lab.ok(&["cp", "-L", "web:/data/link", &o("l2")]);
    assert_eq!(read(&out.path().join("l2")), "hello\n");

    // The bind mount is seen as the container sees it.
    lab.ok(&["cp", "web:/mnt/on-the-host", &o("bound")]);
    assert_eq!(read(&out.path().join("bound")), "bound\n");

    // `-` streams a tar of the source on stdout.
    let tarred = lab.run(&["cp", "web:/data/sub", "-"]);
    assert!(tarred.status.success(), "{}", common::stderr(&tarred));
    let members = tar_members(&tarred.stdout);
    assert!(
        members.contains(&("sub/b".to_string(), "deep\n".to_string())),
        "{members:?}"
    );

    // `/` of a running container: its /proc and /sys are the kernel's,
    // copied as empty directories, never read (the same under
    // `container cp`); a file there is refused.
    let root = lab.run(&["container", "cp", "web:/", "-"]);
    assert!(root.status.success(), "{}", common::stderr(&root));
    let names: Vec<String> = tar_members(&root.stdout)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.iter().any(|n| n == "data/a.txt"), "{names:?}");
    assert!(names.iter().any(|n| n == "mnt/on-the-host"), "{names:?}");
    assert!(names.iter().any(|n| n == "proc/"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("proc/") && n != "proc/"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("sys/") && n != "sys/"));
    let (code, _, err) = lab.status(&["cp", "web:/proc/1/status", &o("status")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("one of the kernel's own filesystems"), "{err}");

    // Docker's errors: a directory onto a file, a file into a missing
    // directory, a missing parent on the host.
    let (code, _, err) = lab.status(&["cp", "web:/data", &o("copy.txt")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot copy directory"), "{err}");
    let (code, _, err) = lab.status(&["cp", "web:/data/a.txt", &o("copy.txt/")]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        format!("lstat {}: not a directory", o("copy.txt/"))
    );
    let (code, _, err) = lab.status(&["cp", "web:/data/a.txt", &o("nodir/")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no such directory"), "{err}");
    let (code, _, err) = lab.status(&["cp", "web:/data/a.txt", &o("no/parent")]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "invalid output path: directory {:?} does not exist",
            o("no")
        )
    );
    assert!(!out.path().join("nodir").exists() && !out.path().join("no").exists());
}

#[test]
fn cp_into_a_running_and_a_stopped_container_lands_in_the_container() {
    let lab = Lab::new();
    let bind = host_dir("gbcp-bind-");
    web(&lab, bind.path());
    let src = host_dir("gbcp-src-");
    std::fs::write(src.path().join("f.txt"), "from the host\n").unwrap();
    std::fs::create_dir_all(src.path().join("tree/inner")).unwrap();
    std::fs::write(src.path().join("tree/inner/g"), "g\n").unwrap();
    let f = src.path().join("f.txt").display().to_string();
    let tree = src.path().join("tree").display().to_string();
    std::os::unix::fs::chown(src.path().join("f.txt"), Some(1234), Some(5678)).unwrap();

    lab.ok(&["cp", &f, "web:/tmp/"]);
    assert_eq!(
        lab.ok(&["exec", "web", "cat", "/tmp/f.txt"]),
        "from the host\n"
    );
    // Without -a the copy is root's; with -a it keeps the owner.
    assert_eq!(
        lab.ok(&["exec", "web", "stat", "-c", "%u:%g", "/tmp/f.txt"]),
        "0:0\n"
    );
    lab.ok(&["cp", "-a", &f, "web:/tmp/kept"]);
    assert_eq!(
        lab.ok(&["exec", "web", "stat", "-c", "%u:%g", "/tmp/kept"]),
        "1234:5678\n"
    );
    lab.ok(&["cp", &tree, "web:/tmp/newtree"]);
    assert_eq!(
        lab.ok(&["exec", "web", "cat", "/tmp/newtree/inner/g"]),
        "g\n"
    );
    // Into the bind mount: the host sees it.
    lab.ok(&["cp", &f, "web:/mnt/"]);
    assert_eq!(read(&bind.path().join("f.txt")), "from the host\n");

    // A tar on stdin, unpacked into a directory.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o640);
    b.append_data(&mut h, "streamed/s.txt", &b"tar\n"[..])
        .unwrap();
    let (code, _, err) = cp_stdin(&lab, &["-", "web:/tmp"], &b.into_inner().unwrap());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        lab.ok(&["exec", "web", "cat", "/tmp/streamed/s.txt"]),
        "tar\n"
    );
    // A stream needs a directory.
    let (code, _, err) = cp_stdin(&lab, &["-", "web:/tmp/f.txt"], b"");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("destination \"web:/tmp/f.txt\" must be a directory"),
        "{err}"
    );

    // A missing parent in the container: Docker's words.
    let (code, _, err) = lab.status(&["cp", &f, "web:/nope/x"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        "Error response from daemon: Could not find the file /nope in container web"
    );

    // A stopped container: through its overlay, its binds and volumes, mounted
    // only in a child's mount namespace.
    let sbind = host_dir("gbcp-sbind-");
    std::fs::write(sbind.path().join("seen"), "seen while stopped\n").unwrap();
    let v = format!("{}:/mnt", sbind.path().display());
    lab.ok(&[
        "create",
        "--name",
        "st",
        "-v",
        &v,
        "-v",
        "stvol:/vol",
        IMAGE,
        "cat",
        "/f.txt",
        "/mnt/f.txt",
        "/vol/f.txt",
    ]);
    let merged = PathBuf::from(lab.inspect("st", "{{.GraphDriver.Data.MergedDir}}"));
    lab.ok(&["cp", &f, "st:/"]);
    lab.ok(&["cp", &f, "st:/mnt/"]);
    assert_eq!(read(&sbind.path().join("f.txt")), "from the host\n");
    // And its volume, which is no part of its layers.
    lab.ok(&["cp", &f, "st:/vol/"]);
    let volume = lab.root.path().join("volumes/stvol/_data");
    assert_eq!(read(&volume.join("f.txt")), "from the host\n");
    let out = host_dir("gbcp-out-");
    lab.ok(&["cp", "st:/mnt/seen", &out.path().display().to_string()]);
    assert_eq!(read(&out.path().join("seen")), "seen while stopped\n");
    lab.ok(&["cp", "st:/f.txt", &out.path().display().to_string()]);
    assert_eq!(read(&out.path().join("f.txt")), "from the host\n");
    assert_eq!(
        mounts_under(&merged),
        Vec::<String>::new(),
        "nothing of the stopped container stays mounted on the host"
    );
    // What cp wrote is in the container's own layer: its command sees it.
    let (code, stdout, err) = lab.status(&["start", "-a", "st"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout, "from the host\nfrom the host\nfrom the host\n");
}

#[test]
fn symlinks_in_the_container_never_lead_to_host_files_even_while_they_are_swapped() {
    let lab = Lab::new();
    let bind = host_dir("gbcp-bind-");
    web(&lab, bind.path());
    // A host directory of the test's own, with a secret: the container
    // names its path, which in the container is nothing of the host's.
    let marker = host_dir("gbcp-marker-");
    std::fs::write(marker.path().join("secret"), "HOST SECRET\n").unwrap();
    let m = marker.path().display().to_string();
    let rel = m.trim_start_matches('/');
    let out = host_dir("gbcp-out-");
    let o = |p: &str| out.path().join(p).display().to_string();

    // Static links: to the host's secret, and to /etc.
    let setup = format!(
        "mkdir -p /d/{rel} && echo container > /d/{rel}/secret && ln -s {m}/secret /s \
         && ln -s /etc /etc-link && ln -s / /up"
    );
    lab.ok(&["exec", "web", "sh", "-c", &setup]);
    let (code, _, err) = lab.status(&["cp", "-L", "web:/s", &o("s")]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Could not find the file /s in container web"),
        "{err}"
    );
    lab.ok(&["cp", &format!("web:/up/d/{rel}/secret"), &o("via-up")]);
    assert_eq!(read(&out.path().join("via-up")), "container\n");
    // A target that is a symlink to /etc: the container's /etc.
    let probe = host_dir("gbcp-probe-");
    let name = format!(
        "gb-cp-probe-{}",
        probe.path().file_name().unwrap().to_string_lossy()
    );
    std::fs::write(probe.path().join(&name), "probe\n").unwrap();
    let p = probe.path().join(&name).display().to_string();
    lab.ok(&["cp", &p, "web:/etc-link"]);
    assert_eq!(
        lab.ok(&["exec", "web", "cat", &format!("/etc/{name}")]),
        "probe\n"
    );
    assert!(
        !Path::new("/etc").join(&name).exists(),
        "written to the host's /etc"
    );

    // The race: /x is the container's /d, then a link to /, over and over.
    lab.ok(&[
        "exec",
        "-d",
        "web",
        "sh",
        "-c",
        "while :; do ln -sfn /d /x; ln -sfn / /x; done",
    ]);
    let target = host_dir("gbcp-target-");
    let t = target.path().display().to_string();
    let trel = t.trim_start_matches('/');
    lab.ok(&["exec", "web", "mkdir", "-p", &format!("/d/{trel}")]);
    let payload = out.path().join("payload");
    std::fs::write(&payload, "payload\n").unwrap();
    let payload = payload.display().to_string();
    let (mut read_ok, mut write_ok) = (0, 0);
    for i in 0..60 {
        let dest = o(&format!("r{i}"));
        let r = lab.run(&["cp", &format!("web:/x/{rel}/secret"), &dest]);
        if r.status.success() {
            assert_eq!(read(Path::new(&dest)), "container\n", "round {i}");
            read_ok += 1;
        } else {
            let err = common::stderr(&r);
            assert!(err.contains("Error response from daemon"), "{err}");
        }
        let w = lab.run(&["cp", &payload, &format!("web:/x/{trel}/")]);
        write_ok += w.status.success() as u32;
        assert_eq!(
            common::entries(target.path()),
            Vec::<String>::new(),
            "round {i} wrote outside the container"
        );
    }
    assert_eq!(read(&marker.path().join("secret")), "HOST SECRET\n");
    assert_eq!(common::entries(marker.path()), ["secret"]);
    eprintln!("of 60 rounds each way, {read_ok} reads and {write_ok} writes succeeded");
    // Some copies found the container's file while /x was its directory.
    assert!(read_ok + write_ok > 0, "no copy ever succeeded");
    assert_eq!(
        lab.ok(&["exec", "web", "cat", &format!("/d/{trel}/payload")]),
        "payload\n"
    );
}

#[test]
fn bad_input_is_refused_with_dockers_words_and_leaves_nothing() {
    let lab = Lab::new();
    let bind = host_dir("gbcp-bind-");
    web(&lab, bind.path());
    let out = host_dir("gbcp-out-");
    let dest = out.path().display().to_string();
    let before = mounts_under(lab.root.path());

    let (code, _, err) = lab.status(&["cp", "web:/nope", &dest]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        "Error response from daemon: Could not find the file /nope in container web"
    );
    let (code, _, err) = lab.status(&["cp", "nosuch:/etc", &dest]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        "Error response from daemon: No such container: nosuch"
    );
    let (code, _, err) = lab.status(&["cp", "/etc/hostname", &dest]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim(), "must specify at least one container source");
    let (code, _, err) = lab.status(&["cp", "web:/a", "web:/b"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim(), "copying between containers is not supported");
    let (code, _, err) = lab.status(&["cp", "/nonexistent-gbcp", "web:/tmp"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        "lstat /nonexistent-gbcp: no such file or directory"
    );
    // A stopped container too; and no mount, no file left anywhere.
    lab.ok(&["create", "--name", "st", IMAGE, "true"]);
    let (code, _, err) = lab.status(&["cp", "st:/nope", &dest]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        "Error response from daemon: Could not find the file /nope in container st"
    );
    assert_eq!(common::entries(out.path()), Vec::<String>::new());
    assert_eq!(mounts_under(lab.root.path()), before);

    // Killed in the middle of a copy into the stopped container (its
    // stdin never ends): the child goes too, and its mounts with it.
    let merged = lab.inspect("st", "{{.GraphDriver.Data.MergedDir}}");
    let mut cp = lab
        .cmd()
        .args(["cp", "-", "st:/"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = |m: &str| -> usize {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join("mountinfo"))
                    .is_ok_and(|t| t.contains(&format!(" {m} ")))
            })
            .count()
    };
    eventually("the copy's child mounting the overlay", || {
        seen(&merged) > 0
    });
    let still_open = cp.stdin.take();
    cp.kill().unwrap();
    cp.wait().unwrap();
    eventually("the child and its mounts gone", || seen(&merged) == 0);
    drop(still_open);
    // The container's lock was released: another copy goes through.
    lab.ok(&["cp", "/etc/hostname", "st:/"]);
}
