//! `glassbox volume`: Docker's `volume create`, `ls`, `inspect`, `rm` and
//! `prune`, their flags, output and errors (`Error response from daemon:
//! ...`, exit status 1). The work is in `src/volume/`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, bail};

use super::Ctx;
use super::container::{as_docker, daemon_error};
use crate::volume::{self, Volume};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Set driver specific options (not in glassbox: its volumes are plain directories)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// The volume's name (default: 64 random hex digits, an anonymous volume)
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (name=, dangling=, label=)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    /// The volumes
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format output using a Go template ('json' for JSON on one line)
    #[arg(short, long)]
    pub format: Option<String>,
    /// The volumes
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes (a missing one is no error)
    #[arg(short, long)]
    pub force: bool,
    /// The volumes
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<ExitCode> {
    match cmd {
        Command::Create(a) => as_docker(create(ctx, a)),
        Command::Ls(a) => as_docker(ls(ctx, a)),
        Command::Inspect(a) => inspect(ctx, a),
        Command::Rm(a) => Ok(rm(ctx, a)),
        Command::Prune(a) => as_docker(prune(ctx, a)),
    }
}

fn create(ctx: &Ctx, a: &CreateArgs) -> Result<ExitCode> {
    if a.driver != "local" {
        bail!(
            "create {}: volume driver {} is not supported: glassbox has the local driver only",
            a.name.as_deref().unwrap_or(""),
            a.driver
        );
    }
    if let Some(o) = a.opt.first() {
        bail!(
            "create: option {o} is not supported: glassbox volumes are plain directories (no type=, device=, o=)"
        );
    }
    for l in &a.label {
        crate::container::config::check_label(l)?;
    }
    let labels = crate::container::config::labels(&a.label);
    let v = volume::create(&ctx.root, a.name.as_deref(), &labels)?;
    println!("{}", v.name);
    Ok(ExitCode::SUCCESS)
}

/// Does `v` pass every `-f` filter (Docker's: several values of one key
/// are or'ed)?
fn filtered(ctx: &Ctx, filters: &[String]) -> Result<Vec<Volume>> {
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in filters {
        let Some((k, v)) = f.split_once('=') else {
            bail!("bad format of filter (expected name=value)");
        };
        if !matches!(k, "name" | "dangling" | "label" | "driver") {
            bail!("invalid filter '{k}'");
        }
        if k == "dangling" && !matches!(v, "true" | "false" | "1" | "0") {
            bail!("invalid filter 'dangling={v}'");
        }
        by_key.entry(k).or_default().push(v);
    }
    let mut out = Vec::new();
    for v in volume::list(&ctx.root)? {
        let dangling = volume::users(&ctx.root, &v.name)?.is_empty();
        let keep = by_key.iter().all(|(k, vals)| {
            vals.iter().any(|want| match *k {
                "name" => v.name.contains(want),
                "driver" => *want == "local",
                "dangling" => dangling == matches!(*want, "true" | "1"),
                _ => match want.split_once('=') {
                    Some((lk, lv)) => v.labels.get(lk).is_some_and(|x| x == lv),
                    None => v.labels.contains_key(*want),
                },
            })
        });
        if keep {
            out.push(v);
        }
    }
    Ok(out)
}

fn ls(ctx: &Ctx, a: &LsArgs) -> Result<ExitCode> {
    let vols = filtered(ctx, &a.filter)?;
    if a.quiet {
        for v in vols {
            println!("{}", v.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Docker's table: tabwriter cells of at least 10, padded by 3.
    println!("{:<10}VOLUME NAME", "DRIVER");
    for v in vols {
        println!("{:<10}{}", "local", v.name);
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(ctx: &Ctx, a: &InspectArgs) -> Result<ExitCode> {
    let mut out = Vec::new();
    let mut failed = false;
    for n in &a.names {
        match volume::get(&ctx.root, n) {
            Ok(v) => out.push(volume::inspect_value(&v)),
            Err(e) => {
                daemon_error(&e);
                failed = true;
            }
        }
    }
    match &a.format {
        // Docker's --format: the template once per volume, a line each.
        Some(f) => match crate::template::each_line(f, &out) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("{e:#}");
                return Ok(ExitCode::from(1));
            }
        },
        None => {
            let nodes: Vec<_> = out.into_iter().map(Into::into).collect();
            println!("{}", crate::container::inspect::to_text(&nodes));
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rm(ctx: &Ctx, a: &RmArgs) -> ExitCode {
    let mut failed = false;
    for n in &a.names {
        match volume::remove(&ctx.root, n, a.force) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                daemon_error(&e);
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn prune(ctx: &Ctx, a: &PruneArgs) -> Result<ExitCode> {
    let warning = if a.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !super::container::prune::go_on(a.force, warning)? {
        return Ok(ExitCode::SUCCESS);
    }
    let p = volume::prune(&ctx.root, a.all)?;
    if !p.removed.is_empty() {
        println!("Deleted Volumes:");
        for n in &p.removed {
            println!("{n}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::container::human::human_size(p.reclaimed, 4)
    );
    Ok(ExitCode::SUCCESS)
}
