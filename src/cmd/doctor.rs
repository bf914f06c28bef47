//! `glassbox doctor`: preflight checks for a lab machine.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the checks as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn execute(_ctx: &Ctx, _args: &Args) -> Result<ExitCode> {
    anyhow::bail!("doctor: being written")
}
