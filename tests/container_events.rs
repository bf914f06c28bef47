//! `glassbox events`: the events log every command and shim appends to,
//! replayed with `--since`/`--until` in the order things happened, followed
//! live, filtered and formatted as Docker's `docker events`; an event that
//! cannot be written never fails the command. Root, real kernel, each test
//! on its own state root (so it sees only its own events).

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};

/// Now, as a Unix timestamp with nanoseconds (one of Docker's forms).
fn now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// `events --since T0 --until T1 --format '{{json .}}'`, each event as
/// `TYPE ACTION NAME [exitCode=N] [signal=N]` (a network event names its
/// network and says which container).
fn replay(lab: &Lab, since: &str, until: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "events",
        "--since",
        since,
        "--until",
        until,
        "--format",
        "{{json .}}",
    ];
    args.extend_from_slice(extra);
    lab.ok(&args)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let a = &v["Actor"]["Attributes"];
            let mut s = format!(
                "{} {} {}",
                v["Type"].as_str().unwrap(),
                v["Action"].as_str().unwrap(),
                a["name"].as_str().unwrap_or("")
            );
            for k in ["exitCode", "signal"] {
                if let Some(x) = a[k].as_str() {
                    s.push_str(&format!(" {k}={x}"));
                }
            }
            assert_eq!(v["scope"], "local", "{l}");
            assert!(v["timeNano"].as_i64().unwrap() / 1_000_000_000 == v["time"].as_i64().unwrap());
            s
        })
        .collect()
}

#[test]
fn since_and_until_replay_a_sequence_of_commands_in_order() {
    let lab = Lab::new();
    lab.ok(&["network", "create", "evnet"]);
    let t0 = now();
    lab.ok(&["create", "--name", "first", IMAGE, "sh", "-c", "exit 3"]);
    lab.ok(&["start", "first"]);
    assert_eq!(lab.ok(&["wait", "first"]).trim(), "3");
    lab.detached(&["--name", "second", IMAGE, "sleep", "100"]);
    lab.ok(&["network", "connect", "evnet", "second"]);
    lab.ok(&["network", "disconnect", "evnet", "second"]);
    lab.ok(&["rm", "-f", "second"]);
    lab.ok(&["rm", "first"]);
    let t1 = now();
    // Something after --until is not shown.
    lab.ok(&["create", "--name", "later", IMAGE, "true"]);
    let seen = replay(&lab, &t0, &t1, &[]);
    assert_eq!(
        seen,
        [
            "container create first",
            "network connect bridge",
            "container start first",
            "container die first exitCode=3",
            "network disconnect bridge",
            "container create second",
            "network connect bridge",
            "container start second",
            "network connect evnet",
            "network disconnect evnet",
            "container kill second signal=9",
            "container die second exitCode=137",
            "network disconnect bridge",
            "container destroy second",
            "container destroy first",
        ],
        "{seen:#?}"
    );
    // A network event says which container, and is the network's.
    let net: serde_json::Value =
        serde_json::from_str(&lab.ok(&["network", "inspect", "evnet"])).unwrap();
    let net_id = net[0]["Id"].as_str().unwrap().to_string();
    let json = lab.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &t1,
        "--filter",
        "network=evnet",
        "--format",
        "json",
    ]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["Actor"]["ID"], net_id.as_str(), "{json}");
    assert_eq!(first["Actor"]["Attributes"]["type"], "bridge", "{json}");
    assert_eq!(
        first["Actor"]["Attributes"]["container"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    // Docker's other time forms: RFC 3339 and a duration. A duration is
    // counted back from now in whole seconds (as the Docker CLI sends it):
    // wait for the second of the last event to pass.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let rfc = lab.ok(&["events", "--since", "2000-01-01T00:00:00Z", "--until", "0s"]);
    assert!(rfc.lines().count() > seen.len(), "{rfc}");
    let none = lab.ok(&["events", "--since", "2000-01-01", "--until", "2000-01-02"]);
    assert_eq!(none, "");
}

/// Lines from a running `events`, as they come.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn a_live_events_process_sees_run_d_then_stop_in_dockers_text() {
    let lab = Lab::new();
    // An event from before `events` started is not shown live.
    lab.ok(&["create", "--name", "before", IMAGE, "true"]);
    let mut live = lab
        .cmd()
        .args(["events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut live);
    std::thread::sleep(Duration::from_millis(500));
    let id = lab.detached(&["--name", "live", IMAGE, "sleep", "100"]);
    lab.ok(&["stop", "-t", "1", "live"]);
    let mut got: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !got.iter().any(|l| l.contains(" container stop ")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => got.push(l),
            Err(_) => break,
        }
    }
    let _ = live.kill();
    let _ = live.wait();
    let actions: Vec<String> = got
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            format!("{} {}", f[1], f[2])
        })
        .collect();
    assert_eq!(
        actions,
        [
            "container create",
            "network connect",
            "container start",
            "container kill",
            "container kill",
            "container die",
            "network disconnect",
            "container stop",
        ],
        "{got:#?}"
    );
    // Docker's default line: the time with nine digits of fraction, the
    // type, the action, the id, the attributes sorted.
    let create = &got[0];
    let (time, rest) = create.split_once(' ').unwrap();
    assert_eq!(
        time.len(),
        "2026-12-02T10:00:00.000000000Z".len(),
        "{create}"
    );
    assert!(
        time.ends_with('Z') && time.as_bytes()[19] == b'.',
        "{create}"
    );
    assert_eq!(
        rest,
        format!("container create {id} (image={IMAGE}, name=live)")
    );
    assert!(
        got[3].ends_with("(image=bb:1, name=live, signal=15)"),
        "{got:#?}"
    );
    assert!(
        got[4].ends_with("(image=bb:1, name=live, signal=9)"),
        "{got:#?}"
    );
    assert!(
        got[5].contains("(exitCode=137, image=bb:1, name=live)"),
        "{got:#?}"
    );
    assert!(!got.iter().any(|l| l.contains("name=before")), "{got:#?}");
}

#[test]
fn filters_and_formats_as_docker() {
    let lab = Lab::new();
    let t0 = now();
    let (rc, _, err) = lab.status(&[
        "run",
        "--name",
        "front",
        "--label",
        "tier=front",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "exit 4",
    ]);
    assert_eq!(rc, 4, "{err}");
    lab.ok(&["run", "--name", "back", "--network", "none", IMAGE, "true"]);
    let t1 = now();
    let f = |extra: &[&str]| -> String {
        let mut a = vec![
            "events",
            "--since",
            &t0,
            "--until",
            &t1,
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ];
        a.extend_from_slice(extra);
        lab.ok(&a)
    };
    assert_eq!(
        f(&["--filter", "event=die"]),
        "container die front\ncontainer die back\n"
    );
    assert_eq!(
        f(&["--filter", "event=die", "--filter", "container=back"]),
        "container die back\n"
    );
    assert_eq!(
        f(&["--filter", "container=fr", "--filter", "event=start"]),
        "container start front\n"
    );
    assert_eq!(
        f(&[
            "--filter",
            "label=tier=front",
            "--filter",
            "event=create",
            "--filter",
            "event=die"
        ]),
        "container create front\ncontainer die front\n"
    );
    assert_eq!(
        f(&["--filter", "image=bb", "--filter", "event=start"])
            .lines()
            .count(),
        2
    );
    assert_eq!(f(&["--filter", "type=network"]), "");
    let code = lab.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &t1,
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]);
    assert_eq!(code, "4\n0\n");

    // Bad input, as Docker answers it.
    let (rc, _, err) = lab.status(&["events", "--until", "0s", "--filter", "colour=red"]);
    assert_eq!(
        (rc, err.trim()),
        (1, "Error response from daemon: invalid filter 'colour'")
    );
    let (rc, _, err) = lab.status(&["events", "--until", "0s", "--filter", "nonsense"]);
    assert_eq!(rc, 125, "{err}");
    assert!(
        err.contains("bad format of filter (expected name=value)"),
        "{err}"
    );
    let (rc, _, err) = lab.status(&["events", "--until", "0s", "--format", "{{.Action"]);
    assert_eq!(rc, 64, "{err}");
    assert!(err.starts_with("Error parsing format: "), "{err}");
    let (rc, _, err) = lab.status(&["events", "--since", "yesterday"]);
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("failed to parse value as time or duration: \"yesterday\""),
        "{err}"
    );
    let (rc, _, err) = lab.status(&["events", "--since", "1m", "--until", "2m"]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("cannot be after `until` time"), "{err}");
    // `system events` is the same command.
    let again = lab.ok(&[
        "system",
        "events",
        "--since",
        &t0,
        "--until",
        &t1,
        "--filter",
        "event=destroy",
    ]);
    assert_eq!(again, "");
}

#[test]
fn a_failed_event_write_is_a_warning_not_a_failure() {
    let lab = Lab::new();
    // The log's place is taken by a directory: no event can be written.
    let log = lab.root.path().join("events.log");
    std::fs::create_dir(&log).unwrap();
    let (rc, out, err) = lab.status(&[
        "run",
        "--name",
        "quiet",
        "--network",
        "none",
        IMAGE,
        "echo",
        "hi",
    ]);
    assert_eq!((rc, out.as_str()), (0, "hi\n"), "{err}");
    assert!(
        err.contains("warning: could not record the event \"container create\""),
        "{err}"
    );
    let (rc, out, err) = lab.status(&["rm", "quiet"]);
    assert_eq!((rc, out.trim()), (0, "quiet"), "{err}");
    assert!(err.contains("\"container destroy\""), "{err}");
    assert!(lab.ps(&["-aq"]).is_empty());
    std::fs::remove_dir(&log).unwrap();
}

#[test]
fn an_oom_kill_is_an_oom_event_then_a_die_with_137_and_restart_is_one_too() {
    let lab = Lab::new();
    let t0 = now();
    let (rc, _, err) = lab.status(&[
        "run",
        "--name",
        "hog",
        "--network",
        "none",
        "--memory",
        "32m",
        IMAGE,
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=200M",
        "count=1",
    ]);
    assert_eq!(rc, 137, "{err}");
    lab.detached(&[
        "--name",
        "again",
        "--network",
        "none",
        IMAGE,
        "sleep",
        "100",
    ]);
    lab.ok(&["restart", "-t", "0", "again"]);
    let t1 = now();
    let seen = replay(
        &lab,
        &t0,
        &t1,
        &[
            "--filter",
            "event=oom",
            "--filter",
            "event=die",
            "--filter",
            "event=restart",
        ],
    );
    assert_eq!(
        seen,
        [
            "container oom hog",
            "container die hog exitCode=137",
            "container die again exitCode=137",
            "container restart again",
        ],
        "{seen:#?}"
    );
}

#[test]
fn pause_unpause_and_rename_are_events_too() {
    let lab = Lab::new();
    let t0 = now();
    lab.detached(&["--name", "old", IMAGE, "sleep", "100"]);
    lab.ok(&["pause", "old"]);
    lab.ok(&["unpause", "old"]);
    lab.ok(&["rename", "old", "new"]);
    lab.ok(&["rm", "-f", "new"]);
    let t1 = now();
    let seen = lab.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &t1,
        "--filter",
        "event=pause",
        "--filter",
        "event=unpause",
        "--filter",
        "event=rename",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(seen, "pause old\nunpause old\nrename new\n");
    let json = lab.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &t1,
        "--filter",
        "event=rename",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Actor"]["Attributes"]["oldName"], "/old", "{json}");
}
