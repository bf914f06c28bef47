//! The container lifecycle as a user of Docker drives it: the source
//! material's commands (`run -d --name`, `ps`, `ps -a`, `container ls -a`,
//! `container ls -f status=exited -q`, `rm $(ps -aq)`, `stop`, `start`),
//! `restart`, `kill`, `wait`, `top`, `stats`, `prune`, and Docker's exit
//! codes, each checked by what the user sees. Root, real kernel.

mod common;

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

#[test]
fn the_source_materials_commands_list_and_remove_as_docker_does() {
    let lab = Lab::new();
    let web = lab.detached(&["--name", "web", IMAGE, "sleep", "1000"]);
    assert_eq!(web.len(), 64, "run -d prints the whole id: {web}");
    assert!(web.bytes().all(|b| b.is_ascii_hexdigit()), "{web}");
    lab.ok(&["run", "--name", "done0", IMAGE, "true"]);
    lab.status(&["run", "--name", "done3", IMAGE, "sh", "-c", "exit 3"]);
    lab.ok(&["create", "--name", "fresh", IMAGE, "true"]);

    // ps: the running one only; -a and container ls -a: all four.
    let ps = lab.ps(&[]);
    assert_eq!(ps.len(), 2, "{ps:#?}");
    assert!(ps[0].starts_with("CONTAINER ID   IMAGE"), "{ps:#?}");
    assert!(
        ps[1].starts_with(&web[..12]) && ps[1].ends_with("web"),
        "{ps:#?}"
    );
    assert!(ps[1].contains("Up "), "{ps:#?}");
    for args in [&["ps", "-a"][..], &["container", "ls", "-a"][..]] {
        let out = lab.ok(args);
        let names: Vec<&str> = out
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().last().unwrap())
            .collect();
        // Newest first, as Docker lists them.
        assert_eq!(names, ["fresh", "done3", "done0", "web"], "{out}");
    }
    let all = lab.ok(&["ps", "-a"]);
    assert!(all.contains("Exited (3) "), "{all}");
    assert!(all.contains("Exited (0) "), "{all}");
    assert!(all.contains("Created "), "{all}");

    // -f status=exited -q: exactly the exited ones, as short ids.
    let exited: Vec<String> = lab
        .ok(&["container", "ls", "-f", "status=exited", "-q"])
        .lines()
        .map(String::from)
        .collect();
    let want: Vec<String> = ["done3", "done0"]
        .iter()
        .map(|n| lab.inspect(n, "{{.Id}}")[..12].to_string())
        .collect();
    assert_eq!(exited, want);

    // rm $(ps -aq): the running one is refused (exit 1, Docker's words),
    // the others go.
    let ids = lab.ok(&["ps", "-aq"]);
    let mut args = vec!["rm"];
    args.extend(ids.split_whitespace());
    let (code, out, err) = lab.status(&args);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "cannot remove container \"/web\": container is running: stop the container before removing or force remove"
        ),
        "{err}"
    );
    assert_eq!(out.lines().count(), 3, "the removed ones are echoed: {out}");
    assert_eq!(lab.ps(&["-aq"]), [web[..12].to_string()]);

    // rm -f $(ps -aq): nothing is listed any more.
    lab.run(&["run", "-d", "--name", "other", IMAGE, "sleep", "1000"]);
    let ids = lab.ok(&["ps", "-aq"]);
    let mut args = vec!["rm", "-f"];
    args.extend(ids.split_whitespace());
    lab.ok(&args);
    assert_eq!(lab.ps(&["-a"]).len(), 1, "only the header is left");
    assert!(lab.ok(&["ps", "-aq"]).is_empty());
}

#[test]
fn ps_filters_as_docker_reads_them() {
    let lab = Lab::new();
    lab.detached(&[
        "--name",
        "web-1",
        "--network",
        "none",
        IMAGE,
        "sleep",
        "1000",
    ]);
    lab.status(&["run", "--name", "job-1", IMAGE, "sh", "-c", "exit 5"]);
    lab.ok(&["run", "--name", "job-2", IMAGE, "true"]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ps", "--format", "{{.Names}}"];
        all.extend_from_slice(args);
        lab.ok(&all).lines().map(String::from).collect()
    };
    assert_eq!(names(&["-a", "-f", "name=^job"]), ["job-2", "job-1"]);
    assert_eq!(names(&["-a", "-f", "exited=5"]), ["job-1"]);
    // exited= alone does not list stopped containers (Docker needs -a).
    assert!(names(&["-f", "exited=5"]).is_empty());
    // status= does.
    assert_eq!(names(&["-f", "status=running"]), ["web-1"]);
    assert_eq!(names(&["-f", "status=exited", "-f", "name=2"]), ["job-2"]);
    assert_eq!(names(&["-a", "-f", "network=none"]), ["web-1"]);
    assert_eq!(names(&["-a", "-f", &format!("ancestor={IMAGE}")]).len(), 3);
    let id = lab.inspect("job-1", "{{.Id}}");
    assert_eq!(names(&["-a", "-f", &format!("id={}", &id[..8])]), ["job-1"]);
    // Bad filters: Docker's words, exit status 1.
    let (code, _, err) = lab.status(&["ps", "-f", "bogus=1"]);
    assert_eq!(
        (code, err.trim()),
        (1, "Error response from daemon: Invalid filter 'bogus'")
    );
    let (code, _, err) = lab.status(&["ps", "-f", "status=up"]);
    assert_eq!(code, 1);
    assert!(err.contains("Invalid filter 'status=up'"), "{err}");
    let (code, _, err) = lab.status(&["ps", "-f", "noequals"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad format of filter (expected name=value)"),
        "{err}"
    );
}

#[test]
fn stop_waits_then_kills_and_start_runs_again_on_the_same_layer() {
    let lab = Lab::new();
    // Ignores SIGTERM; says whether its file was there already.
    let script = "trap '' TERM; if [ -f /was-here ]; then echo again; else echo first; fi; touch /was-here; while :; do sleep 1; done";
    lab.detached(&["--name", "stubborn", IMAGE, "sh", "-c", script]);
    eventually("the first line", || {
        lab.ok(&["logs", "stubborn"]).contains("first")
    });
    let t = Instant::now();
    let out = lab.ok(&["stop", "-t", "2", "stubborn"]);
    let took = t.elapsed();
    assert_eq!(out, "stubborn\n", "stop echoes the name");
    assert!(
        took >= Duration::from_secs(2),
        "the grace period is waited: {took:?}"
    );
    assert!(took < Duration::from_secs(8), "then SIGKILL: {took:?}");
    assert_eq!(lab.inspect("stubborn", "{{.State.ExitCode}}"), "137");
    assert_eq!(lab.inspect("stubborn", "{{.State.Status}}"), "exited");
    assert!(lab.ok(&["ps", "-a"]).contains("Exited (137)"));

    // start: the same writable layer, so the file is still there.
    assert_eq!(lab.ok(&["start", "stubborn"]), "stubborn\n");
    eventually("the second run's line", || {
        lab.ok(&["logs", "stubborn"]).contains("again")
    });
    assert_eq!(lab.inspect("stubborn", "{{.State.Running}}"), "true");
    // Stopping a stopped container is no error (Docker echoes it too).
    lab.ok(&["kill", "stubborn"]);
    assert_eq!(lab.ok(&["stop", "stubborn"]), "stubborn\n");
}

#[test]
fn stop_sends_sigterm_first_and_a_handler_ends_it_at_once() {
    let lab = Lab::new();
    let script = "trap 'echo got TERM; exit 3' TERM; while :; do sleep 0.1; done";
    lab.detached(&["--name", "polite", IMAGE, "sh", "-c", script]);
    eventually("the init", || {
        lab.inspect("polite", "{{.State.Running}}") == "true"
    });
    let t = Instant::now();
    lab.ok(&["stop", "polite"]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(lab.inspect("polite", "{{.State.ExitCode}}"), "3");
    assert_eq!(lab.ok(&["logs", "polite"]), "got TERM\n");
}

#[test]
fn restart_stops_and_starts_on_the_same_layer() {
    let lab = Lab::new();
    let script = "echo run >> /runs; cat /runs | wc -l; sleep 1000";
    lab.detached(&["--name", "again", IMAGE, "sh", "-c", script]);
    eventually("the first run", || lab.ok(&["logs", "again"]) == "1\n");
    let started = lab.inspect("again", "{{.State.StartedAt}}");
    assert_eq!(lab.ok(&["restart", "-t", "1", "again"]), "again\n");
    eventually("the second run", || lab.ok(&["logs", "again"]) == "1\n2\n");
    assert_eq!(lab.inspect("again", "{{.State.Status}}"), "running");
    assert_ne!(lab.inspect("again", "{{.State.StartedAt}}"), started);
    // A stopped container is started by restart.
    lab.ok(&["kill", "again"]);
    lab.ok(&["restart", "again"]);
    eventually("the third run", || {
        lab.ok(&["logs", "again"]).ends_with("3\n")
    });
}

#[test]
fn kill_sends_the_signal_named_and_refuses_a_stopped_container() {
    let lab = Lab::new();
    let script = "trap 'echo got USR1' USR1; while :; do sleep 0.1; done";
    lab.detached(&["--name", "target", IMAGE, "sh", "-c", script]);
    eventually("the init", || {
        lab.inspect("target", "{{.State.Running}}") == "true"
    });
    assert_eq!(lab.ok(&["kill", "-s", "USR1", "target"]), "target\n");
    eventually("the trap", || lab.ok(&["logs", "target"]) == "got USR1\n");
    assert_eq!(lab.inspect("target", "{{.State.Running}}"), "true");
    let id = lab.inspect("target", "{{.Id}}");
    lab.ok(&["kill", &id[..10]]);
    assert_eq!(lab.ok(&["wait", "target"]), "137\n");
    let (code, out, err) = lab.status(&["kill", "target"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains(&format!(
            "Error response from daemon: Cannot kill container: target: Container {id} is not running"
        )),
        "{err}"
    );
    let (code, _, err) = lab.status(&["kill", "-s", "NOPE", "target"]);
    assert_eq!(code, 1);
    assert!(err.contains("Invalid signal: NOPE"), "{err}");
}

#[test]
fn wait_returns_at_once_for_an_exited_container_and_blocks_for_a_running_one() {
    let lab = Lab::new();
    lab.status(&["run", "--name", "seven", IMAGE, "sh", "-c", "exit 7"]);
    let t = Instant::now();
    assert_eq!(lab.ok(&["wait", "seven"]), "7\n");
    assert!(t.elapsed() < Duration::from_secs(2));
    lab.ok(&["create", "--name", "never", IMAGE, "true"]);
    assert_eq!(lab.ok(&["wait", "never"]), "0\n");
    lab.detached(&["--name", "later", IMAGE, "sh", "-c", "sleep 1; exit 4"]);
    let t = Instant::now();
    assert_eq!(lab.ok(&["wait", "later", "seven"]), "4\n7\n");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let (code, _, err) = lab.status(&["wait", "nosuch"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Error response from daemon: No such container: nosuch"),
        "{err}"
    );
}

#[test]
fn top_lists_the_containers_processes_with_ps_ef_columns() {
    let lab = Lab::new();
    lab.detached(&[
        "--name",
        "busy",
        IMAGE,
        "sh",
        "-c",
        "sleep 1000 & sleep 2000 & wait",
    ]);
    eventually("both sleeps", || {
        lab.ok(&["top", "busy"]).lines().count() == 4
    });
    let out = lab.ok(&["top", "busy"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert!(
        lines[0].starts_with("UID                 PID"),
        "20-wide columns: {out}"
    );
    let init = lab.inspect("busy", "{{.State.Pid}}");
    let rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][1], init, "the init, by its host pid: {out}");
    assert_eq!(rows[0][0], "root");
    assert_eq!(rows[0][5], "?");
    assert_eq!(rows[0][6], "00:00:00");
    assert_eq!(
        rows[0][7..].join(" "),
        "sh -c sleep 1000 & sleep 2000 & wait"
    );
    let cmds: Vec<String> = rows[1..].iter().map(|r| r[7..].join(" ")).collect();
    assert_eq!(cmds, ["sleep 1000", "sleep 2000"]);
    assert!(
        rows[1..].iter().all(|r| r[2] == init),
        "children of the init: {out}"
    );
    lab.ok(&["kill", "busy"]);
    lab.ok(&["wait", "busy"]);
    let (code, _, err) = lab.status(&["top", "busy"]);
    let id = lab.inspect("busy", "{{.Id}}");
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "Error response from daemon: Container {id} is not running"
        )),
        "{err}"
    );
}

#[test]
fn stats_reads_the_containers_cgroup_as_docker_computes_it() {
    let lab = Lab::new();
    // Half a CPU at most, so the reading is known even on a busy machine.
    lab.detached(&[
        "--name",
        "spin",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        IMAGE,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    lab.detached(&[
        "--name",
        "idle",
        "--network",
        "none",
        IMAGE,
        "sleep",
        "1000",
    ]);
    lab.ok(&["run", "--name", "gone", IMAGE, "true"]);
    let out = lab.ok(&["stats", "--no-stream"]);
    let lines: Vec<&str> = out.lines().collect();
    let titles: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(
        titles,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    assert_eq!(lines.len(), 3, "the running ones: {out}");
    let row = |name: &str| -> Vec<String> {
        let format =
            "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}";
        lab.ok(&["stats", "--no-stream", "--format", format, name])
            .trim()
            .split('|')
            .map(String::from)
            .collect()
    };
    let spin = row("spin");
    let cpu: f64 = spin[1].trim_end_matches('%').parse().unwrap();
    assert!(
        cpu > 10.0 && cpu < 56.0,
        "a busy loop, at most half a CPU: {spin:?}"
    );
    assert!(spin[2].ends_with(" / 64MiB"), "the limit: {spin:?}");
    assert_eq!(spin[6], "1");
    let idle = row("idle");
    let cpu: f64 = idle[1].trim_end_matches('%').parse().unwrap();
    assert!(cpu < 5.0, "{idle:?}");
    assert!(
        idle[2].ends_with("GiB"),
        "no limit: the machine's memory: {idle:?}"
    );
    assert_eq!(idle[4], "0B / 0B", "--network none: no interface but lo");
    // Not running: Docker's zeros.
    assert_eq!(
        row("gone")[1..],
        ["0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"]
    );
    let all = lab.ok(&["stats", "--no-stream", "-a", "--format", "table {{.Name}}"]);
    assert_eq!(all, "NAME\ngone\nidle\nspin\n");
}

#[test]
fn container_prune_asks_then_removes_the_stopped_and_counts_their_layers() {
    let lab = Lab::new();
    lab.detached(&["--name", "keep", IMAGE, "sleep", "1000"]);
    lab.ok(&[
        "run",
        "--name",
        "wrote",
        IMAGE,
        "sh",
        "-c",
        "head -c 1500 /dev/zero > /f",
    ]);
    lab.ok(&["create", "--name", "made", IMAGE, "true"]);
    // No -f and nothing on stdin: Docker's question, then nothing done.
    let (code, out, _) = lab.status(&["container", "prune"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(lab.ps(&["-aq"]).len(), 3);
    // `y` on stdin goes on.
    let wrote = lab.inspect("wrote", "{{.Id}}");
    let made = lab.inspect("made", "{{.Id}}");
    let mut child = lab
        .cmd()
        .args(["container", "prune"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        format!(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] Deleted Containers:\n{wrote}\n{made}\n\nTotal reclaimed space: 1.5kB\n"
        )
    );
    assert_eq!(lab.ps(&["-a", "--format", "{{.Names}}"])[..], ["keep"]);
    assert_eq!(
        lab.ok(&["container", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
}

#[test]
fn system_prune_removes_stopped_containers_and_asks_first() {
    let lab = Lab::new();
    lab.detached(&["--name", "keep", IMAGE, "sleep", "1000"]);
    lab.ok(&["run", "--name", "old", IMAGE, "true"]);
    let (code, out, _) = lab.status(&["system", "prune"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("WARNING! This will remove:\n  - all stopped containers\n"),
        "{out}"
    );
    assert!(
        out.ends_with("Are you sure you want to continue? [y/N] "),
        "{out}"
    );
    assert_eq!(lab.ps(&["-aq"]).len(), 2, "nothing removed without a yes");
    let old = lab.inspect("old", "{{.Id}}");
    let out = lab.ok(&["system", "prune", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Containers:\n{old}\n\n")),
        "{out}"
    );
    assert!(out.ends_with("Total reclaimed space: 0B\n"), "{out}");
    assert_eq!(lab.ps(&["-a", "--format", "{{.Names}}"])[..], ["keep"]);
    let help = lab.ok(&["system", "prune", "--help"]);
    let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("Not Docker's -a, which removes unused images"),
        "{help}"
    );
    assert!(help.contains("-f, --force"), "{help}");
    // --all: with no container left, the default network's bridge and its
    // masquerade go too (a scratch root leaves nothing on the host), and
    // the next run makes them again.
    let bridge = glassbox::state::Root::new(Some(lab.root.path()))
        .unwrap()
        .names()
        .default_bridge;
    let link_here = |name: &str| {
        std::process::Command::new("ip")
            .args(["-n", &lab.netns, "link", "show", name])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(link_here(&bridge), "the default bridge {bridge} is there");
    let out = lab.ok(&["system", "prune", "--all", "-f"]);
    assert!(!out.contains("removed bridge"), "keep still uses it: {out}");
    lab.ok(&["rm", "-f", "keep"]);
    let out = lab.ok(&["system", "prune", "--all", "-f"]);
    assert!(out.contains(&format!("removed bridge {bridge}")), "{out}");
    assert!(!link_here(&bridge), "{bridge} is left");
    let tables = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.netns, "nft", "list", "tables"])
        .output()
        .unwrap();
    assert_eq!(common::stdout(&tables), "", "a firewall table is left");
    assert_eq!(lab.ok(&["run", "--rm", IMAGE, "echo", "again"]), "again\n");
    assert!(link_here(&bridge), "the next run makes {bridge} again");
}

#[test]
fn run_exits_as_docker_run_does() {
    let lab = Lab::new();
    // The container's own code; nothing of glassbox's own on either stream.
    let (code, out, err) = lab.status(&["run", IMAGE, "echo", "hi"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "hi\n", ""));
    let (code, _, _) = lab.status(&["run", IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(code, 3);
    // 127: not found; the container is left Created, with the error.
    let (code, out, err) = lab.status(&["run", "--name", "nf", IMAGE, "nosuchcmd"]);
    assert_eq!(code, 127, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    assert_eq!(
        lab.inspect("nf", "{{.State.Status}} {{.State.ExitCode}}"),
        "created 127"
    );
    assert!(lab.inspect("nf", "{{.State.Error}}").contains("nosuchcmd"));
    // 126: found but cannot be run.
    let (code, _, err) = lab.status(&["run", "--name", "nx", IMAGE, "/etc"]);
    assert_eq!(code, 126, "{err}");
    assert_eq!(lab.inspect("nx", "{{.State.Status}}"), "created");
    // --rm: removed all the same.
    let (code, _, _) = lab.status(&["run", "--rm", "--name", "gone", IMAGE, "nosuchcmd"]);
    assert_eq!(code, 127);
    assert_eq!(lab.status(&["inspect", "gone"]).0, 1);
    // 125: glassbox fails (a bad option, an image it does not have).
    let (code, _, err) = lab.status(&["run", "--memory", "lots", IMAGE, "true"]);
    assert_eq!(code, 125, "{err}");
    let (code, _, err) = lab.status(&["run", "--name", "nf", IMAGE, "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("is already in use"), "{err}");
    let names = lab.ps(&["-a", "--format", "{{.Names}}"]);
    assert_eq!(
        names.len(),
        4,
        "no container made by a refused run: {names:?}"
    );
    // -d: the id only, once the init runs; 127 comes back the same way.
    let (code, out, err) = lab.status(&["run", "-d", IMAGE, "true"]);
    assert_eq!((code, out.trim().len(), err.as_str()), (0, 64, ""));
    let (code, out, _) = lab.status(&["run", "-d", IMAGE, "nosuchcmd"]);
    assert_eq!((code, out.as_str()), (127, ""));
}

#[test]
fn a_hundred_runs_print_hi_a_hundred_times_and_every_exit_code_arrives() {
    let lab = Lab::new();
    for i in 0..100 {
        let (code, out, err) =
            lab.status(&["run", "--rm", "--network", "none", IMAGE, "echo", "hi"]);
        assert_eq!((code, out.as_str()), (0, "hi\n"), "run {i}: {err}");
    }
    // A container that is gone before the command could look: the code
    // still arrives (attached, and through wait after -d).
    for i in 0..20 {
        let (code, _, err) = lab.status(&[
            "run",
            "--rm",
            "--network",
            "none",
            IMAGE,
            "sh",
            "-c",
            "exit 42",
        ]);
        assert_eq!(code, 42, "run {i}: {err}");
        let id = lab.detached(&["--network", "none", IMAGE, "sh", "-c", "exit 7"]);
        assert_eq!(lab.ok(&["wait", &id]), "7\n", "run -d {i}");
        lab.ok(&["rm", &id]);
    }
}

#[test]
fn start_attached_shows_the_output_and_returns_the_code() {
    let lab = Lab::new();
    lab.ok(&[
        "create",
        "--name",
        "att",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    ]);
    let (code, out, err) = lab.status(&["start", "-a", "att"]);
    assert_eq!((code, out.as_str(), err.as_str()), (5, "out\n", "err\n"));
    let (code, out, _) = lab.status(&["start", "att"]);
    assert_eq!((code, out.as_str()), (0, "att\n"));
    let (code, _, err) = lab.status(&["start", "-a", "att", "att"]);
    assert_eq!(code, 1);
    assert!(err.contains("you cannot start and attach multiple containers at once"));
    let (code, out, err) = lab.status(&["start", "att", "nosuch"]);
    assert_eq!((code, out.as_str()), (1, "att\n"));
    assert!(err.contains("No such container: nosuch"), "{err}");
}

/// The resident pages of `pid`'s own executable, in kB (from its smaps).
fn exe_rss_kb(pid: &str) -> u64 {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut total = 0;
    let mut ours = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            ours = line.ends_with(&*exe.to_string_lossy());
        } else if ours && first == "Rss:" {
            total += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    total
}

#[test]
fn an_idle_shim_gives_back_the_pages_of_its_start_and_still_serves_the_container() {
    let lab = Lab::new();
    lab.detached(&["--name", "idle", IMAGE, "sleep", "1000"]);
    let pid = lab.inspect("idle", "{{.State.Pid}}");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let shim = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let started = exe_rss_kb(&shim);
    // After a quiet second the shim drops the code only the start needed
    // (here: 19.8 MB of the debug build down to 6.7; 7.3 of the release
    // build down to 1.5).
    eventually("the shim to give back its pages", || {
        exe_rss_kb(&shim) * 2 < started
    });
    let idle = exe_rss_kb(&shim);
    eprintln!(
        "shim {shim}: {started} kB of its executable resident after the start, {idle} kB idle"
    );
    // What it serves still works: the kernel maps the code again.
    assert_eq!(
        lab.ok(&["exec", "idle", "echo", "still here"]).trim(),
        "still here"
    );
    lab.ok(&["stop", "-t", "1", "idle"]);
    assert_eq!(lab.inspect("idle", "{{.State.ExitCode}}"), "137");
    assert_eq!(lab.inspect("idle", "{{.State.Status}}"), "exited");
}
