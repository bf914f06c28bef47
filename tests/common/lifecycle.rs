//! Containers for the lifecycle tests: a private root with the host's
//! busybox as image `bb:1`, a resolv.conf of the test's own (never the
//! real servers), and glassbox run in a network namespace of the test's
//! own playing the host (`nsenter --net`), so the default bridge, its
//! firewall table and its subnet are the test's alone and go with the
//! namespace. Every container is removed (`rm -f`) and the root pruned
//! when the lab is dropped.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::{TestRoot, require_root, stderr, stdout};

/// The image every lifecycle test runs.
pub const IMAGE: &str = "bb:1";

pub struct Lab {
    pub root: TestRoot,
    pub resolv: PathBuf,
    /// The `ip netns` name of the namespace playing the host.
    pub netns: String,
}

impl Lab {
    pub fn new() -> Lab {
        require_root();
        let root = TestRoot::new();
        let resolv = root.path().join("test-resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap();
        let tag: String = uuid
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(8)
            .collect();
        let netns = format!("gbl{tag}");
        let made = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ip netns add {netns} && ip -n {netns} link set lo up"
            ))
            .status()
            .unwrap();
        assert!(made.success(), "ip netns add {netns}");
        let lab = Lab {
            root,
            resolv,
            netns,
        };
        lab.ok(&["image", "from-host", "/bin/busybox", "--tag", IMAGE]);
        lab
    }

    /// `glassbox --root R --no-color` in the lab's network namespace, with
    /// the test's resolv.conf.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .arg(super::glassbox_bin())
            .arg("--root")
            .arg(self.root.path())
            .arg("--no-color");
        c.env_remove("NO_COLOR");
        c.env("GLASSBOX_RESOLV_CONF", &self.resolv);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("spawn glassbox")
    }

    /// Run and expect success; stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        super::assert_succeeded(args, &out);
        stdout(&out)
    }

    /// Run; (exit status, stdout, stderr).
    pub fn status(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.run(args);
        (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
    }

    /// `run -d ARGS`: the new container's id.
    pub fn detached(&self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        self.ok(&all).trim().to_string()
    }

    /// `inspect -f FORMAT NAME`, trimmed.
    pub fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, name]).trim().to_string()
    }

    /// `ps ARGS` lines (the header included unless -q).
    pub fn ps(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["ps"];
        all.extend_from_slice(args);
        self.ok(&all).lines().map(String::from).collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq"]);
        let ids: Vec<String> = stdout(&ids).split_whitespace().map(String::from).collect();
        if !ids.is_empty() {
            let mut args = vec!["rm".to_string(), "-f".to_string()];
            args.extend(ids);
            let _ = self.cmd().args(&args).output();
        }
        let _ = self.run(&["system", "prune", "--all", "--force"]);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}
