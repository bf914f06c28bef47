//! Crash-safe state files: write a temporary file, fsync, `rename(2)`.
//!
//! A reader sees the old file or the new one, never half of one. A file
//! that is truncated or not JSON is reported with its path and what to do,
//! and is never silently overwritten.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::trace::{Action, Done, Mechanism, Step};

/// A state file that exists but is empty or not the JSON glassbox wrote
/// (its `Display` says which file and what to do). `glassbox doctor`
/// recognises it in an error chain to give the right advice.
#[derive(Debug)]
pub struct DamagedState(pub String);

impl std::fmt::Display for DamagedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DamagedState {}

/// Is a damaged state file the cause of `err`?
pub fn is_damaged_state(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<DamagedState>().is_some())
}

/// Write `bytes` to `path` atomically, as a traced step (shown at `-vv`;
/// only planned under `--dry-run`). The file is created with mode 0600:
/// state files, credentials among them, are root's alone, and the rename
/// keeps the temporary file's mode.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    apply_bytes(path, bytes).map(|_| ())
}

/// [`write_bytes`], saying whether the write ran or was only planned
/// (`--dry-run`).
pub fn apply_bytes(path: &Path, bytes: &[u8]) -> Result<Done<()>> {
    write_step(path, bytes.len()).apply(|| write_atomically(path, bytes))
}

/// The step of [`write_bytes`]: what a plan shows for a state write whose
/// content only the real run knows.
pub fn write_step(path: &Path, len: usize) -> Step {
    Step::new(
        Mechanism::System,
        Action::State,
        format!("write state file {}", path.display()),
    )
    .arg("path", path.display())
    .arg("bytes", len)
    .why("State is written to a temporary file, fsynced and renamed over the old one: a crash leaves the old file or the new, never half of one.")
    .man("rename(2)")
    .detail()
}

/// The temporary file beside `path` that [`write_bytes`] renames into
/// place: `.NAME.tmp-PID-N`.
pub fn temp_name(name: &str, pid: u32, seq: u64) -> String {
    format!(".{name}.tmp-{pid}-{seq}")
}

/// The pid in a temporary file's name, if `name` is one.
pub fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp-")?;
    let (pid, seq) = tail.split_once('-')?;
    seq.parse::<u64>().ok()?;
    pid.parse().ok()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("state file {} has no parent directory", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("state file {} has no name", path.display()))?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(temp_name(
        &name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
    ));
    let write = || -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("create temporary state file {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("fsync {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("rename {} to {}", tmp.display(), path.display()))
    };
    let result = write();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    apply_json(path, value).map(|_| ())
}

/// [`write_json`], saying whether the write ran or was only planned
/// (`--dry-run`).
pub fn apply_json<T: Serialize>(path: &Path, value: &T) -> Result<Done<()>> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .with_context(|| format!("serialize state for {}", path.display()))?;
    bytes.push(b'\n');
    apply_bytes(path, &bytes)
}

/// Read a JSON state file; `Ok(None)` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("read state file {}", path.display())),
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DamagedState(format!(
            "state file {} is empty (truncated?): move it aside or remove it, then run `glassbox doctor`",
            path.display()
        ))
        .into());
    }
    match serde_json::from_slice(&bytes) {
        Ok(v) => Ok(Some(v)),
        Err(e) => Err(DamagedState(format!(
            "state file {} is not valid glassbox state ({e}): it was left untouched; move it aside or remove it, then run `glassbox doctor`",
            path.display()
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateLock;

    #[test]
    fn temp_names_carry_their_writer() {
        assert_eq!(temp_name("x.json", 42, 7), ".x.json.tmp-42-7");
        assert_eq!(temp_owner(".x.json.tmp-42-7"), Some(42));
        assert_eq!(temp_owner(".a.tmp-b.tmp-9-0"), Some(9));
        assert_eq!(temp_owner("x.json"), None);
        assert_eq!(temp_owner(".x.tmp-1-z"), None);
    }

    #[test]
    fn state_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.json");
        write_json(&p, &"x").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        write_json(&p, &vec![1, 2, 3]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(
            read_json::<Vec<u32>>(&dir.path().join("none")).unwrap(),
            None
        );
    }

    #[test]
    fn truncated_or_garbage_file_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        std::fs::write(&p, b"{\"a\": [1, 2").unwrap();
        let err = format!("{:#}", read_json::<serde_json::Value>(&p).unwrap_err());
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert!(err.contains("not valid glassbox state"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"{\"a\": [1, 2");
        std::fs::write(&p, b"").unwrap();
        let err = format!("{:#}", read_json::<serde_json::Value>(&p).unwrap_err());
        assert!(err.contains("is empty"), "{err}");
    }

    #[test]
    fn concurrent_writers_never_corrupt_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("counter.json");
        let lock = dir.path().join("lock");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (file, lock) = (file.clone(), lock.clone());
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let _g = StateLock::exclusive(&lock).unwrap();
                        let n: u64 = read_json(&file).unwrap().unwrap_or(0);
                        write_json(&file, &(n + 1)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read_json::<u64>(&file).unwrap(), Some(200));
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }

    #[test]
    fn readers_beside_writers_always_see_whole_json() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.json");
        write_json(&file, &vec![0u32; 5000]).unwrap();
        let writer = {
            let file = file.clone();
            std::thread::spawn(move || {
                for i in 0..50u32 {
                    write_json(&file, &vec![i; 5000]).unwrap();
                }
            })
        };
        for _ in 0..200 {
            let v: Vec<u32> = read_json(&file).unwrap().unwrap();
            assert_eq!(v.len(), 5000);
        }
        writer.join().unwrap();
    }
}
