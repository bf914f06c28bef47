//! `glassbox doctor` on this machine, checked against what the kernel
//! really offers: the test reads /proc and /sys itself (its own small
//! parsers, not glassbox's) and compares with `doctor --json`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestRoot, require_root};
use serde_json::Value;

/// `doctor --json` parsed, with its exit code.
fn doctor_json(root: &TestRoot, extra: &[&str]) -> (i32, Vec<Value>) {
    let out = root
        .glassbox()
        .args(extra)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let text = common::stdout(&out);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "doctor --json is not JSON ({e}):\n{text}\n{}",
            common::stderr(&out)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        v.as_array().expect("a JSON array").clone(),
    )
}

fn find<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check named {name:?} in {checks:#?}"))
}

fn status<'a>(checks: &'a [Value], name: &str) -> &'a str {
    find(checks, name)["status"].as_str().unwrap()
}

fn detail<'a>(checks: &'a [Value], name: &str) -> &'a str {
    find(checks, name)["detail"].as_str().unwrap()
}

/// The test's own reading of the cgroup mounts: (v1 controllers with their
/// mount points, the v2 mount point).
fn cgroup_mounts() -> (Vec<(String, String)>, Option<String>) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v1 = Vec::new();
    let mut v2 = None;
    for line in text.lines() {
        let (left, right) = line.split_once(" - ").unwrap();
        let mount_point = left.split(' ').nth(4).unwrap().to_string();
        let mut r = right.split(' ');
        let fstype = r.next().unwrap();
        let _source = r.next();
        let super_opts = r.next().unwrap_or("");
        match fstype {
            "cgroup" => {
                for opt in super_opts.split(',') {
                    if opt != "rw" && opt != "ro" && !opt.contains('=') && !opt.is_empty()
                        // options of v1 hierarchies that are not controllers
                        && !["noprefix", "xattr", "clone_children", "cpuset_v2_mode", "favordynmods"]
                            .contains(&opt)
                    {
                        v1.push((opt.to_string(), mount_point.clone()));
                    }
                }
            }
            "cgroup2" if v2.is_none() => v2 = Some(mount_point),
            _ => {}
        }
    }
    v1.sort();
    (v1, v2)
}

fn host_links() -> BTreeSet<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = format!("{} ", dir.display());
    let inside = format!("{}/", dir.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            let mp = l.split(' ').nth(4).unwrap_or("");
            format!("{mp} ").starts_with(&prefix) || mp.starts_with(&inside)
        })
        .map(str::to_string)
        .collect()
}

fn link_prefix(root: &TestRoot) -> String {
    glassbox::state::Root::new(Some(root.path()))
        .unwrap()
        .names()
        .link_prefix
}

fn assert_nothing_left(root: &TestRoot, links_before: &BTreeSet<String>) {
    assert!(
        mounts_under(root.path()).is_empty(),
        "doctor left mounts: {:?}",
        mounts_under(root.path())
    );
    let prefix = link_prefix(root);
    let ours: Vec<_> = host_links()
        .into_iter()
        .filter(|l| l.starts_with(&prefix) && !links_before.contains(l))
        .collect();
    assert!(ours.is_empty(), "doctor left links: {ours:?}");
    let run = root.path().join("run");
    if run.exists() {
        // The ledger (checked below) and its lock live in run/.
        let entries: Vec<_> = std::fs::read_dir(&run)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "resources.json" && n != "resources.lock")
            .collect();
        assert!(
            entries.is_empty(),
            "doctor left files in {}: {entries:?}",
            run.display()
        );
    }
    let ledger = root.path().join("run/resources.json");
    if ledger.exists() {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(ledger).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!([]),
            "doctor left records in the ledger"
        );
    }
}

#[test]
fn doctor_reports_what_the_kernel_offers() {
    require_root();
    let root = TestRoot::new();
    let links_before = host_links();
    let forward_before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let trace = root.path().join("trace.json");
    let (code, checks) = doctor_json(&root, &["--trace-json", trace.to_str().unwrap()]);
    let forward_after = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    assert_eq!(code, 0, "doctor failed on this machine: {checks:#?}");
    for c in &checks {
        assert_ne!(c["status"], "fail", "{c}");
        let keys: BTreeSet<&str> = c.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, BTreeSet::from(["check", "status", "detail", "hint"]));
    }

    // privileges: the test runs as root with every capability
    assert_eq!(status(&checks, "privileges"), "ok");
    assert!(detail(&checks, "privileges").starts_with("root (uid 0)"));

    // kernel: the release uname(1) prints
    let uname = Command::new("uname").arg("-r").output().unwrap();
    let release = String::from_utf8_lossy(&uname.stdout).trim().to_string();
    assert_eq!(detail(&checks, "kernel"), format!("Linux {release}"));

    // namespaces: one ok line per entry of /proc/self/ns, and no others
    let kernel_ns: BTreeSet<String> = std::fs::read_dir("/proc/self/ns")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("_for_children"))
        .collect();
    let doctor_ns: BTreeSet<String> = checks
        .iter()
        .filter_map(|c| c["check"].as_str()?.strip_prefix("ns ").map(String::from))
        .collect();
    assert_eq!(doctor_ns, kernel_ns);
    for ns in &kernel_ns {
        assert_eq!(status(&checks, &format!("ns {ns}")), "ok", "ns {ns}");
    }

    // cgroups: the mode and exactly the controllers mountinfo and
    // cgroup.controllers show, whichever mode this machine has (hybrid on
    // the lab VMs, pure v2 on most students' machines)
    let (v1, v2_mount) = cgroup_mounts();
    let v2_names: Vec<String> = match &v2_mount {
        Some(m) => {
            let text = std::fs::read_to_string(Path::new(m).join("cgroup.controllers")).unwrap();
            let mut names: Vec<String> = text.split_whitespace().map(String::from).collect();
            names.sort();
            names
        }
        None => Vec::new(),
    };
    let mode = match (v1.is_empty(), &v2_mount) {
        (false, Some(_)) => "hybrid (v1 controllers + v2 tree)",
        (true, Some(_)) => "cgroup v2 (unified)",
        (false, None) => "cgroup v1 (legacy)",
        (true, None) => panic!("no cgroup filesystem on this machine"),
    };
    assert_eq!(status(&checks, "cgroup mode"), "ok");
    let expected_mode = match &v2_mount {
        Some(m) => format!("{mode}; v2 tree at {m}"),
        None => mode.to_string(),
    };
    assert_eq!(detail(&checks, "cgroup mode"), expected_mode);
    let v1_names: Vec<&str> = v1.iter().map(|(c, _)| c.as_str()).collect();
    let or_none = |v: Vec<&str>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    assert_eq!(detail(&checks, "cgroup v1 controllers"), or_none(v1_names));
    assert_eq!(
        detail(&checks, "cgroup v2 controllers"),
        or_none(v2_names.iter().map(String::as_str).collect())
    );
    // Each controller glassbox uses is where this machine has it: a v1
    // hierarchy of its own, else the v2 tree.
    for ctl in ["memory", "cpu", "cpuset", "pids"] {
        let expected = match v1.iter().find(|(c, _)| c == ctl) {
            Some((_, mount)) => format!("v1 at {mount}"),
            None if v2_names.iter().any(|n| n == ctl) => {
                format!("v2 at {}", v2_mount.as_deref().unwrap_or(""))
            }
            None => panic!("this machine has no {ctl} controller"),
        };
        assert_eq!(status(&checks, &format!("cgroup {ctl}")), "ok");
        assert_eq!(detail(&checks, &format!("cgroup {ctl}")), expected);
    }

    // swap accounting and swap: v1's memsw files, or v2's memory.swap.max
    // in a group below the v2 root (the root group has none)
    let accounting = match v1.iter().find(|(c, _)| c == "memory") {
        Some((_, m)) => Path::new(m).join("memory.memsw.limit_in_bytes").exists(),
        None => {
            let v2 = v2_mount.clone().unwrap_or_default();
            std::fs::read_dir(&v2)
                .unwrap()
                .flatten()
                .any(|e| e.path().join("memory.swap.max").exists())
                || std::fs::read_to_string("/proc/self/cgroup")
                    .unwrap()
                    .lines()
                    .filter_map(|l| l.strip_prefix("0::"))
                    .any(|rel| {
                        Path::new(&v2)
                            .join(rel.trim_start_matches('/'))
                            .join("memory.swap.max")
                            .exists()
                    })
        }
    };
    assert_eq!(
        status(&checks, "swap accounting"),
        if accounting { "ok" } else { "warn" }
    );
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap();
    let areas = swaps
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(status(&checks, "swap"), "info");
    assert_eq!(
        detail(&checks, "swap").starts_with("no swap configured"),
        areas == 0
    );

    // overlay and links really ran
    assert_eq!(status(&checks, "overlayfs"), "ok");
    assert_eq!(status(&checks, "netlink"), "ok");
    assert_eq!(status(&checks, "bridge and veth"), "ok");
    // (other tests may add links meanwhile: compare only when stable)
    if links_before.len() == host_links().len() {
        assert_eq!(
            detail(&checks, "netlink"),
            format!(
                "rtnetlink answers: {} link(s) in this namespace",
                links_before.len()
            )
        );
    }

    // firewall tools: what running them here gives
    let works = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let nft = works("nft", &["list", "tables"]);
    let ipt = works("iptables", &["-L", "-n"]);
    assert_eq!(status(&checks, "nftables"), if nft { "ok" } else { "warn" });
    assert_eq!(status(&checks, "iptables"), if ipt { "ok" } else { "warn" });
    assert!(nft, "nftables is installed on the lab machines");
    assert_eq!(detail(&checks, "firewall backend"), "glassbox will use nft");

    // ip_forward: information, with the value the kernel holds
    assert_eq!(status(&checks, "ip_forward"), "info");
    if forward_before == forward_after {
        assert!(
            detail(&checks, "ip_forward").starts_with(&format!("{}:", forward_before.trim())),
            "{}",
            detail(&checks, "ip_forward")
        );
    }

    assert_eq!(status(&checks, "state dirs"), "ok");
    assert_eq!(status(&checks, "leftovers"), "ok");

    // The trace shows the real steps: an overlay mount and a bridge made
    // over netlink, which is not on the host now.
    let trace = std::fs::read_to_string(&trace).unwrap();
    let steps: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let step = |prefix: &str| {
        steps
            .iter()
            .find(|s| s["summary"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no step {prefix:?} in the trace"))
    };
    assert_eq!(step("mount overlay on")["result"], "ok");
    assert_eq!(step("unmount ")["result"], "ok");
    let bridge = step("create bridge ");
    assert_eq!(bridge["result"], "ok");
    assert_eq!(bridge["action"], "netlink");
    let name = bridge["args"]["name"].as_str().unwrap();
    assert!(name.starts_with(&link_prefix(&root)), "{name}");
    assert!(!host_links().contains(name), "{name} is on the host");
    assert_eq!(step("delete ")["result"], "ok");

    assert_nothing_left(&root, &links_before);
}

/// Unmounts on drop, so a failing test leaves no tmpfs behind.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_half_made_mount_is_a_leftover_until_pruned() {
    require_root();
    let root = TestRoot::new();
    let target = common::crash::half_made_mount(&root, "stray");
    let _guard = MountGuard(target.clone());

    let (code, checks) = doctor_json(&root, &[]);
    assert_eq!(
        code, 0,
        "a leftover is a warning, not a failure: {checks:#?}"
    );
    assert_eq!(status(&checks, "leftovers"), "warn");
    let found = detail(&checks, "leftovers");
    assert!(
        found.starts_with(&format!(
            "mount {} (half-made: its creator (pid ",
            target.display()
        )),
        "{found}"
    );
    let human = root.ok(&["doctor"]);
    let line = human.lines().find(|l| l.contains("leftovers")).unwrap();
    assert!(line.starts_with("warn"), "{line}");
    assert!(line.contains("glassbox system prune"), "{line}");

    let pruned = root.ok(&["system", "prune", "-f"]);
    assert!(
        pruned.contains(&format!("removed mount {}", target.display())),
        "{pruned}"
    );
    assert!(
        mounts_under(&target).is_empty(),
        "prune left the overlay mounted"
    );

    let (_, checks) = doctor_json(&root, &[]);
    assert_eq!(status(&checks, "leftovers"), "ok");
}

/// Defect: with the state root on a filesystem of its own, `system prune`
/// unmounted the root ("not recorded by any glassbox command") and every
/// image went with it; it also unmounted another root's mounts inside it.
#[test]
fn prune_never_touches_the_root_its_parents_or_what_it_did_not_record() {
    require_root();
    let base = TestRoot::new();
    let r = base.path().join("R");
    std::fs::create_dir(&r).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "gbtest-root", r.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(mounted.success());
    let _root_guard = MountGuard(r.clone());
    let glassbox_r = |args: &[&str]| {
        let out = Command::new(common::glassbox_bin())
            .arg("--root")
            .arg(&r)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
        common::stdout(&out)
    };
    // The root holds data: an image made from the host's busybox.
    glassbox_r(&["image", "from-host", "/bin/busybox", "--tag", "data:1"]);
    // A tmpfs nobody recorded, inside the root.
    let stray = r.join("stray");
    std::fs::create_dir(&stray).unwrap();
    assert!(
        Command::new("mount")
            .args(["-t", "tmpfs", "gbtest-stray", stray.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let _stray_guard = MountGuard(stray.clone());
    // Another root nested inside this one, with a mount of its own.
    let other = r.join("other");
    std::fs::create_dir(&other).unwrap();
    let other_root = TestRoot {
        dir: tempfile::Builder::new().tempdir_in(&other).unwrap(),
    };
    let theirs = common::crash::half_made_mount(&other_root, "theirs");

    for args in [
        &["system", "prune", "-f"][..],
        &["system", "prune", "--all", "-f"][..],
    ] {
        let out = glassbox_r(args);
        assert!(
            !out.contains("removed"),
            "{args:?} removed something: {out}"
        );
        assert!(
            !mounts_under(&r).is_empty() && is_mount_point(&r),
            "the root was unmounted"
        );
        assert!(is_mount_point(&stray), "an unrecorded mount was unmounted");
        assert!(
            is_mount_point(&theirs),
            "another root's mount was unmounted"
        );
    }
    assert!(
        glassbox_r(&["image", "ls"]).contains("data"),
        "the image is gone"
    );

    // doctor names what carries the root's place but is not its own.
    let out = Command::new(common::glassbox_bin())
        .arg("--root")
        .arg(&r)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status(&checks, "leftovers"), "ok");
    assert_eq!(status(&checks, "not recorded"), "warn");
    let named = detail(&checks, "not recorded");
    assert!(
        named.contains(&format!("mount {}", stray.display())),
        "{named}"
    );
    assert!(
        !named.contains(&format!("mount {} ", r.display()))
            && !named.ends_with(&format!("mount {}", r.display())),
        "{named}"
    );
    // The other root still owns its mount and prunes it itself.
    other_root.ok(&["system", "prune", "-f"]);
    assert!(!is_mount_point(&theirs));
}

#[test]
fn a_temporary_state_file_of_a_dead_writer_is_named_and_pruned() {
    require_root();
    let root = TestRoot::new();
    root.ok(&["system", "prune", "-f"]);
    let nets = root.path().join("networks");
    std::fs::create_dir_all(&nets).unwrap();
    // What a kill in the middle of a state write leaves: the temporary file
    // that was never renamed into place (pid 4194304 is above pid_max).
    let tmp = nets.join(".n1.json.tmp-4194304-0");
    std::fs::write(&tmp, "{\"name\":").unwrap();
    let (_, checks) = doctor_json(&root, &[]);
    assert_eq!(status(&checks, "leftovers"), "warn");
    assert!(
        detail(&checks, "leftovers").contains(&format!("temp-file {}", tmp.display())),
        "{}",
        detail(&checks, "leftovers")
    );
    let pruned = root.ok(&["system", "prune", "-f"]);
    assert!(
        pruned.contains(&format!("removed temp-file {}", tmp.display())),
        "{pruned}"
    );
    assert!(!tmp.exists());
    let (_, checks) = doctor_json(&root, &[]);
    assert_eq!(status(&checks, "leftovers"), "ok");
}

fn is_mount_point(path: &Path) -> bool {
    common::crash::is_mounted(path)
}

#[test]
fn non_root_fails_naming_the_missing_privilege() {
    require_root();
    let root = TestRoot::new();
    // A copy of the binary nobody can run, whatever the build dir's modes.
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("glassbox");
    std::fs::copy(common::glassbox_bin(), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |args: &[&str]| {
        // A test thread forking while the copy was open for writing keeps
        // it open for a moment in its child: exec says ETXTBSY, retried.
        for _ in 0..100 {
            let out = Command::new("setpriv")
                .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
                .arg(&bin)
                .arg("--root")
                .arg(root.path())
                .arg("--no-color")
                .args(args)
                .output()
                .unwrap();
            if !common::stderr(&out).contains("Text file busy") {
                return out;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("{} stayed busy", bin.display());
    };
    let out = as_nobody(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("privileges"))
        .unwrap_or_else(|| panic!("no privileges line:\n{text}"));
    assert!(line.starts_with("fail"), "{line}");
    assert!(line.contains("not root (uid 65534)"), "{line}");
    assert!(line.contains("missing CAP_SYS_ADMIN"), "{line}");
    assert!(line.contains("run as root"), "{line}");

    let out = as_nobody(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let checks: Vec<Value> = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(status(&checks, "privileges"), "fail");
    assert_eq!(status(&checks, "overlayfs"), "fail");
    assert!(
        find(&checks, "overlayfs")["hint"]
            .as_str()
            .unwrap()
            .contains("run as root")
    );
    assert!(mounts_under(root.path()).is_empty());
}

#[test]
fn dry_run_plans_the_mutating_checks_and_writes_nothing() {
    require_root();
    let root = TestRoot::new();
    let out = root
        .glassbox()
        .args(["--dry-run", "-v", "doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let checks: Vec<Value> = serde_json::from_str(&common::stdout(&out)).unwrap();
    for name in ["overlayfs", "bridge and veth"] {
        assert_eq!(status(&checks, name), "info");
        assert!(detail(&checks, name).starts_with("not run (--dry-run): would "));
    }
    // read-only checks still ran
    assert_eq!(status(&checks, "cgroup mode"), "ok");
    assert_eq!(status(&checks, "netlink"), "ok");
    let plan = common::stderr(&out);
    assert!(plan.contains("mount overlay on"), "{plan}");
    assert!(plan.contains("create bridge"), "{plan}");
    assert!(plan.lines().any(|l| l.ends_with("planned")), "{plan}");
    let written: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
    assert!(written.is_empty(), "dry-run wrote {written:?}");
}

#[test]
fn human_report_snapshot() {
    require_root();
    let root = TestRoot::new();
    // A root as `mktemp -d` makes it (the test's temporary dirs are 0755).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = root.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0));
    let text = common::stdout(&out);
    // The human report says what the JSON says, line for line, on any machine.
    let (_, checks) = doctor_json(&root, &[]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), checks.len() + 1, "{text}");
    for (line, c) in lines.iter().zip(&checks) {
        let (name, st) = (c["check"].as_str().unwrap(), c["status"].as_str().unwrap());
        assert!(
            line.starts_with(&format!("{st:<4}  {name} ")),
            "{line:?} is not check {name} ({st})"
        );
    }
    // The book shows the report of the lab machines, whose cgroups are
    // hybrid; other machines' cgroup lines are checked against the kernel
    // in doctor_reports_what_the_kernel_offers.
    let (v1, v2) = cgroup_mounts();
    if v1.is_empty() || v2.is_none() {
        return;
    }
    let root_path = root.path().display().to_string().replace('.', r"\.");
    // What varies between runs on machines of this kind: the state root, the
    // random test link names, the kernel build, the link count, ip_forward.
    insta::with_settings!({filters => vec![
        (root_path.as_str(), "[root]"),
        (r"gb[0-9a-f]{6}(br|va|vb)[0-9a-f]{4}", "[test-$1]"),
        (r"Linux \S+", "Linux [release]"),
        (r"answers: \d+ link", "answers: [n] link"),
        (r"(?m)^(info  ip_forward {14}).*$", "$1[0 or 1]"),
    ]}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn a_damaged_ledger_is_named_as_such_not_blamed_on_overlayfs() {
    require_root();
    let root = TestRoot::new();
    let ledger = root.path().join("run/resources.json");
    std::fs::create_dir_all(ledger.parent().unwrap()).unwrap();
    std::fs::write(&ledger, "{").unwrap();
    let (_, checks) = doctor_json(&root, &[]);
    let overlay = find(&checks, "overlayfs");
    assert!(
        detail(&checks, "overlayfs").starts_with("test mount not tried"),
        "{overlay:#}"
    );
    let hint = overlay["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("damaged, not overlayfs"), "{overlay:#}");
    assert!(!hint.contains("dmesg"), "{overlay:#}");
    let left = find(&checks, "leftovers");
    let hint = left["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("move the damaged file aside"), "{left:#}");
    assert!(!hint.contains("run as root"), "{left:#}");
    assert_eq!(
        std::fs::read_to_string(&ledger).unwrap(),
        "{",
        "left untouched"
    );
    std::fs::remove_file(&ledger).unwrap();
}
