//! An attached container in the CLI: the container's output to this
//! command's stdout and stderr (one stream with `-t`), this command's
//! input to the container (`-i`; its end closes the container's stdin),
//! the signals this command receives passed to the container's init
//! (Docker's `--sig-proxy`: `run` passes them with or without `-t`,
//! `start -a` only without), the terminal's size when it changes. With
//! `-t` the terminal is put in raw mode (keys go to the container as they
//! are typed; Ctrl-C is a byte for the container's terminal to turn into
//! SIGINT) and restored on every way out. With `-t` and `-i` the detach
//! keys ([`super::detach_keys`], Ctrl-P Ctrl-Q) end the session and leave
//! the container running; several sessions may be attached at once (the
//! shim sends its output to each). Read `termios(3)`, `signalfd(2)`.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::client::Conn;
use super::detach_keys::{self, Matcher};
use super::protocol::{self, Event, Kind, Request};

/// How the session is attached.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Send this command's stdin to the container.
    pub stdin: bool,
    /// The container has a terminal: raw mode here, resizes followed.
    pub tty: bool,
    /// Pass the signals this command receives to the container (with
    /// `-t` too: a SIGTERM to `run -it` ends the container, and the
    /// terminal is restored, instead of ending this command alone).
    pub sig_proxy: bool,
    /// The detach keys (`--detach-keys`; Docker's Ctrl-P Ctrl-Q when
    /// `None`): matched only with a terminal and stdin, as Docker does.
    pub detach_keys: Option<Vec<u8>>,
    /// Without a terminal, close the container's stdin when this
    /// command's input ends (Docker's `StdinOnce`: `run -i` and `start -ai`
    /// do; `attach` to a `run -di` container leaves it open for the next).
    pub close_stdin: bool,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The container exited with this code.
    Exited(i32),
    /// The shim closed the connection without saying (the caller reads
    /// the code from the record).
    Closed,
    /// The detach keys were typed: the container runs on.
    Detached,
}

/// The terminal's settings, restored when dropped.
pub(crate) struct RawMode {
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    /// Put this command's terminal (its stdin) in raw mode; `None` when
    /// stdin is no terminal.
    pub(crate) fn enter() -> Result<Option<RawMode>> {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return Ok(None);
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).context("tcsetattr(3) raw mode")?;
        Ok(Some(RawMode { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        use nix::sys::termios::{SetArg, tcsetattr};
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// The size of this command's terminal, if it has one (0x0 otherwise).
pub fn terminal_size() -> (u16, u16) {
    crate::ns::console::get_size(libc::STDOUT_FILENO)
        .or_else(|| crate::ns::console::get_size(libc::STDIN_FILENO))
        .unwrap_or((0, 0))
}

/// The signals an attached command (run, start -a, exec) passes on.
pub const PROXIED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Relay between this command and the container until it exits (its exit
/// code), the shim closes the connection, or the detach keys are typed
/// (Docker's message printed once the terminal is restored). The
/// connection is attached and the container started.
pub fn session(conn: Conn, opts: Options) -> Result<Ended> {
    let mut set = SigSet::empty();
    if opts.sig_proxy {
        for s in PROXIED {
            set.add(s);
        }
    }
    if opts.tty {
        set.add(Signal::SIGWINCH);
    }
    // Blocked before the input thread exists, so it inherits the mask and
    // every such signal reaches the signalfd.
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
        .context("sigprocmask(2)")?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd(2)")?;
    // Raw only when the keys go to the container (Docker's: without stdin,
    // Ctrl-C stays this command's own signal).
    let raw = if opts.tty && opts.stdin {
        RawMode::enter()?
    } else {
        None
    };
    let writer = Arc::new(Mutex::new(
        conn.stream
            .try_clone()
            .context("clone the shim connection")?,
    ));
    if opts.tty {
        // A new session on a running terminal: the size of this one.
        let (rows, cols) = terminal_size();
        if rows > 0 && cols > 0 {
            let mut s = writer.lock().unwrap_or_else(|e| e.into_inner());
            let _ = protocol::send_request(&mut *s, &Request::Resize { rows, cols });
        }
    }
    let detached = Arc::new(AtomicBool::new(false));
    if opts.stdin {
        let w = writer.clone();
        let close = !opts.tty && opts.close_stdin;
        let tty = opts.tty;
        // Docker matches the detach keys only on a terminal.
        let matcher = tty.then(|| {
            Matcher::new(
                opts.detach_keys
                    .clone()
                    .unwrap_or_else(|| detach_keys::DEFAULT.to_vec()),
            )
        });
        let flag = detached.clone();
        std::thread::spawn(move || input(w, matcher, close, flag));
    }
    let result = relay(conn, &sfd, &writer, &opts, &detached);
    drop(raw);
    drop(sfd);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    if let Ok(Ended::Detached) = result {
        eprintln!("{}", detach_keys::DETACHED_MESSAGE);
    }
    result
}

/// This command's stdin to the container, through the detach keys'
/// matcher (with a terminal); at the keys, mark the session detached and
/// shut the connection, which ends the relay.
fn input(
    w: Arc<Mutex<std::os::unix::net::UnixStream>>,
    mut matcher: Option<Matcher>,
    close: bool,
    detached: Arc<AtomicBool>,
) {
    let send = |bytes: &[u8]| -> bool {
        if bytes.is_empty() {
            return true;
        }
        let mut s = w.lock().unwrap_or_else(|e| e.into_inner());
        protocol::write_frame(&mut *s, Kind::Stdin, bytes).is_ok()
    };
    let mut buf = [0u8; 32 * 1024];
    let mut stdin = std::io::stdin().lock();
    loop {
        match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let fed = match &mut matcher {
                    Some(m) => m.feed(&buf[..n]),
                    None => detach_keys::Fed {
                        pass: buf[..n].to_vec(),
                        detach: false,
                    },
                };
                if !send(&fed.pass) {
                    return;
                }
                if fed.detach {
                    detached.store(true, Ordering::SeqCst);
                    let s = w.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = s.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        }
    }
    if let Some(m) = &mut matcher
        && !send(&m.flush())
    {
        return;
    }
    if close {
        let mut s = w.lock().unwrap_or_else(|e| e.into_inner());
        let _ = protocol::send_request(&mut *s, &Request::CloseStdin);
    }
}

fn relay(
    mut conn: Conn,
    sfd: &SignalFd,
    writer: &Arc<Mutex<std::os::unix::net::UnixStream>>,
    opts: &Options,
    detached: &AtomicBool,
) -> Result<Ended> {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    loop {
        let (sock_ready, sig_ready) = {
            let mut fds = [
                PollFd::new(conn.stream.as_fd(), PollFlags::POLLIN),
                PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("poll(2)"),
            }
            (fds[0].any().unwrap_or(false), fds[1].any().unwrap_or(false))
        };
        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                let mut s = writer.lock().unwrap_or_else(|e| e.into_inner());
                if sig == libc::SIGWINCH {
                    let (rows, cols) = terminal_size();
                    let _ = protocol::send_request(&mut *s, &Request::Resize { rows, cols });
                } else if opts.sig_proxy {
                    let _ = protocol::send_request(&mut *s, &Request::Signal { signal: sig });
                }
            }
        }
        if !sock_ready {
            continue;
        }
        let frame = protocol::read_frame(&mut conn.stream);
        if detached.load(Ordering::SeqCst) {
            return Ok(Ended::Detached);
        }
        match frame? {
            None => return Ok(Ended::Closed),
            Some((Kind::Stdout, bytes)) => {
                out.write_all(&bytes).context("write to stdout")?;
                out.flush().ok();
            }
            Some((Kind::Stderr, bytes)) => {
                err.write_all(&bytes).context("write to stderr")?;
            }
            Some((Kind::Event, p)) => match protocol::decode::<Event>(&p)? {
                Event::Exited { code, .. } => return Ok(Ended::Exited(code)),
                Event::Error { message } => bail!("{message}"),
                _ => {}
            },
            Some(_) => {}
        }
    }
}
