//! What the container commands print, as Docker prints it: `ps`'s table
//! and formats, `inspect`'s JSON and templates, `logs` and the json-file
//! behind it (16 KiB pieces, rotation, a full disk), `run`'s silence,
//! `--explain`, and `--dry-run` plans (the `-v` trace of a whole run is
//! tests/container_trace.rs). Root, real kernel.

mod common;

use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};

/// Columns of a table as `A | B | C`, so a snapshot does not depend on
/// widths that the redacted values change.
fn columns(table: &str) -> String {
    table
        .lines()
        .map(|l| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ps_table_snapshot() {
    let lab = Lab::new();
    lab.detached(&[
        "--name",
        "web",
        "-p",
        "8080:80",
        "-p",
        "9000-9001:90-91/udp",
        IMAGE,
        "httpd",
        "-f",
        "-p",
        "80",
    ]);
    lab.status(&[
        "run",
        "--name",
        "failed",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "exit 3",
    ]);
    lab.ok(&[
        "create",
        "--name",
        "fresh",
        "--network",
        "none",
        IMAGE,
        "echo",
        "a long command line cut at twenty",
    ]);
    let table = lab.ok(&["ps", "-a"]);
    let filters = vec![
        (r"\b[0-9a-f]{12}\b", "[ID]"),
        (
            r"(Less than a second|About a minute|\d+ seconds?|\d+ minutes) ago",
            "[WHEN] ago",
        ),
        (
            r"Up (Less than a second|About a minute|\d+ seconds?|\d+ minutes)",
            "Up [FOR]",
        ),
    ];
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("ps_a", columns(&table));
    });
    // The header and the cells line up (Go's tabwriter: 3 spaces apart).
    let lines: Vec<&str> = table.lines().collect();
    let at = lines[0].find("IMAGE").unwrap();
    assert!(
        lines[1..].iter().all(|l| &l[at..at + 4] == "bb:1"),
        "{table}"
    );
    let no_trunc = lab.ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"]);
    assert!(
        no_trunc.contains("\"echo a long command line cut at twenty\""),
        "{no_trunc}"
    );
    assert_eq!(
        no_trunc
            .lines()
            .next()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .len(),
        64
    );
}

#[test]
fn ps_formats_as_docker_reads_them() {
    let lab = Lab::new();
    lab.ok(&[
        "create",
        "--name",
        "one",
        "--network",
        "none",
        "--label",
        "tier=db",
        IMAGE,
        "true",
    ]);
    let out = lab.ok(&[
        "ps",
        "-a",
        "--format",
        "table {{.Names}}\\t{{.State}}\\t{{.Labels}}",
    ]);
    assert_eq!(
        out,
        "NAMES     STATE     LABELS\none       created   tier=db\n"
    );
    // Docker's header functions leave the titles alone.
    let out = lab.ok(&["ps", "-a", "--format", "table {{upper .Names}}"]);
    assert_eq!(out, "NAMES\nONE\n");
    let out = lab.ok(&["ps", "-a", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["Names"], "one");
    assert_eq!(v["State"], "created");
    assert_eq!(v["Status"], "Created");
    assert_eq!(v["Size"], "0B");
    let (code, out, err) = lab.status(&["ps", "-a", "-q", "--format", "{{.Names}}"]);
    assert_eq!((code, out.trim().len()), (0, 12));
    assert!(err.contains("Ignoring custom format, because both --format and --quiet are set"));
    let (code, _, err) = lab.status(&["ps", "-a", "--format", "{{.Nope}}"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("failed to execute template:"), "{err}");
    assert!(err.contains("Nope"), "{err}");
}

#[test]
fn inspect_snapshot_in_dockers_order() {
    let lab = Lab::new();
    lab.status(&[
        "run",
        "--name",
        "insp",
        "--memory",
        "64m",
        "--cpu-shares",
        "512",
        "-e",
        "GREETING=hi <you>",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "exit 3",
    ]);
    let text = lab.ok(&["inspect", "insp"]);
    let root = lab.root.path().display().to_string();
    let filters = vec![
        (root.as_str(), "[ROOT]"),
        (r"[0-9a-f]{64}", "[ID]"),
        (r"\b[0-9a-f]{12}\b", "[SHORT]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"glassbox-[0-9a-f]{6}", "glassbox-[TAG]"),
    ];
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("inspect_exited", text);
    });
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v[0]["State"]["ExitCode"], 3);
    assert_eq!(v[0]["HostConfig"]["Memory"], 64 << 20);
    assert!(
        text.contains("\"GREETING=hi \\u003cyou\\u003e\""),
        "Go's escapes"
    );
    assert!(
        text.starts_with("[\n    {\n        \"Id\": "),
        "four spaces, Id first"
    );
    // Templates with Docker's functions; an unknown key is an error.
    assert_eq!(
        lab.inspect("insp", "{{.State.Status}} {{.State.ExitCode}} {{json .Config.Cmd}} {{upper .Name}} {{join .Args \",\"}}"),
        "exited 3 [\"sh\",\"-c\",\"exit 3\"] /INSP -c,exit 3"
    );
    assert_eq!(
        lab.inspect(
            "insp",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"
        ),
        "none"
    );
    let (code, _, err) = lab.status(&["inspect", "-f", "{{.Nope}}", "insp"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("template parsing error") && err.contains("Nope"),
        "{err}"
    );
    let (code, out, err) = lab.status(&["inspect", "insp", "nosuch"]);
    assert_eq!(code, 1);
    assert!(out.contains("\"Name\": \"/insp\""));
    assert_eq!(err, "Error: No such object: nosuch\n");
}

#[test]
fn run_prints_nothing_of_its_own_and_logs_keep_the_streams_apart() {
    let lab = Lab::new();
    let (code, out, err) = lab.status(&[
        "run",
        "--name",
        "talk",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo out; sleep 0.1; echo err >&2; sleep 0.1; echo more",
    ]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "out\nmore\n", "err\n")
    );
    let (_, out, err) = lab.status(&["logs", "talk"]);
    assert_eq!((out.as_str(), err.as_str()), ("out\nmore\n", "err\n"));
    let (_, out, _) = lab.status(&["logs", "--tail", "1", "talk"]);
    assert_eq!(out, "more\n");
    let (_, out, err) = lab.status(&["logs", "-n", "0", "talk"]);
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    let out = lab.ok(&["logs", "-t", "talk"]);
    let re =
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z out\n\S+ more\n$").unwrap();
    assert!(re.is_match(&out), "{out}");
    let (code, _, err) = lab.status(&["logs", "--tail", "x", "talk"]);
    assert_eq!(code, 1);
    assert!(err.contains("--tail"), "{err}");
}

#[test]
fn logs_follow_ends_when_the_container_exits() {
    let lab = Lab::new();
    lab.detached(&[
        "--name",
        "slow",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo a; sleep 1; echo b",
    ]);
    let t = Instant::now();
    let out = lab.ok(&["logs", "-f", "slow"]);
    assert_eq!(out, "a\nb\n");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Of an exited container, at once.
    let t = Instant::now();
    assert_eq!(lab.ok(&["logs", "-f", "slow"]), "a\nb\n");
    assert!(t.elapsed() < Duration::from_secs(2));
}

/// The json-file log of a container, one JSON object per line.
fn log_entries(lab: &Lab, name: &str) -> Vec<serde_json::Value> {
    let path = lab.inspect(name, "{{.LogPath}}");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_json_file_log_is_dockers() {
    let lab = Lab::new();
    // A line of 16384 bytes is cut (the 16 KiB piece, then its newline
    // alone); one of 16383 is not; the last piece without a newline is
    // logged as it is.
    let script = "printf abc; echo; printf '%16384s\\n' x | tr ' ' y; printf '%16383s\\n' z | tr ' ' y; sleep 0.2; echo err >&2; sleep 0.2; printf tail";
    lab.ok(&[
        "run",
        "--name",
        "long",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let entries = log_entries(&lab, "long");
    let got: Vec<(usize, String, String)> = entries
        .iter()
        .map(|e| {
            let log = e["log"].as_str().unwrap();
            let shown = if log.len() > 20 {
                format!("{}...", &log[..3])
            } else {
                log.to_string()
            };
            (log.len(), shown, e["stream"].as_str().unwrap().to_string())
        })
        .collect();
    let want: Vec<(usize, String, String)> = [
        (4, "abc\n", "stdout"),
        (16384, "yyy...", "stdout"),
        (1, "\n", "stdout"),
        (16384, "yyy...", "stdout"),
        (4, "err\n", "stderr"),
        (4, "tail", "stdout"),
    ]
    .iter()
    .map(|(n, s, t)| (*n, s.to_string(), t.to_string()))
    .collect();
    assert_eq!(got, want);
    let time = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$").unwrap();
    assert!(
        entries
            .iter()
            .all(|e| time.is_match(e["time"].as_str().unwrap()))
    );
    // The raw line: Docker's field order.
    let path = lab.inspect("long", "{{.LogPath}}");
    let first = std::fs::read_to_string(path).unwrap();
    assert!(
        first.starts_with("{\"log\":\"abc\\n\",\"stream\":\"stdout\",\"time\":\""),
        "{first:.80}"
    );
    let out = lab.ok(&["logs", "long"]);
    assert!(
        out.starts_with("abc\nyyy") && out.ends_with("yz\ntail"),
        "{:?}",
        &out[out.len() - 10..]
    );
}

#[test]
fn log_opts_rotate_as_docker_does() {
    let lab = Lab::new();
    let script = "i=0; while [ $i -lt 40 ]; do echo line$i; i=$((i+1)); done";
    lab.ok(&[
        "run",
        "--name",
        "rot",
        "--network",
        "none",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let path = lab.inspect("rot", "{{.LogPath}}");
    let size = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let rotated = [format!("{path}.2"), format!("{path}.1")];
    for p in &rotated {
        let n = size(p);
        assert!(
            (1024..1024 + 80).contains(&n),
            "{p}: {n} bytes: rotated once 1k was reached"
        );
    }
    assert!(
        !std::path::Path::new(&format!("{path}.3")).exists(),
        "max-file=3 files in all"
    );
    // `logs` reads the rotated files too: nothing lost yet.
    let out = lab.ok(&["logs", "rot"]);
    assert_eq!(out.lines().count(), 40);
    assert!(out.starts_with("line0\n") && out.ends_with("line39\n"));
    assert_eq!(
        lab.inspect("rot", "{{json .HostConfig.LogConfig}}"),
        "{\"Config\":{\"max-file\":\"3\",\"max-size\":\"1024\"},\"Type\":\"json-file\"}"
    );
    // Docker's refusals.
    for (opt, want) in [
        ("max-size=0", "max-size must be a positive number"),
        ("max-file=0", "max-file cannot be less than 1"),
        ("max-size=1x", "invalid size: '1x'"),
        (
            "bogus=1",
            "unknown log opt 'bogus' for json-file log driver",
        ),
    ] {
        let (code, _, err) = lab.status(&["run", "--log-opt", opt, IMAGE, "true"]);
        assert_eq!(code, 125, "{opt}");
        assert!(err.contains(want), "{opt}: {err}");
    }
}

/// The log of container `loud` (created, not started: `first`, 100000
/// lines of 40 digits, `last`) alone on a tiny disk: a 64 KiB tmpfs whose
/// file is bound where the log goes. Dropped: unbound and unmounted.
struct FullLogDisk {
    log: std::path::PathBuf,
    _disk: common::tmpfs::Tmpfs,
}

impl Drop for FullLogDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.log).status();
    }
}

fn loud_with_a_full_log_disk(lab: &Lab) -> FullLogDisk {
    let id = lab
        .ok(&[
            "create",
            "--name",
            "loud",
            "--network",
            "none",
            IMAGE,
            "sh",
            "-c",
            "echo first; yes 0123456789012345678901234567890123456789 | head -n 100000; echo last",
        ])
        .trim()
        .to_string();
    let small = lab.root.path().join("small");
    let disk = common::tmpfs::Tmpfs::mount(&small, "64k");
    let log = std::path::PathBuf::from(lab.inspect(&id, "{{.LogPath}}"));
    std::fs::write(small.join("log"), b"").unwrap();
    std::fs::write(&log, b"").unwrap();
    let bind = std::process::Command::new("mount")
        .arg("--bind")
        .arg(small.join("log"))
        .arg(&log)
        .status()
        .unwrap();
    assert!(bind.success());
    FullLogDisk { log, _disk: disk }
}

#[test]
fn a_full_log_disk_never_blocks_the_container() {
    let lab = Lab::new();
    let disk = loud_with_a_full_log_disk(&lab);
    let t = Instant::now();
    let (code, out, err) = lab.status(&["start", "-a", "loud"]);
    let took = t.elapsed();
    drop(disk);
    // Attached, every line arrives though the log is full; the container
    // ends by itself, not blocked on its output.
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 100_002);
    assert!(out.ends_with("last\n"));
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert_eq!(lab.inspect("loud", "{{.State.ExitCode}}"), "0");
}

#[test]
fn a_full_log_disk_keeps_what_was_written_before() {
    let lab = Lab::new();
    let disk = loud_with_a_full_log_disk(&lab);
    lab.ok(&["start", "loud"]);
    assert_eq!(
        lab.ok(&["wait", "loud"]),
        "0\n",
        "the container ran to its end"
    );
    let out = lab.ok(&["logs", "loud"]);
    drop(disk);
    assert!(out.starts_with("first\n0123"), "{:.40}", out);
    let lines = out.lines().count();
    assert!(lines > 100 && lines < 100_000, "what fitted: {lines} lines");
    let odd: Vec<&str> = out
        .lines()
        .filter(|l| {
            !matches!(
                *l,
                "first" | "last" | "0123456789012345678901234567890123456789"
            )
        })
        .collect();
    assert!(odd.is_empty(), "whole entries only: {odd:?}");
}

#[test]
fn explain_says_why() {
    let lab = Lab::new();
    let out = lab.run(&[
        "--explain",
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "true",
    ]);
    assert!(out.status.success());
    let err = common::stderr(&out);
    assert!(
        err.contains("why:") || err.contains("The shim is the container's parent"),
        "{err}"
    );
    assert!(
        err.contains("clone(2)") && err.contains("pivot_root(2)"),
        "{err}"
    );
}

#[test]
fn a_dry_run_of_run_lists_the_whole_start_and_makes_nothing() {
    let lab = Lab::new();
    let before = common::entries(lab.root.path());
    for extra in [&["--network", "none"][..], &["-p", "8080:80", "--init"][..]] {
        let mut args = vec!["--dry-run", "-v", "run", "-d", "--name", "planned"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[IMAGE, "true"]);
        let out = lab.run(&args);
        let said = common::stderr(&out);
        assert!(out.status.success(), "{args:?}: {said}");
        // The start's steps, each only planned: the overlay the root would
        // be, the namespaces, the exec (of tini with --init).
        for step in ["mount overlay on ", "clone ", "exec "] {
            assert!(
                said.lines()
                    .any(|l| l.contains(step) && l.ends_with("planned")),
                "{args:?}: no planned step {step:?} in:\n{said}"
            );
        }
    }
    assert_eq!(
        common::entries(lab.root.path()),
        before,
        "a plan wrote state"
    );
    assert_eq!(lab.ok(&["ps", "-a", "-q"]), "", "a plan made a container");
}
