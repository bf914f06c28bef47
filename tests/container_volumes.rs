//! Volumes, `--mount` and `--tmpfs`, as a Docker user checks them: a named
//! volume outlives its container and the next one sees its data; a new
//! volume is filled from the image once (owner and mode kept), never
//! again; the image's `VOLUME` becomes an anonymous volume that `rm -v`
//! and `run --rm` remove (named ones stay); `volume ls`, `inspect`, `rm`
//! and `prune` print and refuse as Docker does; `--mount` and `--tmpfs`
//! mount what they say, with Docker's defaults; bad input is refused with
//! Docker's message and nothing is left. Each test has a private root and
//! runs glassbox in a network namespace of its own (tests/common/lifecycle).

mod common;

use std::path::PathBuf;

use common::lifecycle::{IMAGE, Lab};

/// The test image: `IMAGE` with one more layer holding `/data` (owned by
/// 1000:1000, mode 0750), `/data/seed.txt` (1000:1000, 0640) and
/// `/data/sub/` (0700) with a symlink `link -> ../seed.txt`, and
/// `VOLUME /data` in its config.
const VIMG: &str = "vimg:1";

fn header(kind: tar::EntryType, mode: u32, uid: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_size(size);
    h.set_mtime(0);
    h
}

fn make_volume_image(lab: &Lab) {
    let saved = lab.root.path().join("saved.tar");
    lab.ok(&["image", "save", "-o", saved.to_str().unwrap(), IMAGE]);
    // The layer with /data.
    let mut layer = tar::Builder::new(Vec::new());
    let mut d = header(tar::EntryType::Directory, 0o750, 1000, 0);
    layer
        .append_data(&mut d, "data/", std::io::empty())
        .unwrap();
    let body = b"from the image\n";
    let mut f = header(tar::EntryType::Regular, 0o640, 1000, body.len() as u64);
    layer
        .append_data(&mut f, "data/seed.txt", &body[..])
        .unwrap();
    let mut sub = header(tar::EntryType::Directory, 0o700, 1000, 0);
    layer
        .append_data(&mut sub, "data/sub/", std::io::empty())
        .unwrap();
    let mut l = header(tar::EntryType::Symlink, 0o777, 1000, 0);
    layer
        .append_link(&mut l, "data/sub/link", "../seed.txt")
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let bytes = common::archive::rewrite_saved(
        &std::fs::read(&saved).unwrap(),
        VIMG,
        Some(&layer),
        |config| config["config"]["Volumes"] = serde_json::json!({"/data": {}}),
    );
    let path = lab.root.path().join("vimg.tar");
    std::fs::write(&path, bytes).unwrap();
    lab.ok(&["image", "load", "-i", path.to_str().unwrap()]);
}

fn lab_with_image() -> Lab {
    let lab = Lab::new();
    make_volume_image(&lab);
    lab
}

fn volumes_dir(lab: &Lab) -> PathBuf {
    lab.root.path().join("volumes")
}

/// `volume ls -q`, sorted.
fn volume_names(lab: &Lab) -> Vec<String> {
    let mut v: Vec<String> = lab
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Wait up to 10 s for `cond`.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "not within 10 s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn inspect_json(lab: &Lab, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&lab.ok(&["inspect", name])).unwrap();
    v[0].clone()
}

#[test]
fn a_named_volume_outlives_its_container_and_is_filled_from_the_image_once() {
    let lab = lab_with_image();
    let out = lab.ok(&[
        "run",
        "--name",
        "first",
        "-v",
        "store:/data",
        VIMG,
        "sh",
        "-c",
        "stat -c '%u:%g %a' /data /data/seed.txt /data/sub; readlink /data/sub/link; cat /data/sub/link; echo mine > /data/new.txt",
    ]);
    assert_eq!(
        out,
        "1000:1000 750\n1000:1000 640\n1000:1000 700\n../seed.txt\nfrom the image\n"
    );
    let c = inspect_json(&lab, "first");
    let m = &c["Mounts"][0];
    assert_eq!(c["Mounts"].as_array().unwrap().len(), 1, "{}", c["Mounts"]);
    assert_eq!(m["Type"], "volume");
    assert_eq!(m["Name"], "store");
    assert_eq!(m["Driver"], "local");
    assert_eq!(m["Destination"], "/data");
    assert_eq!(m["Mode"], "z");
    assert_eq!(m["RW"], true);
    let data = volumes_dir(&lab).join("store/_data");
    assert_eq!(m["Source"], data.display().to_string());
    assert_eq!(c["HostConfig"]["Binds"], serde_json::json!(["store:/data"]));
    assert_eq!(c["Config"]["Volumes"], serde_json::json!({"/data": {}}));
    // The data is on the host, and stays after the container goes.
    lab.ok(&["rm", "first"]);
    assert_eq!(
        std::fs::read_to_string(data.join("new.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(volume_names(&lab), ["store"]);
    // The next container sees it; a volume with data is not filled again.
    lab.ok(&[
        "run",
        "--rm",
        "-v",
        "store:/data",
        VIMG,
        "rm",
        "/data/seed.txt",
    ]);
    let ls = lab.ok(&[
        "run",
        "--name",
        "second",
        "-v",
        "store:/data",
        VIMG,
        "ls",
        "/data",
    ]);
    assert_eq!(ls, "new.txt\nsub\n", "the volume was filled again");
    assert_eq!(
        lab.ok(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}} {{.Mounts}} {{.LocalVolumes}}"
        ]),
        "second store 1\n"
    );
    // Docker's `inspect` finds a volume by name too.
    let v: serde_json::Value = serde_json::from_str(&lab.ok(&["inspect", "store"])).unwrap();
    assert_eq!(v[0]["Mountpoint"], data.display().to_string());
    // In use by a stopped container: Docker's refusal, nothing removed.
    let id = lab.inspect("second", "{{.Id}}");
    let (code, _, err) = lab.status(&["volume", "rm", "store"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        format!("Error response from daemon: remove store: volume is in use - [{id}]")
    );
    assert!(data.join("new.txt").exists());
    let (code, _, _) = lab.status(&["volume", "rm", "-f", "store"]);
    assert_eq!(code, 1, "-f does not remove a volume in use");
    lab.ok(&["rm", "second"]);
    assert_eq!(lab.ok(&["volume", "rm", "store"]), "store\n");
    assert!(!volumes_dir(&lab).join("store").exists());
}

#[test]
fn the_images_volume_is_anonymous_and_goes_with_rm_v_and_run_rm_but_named_ones_stay() {
    let lab = lab_with_image();
    lab.ok(&["create", "--name", "c1", VIMG, "true"]);
    let c = inspect_json(&lab, "c1");
    let anon = c["Mounts"][0]["Name"].as_str().unwrap().to_string();
    assert!(is_hex64(&anon), "{anon}");
    assert_eq!(c["Mounts"][0]["Mode"], "");
    assert_eq!(c["Config"]["Volumes"], serde_json::json!({"/data": {}}));
    let v: serde_json::Value =
        serde_json::from_str(&lab.ok(&["volume", "inspect", &anon])).unwrap();
    assert_eq!(
        v[0]["Labels"],
        serde_json::json!({"com.docker.volume.anonymous": ""})
    );
    // `rm` without -v keeps it; `volume prune` removes it, unused now.
    lab.ok(&["rm", "c1"]);
    assert_eq!(volume_names(&lab), std::slice::from_ref(&anon));
    let pruned = lab.ok(&["volume", "prune", "-f"]);
    assert!(
        pruned.starts_with(&format!(
            "Deleted Volumes:\n{anon}\n\nTotal reclaimed space: "
        )),
        "{pruned}"
    );
    assert!(volume_names(&lab).is_empty());
    // `rm -v`: the anonymous one goes, the named one stays.
    lab.ok(&["create", "--name", "c2", "-v", "keep:/keep", VIMG, "true"]);
    assert_eq!(volume_names(&lab).len(), 2);
    assert_eq!(lab.ok(&["rm", "-v", "c2"]), "c2\n");
    assert_eq!(volume_names(&lab), ["keep"]);
    // `run --rm` (and `-v /path`, one more anonymous volume) likewise.
    let out = lab.ok(&[
        "run",
        "--rm",
        "-v",
        "keep2:/k",
        "-v",
        "/scratch",
        VIMG,
        "cat",
        "/data/seed.txt",
    ]);
    assert_eq!(out, "from the image\n");
    eventually("the --rm container gone", || lab.ps(&["-aq"]).is_empty());
    assert_eq!(volume_names(&lab), ["keep", "keep2"]);
    // prune leaves named volumes unless -a.
    lab.ok(&["volume", "prune", "-f"]);
    assert_eq!(volume_names(&lab), ["keep", "keep2"]);
    let all = lab.ok(&["volume", "prune", "-a", "-f"]);
    assert!(all.starts_with("Deleted Volumes:\n"), "{all}");
    assert!(volume_names(&lab).is_empty());
    assert!(common::entries(&volumes_dir(&lab)).is_empty());
}

#[test]
fn volume_ls_inspect_and_create_print_as_docker_does() {
    let lab = Lab::new();
    assert_eq!(
        lab.ok(&["volume", "create", "--label", "team=db", "v1"]),
        "v1\n"
    );
    let first = lab.ok(&["volume", "inspect", "v1"]);
    // Creating an existing name is no error: the same volume, unchanged.
    assert_eq!(lab.ok(&["volume", "create", "v1"]), "v1\n");
    assert_eq!(lab.ok(&["volume", "inspect", "v1"]), first);
    let anon = lab.ok(&["volume", "create"]).trim().to_string();
    assert!(is_hex64(&anon), "{anon}");
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    let keys: Vec<&String> = v[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope"
        ]
    );
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(v[0]["Labels"], serde_json::json!({"team": "db"}));
    assert_eq!(
        v[0]["Mountpoint"],
        volumes_dir(&lab).join("v1/_data").display().to_string()
    );
    let created = v[0]["CreatedAt"].as_str().unwrap();
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");
    assert!(
        first.starts_with("[\n    {\n        \"CreatedAt\""),
        "{first}"
    );
    lab.ok(&["create", "--name", "user", "-v", "v1:/v", IMAGE, "true"]);
    let table = lab.ok(&["volume", "ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "DRIVER    VOLUME NAME");
    assert!(lines.contains(&"local     v1"), "{table}");
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lab.ok(&["volume", "ls", "-q", "-f", "dangling=true"]),
        format!("{anon}\n")
    );
    assert_eq!(
        lab.ok(&["volume", "ls", "-q", "-f", "dangling=false"]),
        "v1\n"
    );
    assert_eq!(lab.ok(&["volume", "ls", "-q", "-f", "name=v"]), "v1\n");
    assert_eq!(
        lab.ok(&["volume", "ls", "-q", "-f", "label=team=db"]),
        "v1\n"
    );
    // A plan makes nothing, and removes nothing.
    assert_eq!(
        lab.ok(&["--dry-run", "volume", "create", "planned"]),
        "planned\n"
    );
    assert!(!volumes_dir(&lab).join("planned").exists());
    lab.ok(&["--dry-run", "volume", "prune", "-a", "-f"]);
    assert!(volumes_dir(&lab).join(&anon).exists());
    let (code, _, err) = lab.status(&["volume", "ls", "-f", "colour=red"]);
    assert_eq!(
        (code, err.trim()),
        (1, "Error response from daemon: invalid filter 'colour'")
    );
}

#[test]
fn volume_inspect_format_prints_the_template_once_per_volume() {
    let lab = Lab::new();
    lab.ok(&["volume", "create", "--label", "team=db", "v1"]);
    lab.ok(&["volume", "create", "v2"]);
    let dir = volumes_dir(&lab);
    assert_eq!(
        lab.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "v1", "v2"]),
        format!(
            "{}\n{}\n",
            dir.join("v1/_data").display(),
            dir.join("v2/_data").display()
        )
    );
    assert_eq!(
        lab.ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.Name}} {{.Labels.team}}",
            "v1"
        ]),
        "v1 db\n"
    );
    let json = lab.ok(&["volume", "inspect", "--format", "json", "v1"]);
    assert_eq!(json.lines().count(), 1, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["Name"], "v1");
    // A missing volume: Docker's error, exit 1, the others still printed.
    let (code, out, err) = lab.status(&["volume", "inspect", "-f", "{{.Name}}", "v1", "nope"]);
    assert_eq!(
        (code, out.as_str(), err.trim()),
        (
            1,
            "v1\n",
            "Error response from daemon: get nope: no such volume"
        )
    );
    // A template that does not parse: an error naming it, exit 1, no output.
    let (code, out, err) = lab.status(&["volume", "inspect", "-f", "{{.Name", "v1"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("template"), "{err}");
}

#[test]
fn mount_and_tmpfs_mount_what_they_say_with_dockers_defaults() {
    let lab = lab_with_image();
    let src = lab.root.path().join("host-src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "on the host\n").unwrap();
    let bind = format!("type=bind,source={},target=/b,readonly", src.display());
    let out = lab.ok(&[
        "run",
        "--name",
        "mnt",
        "--mount",
        &bind,
        "--mount",
        "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "--tmpfs",
        "/run2:size=2m",
        "--mount",
        "type=volume,src=nc,dst=/data,volume-nocopy",
        VIMG,
        "sh",
        "-c",
        "cat /b/f; touch /b/x 2>/dev/null || echo read-only; grep -E ' /(t|run2) ' /proc/mounts; stat -c %a /t; ls -A /data | wc -l",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "on the host");
    assert_eq!(lines[1], "read-only");
    let t = lines
        .iter()
        .find(|l| l.contains(" /t "))
        .expect("the tmpfs /t");
    let run2 = lines
        .iter()
        .find(|l| l.contains(" /run2 "))
        .expect("the tmpfs /run2");
    for opt in ["rw", "nosuid", "nodev", "noexec", "size=1024k", "mode=1770"] {
        assert!(t.split([' ', ',']).any(|o| o == opt), "{opt} in {t}");
    }
    for opt in ["nosuid", "nodev", "noexec", "size=2048k"] {
        assert!(run2.split([' ', ',']).any(|o| o == opt), "{opt} in {run2}");
    }
    assert!(t.starts_with("tmpfs "), "{t}");
    assert_eq!(lines[lines.len() - 2], "1770");
    assert_eq!(
        lines[lines.len() - 1].trim(),
        "0",
        "volume-nocopy: not filled"
    );
    assert!(!src.join("x").exists());
    // noexec unless `exec` is given.
    let script = "cp /bin/busybox /t/echo && /t/echo ran || echo refused";
    let (code, out, _) = lab.status(&["run", "--rm", "--tmpfs", "/t", IMAGE, "sh", "-c", script]);
    assert_eq!((code, out.as_str()), (0, "refused\n"));
    let (code, out, _) = lab.status(&[
        "run", "--rm", "--tmpfs", "/t:exec", IMAGE, "sh", "-c", script,
    ]);
    assert_eq!((code, out.as_str()), (0, "ran\n"));
    let c = inspect_json(&lab, "mnt");
    assert_eq!(
        c["HostConfig"]["Tmpfs"],
        serde_json::json!({"/run2": "size=2m"})
    );
    assert_eq!(c["HostConfig"]["Binds"], serde_json::Value::Null);
    let hm = c["HostConfig"]["Mounts"].as_array().unwrap();
    assert_eq!(hm.len(), 3);
    assert_eq!(
        hm[0],
        serde_json::json!({"Type": "bind", "Source": src.display().to_string(), "Target": "/b", "ReadOnly": true})
    );
    assert_eq!(hm[2]["VolumeOptions"], serde_json::json!({"NoCopy": true}));
    let kinds: Vec<&str> = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["bind", "tmpfs", "volume", "tmpfs"]);
    assert_eq!(c["Mounts"][0]["Propagation"], "rprivate");
    assert_eq!(c["Mounts"][0]["RW"], false);
}

#[test]
fn bad_input_is_refused_with_dockers_message_and_leaves_nothing() {
    let lab = Lab::new();
    let bad = "Error response from daemon: create bad/name: \"bad/name\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path";
    let (code, out, err) = lab.status(&["volume", "create", "bad/name"]);
    assert_eq!((code, out.as_str(), err.trim()), (1, "", bad));
    let (code, _, err) = lab.status(&["run", "-v", "bad/name:/x", IMAGE, "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains(&bad["Error response from daemon: ".len()..]),
        "{err}"
    );
    let missing = lab.root.path().join("no-such-dir");
    let spec = format!("type=bind,source={},target=/x", missing.display());
    let (code, _, err) = lab.status(&["run", "--mount", &spec, IMAGE, "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains(&format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            missing.display()
        )),
        "{err}"
    );
    assert!(!missing.exists(), "--mount made the missing source");
    for args in [
        &["run", "--tmpfs", "/x:bogus", IMAGE, "true"][..],
        &["run", "--mount", "type=bind,target=/x", IMAGE, "true"],
        &[
            "run",
            "--mount",
            "type=volume,src=ok1,dst=/x,bind-propagation=shared",
            IMAGE,
            "true",
        ],
        &["run", "-v", "one:/x", "--tmpfs", "/x", IMAGE, "true"],
        &["run", "-v", "/tmp:/", IMAGE, "true"],
    ] {
        let (code, _, err) = lab.status(args);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(!err.is_empty());
    }
    // Nothing was made: no container, no volume.
    assert!(lab.ps(&["-aq"]).is_empty());
    assert!(common::entries(&volumes_dir(&lab)).is_empty());
    let (code, _, err) = lab.status(&["volume", "rm", "nope"]);
    assert_eq!(
        (code, err.trim()),
        (1, "Error response from daemon: get nope: no such volume")
    );
    let (code, out, _) = lab.status(&["volume", "rm", "-f", "nope"]);
    assert_eq!((code, out.as_str()), (0, "nope\n"));
    let (code, _, err) = lab.status(&["volume", "inspect", "nope"]);
    assert_eq!(
        (code, err.trim()),
        (1, "Error response from daemon: get nope: no such volume")
    );
    // A bind's source made by -v stays a plain bind (the old path works).
    let made = lab.root.path().join("made-by-v");
    let spec = format!("{}:/m", made.display());
    lab.ok(&["run", "--rm", "-v", &spec, IMAGE, "touch", "/m/here"]);
    assert!(made.join("here").exists());
}

#[test]
fn the_trace_shows_the_volume_made_filled_and_bound() {
    let lab = lab_with_image();
    let out = lab
        .cmd()
        .args(["-v", "run", "--rm", "-v", "traced:/data", VIMG, "true"])
        .output()
        .unwrap();
    common::assert_succeeded(&["-v", "run"], &out);
    let err = common::stderr(&out);
    let data = volumes_dir(&lab).join("traced/_data");
    let data = data.display().to_string();
    assert!(err.contains(&format!("mkdir -p {data}")), "{err}");
    assert!(
        err.contains("cp -a ") && err.contains(&format!("{data}/")),
        "{err}"
    );
    assert!(err.contains(&format!("mount --rbind {data} ")), "{err}");
}

/// `volume rm` racing `create -v NAME:...`: the volume is made and named
/// by the container's record under one lock, so whichever comes first,
/// a container that was made always has its volume.
#[test]
fn volume_rm_racing_create_never_removes_a_volume_a_container_names() {
    let lab = Lab::new();
    for i in 0..6 {
        let name = format!("racy{i}");
        let spec = format!("{name}:/d");
        let mut create = lab
            .cmd()
            .args([
                "create",
                "--name",
                &format!("c{i}"),
                "-v",
                &spec,
                IMAGE,
                "true",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let created = loop {
            let _ = lab.run(&["volume", "rm", "-f", &name]);
            if let Some(s) = create.try_wait().unwrap() {
                break s.success();
            }
        };
        assert!(created, "create c{i}");
        let _ = lab.run(&["volume", "rm", "-f", &name]);
        assert!(
            volume_names(&lab).contains(&name),
            "c{i} names {name}, which was removed"
        );
        let users = lab.inspect(&format!("c{i}"), "{{(index .Mounts 0).Name}}");
        assert_eq!(users, name);
    }
}

/// A `--rm` container whose shim was killed is removed by the next
/// command that reads it (settled), its anonymous volume with it.
#[test]
fn a_rm_container_settled_after_its_shim_died_takes_its_anonymous_volume() {
    let lab = Lab::new();
    let id = lab.detached(&[
        "--rm", "-v", "/anon", "-v", "named:/n", IMAGE, "sleep", "600",
    ]);
    assert_eq!(volume_names(&lab).len(), 2);
    let shim = common::probe::shim_pid(&id).expect("the shim runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    common::probe::wait_shim_gone(&id);
    eventually("the container settled and removed", || {
        lab.ps(&["-aq"]).is_empty()
    });
    assert_eq!(volume_names(&lab), ["named"]);
}
