//! The freezer: every task of a group stopped where it stands, and let go
//! again later, without a signal the tasks could see. `docker pause` is a
//! freeze, `docker unpause` a thaw; killing a group that forks fast is a
//! freeze, a SIGKILL for each task, then a thaw ([`super::kill`]).
//!
//! - cgroup v1: the freezer controller's `freezer.state`. Writing `FROZEN`
//!   starts the freeze; the file reads `FREEZING` until every task has
//!   stopped, then `FROZEN`. A task that forks or joins meanwhile can keep
//!   it `FREEZING`, so the write is repeated until it holds, thawing now
//!   and then to let a stuck freeze start again (runc does the same).
//!   `THAWED` lets them go. A frozen v1 task does not even die of SIGKILL
//!   until it is thawed.
//! - cgroup v2: `cgroup.freeze` of every non-root group, `1` or `0`; the
//!   group is frozen once its `cgroup.events` says `frozen 1`. A fatal
//!   signal still kills a frozen v2 task.
//!
//! Either way a freeze that does not settle within a few seconds (a task in
//! an uninterruptible sleep, on a dead NFS server, say) is undone and
//! reported, never left half-done. Read the kernel's
//! `Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst` and
//! `cgroup-v2.rst` (`cgroup.freeze`, `cgroup.events`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Group, Version};
use crate::host;
use crate::trace::{Action, Mechanism, Step};

/// How long a freeze may take to reach every task.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a group's freezer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    Thawed,
    /// v1 only: asked to freeze, not every task stopped yet.
    Freezing,
    Frozen,
}

impl FreezerState {
    /// v1 `freezer.state`: `THAWED`, `FREEZING` or `FROZEN`.
    pub fn from_v1(text: &str) -> Option<FreezerState> {
        match text.trim() {
            "THAWED" => Some(FreezerState::Thawed),
            "FREEZING" => Some(FreezerState::Freezing),
            "FROZEN" => Some(FreezerState::Frozen),
            _ => None,
        }
    }

    /// v2 `cgroup.events` (`populated 1`, `frozen 0|1`) with what was
    /// asked in `cgroup.freeze`: asked but not yet frozen is freezing.
    pub fn from_v2(events: &str, asked: &str) -> Option<FreezerState> {
        let frozen = events
            .lines()
            .find_map(|l| l.trim().strip_prefix("frozen "))?
            .trim();
        Some(match (frozen, asked.trim()) {
            ("1", _) => FreezerState::Frozen,
            (_, "1") => FreezerState::Freezing,
            _ => FreezerState::Thawed,
        })
    }
}

/// A group's freezer: the file and the values that freeze and thaw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freezer {
    pub version: Version,
    /// v1 `freezer.state`, v2 `cgroup.freeze`.
    pub file: PathBuf,
}

impl Freezer {
    /// What freezes and what thaws: `FROZEN`/`THAWED` (v1), `1`/`0` (v2).
    pub fn values(&self) -> (&'static str, &'static str) {
        match self.version {
            Version::V1 => ("FROZEN", "THAWED"),
            Version::V2 => ("1", "0"),
        }
    }

    /// The file that says whether the freeze is done: v1 `freezer.state`
    /// itself, v2 `cgroup.events`.
    pub fn state_file(&self) -> PathBuf {
        match self.version {
            Version::V1 => self.file.clone(),
            Version::V2 => self.dir().join("cgroup.events"),
        }
    }

    fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("/"))
    }

    /// Where the freezer stands now (`None`: the group is gone).
    pub fn state(&self) -> Option<FreezerState> {
        match self.version {
            Version::V1 => FreezerState::from_v1(&std::fs::read_to_string(&self.file).ok()?),
            Version::V2 => FreezerState::from_v2(
                &std::fs::read_to_string(self.state_file()).ok()?,
                &std::fs::read_to_string(&self.file).ok()?,
            ),
        }
    }

    /// Ask for the freeze: one write (the wait is [`Freezer::wait_frozen`]).
    pub fn freeze(&self, name: &str, why: &str) -> Result<()> {
        let (frozen, _) = self.values();
        host::write_file_step(Mechanism::Cgroup, &self.file, frozen)
            .why(why)
            .man("cgroups(7)")
            .run(|| {
                std::fs::write(&self.file, frozen)
                    .with_context(|| format!("freeze cgroup {name}: write {}", self.file.display()))
            })
    }

    /// Wait until every task is frozen, up to `timeout`: v1 reads
    /// `freezer.state` back and writes `FROZEN` again while it says
    /// `FREEZING`; v2 reads `cgroup.events` until it says `frozen 1`.
    /// `Ok(false)` when the time ran out first (nothing undone here).
    pub fn wait_frozen(&self, name: &str, timeout: Duration) -> Result<bool> {
        let (frozen, thawed) = self.values();
        let state = self.state_file();
        let shell = match self.version {
            Version::V1 => format!(
                "until grep -q FROZEN {0}; do echo FROZEN > {0}; sleep 0.01; done",
                self.file.display()
            ),
            Version::V2 => format!(
                "until grep -q 'frozen 1' {}; do sleep 0.01; done",
                state.display()
            ),
        };
        let done = Step::new(
            Mechanism::Cgroup,
            Action::FileRead,
            format!("wait until {} says frozen", state.display()),
        )
        .arg("path", state.display())
        .arg("timeout_s", timeout.as_secs())
        .shell(shell)
        .why(match self.version {
            Version::V1 => "A task stops when it next leaves the kernel: freezer.state reads FREEZING until all have, and a task forked meanwhile needs the write again.",
            Version::V2 => "A task stops when it next leaves the kernel: cgroup.events says frozen 1 once every task in the group has.",
        })
        .man("cgroups(7)")
        .apply(|| {
            let deadline = Instant::now() + timeout;
            let mut tries = 0u32;
            loop {
                match self.state() {
                    Some(FreezerState::Frozen) => return Ok(true),
                    None => bail!(
                        "cgroup {name} is gone: {} cannot be read",
                        state.display()
                    ),
                    _ => {}
                }
                if Instant::now() > deadline {
                    return Ok(false);
                }
                tries += 1;
                if self.version == Version::V1 {
                    if tries.is_multiple_of(50) {
                        // A freeze stuck behind new tasks starts afresh.
                        let _ = std::fs::write(&self.file, thawed);
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    std::fs::write(&self.file, frozen).with_context(|| {
                        format!("freeze cgroup {name}: write {}", self.file.display())
                    })?;
                }
                std::thread::sleep(Duration::from_millis(if tries < 20 { 1 } else { 10 }));
            }
        })?;
        // A plan (--dry-run) waits for nothing.
        Ok(done.value().unwrap_or(true))
    }

    /// Let the tasks go on.
    pub fn thaw(&self, name: &str, why: &str) -> Result<()> {
        let (_, thawed) = self.values();
        host::write_file_step(Mechanism::Cgroup, &self.file, thawed)
            .why(why)
            .man("cgroups(7)")
            .run(|| {
                std::fs::write(&self.file, thawed)
                    .with_context(|| format!("thaw cgroup {name}: write {}", self.file.display()))
            })
    }
}

impl Group {
    /// The group's freezer: v2 `cgroup.freeze` when the group is in the v2
    /// tree, else v1 `freezer.state` when it has a directory in the
    /// freezer hierarchy (a container's group does; one made by `cgroup
    /// create` spans only its limits' controllers). `None`: no freezer.
    pub fn freezer(&self) -> Option<Freezer> {
        let v2 = self
            .trees
            .iter()
            .filter(|t| t.version() == Version::V2)
            .map(|t| t.dir(&self.rel).join("cgroup.freeze"))
            .find(|f| f.exists());
        if let Some(file) = v2 {
            return Some(Freezer {
                version: Version::V2,
                file,
            });
        }
        self.trees
            .iter()
            .filter(|t| t.version() == Version::V1 && t.holds("freezer"))
            .map(|t| t.dir(&self.rel).join("freezer.state"))
            .find(|f| f.exists())
            .map(|file| Freezer {
                version: Version::V1,
                file,
            })
    }

    fn freezer_or_fail(&self) -> Result<Freezer> {
        self.freezer().with_context(|| {
            format!(
                "cgroup {} has no freezer: neither a v2 cgroup.freeze nor a directory in a v1 freezer hierarchy (is the freezer controller mounted? see `glassbox doctor`)",
                self.name
            )
        })
    }

    /// Freeze every task of the group (`docker pause`), and wait until
    /// all are frozen. A freeze that does not settle within
    /// [`FREEZE_TIMEOUT`] is undone (thawed) and reported.
    pub fn pause(&self) -> Result<()> {
        let f = self.freezer_or_fail()?;
        f.freeze(
            &self.name,
            "Frozen, the group's tasks get no CPU time at all until they are thawed; they keep their memory, files and sockets, and see no signal of it.",
        )?;
        match f.wait_frozen(&self.name, FREEZE_TIMEOUT) {
            Ok(true) => Ok(()),
            Ok(false) => {
                let shown = f
                    .state()
                    .map_or("nothing".to_string(), |s| format!("{s:?}"));
                f.thaw(&self.name, "A freeze that did not settle is undone.")?;
                bail!(
                    "cgroup {} did not freeze within {} s ({} still says {shown}): a task in it cannot be stopped now (one in an uninterruptible sleep, waiting on a disk or a network filesystem); it was thawed again: try again",
                    self.name,
                    FREEZE_TIMEOUT.as_secs(),
                    f.state_file().display()
                );
            }
            Err(e) => {
                let _ = f.thaw(&self.name, "A freeze that failed is undone.");
                Err(e)
            }
        }
    }

    /// Thaw every task of the group (`docker unpause`).
    pub fn resume(&self) -> Result<()> {
        self.freezer_or_fail()?.thaw(
            &self.name,
            "Thawed, the tasks run on from where they stood, as if nothing happened (their clocks moved on).",
        )
    }

    /// Where the group's freezer stands (`None`: no freezer, or gone).
    pub fn freezer_state(&self) -> Option<FreezerState> {
        self.freezer()?.state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_states_are_read_from_freezer_state() {
        assert_eq!(
            FreezerState::from_v1("FROZEN\n"),
            Some(FreezerState::Frozen)
        );
        assert_eq!(
            FreezerState::from_v1("FREEZING\n"),
            Some(FreezerState::Freezing)
        );
        assert_eq!(FreezerState::from_v1("THAWED"), Some(FreezerState::Thawed));
        assert_eq!(FreezerState::from_v1("SLUSH"), None);
    }

    #[test]
    fn v2_states_are_read_from_cgroup_events() {
        let events = |f| format!("populated 1\nfrozen {f}\n");
        assert_eq!(
            FreezerState::from_v2(&events(1), "1\n"),
            Some(FreezerState::Frozen)
        );
        assert_eq!(
            FreezerState::from_v2(&events(0), "1\n"),
            Some(FreezerState::Freezing)
        );
        assert_eq!(
            FreezerState::from_v2(&events(0), "0\n"),
            Some(FreezerState::Thawed)
        );
        assert_eq!(FreezerState::from_v2("populated 1\n", "1"), None);
    }

    /// The freezer follows the files: a fake v1 freezer hierarchy and a
    /// fake v2 tree, frozen and thawed by the same calls.
    #[test]
    fn freezing_a_fake_tree_writes_and_reads_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = Freezer {
            version: Version::V1,
            file: dir.path().join("freezer.state"),
        };
        std::fs::write(&v1.file, "THAWED").unwrap();
        v1.freeze("g", "test").unwrap();
        assert_eq!(v1.state(), Some(FreezerState::Frozen));
        assert!(v1.wait_frozen("g", Duration::from_millis(50)).unwrap());
        v1.thaw("g", "test").unwrap();
        assert_eq!(v1.state(), Some(FreezerState::Thawed));

        let v2 = Freezer {
            version: Version::V2,
            file: dir.path().join("cgroup.freeze"),
        };
        std::fs::write(&v2.file, "0").unwrap();
        std::fs::write(dir.path().join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        v2.freeze("g", "test").unwrap();
        // The kernel would say `frozen 1`; this plain file never does.
        assert_eq!(v2.state(), Some(FreezerState::Freezing));
        assert!(!v2.wait_frozen("g", Duration::from_millis(30)).unwrap());
        std::fs::write(dir.path().join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        assert!(v2.wait_frozen("g", Duration::from_millis(30)).unwrap());
    }
}
