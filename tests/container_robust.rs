//! The shim's hard cases (issue 12, item 3) and the robustness of the
//! container commands, on the real kernel: a shim killed with SIGKILL, a
//! simulated reboot, `run -d --rm` with the CLI gone, a record left marked
//! for removal, the shim's detachment checked from /proc, `run -d`
//! returning only once the command runs, 20 containers made and removed
//! at once, and 10 racing `run --name same`.

mod common;
mod netlab;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::crash::check;
use common::probe::{
    self, Ctr, IMAGE, assert_no_container_left, cgroup_dirs_of, container_leftovers, leases,
    mounts_under, process_gone, veths, wait_for,
};
use common::{stderr, stdout};

/// A container's shim pid and its init's, from the record.
fn pids(c: &Ctr, id: &str) -> (u32, u32) {
    let r = c.record(id).expect("the record");
    (
        r["State"]["ShimPid"].as_u64().unwrap() as u32,
        r["State"]["Pid"].as_u64().unwrap() as u32,
    )
}

/// The pids in a container's cgroup (its first hierarchy).
fn procs_of(root: &Path, id: &str) -> Vec<u32> {
    let dirs = cgroup_dirs_of(root, id);
    let text = std::fs::read_to_string(dirs[0].join("cgroup.procs")).unwrap();
    text.split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn kill9(pid: u32) {
    // SAFETY: kill(2) of a process this test started (through glassbox).
    assert_eq!(
        unsafe { libc::kill(pid as i32, libc::SIGKILL) },
        0,
        "kill -9 {pid}"
    );
}

/// Doctor's "leftovers" check, run in the lab's host namespace.
fn lab_doctor_clean(lab: &netlab::Lab, what: &str) {
    let out = lab.run(&["doctor", "--json"]);
    let checks: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let (status, detail) = check(&checks, "leftovers");
    assert_eq!(status, "ok", "{what}: doctor leftovers: {detail}");
}

#[test]
fn a_shim_killed_with_sigkill_leaves_an_exited_container_and_rm_removes_everything() {
    let c = Ctr::new();
    let id = c.run_d(&[
        "--name",
        "victim",
        IMAGE,
        "sh",
        "-c",
        "sleep 1001 & exec sleep 1000",
    ]);
    let (shim, init) = pids(&c, &id);
    assert!(wait_for(Duration::from_secs(5), || procs_of(c.path(), &id)
        .len()
        >= 2));
    let inside = procs_of(c.path(), &id);
    assert!(inside.contains(&init), "{inside:?} lacks the init {init}");
    assert!(!leases(c.path()).is_empty() && !veths(c.path(), Some(&c.netns)).is_empty());

    kill9(shim);
    assert!(wait_for(Duration::from_secs(5), || process_gone(shim)));

    // The next command sees the shim's lock free: exited, with a code.
    let status = c.status("victim");
    assert!(status.starts_with("Exited (137)"), "ps -a says {status:?}");
    let running = c.ok(&["ps", "-q"]);
    assert!(running.trim().is_empty(), "ps still lists {running}");
    assert_eq!(
        c.inspect(
            "victim",
            "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}"
        ),
        "exited false 137 0"
    );
    // Nothing of the container keeps running, nothing of its run is left.
    for p in &inside {
        assert!(
            wait_for(Duration::from_secs(5), || process_gone(*p)),
            "process {p} of the container survived its shim"
        );
    }
    assert!(
        cgroup_dirs_of(c.path(), &id).is_empty(),
        "its cgroup is left"
    );
    assert!(
        mounts_under(c.path()).is_empty(),
        "mounts left: {:?}",
        mounts_under(c.path())
    );
    assert!(veths(c.path(), Some(&c.netns)).is_empty(), "veths left");
    assert!(
        leases(c.path()).is_empty(),
        "leases left: {:?}",
        leases(c.path())
    );
    c.assert_doctor_clean("after the shim's death");

    c.ok(&["rm", "victim"]);
    c.assert_nothing_left("rm after the shim's death");
    c.assert_doctor_clean("after rm");
}

#[test]
fn a_live_shim_is_known_by_its_lock_not_by_its_pid() {
    let c = Ctr::new();
    let id = c.run_d(&["--name", "alive", IMAGE, "sleep", "1000"]);
    let (shim, _) = pids(&c, &id);
    // The record names a shim pid that is dead: the lock says it lives.
    let path = c.path().join("containers").join(&id).join("config.json");
    let mut r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    r["State"]["ShimPid"] = serde_json::json!(u32::MAX - 1);
    std::fs::write(&path, serde_json::to_string(&r).unwrap()).unwrap();
    let status = c.status("alive");
    assert!(
        status.starts_with("Up"),
        "a live shim was taken for dead: {status:?}"
    );
    assert!(!process_gone(shim));
    c.ok(&["rm", "-f", "alive"]);
    assert!(wait_for(Duration::from_secs(5), || process_gone(shim)));
    c.assert_nothing_left("rm -f");
}

/// Simulate a reboot of the lab's "host": kill the shims (their inits die
/// with them), unmount the overlays and netns pins, remove the cgroups,
/// the links, the nft table, turn ip_forward off, empty the run directory,
/// and change the boot id recorded in the container records.
fn simulate_reboot(lab: &netlab::Lab, ids: &[String]) {
    let root = lab.root.path();
    for id in ids {
        let r = probe::record(root, id).unwrap();
        let shim = r["State"]["ShimPid"].as_u64().unwrap() as u32;
        let init = r["State"]["Pid"].as_u64().unwrap() as u32;
        kill9(shim);
        assert!(wait_for(Duration::from_secs(5), || process_gone(shim)
            && process_gone(init)));
    }
    for m in mounts_under(root).iter().rev() {
        netlab::sh(&format!("umount -l {m}"));
    }
    for id in ids {
        for d in cgroup_dirs_of(root, id) {
            assert!(
                wait_for(Duration::from_secs(5), || std::fs::remove_dir(&d).is_ok()),
                "rmdir {}",
                d.display()
            );
        }
    }
    let parent = probe::names(root).cgroup_parent;
    for m in probe::cgroup_mounts() {
        let _ = std::fs::remove_dir(m.join(&parent));
    }
    let names = lab.names();
    let _ = netlab::sh_ok(&format!(
        "ip -n {} link del {}",
        lab.host, names.default_bridge
    ));
    for v in veths(root, Some(&lab.host)) {
        let _ = netlab::sh_ok(&format!("ip -n {} link del {v}", lab.host));
    }
    let _ = netlab::sh_ok(&format!(
        "ip netns exec {} nft delete table ip {}",
        lab.host, names.firewall_table
    ));
    lab.host_sh("echo 0 > /proc/sys/net/ipv4/ip_forward");
    let run = root.join("run");
    for e in common::entries(&run) {
        let p = run.join(e);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    for id in ids {
        let path = root.join("containers").join(id).join("config.json");
        let mut r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        r["State"]["BootId"] = serde_json::json!("00000000-0000-4000-8000-000000000000");
        std::fs::write(&path, serde_json::to_string(&r).unwrap()).unwrap();
    }
}

/// A lab with the busybox image.
fn lab_with_image() -> netlab::Lab {
    let lab = netlab::Lab::new();
    lab.ok(&["image", "from-host", "/bin/busybox", "--tag", IMAGE]);
    lab
}

fn lab_rm_all(lab: &netlab::Lab) {
    let ids = lab.ok(&["ps", "-aq"]);
    for id in ids.split_whitespace() {
        lab.ok(&["rm", "-f", id]);
    }
}

#[test]
fn after_a_reboot_every_container_is_exited_and_the_network_is_made_again() {
    let mut lab = lab_with_image();
    let (out, host_side, out_side) = lab.outside();
    let _server = netlab::tcp_server(&out, 7000, "outside");
    let target = format!("{out_side}:7000");
    let ask_outside = |lab: &netlab::Lab| {
        lab.ok(&["run", "--rm", IMAGE, "nc", &out_side, "7000"])
            .trim()
            .to_string()
    };
    let before = ask_outside(&lab);
    assert_eq!(
        before,
        format!("outside peer={host_side}"),
        "masquerade before ({target})"
    );
    let mut ids = Vec::new();
    for args in [
        vec!["--name", "up1", IMAGE, "sleep", "1000"],
        vec![
            "--name",
            "none1",
            "--network",
            "none",
            IMAGE,
            "sleep",
            "1000",
        ],
    ] {
        let mut all = vec!["run", "-d"];
        all.extend(args);
        ids.push(lab.ok(&all).trim().to_string());
    }

    simulate_reboot(&lab, &ids);
    assert!(!lab.nft_table_exists());

    // Every container shows as exited, as Docker shows them after a reboot.
    for name in ["up1", "none1"] {
        let state = lab.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}",
            name,
        ]);
        assert_eq!(state.trim(), "exited false 255", "{name}");
    }
    let ps = lab.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    for line in ps.lines() {
        assert!(line.contains(" Exited (255) "), "{ps}");
    }
    assert!(lab.ok(&["ps", "-q"]).trim().is_empty());

    // The next run on the default bridge makes again what it needs: the
    // bridge, the nft table (masquerade), ip_forward.
    let after = ask_outside(&lab);
    assert_eq!(
        after,
        format!("outside peer={host_side}"),
        "masquerade after the reboot"
    );
    assert!(lab.nft_table_exists(), "the nft table was not made again");
    assert_eq!(lab.host_sh("cat /proc/sys/net/ipv4/ip_forward").trim(), "1");
    assert!(
        leases(lab.root.path()).is_empty(),
        "stale leases: {:?}",
        leases(lab.root.path())
    );

    lab.ok(&["rm", "up1", "none1"]);
    assert_no_container_left(lab.root.path(), Some(&lab.host), "rm after the reboot");
    lab_doctor_clean(&lab, "after the reboot and rm");
}

#[test]
fn after_a_reboot_stale_ports_and_leases_are_dropped() {
    let lab = lab_with_image();
    let id = lab
        .ok(&[
            "run",
            "-d",
            "--name",
            "web1",
            "-p",
            "127.0.0.1:8081:80",
            IMAGE,
            "nc",
            "-ll",
            "-p",
            "80",
            "-e",
            "hostname",
        ])
        .trim()
        .to_string();
    let host = lab.host.clone();
    assert!(
        wait_for(Duration::from_secs(5), || netlab::tcp_get(
            &host,
            "127.0.0.1:8081"
        )
        .is_ok_and(|s| s == id[..12])),
        "web1 does not answer on 127.0.0.1:8081 before the reboot"
    );
    simulate_reboot(&lab, std::slice::from_ref(&id));
    let state = lab.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "web1",
    ]);
    assert_eq!(state.trim(), "exited 255");
    assert!(
        leases(lab.root.path()).is_empty(),
        "{:?}",
        leases(lab.root.path())
    );
    assert!(probe::published_ports(lab.root.path()).is_empty());
    // The same host port again, for another container: its old rule is gone.
    let id2 = lab
        .ok(&[
            "run",
            "-d",
            "--name",
            "web2",
            "-p",
            "127.0.0.1:8081:80",
            IMAGE,
            "nc",
            "-ll",
            "-p",
            "80",
            "-e",
            "hostname",
        ])
        .trim()
        .to_string();
    assert!(
        wait_for(Duration::from_secs(5), || netlab::tcp_get(
            &host,
            "127.0.0.1:8081"
        )
        .is_ok_and(|s| s == id2[..12])),
        "web2 does not answer on 127.0.0.1:8081 after the reboot"
    );
    assert_eq!(leases(lab.root.path()), vec!["bridge/web2".to_string()]);
    lab_rm_all(&lab);
    assert_no_container_left(lab.root.path(), Some(&lab.host), "rm after the reboot");
}

#[test]
fn run_d_rm_removes_itself_with_the_cli_gone() {
    let c = Ctr::new();
    let id = c.run_d(&["--rm", "--name", "brief", IMAGE, "sleep", "1"]);
    // No glassbox command from here on: the shim alone removes it.
    let dir = c.path().join("containers").join(&id);
    assert!(dir.exists());
    assert!(
        wait_for(Duration::from_secs(15), || !dir.exists()),
        "the container is still there: {:?}",
        container_leftovers(c.path(), Some(&c.netns))
    );
    probe::wait_shim_gone(&id);
    c.assert_nothing_left("run -d --rm");
}

/// `run -d --rm --name NAME IMAGE true` with the shim's crash point at
/// step `k`: the id when `run -d` succeeded (the shim got past the start),
/// once the shim is gone.
fn run_rm_crashing_shim(c: &Ctr, name: &str, k: usize) -> Option<String> {
    let out = c
        .cmd(&["run", "-d", "--rm", "--name", name, IMAGE, "true"])
        .env("GLASSBOX_SHIM_CRASH_AFTER_STEP", k.to_string())
        .output()
        .unwrap();
    let id = stdout(&out).trim().to_string();
    if !out.status.success() || id.is_empty() {
        // The shim died while it started the container: `--rm` took it
        // away already, or rm -f copes; what a shim that died in the middle
        // of removing it left (its runtime directory, no record) is
        // `system prune`'s.
        c.run(&["rm", "-f", name]);
        c.ok(&["system", "prune", "-f"]);
        let left = c.ok(&["ps", "-a", "--format", "{{.Names}}"]);
        assert!(!left.lines().any(|l| l == name), "{name} is left: {left}");
        return None;
    }
    probe::wait_shim_gone(&id);
    Some(id)
}

#[test]
fn a_record_left_marked_for_removal_by_a_crash_is_removed_by_the_next_command() {
    let c = Ctr::new();
    // The first crash point past the start (run -d succeeds from there on):
    // the shim's teardown begins there, with the exit and the mark.
    let (mut lo, mut hi) = (1usize, 400usize);
    while lo < hi {
        let k = (lo + hi) / 2;
        match run_rm_crashing_shim(&c, &format!("probe{k}"), k) {
            Some(id) => {
                // Removed by its shim, or left for rm -f.
                c.run(&["rm", "-f", &id]);
                hi = k;
            }
            None => lo = k + 1,
        }
    }
    for k in lo..lo + 20 {
        let name = format!("rm{k}");
        let id = run_rm_crashing_shim(&c, &name, k).expect("past the start");
        let Some(r) = c.record(&id) else {
            panic!("the shim finished every step (k = {k}) before a crash left the mark");
        };
        if !r["State"]["RemoveOnExit"].as_bool().unwrap_or(false) {
            // Not marked yet: a `--rm` container whose shim is gone is
            // removed by whichever command settles it first.
            c.run(&["rm", "-f", &name]);
            assert!(c.record(&id).is_none(), "rm -f {name} left its record");
            continue;
        }
        eprintln!("k = {k}: the record is left marked for removal");
        let (status, detail) = c.leftovers();
        assert_ne!(status, "ok", "doctor does not name the marked record");
        assert!(detail.contains(&id[..12]), "{detail}");
        // The next command, whatever it is, finishes the removal.
        let ps = c.ok(&["ps", "-a", "-q"]);
        assert!(!ps.contains(&id[..12]), "ps still lists it: {ps}");
        c.assert_nothing_left("after the next command");
        return;
    }
    panic!("no crash point left a record marked for removal");
}

/// Does this process have CAP_SYS_RESOURCE (needed to lower oom_score_adj)?
fn have_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim();
    u64::from_str_radix(eff, 16).unwrap() & (1 << 24) /* CAP_SYS_RESOURCE */ != 0
}

#[test]
fn the_shim_is_detached_and_run_d_returns_at_once() {
    let c = Ctr::new();
    // An inherited pipe that is not close-on-exec, as a caller's shell
    // may leave one: the shim must not keep it open.
    let (r, w) = nix::unistd::pipe().unwrap();
    let w_raw = w.as_raw_fd();
    let pipe_name = std::fs::read_link(format!("/proc/self/fd/{w_raw}"))
        .unwrap()
        .display()
        .to_string();
    let mut cmd = c.cmd(&["run", "-d", "--name", "quiet", IMAGE, "sleep", "1000"]);
    // SAFETY: dup2 in the forked child, before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(w_raw, 7) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let t0 = Instant::now();
    let out = cmd.output().unwrap();
    let took = t0.elapsed();
    drop(w);
    assert!(out.status.success(), "{}", probe::shown(&out));
    let id = stdout(&out).trim().to_string();
    assert!(took < Duration::from_secs(10), "run -d took {took:?}");
    // The pipe's end comes as soon as the CLI is gone.
    let mut reader = std::fs::File::from(r);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = reader.read_to_end(&mut buf);
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "the shim kept an inherited descriptor open: a `$(...)` around run -d would never end"
    );

    let (shim, init) = pids(&c, &id);
    let proc = |f: &str| format!("/proc/{shim}/{f}");
    // Its own session.
    let stat = std::fs::read_to_string(proc("stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(
        fields[3],
        shim.to_string(),
        "session id (stat field 6): {stat}"
    );
    // stdio on /dev/null, / as its directory.
    for fd in 0..3 {
        let target = std::fs::read_link(proc(&format!("fd/{fd}"))).unwrap();
        assert_eq!(target, Path::new("/dev/null"), "fd {fd}");
    }
    assert_eq!(std::fs::read_link(proc("cwd")).unwrap(), Path::new("/"));
    // Nothing of the caller's: no descriptor on the inherited pipe.
    for e in common::entries(Path::new(&proc("fd"))) {
        let t = std::fs::read_link(proc(&format!("fd/{e}"))).unwrap_or_default();
        assert_ne!(
            t,
            Path::new(&pipe_name),
            "fd {e} of the shim is the caller's pipe"
        );
    }
    // Never inside the container's cgroup.
    let group = format!("ctr-{}", &id[..24]);
    let cg = std::fs::read_to_string(proc("cgroup")).unwrap();
    assert!(
        !cg.contains(&group),
        "the shim is in the container's cgroup:\n{cg}"
    );
    let init_cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    assert!(
        init_cg.contains(&group),
        "the init is not in its cgroup:\n{init_cg}"
    );
    // A low oom_score_adj, where the kernel lets it lower it.
    let adj: i32 = std::fs::read_to_string(proc("oom_score_adj"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if have_sys_resource() {
        assert_eq!(adj, -999);
    } else {
        let log = std::fs::read_to_string(c.path().join("run/shims.log")).unwrap_or_default();
        assert!(
            log.contains("could not lower oom_score_adj to -999"),
            "without CAP_SYS_RESOURCE the shim must say why its score stays {adj}: {log:?}"
        );
    }
    // `id=$(glassbox run -d ...)` returns at once.
    let line = format!(
        "id=$({}) && echo \"$id\"",
        c.shell(&format!("run -d {IMAGE} sleep 1000"))
    );
    let t0 = Instant::now();
    let out = std::process::Command::new("timeout")
        .args(["20", "sh", "-c", &line])
        .output()
        .unwrap();
    let took = t0.elapsed();
    assert!(out.status.success(), "{}", probe::shown(&out));
    assert_eq!(stdout(&out).trim().len(), 64);
    assert!(took < Duration::from_secs(5), "id=$(run -d) took {took:?}");
    eprintln!("run -d: {took:?} inside $(...)");
}

#[test]
fn run_d_returns_only_once_the_command_runs_or_could_not() {
    let c = Ctr::new();
    let id = c.run_d(&["--name", "sleeper", IMAGE, "sleep", "1000"]);
    // Right away, the init is the container's command, not glassbox.
    let pid = c.inspect("sleeper", "{{.State.Pid}}");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x001000\x00", "init of {id}");
    for (name, cmd, code, words) in [
        ("nf", "/no/such/program", 127, "no such file"),
        ("nx", "/etc/passwd", 126, "permission denied"),
    ] {
        let out = c.run(&["run", "-d", "--name", name, IMAGE, cmd]);
        assert_eq!(out.status.code(), Some(code), "{}", probe::shown(&out));
        assert!(
            stdout(&out).trim().is_empty(),
            "no id for a start that failed"
        );
        assert!(
            stderr(&out).to_lowercase().contains(words),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(
            c.inspect(name, "{{.State.Status}} {{.State.ExitCode}}"),
            format!("created {code}")
        );
    }
    c.ok(&["rm", "-f", "sleeper", "nf", "nx"]);
    c.assert_nothing_left("rm -f");
}

#[test]
fn twenty_run_d_at_once_then_twenty_rm_f_at_once() {
    let c = Ctr::new();
    let t0 = Instant::now();
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let c = &c;
                s.spawn(move || {
                    c.run(&[
                        "run",
                        "-d",
                        "--name",
                        &format!("many{i}"),
                        IMAGE,
                        "sleep",
                        "1000",
                    ])
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let made = t0.elapsed();
    for (i, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "run -d many{i}: {}", probe::shown(o));
    }
    let running = c.ok(&["ps", "-q"]);
    assert_eq!(running.lines().count(), 20, "{running}");
    let ips = c.ok(&["ps", "-aq"]);
    let mut addrs: Vec<String> = ips
        .split_whitespace()
        .map(|id| {
            c.inspect(
                id,
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            )
        })
        .collect();
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 20, "addresses: {addrs:?}");
    let t1 = Instant::now();
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let c = &c;
                s.spawn(move || c.run(&["rm", "-f", &format!("many{i}")]))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let removed = t1.elapsed();
    for (i, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "rm -f many{i}: {}", probe::shown(o));
    }
    eprintln!("20 run -d at once: {made:?}; 20 rm -f at once: {removed:?}");
    c.assert_nothing_left("20 rm -f at once");
    c.assert_doctor_clean("20 rm -f at once");
}

#[test]
fn ten_racing_runs_with_one_name_one_wins() {
    let c = Ctr::new();
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let c = &c;
                s.spawn(move || c.run(&["run", "-d", "--name", "same", IMAGE, "sleep", "1000"]))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<&std::process::Output> = outs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(won.len(), 1, "winners: {}", won.len());
    let id = stdout(won[0]).trim().to_string();
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert_eq!(o.status.code(), Some(125), "{}", probe::shown(o));
        let want = format!(
            "Conflict. The container name \"/same\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        );
        assert!(stderr(o).contains(&want), "{}", stderr(o));
    }
    let all = c.ok(&["ps", "-aq", "--no-trunc"]);
    assert_eq!(all.trim(), id, "the losers left containers");
    c.ok(&["rm", "-f", "same"]);
    c.assert_nothing_left("after the race");
    c.assert_doctor_clean("after the race");
}

#[test]
fn an_rm_that_died_after_moving_the_directory_aside_is_finished_by_prune() {
    let c = Ctr::new();
    let id = c
        .ok(&[
            "create",
            "--network",
            "none",
            "--name",
            "aside",
            IMAGE,
            "true",
        ])
        .trim()
        .to_string();
    // What rm leaves when it dies right after its rename(2): the whole
    // directory (record, layer) under a dot name, no container.
    let dir = c.path().join("containers").join(&id);
    let trash = c.path().join("containers").join(format!(".removing-{id}"));
    std::fs::rename(&dir, &trash).unwrap();
    assert!(
        !c.ok(&["ps", "-aq"]).contains(&id[..12]),
        "listed while aside"
    );
    let (status, detail) = c.leftovers();
    assert_ne!(status, "ok", "doctor does not name the directory set aside");
    assert!(detail.contains(".removing-"), "{detail}");
    c.ok(&["system", "prune", "-f"]);
    assert!(!trash.exists(), "prune left {}", trash.display());
    c.assert_nothing_left("after prune");
    c.assert_doctor_clean("after prune");
}
