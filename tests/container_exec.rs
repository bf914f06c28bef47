//! `glassbox exec`: a process in a running container, as `docker exec`
//! starts one. Each test runs real containers (root, the real kernel) in
//! a private root with the host-made busybox image, and checks what a
//! user would: the container's namespaces, cgroup, environment, user and
//! capabilities from inside; a terminal through a pty; `-d` outliving the
//! command; Docker's messages and exit codes; the walls a joining process
//! needs (runc's CVE-2019-5736 and CVE-2024-21626); the plan.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::pty::{Screen, on_terminal, openpty, set_size};
use common::{TestRoot, require_root, stderr, stdout, wait_within};

/// A private root with the busybox image, a resolv.conf of its own (no
/// real DNS server reaches a container), glassbox in a network namespace
/// of its own playing the host (its bridges go with it), and the
/// containers it started removed when dropped.
struct Lab {
    root: TestRoot,
    files: tempfile::TempDir,
    netns: String,
}

impl Lab {
    fn new() -> Lab {
        require_root();
        let root = TestRoot::new();
        let files = tempfile::tempdir().unwrap();
        std::fs::write(files.path().join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap();
        let netns = format!("gbtexec{}", &uuid[..8]);
        let made = Command::new("ip")
            .args(["netns", "add", &netns])
            .status()
            .expect("spawn ip netns add");
        assert!(made.success(), "ip netns add {netns}");
        let lab = Lab { root, files, netns };
        lab.ok(&["image", "from-host", "/bin/busybox", "--tag", "bb:1"]);
        lab
    }

    /// `glassbox --root R ARGS` with the lab's resolv.conf.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .arg(common::glassbox_bin())
            .arg("--root")
            .arg(self.root.path())
            .arg("--no-color");
        c.env_remove("NO_COLOR");
        c.env(
            "GLASSBOX_RESOLV_CONF",
            self.files.path().join("resolv.conf"),
        )
        .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("spawn glassbox")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        common::assert_succeeded(args, &out);
        stdout(&out)
    }

    /// `run -d --name NAME EXTRA... bb:1 sleep 1000`: its id.
    fn start(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["bb:1", "sleep", "1000"]);
        self.ok(&args).trim().to_string()
    }

    /// `exec ARGS` run inside, stdout; it must succeed.
    fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["exec"];
        all.extend_from_slice(args);
        self.ok(&all)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, name]).trim().to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq", "--no-trunc"]);
        for id in stdout(&ids).split_whitespace() {
            let _ = self.run(&["rm", "-f", id]);
        }
        let _ = self.run(&["system", "prune", "--all", "-f"]);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

/// Exit code and both outputs, for the failure tests.
fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Poll `f` until it is true, up to `limit`.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

#[test]
fn exec_joins_every_namespace_the_cgroup_and_the_walls_of_the_container() {
    let lab = Lab::new();
    lab.start("web", &[]);
    // `exec NAME ip a`: the container's interface and address.
    let ip = lab.inspect("web", "{{.NetworkSettings.IPAddress}}");
    assert!(!ip.is_empty(), "the container has an address");
    let shown = lab.exec(&["web", "ip", "a"]);
    assert!(
        shown.contains(&format!("inet {ip}/")) && shown.contains("eth0"),
        "exec sees the container's eth0 with {ip}:\n{shown}"
    );
    // Every namespace is the init's, seen from inside.
    for ns in ["mnt", "uts", "ipc", "net", "pid", "cgroup"] {
        let both = lab.exec(&[
            "web",
            "sh",
            "-c",
            &format!("readlink /proc/self/ns/{ns}; readlink /proc/1/ns/{ns}"),
        ]);
        let v: Vec<&str> = both.lines().collect();
        assert_eq!(v.len(), 2, "{ns}: {both}");
        assert_eq!(v[0], v[1], "exec is in the init's {ns} namespace");
    }
    // Its processes, its hostname.
    let ps = lab.exec(&["web", "ps", "-o", "pid,args"]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "1000"]),
        "exec sees the container's init as PID 1:\n{ps}"
    );
    let id = lab.inspect("web", "{{.Id}}");
    assert_eq!(lab.exec(&["web", "hostname"]).trim(), &id[..12]);
    // Its cgroup: the same groups as the init (with the cgroup namespace,
    // `/` in every hierarchy; a process left in glassbox's own group
    // would show `/..` paths).
    let mine = lab.exec(&["web", "cat", "/proc/self/cgroup"]);
    let init = lab.exec(&["web", "cat", "/proc/1/cgroup"]);
    assert_eq!(mine, init, "exec is in the container's cgroup");
    assert!(!mine.contains(".."), "{mine}");
    // Docker's 14 capabilities, and no others even in the bounding set.
    let status = lab.exec(&["web", "cat", "/proc/self/status"]);
    for (field, want) in [
        ("CapEff", "00000000a80425fb"),
        ("CapPrm", "00000000a80425fb"),
        ("CapBnd", "00000000a80425fb"),
        ("CapInh", "0000000000000000"),
        ("CapAmb", "0000000000000000"),
    ] {
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in\n{status}"));
        assert!(line.ends_with(want), "{line}: want {want}");
    }
    // The mount namespace is the container's: its /proc walls too.
    let keys = std::fs::read_to_string("/proc/keys").unwrap_or_default();
    assert!(!keys.is_empty(), "the host shows its keys");
    let masked = lab.exec(&["web", "sh", "-c", "wc -c < /proc/keys"]);
    assert_eq!(masked.trim(), "0", "/proc/keys is masked");
    let mounts = lab.exec(&["web", "cat", "/proc/mounts"]);
    assert!(
        mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("/proc/sys") && l.contains(" ro,")),
        "/proc/sys is read-only:\n{mounts}"
    );
    // Cannot do what the dropped capabilities allow.
    let out = lab.run(&["exec", "web", "hostname", "other"]);
    assert!(!out.status.success(), "no CAP_SYS_ADMIN: sethostname fails");
    assert_eq!(lab.exec(&["web", "hostname"]).trim(), &id[..12]);
}

#[test]
fn exec_has_the_containers_environment_working_dir_and_user() {
    let lab = Lab::new();
    lab.start("app", &["-e", "X=run", "-e", "KEEP=1", "-w", "/srv"]);
    let env = lab.exec(&["-e", "X=exec", "-e", "A=1", "app", "env"]);
    let lines: Vec<&str> = env.lines().collect();
    let id = lab.inspect("app", "{{.Id}}");
    // Docker's order: PATH, HOSTNAME, the container's, exec's -e, HOME.
    assert_eq!(
        lines,
        [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            &format!("HOSTNAME={}", &id[..12]),
            "X=exec",
            "KEEP=1",
            "A=1",
            "HOME=/root",
        ],
        "{env}"
    );
    let env_file = lab.files.path().join("e.env");
    std::fs::write(&env_file, "# a comment\nFROM_FILE=yes\n").unwrap();
    let env = lab.exec(&["--env-file", env_file.to_str().unwrap(), "app", "env"]);
    assert!(env.lines().any(|l| l == "FROM_FILE=yes"), "{env}");
    // -t adds TERM, as Docker's exec does; without -t there is none.
    assert!(!env.contains("TERM="), "{env}");
    let env = lab.exec(&["-t", "app", "env"]);
    assert!(env.lines().any(|l| l.trim_end() == "TERM=xterm"), "{env}");
    // The container's working directory, or -w.
    assert_eq!(lab.exec(&["app", "pwd"]).trim(), "/srv");
    assert_eq!(lab.exec(&["-w", "/tmp", "app", "pwd"]).trim(), "/tmp");
    // -u resolved in the container's own /etc/passwd and /etc/group: a
    // group only the container has lists nobody.
    lab.exec(&[
        "app",
        "sh",
        "-c",
        "echo execgroup:x:4242:nobody >> /etc/group",
    ]);
    assert_eq!(
        lab.exec(&["-u", "nobody", "app", "id"]).trim(),
        "uid=65534(nobody) gid=65534(nogroup) groups=4242(execgroup),65534(nogroup)"
    );
    assert_eq!(
        lab.exec(&["-u", "nobody", "app", "sh", "-c", "echo $HOME"])
            .trim(),
        "/nonexistent"
    );
    // Its own pipes and terminal are the user's: it can open them by name.
    assert_eq!(
        lab.exec(&[
            "-u",
            "nobody",
            "app",
            "sh",
            "-c",
            "echo reopened > /dev/stdout"
        ]),
        "reopened\n"
    );
    assert_eq!(
        lab.exec(&[
            "-t",
            "-u",
            "nobody",
            "app",
            "sh",
            "-c",
            "echo mine > $(tty)"
        ])
        .trim(),
        "mine"
    );
    assert_eq!(
        lab.exec(&["-u", "4000:4001", "app", "id"]).trim(),
        "uid=4000 gid=4001 groups=4001"
    );
    assert_eq!(
        lab.exec(&["app", "id"]).trim(),
        "uid=0(root) gid=0(root) groups=0(root)"
    );
    // Without -u, the container's user.
    lab.start("asnobody", &["-u", "nobody"]);
    assert_eq!(
        lab.exec(&["asnobody", "id", "-u"]).trim(),
        "65534",
        "exec runs as the container's user"
    );
    let status = lab.exec(&["asnobody", "cat", "/proc/self/status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("CapEff:") && l.ends_with("0000000000000000")),
        "a user other than root has no effective capabilities, as in Docker:\n{status}"
    );
}

#[test]
fn exec_passes_streams_and_exit_codes_through() {
    let lab = Lab::new();
    lab.start("io", &[]);
    let out = lab.run(&["exec", "io", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(code(&out), Some(3), "the command's exit code");
    assert_eq!(stdout(&out), "out\n", "stdout stays stdout");
    assert_eq!(stderr(&out), "err\n", "stderr stays stderr");
    // A signal: 128+N.
    let out = lab.run(&["exec", "io", "sh", "-c", "kill -9 $$"]);
    assert_eq!(code(&out), Some(137));
    // -i: this command's input, and its end closes the process's stdin.
    let mut child = lab
        .cmd(&["exec", "-i", "io", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
    let status = wait_within(&mut child, Duration::from_secs(20), "exec -i cat");
    let mut got = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    assert!(status.success());
    assert_eq!(got, "hi\n");
    // Without -i the process reads nothing (and does not wait for input).
    let out = lab
        .cmd(&["exec", "io", "cat"])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    // What glassbox receives is passed on: SIGINT ends the process.
    let mut child = lab
        .cmd(&["exec", "io", "sleep", "300"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(20), || lab
            .exec(&["io", "ps", "-o", "args"])
            .lines()
            .any(|l| l.trim() == "sleep 300")),
        "the sleep runs"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(20), "SIGINT");
    assert_eq!(status.code(), Some(130), "the process died of SIGINT");
    assert!(
        !lab.exec(&["io", "ps", "-o", "args"])
            .lines()
            .any(|l| l.trim() == "sleep 300"),
        "nothing is left running in the container"
    );
}

#[test]
fn exec_ti_is_a_terminal_of_the_container_with_resize_ctrl_c_and_exit_status() {
    let lab = Lab::new();
    lab.start("tty", &[]);
    let (master, slave) = openpty(24, 80);
    let before = nix::sys::termios::tcgetattr(&slave).unwrap();
    // glassbox on a terminal of its own, as when typed at a shell: its
    // session's controlling terminal, in the foreground.
    let mut cmd = lab.cmd(&["exec", "-ti", "tty", "/bin/sh"]);
    on_terminal(&mut cmd, &slave);
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut screen = Screen::watch(&master);
    let mut keys = std::fs::File::from(master.try_clone().unwrap());
    screen.expect("# ");
    // The process's terminal is one of the container's own devpts.
    keys.write_all(b"tty\r").unwrap();
    screen.expect("/dev/pts/");
    let raw = nix::sys::termios::tcgetattr(&slave).unwrap();
    assert!(
        !raw.local_flags
            .contains(nix::sys::termios::LocalFlags::ICANON),
        "glassbox's terminal is in raw mode while attached"
    );
    keys.write_all(b"stty size\r").unwrap();
    screen.expect("24 80");
    // A resize of glassbox's terminal reaches the container's.
    set_size(&master, 33, 77);
    let mut followed = false;
    for _ in 0..50 {
        keys.write_all(b"stty size\r").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        if screen.shows("33 77") {
            followed = true;
            break;
        }
    }
    assert!(followed, "stty size never showed 33 77:\n{}", screen.text());
    screen.expect("33 77");
    // Ctrl-C is the container's terminal's: it interrupts the command,
    // not the shell nor glassbox.
    keys.write_all(b"sleep 300\r").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    keys.write_all(b"\x03").unwrap();
    keys.write_all(b"echo rc=$?\r").unwrap();
    screen.expect("rc=130");
    assert!(child.try_wait().unwrap().is_none(), "glassbox survived ^C");
    // The shell's exit status is glassbox's.
    keys.write_all(b"exit 7\r").unwrap();
    let status = wait_within(&mut child, Duration::from_secs(20), "exit 7");
    assert_eq!(status.code(), Some(7), "{}", screen.text());
    // The terminal is as it was.
    let after = nix::sys::termios::tcgetattr(&slave).unwrap();
    assert_eq!(after.local_flags, before.local_flags, "lflag restored");
    assert_eq!(after.input_flags, before.input_flags, "iflag restored");
    assert_eq!(after.output_flags, before.output_flags, "oflag restored");
    drop(keys);
    drop(master);
}

/// The host pids of the processes whose command line contains `part`.
fn host_pids_with(part: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmd)
            .replace('\0', " ")
            .contains(part)
        {
            out.push(pid);
        }
    }
    out
}

/// Field `n` (1-based, after the command name) of `/proc/PID/stat`.
fn stat_field(pid: u32, n: usize) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(n - 3)?.parse().ok()
}

#[test]
fn exec_d_outlives_the_command_in_a_session_of_its_own() {
    let lab = Lab::new();
    lab.start("bg", &[]);
    let started = Instant::now();
    let out = lab.run(&[
        "exec",
        "-d",
        "bg",
        "sh",
        "-c",
        "sleep 3; echo done > /tmp/marker",
    ]);
    common::assert_succeeded(&["exec", "-d"], &out);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "exec -d returns at once ({:?})",
        started.elapsed()
    );
    assert_eq!(stdout(&out), "", "exec -d prints nothing");
    // The command is gone; the process runs on, its parent a helper in a
    // session of its own (not this test's).
    let helpers = host_pids_with(&format!(
        "{} --no-color exec -d bg",
        lab.root.path().display()
    ));
    assert_eq!(helpers.len(), 1, "one helper: {helpers:?}");
    let helper = helpers[0];
    assert_eq!(
        stat_field(helper, 6),
        Some(helper as i64),
        "the helper leads its own session"
    );
    assert_ne!(stat_field(helper, 4), Some(std::process::id() as i64));
    let ps = lab.exec(&["bg", "ps", "-o", "args"]);
    assert!(ps.contains("sleep 3"), "{ps}");
    assert!(
        eventually(Duration::from_secs(20), || {
            lab.run(&["exec", "bg", "cat", "/tmp/marker"]).stdout == b"done\n"
        }),
        "the process finished its work after the command returned"
    );
    assert!(
        eventually(Duration::from_secs(10), || !host_pids_with(&format!(
            "{} --no-color exec -d bg",
            lab.root.path().display()
        ))
        .contains(&helper)),
        "the helper leaves with its process"
    );
    // With a terminal nobody reads, the helper drains it.
    lab.ok(&[
        "exec",
        "-dt",
        "bg",
        "sh",
        "-c",
        "yes | head -c 300000; echo ok > /tmp/tty-marker",
    ]);
    assert!(
        eventually(Duration::from_secs(20), || {
            lab.run(&["exec", "bg", "cat", "/tmp/tty-marker"]).stdout == b"ok\n"
        }),
        "a -dt process never blocks on its terminal"
    );
    // A command that is not there: Docker's answer to exec -d.
    let out = lab.run(&["exec", "-d", "bg", "nosuchcmd"]);
    assert_eq!(code(&out), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "Error response from daemon: OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuchcmd\": executable file not found in $PATH: unknown"
    );
    // The container's end is the process's: rm -f leaves no helper.
    lab.ok(&["exec", "-d", "bg", "sleep", "1000"]);
    let pattern = format!(
        "{} --no-color exec -d bg sleep 1000",
        lab.root.path().display()
    );
    assert_eq!(host_pids_with(&pattern).len(), 1);
    lab.ok(&["rm", "-f", "bg"]);
    assert!(
        eventually(Duration::from_secs(20), || host_pids_with(&pattern)
            .is_empty()),
        "the helper and its process end with the container"
    );
}

#[test]
fn exec_refuses_and_fails_in_dockers_words_and_leaves_nothing() {
    let lab = Lab::new();
    let id = lab.start("on", &[]);
    let procs = || lab.exec(&["on", "ps", "-o", "pid,args"]);
    let before: Vec<String> = procs()
        .lines()
        .filter(|l| !l.contains("ps -o"))
        .map(String::from)
        .collect();
    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (
            vec!["exec", "nosuch", "ls"],
            1,
            "Error response from daemon: No such container: nosuch".into(),
        ),
        (
            vec!["exec", "on", "nosuchcmd"],
            127,
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuchcmd\": executable file not found in $PATH: unknown".into(),
        ),
        (
            vec!["exec", "on", "/no/such"],
            127,
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"/no/such\": stat /no/such: no such file or directory: unknown".into(),
        ),
        (
            vec!["exec", "on", "/etc/passwd"],
            126,
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"/etc/passwd\": permission denied: unknown".into(),
        ),
        (
            vec!["exec", "-u", "ghost", "on", "id"],
            126,
            "unable to find user ghost: no matching entries in passwd file".into(),
        ),
        (
            vec!["exec", "-u", "nobody:ghosts", "on", "id"],
            126,
            "unable to find group ghosts: no matching entries in group file".into(),
        ),
        (
            vec!["exec", "-w", "tmp", "on", "pwd"],
            126,
            "OCI runtime exec failed: exec failed: Cwd must be an absolute path: unknown".into(),
        ),
        (
            vec!["exec", "-it", "on", "sh"],
            1,
            "the input device is not a TTY".into(),
        ),
    ];
    for (args, want_code, want) in &cases {
        let out = lab.run(args);
        assert_eq!(code(&out), Some(*want_code), "{args:?}\n{}", stderr(&out));
        // Docker's message is the last line (an exec that fails at
        // execve(2) shows that step of the trace first, as every failed
        // step is shown).
        let err = stderr(&out);
        assert_eq!(err.trim().lines().last(), Some(want.as_str()), "{args:?}");
        assert!(
            want_code == &126 || err.trim() == want,
            "{args:?}: nothing but Docker's message\n{err}"
        );
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    // A working directory that is not there: 126, and it is named.
    let out = lab.run(&["exec", "-w", "/nonexistent", "on", "pwd"]);
    assert_eq!(code(&out), Some(126));
    let err = stderr(&out);
    assert!(
        err.starts_with("OCI runtime exec failed: exec failed: unable to start container process:")
            && err.contains("/nonexistent")
            && err.contains("No such file or directory"),
        "{err}"
    );
    // Nothing was left running in the container.
    let after: Vec<String> = procs()
        .lines()
        .filter(|l| !l.contains("ps -o"))
        .map(String::from)
        .collect();
    assert_eq!(before, after, "no process of a failed exec is left");
    // A container that is not running: created, then exited.
    lab.ok(&["create", "--name", "made", "bb:1", "true"]);
    let made = lab.inspect("made", "{{.Id}}");
    lab.ok(&["run", "--name", "ended", "bb:1", "true"]);
    let ended = lab.inspect("ended", "{{.Id}}");
    lab.ok(&["stop", "-t", "1", "on"]);
    for (name, cid) in [("made", &made), ("ended", &ended), ("on", &id)] {
        let out = lab.run(&["exec", name, "ls"]);
        assert_eq!(code(&out), Some(1), "{name}");
        assert_eq!(
            stderr(&out).trim(),
            format!("Error response from daemon: container {cid} is not running"),
            "{name}"
        );
    }
    // No command: clap's usage error.
    let out = lab.run(&["exec", "made"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("<COMMAND>"), "{}", stderr(&out));
}

/// A directory of the host, opened without close-on-exec as descriptor 7
/// of the glassbox command (what a careless caller, or runc's own leaked
/// cgroup descriptor in CVE-2024-21626, hands the process that joins).
fn with_host_dir_as_fd_7(cmd: &mut Command, dir: &Path) {
    let f = std::fs::File::open(dir).unwrap();
    let raw = f.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe calls: dup2 of
    // an open descriptor onto 7 (dup2 clears close-on-exec).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 7) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The File must outlive the spawn: leak it into the command's lifetime.
    std::mem::forget(f);
}

#[test]
fn exec_cannot_reach_the_host_through_an_inherited_descriptor() {
    let lab = Lab::new();
    lab.start("walls", &[]);
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("HOST_SECRET"), "host\n").unwrap();
    // -w /proc/self/fd/7: the working directory would be the host's.
    let mut cmd = lab.cmd(&["exec", "-w", "/proc/self/fd/7", "walls", "ls"]);
    with_host_dir_as_fd_7(&mut cmd, host.path());
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        !stdout(&out).contains("HOST_SECRET"),
        "exec listed the host's directory:\n{}",
        stdout(&out)
    );
    assert_eq!(code(&out), Some(126), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/proc/self/fd/7"),
        "the working directory is named: {}",
        stderr(&out)
    );
    // A program of the host's through the descriptor: the host's static
    // busybox would run inside the container's namespaces.
    let host_bin = PathBuf::from("/bin/busybox").canonicalize().unwrap();
    let depth = host.path().components().count() - 1;
    let through = format!(
        "/proc/self/fd/7/{}{}",
        "../".repeat(depth),
        host_bin.display().to_string().trim_start_matches('/')
    );
    let mut cmd = lab.cmd(&["exec", "walls", &through, "echo", "escaped"]);
    with_host_dir_as_fd_7(&mut cmd, host.path());
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        !stdout(&out).contains("escaped"),
        "a host program ran in the container through {through}"
    );
    assert_eq!(code(&out), Some(127), "{}", stderr(&out));
    // The process itself holds nothing but its stdio.
    let mut cmd = lab.cmd(&["exec", "walls", "ls", "/proc/self/fd"]);
    with_host_dir_as_fd_7(&mut cmd, host.path());
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let fds: Vec<String> = stdout(&out).split_whitespace().map(String::from).collect();
    assert!(
        fds.iter()
            .all(|f| ["0", "1", "2", "3"].contains(&f.as_str())),
        "only stdio (and ls's own listing): {fds:?}"
    );
}

#[test]
fn the_container_cannot_open_glassbox_through_proc_while_it_joins() {
    let lab = Lab::new();
    lab.start("watch", &[]);
    // A watcher inside lists every process's program as fast as it can;
    // the process that joins is glassbox's own binary until it execs.
    let bin = common::glassbox_bin().canonicalize().unwrap();
    lab.ok(&[
        "exec",
        "-d",
        "watch",
        "sh",
        "-c",
        "while :; do ls -l /proc/[0-9]*/exe 2>/dev/null; done | grep -m1 glassbox > /tmp/seen",
    ]);
    for _ in 0..60 {
        lab.exec(&["watch", "true"]);
    }
    let seen = lab.exec(&["watch", "cat", "/tmp/seen"]);
    assert!(
        !seen.contains(&bin.display().to_string()),
        "a process of the container opened glassbox's binary through /proc/PID/exe: {seen}"
    );
}

#[test]
fn exec_plans_without_root_and_the_plan_is_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::new();
    lab.start("plan", &[]);
    let procs = || {
        lab.exec(&["plan", "ps", "-o", "args"])
            .lines()
            .filter(|l| !l.starts_with("ps "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let before = procs();
    // As root: the plan lists exactly the steps the real exec takes.
    let steps = common::plan::assert_plan_is_the_run(
        "exec",
        |flags| {
            let mut c = lab.cmd(flags);
            c.args(["exec", "plan", "true"]).stdin(Stdio::null());
            c
        },
        &[(r#""(\d+|PID)""#, "\"PID\"")],
    );
    for want in [
        "ns syscall make glassbox non-dumpable before its child joins the container",
        "ns syscall join the pid namespace for the next child",
        "ns syscall join the mnt namespace",
        "ns syscall keep 14 capabilities, drop the rest",
        "ns process exec true",
    ] {
        assert!(steps.iter().any(|s| s == want), "{want:?} in {steps:#?}");
    }
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("cgroup file-write write \"PID\" to ")
                && s.ends_with("/cgroup.procs")),
        "{steps:#?}"
    );
    // As nobody, who cannot read the root's records: a plan all the same,
    // the init named PID.
    let trace = lab.files.path().join("nobody.jsonl");
    std::fs::write(&trace, "").unwrap();
    nix::unistd::chown(&trace, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    std::fs::set_permissions(lab.files.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // (In the host's network namespace: nobody may not enter the lab's.)
    let out = lab
        .root
        .glassbox()
        .args(["--dry-run", "--trace-json", trace.to_str().unwrap()])
        .args(["exec", "plan", "ip", "a"])
        .current_dir("/")
        .stdin(Stdio::null())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let steps = common::plan::read_trace(&trace);
    assert!(steps.iter().all(|s| s.result == "planned"), "{steps:#?}");
    let summaries: Vec<&str> = steps.iter().map(|s| s.summary.as_str()).collect();
    for want in [
        "read the record of container plan (needs root: not read in this plan)",
        "check that /proc/PID/ns/mnt is a mnt namespace (not known in this plan)",
        "join the pid namespace for the next child",
        "join the net namespace",
        "exec ip",
    ] {
        assert!(summaries.contains(&want), "{want:?} in {summaries:#?}");
    }
    // Nothing was left running.
    assert_eq!(procs(), before);
}

#[test]
fn a_crash_at_any_step_of_exec_leaves_nothing() {
    let lab = Lab::new();
    // No network: a bridge's objects stay (the network outlives its
    // containers), and `system prune` must leave nothing here.
    lab.start("crash", &["--network", "none"]);
    let procs = || {
        let ps = lab.exec(&["crash", "ps", "-o", "args"]);
        ps.lines()
            .filter(|l| !l.starts_with("ps ") && l.trim() != "COMMAND")
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let before = procs();
    for detach in [false, true] {
        let n = common::crash::each_crash_point(
            || {
                let mut c = lab.cmd(&["exec"]);
                if detach {
                    c.arg("-d");
                }
                c.args(["crash", "true"]).stdin(Stdio::null());
                c
            },
            |k, _| {
                let checks = common::crash::doctor(&lab.root);
                let (status, text) = common::crash::check(&checks, "leftovers");
                assert_eq!(status, "ok", "crash point {k}: {text}");
                // The next exec works; no process of the crashed one stays.
                lab.exec(&["crash", "true"]);
                assert!(
                    eventually(Duration::from_secs(10), || procs() == before),
                    "crash point {k} (detach: {detach}): {:?}",
                    procs()
                );
            },
        );
        // Attached: every step is this command's; detached, the helper's
        // steps are its own (a crash of the command after it started the
        // helper leaves the helper to finish).
        assert!(n >= if detach { 1 } else { 5 }, "exec's crash points: {n}");
        eprintln!("exec{}: {n} crash points", if detach { " -d" } else { "" });
    }
    lab.ok(&["rm", "-f", "crash"]);
    common::crash::assert_clean_after_prune(&lab.root, "exec");
}

#[test]
fn exec_waits_for_an_orphan_holding_its_output_without_spinning() {
    let lab = Lab::new();
    lab.start("orphan", &[]);
    // The shell exits at once; the orphan keeps the output pipe open for
    // 2 s, which exec drains before it returns.
    #[allow(clippy::zombie_processes)] // reaped below by wait4, which gives its rusage
    let child = lab
        .cmd(&["exec", "orphan", "sh", "-c", "(sleep 2; echo late) &"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let used = cpu(usage.ru_utime) + cpu(usage.ru_stime);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    // Polling an exited process's pidfd over and over took a whole CPU
    // for those 2 s; waiting takes next to nothing.
    assert!(
        used < 0.5,
        "exec used {used:.2} s of CPU waiting for the orphan"
    );
}
