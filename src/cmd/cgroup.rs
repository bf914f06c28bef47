//! `glassbox cgroup`: build Docker's resource limits by hand and watch the
//! kernel enforce them: create, set, run, add, stat, ls, rm.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::cgroup::detect::{self, Placement};
use crate::cgroup::spec::{self, Flags, human_size};
use crate::cgroup::{Group, Max, Stats, group, lifecycle, process};
use crate::state::resources;
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
    pub name: String,
    pub pid: u32,
}

#[derive(Debug, clap::Args)]
pub struct StatArgs {
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
        Command::Add(a) => add(ctx, a)?,
        Command::Stat(a) => stat(ctx, a)?,
        Command::Ls(a) => ls(ctx, a)?,
        Command::Rm(a) => rm(ctx, a)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn ncpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Check everything that can be checked before touching the host.
fn prepare(ctx: &Ctx, name: &str, args: &LimitArgs) -> Result<(Group, spec::Limits)> {
    crate::cgroup::validate_name(name)?;
    let (limits, warnings) = spec::resolve(&args.flags(), ncpus())?;
    let g = Group::open(&ctx.root, name)?;
    g.check_controllers(&limits)?;
    for w in warnings {
        trace::warn(w);
    }
    Ok((g, limits))
}

fn open_existing(ctx: &Ctx, name: &str) -> Result<Group> {
    let g = Group::open(&ctx.root, name)?;
    if !g.exists() {
        bail!(
            "no cgroup named {name:?} in this root: create it with `glassbox cgroup create {name}` (see `glassbox cgroup ls`)"
        );
    }
    Ok(g)
}

fn create(ctx: &Ctx, a: &CreateArgs) -> Result<()> {
    let (g, limits) = prepare(ctx, &a.name, &a.limits)?;
    lifecycle::create(&ctx.root, &g, &limits)?;
    for d in g.dirs() {
        trace::say(Mechanism::Cgroup, format!("  {}", d.display()));
    }
    println!("{}", a.name);
    Ok(())
}

fn set(ctx: &Ctx, a: &CreateArgs) -> Result<()> {
    let (g, limits) = prepare(ctx, &a.name, &a.limits)?;
    if limits.is_empty() && a.limits.flags().is_empty() {
        bail!(
            "nothing to set: give at least one of --memory, --memory-swap, --cpu-shares, --cpus, --cpuset-cpus, --pids-limit"
        );
    }
    lifecycle::existing(&ctx.root, &g)?;
    g.apply(&limits)
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

fn add(ctx: &Ctx, a: &AddArgs) -> Result<()> {
    let g = lifecycle::open_existing(&ctx.root, &a.name)?;
    if !resources::pid_alive(a.pid) {
        bail!(
            "no process with pid {}: give the pid of a running process",
            a.pid
        );
    }
    if a.pid == 1 {
        bail!(
            "refusing to move pid 1 (init) into cgroup {}: its limits would throttle the whole system's init, and `cgroup rm --force` cannot kill it; start a process to experiment on, e.g. `sleep 300 &` and add $!",
            a.name
        );
    }
    if is_kernel_thread(a.pid) {
        bail!(
            "pid {} is a kernel thread: the kernel keeps those in the root cgroup; give the pid of a user process",
            a.pid
        );
    }
    g.add(a.pid)
}

/// PF_KTHREAD in the flags field (the 9th) of /proc/PID/stat.
fn is_kernel_thread(pid: u32) -> bool {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The command name (field 2) may hold spaces: count after its ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(6))
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|flags| flags & PF_KTHREAD != 0)
}

fn stat(ctx: &Ctx, a: &StatArgs) -> Result<()> {
    let g = open_existing(ctx, &a.name)?;
    if !(a.interval > 0.0 && a.interval.is_finite()) {
        bail!("--interval must be a positive number of seconds");
    }
    loop {
        let s = match g.stats() {
            Ok(s) => s,
            Err(e) if a.watch && !g.exists() => {
                trace::say(Mechanism::Cgroup, format!("{} is gone: {e:#}", a.name));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if a.json {
            println!("{}", serde_json::to_string(&s).context("serialize stats")?);
        } else {
            print!("{}", render_stats(&s));
        }
        if !a.watch {
            return Ok(());
        }
        if !a.json {
            println!();
        }
        std::thread::sleep(Duration::from_secs_f64(a.interval));
    }
}

fn opt_bytes(v: Option<u64>) -> String {
    v.map(|b| format!("{} ({b})", human_size(b)))
        .unwrap_or("-".into())
}

fn max_bytes(m: &Max) -> String {
    match m {
        Max::Max => "max".into(),
        Max::Value(b) => format!("{} ({b})", human_size(*b)),
    }
}

fn secs(us: u64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// The human table of `cgroup stat`.
pub fn render_stats(s: &Stats) -> String {
    let mut rows: Vec<(String, String)> = vec![("name".into(), s.name.clone())];
    for (v, p) in &s.paths {
        rows.push((format!("path {v}"), p.display().to_string()));
    }
    rows.push((
        "processes".into(),
        format!("{} {:?}", s.procs.len(), s.procs),
    ));
    if let Some(m) = &s.memory {
        rows.push(("memory.current".into(), opt_bytes(Some(m.current))));
        rows.push(("memory.peak".into(), opt_bytes(m.peak)));
        rows.push(("memory.limit".into(), max_bytes(&m.limit)));
        rows.push(("swap.current".into(), opt_bytes(m.swap_current)));
        rows.push((
            "swap.limit".into(),
            m.swap_limit
                .as_ref()
                .map(max_bytes)
                .unwrap_or("- (no swap accounting)".into()),
        ));
        rows.push(("memory.limit_hits".into(), m.limit_hits.to_string()));
        rows.push((
            "memory.oom".into(),
            m.oom
                .map(|o| o.to_string())
                .unwrap_or("- (v1: see oom_kill)".into()),
        ));
        rows.push(("memory.oom_kill".into(), m.oom_kill.to_string()));
    }
    if let Some(c) = &s.cpu {
        rows.push(("cpu.usage".into(), secs(c.usage_usec)));
        if let (Some(u), Some(sy)) = (c.user_usec, c.system_usec) {
            rows.push((
                "cpu.user/system".into(),
                format!("{} / {}", secs(u), secs(sy)),
            ));
        }
        if let Some(sh) = c.shares {
            rows.push(("cpu.shares".into(), sh.to_string()));
        }
        if let Some(w) = c.weight {
            rows.push(("cpu.weight".into(), w.to_string()));
        }
        let quota = match c.quota {
            Max::Max => format!("max (period {}us)", c.period),
            Max::Value(q) => format!(
                "{q}us per {}us = {:.2} CPU",
                c.period,
                q as f64 / c.period as f64
            ),
        };
        rows.push(("cpu.quota".into(), quota));
        rows.push((
            "cpu.throttled".into(),
            format!(
                "{} of {} periods, {}",
                c.nr_throttled,
                c.nr_periods,
                secs(c.throttled_usec)
            ),
        ));
    }
    if let Some(cs) = &s.cpuset {
        rows.push(("cpuset.cpus".into(), cs.clone()));
    }
    if let Some(p) = &s.pids {
        rows.push(("pids.current".into(), p.current.to_string()));
        rows.push(("pids.max".into(), p.max.to_string()));
        rows.push(("pids.refused".into(), p.refused.to_string()));
    }
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<w$}  {v}\n"))
        .collect()
}

fn ls(ctx: &Ctx, a: &LsArgs) -> Result<()> {
    let layout = detect::detect()?;
    let names = group::list(&ctx.root, &layout);
    if a.json {
        let mut all = Vec::new();
        for n in &names {
            all.push(Group::with_layout(&ctx.root, n, layout.clone()).stats()?);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&all).context("serialize")?
        );
        return Ok(());
    }
    let mut where_ = Vec::new();
    for (c, _) in group::USED {
        match layout.controller(c) {
            Some(Placement::V1(m)) => where_.push(format!("{c}: v1 {}", m.display())),
            Some(Placement::V2(m)) => where_.push(format!("{c}: v2 {}", m.display())),
            None => where_.push(format!("{c}: absent")),
        }
    }
    let swap = match detect::swap_accounting(&layout) {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    };
    trace::say(
        Mechanism::Cgroup,
        format!(
            "{}; swap accounting {swap}, {}",
            layout.mode.describe(),
            if detect::swap_configured() {
                "swap configured"
            } else {
                "no swap configured"
            }
        ),
    );
    trace::say(Mechanism::Cgroup, where_.join(", "));
    println!(
        "{:<20} {:<6} {:>5} {:>10} {:>12} {:>6}",
        "NAME", "CGROUP", "PROCS", "MEMORY", "CPU", "PIDS"
    );
    for n in &names {
        let g = Group::with_layout(&ctx.root, n, layout.clone());
        let s = g.stats()?;
        let mem = s.memory.as_ref().map(|m| match m.limit {
            Max::Max => "max".to_string(),
            Max::Value(b) => human_size(b),
        });
        let cpu = s.cpu.as_ref().map(|c| match (c.shares, c.weight) {
            (Some(sh), _) => format!("shares {sh}"),
            (_, Some(w)) => format!("weight {w}"),
            _ => "-".into(),
        });
        let pids = s.pids.as_ref().map(|p| p.max.to_string());
        println!(
            "{:<20} {:<6} {:>5} {:>10} {:>12} {:>6}",
            n,
            g.versions(),
            s.procs.len(),
            mem.unwrap_or("-".into()),
            cpu.unwrap_or("-".into()),
            pids.unwrap_or("-".into())
        );
    }
    Ok(())
}

fn rm(ctx: &Ctx, a: &RmArgs) -> Result<()> {
    lifecycle::remove(&ctx.root, &a.name, a.force)
}
