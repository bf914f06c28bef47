//! `glassbox ns`: create, inspect and enter namespaces by hand.
//!
//! `ns run` starts a command in new namespaces and shows, per kind, the
//! namespace inode outside and inside; `ns ls` lists the namespaces on the
//! system like `lsns`; `ns show` compares a process with PID 1; `ns enter`
//! joins a running process's (or pinned) namespaces like `nsenter`. The
//! work is done by [`crate::ns`]; this file parses and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

mod kinds;

pub use kinds::{Kinds, NsTypeArg};

use super::Ctx;
use crate::ns::runner::{self, Event};
use crate::ns::{Caller, EnterRequest, EnterTarget, NsType, Outcome, RunRequest, inode, list, pin};
use crate::trace::{self, Mechanism};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run CMD in new namespaces
    Run(RunArgs),
    /// List the namespaces on the system (like lsns)
    Ls(LsArgs),
    /// Show a process's namespaces beside PID 1's (or glassbox's own where PID 1's are hidden)
    Show(ShowArgs),
    /// Run CMD in the namespaces of a running process or a pin (like nsenter)
    Enter(EnterArgs),
    /// Remove pinned namespaces
    Unpin(UnpinArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub kinds: Kinds,
    /// Hostname inside the new UTS namespace (needs --uts)
    #[arg(long, value_name = "H")]
    pub hostname: Option<String>,
    /// Container root: pivot_root into DIR (implies --mnt)
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// With --user: the uid and gid outside that root inside maps to
    /// [default: the caller's]
    #[arg(long, value_name = "ID")]
    pub map_root: Option<u32>,
    /// With --user: how many ids to map
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub map_count: u32,
    /// With --time: seconds added to CLOCK_BOOTTIME inside (/proc/uptime)
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub boottime: i64,
    /// With --time: seconds added to CLOCK_MONOTONIC inside
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub monotonic: i64,
    /// Pin the new namespaces as NAME so they outlive CMD (ns enter --pinned NAME)
    #[arg(long, value_name = "NAME")]
    pub pin: Option<String>,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only namespaces of this type
    #[arg(long = "type", short = 't', value_enum)]
    pub ns_type: Option<NsTypeArg>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The process whose namespaces to show (e.g. $$, your shell)
    pub pid: u32,
}

#[derive(Debug, clap::Args)]
pub struct EnterArgs {
    /// The process whose namespaces to join
    #[arg(long, short = 't', value_name = "PID", conflicts_with = "pinned")]
    pub target: Option<u32>,
    /// Join the namespaces pinned by `ns run --pin NAME`
    #[arg(long, value_name = "NAME")]
    pub pinned: Option<String>,
    #[command(flatten)]
    pub kinds: Kinds,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct UnpinArgs {
    /// The name given to `ns run --pin NAME` (its pins are under <root>/run/ns/NAME)
    pub name: String,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<ExitCode> {
    match cmd {
        Command::Run(a) => run(ctx, a),
        Command::Ls(a) => {
            let rows = list::group(&list::scan_procs(), a.ns_type.map(NsType::from));
            print!("{}", list::render_ls(&rows));
            Ok(ExitCode::SUCCESS)
        }
        Command::Show(a) => {
            let shown = list::show(a.pid)?;
            if let Some(why) = shown.instead_of_pid1() {
                trace::warn(why);
            }
            print!("{}", list::render_show(a.pid, shown.base, &shown.rows));
            Ok(ExitCode::SUCCESS)
        }
        Command::Enter(a) => enter(ctx, a),
        Command::Unpin(a) => {
            let n = pin::unpin(&ctx.root, &a.name)?;
            trace::say(
                Mechanism::Ns,
                format!("unpinned {n} namespaces of {}", a.name),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run(ctx: &Ctx, a: &RunArgs) -> Result<ExitCode> {
    let req = RunRequest {
        types: a.kinds.types(),
        hostname: a.hostname.clone(),
        rootfs: a.rootfs.clone(),
        map_root: a.map_root,
        map_count: a.map_count,
        boottime: a.boottime,
        monotonic: a.monotonic,
        argv: a.cmd.clone(),
    };
    let prepared = req.prepare(&Caller::current())?;
    for note in &prepared.notes {
        trace::say(Mechanism::Ns, note);
    }
    let outcome = runner::run(&ctx.root, prepared, a.pin.as_deref(), &mut |e| match e {
        Event::Inodes(rows) => trace::say(Mechanism::Ns, inode::render_table(&rows)),
        Event::Pinned(p) => trace::say(Mechanism::Ns, format!("pinned {}", p.display())),
    })?;
    Ok(report(&outcome))
}

fn enter(ctx: &Ctx, a: &EnterArgs) -> Result<ExitCode> {
    let req = EnterRequest {
        target: match (a.target, &a.pinned) {
            (Some(pid), _) => Some(EnterTarget::Process(pid)),
            (None, Some(name)) => Some(EnterTarget::Pinned(name.clone())),
            (None, None) => None,
        },
        types: a.kinds.types(),
        all: a.kinds.all,
        argv: a.cmd.clone(),
    };
    let entering = req.resolve(&ctx.root)?;
    trace::say(Mechanism::Ns, format!("joining as `{}`", entering.shell));
    Ok(report(&runner::enter(&entering, req.argv)?))
}

/// Say how CMD ended; glassbox's exit code (Docker's).
fn report(outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Planned => trace::say(Mechanism::Ns, "dry run: nothing was started"),
        Outcome::NotStarted { message, .. } => eprintln!("glassbox: error: {message}"),
        Outcome::Ran(_) => {}
    }
    ExitCode::from(outcome.exit_code())
}
