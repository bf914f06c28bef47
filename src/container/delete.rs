//! Removing a container (`rm`): refused while it runs unless forced; with
//! force its processes are killed (through its shim, else through its
//! cgroup); then its per-run resources are released, its record goes
//! first (so a crash later leaves no half container that `ps` would show:
//! the directory without a record is a leftover `system prune` removes),
//! then its directories. Read `rmdir(2)`.

use anyhow::{Result, bail};

use super::state::{self, Container};
use super::{kill, settle, teardown};
use crate::state::Root;
use crate::trace::Mechanism;

/// Remove container `id` (its init must be gone).
pub fn remove(root: &Root, id: &str) -> Result<()> {
    let Some(c) = state::load(root, id)? else {
        return Ok(());
    };
    teardown::release(root, &c)?;
    let dir = state::container_dir(root, id);
    crate::host::remove_file(
        Mechanism::Run,
        &state::record_path(root, id),
        "The record goes first: without it the directory is no container, only a leftover prune removes.",
    )?;
    crate::host::remove_dir_all(
        Mechanism::Run,
        &dir,
        "The container's files: its writable layer, logs and /etc files.",
    )?;
    crate::host::remove_dir_all(
        Mechanism::Run,
        &state::run_dir(root, id),
        "The shim's socket and lock.",
    )?;
    Ok(())
}

/// `rm [-f] CONTAINER`: Docker's refusal for a running one without `-f`.
pub fn rm(root: &Root, c: &Container, force: bool) -> Result<()> {
    let c = settle::settle(root, c)?;
    if super::shim::runs(c.state.status) {
        if !force {
            bail!(
                "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
                c.name,
                c.state.status.as_str()
            );
        }
        kill::kill_now(root, &c)?;
        settle::wait_stopped(root, &c.id)?;
    }
    remove(root, &c.id)
}
