//! The events log in the state root: `events.log`, one JSON line per
//! event, and `events.log.1`, the generation before it.
//!
//! Appending: a shared `flock(2)` on `events.lock`, then one `write(2)` of
//! the whole line on a descriptor opened with `O_APPEND` (the kernel
//! moves to the end and writes in one step, so lines from a shim and a
//! command never interleave). Rotating: once the log passes
//! [`ROTATE_AT`] bytes, whoever wrote last takes the lock exclusively
//! (no append is half done then) and renames `events.log` over
//! `events.log.1`. So the log never grows past about twice that size and
//! always keeps at least the last [`ROTATE_AT`] bytes of events (some
//! 2000 events, where Docker's daemon keeps the last 256 in memory).
//!
//! Reading: [`replay`] reads both generations; a [`Follower`] reads new
//! lines as they come (`tail -F`: it notices the rename by the inode and
//! finishes the old file first). A line cut short by a crash is skipped.
//! Read `open(2)` (O_APPEND), `flock(2)`, `rename(2)`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::Event;
use crate::state::{Root, StateLock};
use crate::trace::{Action, Mechanism, Step};

/// The size past which the log is rotated.
pub const ROTATE_AT: u64 = 512 * 1024;

/// `events.log` in the data root.
pub fn path(root: &Root) -> PathBuf {
    root.data.join("events.log")
}

/// The previous generation.
pub fn old_path(root: &Root) -> PathBuf {
    root.data.join("events.log.1")
}

fn lock_path(root: &Root) -> PathBuf {
    root.data.join("events.lock")
}

/// Append `event` as one line (one `write(2)`); rotate once the log is
/// past `rotate_at` bytes.
pub fn append(root: &Root, event: &Event, rotate_at: u64) -> Result<()> {
    let log = path(root);
    let mut line = serde_json::to_string(event).context("encode the event")?;
    line.push('\n');
    let size = append_step(&log, event, &line).run(|| {
        if !root.data.is_dir() {
            bail!("the state root {} does not exist", root.data.display());
        }
        let _shared = StateLock::shared(&lock_path(root))?;
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&log)
            .with_context(|| format!("open {} (O_APPEND)", log.display()))?;
        let n = f
            .write(line.as_bytes())
            .with_context(|| format!("write(2) to {}", log.display()))?;
        if n != line.len() {
            bail!(
                "write(2) to {} wrote {n} of {} bytes",
                log.display(),
                line.len()
            );
        }
        Ok(f.metadata().map(|m| m.len()).unwrap_or(0))
    })?;
    if size > rotate_at {
        rotate(root, rotate_at)?;
    }
    Ok(())
}

/// The step that appends `line` (the JSON of `event`) to `log`.
fn append_step(log: &Path, event: &Event, line: &str) -> Step {
    Step::new(
        Mechanism::System,
        Action::State,
        format!("record event {} {}", event.kind, event.action),
    )
    .arg("path", log.display())
    .shell(format!("echo '{}' >> {}", line.trim_end(), log.display()))
    .why("Every command and shim appends what it did to the events log, one line in one write(2) on an O_APPEND descriptor, so lines written at the same moment never mix; `glassbox events` reads it.")
    .man("open(2)")
    .detail()
}

/// Rename the log over the old generation, under the exclusive lock (if
/// another writer did it meanwhile, nothing to do).
fn rotate(root: &Root, rotate_at: u64) -> Result<()> {
    let (log, old) = (path(root), old_path(root));
    let _excl = StateLock::exclusive(&lock_path(root))?;
    let size = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    if size <= rotate_at {
        return Ok(());
    }
    Step::new(
        Mechanism::System,
        Action::Filesystem,
        format!("rotate {}", log.display()),
    )
    .arg("path", log.display())
    .shell(format!("mv {} {}", log.display(), old.display()))
    .why("The events log is kept from growing without bound: the full one becomes the old generation, replacing the one before.")
    .man("rename(2)")
    .detail()
    .run(|| {
        std::fs::rename(&log, &old)
            .with_context(|| format!("rename {} to {}", log.display(), old.display()))
    })
}

/// The events of a chunk of the log; lines that are not events (cut
/// short by a crash) are skipped.
pub fn parse_lines(text: &str) -> Vec<Event> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Event>(l).ok())
        .collect()
}

fn inode(f: &File) -> Option<(u64, u64)> {
    f.metadata().ok().map(|m| (m.dev(), m.ino()))
}

fn inode_at(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// Follows the log as `tail -F` does.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    /// A line not yet ended.
    partial: Vec<u8>,
}

impl Follower {
    /// Follow from the log's end: only events written from now on.
    pub fn at_end(root: &Root) -> Follower {
        let path = path(root);
        let file = File::open(&path).ok().and_then(|mut f| {
            f.seek(SeekFrom::End(0)).ok()?;
            Some(f)
        });
        Follower {
            path,
            file,
            partial: Vec::new(),
        }
    }

    /// Every event kept (the old generation, then the log), and a follower
    /// from where they end.
    pub fn replay(root: &Root) -> Result<(Vec<Event>, Follower)> {
        let path = path(root);
        // The log first: if it is rotated meanwhile, it is the old
        // generation that was just read, and is not read twice.
        let file = File::open(&path).ok();
        let mut events = Vec::new();
        let old = old_path(root);
        let same = file.as_ref().and_then(inode).is_some()
            && file.as_ref().and_then(inode) == inode_at(&old);
        if !same {
            match std::fs::read_to_string(&old) {
                Ok(text) => events.extend(parse_lines(&text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("read {}", old.display())),
            }
        }
        let mut f = Follower {
            path,
            file,
            partial: Vec::new(),
        };
        events.extend(f.next_events()?);
        Ok((events, f))
    }

    /// The events written since the last call.
    pub fn next_events(&mut self) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(out);
        };
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)
            .with_context(|| format!("read {}", self.path.display()))?;
        // Rotated: the old file is finished (its writers are done, they
        // held the lock the rotation took); go on with the new one.
        let rotated = inode(file) != inode_at(&self.path);
        out.extend(self.take_lines(&buf));
        if rotated {
            self.partial.clear();
            self.file = File::open(&self.path).ok();
            if let Some(f) = self.file.as_mut() {
                let mut rest = Vec::new();
                f.read_to_end(&mut rest)
                    .with_context(|| format!("read {}", self.path.display()))?;
                out.extend(self.take_lines(&rest));
            }
        }
        Ok(out)
    }

    fn take_lines(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        parse_lines(&String::from_utf8_lossy(&whole))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &Path) -> Root {
        Root::new(Some(dir)).unwrap()
    }

    fn ev(action: &str) -> Event {
        Event::new("container", action, "abc")
    }

    #[test]
    fn appended_events_are_replayed_in_order_and_followed() {
        let d = tempfile::tempdir().unwrap();
        let r = root(d.path());
        let mut live = Follower::at_end(&r);
        for a in ["create", "start", "die"] {
            append(&r, &ev(a), ROTATE_AT).unwrap();
        }
        let (all, mut f) = Follower::replay(&r).unwrap();
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["create", "start", "die"]);
        assert!(f.next_events().unwrap().is_empty());
        append(&r, &ev("destroy"), ROTATE_AT).unwrap();
        assert_eq!(f.next_events().unwrap()[0].action, "destroy");
        // A follower started before the log existed sees every line.
        assert_eq!(live.next_events().unwrap().len(), 4);
    }

    #[test]
    fn the_log_rotates_keeps_one_generation_and_followers_miss_nothing() {
        let d = tempfile::tempdir().unwrap();
        let r = root(d.path());
        append(&r, &ev("first"), 1).unwrap();
        let mut f = Follower::at_end(&r);
        let mut seen = Vec::new();
        for i in 0..10 {
            append(&r, &ev(&format!("e{i}")), 300).unwrap();
            if i % 3 == 0 {
                seen.extend(f.next_events().unwrap());
            }
        }
        seen.extend(f.next_events().unwrap());
        let names: Vec<String> = seen.iter().map(|e| e.action.clone()).collect();
        let want: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
        assert_eq!(names, want);
        let size = std::fs::metadata(path(&r)).unwrap().len()
            + std::fs::metadata(old_path(&r)).unwrap().len();
        assert!(size < 1200, "both generations: {size} bytes");
        let (kept, _) = Follower::replay(&r).unwrap();
        assert_eq!(kept.last().unwrap().action, "e9");
        assert!(!kept.iter().any(|e| e.action == "first"));
    }

    #[test]
    fn a_line_cut_short_is_skipped_and_a_half_line_waits() {
        let d = tempfile::tempdir().unwrap();
        let r = root(d.path());
        append(&r, &ev("a"), ROTATE_AT).unwrap();
        let mut text = std::fs::read_to_string(path(&r)).unwrap();
        text.push_str("{\"Type\":\"cont\n");
        std::fs::write(path(&r), &text).unwrap();
        append(&r, &ev("b"), ROTATE_AT).unwrap();
        let (all, mut f) = Follower::replay(&r).unwrap();
        assert_eq!(all.len(), 2);
        let line = serde_json::to_string(&ev("c")).unwrap();
        let (head, tail) = line.split_at(10);
        let mut file = OpenOptions::new().append(true).open(path(&r)).unwrap();
        file.write_all(head.as_bytes()).unwrap();
        assert!(f.next_events().unwrap().is_empty());
        file.write_all(format!("{tail}\n").as_bytes()).unwrap();
        assert_eq!(f.next_events().unwrap()[0].action, "c");
    }

    #[test]
    fn the_append_step_shows_the_line_and_the_shell_command() {
        colored::control::set_override(false);
        let mut e = Event::new("container", "die", "abc").attr("exitCode", 3);
        e.time = 1_764_669_600;
        e.time_nano = 1_764_669_600_000_000_005;
        let line = serde_json::to_string(&e).unwrap() + "\n";
        let step = append_step(Path::new("/var/lib/glassbox/events.log"), &e, &line);
        let text = crate::trace::render(
            &step,
            &crate::trace::Outcome::Ok(std::time::Duration::from_micros(12)),
            true,
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_missing_root_is_an_error_not_a_new_directory() {
        let d = tempfile::tempdir().unwrap();
        let r = root(&d.path().join("nope"));
        assert!(append(&r, &ev("a"), ROTATE_AT).is_err());
        assert!(!d.path().join("nope").exists());
    }
}
