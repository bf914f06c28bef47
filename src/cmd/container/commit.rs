//! `diff` and `commit`: a container's filesystem changes listed as
//! `docker diff` lists them, and a new image made from them as
//! `docker commit` makes one (its id printed, `sha256:...`). Errors are
//! the Docker CLI's: a bad reference is the client's own
//! (`invalid reference format`, exit 1), the rest the daemon's
//! (`Error response from daemon: ...`, exit 1). The work is in
//! `container::changes` and `container::commit`.

use std::process::ExitCode;

use anyhow::Result;

use super::{Ctx, as_docker, daemon_error};
use crate::container::{changes, commit, settle, state};

#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// The container
    pub container: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long, default_value = "")]
    pub author: String,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "CHANGE")]
    pub changes: Vec<String>,
    /// Commit message
    #[arg(short, long, default_value = "")]
    pub message: String,
    /// Pause container during commit (default true; --pause=false not to)
    #[arg(
        short,
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub pause: bool,
    /// Disable pausing container during commit
    #[arg(long)]
    pub no_pause: bool,
    /// The container
    pub container: String,
    /// The new image's name: REPOSITORY[:TAG]
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `diff CONTAINER`: one `A|C|D /path` line per change.
pub fn diff(ctx: &Ctx, a: &DiffArgs) -> Result<ExitCode> {
    as_docker((|| {
        let c = state::find(&ctx.root, &a.container)?;
        for ch in changes::changes(&c)? {
            println!("{}", changes::line(&ch));
        }
        Ok(ExitCode::SUCCESS)
    })())
}

/// `commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`: the new image's id.
pub fn commit(ctx: &Ctx, a: &CommitArgs) -> Result<ExitCode> {
    // The Docker client checks the reference before it asks the daemon.
    if let Err(e) = commit::check_reference(a.reference.as_deref()) {
        eprintln!("{e:#}");
        return Ok(ExitCode::from(1));
    }
    let c = match state::find(&ctx.root, &a.container) {
        Ok(c) => c,
        Err(e) => {
            daemon_error(&e);
            return Ok(ExitCode::from(1));
        }
    };
    let opts = commit::Options {
        reference: a.reference.clone(),
        author: a.author.clone(),
        message: a.message.clone(),
        changes: a.changes.clone(),
        pause: a.pause && !a.no_pause,
    };
    as_docker((|| {
        let c = settle::settle(&ctx.root, &c)?;
        if let Some(id) = commit::commit(&ctx.root, &c, &opts)?.value() {
            println!("{id}");
        }
        Ok(ExitCode::SUCCESS)
    })())
}
