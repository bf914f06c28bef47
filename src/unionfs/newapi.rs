//! The new mount API: `fsopen(2)`, `fsconfig(2)`, `fsmount(2)`,
//! `move_mount(2)`. Instead of one option string in one page, a filesystem
//! context is opened, configured one key at a time, created, and only then
//! attached to the tree. From Linux 6.8, overlay accepts `lowerdir+` here,
//! one layer per call, so a stack of any height (up to 500) fits. When a
//! call fails the kernel leaves its reason in the context; reading the fd
//! returns it (`e overlayfs: failed to resolve 'x': -2`), so glassbox can
//! show it instead of a bare `EINVAL`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result, anyhow};

const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

fn cstr(s: &[u8]) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow!("{:?} contains a NUL byte", String::from_utf8_lossy(s)))
}

/// An open filesystem context (`fsopen`).
pub struct FsContext {
    fd: OwnedFd,
}

impl FsContext {
    /// `fsopen("overlay", FSOPEN_CLOEXEC)`.
    pub fn open(fstype: &str) -> Result<FsContext> {
        let name = cstr(fstype.as_bytes())?;
        // SAFETY: name is NUL-terminated; the syscall returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("fsopen(2) {fstype}"));
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        Ok(FsContext {
            fd: unsafe { OwnedFd::from_raw_fd(fd as i32) },
        })
    }

    /// `fsconfig(fd, FSCONFIG_SET_STRING, key, value, 0)`.
    pub fn set_string(&self, key: &str, value: &[u8]) -> Result<()> {
        let k = cstr(key.as_bytes())?;
        let v = cstr(value)?;
        // SAFETY: fd is open; key and value are NUL-terminated strings.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.fd.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            return Err(self.with_log(err)).with_context(|| {
                format!(
                    "fsconfig(2) {key}={}",
                    String::from_utf8_lossy(value).into_owned()
                )
            });
        }
        Ok(())
    }

    /// Set a key to a path.
    pub fn set_path(&self, key: &str, path: &Path) -> Result<()> {
        self.set_string(key, path.as_os_str().as_bytes())
    }

    /// `fsconfig(fd, FSCONFIG_CMD_CREATE)`: build the superblock.
    pub fn create(&self) -> Result<()> {
        // SAFETY: fd is open; the command takes no key or value.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.fd.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            return Err(self.with_log(err)).context("fsconfig(2) create the overlay superblock");
        }
        Ok(())
    }

    /// `fsmount(fd)` then `move_mount(mfd, "", AT_FDCWD, target)`.
    pub fn attach(&self, target: &Path) -> Result<()> {
        // SAFETY: fd is an open, created context.
        let mfd = unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.fd.as_raw_fd(),
                FSMOUNT_CLOEXEC,
                0 as libc::c_uint,
            )
        };
        if mfd < 0 {
            return Err(std::io::Error::last_os_error()).context("fsmount(2)");
        }
        // SAFETY: mfd is a fresh descriptor that nothing else owns.
        let mfd = unsafe { OwnedFd::from_raw_fd(mfd as i32) };
        let empty = cstr(b"")?;
        let t = cstr(target.as_os_str().as_bytes())?;
        // SAFETY: mfd is a detached mount; both strings are NUL-terminated.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                mfd.as_raw_fd(),
                empty.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("move_mount(2) onto {}", target.display()));
        }
        Ok(())
    }

    /// The messages the kernel left in the context (one per `read(2)`).
    pub fn log(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        for _ in 0..32 {
            // SAFETY: buf is valid for its length; fd is open.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
            // "e overlayfs: ..." (e: error, w: warning, i: info)
            out.push(line.get(2..).unwrap_or(&line).trim().to_string());
        }
        out
    }

    fn with_log(&self, err: std::io::Error) -> anyhow::Error {
        let log = self.log();
        if log.is_empty() {
            anyhow::Error::new(err)
        } else {
            anyhow::Error::new(err).context(format!("kernel says: {}", log.join("; ")))
        }
    }
}

/// Does this kernel's overlay take `lowerdir+` through `fsconfig(2)` (6.8+)?
pub fn has_lowerdir_plus() -> bool {
    probe_lowerdir_plus().unwrap_or(false)
}

/// Ask the kernel: an overlay context that accepts `lowerdir+`. Fails
/// (`EPERM`) where `fsopen(2)` is not allowed: without CAP_SYS_ADMIN.
/// Before Linux 6.5 overlay's context is a legacy one, which takes any
/// key at `fsconfig(2)` and only fails at `FSCONFIG_CMD_CREATE`: a context
/// that also takes a key no kernel knows has told nothing.
pub fn probe_lowerdir_plus() -> Result<bool> {
    let ctx = FsContext::open("overlay")?;
    if ctx.set_string("lowerdir+", b"/").is_err() {
        return Ok(false);
    }
    let legacy = FsContext::open("overlay")?
        .set_string("glassbox-no-such-option", b"x")
        .is_ok();
    Ok(!legacy)
}

/// Without the right to ask: a kernel of version 6.8 or newer has it.
pub fn kernel_has_lowerdir_plus() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|r| release_at_least(r.trim(), (6, 8)))
        .unwrap_or(false)
}

/// Is a kernel release like `6.18.44-fc` at least `min` (major, minor)?
fn release_at_least(release: &str, min: (u32, u32)) -> Option<bool> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some((major, minor) >= min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases_compare_by_major_and_minor() {
        assert_eq!(release_at_least("6.18.44-fc-v1045", (6, 8)), Some(true));
        assert_eq!(release_at_least("6.8.0", (6, 8)), Some(true));
        assert_eq!(release_at_least("6.1.0-18-amd64", (6, 8)), Some(false));
        assert_eq!(release_at_least("5.15.0", (6, 8)), Some(false));
        assert_eq!(release_at_least("x", (6, 8)), None);
    }
}
