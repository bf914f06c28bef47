//! `ps` / `container ls`: Docker's table, filters and formats.

use std::process::ExitCode;

use anyhow::Result;

use super::Ctx;
use crate::container::{self, list, settle, state};

#[derive(Debug, Clone, clap::Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (status=, name=, id=, exited=, ancestor=, network=, label=)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Format output using a Go template: 'table TEMPLATE' for a table with
    /// a header, 'json' for one JSON object per line
    #[arg(long)]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
}

pub fn ps(ctx: &Ctx, a: &PsArgs) -> Result<ExitCode> {
    let filters = list::Filters::parse(&a.filter)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut all = settle::all(&ctx.root)?;
    all.reverse(); // newest first, as Docker lists them
    let image_matches = |r: &str, c: &state::Container| {
        c.config.image == r || crate::image::resolve_id(&ctx.root, r).is_ok_and(|id| id == c.image)
    };
    // Docker's `-l` is `-n 1`; a limit lists every state.
    let limit = if a.latest && a.last == -1 { 1 } else { a.last };
    let shown: Vec<&state::Container> = all
        .iter()
        .filter(|c| {
            a.all || limit > 0 || filters.wants_all() || container::shim::runs(c.state.status)
        })
        .filter(|c| filters.matches(c, &image_matches))
        .take(if limit > 0 {
            limit as usize
        } else {
            usize::MAX
        })
        .collect();
    if a.quiet && a.format.is_some() {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let with_size = format!("{}\t{{{{.Size}}}}", list::DEFAULT_FORMAT);
    let format = match (&a.format, a.quiet) {
        (_, true) => "{{.ID}}",
        (Some(f), false) if f != "table" => f.as_str(),
        _ if a.size => with_size.as_str(),
        _ => list::DEFAULT_FORMAT,
    };
    let sizes = (a.size || format.contains(".Size")).then(|| list::image_sizes(&ctx.root));
    let rows: Vec<serde_json::Value> = shown
        .iter()
        .map(|c| {
            let mut r = list::row(c, now, a.no_trunc);
            if let Some(images) = &sizes {
                r["Size"] = list::size(c, images).into();
            }
            r
        })
        .collect();
    match crate::template::listing(format, &rows, &list::headers()) {
        Ok(text) => print!("{text}"),
        // Docker prints a template's error as it is.
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
