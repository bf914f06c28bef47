//! The end of a run, in this order (the and runc's): read whether
//! the OOM killer struck, write the exit atomically, then release the
//! per-run resources: the network endpoints (the lease, the veth, the
//! ports published to the container's address), the pinned network
//! namespace, the overlay mount, the cgroup. Each release works from the
//! saved record alone, in whatever process runs it (the shim, `rm -f`,
//! `system prune`, a command after the shim died or after a reboot), and
//! counts "already gone" as done, so a release cut short by a crash is
//! finished by running it again.

use std::path::Path;

use anyhow::Result;

use super::state::{self, Container, Status};
use super::{cgroup as ccgroup, delete, network, start};
use crate::state::Root;
use crate::state::resources::{self, ResourceKind};

/// OOM-killed, as Docker reports it: killed by SIGKILL while the group's
/// OOM-kill counter went up.
pub fn oom_killed(root: &Root, c: &Container, exit: i32) -> bool {
    exit == 128 + libc::SIGKILL && ccgroup::oom_kills(root, c) > 0
}

/// Record that the init ended with `exit`; whether it was OOM-killed.
/// Called before anything is released, so the record is never left
/// running when its resources are already gone. A container run with
/// `--rm` is marked for removal in the same write: if whoever removes it
/// dies first, the next command finishes the removal.
pub fn record_exit(root: &Root, id: &str, exit: i32) -> Result<(Container, bool)> {
    let _lock = state::lock(root, id)?;
    let c = load(root, id)?;
    let oom = oom_killed(root, &c, exit);
    let c = record_exit_locked(root, c, exit, oom, "")?;
    Ok((c, oom))
}

fn load(root: &Root, id: &str) -> Result<Container> {
    state::load(root, id)?.ok_or_else(|| anyhow::anyhow!("No such container: {id}"))
}

/// [`record_exit`] for a caller that holds the container's lock and has
/// read the OOM count; `error` becomes `State.Error` when not empty.
pub fn record_exit_locked(
    root: &Root,
    mut c: Container,
    exit: i32,
    oom: bool,
    error: &str,
) -> Result<Container> {
    let auto_remove = c.host_config.auto_remove;
    let s = &mut c.state;
    s.status = Status::Exited;
    s.exit_code = exit;
    s.oom_killed = oom;
    s.pid = 0;
    s.shim_pid = 0;
    s.finished_at = crate::clock::now_rfc3339_nanos();
    if !error.is_empty() {
        s.error = error.to_string();
    }
    s.remove_on_exit = auto_remove;
    network::clear_runtime(&mut c);
    state::save(root, &c)?;
    if oom {
        crate::events::container(root, &c, "oom");
    }
    crate::events::record(
        root,
        crate::events::Event::container(&c, "die").attr("exitCode", exit),
    );
    Ok(c)
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
    if let Err(err) = unmount_root(root, &c.rootfs.merged) {
        errors.push(format!("unmount the root: {err:#}"));
    }
    if let Err(err) = remove_cgroup(root, c) {
        errors.push(format!("remove the cgroup: {err:#}"));
    }
    if !errors.is_empty() {
        anyhow::bail!("releasing container {}: {}", c.id, errors.join("; "));
    }
    Ok(())
}

/// Drop a ledger record if there is one (a removal that already happened,
/// or an object a reboot took away).
fn forget_if_recorded(root: &Root, kind: &str, id: &str) -> Result<()> {
    if resources::list(root)?
        .iter()
        .any(|r| r.kind == kind && r.id == id)
    {
        resources::forget(root, kind, id)?;
    }
    Ok(())
}

/// Unmount the pinned network namespace and drop its record.
pub fn unpin(root: &Root, pin: &Path) -> Result<()> {
    let id = pin.display().to_string();
    if crate::host::mountinfo::is_mount_point(pin).unwrap_or(false) {
        crate::host::mount::umount(
            crate::trace::Mechanism::Run,
            pin,
            nix::mount::MntFlags::MNT_DETACH,
            "The container has ended: its network namespace is let go.",
        )?;
    }
    forget_if_recorded(root, crate::host::MOUNT_KIND.name(), &id)?;
    if pin.exists() {
        crate::host::remove_file(crate::trace::Mechanism::Run, pin, "The pin's mount point.")?;
    }
    Ok(())
}

/// Unmount the container's root, or drop the records of one already gone.
pub fn unmount_root(root: &Root, merged: &Path) -> Result<()> {
    if crate::host::mountinfo::is_mount_point(merged).unwrap_or(false) {
        crate::unionfs::stack::umount(root, merged)?;
        return Ok(());
    }
    if crate::unionfs::records::known(root, merged)?.any() {
        crate::unionfs::records::clear(root, merged)?;
    }
    Ok(())
}

/// Kill what is left in the container's group and remove it, or drop the
/// record of one already gone.
fn remove_cgroup(root: &Root, c: &Container) -> Result<()> {
    ccgroup::remove(root, c)?;
    forget_if_recorded(root, crate::cgroup::KIND_NAME, &c.cgroup)
}

/// The whole end of a run in the shim: exit recorded, resources released,
/// `--rm` honoured. Whether the OOM killer struck.
pub fn finish(root: &Root, id: &str, exit: i32) -> Result<bool> {
    let (c, oom) = record_exit(root, id, exit)?;
    let released = release(root, &c);
    if c.state.remove_on_exit {
        delete::remove_own(root, &c.id)?;
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
        c.state.remove_on_exit = c.host_config.auto_remove;
        network::clear_runtime(&mut c);
        state::save(root, &c)?;
        c
    };
    let released = release(root, &c);
    if c.state.remove_on_exit {
        delete::remove_own(root, &c.id)?;
    }
    released
}
