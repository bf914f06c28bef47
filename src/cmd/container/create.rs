//! `run` and `create`: the container made, then (for `run`) started and,
//! unless `-d`, followed to its end. Exit status as Docker's: 125 when
//! glassbox fails, 126 when the command cannot be run, 127 when it is not
//! found, else the container's own.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;

use super::{Ctx, code, run, trace_args};
use crate::container::{self, attach, launch};

pub fn run(ctx: &Ctx, a: &run::RunArgs) -> Result<ExitCode> {
    if a.tty && a.interactive && !std::io::stdin().is_terminal() && !a.detach {
        eprintln!("the input device is not a TTY");
        return Ok(ExitCode::from(1));
    }
    let keys = container::detach_keys::resolve(a.detach_keys.as_deref())?;
    let req = run::request(a)?;
    if crate::trace::dry_run() {
        let c = container::plan::run(&ctx.root, &req, !a.detach)?;
        println!("{}", c.id);
        return Ok(ExitCode::SUCCESS);
    }
    container::network::check_join_now(&ctx.root, &req)?;
    let c = container::create::create(&ctx.root, &req)?;
    let attached = (!a.detach).then_some(attach::Options {
        stdin: a.interactive,
        tty: a.tty,
        sig_proxy: a.sig_proxy,
        detach_keys: Some(keys),
        close_stdin: true,
    });
    match launch::start(&ctx.root, &c, attached, &trace_args(ctx)) {
        // `-d`: the id, once the init runs.
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

pub fn create(ctx: &Ctx, a: &run::RunArgs) -> Result<ExitCode> {
    container::detach_keys::resolve(a.detach_keys.as_deref())?;
    let req = run::request(a)?;
    let c = if crate::trace::dry_run() {
        container::plan::create(&ctx.root, &req)?
    } else {
        container::create::create(&ctx.root, &req)?
    };
    println!("{}", c.id);
    Ok(ExitCode::SUCCESS)
}
