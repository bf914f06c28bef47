//! `glassbox events` (and `system events`): what happened to containers
//! and networks, from the events log every command and shim appends to
//! (see `src/events/`). Live by default (new events as they come, until
//! interrupted); `--since` replays from a time and goes on live;
//! `--until` stops at a time (at once when it is past). Docker's
//! `--filter`, `--format` and exit codes.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::events::filter::{Filter, FormatError};
use crate::events::log::Follower;
use crate::events::text::Format;
use crate::events::{self, Event};

/// How often the log is looked at while following it.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Filter output based on conditions provided (container=, event=,
    /// type=, image=, network=, label=)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'json', or a Go template
    /// ({{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}})
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp (RFC 3339, Unix time, or a
    /// duration like 10m)
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
}

/// Docker's exit status for a `--format` that does not parse.
const EXIT_BAD_FORMAT: u8 = 64;

pub fn execute(ctx: &Ctx, a: &Args) -> Result<ExitCode> {
    let format = match Format::parse(a.format.as_deref().unwrap_or_default()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("Error parsing format: {e:#}");
            return Ok(ExitCode::from(EXIT_BAD_FORMAT));
        }
    };
    let filter = match Filter::parse(&a.filter) {
        Ok(f) => f,
        Err(e) if e.downcast_ref::<FormatError>().is_some() => {
            eprintln!("{e}\nSee 'glassbox events --help'.");
            return Ok(ExitCode::from(125));
        }
        Err(e) => return Ok(failed(&format!("Error response from daemon: {e:#}"))),
    };
    let time = |v: &Option<String>| -> Result<Option<i128>> {
        v.as_deref().map(crate::container::since::parse).transpose()
    };
    let (since, until) = match (time(&a.since), time(&a.until)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return Ok(failed(&format!("{e:#}"))),
    };
    if let (Some(s), Some(u)) = (since, until)
        && u < s
    {
        return Ok(failed(&format!(
            "Error response from daemon: `since` time ({}) cannot be after `until` time ({})",
            a.since.as_deref().unwrap_or_default(),
            a.until.as_deref().unwrap_or_default()
        )));
    }
    let show = |e: &Event| -> Result<bool> {
        if since.is_some_and(|s| e.nanos() < s) || until.is_some_and(|u| e.nanos() > u) {
            return Ok(true);
        }
        if !filter.matches(e) {
            return Ok(true);
        }
        let mut out = std::io::stdout().lock();
        // A closed stdout (`events | head`) ends the command.
        Ok(writeln!(out, "{}", format.render(e)?).is_ok() && out.flush().is_ok())
    };
    let mut follower = if since.is_some() || until.is_some() {
        let (past, f) = Follower::replay(&ctx.root)?;
        for e in &past {
            if !show(e)? {
                return Ok(ExitCode::SUCCESS);
            }
        }
        f
    } else {
        Follower::at_end(&ctx.root)
    };
    loop {
        if until.is_some_and(|u| events::now_nanos() > u) {
            // What was written up to the end is shown, then the end.
            for e in follower.next_events()? {
                show(&e)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        for e in follower.next_events()? {
            if !show(&e)? {
                return Ok(ExitCode::SUCCESS);
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Docker's report of a failed `events`: the message, exit status 1.
fn failed(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(1)
}
