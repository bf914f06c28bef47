//! `start`, `stop`, `restart`, `kill`, `rm`, `wait`: each takes several
//! containers, does what it can, echoes each name as it was typed, and
//! reports the failures as Docker does (exit status 1).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Ctx, as_docker, code, each, trace_args};
use crate::container::{self, attach, launch, settle};

#[derive(Debug, Clone, clap::Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// The containers to start
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short, long, default_value_t = 10)]
    pub time: u64,
    /// The containers to stop
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container
    #[arg(short, long, default_value_t = 10)]
    pub time: u64,
    /// The containers to restart
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// The containers to kill
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// The containers to remove
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct NamesArgs {
    /// The containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn start(ctx: &Ctx, a: &StartArgs) -> Result<ExitCode> {
    let keys = match super::attach::keys(a.detach_keys.as_deref()) {
        Ok(k) => k,
        Err(code) => return Ok(code),
    };
    if a.attach || a.interactive {
        let [one] = a.containers.as_slice() else {
            eprintln!("you cannot start and attach multiple containers at once");
            return Ok(ExitCode::from(1));
        };
        let run = || -> Result<i32> {
            let c = crate::container::state::find(&ctx.root, one)?;
            let o = attach::Options {
                stdin: a.interactive,
                tty: c.config.tty,
                // As Docker's `start -a`: with a terminal, no proxy.
                sig_proxy: !c.config.tty,
                detach_keys: Some(keys.clone()),
                close_stdin: true,
            };
            launch::start_or_attach(&ctx.root, &c, o, &trace_args(ctx))
        };
        return as_docker(run().map(code));
    }
    Ok(each(ctx, &a.containers, |given, c| {
        let c = settle::settle(&ctx.root, c)?;
        container::pause::check_start(&c)?;
        if !container::shim::runs(c.state.status) {
            launch::start(&ctx.root, &c, None, &trace_args(ctx))?;
        }
        println!("{given}");
        Ok(())
    }))
}

pub fn stop(ctx: &Ctx, a: &StopArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |given, c| {
        container::kill::stop(&ctx.root, c, Duration::from_secs(a.time))?;
        println!("{given}");
        Ok(())
    }))
}

/// `restart`: stop (as `stop -t` does), then start again on the same
/// writable layer.
pub fn restart(ctx: &Ctx, a: &RestartArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |given, c| {
        container::kill::stop(&ctx.root, c, Duration::from_secs(a.time))?;
        let Some(c) = crate::container::state::load(&ctx.root, &c.id)? else {
            bail!("No such container: {given} (it was removed when it stopped: --rm)");
        };
        launch::start(&ctx.root, &c, None, &trace_args(ctx))?;
        crate::events::container(&ctx.root, &c, "restart");
        println!("{given}");
        Ok(())
    }))
}

pub fn kill(ctx: &Ctx, a: &KillArgs) -> Result<ExitCode> {
    let sig = container::kill::parse_signal(&a.signal)?;
    Ok(each(ctx, &a.containers, |given, c| {
        container::kill::signal(&ctx.root, c, sig)
            .map_err(|e| anyhow::anyhow!("Cannot kill container: {given}: {}", capitalized(&e)))?;
        println!("{given}");
        Ok(())
    }))
}

/// Docker's messages here start with a capital (`Container ... is not
/// running`).
fn capitalized(e: &anyhow::Error) -> String {
    let s = format!("{e:#}");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

pub fn rm(ctx: &Ctx, a: &RmArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |given, c| {
        container::delete::rm(&ctx.root, c, a.force)?;
        if a.volumes {
            container::delete::remove_volumes(&ctx.root, &c.mounts)?;
        }
        println!("{given}");
        Ok(())
    }))
}

/// `wait`: each container's exit code once it has stopped (at once for
/// one that does not run).
pub fn wait(ctx: &Ctx, a: &NamesArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |_, c| {
        println!("{}", launch::wait(&ctx.root, c)?);
        Ok(())
    }))
}
