//! The integration-test harness: every test gets its own state root and a
//! command builder for the freshly built `glassbox` binary; root-only tests
//! fail (never skip) when not run as root.
#![allow(dead_code)]

pub mod archive;
pub mod crash;
pub mod escape;
pub mod fixtures;
pub mod lifecycle;
pub mod plan;
pub mod probe;
pub mod pty;
pub mod registry;
pub mod rootfs;
pub mod tmpfs;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Fail loudly if the test is not running as root.
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!(
            "this integration test needs root (real namespaces, cgroups, mounts, links): \
             run the suite with `sudo scripts/test-all`"
        );
    }
}

/// A private state root, removed with everything in it (and everything
/// glassbox recorded there, via `system prune --all`) when dropped.
pub struct TestRoot {
    pub dir: tempfile::TempDir,
}

impl TestRoot {
    pub fn new() -> TestRoot {
        let dir = tempfile::Builder::new()
            .prefix("gbtest-")
            .tempdir()
            .expect("create a temporary state root");
        TestRoot { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `glassbox --root <this root> --no-color ARGS...`
    pub fn glassbox(&self) -> Command {
        let mut cmd = Command::new(glassbox_bin());
        cmd.arg("--root").arg(self.path()).arg("--no-color");
        cmd.env_remove("NO_COLOR");
        cmd
    }

    /// Run glassbox with args; the output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.glassbox().args(args).output().expect("spawn glassbox")
    }

    /// Run glassbox with args as the unprivileged user nobody (65534).
    pub fn run_as_nobody(&self, args: &[&str]) -> Output {
        use std::os::unix::process::CommandExt;
        self.glassbox()
            .args(args)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("spawn glassbox as nobody")
    }

    /// Run glassbox with args and expect success; the output.
    pub fn succeeds(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_succeeded(args, &out);
        out
    }

    /// Run glassbox with args and expect success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        stdout(&self.succeeds(args))
    }

    /// Run glassbox with args and expect success; returns stderr (the
    /// trace and the commentary).
    pub fn ok_stderr(&self, args: &[&str]) -> String {
        stderr(&self.succeeds(args))
    }

    /// Run glassbox with args and expect failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "glassbox {args:?} should have failed\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        // Remove whatever this test's glassbox commands made on the host.
        let _ = self
            .glassbox()
            .args(["system", "prune", "--all", "--force"])
            .output();
    }
}

/// Assert that `glassbox ARGS` succeeded, showing both outputs if not.
pub fn assert_succeeded(args: &[&str], out: &Output) {
    assert!(
        out.status.success(),
        "glassbox {args:?} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// The binary cargo built for this test run.
pub fn glassbox_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_glassbox"))
}

/// The names in `dir`, sorted (none if it does not exist).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Standard output of a finished command as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error of a finished command as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Wait for `child` up to `limit`; past it, kill and reap it and fail the
/// test, naming `what` was awaited.
pub fn wait_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: glassbox did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
