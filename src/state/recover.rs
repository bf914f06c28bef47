//! Recovery: what a crash, or a change made behind glassbox's back, can
//! leave in a state root, and how it is put right.
//!
//! Every multi-step command is a transaction. A `SIGKILL` between two of
//! its steps leaves either host resources recorded in the ledger
//! ([`super::resources`]: half-made, their creator dead) or state that no
//! host resource backs any more: a temporary file that was never renamed
//! into place, a network record without its bridge, a pin directory
//! without its mounts, an unpacked layer no image uses. Each mechanism
//! knows its own such leftovers and implements [`Recover`] for them:
//! `glassbox doctor` names them, `glassbox system prune` (and the next
//! ordinary command that touches one) rolls each back or completes it.
//!
//! Recovery acts only on what this root owns: its ledger and its state
//! files. A kernel object that merely looks like glassbox's is reported by
//! `doctor` as "not recorded by this root" and never removed.

use std::path::Path;

use anyhow::Result;

use super::Root;
use super::atomic::temp_owner;
use super::resources::{self, Leftover, pid_alive};

/// One mechanism's leftovers in a root's state.
pub trait Recover: Sync {
    /// The mechanism or area: `state`, `image`, `net`, `ns`, `unionfs`.
    fn area(&self) -> &'static str;
    /// What a crash or an outside change left; nothing that a live command
    /// is still working on.
    fn find(&self, root: &Root) -> Result<Vec<Leftover>>;
    /// Roll back or complete one leftover that [`Recover::find`] returned;
    /// "already gone" is success.
    fn repair(&self, root: &Root, leftover: &Leftover) -> Result<()>;
}

/// Every area that can leave state behind, in the order prune repairs
/// them (before the ledger, whose owners they may remove).
pub fn areas() -> Vec<&'static dyn Recover> {
    vec![
        &TEMP_FILES,
        &crate::container::recover::CONTAINERS,
        &crate::ns::pin_state::PINS,
        &crate::unionfs::records::OVERLAYS,
        &crate::cgroup::recover::EMPTY_PARENTS,
        &crate::image::recover::IMAGE_STORE,
        &crate::net::recover::NET,
    ]
}

/// Everything this root has left: the areas' findings, then the ledger's
/// orphans.
pub fn leftovers(root: &Root, include_manual: bool) -> Result<Vec<Leftover>> {
    let mut out = Vec::new();
    for area in areas() {
        out.extend(area.find(root)?);
    }
    out.extend(resources::leftovers(root, include_manual)?);
    Ok(out)
}

/// What `system prune` did.
#[derive(Debug, Default)]
pub struct Pruned {
    pub removed: Vec<Leftover>,
    pub errors: Vec<String>,
}

/// Repair every area's leftovers, then remove the ledger's orphans, then
/// repair what those removals left in the areas' state (the record of a
/// stack whose mount `--all` just removed). Keeps going after an error and
/// reports them all.
pub fn prune(root: &Root, include_manual: bool) -> Result<Pruned> {
    let mut out = Pruned::default();
    repair_areas(root, &mut out);
    let (removed, errors) = resources::prune(root, include_manual)?;
    out.removed.extend(removed);
    out.errors.extend(errors);
    repair_areas(root, &mut out);
    Ok(out)
}

/// One pass over the areas. A leftover already repaired (or, under
/// `--dry-run`, already planned) is not repaired twice.
fn repair_areas(root: &Root, out: &mut Pruned) {
    fn error(out: &mut Pruned, e: String) {
        if !out.errors.contains(&e) {
            out.errors.push(e);
        }
    }
    for area in areas() {
        let found = match area.find(root) {
            Ok(f) => f,
            Err(e) => {
                error(out, format!("{}: {e:#}", area.area()));
                continue;
            }
        };
        for l in found {
            if out.removed.iter().any(|r| r.kind == l.kind && r.id == l.id) {
                continue;
            }
            match area.repair(root, &l) {
                Ok(()) => out.removed.push(l),
                Err(e) => error(out, format!("{} {}: {e:#}", l.kind, l.id)),
            }
        }
    }
}

// ----- temporary state files ---------------------------------------------

/// Temporary files of [`super::atomic::write_bytes`] whose writer died
/// before the rename.
pub struct TempFiles;
pub static TEMP_FILES: TempFiles = TempFiles;

/// Directories that hold content, not state: never searched (a file in an
/// image may well be called `.x.tmp-1-2`).
const CONTENT_DIRS: &[&str] = &[
    "layers", "blobs", "tmp", "diff", "upper", "work", "merged", "rootfs",
];

/// How deep state directories nest under a root.
const STATE_DEPTH: usize = 4;

fn find_temp_files(dir: &Path, depth: usize, out: &mut Vec<Leftover>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if depth > 0 && !CONTENT_DIRS.contains(&name.as_str()) {
                find_temp_files(&e.path(), depth - 1, out);
            }
        } else if ft.is_file()
            && let Some(pid) = temp_owner(&name)
            && !pid_alive(pid)
        {
            out.push(Leftover {
                kind: "temp-file".into(),
                id: e.path().display().to_string(),
                reason: format!("a state write by pid {pid}, which died before renaming it"),
            });
        }
    }
}

impl Recover for TempFiles {
    fn area(&self) -> &'static str {
        "state"
    }

    fn find(&self, root: &Root) -> Result<Vec<Leftover>> {
        let mut out = Vec::new();
        find_temp_files(&root.data, STATE_DEPTH, &mut out);
        if !root.run.starts_with(&root.data) {
            find_temp_files(&root.run, STATE_DEPTH, &mut out);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup();
        Ok(out)
    }

    fn repair(&self, _root: &Root, l: &Leftover) -> Result<()> {
        crate::host::remove_file(
            crate::trace::Mechanism::System,
            Path::new(&l.id),
            "A temporary state file that was never renamed into place holds nothing the state needs.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_writers_temp_files_are_found_and_removed_content_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(Some(dir.path())).unwrap();
        root.ensure().unwrap();
        let dead = u32::MAX - 1;
        let me = std::process::id();
        let nets = dir.path().join("networks");
        std::fs::create_dir_all(&nets).unwrap();
        let stale = nets.join(format!(".n.json.tmp-{dead}-0"));
        let live = nets.join(format!(".n.json.tmp-{me}-0"));
        let content = dir.path().join("layers/abc/diff");
        std::fs::create_dir_all(&content).unwrap();
        let in_layer = content.join(format!(".x.tmp-{dead}-1"));
        for f in [&stale, &live, &in_layer] {
            std::fs::write(f, b"{").unwrap();
        }
        let found = TEMP_FILES.find(&root).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].id, stale.display().to_string());
        TEMP_FILES.repair(&root, &found[0]).unwrap();
        assert!(!stale.exists() && live.exists() && in_layer.exists());
    }
}
