//! A record is only as true as its shim: a shim that died (killed, the
//! machine rebooted, a crash half way through its teardown) leaves a
//! record claiming an init that is gone, or resources nobody releases.
//! Every command that reads a record settles it first, under the
//! container's lock, once it knows no shim is at work on it (the shim's
//! lock, not its pid, says so):
//!
//! - a record that says running: whatever is left of the container is
//!   killed through its cgroup, and the exit is recorded: 137 when its shim
//!   died (the init got SIGKILL with it), 255 when the machine rebooted
//!   since it started (its boot id changed), as Docker shows its
//!   containers after a reboot;
//! - what a run made and nobody released (a mount, the netns pin, the
//!   cgroup, the network lease) is released;
//! - a record marked for removal (`--rm`, or an `rm` cut short) is
//!   removed.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::shim::{self, REBOOT_EXIT, SHIM_DIED_EXIT};
use super::state::{self, Container, Status};
use super::{cgroup as ccgroup, delete, start, teardown};
use crate::state::Root;

/// `c` as it really is now; "No such container" if settling removed it
/// (a `--rm` container whose run had ended).
pub fn settle(root: &Root, c: &Container) -> Result<Container> {
    match settle_opt(root, c)? {
        Some(c) => Ok(c),
        None => bail!("No such container: {}", c.id),
    }
}

/// `c` as it really is now, or `None` if it is gone.
pub fn settle_opt(root: &Root, c: &Container) -> Result<Option<Container>> {
    if !needs_settling(root, c) {
        return Ok(Some(c.clone()));
    }
    let Some(lock) = state::lock_if_exists(root, &c.id)? else {
        return Ok(None);
    };
    let Some(rec) = state::load(root, &c.id)? else {
        return Ok(None);
    };
    if shim::alive(root, &rec.id) {
        return Ok(Some(rec));
    }
    // A `--rm` container removed here takes its anonymous volumes along,
    // once its lock is dropped (the volumes' lock comes first).
    let volumes = if rec.host_config.auto_remove {
        rec.mounts.clone()
    } else {
        Vec::new()
    };
    let settled = settle_locked(root, rec)?;
    drop(lock);
    if settled.is_none() && !volumes.is_empty() {
        super::delete::remove_volumes(root, &volumes)?;
    }
    Ok(settled)
}

/// Why a record whose shim is gone needs settling, if it does.
pub fn why_unsettled(root: &Root, c: &Container) -> Option<String> {
    if shim::runs(c.state.status) {
        return Some(if rebooted(c) {
            "running when the machine rebooted (its boot id changed)".into()
        } else {
            "running, but its shim is gone (killed?): it is shown exited once settled".into()
        });
    }
    if c.state.status == Status::Removing {
        return Some("half-removed: an rm that died before finishing".into());
    }
    if c.state.remove_on_exit {
        return Some("marked for removal (--rm), but whoever removed it died first".into());
    }
    let left = run_leftovers(root, c);
    if !left.is_empty() {
        return Some(format!(
            "its run has ended but {} (its shim died before releasing it)",
            left.join(", ")
        ));
    }
    None
}

fn needs_settling(root: &Root, c: &Container) -> bool {
    !shim::alive(root, &c.id) && why_unsettled(root, c).is_some()
}

/// Did the machine reboot since the init started?
fn rebooted(c: &Container) -> bool {
    !c.state.boot_id.is_empty() && c.state.boot_id != state::boot_id()
}

/// What a run made that is still on the host.
fn run_leftovers(root: &Root, c: &Container) -> Vec<&'static str> {
    let mut out = Vec::new();
    if crate::host::mountinfo::is_mount_point(&c.rootfs.merged).unwrap_or(false) {
        out.push("its root filesystem is still mounted");
    }
    if start::netns_pin(root, &c.id).exists() {
        out.push("its network namespace is still pinned");
    }
    if crate::cgroup::Group::open(root, &c.cgroup).is_ok_and(|g| g.exists()) {
        out.push("its cgroup is still there");
    }
    out
}

/// Settle `rec` (its lock held, no shim alive).
fn settle_locked(root: &Root, rec: Container) -> Result<Option<Container>> {
    let rec = if shim::runs(rec.state.status) {
        let reboot = rebooted(&rec);
        let (exit, error) = if reboot {
            (REBOOT_EXIT, String::new())
        } else {
            (
                SHIM_DIED_EXIT,
                format!(
                    "its shim (pid {}) died: the container was killed with it",
                    rec.state.shim_pid
                ),
            )
        };
        // The OOM count is read before the group goes; then nothing may
        // keep running without its monitor: the group is emptied (killed)
        // and removed.
        let oom = !reboot && teardown::oom_killed(root, &rec, exit);
        if !reboot {
            ccgroup::remove(root, &rec)?;
        }
        teardown::record_exit_locked(root, rec, exit, oom, &error)?
    } else {
        rec
    };
    if rec.state.status == Status::Removing || rec.state.remove_on_exit {
        delete::remove_locked(root, &rec.id)?;
        return Ok(None);
    }
    teardown::release(root, &rec)?;
    Ok(Some(rec))
}

/// Every container, settled (one that cannot be settled now is shown as
/// its record says, with a warning).
pub fn all(root: &Root) -> Result<Vec<Container>> {
    let mut out = Vec::new();
    for c in state::all(root)? {
        match settle_opt(root, &c) {
            Ok(Some(s)) => out.push(s),
            Ok(None) => {}
            Err(e) => {
                crate::trace::warn(format!("container {}: {e:#}", c.name));
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// Wait until container `id`'s shim is gone (its run has ended), up to a
/// minute; the settled record, or `None` if it was removed (`--rm`).
pub fn wait_stopped(root: &Root, id: &str) -> Result<Option<Container>> {
    wait_for_shim(root, id, Duration::from_secs(60))?;
    match state::load(root, id)? {
        Some(c) => settle_opt(root, &c),
        None => Ok(None),
    }
}

/// Wait until container `id` has no shim, up to `limit`.
pub fn wait_for_shim(root: &Root, id: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while shim::alive(root, id) {
        if Instant::now() > deadline {
            bail!(
                "container {id}: its shim did not end within {} s",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
