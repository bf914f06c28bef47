//! The command line: global options and the list of subcommands (clap
//! derive). Each subcommand's own arguments live beside its code in
//! `src/cmd/`.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

use crate::cmd;

/// glassbox: a container engine you can see through.
///
/// Each subcommand drives one kernel mechanism by hand and shows every
/// step: -v shows the steps, -vv every syscall, --explain says why.
#[derive(Debug, Parser)]
#[command(name = "glassbox", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand shares (shown under their own heading in every
/// subcommand's help).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// State root: data and runtime files both live under DIR
    /// [default: /var/lib/glassbox and /run/glassbox]
    #[arg(long, global = true, env = "GLASSBOX_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Show each step (-v), and every syscall (-vv); before the subcommand
    /// (`glassbox -v run ...`), since `run -v` is Docker's --volume
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// Say why each step is done and which man page to read (implies -v)
    #[arg(long, global = true)]
    pub explain: bool,

    /// Append one JSON object per step to FILE
    #[arg(long, global = true, value_name = "FILE")]
    pub trace_json: Option<PathBuf>,

    /// Print the plan of steps without doing any of them (needs no root)
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// No colors (also: the NO_COLOR environment variable, or a non-terminal)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that this machine can run containers, and find leftovers
    Doctor(cmd::doctor::Args),
    /// Namespaces by hand: run, list, show, enter
    #[command(subcommand)]
    Ns(cmd::ns::Command),
    /// Memory, CPU and pids limits by hand (cgroups v1 and v2)
    #[command(subcommand)]
    Cgroup(cmd::cgroup::Command),
    /// Overlay union filesystem by hand: mount, umount, diff, demo
    #[command(subcommand)]
    Unionfs(cmd::unionfs::Command),
    /// Whole-installation housekeeping
    #[command(subcommand)]
    System(cmd::system::Command),
    /// Networks: bridges, veth pairs, NAT, published ports (also: network)
    #[command(subcommand, visible_alias = "network")]
    Net(cmd::net::Command),
    /// Print a shell completion script
    Completions(cmd::completions::Args),
    /// OCI images: pull, list, remove, inspect, load, save, import
    #[command(subcommand)]
    Image(cmd::image::Command),
    /// Download an image from a registry (same as `image pull`)
    Pull(cmd::image::PullArgs),
    /// List images (same as `image ls`)
    Images(cmd::image::LsArgs),
    /// Remove images (same as `image rm`)
    Rmi(cmd::image::RmArgs),
    /// Log in to a registry (credentials stored in Docker's format)
    Login(cmd::image::LoginArgs),
    /// Log out from a registry
    Logout(cmd::image::LogoutArgs),
    /// Create and run a new container from an image
    Run(cmd::container::run::RunArgs),
    /// Create a new container
    Create(cmd::container::run::RunArgs),
    /// Start one or more stopped containers
    Start(cmd::container::StartArgs),
    /// Stop one or more running containers
    Stop(cmd::container::StopArgs),
    /// Restart one or more containers
    Restart(cmd::container::RestartArgs),
    /// Kill one or more running containers
    Kill(cmd::container::KillArgs),
    /// Remove one or more containers
    Rm(cmd::container::RmArgs),
    /// List containers
    Ps(cmd::container::PsArgs),
    /// Fetch the logs of a container
    Logs(cmd::container::LogsArgs),
    /// Display detailed information on containers or images
    Inspect(cmd::container::InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(cmd::container::NamesArgs),
    /// Execute a command in a running container
    Exec(cmd::container::exec::ExecArgs),
    /// Display the running processes of a container
    Top(cmd::container::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(cmd::container::StatsArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(cmd::container::attach::AttachArgs),
    /// Pause all processes within one or more containers
    Pause(cmd::container::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(cmd::container::NamesArgs),
    /// Update configuration of one or more containers
    Update(cmd::container::UpdateArgs),
    /// Get real time events from containers and networks
    Events(cmd::events::Args),
    /// List port mappings or a specific mapping for the container
    Port(cmd::container::PortArgs),
    /// Rename a container
    Rename(cmd::container::RenameArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(cmd::container::DiffArgs),
    /// Create a new image from a container's changes
    Commit(cmd::container::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cmd::container::files::CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(cmd::container::files::ExportArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(cmd::container::Command),
    /// Volumes: data directories that outlive containers (create, ls, inspect, rm, prune)
    #[command(subcommand)]
    Volume(cmd::volume::Command),
    /// A container's monitor process (started by run and start)
    #[command(hide = true)]
    Shim(cmd::container::ShimArgs),
}
