//! Paths inside a container root, resolved as the container would resolve
//! them: `openat2(2)` with `RESOLVE_IN_ROOT`, so `..` stops at the root and
//! an absolute symlink in the image (`/etc/resolv.conf -> /etc/shadow`, or
//! `-> /proc/1/root/...`) means that path *inside* the root, never the
//! host's. glassbox mounts onto the descriptor it got
//! (`/proc/self/fd/N`), so nothing can swap the path in between (runc's
//! CVE-2021-30465 was such a race). Read `openat2(2)`, `path_resolution(7)`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

/// What to make when the path does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Make {
    /// Nothing: it must exist.
    Nothing,
    /// An empty directory (a mount point for a directory).
    Dir,
    /// An empty file (a mount point for a file).
    File,
}

/// `openat2(dirfd, path, how)`, tried again when a signal interrupts it
/// or the kernel saw a rename race during a `RESOLVE_IN_ROOT` walk of `..`
/// (`EAGAIN`, which it asks the caller to retry).
pub fn openat2(
    dirfd: i32,
    path: &Path,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open_how is plain data; every field is set below.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = mode as u64;
    how.resolve = resolve;
    let mut again = 0;
    loop {
        // SAFETY: openat2 with a valid C string and a correctly sized struct.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just gave us this descriptor.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let e = std::io::Error::last_os_error();
        let retry = e.kind() == std::io::ErrorKind::Interrupted
            || (e.raw_os_error() == Some(libc::EAGAIN) && again < 128);
        if !retry {
            return Err(e);
        }
        again += 1;
    }
}

/// Resolve as the container would: `..` and absolute symlinks stop at the
/// root, and no `/proc/PID/...` magic link can jump out of it.
pub const IN_ROOT: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;

/// The path relative to the root, without a leading `/` (`.` for the root).
pub fn relative(inside: &Path) -> PathBuf {
    let rel: PathBuf = inside
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Open `inside` (a path as the container sees it) under `root`, resolved
/// in the root, making it (and the directories above it) first if asked.
/// The descriptor is `O_PATH`: good to mount onto, not to read.
pub fn open(root: &Path, inside: &Path, make: Make) -> Result<OwnedFd> {
    open_hops(root, inside, make, 0)
}

/// How many dangling links `open` follows to make what they point at (the
/// kernel's own limit for a path walk).
const MAX_HOPS: u32 = 40;

fn open_hops(root: &Path, inside: &Path, make: Make, hops: u32) -> Result<OwnedFd> {
    let root_fd = openat2(libc::AT_FDCWD, root, libc::O_PATH | libc::O_DIRECTORY, 0, 0)
        .with_context(|| format!("open the container root {}", root.display()))?;
    let rel = relative(inside);
    match openat2(root_fd.as_raw_fd(), &rel, libc::O_PATH, 0, IN_ROOT) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) && make != Make::Nothing => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "openat2(2) {} inside the root {} (RESOLVE_IN_ROOT)",
                    inside.display(),
                    root.display()
                )
            });
        }
    }
    // Make the missing parts one component at a time, each resolved in
    // the root from the last one opened.
    let mut dir = root_fd;
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        let name = Path::new(part.as_os_str());
        let last = i + 1 == parts.len();
        let here = match openat2(dir.as_raw_fd(), name, libc::O_PATH, 0, IN_ROOT) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // A dangling link: make what it points at, inside the root.
                if let Some(target) = link_target(&dir, name)? {
                    if hops >= MAX_HOPS {
                        bail!(
                            "{} inside the root {}: too many levels of symbolic links",
                            inside.display(),
                            root.display()
                        );
                    }
                    let here = Path::new("/").join(parts[..i].iter().collect::<PathBuf>());
                    let next = here
                        .join(target)
                        .join(parts[i + 1..].iter().collect::<PathBuf>());
                    return open_hops(root, &next, make, hops + 1);
                }
                if last && make == Make::File {
                    let f = openat2(
                        dir.as_raw_fd(),
                        name,
                        libc::O_CREAT | libc::O_WRONLY,
                        0o644,
                        IN_ROOT,
                    )
                    .with_context(|| format!("create {} inside the root", inside.display()))?;
                    drop(f);
                } else {
                    let c = CString::new(part.as_os_str().as_bytes()).context("NUL in a path")?;
                    // SAFETY: mkdirat with a directory fd and a C string.
                    if unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) } == -1 {
                        let e = std::io::Error::last_os_error();
                        if e.kind() != std::io::ErrorKind::AlreadyExists {
                            return Err(e).with_context(|| {
                                format!("mkdir {} inside the root", inside.display())
                            });
                        }
                    }
                }
                openat2(dir.as_raw_fd(), name, libc::O_PATH, 0, IN_ROOT)
                    .with_context(|| format!("open {} inside the root", inside.display()))?
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("open {} inside the root", inside.display()));
            }
        };
        dir = here;
    }
    Ok(dir)
}

/// If `name` in `dir` is a symbolic link, what it points at.
fn link_target(dir: &OwnedFd, name: &Path) -> Result<Option<PathBuf>> {
    let c = CString::new(name.as_os_str().as_bytes()).context("NUL in a path")?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: readlinkat into a buffer of the given size.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            c.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Ok(None); // not a link (EINVAL) or gone
    }
    buf.truncate(n as usize);
    Ok(Some(PathBuf::from(std::ffi::OsStr::from_bytes(&buf))))
}

/// The `/proc/self/fd/N` path of a descriptor, for mount(2).
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Where `inside` really is on the host (for messages): the descriptor's
/// link in /proc.
pub fn real_path(fd: &OwnedFd) -> Result<PathBuf> {
    let p = fd_path(fd);
    std::fs::read_link(&p).with_context(|| format!("readlink {}", p.display()))
}

/// Refuse a mount target that is not an absolute path, as Docker does.
pub fn check_target(target: &Path) -> Result<()> {
    if !target.is_absolute() {
        bail!(
            "invalid mount config: the mount point {} is not absolute",
            target.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_symlink_in_the_root_stays_in_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("host-secret");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(&outside, "host").unwrap();
        // The image says /etc/resolv.conf -> <the host's secret, absolute>.
        std::os::unix::fs::symlink(&outside, root.join("etc/resolv.conf")).unwrap();
        std::os::unix::fs::symlink("../../../../..", root.join("etc/up")).unwrap();
        let fd = open(&root, Path::new("/etc/resolv.conf"), Make::File).unwrap();
        let real = real_path(&fd).unwrap();
        assert!(
            real.starts_with(&root),
            "{} escaped the root",
            real.display()
        );
        assert!(std::fs::read_to_string(&outside).unwrap() == "host");
        let fd = open(&root, Path::new("/etc/up/etc"), Make::Nothing).unwrap();
        assert_eq!(real_path(&fd).unwrap(), root.join("etc"));
        let fd = open(&root, Path::new("/data/new/dir"), Make::Dir).unwrap();
        assert_eq!(real_path(&fd).unwrap(), root.join("data/new/dir"));
        assert!(open(&root, Path::new("/nope"), Make::Nothing).is_err());
        assert!(check_target(Path::new("rel")).is_err());
    }
}
