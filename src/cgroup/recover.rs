//! What a crash leaves of this root's cgroups outside the ledger:
//! glassbox's parent cgroup (`glassbox-<tag>` in every hierarchy), made
//! by the first `cgroup create` and removed with the last group, but left
//! empty when a create dies between the parent's `mkdir` and the group's,
//! or an `rm` between the group's `rmdir` and the parent's.
//!
//! The groups themselves are in the ledger (see [`super::lifecycle`]); the
//! parent is not, but its name comes from this root's path, so an empty
//! one is this root's leftover. It is only reported while no cgroup
//! command of this root is running (the cgroup lock is free), and removed
//! under that lock, only while still empty.

use std::path::Path;

use anyhow::Result;

use super::detect;
use super::group::{self, has_child_dir};
use super::lifecycle;
use crate::state::Root;
use crate::state::recover::Recover;
use crate::state::resources::Leftover;

/// Empty parent cgroups of this root.
pub struct EmptyParents;
pub static EMPTY_PARENTS: EmptyParents = EmptyParents;

/// The leftover's kind, as `doctor` shows it.
pub const KIND: &str = "cgroup-parent";

impl Recover for EmptyParents {
    fn area(&self) -> &'static str {
        "cgroup"
    }

    fn find(&self, root: &Root) -> Result<Vec<Leftover>> {
        if lifecycle::busy(root) {
            return Ok(Vec::new());
        }
        let Ok(layout) = detect::detect() else {
            return Ok(Vec::new());
        };
        let parent = root.names().cgroup_parent;
        Ok(group::every_hierarchy(&layout)
            .iter()
            .map(|t| t.dir(&parent))
            .filter(|p| p.is_dir() && !has_child_dir(p))
            .map(|p| Leftover {
                kind: KIND.into(),
                id: p.display().to_string(),
                reason: "this root's parent cgroup, with no group left in it: a `cgroup create` or `cgroup rm` was cut short".into(),
            })
            .collect())
    }

    fn repair(&self, root: &Root, l: &Leftover) -> Result<()> {
        let _lock = lifecycle::lock(root)?;
        let p = Path::new(&l.id);
        // Only this root's parent, and only while still empty.
        let ours = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == root.names().cgroup_parent);
        if !ours || !p.is_dir() || has_child_dir(p) {
            return Ok(());
        }
        group::rmdir(p)
    }
}
