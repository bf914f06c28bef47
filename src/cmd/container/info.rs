//! `logs`, `inspect`, `top`, `stats`: what a container wrote, is, runs
//! and uses, printed as the Docker CLI prints it.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Result, bail};

use super::Ctx;
use crate::container::{self, inspect as cinspect, settle, shim, state, stats, stats_screen, top};

#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// Follow log output (until the container exits)
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a time (2013-01-02T13:23:37Z) or a duration back (42m)
    #[arg(long, allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Show logs before a time (2013-01-02T13:23:37Z) or a duration back (42m)
    #[arg(long, allow_hyphen_values = true)]
    pub until: Option<String>,
    /// The container whose logs to show
    pub container: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// Format output using a Go template ('json' for JSON on one line)
    #[arg(short, long)]
    pub format: Option<String>,
    /// The containers (or images) to inspect
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TopArgs {
    /// The container whose processes to show
    pub container: String,
    /// ps options (not in glassbox: it reads /proc itself and shows ps -ef's columns)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub ps_options: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a Go template ('table TEMPLATE', or 'json')
    #[arg(long)]
    pub format: Option<String>,
    /// The containers (default: the running ones)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn logs(ctx: &Ctx, a: &LogsArgs) -> Result<ExitCode> {
    // The Docker CLI's own error, before it asks the daemon anything.
    let (since, until) = match container::logs::times(a.since.as_deref(), a.until.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    let c = state::find(&ctx.root, &a.container)?;
    let tail = match a.tail.as_str() {
        "all" => None,
        n => match n.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => bail!("invalid value {n:?} for --tail: give a number of lines, or all"),
        },
    };
    let opts = container::logs::Options {
        follow: a.follow,
        tail,
        timestamps: a.timestamps,
        since,
        until,
    };
    container::logs::print(
        &ctx.root,
        &c,
        opts,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// What `inspect` shows beyond a record: the networks' ids, the pinned
/// network namespace of a running container.
fn context(ctx: &Ctx, c: &state::Container) -> Result<cinspect::Context> {
    let network_ids = crate::net::store::all(&ctx.root)?
        .into_iter()
        .map(|n| (n.name, n.id))
        .collect();
    let pin = container::start::netns_pin(&ctx.root, &c.id);
    let sandbox_key = (shim::runs(c.state.status) && pin.exists()).then_some(pin);
    Ok(cinspect::Context {
        network_ids,
        sandbox_key,
    })
}

pub fn inspect(ctx: &Ctx, a: &InspectArgs) -> Result<ExitCode> {
    let mut out: Vec<cinspect::Node> = Vec::new();
    let mut missing = Vec::new();
    for n in &a.names {
        match state::find(&ctx.root, n) {
            Ok(c) => {
                let c = settle::settle(&ctx.root, &c)?;
                out.push(cinspect::inspect(&c, &context(ctx, &c)?).into());
            }
            Err(_) => match crate::image::inspect_value(&ctx.root, n) {
                Ok(v) => out.push(v.into()),
                // Docker's inspect finds volumes too.
                Err(_) => match crate::volume::get(&ctx.root, n) {
                    Ok(v) => out.push(crate::volume::inspect_value(&v).into()),
                    Err(_) => missing.push(n),
                },
            },
        }
    }
    match &a.format {
        Some(f) => {
            let values: Vec<serde_json::Value> = out
                .iter()
                .map(|n| serde_json::to_value(n).unwrap_or_default())
                .collect();
            match crate::template::each_line(f, &values) {
                Ok(text) => print!("{text}"),
                Err(e) => {
                    eprintln!("{e:#}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        None => println!("{}", cinspect::to_text(&out)),
    }
    for n in &missing {
        eprintln!("Error: No such object: {n}");
    }
    Ok(if !missing.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn top(ctx: &Ctx, a: &TopArgs) -> Result<ExitCode> {
    if !a.ps_options.is_empty() {
        bail!(
            "glassbox top takes no ps options ({}): it reads /proc itself and shows the columns of ps -ef",
            a.ps_options.join(" ")
        );
    }
    let c = settle::settle(&ctx.root, &state::find(&ctx.root, &a.container)?)?;
    print!("{}", top::table(&top::processes(&ctx.root, &c)?));
    Ok(ExitCode::SUCCESS)
}

/// `stats`: a table of what each container uses, redrawn every second
/// (once with `--no-stream`).
pub fn stats(ctx: &Ctx, a: &StatsArgs) -> Result<ExitCode> {
    let format = match &a.format {
        Some(f) if f != "table" => f.clone(),
        _ => stats::DEFAULT_FORMAT.to_string(),
    };
    let named = a
        .containers
        .iter()
        .map(|n| settle::settle(&ctx.root, &state::find(&ctx.root, n)?))
        .collect::<Result<Vec<_>>>()?;
    let w = stats_screen::Watch {
        names: a.containers.clone(),
        all: a.all,
        no_trunc: a.no_trunc,
        format,
        stream: !a.no_stream,
        terminal: std::io::stdout().is_terminal(),
    };
    let status = stats_screen::watch(&ctx.root, &w, &named, &mut std::io::stdout())?;
    Ok(ExitCode::from(status.clamp(0, 255) as u8))
}
