//! cgroup v1: one tree per controller (or per set of co-mounted
//! controllers). A group is a directory in each tree; the knobs carry the
//! controller's name (`memory.limit_in_bytes`, `cpu.shares`), and usage of
//! the cpu controller is counted by its sibling, cpuacct. Read `cgroups(7)`
//! and the kernel's `Documentation/admin-guide/cgroup-v1/`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::memory::{MemoryStat, keyed, v1_limit};
use super::pids::PidsStat;
use super::spec::Limits;
use super::{Hierarchy, Made, Max, Stats, Version, Write, read_if_exists, read_u64};

/// One v1 hierarchy (e.g. `/sys/fs/cgroup/memory`).
#[derive(Debug, Clone)]
pub struct V1 {
    pub mount: PathBuf,
    pub controllers: Vec<String>,
}

/// The kernel's USER_HZ, the unit of `cpuacct.stat`.
const USER_HZ: u64 = 100;

impl Hierarchy for V1 {
    fn version(&self) -> Version {
        Version::V1
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
        for (i, part) in parts.iter().enumerate() {
            let parent = dir.clone();
            dir.push(part);
            if i + 1 < parts.len() {
                if !super::mkdir_parent(&dir)? {
                    continue;
                }
            } else if super::mkdir_group(&dir)? == Made::Existed {
                return Ok(Made::Existed);
            }
            if self.holds("cpuset") {
                // A v1 cpuset starts empty and refuses tasks until both are set.
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    super::cpuset::inherit(&parent.join(f), &dir.join(f))?;
                }
            }
        }
        Ok(Made::New)
    }

    fn plan(&self, rel: &str, l: &Limits, fresh: bool) -> Result<(Vec<Write>, Vec<String>)> {
        // A new group's memory+swap limit is unlimited: nothing to read.
        let memsw = || {
            if fresh {
                None
            } else {
                read_u64(&self.dir(rel).join("memory.memsw.limit_in_bytes"))
            }
        };
        Ok(super::controller_writes(self, rel, l, memsw))
    }

    fn swap_accounting(&self, _rel: &str) -> bool {
        self.mount.join("memory.memsw.limit_in_bytes").exists()
    }

    fn read_stats(&self, rel: &str, s: &mut Stats) -> Result<()> {
        let d = self.dir(rel);
        let num = |f: &str| read_u64(&d.join(f));
        let text = |f: &str| read_if_exists(&d.join(f));
        if self.holds("memory") {
            let current = num("memory.usage_in_bytes").unwrap_or(0);
            let memsw = num("memory.memsw.usage_in_bytes");
            s.memory = Some(MemoryStat {
                current,
                peak: num("memory.max_usage_in_bytes"),
                limit: text("memory.limit_in_bytes")
                    .map(|t| v1_limit(&t))
                    .unwrap_or_default(),
                swap_current: memsw.map(|t| t.saturating_sub(current)),
                swap_limit: text("memory.memsw.limit_in_bytes").map(|t| v1_limit(&t)),
                limit_hits: num("memory.failcnt").unwrap_or(0),
                oom: None,
                oom_kill: text("memory.oom_control")
                    .and_then(|t| keyed(&t, "oom_kill"))
                    .unwrap_or(0),
            });
        }
        if self.holds("cpu") {
            let c = s.cpu.get_or_insert_with(Default::default);
            c.shares = num("cpu.shares");
            c.quota = match text("cpu.cfs_quota_us").and_then(|q| q.parse::<i64>().ok()) {
                Some(q) if q > 0 => Max::Value(q as u64),
                _ => Max::Max,
            };
            c.period = num("cpu.cfs_period_us").unwrap_or(100_000);
            if let Some(st) = text("cpu.stat") {
                c.nr_periods = keyed(&st, "nr_periods").unwrap_or(0);
                c.nr_throttled = keyed(&st, "nr_throttled").unwrap_or(0);
                c.throttled_usec = keyed(&st, "throttled_time").unwrap_or(0) / 1000;
            }
        }
        if self.holds("cpuacct") {
            let c = s.cpu.get_or_insert_with(Default::default);
            c.usage_usec = num("cpuacct.usage").unwrap_or(0) / 1000;
            if let Some(st) = text("cpuacct.stat") {
                c.user_usec = keyed(&st, "user").map(|t| t * 1_000_000 / USER_HZ);
                c.system_usec = keyed(&st, "system").map(|t| t * 1_000_000 / USER_HZ);
            }
        }
        if self.holds("cpuset") {
            s.cpuset = text("cpuset.cpus");
        }
        if self.holds("pids") {
            s.pids = Some(PidsStat::read(&d));
        }
        Ok(())
    }
}
