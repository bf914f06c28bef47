//! One side of a copy: a directory descriptor every path is resolved
//! from (an [`Anchor`]), and the metadata of what a path names ([`Meta`]).
//!
//! On the container's side the anchor is the container's `/` and every
//! path is resolved by `openat2(2)` with `RESOLVE_IN_ROOT`: `..` stops at
//! the root and an absolute symlink (`/x -> /etc/shadow`) means that path
//! *inside* the container. What is opened is a descriptor, and the copy
//! works from descriptors only (`openat`, `mkdirat`, `fchown`, ...), each
//! naming one component with `O_NOFOLLOW`: a process in the container
//! that swaps a directory for a symlink while the copy runs can make the
//! copy fail, never make it read or write a host file. That swap was
//! Docker's CVE-2018-15664, when `docker cp` resolved the path to a host
//! path string first and used the string afterwards. On the host's side
//! the anchor is the host's `/`, resolved as any program would.
//! Read `openat2(2)`, `path_resolution(7)`, `symlink(7)`.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::ns::inroot::{self, relative};

/// Where paths are resolved from.
#[derive(Debug)]
pub struct Anchor {
    fd: OwnedFd,
    /// How the root looks on the host, for messages (`/proc/42/root`).
    pub shown: PathBuf,
    /// Inside a container: resolved with `RESOLVE_IN_ROOT`.
    pub confined: bool,
}

/// The kind of a file, from `st_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Fifo,
    Char,
    Block,
    Socket,
}

/// What a copy keeps of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// The permission bits, setuid, setgid and sticky included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub rdev: u64,
}

impl Meta {
    pub fn of(st: &libc::stat) -> Meta {
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFIFO => Kind::Fifo,
            libc::S_IFCHR => Kind::Char,
            libc::S_IFBLK => Kind::Block,
            libc::S_IFSOCK => Kind::Socket,
            _ => Kind::File,
        };
        Meta {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            mtime: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec,
            rdev: st.st_rdev,
        }
    }
}

/// `fstat(2)` of a descriptor (an `O_PATH` one too).
pub fn fstat(fd: &OwnedFd) -> std::io::Result<Meta> {
    let st = nix::sys::stat::fstat(fd).map_err(std::io::Error::from)?;
    Ok(Meta::of(&st))
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: `None` when it is not there.
pub fn lstat_at(dir: &OwnedFd, name: &OsStr) -> std::io::Result<Option<Meta>> {
    match nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(Meta::of(&st))),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The parent of `path` and its last component (`/a/b/` gives `/a` and
/// `b`); `None` for `/`.
pub fn split(path: &Path) -> Option<(PathBuf, PathBuf)> {
    let name = path.file_name()?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    Some((parent.to_path_buf(), PathBuf::from(name)))
}

impl Anchor {
    /// The host's `/`: host paths resolved as any program resolves them.
    pub fn host() -> Result<Anchor> {
        let fd = inroot::openat2(
            libc::AT_FDCWD,
            Path::new("/"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .context("open / (openat2(2))")?;
        Ok(Anchor {
            fd,
            shown: PathBuf::from("/"),
            confined: false,
        })
    }

    /// A container's `/`, seen on the host at `root` (its merged overlay,
    /// or `/proc/PID/root` of its init).
    pub fn container(root: &Path) -> Result<Anchor> {
        let fd = inroot::openat2(libc::AT_FDCWD, root, libc::O_PATH | libc::O_DIRECTORY, 0, 0)
            .with_context(|| format!("open the container's root {}", root.display()))?;
        Ok(Anchor {
            fd,
            shown: root.to_path_buf(),
            confined: true,
        })
    }

    fn resolve(&self) -> u64 {
        if self.confined { inroot::IN_ROOT } else { 0 }
    }

    /// Open `path` (`O_PATH`), following a symlink at its end if `follow`.
    pub fn open(&self, path: &Path, follow: bool) -> std::io::Result<OwnedFd> {
        let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
        inroot::openat2(
            self.fd.as_raw_fd(),
            &relative(path),
            flags,
            0,
            self.resolve(),
        )
    }

    /// Open the directory `path` (`O_PATH`), following symlinks.
    pub fn open_dir(&self, path: &Path) -> std::io::Result<OwnedFd> {
        inroot::openat2(
            self.fd.as_raw_fd(),
            &relative(path),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            self.resolve(),
        )
    }

    /// The directory `path`, made (with its missing parents, mode 0755) if
    /// it is not there: a tar may name a file before its directory.
    pub fn make_dir(&self, path: &Path) -> Result<OwnedFd> {
        match self.open_dir(path) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e).with_context(|| self.what("open the directory", path)),
        }
        let Some((parent, name)) = split(path) else {
            return self.open_dir(path).with_context(|| self.what("open", path));
        };
        let dir = self.make_dir(&parent)?;
        mkdir_at(&dir, name.as_os_str(), 0o755).with_context(|| self.what("mkdir", path))?;
        self.open_dir(path)
            .with_context(|| self.what("open the directory", path))
    }

    /// `what PATH` as the user sees it, for messages.
    pub fn what(&self, what: &str, path: &Path) -> String {
        if self.confined {
            format!(
                "{what} {} in the container (under {}, resolved with RESOLVE_IN_ROOT)",
                path.display(),
                self.shown.display()
            )
        } else {
            format!("{what} {}", path.display())
        }
    }

    /// Follow symlinks at the end of `path` to the path they name (inside
    /// the anchor), at most 40 of them; the path itself when it is not a
    /// symlink. Lexical: whatever it gives is resolved in the root again.
    pub fn follow_links(&self, path: &Path) -> PathBuf {
        let mut path = Path::new("/").join(relative(path));
        for _ in 0..40 {
            let Some((parent, name)) = split(&path) else {
                return path;
            };
            let Ok(dir) = self.open_dir(&parent) else {
                return path;
            };
            match read_link_at(&dir, name.as_os_str()) {
                Some(target) => {
                    path = if target.is_absolute() {
                        target
                    } else {
                        parent.join(target)
                    }
                }
                None => return path,
            }
        }
        path
    }
}

fn cstr(name: &OsStr) -> std::io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

/// `mkdirat(dir, name, mode)`.
pub fn mkdir_at(dir: &OwnedFd, name: &OsStr, mode: u32) -> std::io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: mkdirat with a directory descriptor and a C string.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `readlinkat(dir, name)`: what the symlink `name` points at, if it is one.
pub fn read_link_at(dir: &OwnedFd, name: &OsStr) -> Option<PathBuf> {
    nix::fcntl::readlinkat(dir, name)
        .ok()
        .map(|t| PathBuf::from(OsStr::from_bytes(t.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_as_docker_splits_them() {
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
        assert_eq!(relative(Path::new("/a/b")), PathBuf::from("a/b"));
        assert_eq!(relative(Path::new("a/b/")), PathBuf::from("a/b"));
        assert_eq!(split(Path::new("/a/b/")), Some(("/a".into(), "b".into())));
        assert_eq!(split(Path::new("/b")), Some(("/".into(), "b".into())));
        assert_eq!(split(Path::new("/")), None);
    }

    #[test]
    fn a_link_to_etc_is_followed_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("x")).unwrap();
        std::os::unix::fs::symlink("../../../etc/shadow", root.join("etc/s")).unwrap();
        let a = Anchor::container(root).unwrap();
        assert_eq!(a.follow_links(Path::new("/x")), PathBuf::from("/etc"));
        // The link names the host's /etc/shadow; in the root it is nothing.
        assert!(a.open(Path::new("/etc/s"), true).is_err());
        let fd = a.open(Path::new("/x"), true).unwrap();
        assert_eq!(fstat(&fd).unwrap().kind, Kind::Dir);
        let fd = a.open(Path::new("/x"), false).unwrap();
        assert_eq!(fstat(&fd).unwrap().kind, Kind::Symlink);
    }
}
