//! Containers for a test, and what of them is on the host: a private root
//! with a busybox image made from the host (`image from-host`), a
//! resolv.conf of its own (no real DNS server), a command builder, and
//! probes that look at the host itself (mountinfo, the cgroup trees, the
//! links, the leases and rules in the state, the records) to say what a
//! container left behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::{TestRoot, assert_succeeded, stderr, stdout};

/// The image every container test runs.
pub const IMAGE: &str = "bb:1";

/// A private root with the busybox image, for container tests, whose
/// commands run in a network namespace of the test's own playing the host
/// (its bridges, nft table, ip_forward and veths go with it). Dropping it
/// removes every container (`rm -f`), prunes the root, and deletes the
/// namespace.
pub struct Ctr {
    pub root: TestRoot,
    resolv: PathBuf,
    /// The `ip netns` name of the namespace playing the host.
    pub netns: String,
}

impl Ctr {
    pub fn new() -> Ctr {
        super::require_root();
        let root = TestRoot::new();
        let resolv = root.path().join("test-resolv.conf");
        std::fs::write(
            &resolv,
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
        .expect("write the test resolv.conf");
        let netns = format!("gbc{}", names(root.path()).tag);
        let made = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ip netns add {netns} && ip -n {netns} link set lo up"
            ))
            .output()
            .expect("ip netns add");
        assert!(
            made.status.success(),
            "ip netns add {netns}: {}",
            stderr(&made)
        );
        let c = Ctr {
            root,
            resolv,
            netns,
        };
        c.ok(&["image", "from-host", "/bin/busybox", "--tag", IMAGE]);
        c
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// `glassbox --root R --no-color ARGS...` inside the test's network
    /// namespace, with the test's resolv.conf.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.netns))
            .arg(super::glassbox_bin())
            .arg("--root")
            .arg(self.path())
            .arg("--no-color");
        cmd.env_remove("NO_COLOR");
        cmd.env("GLASSBOX_RESOLV_CONF", &self.resolv);
        cmd.env_remove(super::crash::CRASH_ENV);
        cmd.env_remove(SHIM_CRASH_ENV);
        cmd.args(args);
        cmd
    }

    /// The shell line of [`Ctr::cmd`] (for `sh -c`).
    pub fn shell(&self, args: &str) -> String {
        format!(
            "GLASSBOX_RESOLV_CONF={} nsenter --net=/run/netns/{} {} --root {} --no-color {args}",
            self.resolv.display(),
            self.netns,
            super::glassbox_bin().display(),
            self.path().display()
        )
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("spawn glassbox")
    }

    /// Expect success; stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_succeeded(args, &out);
        stdout(&out)
    }

    /// `run -d ARGS...`: the container's id.
    pub fn run_d(&self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        self.ok(&all).trim().to_string()
    }

    /// The container's record, as saved (`containers/ID/config.json`).
    pub fn record(&self, id: &str) -> Option<serde_json::Value> {
        record(self.path(), id)
    }

    /// `inspect -f TEMPLATE NAME`, trimmed.
    pub fn inspect(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "-f", template, name])
            .trim()
            .to_string()
    }

    /// `ps -a`'s STATUS column of container `name`.
    pub fn status(&self, name: &str) -> String {
        let filter = format!("name={name}");
        let out = self.ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Status}}"]);
        out.trim().to_string()
    }

    /// `doctor --json`, parsed (from inside the namespace).
    pub fn doctor(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["doctor", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", stderr(&out)))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Doctor's "leftovers" check: (status, detail).
    pub fn leftovers(&self) -> (String, String) {
        let checks = self.doctor();
        let (s, d) = super::crash::check(&checks, "leftovers");
        (s.to_string(), d.to_string())
    }

    /// Assert doctor names no leftover.
    pub fn assert_doctor_clean(&self, what: &str) {
        let (status, detail) = self.leftovers();
        assert_eq!(status, "ok", "{what}: doctor leftovers: {detail}");
    }

    /// `system prune --all` (with `-f` if it asks for confirmation), then
    /// what [`super::crash::assert_clean_after_prune`] checks: no leftover
    /// and nothing unrecorded named by doctor, an empty ledger of
    /// per-container resources, no temporary file, every state file valid.
    pub fn assert_clean_after_prune(&self, what: &str) {
        let help = stdout(&self.run(&["system", "prune", "--help"]));
        let mut args = vec!["system", "prune", "--all"];
        if help.contains("--force") {
            args.push("--force");
        }
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "{what}: system prune: {}",
            shown(&out)
        );
        let checks = self.doctor();
        for name in ["leftovers", "not recorded"] {
            let (status, detail) = super::crash::check(&checks, name);
            assert_eq!(status, "ok", "{what}: after prune, doctor {name}: {detail}");
        }
        let left = ledger_container_records(self.path());
        assert!(left.is_empty(), "{what}: ledger after prune: {left:?}");
        super::crash::assert_state_files_valid(self.path(), what);
    }

    /// Assert nothing of any container is left (see [`container_leftovers`]).
    pub fn assert_nothing_left(&self, what: &str) {
        assert_no_container_left(self.path(), Some(&self.netns), what);
    }
}

/// The environment variable that puts a crash point in the shim.
pub const SHIM_CRASH_ENV: &str = "GLASSBOX_SHIM_CRASH_AFTER_STEP";

impl Drop for Ctr {
    fn drop(&mut self) {
        if let Ok(out) = self.cmd(&["ps", "-aq", "--no-trunc"]).output() {
            let ids: Vec<String> = stdout(&out).split_whitespace().map(String::from).collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids.iter().map(|s| s.as_str()));
                let _ = self.cmd(&args).output();
            }
        }
        let _ = self.cmd(&["system", "prune", "--all", "--force"]).output();
        let _ = self.cmd(&["system", "prune", "--all", "-f"]).output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }
}

/// A container's record under state root `root`.
pub fn record(root: &Path, id: &str) -> Option<serde_json::Value> {
    let text =
        std::fs::read_to_string(root.join("containers").join(id).join("config.json")).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("record of {id}: {e}: {text}")))
}

/// The glassbox names of a root.
pub fn names(root: &Path) -> glassbox::state::Names {
    glassbox::state::Root::new(Some(root))
        .expect("root")
        .names()
}

/// Mount points under `dir` (this mount namespace's view).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&dir))
        .map(String::from)
        .collect()
}

/// Every cgroup hierarchy's mount point.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fs = right.split(' ').next()?;
            let mp = left.split(' ').nth(4)?;
            (fs == "cgroup" || fs == "cgroup2").then(|| PathBuf::from(mp))
        })
        .collect()
}

/// The containers' cgroups of root `root`, in every hierarchy.
pub fn container_cgroups(root: &Path) -> Vec<PathBuf> {
    let parent = names(root).cgroup_parent;
    let mut out = Vec::new();
    for m in cgroup_mounts() {
        for e in super::entries(&m.join(&parent)) {
            if e.starts_with("ctr-") {
                out.push(m.join(&parent).join(e));
            }
        }
    }
    out
}

/// The directories of container `id`'s cgroup that exist.
pub fn cgroup_dirs_of(root: &Path, id: &str) -> Vec<PathBuf> {
    let name = format!("ctr-{}", &id[..24]);
    container_cgroups(root)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == name.as_str()))
        .collect()
}

/// veth links carrying the root's names, in network namespace `netns`
/// (`ip netns` name) or this one.
pub fn veths(root: &Path, netns: Option<&str>) -> Vec<String> {
    let prefix = names(root).link_prefix;
    let mut cmd = Command::new("ip");
    if let Some(ns) = netns {
        cmd.args(["-n", ns]);
    }
    let out = cmd
        .args(["-o", "link", "show", "type", "veth"])
        .output()
        .expect("ip link");
    stdout(&out)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// The leases of every network of the root (`network/endpoint`).
pub fn leases(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for f in super::entries(&root.join("networks")) {
        let Some(net) = f.strip_suffix(".leases.json") else {
            continue;
        };
        let text = std::fs::read_to_string(root.join("networks").join(&f)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for l in v.as_array().cloned().unwrap_or_default() {
            out.push(format!("{net}/{}", l["endpoint"].as_str().unwrap_or("?")));
        }
    }
    out
}

/// The ports published in the root's firewall record.
pub fn published_ports(root: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(root.join("firewall.json")) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| p.to_string())
        .collect()
}

/// The ledger's records of per-container resources: mounts, cgroups and
/// links that are not a network's bridge.
pub fn ledger_container_records(root: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(root.join("run/resources.json")) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let bridges: Vec<String> = super::entries(&root.join("networks"))
        .iter()
        .filter(|f| f.ends_with(".json") && !f.ends_with(".leases.json"))
        .filter_map(|f| std::fs::read_to_string(root.join("networks").join(f)).ok())
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter_map(|n| n["bridge"].as_str().map(String::from))
        .collect();
    v.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| match r["kind"].as_str().unwrap_or("") {
            "mount" | "cgroup" => true,
            "link" => !bridges.iter().any(|b| r["id"] == b.as_str()),
            _ => false,
        })
        .map(|r| format!("{} {}", r["kind"], r["id"]))
        .collect()
}

/// Container records and directories, and runtime directories.
pub fn container_dirs(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = super::entries(&root.join("containers"))
        .into_iter()
        .filter(|e| !e.starts_with('.'))
        .map(|e| format!("containers/{e}"))
        .collect();
    out.extend(
        super::entries(&root.join("run").join("containers"))
            .into_iter()
            .map(|e| format!("run/containers/{e}")),
    );
    out
}

/// Everything of any container left on the host and in the state: mount,
/// cgroup, veth, published port, lease, ledger record, record or
/// directory. Empty when nothing is left.
pub fn container_leftovers(root: &Path, netns: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(mounts_under(root).into_iter().map(|m| format!("mount {m}")));
    out.extend(
        container_cgroups(root)
            .into_iter()
            .map(|c| format!("cgroup {}", c.display())),
    );
    out.extend(veths(root, netns).into_iter().map(|l| format!("veth {l}")));
    out.extend(
        published_ports(root)
            .into_iter()
            .map(|p| format!("port {p}")),
    );
    out.extend(leases(root).into_iter().map(|l| format!("lease {l}")));
    out.extend(
        ledger_container_records(root)
            .into_iter()
            .map(|r| format!("ledger {r}")),
    );
    out.extend(container_dirs(root));
    out
}

/// Assert that nothing of any container is left (see
/// [`container_leftovers`]).
pub fn assert_no_container_left(root: &Path, netns: Option<&str>, what: &str) {
    let left = container_leftovers(root, netns);
    assert!(
        left.is_empty(),
        "{what}: left behind:\n  {}",
        left.join("\n  ")
    );
}

/// Wait up to `limit` for `f` to hold.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Is process `pid` gone (or a zombie nobody reaped yet)?
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The pids of the processes whose command line contains `needle`.
pub fn pids_with_cmdline(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in super::entries(Path::new("/proc")) {
        let Ok(pid) = e.parse::<u32>() else { continue };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if line.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// The shim of container `id` (`glassbox ... shim ID`), if one runs.
pub fn shim_pid(id: &str) -> Option<u32> {
    pids_with_cmdline(&format!("shim {id}"))
        .into_iter()
        .find(|p| !process_gone(*p))
}

/// Wait until no shim of container `id` runs (up to 30 s); panics if one
/// does still.
pub fn wait_shim_gone(id: &str) {
    assert!(
        wait_for(Duration::from_secs(30), || shim_pid(id).is_none()),
        "the shim of {id} is still running"
    );
}

/// Output of a command, shown for a failure message.
pub fn shown(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}
