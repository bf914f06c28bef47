//! `cp` and `export` (also `container cp|export`): arguments and
//! printing only; the work is in `container::copy` and
//! `container::export`. As Docker's CLI: an error of the command line or
//! of a host path is printed as it is, one of the container's side as
//! `Error response from daemon: ...`; both exit 1.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::{Ctx, as_docker, daemon_error};
use crate::container::copy::{self, Direction, Here, Request};
use crate::container::{export, human, view};

/// `cp`'s flags and its two paths.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Use '-' as the source to read a tar archive from stdin\n\
and extract it to a directory destination in a container.\n\
Use '-' as the destination to stream a tar archive of a\n\
container source to stdout."
)]
pub struct CpArgs {
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Suppress progress output during copy (automatic without a terminal)
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, or SRC_PATH|- on the host
    #[arg(value_name = "SRC", allow_hyphen_values = true)]
    pub src: String,
    /// DEST_PATH|- on the host, or CONTAINER:DEST_PATH
    #[arg(value_name = "DEST", allow_hyphen_values = true)]
    pub dest: String,
}

/// `export`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The container to export
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Docker's `splitCpArg`: `NAME:PATH` names a container unless the
/// argument is an absolute path or starts with `.` (`./a:b` is local).
pub fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((ctr, path)) if !ctr.starts_with('.') => (Some(ctr), path),
        _ => (None, arg),
    }
}

/// A host path made absolute, its trailing `/` or `/.` kept.
fn local(path: &str) -> Result<Here> {
    if path == "-" {
        return Ok(Here::Stream);
    }
    if path.starts_with('/') {
        return Ok(Here::Path(path.into()));
    }
    let cwd = std::env::current_dir()?;
    Ok(Here::Path(
        format!("{}/{path}", cwd.display().to_string().trim_end_matches('/')).into(),
    ))
}

/// A container path: relative to its `/`, as Docker takes it.
fn inside(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// The request `cp SRC DEST` makes, or the CLI's own error.
pub fn request(a: &CpArgs) -> Result<Request, String> {
    if a.src.is_empty() {
        return Err("source can not be empty".into());
    }
    if a.dest.is_empty() {
        return Err("destination can not be empty".into());
    }
    let direction = match (split_cp_arg(&a.src), split_cp_arg(&a.dest)) {
        ((Some(_), _), (Some(_), _)) => {
            return Err("copying between containers is not supported".into());
        }
        ((None, _), (None, _)) => {
            return Err("must specify at least one container source".into());
        }
        ((Some(c), src), (None, dest)) => (
            c,
            Direction::From {
                src: inside(src),
                dest: local(dest).map_err(|e| format!("{e:#}"))?,
            },
        ),
        ((None, src), (Some(c), dest)) => (
            c,
            Direction::To {
                src: local(src).map_err(|e| format!("{e:#}"))?,
                dest: inside(dest),
            },
        ),
    };
    Ok(Request {
        container: direction.0.to_string(),
        direction: direction.1,
        follow: a.follow_link,
        archive: a.archive,
    })
}

pub fn cp(ctx: &Ctx, a: &CpArgs) -> Result<ExitCode> {
    let req = match request(a) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(ExitCode::from(1));
        }
    };
    match copy::copy(&ctx.root, &req) {
        Ok(done) => {
            let quiet = a.quiet || !std::io::stdout().is_terminal();
            let to_stdout = matches!(
                req.direction,
                Direction::From {
                    dest: Here::Stream,
                    ..
                }
            );
            if !quiet && !to_stdout {
                eprintln!(
                    "Successfully copied {} to {}",
                    human::human_size(done.bytes, 3),
                    done.dest
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if view::is_local(&e) => {
            eprintln!("{e:#}");
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            daemon_error(&e);
            Ok(ExitCode::from(1))
        }
    }
}

pub fn export(ctx: &Ctx, a: &ExportArgs) -> Result<ExitCode> {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        eprintln!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return Ok(ExitCode::from(1));
    }
    if let Some(out) = &a.output
        && let Err(e) = copy::validate_output_path(out)
    {
        eprintln!("failed to export container: {e:#}");
        return Ok(ExitCode::from(1));
    }
    as_docker(
        export::export(&ctx.root, &a.container, a.output.as_deref()).map(|_| ExitCode::SUCCESS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_split_as_docker_splits_them() {
        assert_eq!(
            split_cp_arg("web:/etc/passwd"),
            (Some("web"), "/etc/passwd")
        );
        assert_eq!(split_cp_arg("web:etc"), (Some("web"), "etc"));
        assert_eq!(split_cp_arg("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split_cp_arg("./a:b"), (None, "./a:b"));
        assert_eq!(split_cp_arg("plain"), (None, "plain"));
        assert_eq!(split_cp_arg("-"), (None, "-"));
        assert_eq!(inside("etc/hosts"), "/etc/hosts");
    }
}
