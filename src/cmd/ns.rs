//! `glassbox ns`: create, inspect and enter namespaces by hand.
//!
//! `ns run` starts a command in new namespaces and shows, per kind, the
//! namespace inode outside and inside; `ns ls` lists the namespaces on the
//! system like `lsns`; `ns show` compares a process with PID 1; `ns enter`
//! joins a running process's (or pinned) namespaces like `nsenter`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use nix::unistd::Pid;

use super::Ctx;
use crate::ns::{self, Hooks, IdMap, NsMode, NsType, Spec, TimeOffsets, inode, list, pin};
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

/// Which kinds of namespace a command names, one flag per kind.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Kinds {
    /// Process ids (CMD is PID 1)
    #[arg(long)]
    pub pid: bool,
    /// Hostname and domain name
    #[arg(long)]
    pub uts: bool,
    /// System V IPC and POSIX message queues
    #[arg(long)]
    pub ipc: bool,
    /// Network devices, addresses, routes
    #[arg(long)]
    pub net: bool,
    /// Mounts
    #[arg(long)]
    pub mnt: bool,
    /// User and group ids
    #[arg(long)]
    pub user: bool,
    /// The view of the cgroup tree
    #[arg(long)]
    pub cgroup: bool,
    /// The boot-time and monotonic clocks
    #[arg(long)]
    pub time: bool,
    /// Every kind
    #[arg(long)]
    pub all: bool,
}

impl Kinds {
    pub fn types(&self) -> Vec<NsType> {
        let on = [
            (NsType::Cgroup, self.cgroup),
            (NsType::Ipc, self.ipc),
            (NsType::Mnt, self.mnt),
            (NsType::Net, self.net),
            (NsType::Pid, self.pid),
            (NsType::Time, self.time),
            (NsType::User, self.user),
            (NsType::Uts, self.uts),
        ];
        on.into_iter()
            .filter(|(_, b)| *b || self.all)
            .map(|(t, _)| t)
            .collect()
    }
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
    pub ns_type: Option<NsType>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
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
    pub name: String,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<ExitCode> {
    match cmd {
        Command::Run(a) => run(ctx, a),
        Command::Ls(a) => {
            let rows = list::group(&list::scan_procs(), a.ns_type);
            print!("{}", list::render_ls(&rows));
            Ok(ExitCode::SUCCESS)
        }
        Command::Show(a) => show(a.pid),
        Command::Enter(a) => enter(ctx, a),
        Command::Unpin(a) => {
            pin::unpin(&ctx.root, &a.name)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints the inode table and pins the namespaces once the child is ready.
struct RunHooks {
    outside: Vec<(NsType, Option<u64>)>,
    pin: Option<pin::Pinning>,
}

impl Hooks for RunHooks {
    fn ready(&mut self, pid: Pid) -> Result<()> {
        let rows: Vec<inode::Compare> = self
            .outside
            .iter()
            .map(|(t, o)| inode::Compare {
                ns: *t,
                outside: *o,
                inside: inode::inode(Some(pid.as_raw() as u32), *t).ok(),
            })
            .collect();
        trace::say(Mechanism::Ns, inode::render_table(&rows));
        if let Some(p) = &mut self.pin {
            for made in p.pin(pid)? {
                trace::say(Mechanism::Ns, format!("pinned {}", made.display()));
            }
        }
        Ok(())
    }
}

fn run(ctx: &Ctx, a: &RunArgs) -> Result<ExitCode> {
    let mut types = a.kinds.types();
    if a.hostname.is_some() && !types.contains(&NsType::Uts) {
        bail!("--hostname needs --uts: without a new UTS namespace it would rename the host");
    }
    if a.rootfs.is_some() && !types.contains(&NsType::Mnt) {
        trace::say(
            Mechanism::Ns,
            "--rootfs implies --mnt: pivot_root needs a mount namespace of its own",
        );
        types.push(NsType::Mnt);
    }
    if (a.boottime != 0 || a.monotonic != 0) && !types.contains(&NsType::Time) {
        bail!("--boottime and --monotonic need --time");
    }
    if a.map_root.is_some() && !types.contains(&NsType::User) {
        bail!("--map-root needs --user");
    }
    if let Some(h) = &a.hostname {
        // HOST_NAME_MAX: sethostname(2) fails with EINVAL past 64 bytes.
        if h.len() > 64 {
            bail!(
                "--hostname is {} bytes long: the kernel allows at most 64 (HOST_NAME_MAX); give a shorter name",
                h.len()
            );
        }
    }
    if types.contains(&NsType::User) {
        if a.map_count == 0 {
            bail!("--map-count 0 maps no ids: give at least 1");
        }
        let first = a.map_root.unwrap_or_else(|| nix::unistd::getuid().as_raw());
        if first.checked_add(a.map_count).is_none() {
            bail!(
                "--map-root {first} with --map-count {} runs past the last uid (4294967295): give a smaller --map-root or --map-count",
                a.map_count
            );
        }
    }
    if types.contains(&NsType::Pid) && !types.contains(&NsType::Mnt) {
        trace::say(
            Mechanism::Ns,
            "note: without --mnt, /proc is still the host's, so ps inside lists the host's processes",
        );
    }
    if let Some(r) = &a.rootfs
        && !r.is_dir()
    {
        bail!(
            "rootfs {} does not exist or is not a directory: give a directory holding a root filesystem (bin/sh, ...)",
            r.display()
        );
    }
    if let Some(r) = &a.rootfs {
        if std::fs::canonicalize(r).is_ok_and(|c| c == std::path::Path::new("/")) {
            bail!(
                "--rootfs {} is the host's own root: give a directory holding a container's root filesystem (e.g. one made with `glassbox image import`)",
                r.display()
            );
        }
        if types.contains(&NsType::User) && !types.contains(&NsType::Pid) {
            bail!(
                "--rootfs with --user needs --pid too: a new user namespace may mount /proc only for a PID namespace it owns; add --pid"
            );
        }
    }
    if !trace::dry_run() {
        ns::require_sys_admin("glassbox ns run")?;
    }
    let pinning = match &a.pin {
        Some(name) => Some(pin::Pinning::prepare(&ctx.root, name, &types)?),
        None => None,
    };
    let mut spec = Spec::new(a.cmd.clone());
    for t in &types {
        spec.namespaces.set(*t, NsMode::New);
    }
    spec.hostname = a.hostname.clone();
    spec.rootfs = a.rootfs.clone();
    if types.contains(&NsType::User) {
        let outside = a.map_root.unwrap_or_else(|| nix::unistd::getuid().as_raw());
        let gid = a.map_root.unwrap_or_else(|| nix::unistd::getgid().as_raw());
        spec.id_map = Some(IdMap {
            outside_uid: outside,
            outside_gid: gid,
            count: a.map_count,
        });
    }
    spec.time_offsets = TimeOffsets {
        boottime: a.boottime,
        monotonic: a.monotonic,
    };
    if a.rootfs.is_some() {
        // A container gets a clean environment, like Docker's.
        let mut env = vec![
            ("PATH".to_string(), ns::spec::DEFAULT_PATH.to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ];
        if let Ok(term) = std::env::var("TERM") {
            env.push(("TERM".into(), term));
        }
        if let Some(h) = &a.hostname {
            env.push(("HOSTNAME".into(), h.clone()));
        }
        spec.env = Some(env);
    }
    let mut hooks = RunHooks {
        outside: inode::all(None),
        pin: pinning,
    };
    let started = ns::spawn(spec, &mut hooks);
    // CMD started: the pin is complete. A failed start drops the pin,
    // which removes it: a failed run leaves nothing.
    let started = match (started, hooks.pin.take()) {
        (Ok(child), Some(p)) => p.commit().map(|()| child),
        (started, _) => started,
    };
    start_and_wait(started)
}

/// Wait for CMD and turn its end into our exit code (a signal is 128+N).
fn start_and_wait(started: Result<ns::Child>) -> Result<ExitCode> {
    match started {
        Ok(child) => {
            let code = child.wait()?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Err(e) if trace::dry_run() && e.to_string() == ns::spawn::DRY_RUN_DONE => {
            trace::say(Mechanism::Ns, "dry run: nothing was started");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => match e.downcast_ref::<ns::ChildError>() {
            Some(ce) => {
                eprintln!("glassbox: error: {}", ce.message);
                Ok(ExitCode::from(ce.code))
            }
            None => Err(e),
        },
    }
}

fn show(pid: u32) -> Result<ExitCode> {
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        bail!("process {pid} does not exist (has it exited?)");
    }
    let compare = |base: u32| -> Vec<inode::Compare> {
        NsType::ALL
            .into_iter()
            .map(|t| inode::Compare {
                ns: t,
                inside: inode::inode(Some(pid), t).ok(),
                outside: inode::inode(Some(base), t).ok(),
            })
            .collect()
    };
    let mut base = 1;
    let mut rows = compare(base);
    if rows.iter().all(|r| r.outside.is_none()) {
        base = std::process::id();
        trace::warn(format!(
            "the namespaces of PID 1 are not readable here (a sandbox or an LSM hides them): comparing with this glassbox process (PID {base}) instead"
        ));
        rows = compare(base);
    }
    print!("{}", list::render_show(pid, base, &rows));
    Ok(ExitCode::SUCCESS)
}

fn enter(ctx: &Ctx, a: &EnterArgs) -> Result<ExitCode> {
    let targets = match (a.target, &a.pinned) {
        (Some(pid), None) => {
            let types = a.kinds.types();
            if types.is_empty() {
                bail!(
                    "say which namespaces to join: --pid --net --mnt --uts --ipc --user --cgroup --time or --all"
                );
            }
            ns::targets_of(pid, &types)?
        }
        // --all: every kind the pin holds.
        (None, Some(name)) if a.kinds.all => pin::pinned(&ctx.root, name, &[])?,
        (None, Some(name)) => pin::pinned(&ctx.root, name, &a.kinds.types())?,
        _ => bail!("say whose namespaces to join: --target PID or --pinned NAME"),
    };
    if !trace::dry_run() {
        ns::require_sys_admin("glassbox ns enter")?;
    }
    let shell = match (a.target, &a.pinned) {
        (Some(pid), _) => {
            let opts: Vec<&str> = targets.iter().map(|(t, _)| t.nsenter_opt()).collect();
            format!("nsenter -t {pid} {}", opts.join(" "))
        }
        _ => {
            let opts: Vec<String> = targets
                .iter()
                .map(|(t, p)| format!("{}={}", t.nsenter_long(), p.display()))
                .collect();
            format!("nsenter {}", opts.join(" "))
        }
    };
    trace::say(Mechanism::Ns, format!("joining as `{shell}`"));
    start_and_wait(ns::enter(&targets, a.cmd.clone(), &mut ns::NoHooks))
}
