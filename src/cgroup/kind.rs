//! The `cgroup` resource kind: lets `system prune` and `doctor` find and
//! remove groups under this root's parent cgroup in every hierarchy.

use anyhow::Result;

use super::detect;
use super::group::{self, Group};
use crate::state::Root;
use crate::state::resources::ResourceKind;

pub struct CgroupKind;

pub static CGROUP_KIND: CgroupKind = CgroupKind;

impl ResourceKind for CgroupKind {
    fn name(&self) -> &'static str {
        "cgroup"
    }

    fn exists(&self, root: &Root, id: &str) -> bool {
        Group::open(root, id).map(|g| g.exists()).unwrap_or(false)
    }

    fn remove(&self, root: &Root, id: &str) -> Result<()> {
        let g = Group::open(root, id)?;
        for child in g.descendants() {
            Group::open(root, &child)?.kill_all()?;
        }
        g.kill_all()?;
        g.remove_dirs()
    }

    fn scan(&self, root: &Root) -> Vec<String> {
        match detect::detect() {
            Ok(layout) => group::list(root, &layout),
            Err(_) => Vec::new(),
        }
    }
}
