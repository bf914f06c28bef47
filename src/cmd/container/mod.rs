//! Docker's container commands (`run`, `create`, `start`, `stop`,
//! `restart`, `kill`, `rm`, `ps`, `logs`, `inspect`, `wait`, `top`,
//! `stats`, `attach`, `port`, `rename`, and `container ...`): arguments and printing only; the work is
//! in `src/container/`. Errors of the commands after `run`/`create` are
//! reported as the Docker CLI reports them (`Error response from daemon:
//! ...`, exit status 1); `run` and `create` exit 125 when glassbox fails.

pub mod attach;
pub mod commit;
pub mod create;
pub mod exec;
pub mod files;
pub mod info;
pub mod lifecycle;
pub mod pause;
pub mod port;
pub mod prune;
pub mod ps;
pub mod run;
pub mod run_flags;

use std::process::ExitCode;

use anyhow::Result;

pub use commit::{CommitArgs, DiffArgs};
pub use info::{InspectArgs, LogsArgs, StatsArgs, TopArgs};
pub use lifecycle::{KillArgs, NamesArgs, RestartArgs, RmArgs, StartArgs, StopArgs};
pub use pause::UpdateArgs;
pub use port::{PortArgs, RenameArgs};
pub use prune::PruneArgs;
pub use ps::PsArgs;

use super::Ctx;
use crate::container::{self, client, state};

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
    /// Restart one or more containers
    Restart(RestartArgs),
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
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::AttachArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
    /// Pause all processes within one or more containers
    Pause(NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(NamesArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(files::CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(files::ExportArgs),
}

/// The hidden `shim` command: a container's monitor (see
/// `container::shim`), started by `run`/`start`, never by hand.
#[derive(Debug, Clone, clap::Args)]
pub struct ShimArgs {
    /// The container's id
    pub id: String,
}

pub(crate) fn trace_args(ctx: &Ctx) -> client::TraceArgs {
    client::TraceArgs {
        verbose: ctx.global.verbose,
        explain: ctx.global.explain,
        trace_json: ctx.global.trace_json.clone(),
    }
}

/// An exit status from a container's code.
pub(crate) fn code(n: i32) -> ExitCode {
    ExitCode::from(n.clamp(0, 255) as u8)
}

/// Docker's report of a failure (the CLI's `Error response from daemon:`).
pub(crate) fn daemon_error(e: &anyhow::Error) {
    eprintln!("Error response from daemon: {e:#}");
}

/// A command's result as the Docker CLI ends: an error reported as the
/// daemon's, exit status 1.
pub(crate) fn as_docker(r: Result<ExitCode>) -> Result<ExitCode> {
    Ok(r.unwrap_or_else(|e| {
        daemon_error(&e);
        ExitCode::from(1)
    }))
}

/// Apply `f` to each named container, in order; Docker's way of reporting
/// a failure on some (the others still done, exit status 1).
pub(crate) fn each(
    ctx: &Ctx,
    names: &[String],
    mut f: impl FnMut(&str, &state::Container) -> Result<()>,
) -> ExitCode {
    let mut failed = false;
    for n in names {
        let r = state::find(&ctx.root, n).and_then(|c| f(n, &c));
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

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<ExitCode> {
    match cmd {
        Command::Ls(a) => as_docker(ps::ps(ctx, a)),
        Command::Run(a) => create::run(ctx, a),
        Command::Create(a) => create::create(ctx, a),
        Command::Start(a) => lifecycle::start(ctx, a),
        Command::Stop(a) => lifecycle::stop(ctx, a),
        Command::Restart(a) => lifecycle::restart(ctx, a),
        Command::Kill(a) => as_docker(lifecycle::kill(ctx, a)),
        Command::Rm(a) => lifecycle::rm(ctx, a),
        Command::Logs(a) => as_docker(info::logs(ctx, a)),
        Command::Inspect(a) => info::inspect(ctx, a),
        Command::Wait(a) => lifecycle::wait(ctx, a),
        Command::Top(a) => as_docker(info::top(ctx, a)),
        Command::Stats(a) => as_docker(info::stats(ctx, a)),
        Command::Prune(a) => prune::prune(ctx, a),
        Command::Exec(a) => exec::execute(ctx, a),
        Command::Attach(a) => attach::attach(ctx, a),
        Command::Pause(a) => pause::pause(ctx, a),
        Command::Unpause(a) => pause::unpause(ctx, a),
        Command::Update(a) => pause::update(ctx, a),
        Command::Port(a) => port::port(ctx, a),
        Command::Rename(a) => port::rename(ctx, a),
        Command::Diff(a) => commit::diff(ctx, a),
        Command::Commit(a) => commit::commit(ctx, a),
        Command::Cp(a) => files::cp(ctx, a),
        Command::Export(a) => files::export(ctx, a),
    }
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
