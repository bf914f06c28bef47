//! A container's cgroup: one group per container (named by its id under
//! this root's parent), in every hierarchy on v1 (freezer, devices, blkio
//! and cpuacct too), with the limits of `--memory`, `--memory-swap`,
//! `--cpu-shares`, `--cpus`, `--cpuset-cpus`, `--pids-limit` (and
//! `update`'s `--memory-reservation`); what the
//! container sees of it at `/sys/fs/cgroup`; its OOM count; its removal.
//! The work is the cgroup library's ([`crate::cgroup`]); this module says
//! what a container asks of it. Read `cgroups(7)`.

use anyhow::Result;

use crate::cgroup::detect::Mode;
use crate::cgroup::spec::{Limits, Swap};
use crate::cgroup::{self, Group};
use crate::ns::spec::CgroupView;
use crate::state::Root;
use crate::state::resources::Owner;

use super::state::{Container, HostConfig};

/// The group's name for container `id`.
pub fn name(id: &str) -> String {
    format!("ctr-{}", &id[..id.len().min(24)])
}

/// The cgroup limits of a host config (already checked at `create`).
pub fn limits(h: &HostConfig) -> Limits {
    let mut l = Limits::default();
    if h.memory > 0 {
        l.memory = Some(h.memory as u64);
        l.swap = Some(match h.memory_swap {
            0 => Swap::Default,
            -1 => Swap::Unlimited,
            n => Swap::Total(n as u64),
        });
    }
    if h.memory_reservation > 0 {
        l.memory_reservation = Some(h.memory_reservation as u64);
    }
    if h.cpu_shares > 0 {
        l.cpu_shares = Some(h.cpu_shares as u64);
    }
    if h.nano_cpus > 0 {
        let period = 100_000u64;
        l.cpu_quota = Some(((h.nano_cpus as u64) * period / 1_000_000_000, period));
    }
    if !h.cpuset_cpus.is_empty() {
        l.cpuset_cpus = Some(h.cpuset_cpus.clone());
    }
    if let Some(p) = h.pids_limit {
        l.pids = Some(if p > 0 { Some(p as u64) } else { None });
    }
    l
}

/// Make the container's group with its limits, in every hierarchy,
/// recorded for `owner` ([`cgroup::lifecycle::create_container`]).
pub fn create(root: &Root, c: &Container, owner: Owner) -> Result<Group> {
    let (g, report) =
        cgroup::lifecycle::create_container(root, &c.cgroup, &limits(&c.host_config), owner)?;
    // What cannot be enforced here (swap without swap accounting), as
    // `cgroup create` says it.
    for w in report.warnings {
        crate::trace::warn(w);
    }
    Ok(g)
}

/// What the container is shown at `/sys/fs/cgroup`: on v2 its own group
/// through a cgroup namespace; on v1 its own directory of each hierarchy.
pub fn view(g: &Group) -> CgroupView {
    if g.layout.mode == Mode::Unified {
        return CgroupView::V2;
    }
    let v2 = g.layout.v2_mount.clone();
    let mut out = Vec::new();
    for dir in g.dirs() {
        let Some(mount) = strip_suffix(&dir, &g.rel) else {
            continue;
        };
        if Some(&mount) == v2.as_ref() {
            continue;
        }
        if let Some(name) = mount.file_name() {
            out.push((name.to_string_lossy().into_owned(), dir.clone()));
        }
    }
    CgroupView::V1(out)
}

fn strip_suffix(dir: &std::path::Path, rel: &str) -> Option<std::path::PathBuf> {
    let s = dir.to_str()?;
    let m = s.strip_suffix(rel)?.trim_end_matches('/');
    Some(std::path::PathBuf::from(m))
}

/// The OOM kills counted in the container's group (before it goes).
pub fn oom_kills(root: &Root, c: &Container) -> u64 {
    Group::open(root, &c.cgroup)
        .map(|g| g.oom_kills())
        .unwrap_or(0)
}

/// Kill whatever is left in the group and remove it; "already gone" is
/// success.
pub fn remove(root: &Root, c: &Container) -> Result<()> {
    let g = Group::open(root, &c.cgroup)?;
    if !g.exists() {
        return Ok(());
    }
    match cgroup::lifecycle::remove(root, &c.cgroup, true) {
        Ok(_) => Ok(()),
        // Another release (the shim's, a racing `rm -f`) took it first.
        Err(_) if !g.exists() => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_flags_become_limits() {
        let h = HostConfig {
            memory: 200 << 20,
            memory_swap: 0,
            cpu_shares: 512,
            nano_cpus: 500_000_000,
            pids_limit: Some(20),
            ..HostConfig::default()
        };
        let l = limits(&h);
        assert_eq!(l.memory, Some(200 << 20));
        assert_eq!(l.swap, Some(Swap::Default));
        assert_eq!(l.cpu_quota, Some((50_000, 100_000)));
        assert_eq!(l.pids, Some(Some(20)));
        assert!(limits(&HostConfig::default()).is_empty());
        assert_eq!(name(&"a".repeat(64)).len(), 28);
    }
}
