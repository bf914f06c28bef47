//! A record that says "running" is only as true as its shim: a shim that
//! died (killed, the machine rebooted) leaves a record claiming an init
//! that is gone. Every command that reads a record settles it first: if
//! the shim's lock is free, whatever is left of the container is killed
//! through its cgroup, the exit is recorded (137, as for SIGKILL; after a
//! reboot, as Docker shows its containers then) and the per-run resources
//! are released. A record marked for removal (`--rm`) whose remover died
//! is removed.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::shim::{self, SHIM_DIED_EXIT};
use super::state::{self, Container};
use super::{cgroup as ccgroup, delete, teardown};
use crate::state::Root;

/// `c` as it really is now.
pub fn settle(root: &Root, c: &Container) -> Result<Container> {
    if !shim::runs(c.state.status) || shim::alive(root, &c.id) {
        return Ok(c.clone());
    }
    // The shim is gone: nothing may keep running without its monitor.
    if let Ok(g) = crate::cgroup::Group::open(root, &c.cgroup)
        && g.exists()
    {
        let _ = ccgroup::remove(root, c);
    }
    let (rec, _) = teardown::record_exit(root, &c.id, SHIM_DIED_EXIT)?;
    let _ = teardown::release(root, &rec);
    if rec.host_config.auto_remove {
        delete::remove(root, &rec.id)?;
    }
    Ok(rec)
}

/// Every container, settled.
pub fn all(root: &Root) -> Result<Vec<Container>> {
    state::all(root)?.iter().map(|c| settle(root, c)).collect()
}

/// Wait until container `id`'s shim is gone (its run has ended), up to a
/// minute; the settled record, or `None` if it was removed (`--rm`).
pub fn wait_stopped(root: &Root, id: &str) -> Result<Option<Container>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while shim::alive(root, id) {
        if Instant::now() > deadline {
            bail!("container {id} did not stop within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    match state::load(root, id)? {
        Some(c) => Ok(Some(settle(root, &c)?)),
        None => Ok(None),
    }
}
