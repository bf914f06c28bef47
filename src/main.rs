//! The `glassbox` binary: parse, dispatch, print errors.

use std::process::ExitCode;

use clap::Parser;

use glassbox::cli::{Cli, Command};
use glassbox::cmd::{self, Ctx};
use glassbox::state::Root;
use glassbox::trace;

/// Docker's exit code for an error of the engine itself.
const EXIT_ENGINE_ERROR: u8 = 125;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `glassbox image ls | head` would panic on a
    // closed pipe, and the commands glassbox execs would inherit the ignored
    // signal. Restore the default every Unix tool has.
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    glassbox::registry::install();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let text = format!("{err:#}");
            // EACCES/EPERM as an ordinary user: say what to do.
            let hint = if !nix::unistd::geteuid().is_root()
                && glassbox::doctor::is_permission_error(&err)
                && !text.contains("as root")
            {
                ": this needs root; run it as root, e.g. with sudo"
            } else {
                ""
            };
            eprintln!("glassbox: error: {text}{hint}");
            ExitCode::from(EXIT_ENGINE_ERROR)
        }
    }
}

/// The top-level container commands are `container SUBCOMMAND`'s.
fn container(ctx: &Ctx, c: cmd::container::Command) -> anyhow::Result<ExitCode> {
    cmd::container::execute(ctx, &c)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    use cmd::container::Command as C;
    let g = &cli.global;
    let verbosity = if g.explain {
        g.verbose.max(1)
    } else {
        g.verbose
    };
    trace::init(
        trace::Config {
            verbosity,
            explain: g.explain,
            dry_run: g.dry_run,
            color: trace::want_color(g.no_color),
        },
        g.trace_json.as_deref(),
    )?;
    let ctx = Ctx {
        root: Root::new(g.root.as_deref())?,
        global: g.clone(),
    };
    match &cli.command {
        Command::Doctor(args) => return cmd::doctor::execute(&ctx, args),
        Command::Ns(c) => return cmd::ns::execute(&ctx, c),
        Command::Cgroup(c) => return cmd::cgroup::execute(&ctx, c),
        Command::System(c) => return cmd::system::execute(&ctx, c),
        Command::Net(c) => cmd::net::execute(&ctx, c)?,
        Command::Unionfs(c) => cmd::unionfs::execute(&ctx, c)?,
        Command::Completions(args) => cmd::completions::execute(args)?,
        Command::Image(c) => cmd::image::execute(&ctx, c)?,
        Command::Pull(a) => cmd::image::execute(&ctx, &cmd::image::Command::Pull(a.clone()))?,
        Command::Images(a) => cmd::image::execute(&ctx, &cmd::image::Command::Ls(a.clone()))?,
        Command::Login(a) => cmd::image::login(&ctx, a)?,
        Command::Logout(a) => cmd::image::logout(&ctx, a)?,
        Command::Rmi(a) => cmd::image::execute(&ctx, &cmd::image::Command::Rm(a.clone()))?,
        Command::Run(a) => return container(&ctx, C::Run(a.clone())),
        Command::Create(a) => return container(&ctx, C::Create(a.clone())),
        Command::Start(a) => return container(&ctx, C::Start(a.clone())),
        Command::Stop(a) => return container(&ctx, C::Stop(a.clone())),
        Command::Restart(a) => return container(&ctx, C::Restart(a.clone())),
        Command::Kill(a) => return container(&ctx, C::Kill(a.clone())),
        Command::Rm(a) => return container(&ctx, C::Rm(a.clone())),
        Command::Ps(a) => return container(&ctx, C::Ls(a.clone())),
        Command::Logs(a) => return container(&ctx, C::Logs(a.clone())),
        Command::Inspect(a) => return container(&ctx, C::Inspect(a.clone())),
        Command::Wait(a) => return container(&ctx, C::Wait(a.clone())),
        Command::Top(a) => return container(&ctx, C::Top(a.clone())),
        Command::Stats(a) => return container(&ctx, C::Stats(a.clone())),
        Command::Attach(a) => return container(&ctx, C::Attach(a.clone())),
        Command::Pause(a) => return container(&ctx, C::Pause(a.clone())),
        Command::Unpause(a) => return container(&ctx, C::Unpause(a.clone())),
        Command::Update(a) => return container(&ctx, C::Update(a.clone())),
        Command::Events(a) => return cmd::events::execute(&ctx, a),
        Command::Port(a) => return container(&ctx, C::Port(a.clone())),
        Command::Rename(a) => return container(&ctx, C::Rename(a.clone())),
        Command::Diff(a) => return container(&ctx, C::Diff(a.clone())),
        Command::Commit(a) => return container(&ctx, C::Commit(a.clone())),
        Command::Cp(a) => return container(&ctx, C::Cp(a.clone())),
        Command::Export(a) => return container(&ctx, C::Export(a.clone())),
        Command::Exec(a) => return cmd::container::exec::execute(&ctx, a),
        Command::Container(c) => return cmd::container::execute(&ctx, c),
        Command::Volume(c) => return cmd::volume::execute(&ctx, c),
        Command::Shim(a) => return cmd::container::shim(&ctx, a),
    }
    Ok(ExitCode::SUCCESS)
}
