//! `start` (and the start half of `run`) from the CLI: a shim for the
//! container, attached or not, the start request, and the answer: the
//! init runs (`run -d` returns only then), or it could not be started
//! (Docker's 126 or 127, the container left `Created`). Attached, the
//! session lasts until the container exits, whose code it returns. The
//! command is attached before the start request is sent, so no output and
//! no exit can happen before it listens; and should the shim go away
//! without saying how the container ended, the code is read from the
//! record the shim wrote first (teardown writes the exit before anything
//! else).

use anyhow::{Result, bail};

use super::attach::{self, Ended, Options};
use super::client::{self, Conn, TraceArgs};
use super::protocol::{Event, Request};
use super::state::{self, Container};
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
    let mut c = settle::settle(root, c)?;
    if shim::runs(c.state.status) {
        bail!("container {} is already running", c.name);
    }
    if shim::alive(root, &c.id) {
        // The last run's shim is still releasing what it made.
        c = settle::wait_stopped(root, &c.id)?
            .ok_or_else(|| anyhow::anyhow!("No such container: {}", c.name))?;
    }
    let relay = client::spawn_shim(root, &c.id, trace)?;
    let mut conn = Conn::connect(root, &c.id)?;
    if let Some(o) = &attached {
        conn.request(&Request::Attach { stdin: o.stdin })?;
    }
    let (rows, cols) = if c.config.tty {
        attach::terminal_size()
    } else {
        (0, 0)
    };
    conn.request(&Request::Start { rows, cols })?;
    let answer = conn.next_event();
    if matches!(answer, Ok(None)) {
        relay.reap_dead_shim();
    }
    // The trace of the start is whole before anything else is printed.
    relay.finish();
    match answer? {
        Some(Event::Started { .. }) => {}
        Some(Event::StartFailed { code, message }) => {
            return Err(StartError { code, message }.into());
        }
        Some(Event::Error { message }) => bail!("{message}"),
        None => {
            // The shim went before it answered: what it recorded says why.
            let rec = settle::wait_stopped(root, &c.id)?;
            let why = rec
                .as_ref()
                .map(|r| r.state.error.clone())
                .unwrap_or_default();
            bail!(
                "the shim of container {} died before the container started{}{why} (its log: {}); `glassbox doctor` names what it left: start it again, or remove it with `glassbox rm -f {}`",
                c.name,
                if why.is_empty() { "" } else { ": " },
                shim::log_path(root).display(),
                c.name
            );
        }
        Some(other) => bail!("the shim of {} answered {other:?} to start", c.name),
    }
    match attached {
        Some(o) => Ok(Some(follow(root, &c.id, conn, o)?)),
        None => Ok(None),
    }
}

/// The attached session to its end; the exit code from the shim, or from
/// the record when the shim closed without saying; 0 when the session
/// detached (the container runs on, as Docker's CLI exits).
fn follow(root: &Root, id: &str, conn: Conn, o: Options) -> Result<i32> {
    match attach::session(conn, o)? {
        Ended::Exited(code) => Ok(code),
        Ended::Detached => Ok(0),
        Ended::Closed => exit_code(root, id),
    }
}

/// The exit code recorded for `id` once its shim is gone.
fn exit_code(root: &Root, id: &str) -> Result<i32> {
    match settle::wait_stopped(root, id)? {
        Some(c) if !shim::runs(c.state.status) => Ok(c.state.exit_code),
        Some(c) => bail!("container {} is still running", c.name),
        // Removed (`--rm`) before the code could be read.
        None => bail!("container {id} was removed before its exit code could be read"),
    }
}

/// `start -a`: start `c` attached, or attach to it if it already runs (as
/// Docker does); its exit code.
pub fn start_or_attach(root: &Root, c: &Container, o: Options, trace: &TraceArgs) -> Result<i32> {
    let c = settle::settle(root, c)?;
    if !shim::runs(c.state.status) {
        return start(root, &c, Some(o), trace)
            .map(|code| code.unwrap_or(0))
            .or_else(|e| match exit_code_of(&e) {
                Some(n) => {
                    eprintln!("Error response from daemon: {e:#}");
                    Ok(n)
                }
                None => Err(e),
            });
    }
    let mut conn = Conn::connect(root, &c.id)?;
    conn.request(&Request::Attach { stdin: o.stdin })?;
    follow(root, &c.id, conn, o)
}

/// `attach`: a new session on the running container `c`, to its end (its
/// exit code, or 0 when detached). Docker's refusals for a container that
/// does not run or is paused.
pub fn attach(root: &Root, c: &Container, o: Options) -> Result<i32> {
    let c = settle::settle(root, c)?;
    if c.state.status == state::Status::Paused {
        bail!("You cannot attach to a paused container, unpause it first");
    }
    if !shim::runs(c.state.status) {
        bail!("You cannot attach to a stopped container, start it first");
    }
    let mut conn = Conn::connect(root, &c.id)?;
    conn.request(&Request::Attach { stdin: o.stdin })?;
    follow(root, &c.id, conn, o)
}

/// `wait`: block until `c` has stopped (at once when it does not run); its
/// exit code (0 for a container removed meanwhile, as Docker prints for
/// `--rm`).
pub fn wait(root: &Root, c: &Container) -> Result<i32> {
    let c = settle::settle(root, c)?;
    if !shim::runs(c.state.status) {
        // Exited, though its shim may still be releasing what it made:
        // once `wait` returns, `rm` finds nothing in use.
        if shim::alive(root, &c.id) {
            settle::wait_stopped(root, &c.id)?;
        }
        return Ok(c.state.exit_code);
    }
    if let Ok(mut conn) = Conn::connect(root, &c.id) {
        conn.request(&Request::Wait)?;
        while let Some(ev) = conn.next_event()? {
            if let Event::Exited { code, .. } = ev {
                settle::wait_stopped(root, &c.id)?;
                return Ok(code);
            }
        }
    }
    // The shim is gone (or went without a word): the record says.
    match state::load(root, &c.id)? {
        Some(r) => Ok(settle::settle(root, &r)?.state.exit_code),
        None => Ok(0),
    }
}

/// The exit code a failed start gives the command (`run`: 125, 126, 127).
pub fn exit_code_of(e: &anyhow::Error) -> Option<i32> {
    e.chain()
        .find_map(|x| x.downcast_ref::<StartError>())
        .map(|s| s.code)
}
