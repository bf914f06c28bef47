//! `glassbox image ...` (and the `pull`, `images`, `rmi`, `login` and
//! `logout` shortcuts): take the arguments apart, call `crate::image`,
//! print what it returns. Under `--dry-run` a command whose plan could not
//! read the store (it is root's alone) prints nothing: the plan on stderr
//! says what needed root.

mod args;

use std::io::IsTerminal;

use anyhow::{Result, bail};

pub use args::*;

use super::Ctx;
use crate::image::archive::{self, Input};
use crate::image::human::{self, HistoryOptions, LsOptions};
use crate::image::import::{self, Source};
use crate::image::manifest::Platform;
use crate::image::pull::{PullOptions, pull};
use crate::image::reference::Reference;
use crate::image::save::{Dest, save};
use crate::image::{auth, manage};
use crate::trace::{self, Done, Mechanism};

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<()> {
    let root = &ctx.root;
    match cmd {
        Command::Pull(a) => cmd_pull(ctx, a),
        Command::Ls(a) => {
            let opts = LsOptions {
                reference: a.reference.clone(),
                quiet: a.quiet,
                digests: a.digests,
                no_trunc: a.no_trunc,
                format: a.format.clone(),
                tree: a.tree,
            };
            print(human::ls(root, &opts)?);
            Ok(())
        }
        Command::Rm(a) => {
            print_lines(manage::remove(root, &a.images, a.force)?);
            Ok(())
        }
        Command::Inspect(a) => {
            if let Done::Ran(found) = human::inspect(root, &a.images)? {
                match &a.format {
                    // Docker's --format: the template once per image, a line each.
                    Some(f) => {
                        let values: Vec<serde_json::Value> = serde_json::from_str(&found.json)?;
                        print!("{}", crate::template::each_line(f, &values)?);
                    }
                    None => println!("{}", found.json),
                }
                if !found.missing.is_empty() {
                    bail!("{}", found.missing.join("\n"));
                }
            }
            Ok(())
        }
        Command::History(a) => {
            let opts = HistoryOptions {
                no_trunc: a.no_trunc,
                quiet: a.quiet,
            };
            print(human::history(root, &a.image, &opts)?);
            Ok(())
        }
        Command::Tag(a) => manage::tag(root, &a.source, &a.target).map(|_| ()),
        Command::Prune(a) => {
            if let Done::Ran((lines, bytes)) = manage::prune(root, a.all)? {
                print!("{}", human::prune_report(&lines, bytes));
            }
            Ok(())
        }
        Command::Layers(a) => {
            print(human::layers(root, &a.format)?);
            Ok(())
        }
        Command::Load(a) => {
            let lines = match &a.input {
                Some(p) if p.as_os_str() != "-" => archive::load(root, Input::Path(p))?,
                _ => {
                    let mut stdin = piped_stdin()?;
                    archive::load(root, Input::Stream(&mut stdin))?
                }
            };
            if !a.quiet {
                print_lines(Done::Ran(lines));
            }
            Ok(())
        }
        Command::Save(a) => {
            let dest = match &a.output {
                Some(p) => Dest::Path(p),
                None if std::io::stdout().is_terminal() => {
                    bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect")
                }
                None => Dest::Stdout,
            };
            save(root, &a.images, dest).map(|_| ())
        }
        Command::Import(a) => {
            let reference = a.reference.as_deref();
            let message = a.message.as_deref();
            let id = if a.source == "-" {
                let mut stdin = piped_stdin()?;
                import::import(root, Source::Stream(&mut stdin), reference, message)?
            } else {
                let path = std::path::Path::new(&a.source);
                import::import(root, Source::Path(path), reference, message)?
            };
            print_id(id);
            Ok(())
        }
        Command::FromHost(a) => {
            print_id(import::from_host(root, &a.binaries, &a.tag)?);
            Ok(())
        }
    }
}

/// Standard input, which must not be a terminal (an archive or a layer
/// comes through a pipe or a redirection).
fn piped_stdin() -> Result<std::io::StdinLock<'static>> {
    if std::io::stdin().is_terminal() {
        bail!("requested load from stdin, but stdin is empty: use -i FILE or redirect input");
    }
    Ok(std::io::stdin().lock())
}

/// Print a command's text, unless its plan could not make it.
fn print(text: Done<String>) {
    if let Done::Ran(t) = text {
        print!("{t}");
    }
}

/// Print a new image's id, unless it was only planned.
fn print_id(id: Done<String>) {
    if let Done::Ran(id) = id {
        println!("{id}");
    }
}

/// Print a command's lines, unless its plan could not make them.
fn print_lines(lines: Done<Vec<String>>) {
    for l in lines.value().unwrap_or_default() {
        println!("{l}");
    }
}

pub fn cmd_pull(ctx: &Ctx, a: &PullArgs) -> Result<()> {
    let r = Reference::parse(&a.image)?;
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    let opts = PullOptions {
        platform,
        quiet: a.quiet,
        progress_to_stderr: false,
    };
    pull(&ctx.root, &r, &opts)?;
    println!("{r}");
    Ok(())
}

/// `glassbox login`: check the credentials against the registry, store them.
pub fn login(ctx: &Ctx, a: &LoginArgs) -> Result<()> {
    let password = auth::password(
        a.password.as_deref(),
        a.password_stdin,
        std::io::stdin().lock(),
    )?;
    let l = auth::Login {
        server: a.server.clone(),
        username: a.username.clone(),
        password,
    };
    match auth::login(&ctx.root, &l)?.stored {
        Done::Ran(path) => {
            trace::say(
                Mechanism::Image,
                format!("credentials stored in {}", path.display()),
            );
            println!("Login Succeeded");
        }
        Done::Planned => trace::say(
            Mechanism::Image,
            "dry run: the registry accepted the password; nothing was stored",
        ),
    }
    Ok(())
}

pub fn logout(ctx: &Ctx, a: &LogoutArgs) -> Result<()> {
    match auth::logout(&ctx.root, a.server.as_deref())? {
        (domain, Done::Ran(true)) => println!("Removing login credentials for {domain}"),
        (domain, Done::Ran(false)) => println!("Not logged in to {domain}"),
        (_, Done::Planned) => {}
    }
    Ok(())
}
