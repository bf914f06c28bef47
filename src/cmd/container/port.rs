//! `port` and `rename`: a container's published ports, and a new name for
//! it, printed and reported as the Docker CLI does.

use std::process::ExitCode;

use anyhow::Result;

use super::{Ctx, daemon_error};
use crate::container::{port, rename, settle, state};

#[derive(Debug, Clone, clap::Args)]
pub struct PortArgs {
    /// The container
    pub container: String,
    /// Only this port of the container: PRIVATE_PORT[/PROTO]
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RenameArgs {
    /// The container's name or id
    pub container: String,
    /// Its new name
    pub new_name: String,
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`: `80/tcp -> 0.0.0.0:32768`.
pub fn port(ctx: &Ctx, a: &PortArgs) -> Result<ExitCode> {
    let c = match state::find(&ctx.root, &a.container) {
        Ok(c) => settle::settle(&ctx.root, &c)?,
        Err(e) => {
            daemon_error(&e);
            return Ok(ExitCode::from(1));
        }
    };
    match port::lines(&c, &a.container, a.port.as_deref()) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            Ok(ExitCode::SUCCESS)
        }
        // The Docker CLI's own errors.
        Err(e) => {
            eprintln!("{e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `rename CONTAINER NEW_NAME`.
pub fn rename(ctx: &Ctx, a: &RenameArgs) -> Result<ExitCode> {
    let (old, new) = (a.container.trim(), a.new_name.trim());
    if old.is_empty() || new.is_empty() {
        eprintln!("Error: Neither old nor new names may be empty");
        return Ok(ExitCode::from(1));
    }
    match rename::rename(&ctx.root, old, new) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            daemon_error(&e);
            eprintln!("Error: failed to rename container named {old}");
            Ok(ExitCode::from(1))
        }
    }
}
