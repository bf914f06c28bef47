//! `exec [OPTIONS] CONTAINER COMMAND [ARG...]` (Docker's flags): the
//! arguments, and Docker's messages and exit codes; the work is
//! `container::exec`'s.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};

use super::super::Ctx;
use crate::container::exec::{self, Outcome, Request};

#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables (KEY=VALUE, or KEY to take it from here)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY (from the container's own devpts)
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>]), looked up in the container
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Not yet in glassbox: the security walls come with the security work
    #[arg(long, hide = true)]
    pub privileged: bool,
    /// The running container (name, id or unique id prefix)
    pub container: String,
    /// The command and its arguments
    #[arg(
        required = true,
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

fn host_env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub fn execute(ctx: &Ctx, a: &ExecArgs) -> Result<ExitCode> {
    if a.privileged {
        bail!(
            "--privileged is not supported yet: glassbox keeps Docker's default walls for every exec"
        );
    }
    let req = Request {
        container: a.container.clone(),
        argv: a.command.clone(),
        detach: a.detach,
        interactive: a.interactive,
        tty: a.tty,
        env: crate::container::env::from_args(&a.env_file, &a.env, host_env)?,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
    };
    match exec::exec(&ctx.root, &req) {
        Ok(Outcome::Exited(n)) => Ok(ExitCode::from(n.clamp(0, 255) as u8)),
        Ok(Outcome::Detached | Outcome::Planned) => Ok(ExitCode::SUCCESS),
        Err(e) => match exec::docker_failure(&e) {
            Some((code, message)) => {
                eprintln!("{message}");
                Ok(ExitCode::from(code))
            }
            None => Err(e),
        },
    }
}
