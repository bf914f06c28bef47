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

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::detect::Layout;
use super::spec::Limits;
use super::{Group, Made};
use crate::state::resources::{self, Owner, Phase, Resource};
use crate::state::{Root, StateLock};
use crate::trace::{self, Mechanism};

/// The ledger's kind for groups.
const KIND: &str = "cgroup";

/// The lock of this root's cgroups.
pub fn lock_path(root: &Root) -> PathBuf {
    root.data.join("cgroups.lock")
}

/// Take this root's cgroup lock (none under `--dry-run`, which changes
/// nothing). Blocks while another command makes or removes a group.
pub fn lock(root: &Root) -> Result<Option<StateLock>> {
    if trace::dry_run() {
        return Ok(None);
    }
    root.ensure()?;
    StateLock::exclusive(&lock_path(root)).map(Some)
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

/// The ledger's records of this root's groups.
fn records(root: &Root) -> Result<Vec<Resource>> {
    Ok(resources::list(root)?
        .into_iter()
        .filter(|r| r.kind == KIND)
        .collect())
}

fn already_exists(name: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "cgroup {name:?} already exists: change its limits with `glassbox cgroup set {name}`, or remove it with `glassbox cgroup rm {name}`"
    )
}

/// Put right what a crash left of `name` and of the groups its name
/// passes through: a group left pending by a command that died is rolled
/// back (its processes killed, its directories removed, its record
/// dropped); a live record whose group is gone from the host is dropped.
/// Returns the names acted on. Call under the lock.
fn settle(root: &Root, layout: &Layout, name: &str) -> Result<Vec<String>> {
    let recs = records(root)?;
    let mut acted = Vec::new();
    for p in prefixes(name) {
        let Some(r) = recs.iter().find(|r| r.id == p) else {
            continue;
        };
        let g = Group::with_layout(root, &p, layout.clone());
        match r.phase {
            Phase::Pending if !resources::pid_alive(r.creator) => {
                trace::say(
                    Mechanism::Cgroup,
                    format!(
                        "cgroup {p} was left half-made (or half-removed) by glassbox pid {}, which died: removing what is left of it",
                        r.creator
                    ),
                );
                g.destroy()?;
                resources::forget(root, KIND, &p)?;
                acted.push(p);
            }
            Phase::Pending => bail!(
                "cgroup {p:?} is being created or removed by glassbox pid {} right now: wait for it to finish",
                r.creator
            ),
            Phase::Live if !g.exists() => {
                trace::say(
                    Mechanism::Cgroup,
                    format!(
                        "cgroup {p} is recorded but gone from the host (removed by hand?): dropping its record"
                    ),
                );
                resources::forget(root, KIND, &p)?;
                acted.push(p);
            }
            Phase::Live => {}
        }
    }
    Ok(acted)
}

/// Create group `g` with `limits`, as one transaction (see the module
/// docs): recorded before its first `mkdir`, live after its last limit,
/// and on failure removed again with its record. Fails with "already
/// exists" when the first hierarchy's `mkdir` meets the group.
pub fn create(root: &Root, g: &Group, limits: &Limits) -> Result<()> {
    let dry = trace::dry_run();
    let _lock = lock(root)?;
    let recorded = if dry {
        if g.exists() {
            return Err(already_exists(&g.name));
        }
        Vec::new()
    } else {
        settle(root, &g.layout, &g.name)?;
        records(root)?
    };
    let names = prefixes(&g.name);
    let Some((leaf, parents)) = names.split_last() else {
        bail!("cgroup name is empty");
    };
    let owner = Owner::Manual {
        command: format!("cgroup create {}", g.name),
    };
    // Record the parents this makes (`lab` of `lab/a`), then the group.
    let mut made_parents = Vec::new();
    for p in parents {
        let pg = g.other(p);
        if !pg.exists() {
            let rec = resources::record(root, KIND, p, owner.clone())?;
            made_parents.push((pg, rec));
        }
    }
    // A group that has a record, or a directory nobody recorded, gets no
    // record of this command: the mkdir below will meet it.
    let first = g.dirs().into_iter().next();
    let own = if recorded.iter().any(|r| r.id == *leaf) || first.is_some_and(|d| d.exists()) {
        None
    } else {
        Some(resources::record(root, KIND, leaf, owner)?)
    };
    trace::say(
        Mechanism::Cgroup,
        format!(
            "{}: {} uses cgroup {}",
            g.layout.mode.describe(),
            g.name,
            g.versions()
        ),
    );
    let made = g.create();
    let won = matches!(made, Ok(Made::New));
    let result = match made {
        Ok(Made::New) => g.apply(limits),
        Ok(Made::Existed) => Err(already_exists(&g.name)),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        // Leave nothing behind, and nothing of anyone else's: the group
        // only if this command made it, the parents it made, deepest
        // first, then glassbox's parent if it is empty. The records go
        // last (dropping the pending ones forgets them).
        if won && let Err(r) = g.remove_dirs() {
            trace::warn(format!("removing the half-made cgroup {}: {r:#}", g.name));
        }
        for (p, _) in made_parents.iter().rev() {
            let _ = p.remove_dirs();
        }
        let _ = g.remove_parent_if_empty();
        return Err(e);
    }
    // Parents first: a crash between two commits then leaves a finished
    // parent and only the group itself to roll back.
    if !dry {
        for (_, rec) in made_parents {
            rec.commit()?;
        }
        if let Some(own) = own {
            own.commit()?;
        }
    }
    Ok(())
}

/// Put right what a crash left of group `g`, then make sure it exists:
/// for the commands that use a group (`set`, `add`, `run`).
pub fn existing(root: &Root, g: &Group) -> Result<()> {
    if !trace::dry_run() && root.data.join("resources.json").exists() {
        let _lock = lock(root)?;
        settle(root, &g.layout, &g.name)?;
    }
    if !g.exists() {
        bail!(
            "no cgroup named {:?} in this root: create it with `glassbox cgroup create {}` (see `glassbox cgroup ls`)",
            g.name,
            g.name
        );
    }
    Ok(())
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
/// groups are left. What a crash left of the group is finished here too.
pub fn remove(root: &Root, name: &str, force: bool) -> Result<()> {
    let g = Group::open(root, name)?;
    let dry = trace::dry_run();
    let _lock = lock(root)?;
    let acted = if dry {
        Vec::new()
    } else {
        settle(root, &g.layout, name)?
    };
    if !g.exists() {
        if acted
            .iter()
            .any(|a| a == name || name.starts_with(&format!("{a}/")))
        {
            return Ok(());
        }
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
    // The records of the group and of every group below it, deepest first.
    let mut ids: Vec<String> = if dry {
        Vec::new()
    } else {
        records(root)?
            .into_iter()
            .map(|r| r.id)
            .filter(|id| id == name || id.starts_with(&format!("{name}/")))
            .collect()
    };
    ids.sort_by_key(|id| std::cmp::Reverse(id.matches('/').count()));
    resources::begin_removal(root, KIND, &ids)?;
    g.destroy()?;
    for id in &ids {
        resources::forget(root, KIND, id)?;
    }
    Ok(())
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
