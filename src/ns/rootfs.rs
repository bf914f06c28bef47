//! The container's root: make mount propagation private, bind the rootfs
//! onto itself, mount `/proc`, `/sys` and a minimal `/dev` into it, then
//! `pivot_root` into it and detach the old root, so no host path is left
//! reachable. Read `pivot_root(2)`, `mount_namespaces(7)`, `proc(5)`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags};

use crate::host::mount::{mount, mount_step};
use crate::host::mountinfo;
use crate::trace::{self, Action, Mechanism, Step};

const M: Mechanism = Mechanism::Ns;

/// How many mounts carry a `shared:N` tag, and the tags of `/`.
fn propagation_summary() -> String {
    match mountinfo::read(None) {
        Ok(all) => {
            let shared = all.iter().filter(|m| m.is_shared()).count();
            let mut tags: Vec<&str> = all
                .iter()
                .flat_map(|m| m.tags.iter())
                .map(String::as_str)
                .filter(|t| t.starts_with("shared:"))
                .collect();
            tags.sort_unstable();
            tags.dedup();
            let shown = match tags.len() {
                0 => String::new(),
                n if n <= 4 => format!(" ({})", tags.join(" ")),
                _ => format!(" ({} ...)", tags[..4].join(" ")),
            };
            let root_tags = all
                .iter()
                .rev()
                .find(|m| m.mount_point == Path::new("/"))
                .map(|m| {
                    if m.tags.is_empty() {
                        "private (no tag)".to_string()
                    } else {
                        m.tags.join(" ")
                    }
                })
                .unwrap_or_else(|| "?".into());
            format!(
                "{shared} of {} mounts shared{shown}; / is {root_tags}",
                all.len()
            )
        }
        Err(e) => format!("cannot read mountinfo: {e:#}"),
    }
}

/// `mount --make-rprivate /`, showing the `shared:N` tags before and after.
pub fn make_private() -> Result<()> {
    trace::say(M, format!("propagation before: {}", propagation_summary()));
    let flags = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    let done = mount_step(M, "none", Path::new("/"), None, flags, None)
        .why("The new mount namespace starts as a copy whose mounts are still peers of the host's (shared:N); made private, mounts inside never propagate out and host mounts never propagate in.")
        .apply(|| {
            nix::mount::mount(Some("none"), "/", None::<&str>, flags, None::<&str>)
                .context("mount(2) --make-rprivate /")
        })?;
    if done.ran() {
        trace::say(M, format!("propagation after:  {}", propagation_summary()));
    }
    Ok(())
}

/// A fresh procfs on /proc: it shows the pid namespace of the mounter.
pub fn mount_proc(target: &Path) -> Result<()> {
    mount(
        M,
        "proc",
        target,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
        "A procfs instance shows the processes of the pid namespace it was mounted from, so ps inside sees only the container's tree.",
    )
}

fn mkdir_in(dir: &Path) -> Result<()> {
    crate::host::mkdir(M, dir)
}

/// What the mounts of `/dev` must work around.
#[derive(Debug, Clone, Copy)]
pub struct DevOptions {
    /// In a new user namespace `mknod` is refused: bind the host's nodes.
    pub bind_devices: bool,
    /// Mounting `mqueue` needs the IPC namespace to be owned by our user ns.
    pub mqueue: bool,
    /// Mounting `sysfs` needs the network namespace to be ours.
    pub fresh_sysfs: bool,
}

/// The character devices every container gets: name, major, minor.
pub const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The links of `/dev`: name and target.
pub const DEV_LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Bind the rootfs onto itself and mount /proc, /sys, /dev into it, the
/// container's view of its cgroup, then the bind mounts (each target
/// resolved inside the root, see [`super::inroot`]).
pub fn prepare(
    rootfs: &Path,
    opts: DevOptions,
    binds: &[super::spec::BindMount],
    tmpfs: &[super::spec::TmpfsMount],
    cgroup_view: &super::spec::CgroupView,
) -> Result<()> {
    let root = rootfs.display().to_string();
    mount(
        M,
        &root,
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "pivot_root(2) needs the new root to be a mount point; binding the directory onto itself makes it one.",
    )?;
    mount(
        M,
        "none",
        rootfs,
        None,
        MsFlags::MS_PRIVATE,
        None,
        "pivot_root(2) refuses a new root whose mount is shared.",
    )?;
    let proc_dir = rootfs.join("proc");
    mkdir_in(&proc_dir)?;
    mount_proc(&proc_dir)?;
    let sys = rootfs.join("sys");
    mkdir_in(&sys)?;
    if opts.fresh_sysfs {
        mount(
            M,
            "sysfs",
            &sys,
            Some("sysfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
            "sysfs shows the devices of the network namespace that mounted it; read-only so a container cannot reconfigure the host's kernel.",
        )?;
    } else {
        mount(
            M,
            "/sys",
            &sys,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            "A user namespace may not mount sysfs for a network namespace it does not own, so the host's is bound instead.",
        )?;
    }
    mount_cgroup_view(&sys.join("fs/cgroup"), cgroup_view)?;
    mount_dev(rootfs, opts)?;
    // The binds in their order, each tmpfs before the binds that go
    // deeper than it (`--tmpfs /run` under `-v x:/run/app` would hide it).
    let depth = |p: &Path| p.components().count();
    let mut tmpfs: Vec<&super::spec::TmpfsMount> = tmpfs.iter().collect();
    tmpfs.sort_by_key(|t| depth(&t.target));
    let mut tmpfs = tmpfs.into_iter().peekable();
    for b in binds {
        while let Some(t) = tmpfs.next_if(|t| depth(&t.target) < depth(&b.target)) {
            tmpfs_in_root(rootfs, t)?;
        }
        bind_in_root(rootfs, b)?;
    }
    for t in tmpfs {
        tmpfs_in_root(rootfs, t)?;
    }
    Ok(())
}

/// One tmpfs, its target resolved inside the root and mounted through the
/// descriptor, as [`bind_in_root`] does.
fn tmpfs_in_root(rootfs: &Path, t: &super::spec::TmpfsMount) -> Result<()> {
    use super::inroot::{self, Make};
    inroot::check_target(&t.target)?;
    let shown = rootfs.join(t.target.strip_prefix("/").unwrap_or(&t.target));
    let mut flags = MsFlags::empty();
    for (on, f) in [
        (t.readonly, MsFlags::MS_RDONLY),
        (t.noexec, MsFlags::MS_NOEXEC),
        (t.nosuid, MsFlags::MS_NOSUID),
        (t.nodev, MsFlags::MS_NODEV),
    ] {
        if on {
            flags |= f;
        }
    }
    let data = (!t.data.is_empty()).then_some(t.data.as_str());
    mount_step(M, "tmpfs", &shown, Some("tmpfs"), flags, data)
        .arg("resolve", "openat2(RESOLVE_IN_ROOT)")
        .why("--tmpfs gives the container a directory in memory (tmpfs(5)): fast, private to this container, gone when it stops; Docker mounts it noexec,nosuid,nodev unless told otherwise.")
        .run(|| {
            let target = inroot::open(rootfs, &t.target, Make::Dir)?;
            nix::mount::mount(
                Some("tmpfs"),
                &inroot::fd_path(&target),
                Some("tmpfs"),
                flags,
                data,
            )
            .with_context(|| format!("mount(2) tmpfs on {}", shown.display()))
        })
}

/// One bind mount, its target resolved inside the root and mounted through
/// the descriptor (so neither a symlink in the image nor a swap in between
/// can send it to a host path).
pub fn bind_in_root(rootfs: &Path, b: &super::spec::BindMount) -> Result<()> {
    use super::inroot::{self, Make};
    inroot::check_target(&b.target)?;
    let make = if b.source.is_dir() {
        Make::Dir
    } else {
        Make::File
    };
    let shown = rootfs.join(b.target.strip_prefix("/").unwrap_or(&b.target));
    let src = b.source.display().to_string();
    let step = mount_step(M, &src, &shown, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
        .arg("resolve", "openat2(RESOLVE_IN_ROOT)")
        .why("A bind mount shows a host path inside the container; its target is resolved inside the root, so a symlink in the image cannot point it at a host path.");
    step.run(|| {
        let target = inroot::open(rootfs, &b.target, make)?;
        let via = inroot::fd_path(&target);
        nix::mount::mount(
            Some(b.source.as_path()),
            &via,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("mount(2) --bind {src} on {}", shown.display()))?;
        if b.readonly {
            // The new mount is at the same path: open it again, in the root.
            let top = inroot::open(rootfs, &b.target, Make::Nothing)?;
            nix::mount::mount(
                None::<&str>,
                &inroot::fd_path(&top),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .with_context(|| format!("remount {} read-only", shown.display()))?;
        }
        Ok(())
    })
}

/// `/sys/fs/cgroup` as the container sees it: its own cgroup, read-only.
fn mount_cgroup_view(target: &Path, view: &super::spec::CgroupView) -> Result<()> {
    use super::spec::CgroupView;
    let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    match view {
        CgroupView::None => Ok(()),
        CgroupView::V2 => mount(
            M,
            "cgroup2",
            target,
            Some("cgroup2"),
            ro,
            None,
            "Mounted from inside the container's cgroup namespace, cgroup2 shows the container's own group as its root: it reads its memory.max, read-only.",
        ),
        CgroupView::V1(hierarchies) => {
            mount(
                M,
                "tmpfs",
                target,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                Some("mode=755,size=64k"),
                "cgroup v1 has one hierarchy per controller: a small tmpfs holds a directory for each.",
            )?;
            for (name, host_dir) in hierarchies {
                let dir = target.join(name);
                mkdir_in(&dir)?;
                let src = host_dir.display().to_string();
                mount(
                    M,
                    &src,
                    &dir,
                    None,
                    MsFlags::MS_BIND,
                    None,
                    "The container's own directory of this hierarchy, so it reads its limits (memory.limit_in_bytes) and nothing of the host's groups.",
                )?;
                super::walls::remount_readonly(
                    &dir,
                    "The container may read its cgroup, not change it.",
                )?;
            }
            super::walls::remount_readonly(
                target,
                "The cgroup directories are read-only for the container.",
            )
        }
    }
}

fn touch(path: &Path) -> Result<()> {
    Step::new(
        M,
        Action::Filesystem,
        format!("create file {}", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("touch {}", path.display()))
    .detail()
    .run(|| {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("mkdir {}", parent.display()))?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("create {}", path.display()))?;
        Ok(())
    })
}

fn mount_dev(rootfs: &Path, opts: DevOptions) -> Result<()> {
    let dev = rootfs.join("dev");
    mkdir_in(&dev)?;
    mount(
        M,
        "tmpfs",
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
        "A container gets its own small /dev holding only harmless devices, never the host's disks.",
    )?;
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        if opts.bind_devices {
            touch(&path)?;
            let src = format!("/dev/{name}");
            mount(
                M,
                &src,
                &path,
                None,
                MsFlags::MS_BIND,
                None,
                "Inside a user namespace mknod(2) of a device is refused, so the host's node is bind-mounted instead.",
            )?;
        } else {
            mknod(&path, major, minor)?;
        }
    }
    for (name, target) in DEV_LINKS {
        let path = dev.join(name);
        Step::new(
            M,
            Action::Filesystem,
            format!("link {} -> {target}", path.display()),
        )
        .arg("path", path.display())
        .arg("target", target)
        .shell(format!("ln -s {target} {}", path.display()))
        .detail()
        .run(|| {
            std::os::unix::fs::symlink(target, &path)
                .with_context(|| format!("symlink {}", path.display()))
        })?;
    }
    let pts = dev.join("pts");
    mkdir_in(&pts)?;
    let pts_opts = if opts.bind_devices {
        "newinstance,ptmxmode=0666,mode=0620"
    } else {
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    };
    mount(
        M,
        "devpts",
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(pts_opts),
        "A new devpts instance holds only the container's pseudo-terminals, not the host's.",
    )?;
    let shm = dev.join("shm");
    mkdir_in(&shm)?;
    mount(
        M,
        "shm",
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
        "POSIX shared memory (shm_open) lives in /dev/shm, private to the container.",
    )?;
    if opts.mqueue {
        let mq = dev.join("mqueue");
        mkdir_in(&mq)?;
        mount(
            M,
            "mqueue",
            &mq,
            Some("mqueue"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
            "An mqueue filesystem lists the POSIX message queues of the IPC namespace that mounted it.",
        )?;
    }
    Ok(())
}

fn mknod(path: &Path, major: u64, minor: u64) -> Result<()> {
    Step::new(
        M,
        Action::Syscall,
        format!("create device {}", path.display()),
    )
    .arg("path", path.display())
    .arg("major", major)
    .arg("minor", minor)
    .shell(format!("mknod -m 666 {} c {major} {minor}", path.display()))
    .man("mknod(2)")
    .detail()
    .run(|| {
        use nix::sys::stat::{Mode, SFlag};
        nix::sys::stat::mknod(
            path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(major, minor),
        )
        .with_context(|| format!("mknod(2) {}", path.display()))?;
        // mknod applies the umask; the nodes are meant for everyone.
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .with_context(|| format!("chmod {}", path.display()))
    })
}

/// `pivot_root . .` inside the new root, then detach the old root stacked
/// under it: afterwards no host path is reachable.
pub fn pivot(rootfs: &Path) -> Result<()> {
    Step::new(
        M,
        Action::Syscall,
        format!("change directory to {}", rootfs.display()),
    )
    .arg("path", rootfs.display())
    .shell(format!("cd {}", rootfs.display()))
    .detail()
    .run(|| nix::unistd::chdir(rootfs).with_context(|| format!("chdir {}", rootfs.display())))?;
    Step::new(M, Action::Syscall, format!("pivot_root into {}", rootfs.display()))
        .arg("new_root", ".")
        .arg("put_old", ".")
        .shell("pivot_root . .")
        .why("pivot_root moves the whole mount namespace onto the new root and puts the old root under it, where it can be unmounted so no host path stays reachable; chroot only changes one process's idea of /, leaves every host mount in place, and a root process escapes it with a second chroot.")
        .man("pivot_root(2)")
        .run(|| {
            nix::unistd::pivot_root(".", ".")
                .with_context(|| format!("pivot_root(2) into {}", rootfs.display()))
        })?;
    Step::new(M, Action::Syscall, "detach the old root")
        .arg("target", ".")
        .arg("flags", "MNT_DETACH")
        .shell("umount -l .")
        .why("After pivot_root(\".\", \".\") the old root is stacked on top of the new one; a lazy unmount removes it and every host mount under it from this namespace.")
        .man("umount(2)")
        .run(|| {
            nix::mount::umount2(".", MntFlags::MNT_DETACH).context("umount2(2) the old root")
        })?;
    Step::new(M, Action::Syscall, "change directory to /")
        .arg("path", "/")
        .shell("cd /")
        .detail()
        .run(|| nix::unistd::chdir("/").context("chdir /"))?;
    Ok(())
}

/// The rootfs as an absolute path (pivot_root and the mounts need one).
pub fn absolute(rootfs: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(rootfs).with_context(|| {
        format!(
            "rootfs {} does not exist: give a directory holding a root filesystem (bin/sh, ...)",
            rootfs.display()
        )
    })
}
