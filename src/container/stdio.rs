//! The standard streams of a container process and this side's ends of
//! them: with a terminal the process gets /dev/null here (its pty is made
//! inside the container), without one three pipes (stdin only when it is
//! kept open, else /dev/null), close-on-exec on our side. Read `pipe(2)`.

use std::os::fd::OwnedFd;

use anyhow::{Context, Result};

use crate::ns::spec::Stdio;

/// A pipe: (read end, write end), both close-on-exec.
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2(2)")
}

/// `/dev/null`, for reading and writing.
pub fn dev_null() -> Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("open /dev/null")?
        .into())
}

/// This side's ends of a process's pipes.
pub struct Pipes {
    /// Where its input is written; `None` when its stdin is /dev/null.
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The process's streams, and ours of them (`None` with a terminal).
pub fn make(tty: bool, open_stdin: bool) -> Result<(Stdio, Option<Pipes>)> {
    if tty {
        let stdio = Stdio::Fds {
            stdin: dev_null()?,
            stdout: dev_null()?,
            stderr: dev_null()?,
        };
        return Ok((stdio, None));
    }
    let (in_r, in_w) = if open_stdin {
        let (r, w) = pipe()?;
        (r, Some(w))
    } else {
        (dev_null()?, None)
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let stdio = Stdio::Fds {
        stdin: in_r,
        stdout: out_w,
        stderr: err_w,
    };
    let ours = Pipes {
        stdin: in_w,
        stdout: out_r,
        stderr: err_r,
    };
    Ok((stdio, Some(ours)))
}
