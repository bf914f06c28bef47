//! `attach`: this terminal to a running container's output (and input),
//! through its shim, as Docker's `attach`: several may be attached at
//! once; the detach keys (Ctrl-P Ctrl-Q, `--detach-keys`) leave it
//! running; the container's exit code is this command's.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;

use super::{Ctx, code, daemon_error};
use crate::container::{attach, detach_keys, launch, settle, shim, state};

#[derive(Debug, Clone, clap::Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// The running container to attach to
    pub container: String,
}

/// The keys of `--detach-keys`, or Docker's refusal printed as its CLI
/// prints it (exit status 1, nothing done).
pub(crate) fn keys(spec: Option<&str>) -> std::result::Result<Vec<u8>, ExitCode> {
    detach_keys::resolve(spec).map_err(|e| {
        eprintln!("{e:#}");
        ExitCode::from(1)
    })
}

pub fn attach(ctx: &Ctx, a: &AttachArgs) -> Result<ExitCode> {
    let keys = match keys(a.detach_keys.as_deref()) {
        Ok(k) => k,
        Err(code) => return Ok(code),
    };
    let c = match state::find(&ctx.root, &a.container).and_then(|c| settle::settle(&ctx.root, &c)) {
        Ok(c) => c,
        Err(e) => {
            daemon_error(&e);
            return Ok(ExitCode::from(1));
        }
    };
    // Docker's CLI refuses these itself, without the daemon's prefix.
    let refusal = if c.state.status == state::Status::Paused {
        Some("You cannot attach to a paused container, unpause it first")
    } else if !shim::runs(c.state.status) {
        Some("You cannot attach to a stopped container, start it first")
    } else {
        None
    };
    let stdin = !a.no_stdin && c.config.open_stdin;
    let refusal = refusal.or((stdin && c.config.tty && !std::io::stdin().is_terminal())
        .then_some("the input device is not a TTY"));
    if let Some(r) = refusal {
        eprintln!("{r}");
        return Ok(ExitCode::from(1));
    }
    let o = attach::Options {
        stdin,
        tty: c.config.tty,
        // As Docker's `attach`: signals are passed on only without a
        // terminal (with one, Ctrl-C is a byte for the container's).
        sig_proxy: a.sig_proxy && !c.config.tty,
        detach_keys: Some(keys),
        close_stdin: c.config.stdin_once,
    };
    match launch::attach(&ctx.root, &c, o) {
        Ok(n) => Ok(code(n)),
        Err(e) => {
            daemon_error(&e);
            Ok(ExitCode::from(1))
        }
    }
}
