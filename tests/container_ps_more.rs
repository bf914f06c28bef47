//! More of `ps` and `logs`, as a Docker user checks them: `--label` and
//! `--label-file` recorded and filtered by (`ps -f label=KEY`,
//! `label=KEY=VALUE`), the SIZE column of `ps -s` (the container's own
//! layer, and with its image's), `ps -n N` and `-l` (the last created, in
//! every state), and `logs --since`/`--until` in Docker's time forms
//! (RFC 3339 with and without a zone, Unix timestamps, durations), with
//! `-f` ending at `--until`. Root, real kernel; each test has its own
//! root and its own network namespace playing the host.

mod common;

use std::time::{Duration, Instant};

use common::lifecycle::{IMAGE, Lab};

/// `ps ARGS --format {{.Names}}`, one name a line.
fn names(lab: &Lab, args: &[&str]) -> String {
    let mut all = vec!["ps"];
    all.extend_from_slice(args);
    all.extend(["--format", "{{.Names}}"]);
    lab.ok(&all)
}

#[test]
fn labels_are_recorded_and_filtered_by_and_a_bad_one_makes_nothing() {
    let lab = Lab::new();
    let file = lab.root.path().join("labels");
    std::fs::write(&file, "# team labels\n\nteam=db\ntier=from-file\n").unwrap();
    lab.ok(&[
        "create",
        "--name",
        "l1",
        "--label",
        "tier=web",
        "--label",
        "solo",
        "--label-file",
        file.to_str().unwrap(),
        IMAGE,
        "true",
    ]);
    lab.ok(&["create", "--name", "l2", "-l", "tier=db", IMAGE, "true"]);
    lab.ok(&["create", "--name", "l3", IMAGE, "true"]);
    assert_eq!(
        lab.inspect("l1", "{{json .Config.Labels}}"),
        r#"{"solo":"","team":"db","tier":"web"}"#
    );
    assert_eq!(names(&lab, &["-a", "-f", "label=tier"]), "l2\nl1\n");
    assert_eq!(names(&lab, &["-a", "-f", "label=tier=web"]), "l1\n");
    assert_eq!(names(&lab, &["-a", "-f", "label=solo"]), "l1\n");
    assert_eq!(names(&lab, &["-a", "-f", "label=tier=nope"]), "");
    // Two labels must both hold; one key's values are alternatives.
    assert_eq!(
        names(&lab, &["-a", "-f", "label=tier", "-f", "label=team=db"]),
        "l1\n"
    );
    assert_eq!(
        lab.ok(&["ps", "-a", "-f", "name=l1", "--format", "{{.Labels}}"]),
        "solo=,team=db,tier=web\n"
    );
    // Docker's checks, before anything is made.
    let (code, _, err) = lab.status(&["create", "--label", "=x", IMAGE, "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains(
            "invalid argument \"=x\" for \"-l, --label\" flag: invalid label '=x': empty name"
        ),
        "{err}"
    );
    let (code, _, err) = lab.status(&["run", "--label", "a b=1", IMAGE, "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("label 'a b' contains whitespaces"), "{err}");
    let missing = lab.root.path().join("no-such-file");
    let (code, _, err) = lab.status(&[
        "create",
        "--label-file",
        missing.to_str().unwrap(),
        IMAGE,
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(err.contains("no-such-file"), "{err}");
    assert_eq!(lab.ok(&["ps", "-aq"]).lines().count(), 3);
}

#[test]
fn ps_size_shows_the_containers_own_layer_and_the_virtual_size() {
    let lab = Lab::new();
    lab.ok(&["run", "--name", "s1", IMAGE, "sh", "-c", "printf ab > /f"]);
    lab.ok(&["create", "--name", "s0", IMAGE, "true"]);
    let image: u64 = lab
        .ok(&["inspect", "-f", "{{.Size}}", IMAGE])
        .trim()
        .parse()
        .unwrap();
    let virt = |rw: u64| glassbox::container::human::human_size(image + rw, 3);
    assert_eq!(
        lab.ok(&["ps", "-a", "--format", "{{.Names}} {{.Size}}"]),
        format!("s0 0B (virtual {})\ns1 2B (virtual {})\n", virt(0), virt(2))
    );
    // `-s` adds Docker's SIZE column to the default table.
    let table = lab.ok(&["ps", "-a", "-s"]);
    let header = table.lines().next().unwrap();
    assert!(header.ends_with("NAMES     SIZE"), "{table}");
    let s1 = table.lines().find(|l| l.contains(" s1 ")).unwrap();
    assert!(
        s1.ends_with(&format!("s1        2B (virtual {})", virt(2))),
        "{table}"
    );
    // Without -s: no SIZE column.
    let plain = lab.ok(&["ps", "-a"]);
    assert!(plain.lines().next().unwrap().ends_with("NAMES"), "{plain}");
}

#[test]
fn ps_last_and_latest_list_the_newest_in_every_state() {
    let lab = Lab::new();
    lab.ok(&["run", "--name", "aa", IMAGE, "true"]);
    lab.ok(&["run", "-d", "--name", "bb", IMAGE, "sleep", "1000"]);
    lab.ok(&["create", "--name", "cc", IMAGE, "true"]);
    assert_eq!(names(&lab, &[]), "bb\n");
    assert_eq!(names(&lab, &["-n", "2"]), "cc\nbb\n");
    assert_eq!(names(&lab, &["--last", "5"]), "cc\nbb\naa\n");
    assert_eq!(names(&lab, &["-l"]), "cc\n");
    assert_eq!(names(&lab, &["--latest"]), "cc\n");
    // -n 0 (or -1, the default) is no limit: running ones only.
    assert_eq!(names(&lab, &["-n", "0"]), "bb\n");
    // The filter first, then the limit (Docker's order).
    assert_eq!(names(&lab, &["-l", "-f", "status=exited"]), "aa\n");
    assert_eq!(names(&lab, &["-n", "1", "-f", "name=bb"]), "bb\n");
    // -n wins over -l.
    assert_eq!(names(&lab, &["-l", "-n", "2"]), "cc\nbb\n");
    let c = lab.inspect("cc", "{{.Id}}");
    assert_eq!(lab.ok(&["ps", "-lq"]), format!("{}\n", &c[..12]));
}

/// The times of a container's log lines, as `logs -t` prints them.
fn times(lab: &Lab, name: &str) -> Vec<String> {
    lab.ok(&["logs", "-t", name])
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

fn nanos(t: &str) -> i128 {
    glassbox::container::since::entry_time(t).unwrap()
}

#[test]
fn logs_since_and_until_take_dockers_time_forms() {
    let lab = Lab::new();
    lab.ok(&[
        "run",
        "--name",
        "lg",
        IMAGE,
        "sh",
        "-c",
        "echo one; sleep 2; echo two",
    ]);
    let t = times(&lab, "lg");
    assert_eq!(t.len(), 2, "{t:?}");
    let (t1, t2) = (&t[0], &t[1]);
    let logs = |args: &[&str]| {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        all.push("lg");
        lab.ok(&all)
    };
    assert_eq!(logs(&[]), "one\ntwo\n");
    // RFC 3339 with a zone.
    assert_eq!(logs(&["--since", t2]), "two\n");
    assert_eq!(logs(&["--until", t1]), "one\n");
    assert_eq!(logs(&["--since", t1, "--until", t1]), "one\n");
    // A Unix timestamp with a fraction.
    let n2 = nanos(t2);
    let unix = format!("{}.{:09}", n2 / 1_000_000_000, n2 % 1_000_000_000);
    assert_eq!(logs(&["--since", &unix]), "two\n");
    // Durations back from now.
    assert_eq!(logs(&["--since", "1h"]), "one\ntwo\n");
    assert_eq!(logs(&["--since", "1h30m", "--tail", "1"]), "two\n");
    assert_eq!(logs(&["--until", "1h"]), "");
    // No zone: local time, here a zone two hours east of UTC. The second
    // of line two (whole seconds) is after line one, two seconds earlier.
    let secs2 = (n2 / 1_000_000_000) as i64;
    let local = glassbox::clock::rfc3339(secs2 + 7200);
    let local = local.trim_end_matches('Z');
    let out = lab
        .cmd()
        .env("TZ", "XYZ-2")
        .args(["logs", "--since", local, "lg"])
        .output()
        .unwrap();
    assert_eq!(common::stdout(&out), "two\n", "{out:?}");
    // What is no time: the Docker CLI's message, exit 1.
    let (code, out, err) = lab.status(&["logs", "--since", "nope", "lg"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "invalid value for \"since\": failed to parse value as time or duration: \"nope\"\n"
    );
    let (code, _, err) = lab.status(&["logs", "--until", "2024-13-01", "lg"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "invalid value for \"until\": parsing time \"2024-13-01\": month out of range\n"
    );
}

#[test]
fn logs_follow_ends_at_until() {
    let lab = Lab::new();
    lab.detached(&[
        "--name",
        "chatty",
        IMAGE,
        "sh",
        "-c",
        "while true; do echo x; sleep 0.2; done",
    ]);
    let began = Instant::now();
    // A negative duration is a time in the future: two seconds from now.
    let out = lab.ok(&["logs", "-f", "--until", "-2s", "chatty"]);
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert!(out.lines().count() >= 3, "{out}");
    assert!(out.lines().all(|l| l == "x"), "{out}");
}
