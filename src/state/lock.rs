//! Advisory file locks on state (`flock(2)`, via `File::lock`).
//!
//! One lock file per object where that helps (a network's leases, an
//! image's store entry), the global `lock` otherwise. Locks are held for a
//! read-modify-write of state, never across a download or a container's
//! lifetime. The lock is released when the guard is dropped.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    pub path: PathBuf,
}

impl StateLock {
    /// Take the exclusive lock at `path`, creating the file if needed.
    /// Blocks until no other glassbox command holds it.
    pub fn exclusive(path: &Path) -> Result<StateLock> {
        let file = open(path)?;
        file.lock()
            .with_context(|| format!("flock(LOCK_EX) on {}", path.display()))?;
        Ok(StateLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// Take the exclusive lock at `path` if nobody holds it; `None` at
    /// once if another command does (`flock(LOCK_EX|LOCK_NB)`).
    pub fn try_exclusive(path: &Path) -> Result<Option<StateLock>> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(StateLock {
                _file: file,
                path: path.to_path_buf(),
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("flock(LOCK_EX|LOCK_NB) on {}", path.display()))
            }
        }
    }

    /// Take the exclusive lock at `path` (blocking), or `None` if its
    /// directory does not exist: the lock of an object that lives in its
    /// own directory (a container), which must not bring a removed
    /// object's directory back.
    pub fn exclusive_in_existing_dir(path: &Path) -> Result<Option<StateLock>> {
        let file = match open_in_place(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("open lock file {}", path.display())),
        };
        file.lock()
            .with_context(|| format!("flock(LOCK_EX) on {}", path.display()))?;
        Ok(Some(StateLock {
            _file: file,
            path: path.to_path_buf(),
        }))
    }

    /// [`StateLock::exclusive_in_existing_dir`] without waiting: `None`
    /// when another command holds it or its directory is gone.
    pub fn try_exclusive_in_existing_dir(path: &Path) -> Result<Option<StateLock>> {
        let file = match open_in_place(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("open lock file {}", path.display())),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(StateLock {
                _file: file,
                path: path.to_path_buf(),
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("flock(LOCK_EX|LOCK_NB) on {}", path.display()))
            }
        }
    }

    /// The exclusive lock a command takes before it changes state, or
    /// none under `--dry-run`: a plan changes nothing, and may be made
    /// without root and before the root directory exists.
    pub fn for_change(path: &Path) -> Result<Option<StateLock>> {
        if crate::trace::dry_run() {
            return Ok(None);
        }
        StateLock::exclusive(path).map(Some)
    }

    /// Take a shared lock: many readers, no writer.
    pub fn shared(path: &Path) -> Result<StateLock> {
        let file = open(path)?;
        file.lock_shared()
            .with_context(|| format!("flock(LOCK_SH) on {}", path.display()))?;
        Ok(StateLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }
}

/// Open (or create) a lock file, root's alone: anyone who can open a lock
/// file can `flock` it and hang every glassbox command. A lock file made
/// by an older glassbox with a looser mode is tightened.
fn open(path: &Path) -> Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("create lock directory {}", parent.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(LOCK_MODE)
        .open(path)
        .with_context(|| format!("open lock file {}", path.display()))?;
    let mode = file
        .metadata()
        .with_context(|| format!("fstat lock file {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o777 != LOCK_MODE {
        file.set_permissions(std::fs::Permissions::from_mode(LOCK_MODE))
            .with_context(|| format!("fchmod 600 lock file {}", path.display()))?;
    }
    Ok(file)
}

/// Open (or create) a lock file in a directory that must already exist.
fn open_in_place(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(LOCK_MODE)
        .open(path)
}

/// The mode of every lock file.
pub const LOCK_MODE: u32 = 0o600;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn lock_files_are_root_only_even_when_made_loose() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _g = StateLock::exclusive(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, LOCK_MODE);
        let fresh = dir.path().join("fresh");
        let _h = StateLock::shared(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, LOCK_MODE);
    }

    #[test]
    fn exclusive_lock_serializes_critical_sections() {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("lock"));
        let inside = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, inside, max_seen) = (path.clone(), inside.clone(), max_seen.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _g = StateLock::exclusive(&path).unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(max_seen.load(Ordering::SeqCst), 1);
    }
}
