//! `glassbox ns run`: each namespace kind isolates what it should, exit
//! codes follow the shell and Docker, and nothing is left behind.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::process::Stdio;

use common::{TestRoot, require_root, stderr, stdout};

fn unique(tag: &str) -> String {
    format!("gbns-{tag}-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() % 1_000_000
}

/// Every process on the host that is in the namespace `link` (as
/// `readlink /proc/PID/ns/TYPE` prints it).
fn holders(kind: &str, link: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(l) = std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
            && l.to_string_lossy() == link
        {
            out.push(pid);
        }
    }
    out
}

#[test]
fn uts_hostname_changes_inside_only_and_stdout_is_only_cmd() {
    require_root();
    let root = TestRoot::new();
    let before = nix::unistd::gethostname().unwrap();
    let out = root.run(&["ns", "run", "--uts", "--hostname", "lab", "--", "hostname"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "lab\n");
    assert_eq!(nix::unistd::gethostname().unwrap(), before);
    // The inode table goes to stderr, before CMD runs.
    let err = stderr(&out);
    let uts = err
        .lines()
        .find(|l| l.contains(" uts "))
        .unwrap_or_else(|| panic!("no uts row in\n{err}"));
    assert!(uts.trim_end().ends_with("yes"), "{uts}");
    let net = err.lines().find(|l| l.contains(" net ")).unwrap();
    assert!(net.trim_end().ends_with('-'), "{net}");
}

#[test]
fn pid_cmd_is_pid_1_and_ps_lists_only_its_tree() {
    require_root();
    let root = TestRoot::new();
    let out = root.run(&[
        "ns",
        "run",
        "--pid",
        "--mnt",
        "--",
        "sh",
        "-c",
        "echo $$; ps -e -o pid=,comm=",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("1"), "{text}");
    let procs: Vec<(u32, String)> = lines
        .map(|l| {
            let mut w = l.split_whitespace();
            (
                w.next().unwrap().parse().unwrap(),
                w.next().unwrap().to_string(),
            )
        })
        .collect();
    assert!(procs.len() <= 2, "ps sees more than its tree: {procs:?}");
    assert!(procs.iter().any(|(_, c)| c == "ps"), "{procs:?}");
    assert!(procs.iter().all(|(p, _)| *p <= 3), "{procs:?}");
}

#[test]
fn mnt_a_tmpfs_mounted_inside_never_reaches_the_host() {
    require_root();
    let root = TestRoot::new();
    let tag = unique("tmpfs");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    // $PPID is glassbox itself, still in the host's mount namespace.
    let script = format!(
        "mount -t tmpfs {tag} {d} && grep -c {tag} /proc/self/mountinfo; grep -c {tag} /proc/$PPID/mountinfo; true"
    );
    let out = root.run(&["ns", "run", "--mnt", "--", "sh", "-c", &script]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "1\n0\n",
        "inside sees it once, the host never"
    );
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains(&tag));
    // The trace shows the propagation tags before and after.
    let err = stderr(&out);
    assert!(err.contains("propagation before:"), "{err}");
    assert!(err.contains("propagation after:  0 of"), "{err}");
}

#[test]
fn net_only_lo_and_it_is_down() {
    require_root();
    let root = TestRoot::new();
    let out = root.run(&["ns", "run", "--net", "--", "ip", "-o", "link"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("1: lo:"), "{text}");
    assert!(text.contains("state DOWN"), "{text}");
}

fn queue_keys(ipcs: &str) -> Vec<String> {
    ipcs.lines()
        .filter(|l| l.starts_with("0x"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn ipc_objects_do_not_cross_the_namespace() {
    require_root();
    let root = TestRoot::new();
    // A queue on the host...
    let made = std::process::Command::new("ipcmk")
        .arg("-Q")
        .output()
        .unwrap();
    let host_id: String = String::from_utf8_lossy(&made.stdout)
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let host_keys = queue_keys(&String::from_utf8_lossy(
        &std::process::Command::new("ipcs")
            .arg("-q")
            .output()
            .unwrap()
            .stdout,
    ));
    // ...is not visible inside; one made inside is not visible outside.
    let mut child = root
        .glassbox()
        .args(["ns", "run", "--ipc", "--", "sh", "-c"])
        .arg("ipcs -q; echo ---; ipcmk -Q >/dev/null; ipcs -q; echo done; sleep 20")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap() == 0 || l.trim() == "done" {
            break;
        }
        lines.push(l);
    }
    let text = lines.concat();
    let (before, after) = text.split_once("---").expect("marker");
    let outside_now = String::from_utf8_lossy(
        &std::process::Command::new("ipcs")
            .arg("-q")
            .output()
            .unwrap()
            .stdout,
    )
    .to_string();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::process::Command::new("ipcrm")
        .args(["-q", &host_id])
        .output();
    assert!(
        queue_keys(before).is_empty(),
        "host queues seen inside: {before}"
    );
    let inside = queue_keys(after);
    assert_eq!(inside.len(), 1, "{after}");
    assert!(!host_keys.is_empty());
    assert!(
        !queue_keys(&outside_now).contains(&inside[0]),
        "inside queue {} seen outside:\n{outside_now}",
        inside[0]
    );
}

#[test]
fn user_root_inside_owns_files_as_the_mapped_uid_outside() {
    require_root();
    let root = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let file = dir.path().join("made-inside");
    let script = format!("id -u; touch {}", file.display());
    let out = root.run(&[
        "ns",
        "run",
        "--user",
        "--map-root",
        "100000",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0\n", "root inside");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (100000, 100000));
    let err = stderr(&out);
    assert!(err.contains("uid_map: 0 100000 1"), "{err}");
    assert!(err.contains("gid_map: 0 100000 1"), "{err}");
}

/// A cgroup of our own to start glassbox in, so "/" inside means something.
struct TestCgroup(std::path::PathBuf);

impl TestCgroup {
    fn new() -> TestCgroup {
        let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let base = if v2 {
            "/sys/fs/cgroup"
        } else {
            "/sys/fs/cgroup/pids"
        };
        let p = std::path::Path::new(base).join(unique("cg"));
        std::fs::create_dir(&p).unwrap();
        TestCgroup(p)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn cgroup_inside_the_current_cgroup_is_the_root() {
    require_root();
    let root = TestRoot::new();
    let cg = TestCgroup::new();
    let name = cg.0.file_name().unwrap().to_string_lossy().to_string();
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs && exec \"$@\"",
                cg.0.display()
            ))
            .arg("sh")
            .arg(common::glassbox_bin())
            .arg("--root")
            .arg(root.path())
            .args(["ns", "run"])
            .args(extra)
            .args(["--", "cat", "/proc/self/cgroup"]);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let host_view = run(&["--uts"]);
    assert!(
        host_view.contains(&name),
        "not in the test cgroup: {host_view}"
    );
    let inside = run(&["--cgroup"]);
    assert!(!inside.contains(&name), "{inside}");
    for line in inside.lines() {
        assert!(line.ends_with(":/"), "not the root: {line}");
    }
}

#[test]
fn time_boottime_offset_shifts_uptime_inside() {
    require_root();
    let root = TestRoot::new();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = root.run(&[
        "ns",
        "run",
        "--time",
        "--boottime",
        "86400",
        "--",
        "cat",
        "/proc/uptime",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let inside: f64 = stdout(&out)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let shift = inside - host;
    assert!((86400.0..86460.0).contains(&shift), "shift {shift}");
}

#[test]
fn exit_codes_follow_the_shell_and_docker() {
    require_root();
    let root = TestRoot::new();
    let code = |args: &[&str]| {
        let mut all = vec!["ns", "run", "--uts", "--pid", "--mnt", "--"];
        all.extend_from_slice(args);
        root.run(&all)
    };
    assert_eq!(code(&["true"]).status.code(), Some(0));
    assert_eq!(code(&["sh", "-c", "exit 3"]).status.code(), Some(3));
    let missing = code(&["nosuchcmd"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(
        stderr(&missing).contains(r#"exec: "nosuchcmd": executable file not found in $PATH"#),
        "{}",
        stderr(&missing)
    );
    // PID 1 of a pid namespace cannot be SIGKILLed from inside: run CMD
    // without --pid to kill itself.
    let killed = root.run(&["ns", "run", "--uts", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(killed.status.code(), Some(128 + 9));
}

#[test]
fn nothing_holds_the_namespaces_after_exit() {
    require_root();
    let root = TestRoot::new();
    let out = root.run(&[
        "ns",
        "run",
        "--pid",
        "--mnt",
        "--net",
        "--uts",
        "--",
        "sh",
        "-c",
        "sleep 1000 & readlink /proc/self/ns/net /proc/self/ns/mnt",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let links: Vec<&str> = text.lines().collect();
    assert_eq!(links.len(), 2, "{text}");
    // When PID 1 exits the kernel kills the rest of its pid namespace; the
    // sleeper may take a moment to go: poll until a deadline, never a
    // fixed wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let held = || !holders("net", links[0]).is_empty() || !holders("mnt", links[1]).is_empty();
    while held() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        holders("net", links[0]).is_empty(),
        "{} still held",
        links[0]
    );
    assert!(
        holders("mnt", links[1]).is_empty(),
        "{} still held",
        links[1]
    );
}

#[test]
fn terminal_ctrl_c_reaches_cmd_in_the_foreground_group() {
    require_root();
    let root = TestRoot::new();
    // script(1) gives glassbox a terminal; the ^C typed into it must reach
    // CMD (the foreground group) and glassbox must report 130.
    let line = format!(
        "{} --root {} --no-color ns run --uts -- sh -c 'ps -o pid=,pgid=,tpgid= -p $$; sleep 30'; echo exit=$?",
        common::glassbox_bin().display(),
        root.path().display()
    );
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), format!("{line}\n")).unwrap();
    let started = std::time::Instant::now();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(sleep 1; printf '\\003'; sleep 1) | script -qec 'sh {}' /dev/null",
            script.path().display()
        ))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("exit=130"), "{text}");
    assert!(started.elapsed().as_secs() < 20, "Ctrl-C did not stop CMD");
    // pid == pgid == tpgid: CMD leads its own group, which owns the terminal.
    let ids: Vec<&str> = text
        .lines()
        .find(|l| l.split_whitespace().count() == 3 && !l.contains('='))
        .unwrap_or_else(|| panic!("no ps line in {text}"))
        .split_whitespace()
        .collect();
    assert_eq!(ids[0], ids[1], "{text}");
    assert_eq!(ids[1], ids[2], "{text}");
}

#[test]
fn killing_glassbox_takes_the_container_process_with_it() {
    require_root();
    let root = TestRoot::new();
    let tag = unique("orphan");
    let mut child = root
        .glassbox()
        .args([
            "ns",
            "run",
            "--pid",
            "--mnt",
            "--uts",
            "--hostname",
            &tag,
            "--",
        ])
        .args(["sh", "-c", "echo up; exec sleep 300"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n");
    let gb_pid = child.id();
    let sleeper = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|p| *p != gb_pid)
            .any(|p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.starts_with("sleep\x00300"))
                    && std::fs::read_link(format!("/proc/{p}/ns/uts"))
                        .is_ok_and(|l| l != std::fs::read_link("/proc/self/ns/uts").unwrap())
            })
    };
    // "up" comes just before the exec: give it a moment to happen.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !sleeper() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let was_running = sleeper();
    child.kill().unwrap(); // SIGKILL: glassbox cannot clean up by itself
    child.wait().unwrap();
    assert!(was_running, "CMD not found running");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while sleeper() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!sleeper(), "CMD outlived glassbox");
}
