//! `glassbox system prune`: remove host resources that no glassbox object
//! owns any more (half-made ones from a crash, ones whose container or
//! network is gone), and with `--all` the ones made by hand too; repair
//! the state a crash left. Only what this root recorded: never the root
//! itself, and never an object that merely carries this root's names.

use anyhow::{Result, bail};

use super::Ctx;
use crate::state::recover;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Remove leftover mounts, cgroups, links and rules
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Also remove what was made by hand (cgroup create, unionfs mount, ...)
    #[arg(short, long)]
    pub all: bool,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<()> {
    match cmd {
        Command::Prune(args) => prune(ctx, args),
    }
}

fn prune(ctx: &Ctx, args: &PruneArgs) -> Result<()> {
    ctx.root.ensure()?;
    let recover::Pruned { removed, errors } = recover::prune(&ctx.root, args.all)?;
    for r in &removed {
        println!("removed {} {} ({})", r.kind, r.id, r.reason);
    }
    if removed.is_empty() && errors.is_empty() {
        println!("nothing to prune");
    }
    if !errors.is_empty() {
        bail!("could not remove:\n  {}", errors.join("\n  "));
    }
    Ok(())
}
