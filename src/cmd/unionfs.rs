//! `glassbox unionfs`: build an overlay stack by hand, see what a writable
//! layer changed, and run the guided demo.

use std::path::PathBuf;

use anyhow::Result;

use super::Ctx;
use crate::state::resources::Owner;
use crate::trace::{self, Mechanism};
use crate::unionfs::check::Request;
use crate::unionfs::stack::{self, Method, MountOptions};
use crate::unionfs::{demo, diff};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Mount an overlay stack: --lower DIR[:DIR...] (leftmost on top), optional --upper/--work
    Mount(MountArgs),
    /// Unmount an overlay stack
    Umount(UmountArgs),
    /// What an upper layer changed against its lowers (A added, C changed, D deleted)
    Diff(DiffArgs),
    /// A guided run: two lower layers, a stack, copy-up, whiteouts, an opaque directory
    Demo(DemoArgs),
}

#[derive(Debug, clap::Args)]
pub struct MountArgs {
    /// Lower layers, top first, separated by ':' (as overlay's lowerdir); may repeat
    #[arg(long, required = true, value_name = "DIR[:DIR...]")]
    pub lower: Vec<String>,
    /// The writable layer (without it the stack is read-only)
    #[arg(long, value_name = "DIR")]
    pub upper: Option<PathBuf>,
    /// An empty directory on the same filesystem as --upper
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// How to pass the layers to the kernel
    #[arg(long, value_enum, default_value_t = Method::Auto, env = "GLASSBOX_OVERLAY_METHOD")]
    pub method: Method,
    /// With --method classic, use short relative paths even when absolute ones fit
    #[arg(long)]
    pub short_paths: bool,
    /// Skip glassbox's checks and let the kernel answer (glassbox shows what it logged);
    /// the mount point must still be apart from every layer
    #[arg(long)]
    pub no_preflight: bool,
    /// Where to mount the stack
    pub target: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct UmountArgs {
    pub target: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The upper (writable) directory of a stack
    pub upper: PathBuf,
    /// Lower layers, top first (default: read from the mount that uses UPPER)
    #[arg(long, value_name = "DIR[:DIR...]")]
    pub lower: Vec<String>,
    /// Print JSON (Docker's container changes format)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// A new or empty directory for the layers [default: <root>/unionfs-demo]
    pub dir: Option<PathBuf>,
    /// How to pass the layers to the kernel
    #[arg(long, value_enum, default_value_t = Method::Auto, env = "GLASSBOX_OVERLAY_METHOD")]
    pub method: Method,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<()> {
    match cmd {
        Command::Mount(a) => mount(ctx, a),
        Command::Umount(a) => {
            let done = stack::umount(&ctx.root, &a.target)?;
            trace::say(Mechanism::Unionfs, done.describe(&a.target));
            Ok(())
        }
        Command::Diff(a) => diff_cmd(ctx, a),
        Command::Demo(a) => {
            let dir = a
                .dir
                .clone()
                .unwrap_or_else(|| ctx.root.data.join("unionfs-demo"));
            let mut out = std::io::stdout().lock();
            demo::run(&ctx.root, &dir, a.method, &mut out)
        }
    }
}

/// `--lower A:B --lower C` -> [A, B, C] (escaped `\:` kept in a name).
fn split_lowers(args: &[String]) -> Vec<PathBuf> {
    args.iter()
        .flat_map(|a| crate::unionfs::options::split_lowerdir(a))
        .map(PathBuf::from)
        .collect()
}

fn mount(ctx: &Ctx, a: &MountArgs) -> Result<()> {
    let req = Request {
        lowers: split_lowers(&a.lower),
        upper: a.upper.clone(),
        work: a.work.clone(),
        target: a.target.clone(),
    };
    let opts = MountOptions {
        method: a.method,
        force_short: a.short_paths,
        no_preflight: a.no_preflight,
        owner: Owner::Manual {
            command: "unionfs mount".into(),
        },
    };
    let s = stack::mount(&ctx.root, &req, &opts)?;
    let how = match s.method {
        Method::NewApi => "new mount API".to_string(),
        _ => format!("mount(2), {}", s.paths),
    };
    trace::say(
        Mechanism::Unionfs,
        format!(
            "{} overlay on {} ({} lower layer(s), {}{}), top layer {}",
            if trace::dry_run() {
                "would mount"
            } else {
                "mounted"
            },
            s.target.display(),
            s.lowers.len(),
            if s.upper.is_some() {
                "read-write"
            } else {
                "read-only"
            },
            format_args!(", {how}"),
            s.lowers
                .first()
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        ),
    );
    Ok(())
}

fn diff_cmd(ctx: &Ctx, a: &DiffArgs) -> Result<()> {
    let lowers = if a.lower.is_empty() {
        stack::find_by_upper(&ctx.root, &a.upper)?.1
    } else {
        let lowers = split_lowers(&a.lower);
        for l in &lowers {
            if !l.is_dir() {
                anyhow::bail!(
                    "lower layer {} does not exist or is not a directory",
                    l.display()
                );
            }
        }
        lowers
    };
    if !a.upper.is_dir() {
        anyhow::bail!("upper directory {} does not exist", a.upper.display());
    }
    let changes = diff::diff(&a.upper, &lowers)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&changes)?);
    } else {
        for c in &changes {
            println!("{}", c.line());
        }
    }
    Ok(())
}
