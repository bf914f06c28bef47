//! Making and removing a glassbox cgroup as transactions, and putting
//! right what a crash of either left.
//!
//! `cgroup create` takes several steps: the ledger record, a `mkdir` in
//! every hierarchy (on v1 one per controller tree, plus glassbox's parent
//! and, for a v1 cpuset, its CPUs and memory nodes), a write per limit,
//! and the record marked live. The record is written first, as *pending*
//! with the creating pid, and marked live last; `cgroup rm` turns it
//! pending again (with its own pid) before the first `rmdir`. So a command
//! killed at any step leaves a pending record whose creator is dead:
//! `glassbox doctor` names it, `glassbox system prune` removes what is
//! there, and the next `cgroup create`, `rm`, `set`, `add` or `run` of that
//! name rolls it back first (the half-made group is removed; a create then
//! starts afresh). Only a group whose record is live is a group that
//! "already exists".
//!
//! Who wins when two commands create the same group at once is decided by
//! the kernel, not by a look first: the `mkdir` of the group's directory
//! in the first hierarchy succeeds for one and fails with EEXIST for the
//! other, which then says "already exists" and touches nothing of the
//! winner's (no limit, no record, no directory). The other hierarchies of
//! a v1 host follow the first. Commands that make or remove a root's
//! groups hold its cgroup lock (`cgroups.lock`, `flock(2)`) meanwhile, so
//! that shared parents, v1 cpusets and the ledger never see two of them
//! half way; the loser's `mkdir` meets the winner's finished directory.
//! Read `cgroups(7)` and `mkdir(2)` (EEXIST).
//!
//! The same code makes a container's group ([`create_container`]): a
//! directory in every hierarchy ([`Reach::Every`]), owned by the
//! container's record, so that `prune` removes it once the container is
//! gone. `cgroup create` keeps making directories only where its limits'
//! controllers are ([`Reach::Limits`]): that is what a student sees and
//! what the lab's transcripts show; `cgroup stat`, `add`, `rm` and prune
//! find the other hierarchies of a container's group by its directories.
//!
//! Nothing here prints: what a command should say (a crash's leftovers
//! put right) comes back as notes, and the steps speak through the trace.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::detect::{self, Layout};
use super::kind::KIND_NAME;
use super::spec::Limits;
use super::{Group, Made, Reach};
use crate::state::resources::{self, Owner, Phase, Resource};
use crate::state::{Root, StateLock};
use crate::trace::{Action, Done, Mechanism, Step};

/// The lock of this root's cgroups.
pub fn lock_path(root: &Root) -> PathBuf {
    root.data.join("cgroups.lock")
}

/// Take this root's cgroup lock (none under `--dry-run`, which changes
/// nothing). Blocks while another command makes or removes a group.
pub fn lock(root: &Root) -> Result<Option<StateLock>> {
    root.ensure()?;
    StateLock::for_change(&lock_path(root))
}

/// Is a command making or removing this root's groups right now? Never
/// creates the lock file; "cannot tell" (not root) counts as busy.
pub fn busy(root: &Root) -> bool {
    match std::fs::File::open(lock_path(root)) {
        Ok(f) => f.try_lock().is_err(),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// `lab`, then `lab/a`, for `lab/a`: the groups a name makes, top down.
fn prefixes(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut prefix = String::new();
    for part in name.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        out.push(prefix.clone());
    }
    out
}

fn ledger(root: &Root) -> PathBuf {
    crate::state::resources::ledger_path(root)
}

/// The ledger's records of this root's groups, read as a step (shown at
/// `-vv`). Without root the ledger cannot be read (the state root is
/// root's alone): a plan then lists the read as needing root and gets
/// `None`; a real run fails there.
fn records(root: &Root) -> Result<Option<Vec<Resource>>> {
    let path = ledger(root);
    Step::new(
        Mechanism::Cgroup,
        Action::FileRead,
        format!("read the ledger {}", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("cat {}", path.display()))
    .why("The ledger says which groups this root made, and which a crashed command left half-made.")
    .detail()
    .observe_or_plan(|| {
        let there = path
            .try_exists()
            .with_context(|| format!("stat {}", path.display()))?;
        if !there {
            return Ok(Vec::new());
        }
        Ok(resources::list(root)?
            .into_iter()
            .filter(|r| r.kind == KIND_NAME)
            .collect())
    })
    .map(Done::value)
}

/// Might the ledger exist? (Without root it cannot be told: yes.)
fn ledger_may_exist(root: &Root) -> bool {
    ledger(root).try_exists().unwrap_or(true)
}

/// What a command has to tell the user besides its steps.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// What a crash had left, and how it was put right.
    pub notes: Vec<String>,
    /// What cannot be enforced here (e.g. swap without swap accounting).
    pub warnings: Vec<String>,
}

fn already_exists(name: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "cgroup {name:?} already exists: change its limits with `glassbox cgroup set {name}`, or remove it with `glassbox cgroup rm {name}`"
    )
}

/// The error for a group that is not there.
pub fn no_such_group(name: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "no cgroup named {name:?} in this root: create it with `glassbox cgroup create {name}` (see `glassbox cgroup ls`)"
    )
}

/// What [`settle`] did.
#[derive(Debug, Default)]
struct Settled {
    /// The names whose leftovers were rolled back (or, in a plan, will be).
    acted: Vec<String>,
    /// One line per name, for the user.
    notes: Vec<String>,
    /// The records left.
    left: Vec<Resource>,
}

impl Settled {
    /// Was `name`, or a group above it, rolled back (so it is gone)?
    fn covers(&self, name: &str) -> bool {
        self.acted
            .iter()
            .any(|a| a == name || name.starts_with(&format!("{a}/")))
    }
}

/// Put right what a crash left of `name` and of the groups its name
/// passes through: a group left pending by a command that died is rolled
/// back (its processes killed, its directories removed, its record
/// dropped); a live record whose group is gone from the host is dropped.
/// Call under the lock, with the records the ledger holds.
fn settle(root: &Root, layout: &Layout, name: &str, recs: Vec<Resource>) -> Result<Settled> {
    let mut out = Settled::default();
    for p in prefixes(name) {
        let Some(r) = recs.iter().find(|r| r.id == p) else {
            continue;
        };
        let g = Group::with_layout(root, &p, layout.clone());
        match r.phase {
            Phase::Pending if !resources::pid_alive(r.creator) => {
                out.notes.push(format!(
                    "cgroup {p} was left half-made (or half-removed) by glassbox pid {}, which died: removing what is left of it",
                    r.creator
                ));
                g.destroy()?;
                resources::forget(root, KIND_NAME, &p)?;
                out.acted.push(p);
            }
            Phase::Pending => bail!(
                "cgroup {p:?} is being created or removed by glassbox pid {} right now: wait for it to finish",
                r.creator
            ),
            Phase::Live if !g.exists() => {
                out.notes.push(format!(
                    "cgroup {p} is recorded but gone from the host (removed by hand?): dropping its record"
                ));
                resources::forget(root, KIND_NAME, &p)?;
                out.acted.push(p);
            }
            Phase::Live => {}
        }
    }
    out.left = recs
        .into_iter()
        .filter(|r| !out.acted.contains(&r.id))
        .collect();
    Ok(out)
}

/// [`settle`], when the ledger can be read (see [`records`]).
fn settle_known(root: &Root, layout: &Layout, name: &str) -> Result<Settled> {
    match records(root)? {
        Some(recs) => settle(root, layout, name, recs),
        None => Ok(Settled::default()),
    }
}

/// Create group `g` with `limits`, as one transaction (see the module
/// docs): recorded (for `owner`) before its first `mkdir`, live after its
/// last limit, and on failure removed again with its record. Fails with
/// "already exists" when the group is there, or when the first
/// hierarchy's `mkdir` meets it. The parents it makes (`lab` of `lab/a`)
/// are recorded as made by hand.
pub fn create(root: &Root, g: &Group, limits: &Limits, owner: Owner) -> Result<Report> {
    let _lock = lock(root)?;
    let settled = settle_known(root, &g.layout, &g.name)?;
    if g.exists() && !settled.covers(&g.name) {
        return Err(already_exists(&g.name));
    }
    let names = prefixes(&g.name);
    let Some((leaf, parents)) = names.split_last() else {
        bail!("cgroup name is empty");
    };
    // Record the parents this makes (`lab` of `lab/a`), then the group.
    let parent_owner = Owner::Manual {
        command: format!("cgroup create {}", g.name),
    };
    let mut made_parents = Vec::new();
    for p in parents {
        let pg = g.other(p);
        if !pg.exists() || settled.covers(p) {
            let rec = resources::record(root, KIND_NAME, p, parent_owner.clone())?;
            made_parents.push((pg, rec));
        }
    }
    // A group that has a record gets no record of this command: the
    // mkdir below will meet it.
    let own = if settled.left.iter().any(|r| r.id == *leaf) {
        None
    } else {
        Some(resources::record(root, KIND_NAME, leaf, owner)?)
    };
    let made = g.create();
    let won = matches!(made, Ok(Made::New));
    let result = match made {
        Ok(Made::New) => g.apply(limits, true),
        Ok(Made::Existed) => Err(already_exists(&g.name)),
        Err(e) => Err(e),
    };
    let warnings = match result {
        Ok(w) => w,
        Err(e) => return Err(undo(g, &made_parents, won, e)),
    };
    // Parents first: a crash between two commits then leaves a finished
    // parent and only the group itself to roll back.
    for (_, rec) in made_parents {
        rec.commit()?;
    }
    if let Some(own) = own {
        own.commit()?;
    }
    Ok(Report {
        notes: settled.notes,
        warnings,
    })
}

/// Undo a failed [`create`] and return its error.
fn undo(
    g: &Group,
    made_parents: &[(Group, resources::Pending)],
    won: bool,
    mut e: anyhow::Error,
) -> anyhow::Error {
    // Leave nothing behind, and nothing of anyone else's: the group only
    // if this command made it, the parents it made, deepest first, then
    // glassbox's parent if it is empty. The records go last (the caller
    // drops the pending ones, which forgets them).
    if won && let Err(r) = g.remove_dirs() {
        e = e.context(format!(
            "and removing the half-made cgroup {} failed too: {r:#}",
            g.name
        ));
    }
    for (p, _) in made_parents.iter().rev() {
        let _ = p.remove_dirs();
    }
    let _ = g.remove_parent_if_empty();
    e
}

/// Make a container's group `name`: a directory in every hierarchy
/// glassbox knows, on v1 the freezer, devices, blkio and cpuacct trees
/// too, even when `limits` sets nothing there ([`Reach::Every`]), recorded
/// in the ledger for `owner` (the container's record). One transaction, as
/// [`create`]; what `run` makes per container, and what [`Group::kill`]
/// then empties through the freezer.
pub fn create_container(
    root: &Root,
    name: &str,
    limits: &Limits,
    owner: Owner,
) -> Result<(Group, Report)> {
    super::validate_name(name)?;
    let g = Group::with_reach(root, name, detect::detect()?, Reach::Every);
    g.check_controllers(limits)?;
    let report = create(root, &g, limits, owner)?;
    Ok((g, report))
}

/// Put right what a crash left of group `g`, then make sure it exists:
/// for the commands that use a group (`set`, `add`, `run`). Returns notes
/// on what a crash had left.
pub fn existing(root: &Root, g: &Group) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    if ledger_may_exist(root) {
        let _lock = lock(root)?;
        notes = settle_known(root, &g.layout, &g.name)?.notes;
    }
    if !g.exists() {
        return Err(no_such_group(&g.name));
    }
    Ok(notes)
}

/// [`existing`] by name.
pub fn open_existing(root: &Root, name: &str) -> Result<Group> {
    let g = Group::open(root, name)?;
    existing(root, &g)?;
    Ok(g)
}

/// Remove group `name` as one transaction: its records turn pending
/// (this command's) before the first change, and are dropped after the
/// last `rmdir`. Without `force` it refuses while processes or child
/// groups are left; with it, every process in the group and below is
/// killed ([`Group::kill`]) and the child groups go too. What a crash left
/// of the group is finished here too. Returns notes on what a crash had
/// left.
pub fn remove(root: &Root, name: &str, force: bool) -> Result<Vec<String>> {
    let g = Group::open(root, name)?;
    let _lock = lock(root)?;
    let settled = settle_known(root, &g.layout, name)?;
    if settled.covers(name) {
        // What a crash left of it is gone now (or is planned to go).
        return Ok(settled.notes);
    }
    if !g.exists() {
        bail!(
            "no cgroup named {name:?} in this root: see `glassbox cgroup ls` for the ones there are"
        );
    }
    let children = g.descendants();
    if !force {
        if !children.is_empty() {
            bail!(
                "cgroup {name:?} has child cgroups ({}): remove them first, or use --force",
                children.join(", ")
            );
        }
        let procs = g.procs()?;
        if !procs.is_empty() {
            bail!(
                "cgroup {name:?} still has {} process(es) ({}): stop them first, or use --force to kill them",
                procs.len(),
                procs
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    // The records of the group and of every group below it, deepest
    // first (none known when a plan cannot read the ledger).
    let mut ids: Vec<String> = settled
        .left
        .into_iter()
        .map(|r| r.id)
        .filter(|id| id == name || id.starts_with(&format!("{name}/")))
        .collect();
    ids.sort_by_key(|id| std::cmp::Reverse(id.matches('/').count()));
    resources::begin_removal(root, KIND_NAME, &ids)?;
    g.destroy()?;
    for id in &ids {
        resources::forget(root, KIND_NAME, id)?;
    }
    Ok(settled.notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_makes_its_parents_top_down() {
        assert_eq!(prefixes("web"), ["web"]);
        assert_eq!(prefixes("lab/a/b"), ["lab", "lab/a", "lab/a/b"]);
    }

    #[test]
    fn the_lock_is_busy_only_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(Some(dir.path())).unwrap();
        assert!(!busy(&root), "no lock file: nobody holds it");
        root.ensure().unwrap();
        let held = StateLock::exclusive(&lock_path(&root)).unwrap();
        assert!(busy(&root));
        drop(held);
        assert!(!busy(&root));
    }
}
