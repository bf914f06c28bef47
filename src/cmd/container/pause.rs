//! `pause`, `unpause` and `update`: each takes several containers, does
//! what it can, echoes each name as it was typed, and reports the
//! failures as Docker does (`Error response from daemon: ...`, exit
//! status 1). The work is in `container::pause` and `container::update`.

use std::process::ExitCode;

use anyhow::Result;

use super::{Ctx, NamesArgs, each};
use crate::container::{pause, update};

/// `update`'s flags (Docker's, for the limits glassbox enforces).
#[derive(Debug, Clone, clap::Args)]
pub struct UpdateArgs {
    /// Memory limit (e.g. 200m)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short, long, allow_negative_numbers = true)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// The containers to update
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

impl UpdateArgs {
    fn request(&self) -> update::Request {
        update::Request {
            memory: self.memory.clone(),
            memory_swap: self.memory_swap.clone(),
            memory_reservation: self.memory_reservation.clone(),
            cpu_shares: self.cpu_shares,
            cpus: self.cpus.clone(),
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit,
        }
    }
}

pub fn pause(ctx: &Ctx, a: &NamesArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |given, c| {
        pause::pause(&ctx.root, c)?;
        println!("{given}");
        Ok(())
    }))
}

pub fn unpause(ctx: &Ctx, a: &NamesArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |given, c| {
        pause::unpause(&ctx.root, c)?;
        println!("{given}");
        Ok(())
    }))
}

/// `update`: a value that cannot be read is the command line's error
/// (exit 125, no container touched); the rest is each container's.
pub fn update(ctx: &Ctx, a: &UpdateArgs) -> Result<ExitCode> {
    let req = a.request();
    if req.is_empty() {
        eprintln!("you must provide one or more flags when using this command");
        return Ok(ExitCode::from(1));
    }
    req.check()?;
    Ok(each(ctx, &a.containers, |given, c| {
        for w in update::update(&ctx.root, c, &req)? {
            crate::trace::warn(w);
        }
        println!("{given}");
        Ok(())
    }))
}
