//! `pause` and `unpause`: every process of a running container frozen in
//! place through its cgroup's freezer ([`crate::cgroup::freezer`]), and
//! thawed again; Docker's `State.Paused`, shown by `ps` as
//! `Up 2 minutes (Paused)`. The container keeps its memory, files and
//! sockets; it gets no CPU time at all meanwhile, and sees no signal.
//!
//! The record is changed under the container's lock, before a freeze and
//! after a thaw: a command that dies half way leaves a container recorded
//! paused that may be running, which the next `unpause` puts right,
//! never one frozen that no command knows to thaw.
//!
//! A frozen v1 task does not even die of SIGKILL until it is thawed, so
//! whoever kills a paused container (`kill`, `stop`, `rm -f`) thaws it
//! right after the signal ([`thaw_after_signal`]), as Docker does; its
//! shim then sees the init exit as for any other death. Read the kernel's
//! `cgroup-v1/freezer-subsystem.rst` and `cgroup-v2.rst` (`cgroup.freeze`).

use anyhow::{Result, bail};

use super::state::{self, Container, Status};
use super::{settle, shim};
use crate::cgroup::Group;
use crate::state::Root;

/// `pause CONTAINER`: freeze it, Docker's refusals otherwise.
pub fn pause(root: &Root, c: &Container) -> Result<()> {
    let c = settle::settle(root, c)?;
    let _lock = state::lock(root, &c.id)?;
    let mut rec = reload(root, &c)?;
    check_pause(&rec)?;
    // Recorded first: a crash now leaves it "paused" and running, which
    // `unpause` puts right.
    rec.state.status = Status::Paused;
    state::save(root, &rec)?;
    if let Err(e) = group(root, &rec).and_then(|g| g.pause()) {
        rec.state.status = Status::Running;
        state::save(root, &rec)?;
        return Err(e);
    }
    crate::events::container(root, &rec, "pause");
    Ok(())
}

/// `unpause CONTAINER`: thaw it, Docker's refusals otherwise.
pub fn unpause(root: &Root, c: &Container) -> Result<()> {
    let c = settle::settle(root, c)?;
    let _lock = state::lock(root, &c.id)?;
    let mut rec = reload(root, &c)?;
    check_unpause(&rec)?;
    group(root, &rec)?.resume()?;
    rec.state.status = Status::Running;
    state::save(root, &rec)?;
    crate::events::container(root, &rec, "unpause");
    Ok(())
}

/// Docker's refusals of `pause` (the container's full id, as its daemon
/// names it).
pub fn check_pause(c: &Container) -> Result<()> {
    if !shim::runs(c.state.status) {
        bail!("Container {} is not running", c.id);
    }
    if c.state.status == Status::Paused {
        bail!("Container {} is already paused", c.id);
    }
    Ok(())
}

/// Docker's refusal of `unpause` (a stopped container is not paused
/// either).
pub fn check_unpause(c: &Container) -> Result<()> {
    if c.state.status != Status::Paused {
        bail!("Container {} is not paused", c.id);
    }
    Ok(())
}

/// Docker's refusal of `start` of a paused container.
pub fn check_start(c: &Container) -> Result<()> {
    if c.state.status == Status::Paused {
        bail!("cannot start a paused container, try unpause instead");
    }
    Ok(())
}

/// Does signal `sig` unpause a paused container, as Docker's kill does?
/// SIGKILL always; with no `StopSignal` of its own any signal; with one,
/// that signal (a `stop`).
pub fn unpauses(stop_signal: &str, sig: i32) -> bool {
    if sig == libc::SIGKILL || stop_signal.is_empty() {
        return true;
    }
    super::kill::parse_signal(stop_signal).is_ok_and(|s| s == sig)
}

/// After `sig` went to a paused container's init: thaw it when the
/// signal is one that ends it ([`unpauses`]), so that a frozen v1 task
/// can die of it, and record it running; a container no longer paused
/// (it ended meanwhile) is left alone.
pub fn thaw_after_signal(root: &Root, c: &Container, sig: i32) -> Result<()> {
    if !unpauses(&c.config.stop_signal, sig) {
        return Ok(());
    }
    let Some(_lock) = state::lock_if_exists(root, &c.id)? else {
        return Ok(());
    };
    let Some(mut rec) = state::load(root, &c.id)? else {
        return Ok(());
    };
    if rec.state.status != Status::Paused {
        return Ok(());
    }
    let g = group(root, &rec)?;
    if g.exists() {
        g.resume()?;
    }
    rec.state.status = Status::Running;
    state::save(root, &rec)
}

fn reload(root: &Root, c: &Container) -> Result<Container> {
    state::load(root, &c.id)?.ok_or_else(|| anyhow::anyhow!("No such container: {}", c.id))
}

fn group(root: &Root, c: &Container) -> Result<Group> {
    Group::open(root, &c.cgroup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(status: Status) -> Container {
        let mut c = Container {
            id: "a".repeat(64),
            ..Container::default()
        };
        c.state.status = status;
        c
    }

    #[test]
    fn dockers_refusals() {
        let id = "a".repeat(64);
        assert!(check_pause(&with(Status::Running)).is_ok());
        assert_eq!(
            check_pause(&with(Status::Paused)).unwrap_err().to_string(),
            format!("Container {id} is already paused")
        );
        for s in [Status::Exited, Status::Created] {
            assert_eq!(
                check_pause(&with(s)).unwrap_err().to_string(),
                format!("Container {id} is not running")
            );
        }
        assert!(check_unpause(&with(Status::Paused)).is_ok());
        assert!(check_start(&with(Status::Running)).is_ok());
        assert_eq!(
            check_start(&with(Status::Paused)).unwrap_err().to_string(),
            "cannot start a paused container, try unpause instead"
        );
        for s in [Status::Running, Status::Exited] {
            assert_eq!(
                check_unpause(&with(s)).unwrap_err().to_string(),
                format!("Container {id} is not paused")
            );
        }
    }

    #[test]
    fn which_signals_unpause_as_dockers_kill() {
        assert!(unpauses("", libc::SIGKILL));
        assert!(unpauses("", libc::SIGHUP));
        assert!(unpauses("SIGQUIT", libc::SIGKILL));
        assert!(unpauses("SIGQUIT", libc::SIGQUIT));
        assert!(unpauses("QUIT", libc::SIGQUIT));
        assert!(!unpauses("SIGQUIT", libc::SIGTERM));
    }
}
