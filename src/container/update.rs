//! `update`: new resource limits for a container, running or not. The
//! record's `HostConfig` takes them (so the next start makes its group
//! with them, and `inspect` shows them), and a running container's group
//! gets them at once: the same writes `run` makes ([`crate::cgroup`]'s
//! `Group::apply`), into files the kernel reads live (`memory.max`,
//! `cpu.max`, ...). On v1 the memory limit and the memory+swap limit are
//! written in the order that keeps memory+swap at or above memory, which
//! the kernel insists on at every moment.
//!
//! Docker's rules, in two places as in Docker: a value that cannot be
//! read is refused by the command line ([`Request::check`], exit 125);
//! the daemon's checks ([`plan`]) refuse a memory limit under 6 MB, and a
//! memory limit above the container's memory+swap limit unless
//! `--memory-swap` comes with it. Either way nothing is changed. A
//! `--memory-reservation` is v1's `memory.soft_limit_in_bytes` and v2's
//! `memory.low`, as runc writes it. Read `cgroups(7)` and the kernel's
//! `cgroup-v2.rst` (`memory.max`, `memory.low`).

use anyhow::{Result, anyhow, bail};

use super::state::{self, Container, HostConfig, Status};
use super::{cgroup as ccgroup, settle, shim};
use crate::cgroup::Group;
use crate::cgroup::spec::{self, Flags, Limits, MIN_MEMORY};
use crate::state::Root;

/// `update`'s flags as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpu_shares: Option<i64>,
    pub cpus: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub pids_limit: Option<i64>,
}

impl Request {
    pub fn is_empty(&self) -> bool {
        *self == Request::default()
    }

    /// The command line's own checks: every value can be read (Docker's
    /// flag errors). Nothing else is known here.
    pub fn check(&self) -> Result<()> {
        if let Some(m) = &self.memory {
            size("-m, --memory", m)?;
        }
        if let Some(s) = &self.memory_swap {
            swap(s)?;
        }
        if let Some(r) = &self.memory_reservation {
            size("--memory-reservation", r)?;
        }
        if let Some(c) = &self.cpus {
            spec::parse_cpus(c)?;
        }
        Ok(())
    }

    /// The flags `run` also has, for [`spec::resolve`] (swap apart: an
    /// update may change it alone).
    fn flags(&self) -> Flags {
        Flags {
            memory: self.memory.clone(),
            memory_swap: None,
            cpu_shares: self.cpu_shares,
            cpus: self.cpus.clone(),
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit,
        }
    }
}

fn size(flag: &str, text: &str) -> Result<u64> {
    spec::parse_size(text)
        .map_err(|e| anyhow!("invalid argument {text:?} for \"{flag}\" flag: {e}"))
}

/// `--memory-swap`: -1 (unlimited) or a size; 0 leaves it as it is.
fn swap(text: &str) -> Result<i64> {
    if text.trim() == "-1" {
        return Ok(-1);
    }
    Ok(size("--memory-swap", text)?.min(i64::MAX as u64) as i64)
}

/// What an update does to one container: its new host config, the
/// limits to write live (only the knobs it changes), Docker's warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub host: HostConfig,
    pub live: Limits,
    pub warnings: Vec<String>,
}

/// The daemon's checks of `req` against container `id`'s host config
/// `h`, and the result (Docker's `UpdateContainer`): a value 0 (or not
/// given) leaves its knob as it is. `ncpus`: the CPUs `--cpus` and
/// `--cpuset-cpus` are checked against.
pub fn plan(h: &HostConfig, id: &str, req: &Request, ncpus: usize) -> Result<Plan> {
    let (given, warnings) = spec::resolve(&req.flags(), ncpus)?;
    let new_swap = req
        .memory_swap
        .as_deref()
        .map(swap)
        .transpose()?
        .unwrap_or(0);
    let new_res = match &req.memory_reservation {
        Some(r) => size("--memory-reservation", r)?,
        None => 0,
    };
    if new_res != 0 && new_res < MIN_MEMORY {
        bail!("Minimum memory reservation allowed is 6MB");
    }
    let new_mem = given.memory.map_or(0, |m| m.min(i64::MAX as u64) as i64);
    if new_mem > 0 && new_swap > 0 && new_swap < new_mem {
        bail!("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    let cannot = |why: &str| anyhow!("Cannot update container {id}: {why}");
    let mut host = h.clone();
    // The swap limit as Docker's daemon records it: twice the memory when
    // only --memory was given.
    let stored_swap = if h.memory > 0 && h.memory_swap == 0 {
        h.memory.saturating_mul(2)
    } else {
        h.memory_swap
    };
    if new_mem != 0 {
        if new_mem > stored_swap && new_swap == 0 {
            return Err(cannot(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            ));
        }
        host.memory = new_mem;
        host.memory_swap = stored_swap;
    }
    if new_swap != 0 {
        host.memory_swap = new_swap;
    }
    if new_res != 0 {
        host.memory_reservation = new_res.min(i64::MAX as u64) as i64;
    }
    // What the result must be, whatever was given (a swap limit without a
    // memory limit means nothing to the kernel).
    if host.memory_swap != 0 && host.memory == 0 {
        return Err(cannot(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if host.memory_swap > 0 && host.memory_swap < host.memory {
        return Err(cannot(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if host.memory > 0 && host.memory_reservation > host.memory {
        return Err(cannot(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if let Some(s) = given.cpu_shares {
        host.cpu_shares = s as i64;
    }
    if let Some((quota, period)) = given.cpu_quota {
        host.nano_cpus = (quota * 1_000_000_000 / period) as i64;
    }
    if let Some(c) = &given.cpuset_cpus {
        host.cpuset_cpus = c.clone();
    }
    if let Some(p) = req.pids_limit {
        host.pids_limit = Some(p);
    }
    let live = changed(&ccgroup::limits(&host), &given, new_swap != 0, new_res != 0);
    Ok(Plan {
        host,
        live,
        warnings,
    })
}

/// The knobs of `all` that the update changes: memory and swap together
/// when either was given.
fn changed(all: &Limits, given: &Limits, swap: bool, reservation: bool) -> Limits {
    let mut l = Limits::default();
    if given.memory.is_some() || swap {
        l.memory = all.memory;
        l.swap = all.swap;
    }
    if reservation {
        l.memory_reservation = all.memory_reservation;
    }
    if given.cpu_shares.is_some() {
        l.cpu_shares = all.cpu_shares;
    }
    if given.cpu_quota.is_some() {
        l.cpu_quota = all.cpu_quota;
    }
    if given.cpuset_cpus.is_some() {
        l.cpuset_cpus = all.cpuset_cpus.clone();
    }
    if given.pids.is_some() {
        l.pids = all.pids;
    }
    l
}

/// `update CONTAINER`: Docker's checks ([`plan`]), then the new limits
/// written to a running container's group, then recorded. Warnings
/// (a value clamped, swap that cannot be limited here) come back.
pub fn update(root: &Root, c: &Container, req: &Request) -> Result<Vec<String>> {
    let c = settle::settle(root, c)?;
    let _lock = state::lock(root, &c.id)?;
    let mut rec =
        state::load(root, &c.id)?.ok_or_else(|| anyhow!("No such container: {}", c.id))?;
    if matches!(rec.state.status, Status::Removing | Status::Dead) {
        bail!(
            "Cannot update container {}: container is marked for removal and cannot be \"update\"",
            rec.id
        );
    }
    let plan = plan(&rec.host_config, &rec.id, req, spec::cpu_count())?;
    let mut warnings = plan.warnings.clone();
    if shim::runs(rec.state.status) {
        warnings.extend(write_live(root, &rec, &plan)?);
    }
    rec.host_config = plan.host;
    state::save(root, &rec)?;
    Ok(warnings)
}

/// Write the changed knobs to the running container's group; if the
/// kernel refuses one (a memory limit under what the group uses, on v1),
/// the knobs are written back as they were, best effort, and the update
/// fails.
fn write_live(root: &Root, rec: &Container, plan: &Plan) -> Result<Vec<String>> {
    let g = Group::open(root, &rec.cgroup)?;
    if !g.exists() {
        return Ok(Vec::new());
    }
    g.check_controllers(&plan.live)?;
    match g.apply(&plan.live, false) {
        Ok(w) => Ok(w),
        Err(e) => {
            let old = changed(
                &ccgroup::limits(&rec.host_config),
                &plan.live,
                plan.live.memory.is_some(),
                plan.live.memory_reservation.is_some(),
            );
            let busy = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.raw_os_error() == Some(libc::EBUSY))
            });
            let hint = if busy {
                ": the container uses more memory than that now, and the kernel could not reclaim enough (v1 refuses a limit below the usage): free some in it, or give a higher limit"
            } else {
                ""
            };
            let e = anyhow!("Cannot update container {}: {e:#}{hint}", rec.id);
            Err(match g.apply(&old, false) {
                Ok(_) => e,
                Err(r) => e.context(format!("and writing the old limits back failed: {r:#}")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 1 << 20;
    const ID: &str = "abc";

    fn req(memory: Option<&str>, swap: Option<&str>) -> Request {
        Request {
            memory: memory.map(Into::into),
            memory_swap: swap.map(Into::into),
            ..Request::default()
        }
    }

    fn limited(memory: i64) -> HostConfig {
        HostConfig {
            memory,
            memory_swap: 2 * memory,
            ..HostConfig::default()
        }
    }

    #[test]
    fn unreadable_values_are_the_command_lines_errors() {
        let e = req(Some("foo"), None).check().unwrap_err().to_string();
        assert!(
            e.starts_with(
                "invalid argument \"foo\" for \"-m, --memory\" flag: invalid size: 'foo'"
            ),
            "{e}"
        );
        let e = req(None, Some("lots")).check().unwrap_err().to_string();
        assert!(e.contains("\"--memory-swap\" flag"), "{e}");
        assert!(req(Some("5m"), Some("-1")).check().is_ok());
        let bad_cpus = Request {
            cpus: Some("abc".into()),
            ..Request::default()
        };
        assert!(bad_cpus.check().is_err());
        assert!(Request::default().is_empty());
    }

    #[test]
    fn the_daemons_minimums() {
        let h = limited(100 * M);
        assert_eq!(
            plan(&h, ID, &req(Some("5m"), None), 2)
                .unwrap_err()
                .to_string(),
            "Minimum memory limit allowed is 6MB"
        );
        let r = Request {
            memory_reservation: Some("1m".into()),
            ..Request::default()
        };
        assert_eq!(
            plan(&h, ID, &r, 2).unwrap_err().to_string(),
            "Minimum memory reservation allowed is 6MB"
        );
        assert_eq!(
            plan(&h, ID, &req(Some("100m"), Some("50m")), 2)
                .unwrap_err()
                .to_string(),
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
    }

    #[test]
    fn memory_above_the_swap_limit_needs_the_swap_too() {
        // No limit at all: the swap limit is 0, as in Docker.
        let e = plan(&HostConfig::default(), ID, &req(Some("100m"), None), 2)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Cannot update container abc: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        );
        // 100M (swap 200M) to 300M: refused; to 150M: swap kept.
        let h = limited(100 * M);
        assert!(plan(&h, ID, &req(Some("300m"), None), 2).is_err());
        let p = plan(&h, ID, &req(Some("150m"), None), 2).unwrap();
        assert_eq!((p.host.memory, p.host.memory_swap), (150 * M, 200 * M));
        assert_eq!(p.live.memory, Some(150 << 20));
        assert_eq!(p.live.swap, Some(spec::Swap::Total(200 << 20)));
        assert_eq!(p.live.cpu_shares, None);
        // With the swap, anything goes.
        let p = plan(&h, ID, &req(Some("300m"), Some("-1")), 2).unwrap();
        assert_eq!((p.host.memory, p.host.memory_swap), (300 * M, -1));
        let p = plan(
            &HostConfig::default(),
            ID,
            &req(Some("20m"), Some("20m")),
            2,
        )
        .unwrap();
        assert_eq!((p.host.memory, p.host.memory_swap), (20 * M, 20 * M));
        // The swap alone: at least the memory, and a memory limit to go with.
        assert!(plan(&h, ID, &req(None, Some("50m")), 2).is_err());
        assert!(plan(&HostConfig::default(), ID, &req(None, Some("50m")), 2).is_err());
        let p = plan(&h, ID, &req(None, Some("300m")), 2).unwrap();
        assert_eq!(p.host.memory_swap, 300 * M);
        assert_eq!(p.live.memory, Some(100 << 20));
    }

    #[test]
    fn other_knobs_change_alone() {
        let h = limited(100 * M);
        let r = Request {
            cpu_shares: Some(512),
            cpus: Some("0.5".into()),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(50),
            memory_reservation: Some("50m".into()),
            ..Request::default()
        };
        let p = plan(&h, ID, &r, 2).unwrap();
        assert_eq!(p.host.cpu_shares, 512);
        assert_eq!(p.host.nano_cpus, 500_000_000);
        assert_eq!(p.host.cpuset_cpus, "0");
        assert_eq!(p.host.pids_limit, Some(50));
        assert_eq!(p.host.memory_reservation, 50 * M);
        assert_eq!(p.host.memory, 100 * M);
        assert_eq!(p.live.memory, None, "memory is not rewritten");
        assert_eq!(p.live.memory_reservation, Some(50 << 20));
        assert_eq!(p.live.cpu_quota, Some((50_000, 100_000)));
        assert_eq!(p.live.pids, Some(Some(50)));
        // A reservation above the memory limit is refused.
        let r = Request {
            memory_reservation: Some("200m".into()),
            ..Request::default()
        };
        assert!(plan(&h, ID, &r, 2).is_err());
        // 0 leaves a knob as it is.
        let r = Request {
            cpu_shares: Some(0),
            cpus: Some("0".into()),
            ..Request::default()
        };
        let p = plan(&h, ID, &r, 2).unwrap();
        assert_eq!(p.host, h);
        assert!(p.live.is_empty());
    }
}
