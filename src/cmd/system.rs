//! `glassbox system prune`: remove the stopped containers, then the host
//! resources that no glassbox object owns any more (half-made ones from a
//! crash, ones whose container or network is gone), and with `--all` the
//! ones made by hand too; repair the state a crash left. Only what this
//! root recorded: never the root itself, and never an object that merely
//! carries this root's names. Asks first, as Docker does, unless `-f`.

use anyhow::{Result, bail};

use super::Ctx;
use super::container::prune::{go_on, print_deleted};
use crate::state::recover;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Remove stopped containers, and leftover mounts, cgroups, links and rules
    Prune(PruneArgs),
    /// Get real time events from containers and networks
    Events(super::events::Args),
    /// Show disk usage: images (and what their shared layers save), containers, volumes
    Df(DfArgs),
}

#[derive(Debug, clap::Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format the summary: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Also remove what was made by hand (cgroup create, unionfs mount,
    /// net ...) and the default network's bridge when no container uses
    /// it. Not Docker's -a, which removes unused images: glassbox's system
    /// prune never removes an image (use `image prune -a`)
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<std::process::ExitCode> {
    match cmd {
        Command::Prune(args) => prune(ctx, args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Events(args) => super::events::execute(ctx, args),
        Command::Df(args) => df(ctx, args).map(|()| std::process::ExitCode::SUCCESS),
    }
}

/// Docker's warning, with what glassbox removes.
fn warning(all: bool) -> String {
    let mut w = String::from(
        "WARNING! This will remove:\n  - all stopped containers\n  - what crashed or interrupted commands left (mounts, cgroups, links, rules)\n  - host resources whose container or network is gone\n",
    );
    if all {
        w.push_str("  - everything made by hand (cgroup create, unionfs mount, net ...)\n  - the default network's bridge, if no container uses it\n");
    }
    w
}

fn prune(ctx: &Ctx, args: &PruneArgs) -> Result<()> {
    if !go_on(args.force, &warning(args.all))? {
        return Ok(());
    }
    ctx.root.ensure()?;
    let containers = crate::container::prune::stopped(&ctx.root)?;
    print_deleted(&containers);
    let recover::Pruned {
        removed,
        mut errors,
    } = recover::prune(&ctx.root, args.all)?;
    for r in &removed {
        println!("removed {} {} ({})", r.kind, r.id, r.reason);
    }
    let mut released = false;
    if args.all {
        match crate::net::network::release_default(&ctx.root) {
            Ok(Some(bridge)) => {
                released = true;
                println!(
                    "removed bridge {bridge} (the default network's, which no container uses; the next run makes it again)"
                );
            }
            Ok(None) => {}
            Err(e) => errors.push(format!("the default network's bridge: {e:#}")),
        }
    }
    errors.extend(containers.errors.iter().cloned());
    if containers.removed.is_empty() && removed.is_empty() && !released && errors.is_empty() {
        println!("nothing to prune");
    }
    if !containers.removed.is_empty() {
        println!(
            "Total reclaimed space: {}",
            crate::container::human::human_size(containers.reclaimed, 4)
        );
    }
    if !errors.is_empty() {
        bail!("could not remove:\n  {}", errors.join("\n  "));
    }
    Ok(())
}

/// `system df [-v]`: Docker's tables, and the space shared layers save.
fn df(ctx: &Ctx, args: &DfArgs) -> Result<()> {
    use crate::container::disk_usage as du;
    if args.verbose && args.format.is_some() {
        bail!("the verbose and the format options conflict");
    }
    let (usage, rows) = du::gather(&ctx.root)?;
    let text = match &args.format {
        Some(f) => crate::template::listing(f, &du::summary_rows(&usage), &du::headers())?,
        None if args.verbose => du::verbose_text(&usage, &rows)?,
        None => du::summary_text(&usage)?,
    };
    print!("{text}");
    Ok(())
}
