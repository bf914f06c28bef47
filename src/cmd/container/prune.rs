//! `container prune`, and the confirmation Docker asks before it prunes
//! (`system prune` asks it too).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::Ctx;
use crate::container::{self, human};

#[derive(Debug, Clone, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

/// Docker's question: the warning and `Are you sure you want to continue?
/// [y/N] ` on stdout, one line read from stdin; only `y` (or `Y`) goes on.
/// Without a terminal the line is read all the same (`echo y | ...`); an
/// empty stdin is a no, as in Docker: nothing is done, and the command
/// still succeeds.
pub fn confirm(warning: &str) -> Result<bool> {
    let mut out = std::io::stdout();
    write!(out, "{warning}\nAre you sure you want to continue? [y/N] ")
        .and_then(|()| out.flush())
        .context("write the question to stdout")?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("read the answer from stdin")?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

/// Whether to go on: `-f`, a plan (`--dry-run` changes nothing), or yes.
pub fn go_on(force: bool, warning: &str) -> Result<bool> {
    if force || crate::trace::dry_run() {
        return Ok(true);
    }
    confirm(warning)
}

/// Docker's list of what went: `Deleted Containers:`, the ids, a blank line.
pub fn print_deleted(p: &container::prune::Pruned) {
    if p.removed.is_empty() {
        return;
    }
    println!("Deleted Containers:");
    for id in &p.removed {
        println!("{id}");
    }
    println!();
}

pub fn prune(ctx: &Ctx, a: &PruneArgs) -> Result<ExitCode> {
    if !go_on(a.force, "WARNING! This will remove all stopped containers.")? {
        return Ok(ExitCode::SUCCESS);
    }
    let p = container::prune::stopped(&ctx.root)?;
    print_deleted(&p);
    println!(
        "Total reclaimed space: {}",
        human::human_size(p.reclaimed, 4)
    );
    for e in &p.errors {
        eprintln!("Error response from daemon: {e}");
    }
    Ok(if p.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
