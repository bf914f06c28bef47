//! A minimal root filesystem for tests: the host's static busybox
//! (Debian package `busybox-static`) and one link per applet.

use std::path::Path;

/// Where the static busybox lives on Debian.
pub const BUSYBOX: &str = "/bin/busybox";

/// Build a busybox rootfs in a fresh temporary directory.
pub fn busybox() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("gbrootfs-")
        .tempdir()
        .expect("create a temporary rootfs");
    populate(dir.path());
    dir
}

/// Copy busybox to ROOTFS/bin/busybox and link every applet to it.
pub fn populate(root: &Path) {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: apt-get install -y busybox-static"
    );
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    for d in ["etc", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::copy(BUSYBOX, bin.join("busybox")).expect("copy busybox");
    let list = std::process::Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = bin.join(applet);
        if applet != "busybox" && !link.exists() {
            std::os::unix::fs::symlink("busybox", &link).expect("link applet");
        }
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    std::fs::write(root.join("etc/group"), "root:x:0:\n").expect("group");
}
