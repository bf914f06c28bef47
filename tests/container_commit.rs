//! `commit` as a Docker user checks it: the new image holds the file the
//! container made, its whiteouts hide what the container deleted (a file,
//! and a directory removed and made again: opaque) when the image runs,
//! its lower layers are the original image's (same chain ids, one layer
//! directory each), `-c` changes and `-m`/`-a` land in its config, it
//! saves as an archive skopeo reads; the container is paused during the
//! commit by default (the freezer step in the trace) and running after;
//! Docker's refusals leave nothing behind (no image, blob, layer
//! directory, work directory, and the container unpaused). Root, real
//! kernel.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::lifecycle::{IMAGE, Lab};

/// The names in a directory of the store.
fn names(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// What the store holds: blobs, layer directories, work directories, and
/// images.json.
fn store(lab: &Lab) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>, String) {
    let r = lab.root.path();
    (
        names(&r.join("blobs/sha256")),
        names(&r.join("layers")),
        names(&r.join("tmp")),
        std::fs::read_to_string(r.join("images.json")).unwrap(),
    )
}

/// The chain ids of image `reference` (`mine:1`), bottom first.
fn chain_ids(lab: &Lab, reference: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&store(lab).3).unwrap();
    let full = format!("docker.io/library/{reference}");
    let id = v["tags"][&full]
        .as_str()
        .unwrap_or_else(|| panic!("no tag {full}: {v}"));
    v["images"][id]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["chain_id"].as_str().unwrap().to_string())
        .collect()
}

/// `run --rm --network none IMAGE ARGS...`: its stdout.
fn run_rm(lab: &Lab, image: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm", "--network", "none", image];
    all.extend_from_slice(args);
    lab.ok(&all)
}

#[test]
fn the_image_holds_the_file_hides_what_was_deleted_and_shares_the_lower_layers() {
    let lab = Lab::new();
    let script = "echo hello > /hello; rm /etc/group; \
                  rm -rf /usr/bin && mkdir /usr/bin && echo mine > /usr/bin/only";
    lab.ok(&[
        "run",
        "--name",
        "src",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let (_, layers_before, _, _) = store(&lab);
    let out = lab.ok(&["commit", "src", "mine:1"]);
    let id = out.trim();
    assert!(
        id.len() == 71 && id.starts_with("sha256:"),
        "commit prints the image id as Docker does: {out:?}"
    );
    // The file it made; the file it deleted stays deleted; the directory it
    // removed and made again holds only what it put there (opaque).
    assert_eq!(run_rm(&lab, "mine:1", &["cat", "/hello"]), "hello\n");
    assert_eq!(
        run_rm(
            &lab,
            "mine:1",
            &["sh", "-c", "test -e /etc/group && echo there || echo gone"]
        ),
        "gone\n"
    );
    assert_eq!(run_rm(&lab, "mine:1", &["ls", "/usr/bin"]), "only\n");
    assert_eq!(
        run_rm(&lab, "mine:1", &["cat", "/etc/passwd"])
            .lines()
            .next(),
        Some("root:x:0:0:root:/root:/bin/sh")
    );
    // The original is untouched.
    assert!(run_rm(&lab, IMAGE, &["ls", "/usr/bin"]).lines().count() > 1);

    // The lower layers are the original's: same chain ids, one directory
    // each, and exactly one new layer directory.
    let base = chain_ids(&lab, IMAGE);
    let mine = chain_ids(&lab, "mine:1");
    assert_eq!(mine.len(), base.len() + 1, "{mine:?}");
    assert_eq!(mine[..base.len()], base[..]);
    let (_, layers_after, tmp, _) = store(&lab);
    let added: Vec<&String> = layers_after.difference(&layers_before).collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(
        added[0].as_str(),
        mine.last().unwrap().trim_start_matches("sha256:")
    );
    assert!(tmp.is_empty(), "work directories left: {tmp:?}");
    let table = lab.ok(&["image", "layers"]);
    let row = table
        .lines()
        .find(|l| l.starts_with(&base[0][7..19]))
        .unwrap_or_else(|| panic!("no row for {} in\n{table}", &base[0][7..19]));
    assert!(
        row.contains(" 2 "),
        "the base layer is shared by both images: {row}"
    );

    // The saved archive is a docker-archive other tools read: its layers
    // are the two, the base's diff id first.
    let archive = lab.root.path().join("mine.tar");
    lab.ok(&["image", "save", "-o", archive.to_str().unwrap(), "mine:1"]);
    let out = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("docker-archive:{}", archive.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), base.len() + 1, "{v}");
}

#[test]
fn changes_message_and_author_land_in_the_config() {
    let lab = Lab::new();
    lab.ok(&[
        "run",
        "--name",
        "cfg",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo motd > /etc/motd2",
    ]);
    lab.ok(&[
        "commit",
        "-m",
        "add a motd",
        "-a",
        "Ann <ann@example.com>",
        "-c",
        r#"CMD ["cat", "/etc/motd2"]"#,
        "-c",
        "ENV A=b",
        "-c",
        "WORKDIR /etc",
        "cfg",
        "cfg:1",
    ]);
    // CMD takes effect when it runs; ENV and WORKDIR too.
    assert_eq!(run_rm(&lab, "cfg:1", &[]), "motd\n");
    assert_eq!(
        run_rm(&lab, "cfg:1", &["sh", "-c", "echo $A; pwd"]),
        "b\n/etc\n"
    );
    let author = lab.ok(&["inspect", "-f", "{{.Author}}", "cfg:1"]);
    assert_eq!(author.trim(), "Ann <ann@example.com>");
    let history = lab.ok(&["image", "history", "--no-trunc", "cfg:1"]);
    assert!(history.contains("add a motd"), "{history}");
    // Docker's commit event: the comment, the image and its tag.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let events = lab.ok(&[
        "events",
        "--since",
        "1h",
        "--until",
        &now.to_string(),
        "--filter",
        "event=commit",
    ]);
    assert_eq!(events.lines().count(), 1, "{events}");
    assert!(
        events.contains("comment=add a motd") && events.contains("imageRef=cfg:1"),
        "{events}"
    );
    // The container's hostname is not baked into the image.
    let env = run_rm(&lab, "cfg:1", &["env"]);
    let cfg_host = lab.inspect("cfg", "{{.Config.Hostname}}");
    assert!(!env.contains(&format!("HOSTNAME={cfg_host}")), "{env}");
}

#[test]
fn a_running_container_is_frozen_during_the_commit_and_runs_after() {
    let lab = Lab::new();
    lab.detached(&[
        "--name",
        "busy",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i > /count.new; mv /count.new /count; done",
    ]);
    let out = lab.run(&["-v", "commit", "busy", "busy:1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let freeze = lines
        .iter()
        .position(|l| l.contains("FROZEN") || l.contains("cgroup.freeze"))
        .unwrap_or_else(|| panic!("no freezer step in the trace:\n{err}"));
    let tar = lines
        .iter()
        .position(|l| l.contains("tar the container's layer"))
        .unwrap_or_else(|| panic!("no tar step in the trace:\n{err}"));
    let thaw = lines
        .iter()
        .rposition(|l| l.contains("THAWED") || l.contains("cgroup.freeze"))
        .unwrap();
    assert!(
        freeze < tar && tar < thaw,
        "frozen, tarred, thawed in that order:\n{err}"
    );
    assert_eq!(lab.inspect("busy", "{{.State.Status}}"), "running");
    // The counter it wrote is in the image, and it still counts.
    let n: u64 = run_rm(&lab, "busy:1", &["cat", "/count"])
        .trim()
        .parse()
        .unwrap();
    assert!(n > 0);

    // --pause=false leaves the freezer alone.
    let out = lab.run(&["-v", "commit", "--pause=false", "busy", "busy:2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("FROZEN") && !err.contains("cgroup.freeze"),
        "{err}"
    );
}

#[test]
fn bad_input_is_refused_as_docker_does_and_leaves_nothing() {
    let lab = Lab::new();
    lab.detached(&[
        "--name",
        "live",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo x > /x; sleep 1000",
    ]);
    let before = store(&lab);
    let cases: [(&[&str], &str); 4] = [
        (
            &["commit", "live", "Bad:Ref"],
            "invalid reference format: repository name (library/Bad) must be lowercase",
        ),
        (&["commit", "live", "a::b"], "invalid reference format"),
        (
            &["commit", "nope", "x:1"],
            "Error response from daemon: No such container: nope",
        ),
        (
            &["commit", "-c", "FOO bar", "live", "x:1"],
            "Error response from daemon: foo is not a valid change command",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = lab.status(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.trim().starts_with(want), "{args:?}: {err}");
        assert_eq!(store(&lab), before, "{args:?} left something in the store");
        assert_eq!(
            lab.inspect("live", "{{.State.Status}}"),
            "running",
            "{args:?}"
        );
    }
}

#[test]
fn nothing_changed_is_an_image_without_a_new_layer() {
    let lab = Lab::new();
    lab.ok(&["create", "--name", "fresh", IMAGE, "true"]);
    let (blobs, layers, _, _) = store(&lab);
    let id = lab.ok(&["commit", "-m", "nothing", "fresh", "same:1"]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    // Docker's empty layer: the same layers, a history entry saying so,
    // no layer directory and no layer blob (a config and a manifest only).
    assert_eq!(chain_ids(&lab, "same:1"), chain_ids(&lab, IMAGE));
    let (blobs_after, layers_after, tmp, _) = store(&lab);
    assert_eq!(layers_after, layers);
    assert_eq!(blobs_after.difference(&blobs).count(), 2);
    assert!(tmp.is_empty(), "{tmp:?}");
    let history = lab.ok(&["image", "history", "--no-trunc", "same:1"]);
    assert!(history.contains("nothing"), "{history}");
    assert_eq!(
        run_rm(&lab, "same:1", &["cat", "/etc/group"])
            .lines()
            .next(),
        Some("root:x:0:")
    );
}

#[test]
fn what_is_mounted_and_its_mount_points_stay_out_of_the_image() {
    let lab = Lab::new();
    let host = lab.root.path().join("host-dir");
    std::fs::create_dir(&host).unwrap();
    let bind = format!("{}:/srv/bound", host.display());
    lab.ok(&[
        "run",
        "--name",
        "mounts",
        "--network",
        "none",
        "-v",
        "keep:/data",
        "-v",
        &bind,
        "--tmpfs",
        "/scratch",
        IMAGE,
        "sh",
        "-c",
        "echo v > /data/in-volume; echo b > /srv/bound/in-bind; echo t > /scratch/in-tmpfs; echo mine > /own",
    ]);
    // Only the container's own file: with the mount points alone, the
    // commit would have had /data, /srv/bound and /scratch too.
    lab.ok(&["commit", "mounts", "mounts:1"]);
    let seen = run_rm(
        &lab,
        "mounts:1",
        &[
            "sh",
            "-c",
            "cat /own; for p in /data /srv/bound /scratch; do [ -e $p ] || echo gone $p; done",
        ],
    );
    assert_eq!(seen, "mine\ngone /data\ngone /srv/bound\ngone /scratch\n");
    // The volume kept its data, outside the image.
    let kept = lab.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "keep:/data",
        IMAGE,
        "cat",
        "/data/in-volume",
    ]);
    assert_eq!(kept, "v\n");
}

#[test]
fn a_commit_of_a_committed_image_shares_both_lower_layers() {
    let lab = Lab::new();
    lab.ok(&[
        "run",
        "--name",
        "one",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo 1 > /one",
    ]);
    lab.ok(&["commit", "-m", "first", "one", "step:1"]);
    lab.ok(&[
        "run",
        "--name",
        "two",
        "--network",
        "none",
        "step:1",
        "sh",
        "-c",
        "echo 2 > /two; rm /one",
    ]);
    let (_, layers_before, _, _) = store(&lab);
    lab.ok(&["commit", "-m", "second", "two", "step:2"]);
    let first = chain_ids(&lab, "step:1");
    let second = chain_ids(&lab, "step:2");
    assert_eq!(second.len(), 3, "{second:?}");
    assert_eq!(second[..2], first[..], "the two lower layers are step:1's");
    let (_, layers_after, _, _) = store(&lab);
    assert_eq!(layers_after.difference(&layers_before).count(), 1);
    // The top layer's whiteout hides the middle layer's file.
    assert_eq!(
        run_rm(
            &lab,
            "step:2",
            &["sh", "-c", "cat /two; test -e /one || echo gone"]
        ),
        "2\ngone\n"
    );
    let history = lab.ok(&["image", "history", "step:2"]);
    let comments: Vec<&str> = history
        .lines()
        .filter(|l| l.ends_with("first") || l.ends_with("second"))
        .collect();
    assert_eq!(comments.len(), 2, "{history}");
}
