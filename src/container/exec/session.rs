//! An attached exec: glassbox is the process's parent and waits for it.
//! Its stdio are glassbox's own pipes (the caller's descriptors never go
//! into the container: a host terminal there could be fed keystrokes with
//! `TIOCSTI`, a host file written to), relayed to glassbox's stdout and
//! stderr, with `-i` from its stdin (whose end closes the process's
//! stdin). With `-t` the process gets a terminal from the container's own
//! devpts; glassbox relays its master, its own terminal in raw mode
//! (restored on every way out) and its size followed (`SIGWINCH`).
//! Without `-t`, the signals glassbox receives (Ctrl-C, `kill`) are
//! passed to the process. Read `pty(7)`, `signalfd(2)`, `pipe(7)`.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::target::{Plan, Target};
use super::{Outcome, Request, launch};
use crate::container::attach::{PROXIED, RawMode, terminal_size};
use crate::ns::process::Child;
use crate::state::Root;
use crate::trace::Done;

/// How long output is still read after the process ended (a background
/// process of its own may hold its pipes or terminal open).
const DRAIN: Duration = Duration::from_secs(2);

/// glassbox's ends of the process's stdio.
enum Ends {
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    Terminal,
}

/// Start the process attached and relay until it ends.
pub fn run(root: &Root, target: &Target, plan: Plan, req: &Request) -> Result<Outcome> {
    let mut spec = plan.spec;
    let (stdio, ours) = crate::container::stdio::make(req.tty, req.interactive)?;
    spec.stdio = stdio;
    let ends = match ours {
        None => Ends::Terminal,
        Some(p) => Ends::Pipes {
            stdin: p.stdin,
            stdout: p.stdout,
            stderr: p.stderr,
        },
    };
    let size = if req.tty { terminal_size() } else { (0, 0) };
    let mut child = match launch::spawn(root, target, spec, size, false)? {
        Done::Planned => return Ok(Outcome::Planned),
        Done::Ran(child) => child,
    };
    let status = match ends {
        Ends::Terminal => {
            let master = child
                .take_console()
                .context("the process's terminal did not come back from the container")?;
            relay_terminal(&mut child, master, req.interactive)?
        }
        Ends::Pipes {
            stdin,
            stdout,
            stderr,
        } => relay_pipes(&mut child, stdin, stdout, stderr)?,
    };
    Ok(Outcome::Exited(status))
}

/// Block `set` for this thread (and the threads it starts) and read those
/// signals from a descriptor; the old mask is restored when dropped.
struct Signals {
    fd: SignalFd,
    old: SigSet,
}

impl Signals {
    fn catch(signals: &[Signal]) -> Result<Signals> {
        let mut set = SigSet::empty();
        for s in signals {
            set.add(*s);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .context("sigprocmask(2)")?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .context("signalfd(2)")?;
        Ok(Signals { fd, old })
    }

    fn pending(&self) -> Vec<i32> {
        let mut out = Vec::new();
        while let Ok(Some(info)) = self.fd.read_signal() {
            out.push(info.ssi_signo as i32);
        }
        out
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// Copy this command's stdin to `to` on a thread of its own (a write may
/// block until the process reads); `to` is closed at its end.
fn pump_stdin(to: OwnedFd) {
    std::thread::spawn(move || {
        let mut to = std::fs::File::from(to);
        let mut buf = [0u8; 32 * 1024];
        let mut stdin = std::io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Read up to 32 KiB from `fd`; `None` at its end (end of file, or `EIO`
/// from a terminal whose last user is gone).
fn read_some(fd: &OwnedFd) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return None,
            Ok(n) => {
                buf.truncate(n);
                return Some(buf);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// One output stream of the process and where it goes.
struct Stream {
    from: Option<OwnedFd>,
    to_stderr: bool,
}

/// Relay `streams` to this command's stdout and stderr until the child
/// exits and its output is drained; signals are handed to `on_signal`.
/// The child's status.
fn relay(
    child: &mut Child,
    streams: &mut [Stream],
    signals: &Signals,
    mut on_signal: impl FnMut(&Child, i32),
) -> Result<i32> {
    let mut exit: Option<(i32, Instant)> = None;
    loop {
        let (ready, child_ready, sig_ready) = {
            // Once the process is reaped its pidfd stays readable: it is
            // no longer asked about (the signalfd, asked for nothing,
            // holds its place), or poll would spin while the output
            // drains (an orphan keeping the pipe open).
            let watched = match exit {
                None => PollFd::new(child.pidfd(), PollFlags::POLLIN),
                Some(_) => PollFd::new(signals.fd.as_fd(), PollFlags::empty()),
            };
            let mut fds = vec![watched, PollFd::new(signals.fd.as_fd(), PollFlags::POLLIN)];
            let open: Vec<usize> = (0..streams.len())
                .filter(|i| streams[*i].from.is_some())
                .collect();
            for i in &open {
                if let Some(fd) = &streams[*i].from {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                }
            }
            let timeout = match exit {
                Some(_) => PollTimeout::from(100u16),
                None => PollTimeout::NONE,
            };
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("poll(2)"),
            }
            let any = |f: &PollFd| f.any().unwrap_or(false);
            let ready: Vec<usize> = open
                .iter()
                .enumerate()
                .filter(|(k, _)| any(&fds[2 + k]))
                .map(|(_, i)| *i)
                .collect();
            (ready, any(&fds[0]), any(&fds[1]))
        };
        if sig_ready {
            for sig in signals.pending() {
                on_signal(child, sig);
            }
        }
        for i in ready {
            let s = &mut streams[i];
            let Some(fd) = &s.from else { continue };
            match read_some(fd) {
                Some(bytes) => {
                    let written = if s.to_stderr {
                        std::io::stderr().write_all(&bytes)
                    } else {
                        let mut out = std::io::stdout();
                        out.write_all(&bytes).and_then(|()| out.flush())
                    };
                    if written.is_err() {
                        // Nobody reads glassbox's output any more: stop
                        // relaying, keep waiting for the process.
                        s.from = None;
                    }
                }
                None => s.from = None,
            }
        }
        if child_ready
            && exit.is_none()
            && let Some(e) = child.try_wait()?
        {
            exit = Some((e.status(), Instant::now()));
        }
        if let Some((code, at)) = exit
            && (streams.iter().all(|s| s.from.is_none()) || at.elapsed() > DRAIN)
        {
            return Ok(code);
        }
    }
}

/// Without a terminal: the pipes, and the signals passed on.
fn relay_pipes(
    child: &mut Child,
    stdin: Option<OwnedFd>,
    stdout: OwnedFd,
    stderr: OwnedFd,
) -> Result<i32> {
    // Blocked before the input thread exists, so it inherits the mask.
    let signals = Signals::catch(&PROXIED)?;
    if let Some(w) = stdin {
        pump_stdin(w);
    }
    let mut streams = [
        Stream {
            from: Some(stdout),
            to_stderr: false,
        },
        Stream {
            from: Some(stderr),
            to_stderr: true,
        },
    ];
    relay(child, &mut streams, &signals, |c, sig| {
        let _ = c.signal(
            sig,
            "glassbox received this signal while attached to the process: it passes it on.",
        );
    })
}

/// With a terminal: the master relayed, resizes followed. With `-i` this
/// command's terminal is in raw mode (Ctrl-C is a key for the container's
/// terminal); without, the signals it receives are passed on.
fn relay_terminal(child: &mut Child, master: OwnedFd, interactive: bool) -> Result<i32> {
    let mut caught = vec![Signal::SIGWINCH];
    if !interactive {
        caught.extend(PROXIED);
    }
    let signals = Signals::catch(&caught)?;
    let raw = if interactive { RawMode::enter()? } else { None };
    if interactive {
        let to = master.try_clone().context("dup(2) the terminal's master")?;
        pump_stdin(to);
    }
    let mut streams = [Stream {
        from: Some(master.try_clone().context("dup(2) the terminal's master")?),
        to_stderr: false,
    }];
    let result = relay(child, &mut streams, &signals, |c, sig| {
        if sig == libc::SIGWINCH {
            let (rows, cols) = terminal_size();
            if rows > 0 && cols > 0 {
                let _ = crate::ns::console::set_size(&master, rows, cols);
            }
        } else {
            let _ = c.signal(
                sig,
                "glassbox received this signal while attached to the process: it passes it on.",
            );
        }
    });
    drop(raw);
    result
}
