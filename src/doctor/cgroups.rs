//! cgroups: which layout the host has, where each controller glassbox uses
//! is bound, and whether swap can be accounted and limited.
//!
//! The layout comes from [`crate::cgroup::detect`] (the cgroup mounts in
//! `/proc/self/mountinfo` and the v2 tree's `cgroup.controllers`). A
//! controller is usable when it is bound to a hierarchy whose root
//! directory glassbox may write. Swap accounting shows as the
//! `memory.memsw.*` files on v1 and `memory.swap.max` in non-root groups on
//! v2; it only matters if swap is configured (`/proc/swaps`). Read
//! `cgroups(7)` and the kernel's `cgroup-v1/memory.rst` and `cgroup-v2.rst`.

use std::path::{Path, PathBuf};

use crate::cgroup::detect::{self, Layout, Mode, Placement};

use super::Check;

/// The controllers glassbox drives, and whether containers need them.
pub const CONTROLLERS: &[(&str, bool, &str)] = &[
    ("memory", true, "memory limits (-m)"),
    ("cpu", true, "CPU limits (--cpus)"),
    ("cpuset", false, "pinning to CPUs (--cpuset-cpus)"),
    ("pids", false, "process count limits (--pids-limit)"),
];

/// Everything the cgroup checks look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub layout: Result<Layout, String>,
    /// For each controller of [`CONTROLLERS`] that is bound: may we write
    /// its hierarchy's root directory?
    pub writable: Vec<(String, bool)>,
    /// `Some(true)` when the swap accounting files exist, `None` when
    /// memory is not bound or it cannot be told.
    pub swap_accounting: Option<bool>,
    /// Lines of `/proc/swaps` after the header (active swap areas).
    pub swap_areas: usize,
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" ")
    }
}

/// The mode line and the two controller lists.
pub fn layout_verdict(layout: &Result<Layout, String>) -> Vec<Check> {
    let layout = match layout {
        Ok(l) => l,
        Err(e) => {
            return vec![Check::fail(
                "cgroup mode",
                format!("cannot read the mount table: {e}"),
                "check that /proc is mounted",
            )];
        }
    };
    let v2_at = layout
        .v2_mount
        .as_ref()
        .map(|p| format!("; v2 tree at {}", p.display()))
        .unwrap_or_default();
    let mode = match layout.mode {
        Mode::None => Check::fail(
            "cgroup mode",
            Mode::None.describe(),
            "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)",
        ),
        m => Check::ok("cgroup mode", format!("{}{v2_at}", m.describe())),
    };
    vec![
        mode,
        Check::info("cgroup v1 controllers", list(&layout.v1_controllers())),
        Check::info("cgroup v2 controllers", list(&layout.v2_controllers())),
    ]
}

/// One line per controller glassbox uses.
pub fn controller_verdicts(r: &Reading) -> Vec<Check> {
    let Ok(layout) = &r.layout else {
        return Vec::new();
    };
    CONTROLLERS
        .iter()
        .map(|&(name, required, purpose)| {
            let check = format!("cgroup {name}");
            let bad = |detail: String, hint: String| {
                if required {
                    Check::fail(&check, detail, hint)
                } else {
                    Check::warn(&check, detail, hint)
                }
            };
            let writable = r
                .writable
                .iter()
                .find(|(n, _)| n == name)
                .is_some_and(|(_, w)| *w);
            match layout.controller(name) {
                None => bad(
                    format!("not bound to any hierarchy: no {purpose}"),
                    format!(
                        "enable the {name} controller (kernel command line cgroup_enable={name}, or mount it)"
                    ),
                ),
                Some(p) => {
                    let (v, at) = match p {
                        Placement::V1(m) => ("v1", m),
                        Placement::V2(m) => ("v2", m),
                    };
                    if writable {
                        Check::ok(&check, format!("{v} at {}", at.display()))
                    } else {
                        bad(
                            format!("{v} at {}, but not writable here", at.display()),
                            "run as root".into(),
                        )
                    }
                }
            }
        })
        .collect()
}

/// Swap accounting (a warning when missing) and whether swap exists (info).
pub fn swap_verdicts(r: &Reading) -> Vec<Check> {
    let memory = r.layout.as_ref().ok().and_then(|l| l.controller("memory"));
    let accounting = match (memory, r.swap_accounting) {
        (None, _) => Check::warn(
            "swap accounting",
            "no memory controller, so no swap accounting",
            "enable the memory controller",
        ),
        (Some(Placement::V1(m)), Some(true)) => Check::ok(
            "swap accounting",
            format!("v1: {}/memory.memsw.limit_in_bytes present", m.display()),
        ),
        (Some(Placement::V1(_)), _) => Check::warn(
            "swap accounting",
            "v1: no memory.memsw.* files: --memory-swap cannot be enforced",
            "boot with swapaccount=1 (CONFIG_MEMCG_SWAP)",
        ),
        (Some(Placement::V2(_)), Some(true)) => {
            Check::ok("swap accounting", "v2: memory.swap.max present")
        }
        (Some(Placement::V2(_)), _) => Check::warn(
            "swap accounting",
            "v2: no memory.swap.max found: --memory-swap cannot be enforced",
            "boot with swapaccount=1 (CONFIG_MEMCG_SWAP)",
        ),
    };
    let swap = if r.swap_areas == 0 {
        Check::info(
            "swap",
            "no swap configured (/proc/swaps is empty): memory limits are hard limits",
        )
    } else {
        Check::info(
            "swap",
            format!("{} swap area(s) active (/proc/swaps)", r.swap_areas),
        )
    };
    vec![accounting, swap]
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// Look for `memory.swap.max` where v2 puts it: in non-root groups (this
/// process's own group, and the top-level groups).
fn v2_swap_file(v2: &Path) -> bool {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") {
        for line in text.lines() {
            if let Some(rel) = line.strip_prefix("0::") {
                dirs.push(v2.join(rel.trim_start_matches('/')));
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(v2) {
        dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    dirs.iter().any(|d| d.join("memory.swap.max").exists())
}

pub fn read() -> Reading {
    let layout = detect::detect().map_err(|e| format!("{e:#}"));
    let mut writable_list = Vec::new();
    let mut swap_accounting = None;
    if let Ok(l) = &layout {
        for (name, _, _) in CONTROLLERS {
            if let Some(p) = l.controller(name) {
                writable_list.push((name.to_string(), writable(p.mount())));
            }
        }
        swap_accounting = match l.controller("memory") {
            Some(Placement::V1(m)) => Some(m.join("memory.memsw.limit_in_bytes").exists()),
            Some(Placement::V2(m)) => Some(v2_swap_file(m)),
            None => None,
        };
    }
    let swap_areas = detect::swap_areas();
    Reading {
        layout,
        writable: writable_list,
        swap_accounting,
        swap_areas,
    }
}

pub fn verdicts(r: &Reading) -> Vec<Check> {
    let mut out = layout_verdict(&r.layout);
    out.extend(controller_verdicts(r));
    out.extend(swap_verdicts(r));
    out
}

pub fn checks() -> Vec<Check> {
    verdicts(&read())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use crate::host::mountinfo;

    fn hybrid(writable: bool, memsw: bool, swaps: usize) -> Reading {
        let layout = detect::layout_from(&mountinfo::parse(detect::HYBRID_MOUNTINFO), |_| {
            Some("hugetlb\n".into())
        });
        Reading {
            writable: ["memory", "cpu", "cpuset", "pids"]
                .iter()
                .map(|n| (n.to_string(), writable))
                .collect(),
            layout: Ok(layout),
            swap_accounting: Some(memsw),
            swap_areas: swaps,
        }
    }

    fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.check == name).unwrap()
    }

    #[test]
    fn hybrid_is_ok_and_names_both_lists() {
        let c = verdicts(&hybrid(true, true, 0));
        assert_eq!(find(&c, "cgroup mode").status, Status::Ok);
        assert!(find(&c, "cgroup mode").detail.contains("hybrid"));
        assert_eq!(
            find(&c, "cgroup v1 controllers").detail,
            "cpu cpuset memory pids"
        );
        assert_eq!(find(&c, "cgroup v2 controllers").detail, "hugetlb");
        assert_eq!(
            find(&c, "cgroup memory").detail,
            "v1 at /sys/fs/cgroup/memory"
        );
        assert_eq!(find(&c, "swap accounting").status, Status::Ok);
        assert_eq!(find(&c, "swap").status, Status::Info);
        assert!(
            c.iter()
                .all(|c| c.status != Status::Fail && c.status != Status::Warn)
        );
    }

    #[test]
    fn unwritable_memory_fails_and_pids_warns() {
        let c = verdicts(&hybrid(false, true, 1));
        assert_eq!(find(&c, "cgroup memory").status, Status::Fail);
        assert_eq!(find(&c, "cgroup cpu").status, Status::Fail);
        assert_eq!(find(&c, "cgroup pids").status, Status::Warn);
        assert!(find(&c, "swap").detail.starts_with("1 swap area"));
    }

    #[test]
    fn missing_memory_controller_fails() {
        let mi = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        let r = Reading {
            layout: Ok(detect::layout_from(&mountinfo::parse(mi), |_| None)),
            writable: vec![("cpu".into(), true)],
            swap_accounting: None,
            swap_areas: 0,
        };
        let c = verdicts(&r);
        assert_eq!(find(&c, "cgroup mode").detail, "cgroup v1 (legacy)");
        assert_eq!(find(&c, "cgroup v2 controllers").detail, "none");
        assert_eq!(find(&c, "cgroup memory").status, Status::Fail);
        assert_eq!(find(&c, "cgroup cpu").status, Status::Ok);
        assert_eq!(find(&c, "swap accounting").status, Status::Warn);
    }

    #[test]
    fn no_swap_accounting_is_a_warning() {
        let c = verdicts(&hybrid(true, false, 0));
        let s = find(&c, "swap accounting");
        assert_eq!(s.status, Status::Warn);
        assert!(s.hint.as_deref().unwrap().contains("swapaccount=1"));
    }

    #[test]
    fn no_cgroup_fs_fails() {
        let r = Reading {
            layout: Ok(detect::layout_from(&[], |_| None)),
            writable: vec![],
            swap_accounting: None,
            swap_areas: 0,
        };
        assert_eq!(find(&verdicts(&r), "cgroup mode").status, Status::Fail);
    }
}
