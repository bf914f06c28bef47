//! `glassbox cgroup`: build Docker's resource limits by hand and watch the
//! kernel enforce them: create, set, run, add, stat, ls, rm. This file
//! parses the command line and prints; the work is in
//! [`crate::cgroup::ops`] (and [`crate::cgroup::process`] for `run`), the
//! tables in [`crate::cgroup::human`].

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::Ctx;
use crate::cgroup::lifecycle::{self, Report};
use crate::cgroup::ops::{self, Sample};
use crate::cgroup::spec::Flags;
use crate::cgroup::{human, process};
use crate::trace::{self, Mechanism};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make a cgroup with Docker's resource limits
    Create(CreateArgs),
    /// Change the limits of a cgroup, live
    Set(CreateArgs),
    /// Start a command inside a cgroup and wait for it (exit 137 when OOM-killed)
    Run(RunArgs),
    /// Move a running process into a cgroup
    Add(AddArgs),
    /// Show memory, CPU and pids usage against the limits
    Stat(StatArgs),
    /// List this root's cgroups
    Ls(LsArgs),
    /// Remove a cgroup (refuses while processes live there)
    Rm(RmArgs),
}

/// Docker's resource flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Memory limit (b, k, m, g), at least 6M
    #[arg(short, long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Memory plus swap (b, k, m, g), or -1 for unlimited swap [default: twice --memory]
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Relative CPU weight (v1 cpu.shares; converted to cpu.weight on v2); 0 leaves it unset
    #[arg(
        short = 'c',
        long,
        value_name = "SHARES",
        allow_negative_numbers = true
    )]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs (quota over a 100 ms period), e.g. 0.5
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// CPUs the group may use, e.g. 0 or 0-1
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Maximum number of tasks; 0 or -1 for unlimited
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
}

impl LimitArgs {
    fn flags(&self) -> Flags {
        Flags {
            memory: self.memory.clone(),
            memory_swap: self.memory_swap.clone(),
            cpu_shares: self.cpu_shares,
            cpus: self.cpus.clone(),
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Name of the cgroup (nested names like lab/a are fine)
    pub name: String,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The cgroup to run CMD in (made with `cgroup create`)
    pub name: String,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Name of the cgroup to move the process into
    pub name: String,
    /// Pid of the running process to move (its threads move with it)
    pub pid: u32,
}

#[derive(Debug, clap::Args)]
pub struct StatArgs {
    /// Name of the cgroup to show
    pub name: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// Print again every --interval seconds until the cgroup is removed
    #[arg(short, long)]
    pub watch: bool,
    /// Seconds between two --watch samples
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Name of the cgroup to remove (its child cgroups too, with --force)
    pub name: String,
    /// Kill the processes inside (and remove child cgroups) first
    #[arg(short, long)]
    pub force: bool,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<ExitCode> {
    match cmd {
        Command::Create(a) => create(ctx, a)?,
        Command::Set(a) => set(ctx, a)?,
        Command::Run(a) => return run(ctx, a),
        Command::Add(a) => tell(ops::add(&ctx.root, &a.name, a.pid)?),
        Command::Stat(a) => stat(ctx, a)?,
        Command::Ls(a) => ls(ctx, a)?,
        Command::Rm(a) => tell(ops::remove(&ctx.root, &a.name, a.force)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// Say what the library reported besides its steps.
fn tell(r: Report) {
    for n in r.notes {
        trace::say(Mechanism::Cgroup, n);
    }
    for w in r.warnings {
        trace::warn(w);
    }
}

fn create(ctx: &Ctx, a: &CreateArgs) -> Result<()> {
    let p = ops::prepare(&ctx.root, &a.name, &a.limits.flags())?;
    for w in &p.warnings {
        trace::warn(w);
    }
    trace::say(Mechanism::Cgroup, human::uses(&p.group));
    tell(ops::create(&ctx.root, &p)?);
    for d in p.group.dirs() {
        trace::say(Mechanism::Cgroup, format!("  {}", d.display()));
    }
    println!("{}", a.name);
    Ok(())
}

fn set(ctx: &Ctx, a: &CreateArgs) -> Result<()> {
    let p = ops::prepare_set(&ctx.root, &a.name, &a.limits.flags())?;
    for w in &p.warnings {
        trace::warn(w);
    }
    tell(ops::set(&ctx.root, &p)?);
    Ok(())
}

fn run(ctx: &Ctx, a: &RunArgs) -> Result<ExitCode> {
    let g = lifecycle::open_existing(&ctx.root, &a.name)?;
    let ran = process::run(&g, &a.command)?;
    let say = |text: String| trace::say(Mechanism::Cgroup, text);
    match &ran {
        process::Ran::Planned => say("dry run: nothing was started".into()),
        process::Ran::NotStarted { message, .. } => eprintln!("glassbox: error: {message}"),
        process::Ran::Ended(e) if e.oom_killed => say(format!(
            "process {} was killed by the OOM killer (the group's oom_kill count rose by {}): exit status 137",
            e.pid, e.oom_kills
        )),
        process::Ran::Ended(e) if e.oom_kills > 0 => say(format!(
            "the OOM killer killed {} process(es) in the group; {} itself exited with {}",
            e.oom_kills, a.command[0], e.status
        )),
        process::Ran::Ended(e) => {
            if let Some(sig) = e.signal {
                say(format!(
                    "process {} was killed by signal {sig}: exit status {}",
                    e.pid, e.status
                ));
            }
        }
    }
    Ok(ExitCode::from(ran.exit_code()))
}

fn stat(ctx: &Ctx, a: &StatArgs) -> Result<()> {
    for sample in ops::watch(&ctx.root, &a.name, a.interval, a.watch)? {
        match sample? {
            Sample::Gone(why) => trace::say(Mechanism::Cgroup, why),
            Sample::Stats(s) if a.json => {
                println!("{}", serde_json::to_string(&s).context("serialize stats")?)
            }
            Sample::Stats(s) => {
                print!("{}", human::stats(&s));
                if a.watch {
                    println!();
                }
            }
        }
    }
    Ok(())
}

fn ls(ctx: &Ctx, a: &LsArgs) -> Result<()> {
    let l = ops::list(&ctx.root)?;
    if a.json {
        let all: Vec<_> = l.groups.iter().map(|g| &g.stats).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&all).context("serialize")?
        );
        return Ok(());
    }
    for line in human::layout(&l) {
        trace::say(Mechanism::Cgroup, line);
    }
    print!("{}", human::table(&l));
    Ok(())
}
