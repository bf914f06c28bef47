//! Docker's container commands (`run`, `create`, `start`, `stop`, `kill`,
//! `rm`, `ps`, `logs`, `inspect`, `wait`, and `container ...`): arguments
//! and printing only; the work is in `src/container/`.

pub mod exec;
pub mod run;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

use super::Ctx;
use crate::container::{self, attach, client, launch, list, settle, state};

/// `container SUBCOMMAND`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List containers
    #[command(alias = "list", alias = "ps")]
    Ls(PsArgs),
    /// Create and run a new container from an image
    Run(run::RunArgs),
    /// Create a new container
    Create(run::RunArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Display detailed information on one or more containers
    Inspect(InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(NamesArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
}

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
    /// Format output using a Go template ('table' prefix for a table)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// The containers to start
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short, long, default_value_t = 10)]
    pub time: u64,
    /// The containers to stop
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// The containers to kill
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// The containers to remove
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

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
    /// The container whose logs to show
    pub container: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// Format output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// The containers (or images) to inspect
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct NamesArgs {
    /// The containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation (glassbox never prompts here)
    #[arg(short, long)]
    pub force: bool,
}

/// The hidden `shim` command: a container's monitor (see
/// `container::shim`), started by `run`/`start`, never by hand.
#[derive(Debug, Clone, clap::Args)]
pub struct ShimArgs {
    /// The container's id
    pub id: String,
}

fn trace_args(ctx: &Ctx) -> client::TraceArgs {
    client::TraceArgs {
        verbose: ctx.global.verbose,
        explain: ctx.global.explain,
        trace_json: ctx.global.trace_json.clone(),
    }
}

fn code(n: i32) -> ExitCode {
    ExitCode::from(n.clamp(0, 255) as u8)
}

/// Docker's report of a failure on one of several containers.
fn daemon_error(e: &anyhow::Error) {
    eprintln!("Error response from daemon: {e:#}");
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<ExitCode> {
    match cmd {
        Command::Ls(a) => ps(ctx, a),
        Command::Run(a) => run(ctx, a),
        Command::Create(a) => create(ctx, a),
        Command::Start(a) => start(ctx, a),
        Command::Stop(a) => stop(ctx, a),
        Command::Kill(a) => kill(ctx, a),
        Command::Rm(a) => rm(ctx, a),
        Command::Logs(a) => logs(ctx, a),
        Command::Inspect(a) => inspect(ctx, a),
        Command::Wait(a) => wait(ctx, a),
        Command::Prune(_) => prune(ctx),
        Command::Exec(a) => exec::execute(ctx, a),
    }
}

pub fn run(ctx: &Ctx, a: &run::RunArgs) -> Result<ExitCode> {
    use std::io::IsTerminal;
    if a.tty && a.interactive && !std::io::stdin().is_terminal() && !a.detach {
        eprintln!("the input device is not a TTY");
        return Ok(ExitCode::from(1));
    }
    let req = run::request(a)?;
    let c = container::create::create(&ctx.root, &req)?;
    let attached = (!a.detach).then_some(attach::Options {
        stdin: a.interactive,
        tty: a.tty,
        sig_proxy: a.sig_proxy,
    });
    match launch::start(&ctx.root, &c, attached, &trace_args(ctx)) {
        Ok(None) => {
            println!("{}", c.id);
            Ok(ExitCode::SUCCESS)
        }
        Ok(Some(status)) => Ok(code(status)),
        Err(e) => match launch::exit_code_of(&e) {
            Some(n) => {
                eprintln!("glassbox: error: {e:#}");
                Ok(code(n))
            }
            None => Err(e),
        },
    }
}

fn create(ctx: &Ctx, a: &run::RunArgs) -> Result<ExitCode> {
    let c = container::create::create(&ctx.root, &run::request(a)?)?;
    println!("{}", c.id);
    Ok(ExitCode::SUCCESS)
}

/// Apply `f` to each named container; Docker's way of reporting a failure
/// on some (the others still done, exit 1).
fn each(
    ctx: &Ctx,
    names: &[String],
    mut f: impl FnMut(&state::Container) -> Result<()>,
) -> ExitCode {
    let mut failed = false;
    for n in names {
        let r = state::find(&ctx.root, n).and_then(|c| f(&c));
        if let Err(e) = r {
            daemon_error(&e);
            failed = true;
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn start(ctx: &Ctx, a: &StartArgs) -> Result<ExitCode> {
    if a.attach || a.interactive {
        let [one] = a.containers.as_slice() else {
            bail!("you cannot start and attach multiple containers at once");
        };
        let c = state::find(&ctx.root, one)?;
        let o = attach::Options {
            stdin: a.interactive,
            tty: c.config.tty,
            sig_proxy: true,
        };
        let status = launch::start(&ctx.root, &c, Some(o), &trace_args(ctx))?;
        return Ok(code(status.unwrap_or(0)));
    }
    Ok(each(ctx, &a.containers, |c| {
        let c = settle::settle(&ctx.root, c)?;
        if !container::shim::runs(c.state.status) {
            launch::start(&ctx.root, &c, None, &trace_args(ctx))?;
        }
        Ok(())
    }))
    .inspect(|&code| {
        if code == ExitCode::SUCCESS {
            for n in &a.containers {
                println!("{n}");
            }
        }
    })
}

fn stop(ctx: &Ctx, a: &StopArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |c| {
        container::kill::stop(&ctx.root, c, Duration::from_secs(a.time))?;
        println!(
            "{}",
            a.containers
                .iter()
                .find(|n| c.name == **n || c.id.starts_with(n.as_str()))
                .unwrap_or(&c.name)
        );
        Ok(())
    }))
}

fn kill(ctx: &Ctx, a: &KillArgs) -> Result<ExitCode> {
    let sig = container::kill::parse_signal(&a.signal)?;
    Ok(each(ctx, &a.containers, |c| {
        container::kill::signal(&ctx.root, c, sig)?;
        println!("{}", c.name);
        Ok(())
    }))
}

fn rm(ctx: &Ctx, a: &RmArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |c| {
        container::delete::rm(&ctx.root, c, a.force)?;
        println!(
            "{}",
            a.containers
                .iter()
                .find(|n| c.name == **n || c.id.starts_with(n.as_str()))
                .unwrap_or(&c.name)
        );
        Ok(())
    }))
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
    let shown: Vec<&state::Container> = all
        .iter()
        .filter(|c| a.all || filters.wants_stopped() || container::shim::runs(c.state.status))
        .filter(|c| filters.matches(c, &image_matches))
        .collect();
    if a.quiet {
        for c in shown {
            println!(
                "{}",
                if a.no_trunc {
                    c.id.as_str()
                } else {
                    container::id::short(&c.id)
                }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<serde_json::Value> = shown
        .iter()
        .map(|c| list::row(c, now, a.no_trunc))
        .collect();
    let format = a.format.as_deref().unwrap_or(list::DEFAULT_FORMAT);
    print!(
        "{}",
        crate::template::listing(format, &rows, &list::headers())?
    );
    Ok(ExitCode::SUCCESS)
}

fn logs(ctx: &Ctx, a: &LogsArgs) -> Result<ExitCode> {
    let c = state::find(&ctx.root, &a.container)?;
    let tail = match a.tail.as_str() {
        "all" => None,
        n => Some(
            n.parse()
                .map_err(|_| anyhow::anyhow!("invalid --tail {n:?}: give a number or all"))?,
        ),
    };
    let opts = container::logs::Options {
        follow: a.follow,
        tail,
        timestamps: a.timestamps,
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

pub fn inspect(ctx: &Ctx, a: &InspectArgs) -> Result<ExitCode> {
    let network_ids: std::collections::BTreeMap<String, String> =
        crate::net::store::all(&ctx.root)?
            .into_iter()
            .map(|n| (n.name, n.id))
            .collect();
    let mut out = Vec::new();
    let mut failed = false;
    for n in &a.names {
        match state::find(&ctx.root, n) {
            Ok(c) => {
                let c = settle::settle(&ctx.root, &c)?;
                out.push(container::inspect::inspect(&c, &network_ids));
            }
            Err(_) => match crate::image::inspect_value(&ctx.root, n) {
                Ok(v) => out.push(v),
                Err(_) => {
                    eprintln!("Error: No such object: {n}");
                    failed = true;
                }
            },
        }
    }
    match &a.format {
        Some(f) => print!("{}", crate::template::each_line(f, &out)?),
        None => println!("{}", serde_json::to_string_pretty(&out)?),
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn wait(ctx: &Ctx, a: &NamesArgs) -> Result<ExitCode> {
    Ok(each(ctx, &a.containers, |c| {
        let done = settle::wait_stopped(&ctx.root, &c.id)?;
        println!("{}", done.map_or(0, |d| d.state.exit_code));
        Ok(())
    }))
}

fn prune(ctx: &Ctx) -> Result<ExitCode> {
    let mut removed = Vec::new();
    for c in settle::all(&ctx.root)? {
        if !container::shim::runs(c.state.status) {
            container::delete::remove(&ctx.root, &c.id)?;
            removed.push(c.id);
        }
    }
    if !removed.is_empty() {
        println!("Deleted Containers:");
        for r in &removed {
            println!("{r}");
        }
        println!();
    }
    println!("Total reclaimed space: 0B");
    Ok(ExitCode::SUCCESS)
}

/// `glassbox shim ID`: the monitor, on the ready pipe at fd 3.
pub fn shim(ctx: &Ctx, a: &ShimArgs) -> Result<ExitCode> {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is the ready pipe the starting command set up for us.
    let ready = unsafe { std::os::fd::OwnedFd::from_raw_fd(3) };
    container::shim::log_failures(&ctx.root, &a.id);
    if let Err(e) = container::shim::main(&ctx.root, &a.id, ready) {
        container::shim::log_line(&ctx.root, &a.id, &format!("error: {e:#}"));
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}
