//! Writing the entries of a copy as files under a directory of one side
//! (an [`Anchor`]): each entry's directory is opened by `openat2(2)` from
//! the anchor (in a container, `RESOLVE_IN_ROOT`), then the entry itself
//! is made by name in that directory's descriptor with `O_NOFOLLOW`
//! (`openat`, `mkdirat`, `symlinkat`, `mknodat`, `linkat`), and owner,
//! mode and time are set on the descriptor (`fchown`, `fchmod`,
//! `futimens`). A symlink planted where a file is written is replaced,
//! never written through; a directory is never replaced by a file nor a
//! file by a directory (Docker's rule for `cp`). Read `openat(2)`,
//! `mkdirat(2)`, `fchown(2)`.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags};

use super::resolve::{Anchor, Kind, Meta, lstat_at, mkdir_at, split};
use super::walk::Sink;

/// Writes entries under `base` (a directory inside `anchor`).
pub struct TreeSink<'a> {
    anchor: &'a Anchor,
    base: PathBuf,
    /// `-a`: keep the source's owners; else the files are the copier's.
    keep_owner: bool,
    /// Bytes of regular files written.
    pub bytes: u64,
}

fn time(sec: i64, nsec: i64) -> TimeSpec {
    TimeSpec::new(sec, nsec)
}

const OMIT: TimeSpec = TimeSpec::new(0, libc::UTIME_OMIT);

impl<'a> TreeSink<'a> {
    pub fn new(anchor: &'a Anchor, base: &Path, keep_owner: bool) -> TreeSink<'a> {
        TreeSink {
            anchor,
            base: base.to_path_buf(),
            keep_owner,
            bytes: 0,
        }
    }

    fn inside(&self, rel: &Path) -> PathBuf {
        self.base.join(rel)
    }

    /// The directory an entry goes in (made if a tar skipped it), and
    /// the entry's name.
    fn parent(&self, rel: &Path) -> Result<(OwnedFd, PathBuf)> {
        let path = self.inside(rel);
        let (parent, name) =
            split(&path).with_context(|| format!("{} names no entry", rel.display()))?;
        Ok((self.anchor.make_dir(&parent)?, name))
    }

    /// What is at `name` now; an error if a directory and a non-directory
    /// would replace each other.
    fn existing(
        &self,
        dir: &OwnedFd,
        name: &Path,
        rel: &Path,
        dir_wanted: bool,
    ) -> Result<Option<Meta>> {
        let old = lstat_at(dir, name.as_os_str())
            .with_context(|| self.anchor.what("lstat", &self.inside(rel)))?;
        match &old {
            Some(m) if m.kind == Kind::Dir && !dir_wanted => bail!(
                "cannot overwrite directory {:?} with non-directory",
                self.inside(rel).display().to_string()
            ),
            Some(m) if m.kind != Kind::Dir && dir_wanted => bail!(
                "cannot overwrite non-directory {:?} with directory",
                self.inside(rel).display().to_string()
            ),
            _ => {}
        }
        Ok(old)
    }

    fn unlink(&self, dir: &OwnedFd, name: &Path, rel: &Path) -> Result<()> {
        match nix::unistd::unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(e).with_context(|| self.anchor.what("unlink", &self.inside(rel))),
        }
    }

    /// Owner and time of an entry that is not opened (a symlink, a
    /// device): by name, never following it.
    fn finish_by_name(&self, dir: &OwnedFd, name: &Path, meta: &Meta) -> Result<()> {
        if self.keep_owner {
            nix::unistd::fchownat(
                dir,
                name,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .with_context(|| format!("fchownat(2) {}", name.display()))?;
        }
        nix::sys::stat::utimensat(
            dir,
            name,
            &OMIT,
            &time(meta.mtime, meta.mtime_nsec),
            UtimensatFlags::NoFollowSymlink,
        )
        .with_context(|| format!("utimensat(2) {}", name.display()))
    }

    /// Owner, then mode (a chown clears setuid), then time, on the
    /// descriptor itself.
    fn finish_fd(&self, fd: &OwnedFd, meta: &Meta, rel: &Path) -> Result<()> {
        let shown = self.inside(rel);
        if self.keep_owner {
            nix::unistd::fchown(
                fd,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
            )
            .with_context(|| format!("fchown(2) {}", shown.display()))?;
        }
        nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(meta.mode))
            .with_context(|| format!("fchmod(2) {}", shown.display()))?;
        nix::sys::stat::futimens(fd, &OMIT, &time(meta.mtime, meta.mtime_nsec))
            .with_context(|| format!("futimens(2) {}", shown.display()))
    }

    /// Open the file `name` to write it: the existing regular file in
    /// place (a bind-mounted file stays bound), anything else replaced.
    fn open_file(&self, dir: &OwnedFd, name: &Path, rel: &Path) -> Result<OwnedFd> {
        let old = self.existing(dir, name, rel, false)?;
        if old.as_ref().is_some_and(|m| m.kind == Kind::File) {
            // O_NONBLOCK: if it became a FIFO meanwhile, no hang.
            let flags = OFlag::O_WRONLY
                | OFlag::O_TRUNC
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_CLOEXEC
                | OFlag::O_NOCTTY;
            if let Ok(fd) = nix::fcntl::openat(dir, name, flags, Mode::empty())
                && super::resolve::fstat(&fd).is_ok_and(|m| m.kind == Kind::File)
            {
                return Ok(fd);
            }
        }
        if old.is_some() {
            self.unlink(dir, name, rel)?;
        }
        nix::fcntl::openat(
            dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .with_context(|| self.anchor.what("create", &self.inside(rel)))
    }
}

impl Sink for TreeSink<'_> {
    fn dir(&mut self, rel: &Path, _meta: &Meta) -> Result<()> {
        if rel == Path::new(".") {
            return Ok(()); // the contents of DIR/. go into the existing directory
        }
        let (dir, name) = self.parent(rel)?;
        if self.existing(&dir, &name, rel, true)?.is_none() {
            // 0700 until its own mode is set, after what goes in it.
            mkdir_at(&dir, name.as_os_str(), 0o700)
                .with_context(|| self.anchor.what("mkdir", &self.inside(rel)))?;
        }
        Ok(())
    }

    fn dir_done(&mut self, rel: &Path, meta: &Meta) -> Result<()> {
        if rel == Path::new(".") {
            return Ok(());
        }
        let (dir, name) = self.parent(rel)?;
        let fd = nix::fcntl::openat(
            &dir,
            &name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| self.anchor.what("open the directory", &self.inside(rel)))?;
        self.finish_fd(&fd, meta, rel)
    }

    fn file(&mut self, rel: &Path, meta: &Meta, data: &mut dyn Read) -> Result<()> {
        let (dir, name) = self.parent(rel)?;
        let fd = self.open_file(&dir, &name, rel)?;
        let mut f = File::from(fd);
        let n = std::io::copy(data, &mut f)
            .with_context(|| self.anchor.what("write", &self.inside(rel)))?;
        self.bytes += n;
        self.finish_fd(&OwnedFd::from(f), meta, rel)
    }

    fn symlink(&mut self, rel: &Path, target: &Path, meta: &Meta) -> Result<()> {
        let (dir, name) = self.parent(rel)?;
        if self.existing(&dir, &name, rel, false)?.is_some() {
            self.unlink(&dir, &name, rel)?;
        }
        nix::unistd::symlinkat(target, &dir, &name)
            .with_context(|| self.anchor.what("symlink", &self.inside(rel)))?;
        self.finish_by_name(&dir, &name, meta)
    }

    fn special(&mut self, rel: &Path, meta: &Meta) -> Result<()> {
        let (dir, name) = self.parent(rel)?;
        if self.existing(&dir, &name, rel, false)?.is_some() {
            self.unlink(&dir, &name, rel)?;
        }
        let kind = match meta.kind {
            Kind::Char => libc::S_IFCHR,
            Kind::Block => libc::S_IFBLK,
            _ => libc::S_IFIFO,
        };
        let c =
            std::ffi::CString::new(name.as_os_str().as_encoded_bytes()).context("NUL in a name")?;
        // The exact mode, without this process's umask.
        let old = nix::sys::stat::umask(Mode::empty());
        // SAFETY: mknodat with a directory descriptor and a C string.
        let r = unsafe {
            libc::mknodat(
                std::os::fd::AsRawFd::as_raw_fd(&dir),
                c.as_ptr(),
                kind | meta.mode,
                meta.rdev,
            )
        };
        nix::sys::stat::umask(old);
        if r == -1 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| self.anchor.what("mknod", &self.inside(rel)));
        }
        self.finish_by_name(&dir, &name, meta)
    }

    fn hard_link(&mut self, rel: &Path, target: &Path) -> Result<()> {
        let (dir, name) = self.parent(rel)?;
        let (tdir, tname) = self.parent(target)?;
        if self.existing(&dir, &name, rel, false)?.is_some() {
            self.unlink(&dir, &name, rel)?;
        }
        nix::unistd::linkat(&tdir, &tname, &dir, &name, AtFlags::empty())
            .with_context(|| self.anchor.what("link", &self.inside(rel)))
    }
}
