//! `glassbox doctor`: preflight checks for a lab machine. The checks live
//! in [`crate::doctor`]; this file only prints them and picks the exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::doctor::{self, report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the checks as a JSON array of {check, status, detail, hint}
    #[arg(long)]
    pub json: bool,
}

/// Exit 1 when a check failed (containers would not work), else 0.
pub fn execute(ctx: &Ctx, args: &Args) -> Result<ExitCode> {
    let checks = doctor::run_all(&ctx.root);
    // The report goes to stdout: plain when stdout is not a terminal.
    if !std::io::stdout().is_terminal() {
        colored::control::set_override(false);
    }
    if args.json {
        println!("{}", report::json(&checks));
    } else {
        print!("{}", report::render(&checks));
    }
    Ok(if doctor::any_failed(&checks) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
