//! Reading the source of a copy: a file, a symlink or a whole tree, from
//! descriptors only. Each entry of a directory is opened relative to the
//! directory's descriptor with `O_PATH | O_NOFOLLOW` and looked at with
//! `fstat(2)`: a symlink is copied as a symlink (never followed), a
//! directory is entered through the descriptor just opened, so a process
//! that swaps an entry for a symlink meanwhile cannot send the walk out
//! of the tree. A regular file is opened for reading through that same
//! descriptor (`/proc/self/fd/N`), never by name again; a device or FIFO
//! is never opened at all. What is read goes to a [`Sink`]: files on the
//! other side, or a tar stream. Read `openat(2)` (`O_PATH`), `fstat(2)`.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::resolve::{Kind, Meta, fstat};

/// Where a copy's entries go, in the order of a tar: a directory before
/// what is in it, [`Sink::dir_done`] after it (to set its mode and time
/// once nothing more is written in it). `rel` is the entry's path in the
/// copy (`passwd`, `etc/passwd`, or `.` for the top of `DIR/.`).
pub trait Sink {
    fn dir(&mut self, rel: &Path, meta: &Meta) -> Result<()>;
    fn dir_done(&mut self, rel: &Path, meta: &Meta) -> Result<()>;
    fn file(&mut self, rel: &Path, meta: &Meta, data: &mut dyn Read) -> Result<()>;
    fn symlink(&mut self, rel: &Path, target: &Path, meta: &Meta) -> Result<()>;
    /// A FIFO or a device node.
    fn special(&mut self, rel: &Path, meta: &Meta) -> Result<()>;
    /// A hard link to `target`, an entry already written (from a tar).
    fn hard_link(&mut self, rel: &Path, target: &Path) -> Result<()>;
}

/// Open `name` in `dir` without following it: `None` if it is gone.
fn open_entry(dir: &OwnedFd, name: &OsStr) -> Result<Option<OwnedFd>> {
    match nix::fcntl::openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("openat(2) {}", name.to_string_lossy())),
    }
}

/// A readable descriptor for what an `O_PATH` descriptor names, opened
/// through `/proc/self/fd/N` (the same inode, not its name again).
pub fn reopen(fd: &OwnedFd, flags: OFlag) -> Result<OwnedFd> {
    let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
    nix::fcntl::openat(
        nix::fcntl::AT_FDCWD,
        via.as_str(),
        flags | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {via}"))
}

/// The names in a directory, sorted (a copy in a stable order).
fn names(dir: &OwnedFd) -> Result<Vec<Vec<u8>>> {
    let readable = reopen(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    let mut d = nix::dir::Dir::from_fd(readable).context("fdopendir(3)")?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e.context("readdir(3)")?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(n.to_vec());
        }
    }
    out.sort();
    Ok(out)
}

/// The kernel's own filesystems (`statfs(2)` `f_type`): what a running
/// container has mounted on `/proc`, `/sys`, `/dev/pts`, `/dev/mqueue`.
/// As Docker's `cp`, glassbox copies none of their contents: they are
/// the kernel's state, not files (and reading some, `/proc/kmsg`, blocks).
pub fn kernel_fs(fd: &OwnedFd) -> Option<&'static str> {
    use nix::sys::statfs as s;
    const MQUEUE_MAGIC: i64 = 0x1980_0202;
    let t = s::fstatfs(fd).ok()?.filesystem_type();
    if t.0 as i64 == MQUEUE_MAGIC {
        return Some("mqueue");
    }
    [
        (s::PROC_SUPER_MAGIC, "proc"),
        (s::SYSFS_MAGIC, "sysfs"),
        (s::CGROUP_SUPER_MAGIC, "cgroup"),
        (s::CGROUP2_SUPER_MAGIC, "cgroup2"),
        (s::DEVPTS_SUPER_MAGIC, "devpts"),
        (s::SECURITYFS_MAGIC, "securityfs"),
        (s::DEBUGFS_MAGIC, "debugfs"),
        (s::TRACEFS_MAGIC, "tracefs"),
        (s::BPF_FS_MAGIC, "bpf"),
        (s::SELINUX_MAGIC, "selinuxfs"),
        (s::NSFS_MAGIC, "nsfs"),
    ]
    .iter()
    .find(|(m, _)| m.0 == t.0)
    .map(|(_, n)| *n)
}

/// Copy what `fd` (`O_PATH`) names into `sink` as `rel`, a directory with
/// everything in it (a directory of the kernel's filesystems, empty).
pub fn walk(fd: &OwnedFd, rel: &Path, sink: &mut dyn Sink) -> Result<()> {
    let meta = fstat(fd).with_context(|| format!("fstat(2) {}", rel.display()))?;
    entry(fd, &meta, rel, sink)
}

fn entry(fd: &OwnedFd, meta: &Meta, rel: &Path, sink: &mut dyn Sink) -> Result<()> {
    match meta.kind {
        Kind::Dir if kernel_fs(fd).is_some() => {
            sink.dir(rel, meta)?;
            sink.dir_done(rel, meta)
        }
        Kind::Dir => {
            sink.dir(rel, meta)?;
            for name in names(fd).with_context(|| format!("list {}", rel.display()))? {
                let name = OsStr::from_bytes(&name);
                let Some(child) = open_entry(fd, name)? else {
                    continue; // removed since it was listed
                };
                let child_meta = fstat(&child)?;
                let child_rel: PathBuf = if rel == Path::new(".") {
                    PathBuf::from(name)
                } else {
                    rel.join(name)
                };
                entry(&child, &child_meta, &child_rel, sink)?;
            }
            sink.dir_done(rel, meta)
        }
        Kind::File => {
            let readable = reopen(fd, OFlag::O_RDONLY)?;
            let mut f = File::from(readable);
            sink.file(rel, meta, &mut f)
        }
        Kind::Symlink => {
            let target = nix::fcntl::readlinkat(fd, "")
                .with_context(|| format!("readlinkat(2) {}", rel.display()))?;
            sink.symlink(rel, Path::new(&target), meta)
        }
        Kind::Fifo | Kind::Char | Kind::Block => sink.special(rel, meta),
        // A socket is a live endpoint, not content: tar leaves it out too.
        Kind::Socket => Ok(()),
    }
}
