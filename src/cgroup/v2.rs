//! cgroup v2: one tree for every controller. A group is one directory;
//! a parent lists the controllers its children may use in
//! `cgroup.subtree_control` ("+memory +cpu"), and only then do the
//! children get `memory.max`, `cpu.weight` and friends. Processes live
//! only in leaves (the "no internal processes" rule). Read the kernel's
//! `Documentation/admin-guide/cgroup-v2.rst`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::memory::{MemoryStat, keyed};
use super::pids::PidsStat;
use super::spec::Limits;
use super::{Hierarchy, Made, Max, Stats, Version, Write, cpu, read, read_if_exists, read_u64};
use crate::host;
use crate::trace::Mechanism;

/// The v2 tree (e.g. `/sys/fs/cgroup`).
#[derive(Debug, Clone)]
pub struct V2 {
    pub mount: PathBuf,
    pub controllers: Vec<String>,
}

impl Hierarchy for V2 {
    fn version(&self) -> Version {
        Version::V2
    }

    fn mount(&self) -> &Path {
        &self.mount
    }

    fn controllers(&self) -> &[String] {
        &self.controllers
    }

    fn create(&self, rel: &str) -> Result<Made> {
        let mut dir = self.mount.clone();
        let parts: Vec<&str> = rel.split('/').collect();
        // A group this command has just made (or plans to make) enables
        // nothing for its children yet: no need to read that.
        let mut made = false;
        for (i, part) in parts.iter().enumerate() {
            // The parent must hand its controllers down before the child
            // is made, or the child has no memory.max, cpu.weight, ...
            let control = dir.join("cgroup.subtree_control");
            let enabled = if made { String::new() } else { read(&control)? };
            let missing: Vec<String> = self
                .controllers
                .iter()
                .filter(|c| !enabled.split_whitespace().any(|e| e == c.as_str()))
                .map(|c| format!("+{c}"))
                .collect();
            if !missing.is_empty() {
                host::write_file(
                    Mechanism::Cgroup,
                    &control,
                    &missing.join(" "),
                    "In cgroup v2 a parent enables controllers for its children in cgroup.subtree_control; v1 has no such step (each controller is its own tree).",
                )?;
            }
            dir.push(part);
            if i + 1 < parts.len() {
                made = super::mkdir_parent(&dir)?;
            } else {
                return super::mkdir_group(&dir);
            }
        }
        Ok(Made::New)
    }

    fn plan(&self, rel: &str, l: &Limits, _fresh: bool) -> Result<(Vec<Write>, Vec<String>)> {
        let (out, warnings) = super::controller_writes(self, rel, l, || None);
        for w in &out {
            if !self.dir(rel).join(&w.file).exists() && self.dir(rel).exists() {
                bail!(
                    "{} has no {}: the {} controller is not enabled for it (see cgroup.subtree_control of its parent)",
                    self.dir(rel).display(),
                    w.file,
                    w.controller
                );
            }
        }
        Ok((out, warnings))
    }

    fn swap_accounting(&self, rel: &str) -> bool {
        // memory.swap.max exists in every non-root group with the memory
        // controller when swap is accounted. A group not made yet (a
        // plan) asks its nearest ancestor that has the controller, or any
        // group that has it, or at last the kernel.
        let mut dir = self.dir(rel);
        while dir != self.mount && dir.starts_with(&self.mount) {
            if dir.join("memory.current").exists() {
                return dir.join("memory.swap.max").exists();
            }
            if !dir.pop() {
                break;
            }
        }
        match any_memory_group(&self.mount) {
            Some(g) => g.join("memory.swap.max").exists(),
            None => kernel_accounts_swap(),
        }
    }

    fn read_stats(&self, rel: &str, s: &mut Stats) -> Result<()> {
        let d = self.dir(rel);
        let num = |f: &str| read_u64(&d.join(f));
        let text = |f: &str| read_if_exists(&d.join(f));
        if self.holds("memory") {
            let events = text("memory.events").unwrap_or_default();
            s.memory = Some(MemoryStat {
                current: num("memory.current").unwrap_or(0),
                peak: num("memory.peak"),
                limit: text("memory.max")
                    .map(|t| Max::parse(&t))
                    .unwrap_or_default(),
                swap_current: num("memory.swap.current"),
                swap_limit: text("memory.swap.max").map(|t| Max::parse(&t)),
                limit_hits: keyed(&events, "max").unwrap_or(0),
                oom: keyed(&events, "oom"),
                oom_kill: keyed(&events, "oom_kill").unwrap_or(0),
            });
        }
        // cpu.stat's usage lines exist even without the cpu controller.
        let c = s.cpu.get_or_insert_with(Default::default);
        if let Some(st) = text("cpu.stat") {
            c.usage_usec = keyed(&st, "usage_usec").unwrap_or(0);
            c.user_usec = keyed(&st, "user_usec");
            c.system_usec = keyed(&st, "system_usec");
            c.nr_periods = keyed(&st, "nr_periods").unwrap_or(0);
            c.nr_throttled = keyed(&st, "nr_throttled").unwrap_or(0);
            c.throttled_usec = keyed(&st, "throttled_usec").unwrap_or(0);
        }
        if self.holds("cpu") {
            c.weight = num("cpu.weight");
            let (q, p) = cpu::parse_cpu_max(&text("cpu.max").unwrap_or_default());
            c.quota = q;
            c.period = p;
        }
        if self.holds("cpuset") {
            s.cpuset = text("cpuset.cpus")
                .filter(|t| !t.is_empty())
                .or_else(|| text("cpuset.cpus.effective"));
        }
        if self.holds("pids") {
            s.pids = Some(PidsStat::read(&d));
        }
        Ok(())
    }
}

/// A group below `mount` (two levels deep at most) that has the memory
/// controller, if there is one.
fn any_memory_group(mount: &Path) -> Option<PathBuf> {
    let children = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    };
    let top = children(mount);
    let second = top.iter().flat_map(|d| children(d));
    top.iter()
        .cloned()
        .chain(second)
        .find(|d| d.join("memory.current").exists())
}

/// Whether this kernel accounts swap, when no group can be asked: since
/// Linux 6.1 always, when it has swap at all (`/proc/swaps`); before, unless
/// booted with `swapaccount=0`.
fn kernel_accounts_swap() -> bool {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    Path::new("/proc/swaps").exists() && !cmdline.split_whitespace().any(|a| a == "swapaccount=0")
}
