//! The end of a run, in this order (the and runc's): read whether
//! the OOM killer struck, write the exit atomically, then release the
//! per-run resources: the network endpoints (the lease, the veth, the
//! ports published to the container's address), the pinned network
//! namespace, the overlay mount, the cgroup. Each release works from the
//! saved record alone, in whatever process runs it (the shim, `rm -f`,
//! `system prune`, a command after the shim died or after a reboot), and
//! counts "already gone" as done, so two of them racing both succeed.

use std::path::Path;

use anyhow::Result;

use super::state::{self, Container, Status};
use super::{cgroup as ccgroup, delete, network, start};
use crate::state::Root;

/// OOM-killed, as Docker reports it: killed by SIGKILL while the group's
/// OOM-kill counter went up.
pub fn oom_killed(root: &Root, c: &Container, exit: i32) -> bool {
    exit == 128 + libc::SIGKILL && ccgroup::oom_kills(root, c) > 0
}

/// Record that the init ended with `exit`; whether it was OOM-killed.
/// Called before anything is released, so the record is never left
/// running when its resources are already gone.
pub fn record_exit(root: &Root, id: &str, exit: i32) -> Result<(Container, bool)> {
    let _lock = state::lock(root, id)?;
    let mut c = state::load(root, id)?.ok_or_else(|| anyhow::anyhow!("No such container: {id}"))?;
    let oom = oom_killed(root, &c, exit);
    let s = &mut c.state;
    s.status = Status::Exited;
    s.exit_code = exit;
    s.oom_killed = oom;
    s.pid = 0;
    s.shim_pid = 0;
    s.finished_at = crate::clock::now_rfc3339_nanos();
    network::clear_runtime(&mut c);
    state::save(root, &c)?;
    Ok((c, oom))
}

/// Release what a run of `c` made; every step tolerates what is gone and
/// all are tried, the errors reported together.
pub fn release(root: &Root, c: &Container) -> Result<()> {
    let mut errors = Vec::new();
    if let Err(err) = network::release(root, c) {
        errors.push(format!("{err:#}"));
    }
    let pin = start::netns_pin(root, &c.id);
    if let Err(err) = unpin(root, &pin) {
        errors.push(format!("{err:#}"));
    }
    if crate::host::mountinfo::is_mount_point(&c.rootfs.merged).unwrap_or(false)
        && let Err(err) = crate::unionfs::stack::umount(root, &c.rootfs.merged)
    {
        errors.push(format!("unmount the root: {err:#}"));
    }
    if let Err(err) = ccgroup::remove(root, c) {
        errors.push(format!("remove the cgroup: {err:#}"));
    }
    if !errors.is_empty() {
        anyhow::bail!("releasing container {}: {}", c.id, errors.join("; "));
    }
    Ok(())
}

/// Unmount the pinned network namespace and drop its record.
fn unpin(root: &Root, pin: &Path) -> Result<()> {
    let id = pin.display().to_string();
    if crate::host::mountinfo::is_mount_point(pin).unwrap_or(false) {
        crate::host::mount::umount(
            crate::trace::Mechanism::Run,
            pin,
            nix::mount::MntFlags::MNT_DETACH,
            "The container has ended: its network namespace is let go.",
        )?;
    }
    crate::state::resources::forget(
        root,
        crate::state::resources::ResourceKind::name(&crate::host::MOUNT_KIND),
        &id,
    )?;
    crate::host::remove_file(crate::trace::Mechanism::Run, pin, "The pin's mount point.")
}

/// The whole end of a run in the shim: exit recorded, resources released,
/// `--rm` honoured. Whether the OOM killer struck.
pub fn finish(root: &Root, id: &str, exit: i32) -> Result<bool> {
    let (c, oom) = record_exit(root, id, exit)?;
    let released = release(root, &c);
    if c.host_config.auto_remove {
        delete::remove(root, &c.id)?;
    }
    released?;
    Ok(oom)
}

/// A start that failed: Docker leaves the container `Created` with the
/// error and the exit code (126, 127, 125), or removes it with `--rm`.
pub fn after_failed_start(root: &Root, id: &str, code: i32, message: &str) -> Result<()> {
    let c = {
        let _lock = state::lock(root, id)?;
        let Some(mut c) = state::load(root, id)? else {
            return Ok(());
        };
        c.state.status = Status::Created;
        c.state.exit_code = code;
        c.state.error = message.to_string();
        c.state.pid = 0;
        c.state.shim_pid = 0;
        network::clear_runtime(&mut c);
        state::save(root, &c)?;
        c
    };
    let released = release(root, &c);
    if c.host_config.auto_remove {
        delete::remove(root, &c.id)?;
    }
    released
}
