//! The `cgroup` resource kind: lets `system prune` and `doctor` find and
//! remove groups under this root's parent cgroup in every hierarchy.

use anyhow::{Result, bail};

use super::detect;
use super::group::{self, Group};
use crate::state::Root;
use crate::state::resources::ResourceKind;

pub struct CgroupKind;

pub static CGROUP_KIND: CgroupKind = CgroupKind;

/// The ledger's name for groups (`"kind": "cgroup"` in `resources.json`).
pub const KIND_NAME: &str = "cgroup";

impl ResourceKind for CgroupKind {
    fn name(&self) -> &'static str {
        KIND_NAME
    }

    fn exists(&self, root: &Root, id: &str) -> bool {
        open(root, id).map(|g| g.exists()).unwrap_or(false)
    }

    fn remove(&self, root: &Root, id: &str) -> Result<()> {
        open(root, id)?.destroy()
    }

    fn scan(&self, root: &Root) -> Vec<String> {
        match detect::detect() {
            Ok(layout) => group::list(root, &layout),
            Err(_) => Vec::new(),
        }
    }
}

/// The group a record names. A record was checked when it was made, maybe
/// by an older glassbox with looser rules, so only a name that would leave
/// glassbox's parent is refused here: a group of such a name can still be
/// found and pruned.
fn open(root: &Root, id: &str) -> Result<Group> {
    if id.is_empty()
        || id.starts_with('/')
        || id.split('/').any(|p| p.is_empty() || p == "." || p == "..")
    {
        bail!("the ledger names cgroup {id:?}, which is not a name below glassbox's parent cgroup");
    }
    Ok(Group::with_layout(root, id, detect::detect()?))
}
