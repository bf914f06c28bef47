//! `glassbox unionfs`: build an overlay stack by hand, see what a writable
//! layer changed, and run the guided demo. The work is done by
//! [`crate::unionfs`]; this file parses and prints.

use std::path::PathBuf;

use anyhow::Result;

use super::Ctx;
use crate::state::resources::Owner;
use crate::trace::{self, Mechanism};
use crate::unionfs::check::Request;
use crate::unionfs::options::split_lowers;
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

/// How to hand the layers to the kernel (`--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// The new mount API when the kernel has `lowerdir+`, else classic
    Auto,
    /// fsopen/fsconfig(lowerdir+)/fsmount/move_mount (Linux 6.8+)
    NewApi,
    /// mount(2) with one page of options; short relative paths for tall stacks
    Classic,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::Auto => Method::Auto,
            MethodArg::NewApi => Method::NewApi,
            MethodArg::Classic => Method::Classic,
        }
    }
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
    #[arg(long, value_enum, default_value_t = MethodArg::Auto, env = "GLASSBOX_OVERLAY_METHOD")]
    pub method: MethodArg,
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
    /// Where the stack is mounted (only a stack this root mounted is unmounted)
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
    #[arg(long, value_enum, default_value_t = MethodArg::Auto, env = "GLASSBOX_OVERLAY_METHOD")]
    pub method: MethodArg,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<()> {
    match cmd {
        Command::Mount(a) => mount(ctx, a),
        Command::Umount(a) => {
            let done = stack::umount(&ctx.root, &a.target)?;
            trace::say(Mechanism::Unionfs, done.describe(&a.target));
            Ok(())
        }
        Command::Diff(a) => {
            let changes = diff::changes(&ctx.root, &a.upper, &split_lowers(&a.lower))?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&changes)?);
            } else {
                for c in &changes {
                    println!("{}", c.line());
                }
            }
            Ok(())
        }
        Command::Demo(a) => {
            let dir = a
                .dir
                .clone()
                .unwrap_or_else(|| ctx.root.data.join("unionfs-demo"));
            let mut out = std::io::stdout().lock();
            demo::run(&ctx.root, &dir, a.method.into(), &mut out)
        }
    }
}

fn mount(ctx: &Ctx, a: &MountArgs) -> Result<()> {
    let req = Request {
        lowers: split_lowers(&a.lower),
        upper: a.upper.clone(),
        work: a.work.clone(),
        target: a.target.clone(),
    };
    let opts = MountOptions {
        method: a.method.into(),
        force_short: a.short_paths,
        no_preflight: a.no_preflight,
        owner: Owner::Manual {
            command: "unionfs mount".into(),
        },
        layers_planned: false,
    };
    let m = stack::mount(&ctx.root, &req, &opts)?;
    let s = &m.stack;
    let how = match s.method {
        Method::NewApi => "new mount API".to_string(),
        _ => format!("mount(2), {}", s.paths),
    };
    trace::say(
        Mechanism::Unionfs,
        format!(
            "{} overlay on {} ({} lower layer(s), {}, {how}), top layer {}",
            if m.ran { "mounted" } else { "would mount" },
            s.target.display(),
            s.lowers.len(),
            if s.upper.is_some() {
                "read-write"
            } else {
                "read-only"
            },
            s.lowers
                .first()
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        ),
    );
    Ok(())
}
