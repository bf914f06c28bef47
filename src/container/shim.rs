//! The shim: one small monitor process per running container, the
//! container init's parent (the design's daemonless shape; conmon does
//! this for Podman, containerd-shim for Docker). `glassbox` re-executes
//! itself as `glassbox shim ID`, detached from the command that started it
//! (its own session, stdio on `/dev/null`, `/` as its directory, never in
//! the container's cgroup, a low `oom_score_adj`), and then:
//!
//! - holds `run/containers/ID/shim.lock` for its whole life: a command
//!   that can take the lock knows the shim is gone;
//! - serves the CLI on `run/containers/ID/shim.sock` ([`super::protocol`]):
//!   attach, start, signals, resizes, the exit;
//! - starts the init on request ([`super::start`]), reaps it and anything
//!   re-parented to it (`PR_SET_CHILD_SUBREAPER`), writes its output to
//!   the json-file log and to attached clients;
//! - when the init exits: reads OOM, writes the exit atomically, releases
//!   the per-run resources ([`super::teardown`]), removes the container
//!   with `--rm`, tells the clients, and exits.
//!
//! Read `prctl(2)` (`PR_SET_CHILD_SUBREAPER`), `setsid(2)`, `unix(7)`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::trace::Mechanism;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::logfile::{self, LogFile, Rotation, Stream};
use super::protocol::{self, Event, Kind, Request};
use super::start::{self, Started};
use super::state::{self, Status};
use super::teardown;
use crate::state::{Root, StateLock};

/// How long a shim waits for the start request before it gives up (the
/// command that started it died).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a running container's shim waits for a quiet moment before
/// it gives back the memory only the start needed ([`super::slim`]).
const QUIET_BEFORE_SLIMMING_MS: u16 = 1000;

/// How long output is still read after the init exited (its pipes close
/// once the last process of the container is gone).
const DRAIN: Duration = Duration::from_secs(2);

/// The shim's socket and lock.
pub fn socket_path(root: &Root, id: &str) -> PathBuf {
    state::run_dir(root, id).join("shim.sock")
}

pub fn lock_path(root: &Root, id: &str) -> PathBuf {
    state::run_dir(root, id).join("shim.lock")
}

/// Where shims note what went wrong once nobody reads their stderr:
/// `<run dir>/shims.log`, one line per event, with the container's id.
pub fn log_path(root: &Root) -> PathBuf {
    root.run.join("shims.log")
}

/// Append a line to the shims' log.
pub fn log_line(root: &Root, id: &str, text: &str) {
    use std::io::Write as _;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(root))
    {
        let _ = writeln!(f, "{} {} {text}", now_log_time(), &id[..id.len().min(12)]);
    }
}

/// A panic in the shim goes to its log too.
pub fn log_failures(root: &Root, id: &str) {
    let (root, id) = (root.clone(), id.to_string());
    std::panic::set_hook(Box::new(move |info| {
        log_line(&root, &id, &format!("panic: {info}"));
    }));
}

/// A unix socket's path may hold only 107 bytes (`sun_path`), and a state
/// root can be deep: the socket is bound and reached through its
/// directory's descriptor (`/proc/self/fd/N/shim.sock`), which is short
/// whatever the root. Read `unix(7)`.
fn via_dir<T>(
    path: &std::path::Path,
    f: impl FnOnce(&std::path::Path) -> std::io::Result<T>,
) -> Result<T> {
    let dir = path
        .parent()
        .with_context(|| format!("socket {} has no directory", path.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("socket {} has no name", path.display()))?;
    let d = std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
    let short = PathBuf::from(format!("/proc/self/fd/{}", d.as_raw_fd())).join(name);
    f(&short).with_context(|| format!("unix socket {}", path.display()))
}

/// Listen on the socket at `path`.
pub fn bind_socket(path: &std::path::Path) -> Result<UnixListener> {
    via_dir(path, |p| UnixListener::bind(p))
}

/// Connect to the socket at `path`.
pub fn connect_socket(path: &std::path::Path) -> Result<UnixStream> {
    via_dir(path, |p| UnixStream::connect(p))
}

/// Is a shim alive for container `id`? (Its lock is held.)
pub fn alive(root: &Root, id: &str) -> bool {
    let p = lock_path(root, id);
    if !p.exists() {
        return false;
    }
    matches!(StateLock::try_exclusive(&p), Ok(None))
}

/// One connected CLI.
struct Client {
    stream: UnixStream,
    hello: bool,
    /// Receives the container's output.
    attached: bool,
    /// May write to the container's stdin.
    stdin: bool,
    /// Wants the exit.
    waits: bool,
}

impl Client {
    fn send(&mut self, ev: &Event) -> bool {
        protocol::send_event(&mut self.stream, ev).is_ok()
    }
}

/// The shim's own process setup: ignore SIGPIPE (a client that went away
/// must not kill the shim), become a subreaper, keep out of the OOM
/// killer's way, `/` as directory.
fn become_monitor(root: &Root, id: &str) -> Result<()> {
    // SAFETY: setting SIGPIPE's disposition to ignore, at start, one thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == -1 {
        return Err(std::io::Error::last_os_error()).context("prctl(PR_SET_CHILD_SUBREAPER)");
    }
    // Lowering it needs CAP_SYS_RESOURCE; without, the shim runs with the
    // score it inherited, and says so in the shims' log.
    // (A detail: whether it succeeds depends on the host, not the lesson.)
    let adj = Path::new("/proc/self/oom_score_adj");
    let value = OOM_SCORE_ADJ.to_string();
    if let Err(e) = crate::host::write_file_step(Mechanism::Run, adj, &value)
        .why("The OOM killer picks the shim last: its container's processes go first, and the shim lives to record how they ended.")
        .detail()
        .run(|| std::fs::write(adj, &value).with_context(|| format!("write {}", adj.display())))
    {
        log_line(
            root,
            id,
            &format!(
                "could not lower oom_score_adj to {OOM_SCORE_ADJ} ({e}): lowering it needs CAP_SYS_RESOURCE"
            ),
        );
    }
    std::env::set_current_dir("/").context("chdir /")?;
    Ok(())
}

/// The shim's `oom_score_adj`: the OOM killer picks it last (its container
/// is killed first; the container's own limit never counts it).
pub const OOM_SCORE_ADJ: i32 = -999;

/// The whole life of a shim. `ready` is the pipe the starting command
/// reads: one line, `ready` once the socket listens (or the error).
pub fn main(root: &Root, id: &str, ready: OwnedFd) -> Result<()> {
    let mut ready = std::fs::File::from(ready);
    let setup = (|| -> Result<(StateLock, UnixListener)> {
        become_monitor(root, id)?;
        let run = state::run_dir(root, id);
        crate::host::mkdir(Mechanism::Run, &run)?;
        let Some(lock) = StateLock::try_exclusive(&lock_path(root, id))? else {
            bail!("container {id} already has a shim: it is running");
        };
        let sock = socket_path(root, id);
        crate::host::remove_file(
            Mechanism::Run,
            &sock,
            "A socket left by a shim that died is in the way of bind(2): the lock shows no shim holds it.",
        )?;
        let listener = bind_socket(&sock)
            .with_context(|| format!("bind the shim socket {}", sock.display()))?;
        Ok((lock, listener))
    })();
    let (_lock, listener) = match setup {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(ready, "error: {e:#}");
            return Err(e);
        }
    };
    let _ = writeln!(ready, "ready");
    drop(ready);
    let mut shim = Shim {
        root: root.clone(),
        id: id.to_string(),
        listener,
        clients: BTreeMap::new(),
        next: 0,
        // SAFETY: getppid(2) cannot fail.
        starter: unsafe { libc::getppid() },
    };
    let served = shim.serve();
    shim.close_socket();
    served
}

struct Shim {
    root: Root,
    id: String,
    listener: UnixListener,
    clients: BTreeMap<usize, Client>,
    next: usize,
    /// The command that started this shim (its parent until it exits).
    starter: libc::pid_t,
}

/// What a client asked in one read.
enum Asked {
    Nothing,
    Start {
        rows: u16,
        cols: u16,
    },
    /// A signal before anything runs (`rm -f` of a container being
    /// started): the shim ends, nothing started.
    Quit,
    Gone,
}

impl Shim {
    fn accept(&mut self) {
        if let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
            self.clients.insert(
                self.next,
                Client {
                    stream,
                    hello: false,
                    attached: false,
                    stdin: false,
                    waits: false,
                },
            );
            self.next += 1;
        }
    }

    /// Read one frame of client `k` and act on it.
    fn handle(&mut self, k: usize, io: &mut Option<&mut Io>) -> Asked {
        let Some(c) = self.clients.get_mut(&k) else {
            return Asked::Gone;
        };
        let frame = match protocol::read_frame(&mut c.stream) {
            Ok(Some(f)) => f,
            _ => return Asked::Gone,
        };
        match frame {
            (Kind::Request, payload) => {
                let req: Request = match protocol::decode(&payload) {
                    Ok(r) => r,
                    Err(e) => {
                        c.send(&Event::Error {
                            message: format!("{e:#}"),
                        });
                        return Asked::Gone;
                    }
                };
                if !c.hello && !matches!(req, Request::Hello { .. }) {
                    c.send(&Event::Error {
                        message: "shim protocol: hello first".into(),
                    });
                    return Asked::Gone;
                }
                match req {
                    Request::Hello { version } => {
                        if let Err(e) = protocol::check_version(version) {
                            c.send(&Event::Error {
                                message: format!("{e:#}"),
                            });
                            return Asked::Gone;
                        }
                        c.hello = true;
                        c.send(&Event::Hello {
                            version: protocol::VERSION,
                            id: self.id.clone(),
                        });
                    }
                    Request::Attach { stdin } => {
                        c.attached = true;
                        c.stdin = stdin;
                    }
                    Request::Wait => c.waits = true,
                    Request::Start { rows, cols } => {
                        if io.is_some() {
                            c.send(&Event::Error {
                                message: format!("container {} is already running", self.id),
                            });
                        } else {
                            return Asked::Start { rows, cols };
                        }
                    }
                    Request::Signal { signal } => match io {
                        Some(io) => {
                            let _ = io.started.child.signal(
                                signal,
                                "Another glassbox command (kill, stop, an attached run) asked for this signal.",
                            );
                        }
                        None if signal == libc::SIGKILL => return Asked::Quit,
                        None => {}
                    },
                    Request::Resize { rows, cols } => {
                        if let Some(io) = io
                            && let Some(m) = &io.started.console
                        {
                            let _ = crate::ns::console::set_size(m, rows, cols);
                        }
                    }
                    Request::CloseStdin => {
                        if let Some(io) = io
                            && io.started.console.is_none()
                        {
                            io.started.stdin = None;
                        }
                    }
                }
            }
            (Kind::Stdin, bytes) => {
                if c.stdin
                    && let Some(io) = io
                {
                    io.write_stdin(&bytes);
                }
            }
            _ => return Asked::Gone,
        }
        Asked::Nothing
    }

    /// Remove the socket: nobody is served any more. The shim's last step.
    fn close_socket(&self) {
        let _ = crate::host::remove_file(
            crate::trace::Mechanism::Run,
            &socket_path(&self.root, &self.id),
            "The shim is done: nobody listens on its socket any more.",
        );
    }

    /// Accept clients and answer them until one asks to start; then start
    /// the init, and follow it to its end.
    fn serve(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let (starter, rows, cols) = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "nobody asked container {} to start within a minute",
                    self.id
                );
            }
            // SAFETY: getppid(2) cannot fail.
            if unsafe { libc::getppid() } != self.starter && self.clients.is_empty() {
                // The command that started this shim died before it asked
                // for the start (a crash, Ctrl-C): nothing to run.
                log_line(
                    &self.root,
                    &self.id,
                    "the command that started this shim is gone before the start: ending",
                );
                return Ok(());
            }
            let keys: Vec<usize> = self.clients.keys().copied().collect();
            let ready = {
                let mut fds = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
                for k in &keys {
                    fds.push(PollFd::new(
                        self.clients[k].stream.as_fd(),
                        PollFlags::POLLIN,
                    ));
                }
                let ms = left.as_millis().min(250) as u16;
                match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e).context("poll(2) on the shim socket"),
                }
                fds.iter()
                    .map(|f| f.any().unwrap_or(false))
                    .collect::<Vec<bool>>()
            };
            if ready[0] {
                self.accept();
            }
            let mut found = None;
            for (i, k) in keys.iter().enumerate() {
                if ready[i + 1] {
                    match self.handle(*k, &mut None) {
                        Asked::Gone => {
                            self.clients.remove(k);
                        }
                        Asked::Start { rows, cols } => {
                            found = Some((*k, rows, cols));
                            break;
                        }
                        Asked::Quit => return Ok(()),
                        Asked::Nothing => {}
                    }
                }
            }
            if let Some(f) = found {
                break f;
            }
        };
        let shim_pid = std::process::id();
        let started = match start::start(&self.root, &self.id, shim_pid, rows, cols) {
            Ok(s) => s,
            Err(e) => {
                let (code, message) = start::failure(&e);
                // Docker leaves a container that could not start `Created`,
                // its error recorded; `--rm` removes it.
                let _ = teardown::after_failed_start(&self.root, &self.id, code, &message);
                if let Some(c) = self.clients.get_mut(&starter) {
                    c.send(&Event::StartFailed { code, message });
                }
                return Ok(());
            }
        };
        // From here on the shim's own trace has nobody to read it.
        quiet_stderr();
        let pid = started.child.pid().as_raw() as u32;
        let record = state::load(&self.root, &self.id)?
            .with_context(|| format!("the record of container {} is gone", self.id))?;
        // Recorded before anyone hears of the start: the events log is in
        // the order the commands saw.
        crate::events::container(&self.root, &record, "start");
        for c in self.clients.values_mut() {
            if c.hello {
                c.send(&Event::Started { pid });
            }
        }
        let rotation = Rotation {
            max_size: record.host_config.log_config.max_size,
            max_file: record.host_config.log_config.max_file.unwrap_or(1),
        };
        let log = LogFile::open(&record.log_path, rotation)?;
        let mut io = Io {
            started,
            log,
            log_broken: false,
        };
        let exit = self.follow(&mut io)?;
        let oom = teardown::finish(&self.root, &self.id, exit)?;
        for c in self.clients.values_mut() {
            if c.hello && (c.attached || c.waits) {
                c.send(&Event::Exited {
                    code: exit,
                    oom_killed: oom,
                });
            }
        }
        Ok(())
    }

    /// The running container: relay output and input, pass on requests,
    /// until the init exits and its output is drained. The init's status.
    fn follow(&mut self, io: &mut Io) -> Result<i32> {
        let mut exit: Option<(i32, Instant)> = None;
        let mut slim = false;
        loop {
            let keys: Vec<usize> = self.clients.keys().copied().collect();
            let outputs = io.outputs();
            let ready = {
                // Once the init is reaped its pidfd stays readable: it is
                // no longer asked about (the listener, asked for nothing,
                // holds its place), or poll would spin while the output
                // drains.
                let child = match exit {
                    None => PollFd::new(io.started.child.pidfd(), PollFlags::POLLIN),
                    Some(_) => PollFd::new(self.listener.as_fd(), PollFlags::empty()),
                };
                let mut fds = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN), child];
                for (_, fd) in &outputs {
                    fds.push(PollFd::new(*fd, PollFlags::POLLIN));
                }
                for k in &keys {
                    fds.push(PollFd::new(
                        self.clients[k].stream.as_fd(),
                        PollFlags::POLLIN,
                    ));
                }
                let timeout = match exit {
                    Some(_) => PollTimeout::from(100u16),
                    None if !slim => PollTimeout::from(QUIET_BEFORE_SLIMMING_MS),
                    None => PollTimeout::NONE,
                };
                match nix::poll::poll(&mut fds, timeout) {
                    Ok(0) if exit.is_none() && !slim => {
                        // A quiet moment: the start's pages go back.
                        slim = true;
                        let _ = super::slim::shed();
                    }
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e).context("poll(2) in the shim"),
                }
                fds.iter()
                    .map(|f| f.any().unwrap_or(false))
                    .collect::<Vec<bool>>()
            };
            let streams: Vec<Stream> = outputs.iter().map(|(s, _)| *s).collect();
            drop(outputs);
            if ready[0] {
                self.accept();
            }
            if ready[1]
                && exit.is_none()
                && let Some(e) = io.started.child.try_wait()?
            {
                exit = Some((e.status(), Instant::now()));
            }
            for (i, s) in streams.iter().enumerate() {
                if ready[2 + i] {
                    let chunk = io.read(*s);
                    match chunk {
                        Some(bytes) => self.fan_out(io, *s, &bytes),
                        None => io.close(*s),
                    }
                }
            }
            let base = 2 + streams.len();
            for (i, k) in keys.iter().enumerate() {
                if ready[base + i] {
                    let mut some_io = Some(&mut *io);
                    if let Asked::Gone | Asked::Quit = self.handle(*k, &mut some_io) {
                        self.clients.remove(k);
                    }
                }
            }
            // Only once the init is reaped: before, orphans inside go to
            // the container's PID 1, and waitpid(-1) here could take the
            // init's own status from its Child.
            if exit.is_some() {
                reap_orphans();
            }
            if let Some((code, at)) = exit
                && (io.outputs().is_empty() || at.elapsed() > DRAIN)
            {
                let now = now_log_time();
                let _ = io.log.flush(&now);
                return Ok(code);
            }
        }
    }

    /// Output to the log and to every attached client.
    fn fan_out(&mut self, io: &mut Io, s: Stream, bytes: &[u8]) {
        let now = now_log_time();
        if let Err(e) = io.log.write(s, bytes, &now)
            && !io.log_broken
        {
            // A full disk: keep draining the pipes (the container must
            // never block on its output), note it once.
            io.log_broken = true;
            let _ = e;
        }
        let kind = match s {
            Stream::Stdout => Kind::Stdout,
            Stream::Stderr => Kind::Stderr,
        };
        let mut gone = Vec::new();
        for (k, c) in self.clients.iter_mut() {
            if c.attached && protocol::write_frame(&mut c.stream, kind, bytes).is_err() {
                gone.push(*k);
            }
        }
        for k in gone {
            self.clients.remove(&k);
        }
    }
}

/// The running init and its streams.
struct Io {
    started: Started,
    log: LogFile,
    log_broken: bool,
}

impl Io {
    /// The output descriptors still open.
    fn outputs(&self) -> Vec<(Stream, BorrowedFd<'_>)> {
        let mut v = Vec::new();
        if let Some(m) = &self.started.console {
            v.push((Stream::Stdout, m.as_fd()));
            return v;
        }
        if let Some(o) = &self.started.stdout {
            v.push((Stream::Stdout, o.as_fd()));
        }
        if let Some(e) = &self.started.stderr {
            v.push((Stream::Stderr, e.as_fd()));
        }
        v
    }

    fn fd(&self, s: Stream) -> Option<&OwnedFd> {
        if let Some(m) = &self.started.console {
            return Some(m);
        }
        match s {
            Stream::Stdout => self.started.stdout.as_ref(),
            Stream::Stderr => self.started.stderr.as_ref(),
        }
    }

    /// Up to 32 KiB of output; `None` at the end of the stream.
    fn read(&mut self, s: Stream) -> Option<Vec<u8>> {
        let fd = self.fd(s)?;
        let mut buf = vec![0u8; 32 * 1024];
        // SAFETY: read(2) into our buffer from a descriptor we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            // 0: end of file; EIO: a terminal whose last user is gone.
            let e = std::io::Error::last_os_error();
            if n < 0 && e.kind() == std::io::ErrorKind::Interrupted {
                return Some(Vec::new());
            }
            return None;
        }
        buf.truncate(n as usize);
        Some(buf)
    }

    fn close(&mut self, s: Stream) {
        if self.started.console.is_some() {
            self.started.console = None;
            return;
        }
        match s {
            Stream::Stdout => self.started.stdout = None,
            Stream::Stderr => self.started.stderr = None,
        }
    }

    fn write_stdin(&mut self, bytes: &[u8]) {
        let target = match (&self.started.console, &self.started.stdin) {
            (Some(m), _) => m,
            (None, Some(i)) => i,
            (None, None) => return,
        };
        let mut off = 0;
        while off < bytes.len() {
            match nix::unistd::write(target, &bytes[off..]) {
                Ok(n) => off += n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
        }
    }
}

/// Reap whatever was re-parented to the shim and has exited (the
/// container's other processes once its init is gone).
fn reap_orphans() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    loop {
        match waitpid(None::<nix::unistd::Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Send the shim's stderr to /dev/null (the command that started it has
/// gone back to its user).
fn quiet_stderr() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 of /dev/null onto our own stderr.
        unsafe {
            libc::dup2(null.as_raw_fd(), 2);
        }
    }
}

/// Now, as the json-file log writes times.
pub fn now_log_time() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    logfile::log_time(d.as_secs() as i64, d.subsec_nanos())
}

/// The status a shim-less running record gets (its shim died: the init
/// died with it, by its parent-death signal).
pub const SHIM_DIED_EXIT: i32 = 137;

/// The status of a container that was running when the machine rebooted
/// (Docker's: `Exited (255)`).
pub const REBOOT_EXIT: i32 = 255;

/// Is `status` one a shim runs?
pub fn runs(status: Status) -> bool {
    matches!(status, Status::Running | Status::Paused)
}
