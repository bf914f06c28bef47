//! Removing a container (`rm`): refused while it runs unless forced; with
//! force its processes are killed (through its shim, else through its
//! cgroup). The removal is a transaction under the container's lock: the
//! record is first marked `removing` (`ps` shows "Removal In Progress"),
//! then the per-run resources are released, then the record goes (so a
//! crash later leaves no half container that `ps` would show: the
//! directory without a record is a leftover `system prune` removes), then
//! its directories. A crash before the record is gone leaves it marked,
//! and the next command that reads it finishes the removal. Read
//! `rmdir(2)`.

use anyhow::{Context, Result, bail};

use super::state::{self, Container, Status};
use super::{kill, settle, shim, teardown};
use crate::state::Root;
use crate::trace::Mechanism;

/// Remove container `id` (its init must be gone); already gone is done.
/// Refused while a shim is at work on it (starting or ending it).
pub fn remove(root: &Root, id: &str) -> Result<()> {
    let Some(_lock) = state::lock_if_exists(root, id)? else {
        return Ok(());
    };
    if shim::alive(root, id) {
        bail!("container {id} is being started or stopped by its shim: wait for it, or use rm -f");
    }
    remove_locked(root, id)
}

/// The shim's removal of its own container (`--rm`), once its run ended,
/// with its anonymous volumes (Docker's `--rm` removes them too).
pub fn remove_own(root: &Root, id: &str) -> Result<()> {
    let mounts = {
        let Some(_lock) = state::lock_if_exists(root, id)? else {
            return Ok(());
        };
        let mounts = state::load(root, id)?
            .filter(|c| c.host_config.auto_remove)
            .map(|c| c.mounts)
            .unwrap_or_default();
        remove_locked(root, id)?;
        mounts
    };
    // After the container's lock is dropped: the volumes' lock is taken
    // before a container's (as `create` and `rename` take them).
    remove_volumes(root, &mounts)
}

/// `rm -v`: the anonymous volumes of a removed container (named ones
/// stay, as Docker keeps them).
pub fn remove_volumes(root: &Root, mounts: &[super::state::MountPoint]) -> Result<()> {
    crate::volume::remove_anonymous(root, mounts)
}

/// [`remove`], for a caller that holds the container's lock and knows no
/// shim is at work on it.
pub fn remove_locked(root: &Root, id: &str) -> Result<()> {
    if let Some(mut c) = state::load(root, id)? {
        if c.state.status != Status::Removing {
            c.state.status = Status::Removing;
            state::save(root, &c)?;
        }
        teardown::release(root, &c)?;
        crate::host::remove_file(
            Mechanism::Run,
            &state::record_path(root, id),
            "The record goes first: without it the directory is no container, only a leftover prune removes.",
        )?;
        crate::events::container(root, &c, "destroy");
    }
    remove_dirs(root, id)
}

/// Where a container's directory goes while it is removed (a dot name:
/// no command takes it for a container; `system prune` finishes one a
/// crash left).
pub fn trash_dir(root: &Root, id: &str) -> std::path::PathBuf {
    state::dir(root).join(format!(".removing-{id}"))
}

/// The directories of a container whose record is gone: its own (with the
/// root filesystem unmounted first, if a crash left it mounted) and its
/// runtime directory (with the network namespace pin).
pub fn remove_dirs(root: &Root, id: &str) -> Result<()> {
    let dir = state::container_dir(root, id);
    let merged = dir.join("merged");
    teardown::unmount_root(root, &merged)?;
    if dir.exists() {
        // Out of the way first, in one rename(2): a command that reaches
        // for the container meanwhile (its lock file is in the directory)
        // finds nothing, instead of making a file in a directory being
        // emptied (rmdir would fail with ENOTEMPTY).
        let trash = trash_dir(root, id);
        crate::trace::Step::new(
            Mechanism::Run,
            crate::trace::Action::Filesystem,
            format!("move {} out of the way", dir.display()),
        )
        .arg("path", dir.display())
        .shell(format!("mv {} {}", dir.display(), trash.display()))
        .man("rename(2)")
        .detail()
        .run(|| {
            std::fs::rename(&dir, &trash)
                .with_context(|| format!("rename {} to {}", dir.display(), trash.display()))
        })?;
        crate::host::remove_dir_all(
            Mechanism::Run,
            &trash,
            "The container's files: its writable layer, logs and /etc files.",
        )?;
    }
    let run = state::run_dir(root, id);
    if run.exists() {
        teardown::unpin(root, &super::start::netns_pin(root, id))?;
        crate::host::remove_dir_all(Mechanism::Run, &run, "The shim's socket and lock.")?;
    }
    Ok(())
}

/// `rm [-f] CONTAINER`: Docker's refusal for a running one without `-f`.
pub fn rm(root: &Root, c: &Container, force: bool) -> Result<()> {
    // Settling may remove it (a --rm container that ended): done.
    let Some(mut c) = settle::settle_opt(root, c)? else {
        return Ok(());
    };
    if !force && !shim::runs(c.state.status) && shim::alive(root, &c.id) {
        // Its shim is still at work: releasing what an ended run had (an
        // attached `run` returns the code first), or starting it. Docker's
        // daemon answers once that is done; so does this rm.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let Some(now) = state::load(root, &c.id)? else {
                return Ok(());
            };
            let started = shim::runs(now.state.status);
            if started || !shim::alive(root, &c.id) || std::time::Instant::now() > deadline {
                match settle::settle_opt(root, &now)? {
                    Some(now) => c = now,
                    None => return Ok(()),
                }
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    if shim::runs(c.state.status) || shim::alive(root, &c.id) {
        if !force {
            if shim::runs(c.state.status) {
                bail!(
                    "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
                    c.name,
                    c.state.status.as_str()
                );
            }
            bail!(
                "cannot remove container \"/{}\": it is being started or stopped: wait for it, or force remove",
                c.name
            );
        }
        kill::kill_now(root, &c)?;
        settle::wait_stopped(root, &c.id)?;
    }
    remove(root, &c.id)
}
