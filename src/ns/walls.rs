//! Docker's walls around a container process, put up in the child after
//! `pivot_root` and before exec: paths of `/proc` and `/sys` that would
//! tell or change too much about the host are masked (an empty read-only
//! tmpfs over a directory, `/dev/null` over a file) or made read-only; the
//! root can be made read-only (`--read-only`); and every capability but
//! Docker's 14 is dropped from the bounding set, with the inheritable and
//! ambient sets emptied (CVE-2022-24769), so not even a setuid binary can
//! get one back. Read `capabilities(7)`, `proc(5)`, `mount(2)`.

use std::path::Path;

use anyhow::{Context, Result};
use caps::{CapSet, Capability};
use nix::mount::MsFlags;

use crate::host::mount::mount;
use crate::trace::{Action, Mechanism, Step};

const M: Mechanism = Mechanism::Ns;

/// Docker's default capabilities (moby's `oci/caps/defaults.go`).
pub const DOCKER_CAPS: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// Paths Docker masks (moby's `oci/defaults.go`).
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Hide `path`: an empty read-only tmpfs over a directory, `/dev/null`
/// bound over anything else. A path the kernel does not have is skipped.
pub fn mask(path: &Path) -> Result<()> {
    let Ok(md) = std::fs::metadata(path) else {
        return Ok(());
    };
    if md.is_dir() {
        mount(
            M,
            "tmpfs",
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
            "An empty read-only tmpfs hides what the kernel shows here (Docker masks it: it tells too much about the host).",
        )
    } else {
        mount(
            M,
            "/dev/null",
            path,
            None,
            MsFlags::MS_BIND,
            None,
            "/dev/null bound over the file: reading it gives nothing (Docker masks it: it tells too much about the host).",
        )
    }
}

/// The per-mount flags `path` has now (`statvfs(3)`), to keep them when it
/// is remounted read-only.
fn kept_flags(path: &Path) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return MsFlags::empty();
    };
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

/// Make `path` read-only: bind it onto itself, then remount that bind
/// read-only (keeping nosuid, nodev, noexec). Skipped if absent.
pub fn readonly(path: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let src = path.display().to_string();
    mount(
        M,
        &src,
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "A bind mount of the path onto itself makes it a mount of its own, which can then be made read-only alone.",
    )?;
    remount_readonly(
        path,
        "The container may read these kernel settings but not change them (Docker's read-only paths).",
    )
}

/// Remount the mount at `path` read-only, keeping its other flags.
pub fn remount_readonly(path: &Path, why: &str) -> Result<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept_flags(path);
    mount(M, "none", path, None, flags, None, why)
}

/// The container's root read-only (`--read-only`); the mounts on it
/// (`/proc`, `/dev`, volumes) keep their own modes.
pub fn readonly_root() -> Result<()> {
    remount_readonly(
        Path::new("/"),
        "--read-only: the container's root (its writable layer included) takes no writes; /dev, /proc and volumes are mounts of their own.",
    )
}

/// Drop every capability not in `keep` from the bounding set, empty the
/// inheritable and ambient sets, and leave `keep` permitted and effective.
pub fn drop_capabilities(keep: &[Capability]) -> Result<()> {
    let names: Vec<String> = keep
        .iter()
        .map(|c| c.to_string().trim_start_matches("CAP_").to_lowercase())
        .collect();
    Step::new(
        M,
        Action::Syscall,
        format!("keep {} capabilities, drop the rest", keep.len()),
    )
    .arg("keep", names.join(","))
    .shell(format!(
        "capsh --drop=all --caps={}+ep --",
        keep.iter().map(|c| c.to_string().to_lowercase()).collect::<Vec<_>>().join(",")
    ))
    .why("root in a container is root on the host's kernel; without CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE and the others it cannot mount, reconfigure networks or load modules. Dropped from the bounding set, no setuid binary can get them back.")
    .man("capabilities(7)")
    .run(|| {
        let keep_set: caps::CapsHashSet = keep.iter().copied().collect();
        for cap in caps::all() {
            if !keep_set.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap)
                    .with_context(|| format!("prctl(PR_CAPBSET_DROP, {cap})"))?;
            }
        }
        caps::clear(None, CapSet::Ambient).context("clear the ambient capabilities")?;
        caps::clear(None, CapSet::Inheritable).context("clear the inheritable capabilities")?;
        caps::set(None, CapSet::Effective, &keep_set).context("capset(2) effective")?;
        caps::set(None, CapSet::Permitted, &keep_set).context("capset(2) permitted")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_fourteen() {
        assert_eq!(DOCKER_CAPS.len(), 14);
        assert!(!DOCKER_CAPS.contains(&Capability::CAP_SYS_ADMIN));
        assert!(!DOCKER_CAPS.contains(&Capability::CAP_NET_ADMIN));
        assert!(MASKED_PATHS.contains(&"/proc/kcore"));
        assert!(READONLY_PATHS.contains(&"/proc/sys"));
    }
}
