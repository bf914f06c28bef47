//! `start` (and the start half of `run`) from the CLI: a shim for the
//! container, attached or not, the start request, and the answer: the
//! init runs (`run -d` returns only then), or it could not be started
//! (Docker's 126 or 127, the container left `Created`). Attached, the
//! session lasts until the container exits, whose code it returns.

use anyhow::{Result, bail};

use super::attach::{self, Options};
use super::client::{self, Conn, TraceArgs};
use super::protocol::{Event, Request};
use super::state::Container;
use super::{settle, shim};
use crate::state::Root;

/// A start that failed with Docker's exit code.
#[derive(Debug)]
pub struct StartError {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StartError {}

/// Start `c`; attached (`Some(options)`), follow it to its end and return
/// its exit code; detached, return once it runs.
pub fn start(
    root: &Root,
    c: &Container,
    attached: Option<Options>,
    trace: &TraceArgs,
) -> Result<Option<i32>> {
    let c = settle::settle(root, c)?;
    if shim::runs(c.state.status) {
        bail!("container {} is already running", c.name);
    }
    client::spawn_shim(root, &c.id, trace)?;
    let mut conn = Conn::connect(root, &c.id)?;
    if let Some(o) = attached {
        conn.request(&Request::Attach { stdin: o.stdin })?;
    }
    let (rows, cols) = if c.config.tty {
        attach::terminal_size()
    } else {
        (0, 0)
    };
    conn.request(&Request::Start { rows, cols })?;
    match conn.next_event()? {
        Some(Event::Started { .. }) => {}
        Some(Event::StartFailed { code, message }) => {
            return Err(StartError { code, message }.into());
        }
        Some(Event::Error { message }) => bail!("{message}"),
        None => bail!(
            "the shim of container {} died before the container started: `glassbox doctor` names what it left; start it again, or remove it with `glassbox rm -f {}`",
            c.name,
            c.name
        ),
        other => bail!("the shim of {} answered {other:?} to start", c.name),
    }
    match attached {
        Some(o) => Ok(Some(attach::session(conn, o)?)),
        None => Ok(None),
    }
}

/// The exit code a failed start gives the command (`run`: 125, 126, 127).
pub fn exit_code_of(e: &anyhow::Error) -> Option<i32> {
    e.chain()
        .find_map(|x| x.downcast_ref::<StartError>())
        .map(|s| s.code)
}
