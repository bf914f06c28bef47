//! Which cgroup layout this host has: v2 unified, hybrid, or legacy v1.
//!
//! cgroup v1 mounts one hierarchy per controller (`/sys/fs/cgroup/memory`,
//! `/sys/fs/cgroup/cpu`, ...); cgroup v2 mounts one tree for all
//! controllers (`/sys/fs/cgroup`, controllers listed in
//! `cgroup.controllers`). A hybrid host has both: the v1 hierarchies hold
//! the controllers, and a v2 tree at `/sys/fs/cgroup/unified` holds the
//! rest. A controller can be bound to only one of them at a time. Read
//! `cgroups(7)`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::host::mountinfo::{self, MountEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only cgroup v2, mounted at /sys/fs/cgroup.
    Unified,
    /// v1 controller hierarchies plus a v2 tree.
    Hybrid,
    /// Only v1 hierarchies.
    Legacy,
    /// No cgroup filesystem mounted.
    None,
}

impl Mode {
    pub fn describe(self) -> &'static str {
        match self {
            Mode::Unified => "cgroup v2 (unified)",
            Mode::Hybrid => "hybrid (v1 controllers + v2 tree)",
            Mode::Legacy => "cgroup v1 (legacy)",
            Mode::None => "no cgroup filesystem mounted",
        }
    }
}

/// Where a controller lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "version", content = "mount")]
pub enum Placement {
    V1(PathBuf),
    V2(PathBuf),
}

impl Placement {
    /// The mount point of the hierarchy the controller is bound to.
    pub fn mount(&self) -> &Path {
        match self {
            Placement::V1(m) | Placement::V2(m) => m,
        }
    }
}

/// The cgroup layout of this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub mode: Mode,
    /// Mount point of the v2 tree, if any.
    pub v2_mount: Option<PathBuf>,
    /// Each controller and where it is bound.
    pub controllers: BTreeMap<String, Placement>,
}

impl Layout {
    pub fn controller(&self, name: &str) -> Option<&Placement> {
        self.controllers.get(name)
    }

    pub fn v1_controllers(&self) -> Vec<&str> {
        self.controllers
            .iter()
            .filter(|(_, p)| matches!(p, Placement::V1(_)))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    pub fn v2_controllers(&self) -> Vec<&str> {
        self.controllers
            .iter()
            .filter(|(_, p)| matches!(p, Placement::V2(_)))
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

/// Known v1 controller names (named hierarchies like `name=systemd` are not controllers).
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "blkio",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// Work the layout out from the mount table and the v2 controllers file.
/// Pure: `read_controllers` reads `cgroup.controllers` of a v2 mount.
pub fn layout_from(
    mounts: &[MountEntry],
    read_controllers: impl Fn(&Path) -> Option<String>,
) -> Layout {
    let mut controllers = BTreeMap::new();
    let mut v1_seen = false;
    let mut v2_mount = None;
    for m in mounts {
        match m.fs_type.as_str() {
            "cgroup" => {
                for opt in m.super_options.split(',') {
                    if V1_CONTROLLERS.contains(&opt) {
                        v1_seen = true;
                        controllers
                            .entry(opt.to_string())
                            .or_insert_with(|| Placement::V1(m.mount_point.clone()));
                    }
                }
            }
            "cgroup2" if v2_mount.is_none() => v2_mount = Some(m.mount_point.clone()),
            _ => {}
        }
    }
    if let Some(v2) = &v2_mount
        && let Some(text) = read_controllers(v2)
    {
        for c in text.split_whitespace() {
            controllers
                .entry(c.to_string())
                .or_insert_with(|| Placement::V2(v2.clone()));
        }
    }
    let mode = match (v1_seen, v2_mount.is_some()) {
        (true, true) => Mode::Hybrid,
        (true, false) => Mode::Legacy,
        (false, true) => Mode::Unified,
        (false, false) => Mode::None,
    };
    Layout {
        mode,
        v2_mount,
        controllers,
    }
}

/// Whether swap is accounted, so that a swap limit can be enforced: v1
/// has `memory.memsw.*` files only with swap accounting (`swapaccount=1`);
/// v2 has `memory.swap.max` in every non-root group. `None`: no memory
/// controller, or no group to look at yet.
pub fn swap_accounting(layout: &Layout) -> Option<bool> {
    match layout.controller("memory")? {
        Placement::V1(m) => Some(m.join("memory.memsw.limit_in_bytes").exists()),
        Placement::V2(m) => {
            let child = std::fs::read_dir(m)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.join("memory.current").exists())?;
            Some(child.join("memory.swap.max").exists())
        }
    }
}

/// How many swap areas are active (the lines of `/proc/swaps` after its
/// header).
pub fn swap_areas() -> usize {
    std::fs::read_to_string("/proc/swaps")
        .map(|t| t.lines().skip(1).filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

/// Whether any swap space is configured (`/proc/swaps` lists a device).
pub fn swap_configured() -> bool {
    swap_areas() > 0
}

/// The layout of this host, read from `/proc/self/mountinfo`.
pub fn detect() -> Result<Layout> {
    let mounts = mountinfo::read(None)?;
    Ok(layout_from(&mounts, |p| {
        std::fs::read_to_string(p.join("cgroup.controllers")).ok()
    }))
}

/// The cgroup mounts of a hybrid host like the lab machine, for tests.
#[cfg(test)]
pub(crate) const HYBRID_MOUNTINFO: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_puts_each_controller_where_it_is_bound() {
        let l = layout_from(&mountinfo::parse(HYBRID_MOUNTINFO), |_| {
            Some("hugetlb\n".into())
        });
        assert_eq!(l.mode, Mode::Hybrid);
        assert_eq!(l.v1_controllers(), vec!["cpu", "cpuset", "memory", "pids"]);
        assert_eq!(l.v2_controllers(), vec!["hugetlb"]);
        assert_eq!(
            l.v2_mount.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn unified_lists_v2_controllers() {
        let mi = "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = layout_from(&mountinfo::parse(mi), |_| {
            Some("cpuset cpu io memory hugetlb pids rdma misc\n".into())
        });
        assert_eq!(l.mode, Mode::Unified);
        assert_eq!(
            l.controller("memory"),
            Some(&Placement::V2("/sys/fs/cgroup".into()))
        );
        assert!(l.v1_controllers().is_empty());
    }

    #[test]
    fn legacy_and_none() {
        let mi = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            layout_from(&mountinfo::parse(mi), |_| None).mode,
            Mode::Legacy
        );
        assert_eq!(layout_from(&[], |_| None).mode, Mode::None);
    }
}
