//! Which overlays this root made, and how its records of them are kept
//! true.
//!
//! A root knows an overlay by two records: its `mount` entry in the
//! resource ledger (written `pending` before the mount, `live` after) and
//! the stack's layers in `<run dir>/unionfs/<id>.json` (for `unionfs
//! diff`). `unionfs umount` unmounts only what those records name; for any
//! other overlay it says whose it seems to be. An overlay unmounted behind
//! glassbox's back, or one half made by a command that died, leaves records
//! that `doctor` names and that `unionfs mount` (on the same target),
//! `unionfs umount` and `system prune` clear. Read `mount(2)`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::MntFlags;

use super::stack::{Stack, record_path};
use crate::host::{MOUNT_KIND, mountinfo, shell_quote};
use crate::state::Root;
use crate::state::recover::Recover;
use crate::state::resources::{self, Leftover, Phase, Resource, ResourceKind, pid_alive};
use crate::state::{paths::DEFAULT_DATA, read_json};
use crate::trace::{self, Mechanism};

const M: Mechanism = Mechanism::Unionfs;

/// What this root has recorded of the overlay on one target.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// The ledger's `mount` record.
    pub ledger: Option<Resource>,
    /// `<run dir>/unionfs/<id>.json` exists.
    pub record: bool,
}

impl Known {
    /// Does this root know the target at all?
    pub fn any(&self) -> bool {
        self.ledger.is_some() || self.record
    }

    /// A live command is mounting it right now.
    pub fn in_progress(&self) -> bool {
        self.ledger
            .as_ref()
            .is_some_and(|r| r.phase == Phase::Pending && pid_alive(r.creator))
    }

    /// Its mounting command died before it finished.
    pub fn half_made(&self) -> bool {
        self.ledger
            .as_ref()
            .is_some_and(|r| r.phase == Phase::Pending && !pid_alive(r.creator))
    }
}

/// The ledger without creating one where none is.
fn ledger(root: &Root) -> Result<Vec<Resource>> {
    resources::list_if_any(root)
}

/// What this root has recorded of an overlay on `target` (absolute).
pub fn known(root: &Root, target: &Path) -> Result<Known> {
    let id = target.display().to_string();
    Ok(Known {
        ledger: ledger(root)?
            .into_iter()
            .find(|r| r.kind == MOUNT_KIND.name() && r.id == id),
        record: record_path(root, target).exists(),
    })
}

/// [`known`], failing where the records cannot be read (another user's
/// root) instead of taking them for absent.
pub fn known_strict(root: &Root, target: &Path) -> Result<Known> {
    let lock = resources::lock_path(root);
    let ledger = if lock
        .try_exists()
        .with_context(|| format!("stat {}", lock.display()))?
    {
        resources::list(root)?
    } else {
        Vec::new()
    };
    let id = target.display().to_string();
    let record = record_path(root, target);
    Ok(Known {
        ledger: ledger
            .into_iter()
            .find(|r| r.kind == MOUNT_KIND.name() && r.id == id),
        record: record
            .try_exists()
            .with_context(|| format!("stat {}", record.display()))?,
    })
}

/// Drop this root's records of the overlay on `target` (once it is not
/// mounted any more).
pub fn clear(root: &Root, target: &Path) -> Result<()> {
    let k = known(root, target)?;
    if k.ledger.is_some() {
        resources::forget(root, MOUNT_KIND.name(), &target.display().to_string())?;
    }
    if k.record {
        crate::host::remove_file(
            M,
            &record_path(root, target),
            "The stack is no longer mounted: its record of layers describes nothing.",
        )?;
    }
    Ok(())
}

/// Drop both records of the overlay on `target`, which this command knows
/// it made (in a `--dry-run` plan: the steps a real run takes).
pub fn clear_recorded(root: &Root, target: &Path) -> Result<()> {
    resources::forget(root, MOUNT_KIND.name(), &target.display().to_string())?;
    crate::host::remove_file(
        M,
        &record_path(root, target),
        "The stack is no longer mounted: its record of layers describes nothing.",
    )
}

/// Is an overlay the top mount at `target`?
fn overlay_mounted(target: &Path) -> Result<bool> {
    Ok(mountinfo::read(None)?
        .iter()
        .rev()
        .find(|m| m.mount_point == target)
        .is_some_and(|m| m.fs_type == "overlay"))
}

/// Unmount a half-made overlay of this root.
fn unmount_half_made(target: &Path) -> Result<()> {
    crate::host::mount::umount(
        M,
        target,
        MntFlags::MNT_DETACH,
        "Roll back an overlay whose mounting command died before it finished: nothing owns it.",
    )
}

/// Before mounting on `target` (absolute): roll back what this root's
/// earlier overlay there left, a half-made mount (its command died) or the
/// records of one unmounted behind glassbox's back, and refuse plainly if
/// this root's overlay is still mounted there.
pub fn recover_target(root: &Root, target: &Path) -> Result<()> {
    let k = known(root, target)?;
    if !k.any() || k.in_progress() {
        return Ok(());
    }
    let t = target.display();
    if mountinfo::is_mount_point(target)? {
        if !k.half_made() {
            bail!(
                "{t} is already a mount point (an overlay this root mounted): unmount it first with `glassbox unionfs umount {}`, or choose another directory",
                shell_quote(&t.to_string())
            );
        }
        if !overlay_mounted(target)? {
            return Ok(()); // something else on top: the checks name it
        }
        trace::say(
            M,
            format!(
                "rolling back the half-made overlay on {t} (the glassbox command that mounted it died before it finished)"
            ),
        );
        unmount_half_made(target)?;
    } else {
        trace::say(
            M,
            format!(
                "clearing this root's records of the overlay on {t}, which is no longer mounted (unmounted behind glassbox's back, or a command died)"
            ),
        );
    }
    clear(root, target)
}

/// Whose the overlay on `target` (which this root did not mount) seems to
/// be, and how to unmount it.
pub fn whose(root: &Root, target: &Path) -> String {
    let id = target.display().to_string();
    let t = shell_quote(&id);
    let default = Path::new(DEFAULT_DATA);
    let candidates = target
        .ancestors()
        .skip(1)
        .chain(std::iter::once(default))
        .filter(|d| *d != root.data);
    for d in candidates {
        let is_default = d == default;
        let Ok(other) = Root::new(if is_default { None } else { Some(d) }) else {
            continue;
        };
        let in_ledger = read_json::<Vec<Resource>>(&resources::ledger_path(&other))
            .ok()
            .flatten()
            .is_some_and(|all| {
                all.iter()
                    .any(|r| r.kind == MOUNT_KIND.name() && r.id == id)
            });
        if in_ledger || record_path(&other, target).exists() {
            let flag = if is_default {
                String::new()
            } else {
                format!("--root {} ", shell_quote(&d.display().to_string()))
            };
            return format!(
                "it seems to be the glassbox root {}'s (recorded there): unmount it with `glassbox {flag}unionfs umount {t}`",
                d.display()
            );
        }
    }
    format!(
        "no glassbox root along its path records it, so it was mounted by hand or by another program: if nobody uses it, unmount it yourself with `umount {t}`"
    )
}

/// `<run dir>/unionfs/links-PID`: the short names of one classic mount.
fn links_owner(name: &str) -> Option<u32> {
    name.strip_prefix("links-")?.parse().ok()
}

/// An overlay's leftovers in a root's state: records of stacks that are
/// no longer mounted or were half made, and link directories of mounts
/// whose command died.
pub struct Overlays;
pub static OVERLAYS: Overlays = Overlays;

const RECORD: &str = "overlay-record";
const LINKS: &str = "overlay-links";

impl Overlays {
    /// The stack recorded in `path`, checked to be one of this root's
    /// records (`None`: gone, or not a stack record).
    fn stack_at(root: &Root, path: &Path) -> Result<Option<Stack>> {
        if path.parent() != Some(root.run.join("unionfs").as_path()) {
            bail!("{} is not an overlay record of this root", path.display());
        }
        match read_json::<Stack>(path) {
            Ok(Some(s)) if record_path(root, &s.target) == path => Ok(Some(s)),
            Ok(_) => Ok(None),
            // A damaged record is named by whoever reads it, never overwritten here.
            Err(_) => Ok(None),
        }
    }
}

impl Recover for Overlays {
    fn area(&self) -> &'static str {
        "unionfs"
    }

    fn find(&self, root: &Root) -> Result<Vec<Leftover>> {
        let Ok(entries) = std::fs::read_dir(root.run.join("unionfs")) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                if let Some(pid) = links_owner(&name)
                    && !pid_alive(pid)
                {
                    out.push(Leftover {
                        kind: LINKS.into(),
                        id: path.display().to_string(),
                        reason: format!(
                            "short layer names made by `unionfs mount` (pid {pid}), which died before removing them"
                        ),
                    });
                }
                continue;
            }
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let Some(stack) = Self::stack_at(root, &path)? else {
                continue;
            };
            let k = known(root, &stack.target)?;
            // While the ledger still records the mount, its leftover (half
            // made, or gone from the host) names this overlay, and prune's
            // pass after the ledger clears this record: one line, not two.
            if k.in_progress() || k.ledger.is_some() {
                continue;
            }
            let t = stack.target.display();
            let reason = if !mountinfo::is_mount_point(&stack.target)? {
                format!(
                    "the record of the overlay on {t}, which is no longer mounted (unmounted behind glassbox's back?)"
                )
            } else if k.half_made() {
                format!(
                    "the overlay on {t} is half-made: the glassbox command that mounted it died before it finished"
                )
            } else {
                continue;
            };
            out.push(Leftover {
                kind: RECORD.into(),
                id: path.display().to_string(),
                reason,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    fn repair(&self, root: &Root, l: &Leftover) -> Result<()> {
        let path = PathBuf::from(&l.id);
        if l.kind == LINKS {
            if path.parent() != Some(root.run.join("unionfs").as_path())
                || path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(links_owner)
                    .is_none()
            {
                bail!("{} is not a link directory of this root", l.id);
            }
            return crate::host::remove_dir_all(
                M,
                &path,
                "The kernel resolved these links when it mounted; nothing uses them now.",
            );
        }
        let Some(stack) = Self::stack_at(root, &path)? else {
            return Ok(());
        };
        let k = known(root, &stack.target)?;
        if k.in_progress() {
            return Ok(());
        }
        if mountinfo::is_mount_point(&stack.target)? {
            if !k.half_made() || !overlay_mounted(&stack.target)? {
                return Ok(()); // mounted and owned: nothing to repair
            }
            unmount_half_made(&stack.target)?;
        }
        clear(root, &stack.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_directories_name_their_pid() {
        assert_eq!(links_owner("links-42"), Some(42));
        assert_eq!(links_owner("links-x"), None);
        assert_eq!(links_owner("abc.json"), None);
    }

    #[test]
    fn a_mount_no_root_recorded_is_said_to_be_made_by_hand() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(Some(&d.path().join("b"))).unwrap();
        let w = whose(&root, &d.path().join("a/m"));
        assert!(
            w.contains("mounted by hand") && w.contains("umount "),
            "{w}"
        );
    }

    #[test]
    fn a_mount_another_root_recorded_is_said_to_be_that_roots() {
        let d = tempfile::tempdir().unwrap();
        let a = Root::new(Some(&d.path().join("a"))).unwrap();
        a.ensure().unwrap();
        let target = d.path().join("a/m");
        resources::record(
            &a,
            "mount",
            &target.display().to_string(),
            resources::Owner::Manual {
                command: "unionfs mount".into(),
            },
        )
        .unwrap()
        .commit()
        .unwrap();
        let b = Root::new(Some(&d.path().join("b"))).unwrap();
        let w = whose(&b, &target);
        assert!(
            w.contains(&format!("--root {} unionfs umount", a.data.display())),
            "{w}"
        );
    }
}
