//! What each `glassbox cgroup` subcommand does (`run` aside, see
//! [`super::process`]), as library calls on plain values: checked input
//! in, values out, nothing printed. `src/cmd/cgroup.rs` parses the command
//! line into these and prints what comes back, rendered by
//! [`super::human`]; `run` and the container code call the same functions.
//!
//! The checks that need no host change come first (Docker's rules for the
//! flags, this host's CPUs and controllers, the pid given to `add`), so
//! that bad input is refused before anything is made.

use std::time::Duration;

use anyhow::{Result, bail};

use super::detect::{self, Layout, Placement};
use super::group::{self, USED};
use super::lifecycle::{self, Report};
use super::spec::{self, Flags, Limits};
use super::{Group, Stats};
use crate::state::Root;
use crate::state::resources::{self, Owner};

/// A group and its limits, checked and ready to apply.
pub struct Prepared {
    pub group: Group,
    pub limits: Limits,
    /// Docker's warnings on the flags (a value clamped to its range).
    pub warnings: Vec<String>,
}

/// Check everything that can be checked before touching the host: the
/// name, the flags (Docker's rules, this host's CPUs), the controllers.
pub fn prepare(root: &Root, name: &str, flags: &Flags) -> Result<Prepared> {
    super::validate_name(name)?;
    let (limits, warnings) = spec::resolve(flags, spec::cpu_count())?;
    let group = Group::open(root, name)?;
    group.check_controllers(&limits)?;
    Ok(Prepared {
        group,
        limits,
        warnings,
    })
}

/// [`prepare`] for `cgroup set`, which needs at least one flag.
pub fn prepare_set(root: &Root, name: &str, flags: &Flags) -> Result<Prepared> {
    let p = prepare(root, name, flags)?;
    if p.limits.is_empty() && flags.is_empty() {
        bail!(
            "nothing to set: give at least one of --memory, --memory-swap, --cpu-shares, --cpus, --cpuset-cpus, --pids-limit"
        );
    }
    Ok(p)
}

/// `cgroup create`: the group, made by hand, in the hierarchies of its
/// limits' controllers ([`super::Reach::Limits`]).
pub fn create(root: &Root, p: &Prepared) -> Result<Report> {
    let owner = Owner::Manual {
        command: format!("cgroup create {}", p.group.name),
    };
    lifecycle::create(root, &p.group, &p.limits, owner)
}

/// `cgroup set`: change the limits of an existing group, live.
pub fn set(root: &Root, p: &Prepared) -> Result<Report> {
    let notes = lifecycle::existing(root, &p.group)?;
    let warnings = p.group.apply(&p.limits, false)?;
    Ok(Report { notes, warnings })
}

/// `cgroup add`: move process `pid` into group `name`. Refuses a pid that
/// is not running, init, and kernel threads.
pub fn add(root: &Root, name: &str, pid: u32) -> Result<Report> {
    let g = Group::open(root, name)?;
    let notes = lifecycle::existing(root, &g)?;
    if !resources::pid_alive(pid) {
        bail!("no process with pid {pid}: give the pid of a running process");
    }
    if pid == 1 {
        bail!(
            "refusing to move pid 1 (init) into cgroup {name}: its limits would throttle the whole system's init, and `cgroup rm --force` cannot kill it; start a process to experiment on, e.g. `sleep 300 &` and add $!"
        );
    }
    if is_kernel_thread(pid) {
        bail!(
            "pid {pid} is a kernel thread: the kernel keeps those in the root cgroup; give the pid of a user process"
        );
    }
    g.add(pid)?;
    Ok(Report {
        notes,
        warnings: Vec::new(),
    })
}

/// PF_KTHREAD in the flags field (the 9th) of /proc/PID/stat.
pub fn is_kernel_thread(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    kernel_thread_flags(&stat)
}

fn kernel_thread_flags(stat: &str) -> bool {
    const PF_KTHREAD: u64 = 0x0020_0000;
    // The command name (field 2) may hold spaces: count after its ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(6))
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|flags| flags & PF_KTHREAD != 0)
}

/// `cgroup rm`: see [`lifecycle::remove`].
pub fn remove(root: &Root, name: &str, force: bool) -> Result<Report> {
    let notes = lifecycle::remove(root, name, force)?;
    Ok(Report {
        notes,
        warnings: Vec::new(),
    })
}

/// The group `name` as `stat` reads it: it must exist (no ledger needed).
fn existing_group(root: &Root, name: &str) -> Result<Group> {
    let g = Group::open(root, name)?;
    if !g.exists() {
        return Err(lifecycle::no_such_group(name));
    }
    Ok(g)
}

/// `cgroup stat` once: usage against the limits.
pub fn stats(root: &Root, name: &str) -> Result<Stats> {
    existing_group(root, name)?.stats()
}

/// One reading of `cgroup stat --watch`.
#[derive(Debug)]
pub enum Sample {
    Stats(Box<Stats>),
    /// The group went away between two readings: why the last failed.
    Gone(String),
}

/// `cgroup stat [--watch]`: readings of a group, `interval` apart, until
/// it is gone (or just one without `repeat`). An iterator, so the caller
/// prints each as it comes.
pub struct Watch {
    group: Group,
    interval: Duration,
    repeat: bool,
    started: bool,
    done: bool,
}

/// Start watching group `name` (which must exist); `interval` in seconds.
pub fn watch(root: &Root, name: &str, interval: f64, repeat: bool) -> Result<Watch> {
    let group = existing_group(root, name)?;
    if !(interval > 0.0 && interval.is_finite()) {
        bail!("--interval must be a positive number of seconds");
    }
    Ok(Watch {
        group,
        interval: Duration::from_secs_f64(interval),
        repeat,
        started: false,
        done: false,
    })
}

impl Iterator for Watch {
    type Item = Result<Sample>;

    fn next(&mut self) -> Option<Result<Sample>> {
        if self.done {
            return None;
        }
        if self.started {
            std::thread::sleep(self.interval);
        }
        self.started = true;
        self.done = !self.repeat;
        Some(match self.group.stats() {
            Ok(s) => Ok(Sample::Stats(Box::new(s))),
            Err(e) if self.repeat && !self.group.exists() => {
                self.done = true;
                Ok(Sample::Gone(format!("{} is gone: {e:#}", self.group.name)))
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        })
    }
}

/// One group of `cgroup ls`.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    /// `v1`, `v2` or `v1+v2`.
    pub versions: String,
    pub stats: Stats,
}

/// What `cgroup ls` shows: the host's layout and this root's groups.
#[derive(Debug, Clone)]
pub struct Listing {
    pub layout: Layout,
    /// Where each controller glassbox uses lives (`None`: absent).
    pub placements: Vec<(&'static str, Option<Placement>)>,
    /// `None`: cannot tell (no memory controller, or no group to ask).
    pub swap_accounting: Option<bool>,
    pub swap_configured: bool,
    pub groups: Vec<Listed>,
}

/// `cgroup ls`.
pub fn list(root: &Root) -> Result<Listing> {
    let layout = detect::detect()?;
    let mut groups = Vec::new();
    for name in group::list(root, &layout) {
        let g = Group::with_layout(root, &name, layout.clone());
        groups.push(Listed {
            versions: g.versions(),
            stats: g.stats()?,
            name,
        });
    }
    Ok(Listing {
        placements: USED
            .iter()
            .map(|(c, _)| (*c, layout.controller(c).cloned()))
            .collect(),
        swap_accounting: detect::swap_accounting(&layout),
        swap_configured: detect::swap_configured(),
        groups,
        layout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_threads_are_told_by_their_flags() {
        // kthreadd (pid 2): flags 0x208040 include PF_KTHREAD.
        assert!(kernel_thread_flags(
            "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0"
        ));
        // A shell whose name holds ") S": the flags come after the last ')'.
        assert!(!kernel_thread_flags(
            "77 (a) S b) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0"
        ));
    }
}
