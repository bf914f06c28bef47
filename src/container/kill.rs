//! Signals to a container: `kill [-s SIG]`, and `stop` (the image's
//! `StopSignal` or SIGTERM, then SIGKILL after the grace period). A signal
//! goes through the shim, which holds the init's pidfd (no pid reuse
//! race); when the shim is gone, the cgroup is emptied. A paused
//! container is thawed right after the signal that ends it
//! ([`super::pause::thaw_after_signal`]). Read `signal(7)`,
//! `pidfd_send_signal(2)`.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::client::Conn;
use super::protocol::Request;
use super::state::Container;
use super::{pause, settle, shim};
use crate::state::Root;

/// A signal by name or number (`KILL`, `SIGTERM`, `9`), as Docker reads it.
pub fn parse_signal(s: &str) -> Result<i32> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("Invalid signal: {s}");
    }
    let name = t.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    match format!("SIG{name}").parse::<nix::sys::signal::Signal>() {
        Ok(sig) => Ok(sig as i32),
        Err(_) => bail!("Invalid signal: {s}"),
    }
}

/// Send `sig` to the container's init.
pub fn signal(root: &Root, c: &Container, sig: i32) -> Result<()> {
    let c = settle::settle(root, c)?;
    if !shim::runs(c.state.status) {
        bail!("container {} is not running", c.id);
    }
    // Recorded first: the shim's `die` must come after it in the log.
    killed(root, &c, sig);
    Conn::once(root, &c.id, &Request::Signal { signal: sig })?;
    // A frozen v1 task would not even die of SIGKILL: thaw (as Docker).
    pause::thaw_after_signal(root, &c, sig)
}

/// The `kill` event: Docker's, with the signal's number.
fn killed(root: &Root, c: &Container, sig: i32) {
    crate::events::record(
        root,
        crate::events::Event::container(c, "kill").attr("signal", sig),
    );
}

/// SIGKILL, now: through the shim, and through the cgroup if the shim
/// cannot be reached.
pub fn kill_now(root: &Root, c: &Container) -> Result<()> {
    killed(root, c, libc::SIGKILL);
    if Conn::once(
        root,
        &c.id,
        &Request::Signal {
            signal: libc::SIGKILL,
        },
    )
    .is_err()
    {
        let _ = super::cgroup::remove(root, c);
        return Ok(());
    }
    pause::thaw_after_signal(root, c, libc::SIGKILL)
}

/// `stop -t SECONDS`: the stop signal, then SIGKILL once the grace period
/// is over. Returns once the container has exited.
pub fn stop(root: &Root, c: &Container, grace: Duration) -> Result<()> {
    let c = settle::settle(root, c)?;
    if !shim::runs(c.state.status) {
        return Ok(());
    }
    let sig = if c.config.stop_signal.is_empty() {
        libc::SIGTERM
    } else {
        parse_signal(&c.config.stop_signal)?
    };
    killed(root, &c, sig);
    if Conn::once(root, &c.id, &Request::Signal { signal: sig }).is_ok() {
        pause::thaw_after_signal(root, &c, sig)?;
    }
    let deadline = Instant::now() + grace;
    while shim::alive(root, &c.id) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if shim::alive(root, &c.id) {
        kill_now(root, &c)?;
    }
    settle::wait_stopped(root, &c.id)?;
    crate::events::container(root, &c, "stop");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("sigquit").unwrap(), 3);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
