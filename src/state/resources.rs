//! The ledger of host resources glassbox has made.
//!
//! Every mount, cgroup, link, firewall table or pinned namespace is written
//! here *before* it is created (as `pending`, with the creating pid), and
//! marked `live` once it exists. So a crash half way leaves a record that
//! `glassbox system prune` can act on, and `glassbox doctor` can tell a
//! leftover from something a container still owns.
//!
//! Each kind of resource knows how to tell whether it exists, remove it,
//! and find objects of its kind on the host that belong to this root; the
//! kinds are listed in [`crate::state::resources::kinds`].

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::{Root, StateLock, read_json, write_json};
use crate::trace::Mechanism;

/// Who keeps a resource alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Owner {
    /// Made by hand (`cgroup create`, `unionfs mount`, `net bridge add`):
    /// kept until removed by hand or by `system prune --all`.
    Manual { command: String },
    /// Lives as long as this state file exists (a container's or a
    /// network's record).
    StateFile { path: PathBuf },
    /// Lives as long as this process runs.
    Process { pid: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Recorded, creation under way by `creator`.
    Pending,
    /// Created.
    Live,
}

/// One host resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The kind's name: `mount`, `cgroup`, `link`, ...
    pub kind: String,
    /// What identifies it for its kind: a path or a name.
    pub id: String,
    pub owner: Owner,
    pub phase: Phase,
    /// The pid of the glassbox command that recorded it.
    pub creator: u32,
}

/// A kind of host resource that glassbox can find and remove.
pub trait ResourceKind: Sync {
    fn name(&self) -> &'static str;
    /// Does the object still exist on the host?
    fn exists(&self, root: &Root, id: &str) -> bool;
    /// Remove it; "already gone" is success.
    fn remove(&self, root: &Root, id: &str) -> Result<()>;
    /// Objects of this kind on the host that belong to this root.
    fn scan(&self, root: &Root) -> Vec<String>;
}

/// What the rest of glassbox hands the state layer at startup: every kind
/// of host resource and every recovery area (see [`crate::registry`]). So
/// `state` knows the mechanisms only through these traits, and the arrows
/// of the tree point one way.
pub struct Registry {
    pub kinds: Vec<&'static dyn ResourceKind>,
    pub areas: Vec<&'static dyn super::recover::Recover>,
}

static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();

/// Hand the registry over (once; later calls keep the first).
pub fn install(r: Registry) {
    let _ = REGISTRY.set(r);
}

/// The installed registry (empty before [`install`]).
pub fn registry() -> &'static Registry {
    static EMPTY: Registry = Registry {
        kinds: Vec::new(),
        areas: Vec::new(),
    };
    REGISTRY.get().unwrap_or(&EMPTY)
}

/// Every kind of resource.
pub fn kinds() -> Vec<&'static dyn ResourceKind> {
    registry().kinds.clone()
}

fn kind(name: &str) -> Option<&'static dyn ResourceKind> {
    kinds().into_iter().find(|k| k.name() == name)
}

/// The ledger: in the run directory (`/run/glassbox`, a tmpfs), like the
/// kernel objects it records, which a reboot removes with it. Its many
/// small writes then cost no disk flush.
pub fn ledger_path(root: &Root) -> PathBuf {
    root.run.join("resources.json")
}

/// The ledger's lock file, made with the ledger.
pub fn lock_path(root: &Root) -> PathBuf {
    root.run.join("resources.lock")
}

fn ledger(root: &Root) -> PathBuf {
    move_old_ledger(root);
    ledger_path(root)
}

fn ledger_lock(root: &Root) -> PathBuf {
    lock_path(root)
}

/// Earlier versions kept the ledger in the data directory: a ledger found
/// there (and none in the run directory) is moved, so that what it
/// records stays known. Best effort: a failure leaves it where it was.
fn move_old_ledger(root: &Root) {
    let old = root.data.join("resources.json");
    if root.data == root.run || !old.exists() || ledger_path(root).exists() {
        return;
    }
    let moved = || -> Result<()> {
        let records: Vec<Resource> = read_json(&old)?.unwrap_or_default();
        write_json(&ledger_path(root), &records)?;
        let why =
            "The ledger now lives in the run directory; this is the copy an earlier version kept.";
        crate::host::remove_file(Mechanism::System, &old, why)?;
        let _ = crate::host::remove_file(Mechanism::System, &root.data.join("resources.lock"), why);
        Ok(())
    };
    if let Err(e) = moved() {
        crate::trace::say(
            Mechanism::System,
            format!(
                "could not move the ledger {} to the run directory: {e:#}",
                old.display()
            ),
        );
    }
}

/// The ledger's records, without making a ledger (or its lock file) where
/// there is none yet: a fresh root, or a plan made without root.
/// A run directory this process may not look into (a plan made without
/// root) counts as holding none.
pub fn list_if_any(root: &Root) -> Result<Vec<Resource>> {
    if !ledger_lock(root).exists() && !ledger(root).exists() {
        return Ok(Vec::new());
    }
    list(root)
}

fn load(root: &Root) -> Result<Vec<Resource>> {
    Ok(read_json(&ledger(root))?.unwrap_or_default())
}

/// Change the ledger under its lock.
fn update<T>(root: &Root, f: impl FnOnce(&mut Vec<Resource>) -> Result<T>) -> Result<T> {
    let _lock = StateLock::exclusive(&ledger_lock(root))?;
    let mut all = load(root)?;
    let out = f(&mut all)?;
    write_json(&ledger(root), &all)?;
    Ok(out)
}

/// Under `--dry-run` the ledger is neither read nor written (that may
/// need root), but the plan lists the write the real run makes, so that it
/// shows the same steps.
fn plan_write(root: &Root) -> Result<()> {
    super::atomic::write_step(&ledger(root), 0).run(|| Ok(()))
}

/// All recorded resources.
pub fn list(root: &Root) -> Result<Vec<Resource>> {
    let _lock = StateLock::shared(&ledger_lock(root))?;
    load(root)
}

/// A record made before creating a resource. Call [`Pending::commit`] once
/// it exists; dropped uncommitted (creation failed), the record is removed.
#[must_use = "commit the record once the resource exists"]
pub struct Pending {
    root: Root,
    kind: String,
    id: String,
    done: bool,
}

/// Record a resource about to be created. Fails if the same resource is
/// already recorded as live (someone else owns it).
pub fn record(root: &Root, kind: &str, id: &str, owner: Owner) -> Result<Pending> {
    if crate::trace::dry_run() {
        plan_write(root)?;
        return Ok(Pending {
            root: root.clone(),
            kind: kind.into(),
            id: id.into(),
            done: true,
        });
    }
    update(root, |all| {
        // A record stands in the way while its creator is still at work, or
        // while what it records exists; a record of something gone from the
        // host (removed by hand, a crash before the record was dropped) is
        // replaced.
        if let Some(r) = all.iter().find(|r| r.kind == kind && r.id == id)
            && (pid_alive(r.creator) && r.phase == Phase::Pending
                || r.phase == Phase::Live && self::kind(kind).is_none_or(|k| k.exists(root, id)))
        {
            bail!(
                "{kind} {id} is already recorded by glassbox (owner: {:?}); remove it first or run `glassbox system prune`",
                r.owner
            );
        }
        all.retain(|r| !(r.kind == kind && r.id == id));
        all.push(Resource {
            kind: kind.into(),
            id: id.into(),
            owner,
            phase: Phase::Pending,
            creator: std::process::id(),
        });
        Ok(())
    })?;
    Ok(Pending {
        root: root.clone(),
        kind: kind.into(),
        id: id.into(),
        done: false,
    })
}

impl Pending {
    /// The resource exists now.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        if crate::trace::dry_run() {
            // Nothing was recorded (see `record`), so nothing to mark.
            return plan_write(&self.root);
        }
        let (kind, id) = (self.kind.clone(), self.id.clone());
        update(&self.root, |all| {
            for r in all.iter_mut().filter(|r| r.kind == kind && r.id == id) {
                r.phase = Phase::Live;
            }
            Ok(())
        })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            let _ = forget(&self.root, &self.kind, &self.id);
        }
    }
}

/// Take over the records of resources this process is about to remove:
/// each becomes `pending`, with this process as its creator. A crash half
/// way through the removal then leaves records whose creator is dead,
/// which `doctor` names and `system prune` finishes, never a live record
/// of a half-removed object. Ids without a record are skipped.
pub fn begin_removal(root: &Root, kind: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    if crate::trace::dry_run() {
        return plan_write(root);
    }
    let me = std::process::id();
    update(root, |all| {
        for r in all
            .iter_mut()
            .filter(|r| r.kind == kind && ids.contains(&r.id))
        {
            r.phase = Phase::Pending;
            r.creator = me;
        }
        Ok(())
    })
}

/// Drop the record of a resource that has been removed.
pub fn forget(root: &Root, kind: &str, id: &str) -> Result<()> {
    if crate::trace::dry_run() {
        return plan_write(root);
    }
    update(root, |all| {
        all.retain(|r| !(r.kind == kind && r.id == id));
        Ok(())
    })
}

/// Is this process still running? A zombie is not: it has exited and
/// holds nothing any more, only its parent has not reaped it yet (the
/// parent of a crashed shim may be a command still running, or an init
/// that reaps late).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => Path::new(&format!("/proc/{pid}")).exists(),
    }
}

/// Why a resource has no owner any more, or `None` if it still has one.
pub fn orphan_reason(r: &Resource, include_manual: bool) -> Option<String> {
    if r.phase == Phase::Pending && !pid_alive(r.creator) {
        return Some(format!(
            "half-made: its creator (pid {}) died before finishing",
            r.creator
        ));
    }
    match &r.owner {
        Owner::Manual { command } if include_manual => Some(format!("made by hand ({command})")),
        Owner::Manual { .. } => None,
        Owner::StateFile { path } if !path.exists() => {
            Some(format!("its owner {} is gone", path.display()))
        }
        Owner::StateFile { .. } => None,
        Owner::Process { pid } if !pid_alive(*pid) => Some(format!("process {pid} has exited")),
        Owner::Process { .. } => None,
    }
}

/// Something doctor or prune found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    pub kind: String,
    pub id: String,
    pub reason: String,
}

/// Recorded resources with no owner any more, and records of resources
/// that are gone from the host (removed by hand, or a crash between the
/// removal and the record's deletion). Only what this root's ledger holds:
/// see [`unrecorded`] for the rest.
pub fn leftovers(root: &Root, include_manual: bool) -> Result<Vec<Leftover>> {
    let mut out = Vec::new();
    for r in list(root)? {
        if r.phase == Phase::Pending && pid_alive(r.creator) {
            continue; // still being made
        }
        let reason = match (orphan_reason(&r, include_manual), kind(&r.kind)) {
            (Some(reason), _) => reason,
            (None, Some(k)) if r.phase == Phase::Live && !k.exists(root, &r.id) => {
                "recorded, but gone from the host (removed by hand?)".into()
            }
            _ => continue,
        };
        out.push(Leftover {
            kind: r.kind,
            id: r.id,
            reason,
        });
    }
    Ok(out)
}

/// What `glassbox doctor` says of objects on the host that carry this
/// root's names but that this root never recorded. Prune never removes
/// them: another root, or a person, may own them.
pub const NOT_RECORDED: &str = "not recorded by this root";

/// Objects on the host that look like this root's (its names, under its
/// directories) but are not in its ledger.
pub fn unrecorded(root: &Root) -> Result<Vec<Leftover>> {
    let recorded = list_if_any(root)?;
    let mut out = Vec::new();
    for k in kinds() {
        for id in k.scan(root) {
            if !recorded.iter().any(|r| r.kind == k.name() && r.id == id) {
                out.push(Leftover {
                    kind: k.name().into(),
                    id,
                    reason: NOT_RECORDED.into(),
                });
            }
        }
    }
    Ok(out)
}

/// Remove every leftover of the ledger (never an unrecorded object); keeps
/// going after an error and reports them all.
pub fn prune(root: &Root, include_manual: bool) -> Result<(Vec<Leftover>, Vec<String>)> {
    let found = leftovers(root, include_manual)?;
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    for l in found {
        match kind(&l.kind) {
            None => errors.push(format!(
                "{} {}: unknown resource kind, left in place",
                l.kind, l.id
            )),
            Some(k) => {
                let result = if k.exists(root, &l.id) {
                    k.remove(root, &l.id)
                } else {
                    Ok(())
                };
                match result {
                    Ok(()) => {
                        forget(root, &l.kind, &l.id)?;
                        removed.push(l);
                    }
                    Err(e) => errors.push(format!("{} {}: {e:#}", l.kind, l.id)),
                }
            }
        }
    }
    Ok((removed, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(Some(dir.path())).unwrap();
        root.ensure().unwrap();
        (dir, root)
    }

    #[test]
    fn pending_record_is_removed_when_creation_fails() {
        let (_d, root) = root();
        {
            let _p = record(&root, "mount", "/x", Owner::Process { pid: 1 }).unwrap();
            assert_eq!(list(&root).unwrap()[0].phase, Phase::Pending);
        }
        assert!(list(&root).unwrap().is_empty());
    }

    #[test]
    fn committed_record_stays_live_and_blocks_a_second_owner() {
        let (_d, root) = root();
        // /proc is a mount point on every Linux system: the record's object
        // exists, so a second owner is refused.
        record(&root, "mount", "/proc", Owner::Process { pid: 1 })
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(list(&root).unwrap()[0].phase, Phase::Live);
        assert!(record(&root, "mount", "/proc", Owner::Process { pid: 1 }).is_err());
        forget(&root, "mount", "/proc").unwrap();
        assert!(list(&root).unwrap().is_empty());
    }

    #[test]
    fn a_live_record_of_something_gone_is_replaced() {
        crate::registry::install();
        let (d, root) = root();
        let gone = d.path().join("not-a-mount").display().to_string();
        record(&root, "mount", &gone, Owner::Process { pid: 1 })
            .unwrap()
            .commit()
            .unwrap();
        let again = record(&root, "mount", &gone, Owner::Process { pid: 1 }).unwrap();
        again.commit().unwrap();
        assert_eq!(list(&root).unwrap().len(), 1);
    }

    #[test]
    fn a_removal_under_way_is_pending_and_an_orphan_once_its_remover_dies() {
        let (_d, root) = root();
        let manual = Owner::Manual {
            command: "cgroup create x".into(),
        };
        for id in ["/x", "/y"] {
            record(&root, "mount", id, manual.clone())
                .unwrap()
                .commit()
                .unwrap();
        }
        begin_removal(&root, "mount", &["/x".into(), "/nope".into()]).unwrap();
        let all = list(&root).unwrap();
        assert_eq!(all.len(), 2);
        let x = all.iter().find(|r| r.id == "/x").unwrap();
        assert_eq!((x.phase, x.creator), (Phase::Pending, std::process::id()));
        assert_eq!(
            all.iter().find(|r| r.id == "/y").unwrap().phase,
            Phase::Live
        );
        let dead = Resource {
            creator: u32::MAX - 1,
            ..x.clone()
        };
        assert!(orphan_reason(&dead, false).is_some());
    }

    #[test]
    fn a_zombie_is_not_alive() {
        assert!(pid_alive(std::process::id()));
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Exited, not reaped yet: a zombie.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while pid_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "reaped too early"
        );
        assert!(!pid_alive(pid));
        drop(child);
        assert!(!pid_alive(u32::MAX - 1));
    }

    #[test]
    fn orphan_rules() {
        let dead = u32::MAX - 1;
        let r = |owner, phase, creator| Resource {
            kind: "mount".into(),
            id: "/x".into(),
            owner,
            phase,
            creator,
        };
        let me = std::process::id();
        let manual = Owner::Manual {
            command: "unionfs mount".into(),
        };
        assert!(orphan_reason(&r(manual.clone(), Phase::Live, dead), false).is_none());
        assert!(orphan_reason(&r(manual.clone(), Phase::Live, dead), true).is_some());
        let half = orphan_reason(&r(manual, Phase::Pending, dead), false).unwrap();
        assert!(half.contains("half-made"), "{half}");
        let gone = Owner::StateFile {
            path: "/nonexistent/container.json".into(),
        };
        assert!(orphan_reason(&r(gone, Phase::Live, me), false).is_some());
        assert!(orphan_reason(&r(Owner::Process { pid: me }, Phase::Live, me), false).is_none());
        assert!(orphan_reason(&r(Owner::Process { pid: dead }, Phase::Live, me), false).is_some());
    }
}
