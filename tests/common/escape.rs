//! The escape probe (tests/probe/escape.c): one escape attempt per
//! subcommand, for what busybox cannot try itself (keyctl, bpf,
//! perf_event_open, clone3, open_by_handle_at, ptrace, the double chroot,
//! the descriptors above 2, a watch on other processes' /proc/PID/exe).
//! Built once per test binary with the host's C compiler into the target's
//! temporary directory; `image from-host` puts it, with its libraries, at
//! the same path inside the test image.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use super::lifecycle::Lab;

/// The image with busybox and the probe.
pub const ESCAPE_IMAGE: &str = "escape:1";

/// The probe's path, on the host and inside [`ESCAPE_IMAGE`].
pub fn probe() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("escape-probe");
        std::fs::create_dir_all(&dir).expect("mkdir the probe's directory");
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/probe/escape.c");
        let out = dir.join("escape");
        // Built under a name of this process's, then renamed: test binaries
        // running at once never see half a file.
        let tmp = dir.join(format!("escape.{}", std::process::id()));
        let built = Command::new("cc")
            .args(["-O2", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("run cc (gcc builds the escape probe)");
        assert!(
            built.status.success(),
            "cc tests/probe/escape.c: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        std::fs::rename(&tmp, &out).expect("rename the probe into place");
        out.display().to_string()
    })
}

/// A lab whose `escape:1` image holds busybox and the probe.
pub fn lab() -> Lab {
    let lab = Lab::new();
    lab.ok(&[
        "image",
        "from-host",
        "/bin/busybox",
        probe(),
        "--tag",
        ESCAPE_IMAGE,
    ]);
    lab
}
