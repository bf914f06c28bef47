//! Emptying a group: every process in it, and in the groups below it,
//! killed, however fast they fork. Read `cgroups(7)`, the kernel's
//! `Documentation/admin-guide/cgroup-v2.rst` (`cgroup.kill`,
//! `cgroup.freeze`) and `cgroup-v1/freezer-subsystem.rst`.
//!
//! Sending SIGKILL to each pid listed in `cgroup.procs` races with `fork`:
//! a child born between the read and the kill survives, and a fork bomb
//! outruns any such loop. The kernel offers two ways out, and glassbox
//! takes the first the group has:
//! - cgroup v2 `cgroup.kill` (Linux 5.14): writing `1` kills the whole
//!   subtree, forks under way included.
//! - the freezer ([`super::freezer`]): v2 `cgroup.freeze`, or v1
//!   `freezer.state` in the freezer hierarchy (a container's group has a
//!   directory there, see [`super::group::Reach::Every`]). Frozen tasks
//!   cannot fork, so the list of pids holds still while each gets SIGKILL;
//!   thawing lets the signals land. This is what runc and Docker do on v1.
//!
//! Either way glassbox then waits until `cgroup.procs` is empty in every
//! hierarchy (killing again whatever is still listed), since a directory
//! can only be removed once no process is left in it. A v1 group without a
//! freezer directory (one made by `cgroup create`, which spans only the
//! hierarchies of its limits) gets only that kill-and-look-again loop.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::freezer::{FREEZE_TIMEOUT, Freezer};
use super::{Group, Version};
use crate::host;
use crate::trace::{Action, Mechanism, Step};

/// How long the processes of a group get to die.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// How a group is emptied (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Write `1` to this v2 `cgroup.kill`.
    KillFile(PathBuf),
    /// Freeze through this file, SIGKILL every pid, thaw.
    Freeze(Freezer),
    /// SIGKILL every listed pid until none is left.
    Signals,
}

impl Group {
    /// How this group is emptied on this host (see the module docs).
    pub fn kill_method(&self) -> Method {
        let kill = self
            .trees
            .iter()
            .filter(|t| t.version() == Version::V2)
            .map(|t| t.dir(&self.rel).join("cgroup.kill"))
            .find(|f| f.exists());
        if let Some(kill) = kill {
            return Method::KillFile(kill);
        }
        match self.freezer() {
            Some(f) => Method::Freeze(f),
            None => Method::Signals,
        }
    }

    /// Kill every process in the group and in the groups below it, and
    /// wait until none is left in any hierarchy (see the module docs).
    /// Nothing to do (and no step) when the group holds no process.
    pub fn kill(&self) -> Result<()> {
        let pids = self.subtree_procs()?;
        if pids.is_empty() {
            return Ok(());
        }
        match self.kill_method() {
            Method::KillFile(file) => host::write_file_step(Mechanism::Cgroup, &file, "1")
                .arg("pids", format!("{pids:?}"))
                .why("One write to cgroup.kill sends SIGKILL to every process in the group and below it, forks under way included.")
                .man("cgroups(7)")
                .run(|| {
                    std::fs::write(&file, "1")
                        .with_context(|| format!("kill cgroup {}: write {}", self.name, file.display()))
                })?,
            Method::Freeze(freezer) => {
                freezer.freeze(
                    &self.name,
                    "A frozen group's tasks cannot run, so none can fork while the others are killed.",
                )?;
                // Tasks in the middle of a system call freeze when they
                // leave it; one that never does (or a wait cut short by a
                // group going away) is killed after the thaw all the same.
                let _ = freezer.wait_frozen(&self.name, FREEZE_TIMEOUT);
                let killed = self.signal(&pids);
                // Never leave the group frozen, whatever the kill did.
                let thawed = freezer.thaw(
                    &self.name,
                    "Thawed, the killed tasks run again just long enough to die of their SIGKILL.",
                );
                killed?;
                thawed?;
            }
            Method::Signals => self.signal(&pids)?,
        }
        self.wait_empty()
    }

    /// SIGKILL every process in the group and below it (listed again
    /// inside the step: after a freeze the list holds still).
    fn signal(&self, pids: &[u32]) -> Result<()> {
        Step::new(
            Mechanism::Cgroup,
            Action::Process,
            format!("kill {} process(es) in {}", pids.len(), self.name),
        )
        .arg("pids", format!("{pids:?}"))
        .shell(format!(
            "kill -9 $(cat {}/cgroup.procs)",
            self.first_dir().display()
        ))
        .why("A cgroup directory can only be removed once no process is left in it.")
        .man("kill(2)")
        .run(|| {
            for pid in self.pids_now() {
                sigkill(pid);
            }
            Ok(())
        })
    }

    /// Wait until no process is listed in the group or below it, in any
    /// hierarchy, killing again whatever still is.
    fn wait_empty(&self) -> Result<()> {
        Step::new(
            Mechanism::Cgroup,
            Action::Process,
            format!("wait until no process is left in {}", self.name),
        )
        .shell(format!(
            "while grep -q . {}/cgroup.procs; do sleep 0.1; done",
            self.first_dir().display()
        ))
        .why("A killed process leaves the group when it has died; until then the group cannot be removed.")
        .man("kill(2)")
        .run(|| {
            let deadline = Instant::now() + KILL_TIMEOUT;
            loop {
                let left = self.pids_now();
                if left.is_empty() {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    bail!(
                        "processes {left:?} in cgroup {} did not die within {} s",
                        self.name,
                        KILL_TIMEOUT.as_secs()
                    );
                }
                for pid in left {
                    sigkill(pid);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    }

    fn first_dir(&self) -> PathBuf {
        self.dirs().into_iter().next().unwrap_or_default()
    }

    /// The pids in the group and below it, every hierarchy, read inside a
    /// step (not traced one by one: how many reads a wait takes varies).
    fn pids_now(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for dir in self.dirs() {
            collect_pids(&dir, &mut pids);
        }
        pids.sort();
        pids.dedup();
        pids
    }
}

/// The pids in `dir`'s `cgroup.procs` and in those of every group below.
fn collect_pids(dir: &Path, out: &mut Vec<u32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

fn sigkill(pid: u32) {
    // ESRCH (already gone) is what we want.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::detect::layout_from;
    use crate::host::mountinfo;
    use crate::state::Root;

    #[test]
    fn a_group_made_in_a_temp_tree_is_killed_by_signals_or_the_freezer() {
        // A fake v1 freezer hierarchy: the method follows the files there.
        let dir = tempfile::tempdir().unwrap();
        let mi = format!(
            "35 31 0:32 / {0}/memory rw - cgroup cgroup rw,memory\n\
             36 31 0:33 / {0}/freezer rw - cgroup cgroup rw,freezer\n",
            dir.path().display()
        );
        let layout = layout_from(&mountinfo::parse(&mi), |_| None);
        let root = Root::new(Some(Path::new("/tmp/x"))).unwrap();
        let g = Group::with_layout(&root, "c", layout.clone());
        assert_eq!(g.kill_method(), Method::Signals, "no freezer directory");
        let freezer_dir = dir.path().join("freezer").join(&g.rel);
        std::fs::create_dir_all(&freezer_dir).unwrap();
        std::fs::write(freezer_dir.join("freezer.state"), "THAWED").unwrap();
        let g = Group::with_layout(&root, "c", layout);
        assert_eq!(
            g.kill_method(),
            Method::Freeze(Freezer {
                version: Version::V1,
                file: freezer_dir.join("freezer.state")
            })
        );
    }
}
