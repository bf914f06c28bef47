//! The CLI's side of a shim: start one (re-execute glassbox detached, in a
//! session of its own, and wait until its socket listens), and talk to it
//! over that socket ([`super::protocol`]). While a shim sets a container
//! up, its trace goes to the command that started it, so `run -v` shows
//! every step of every mechanism in order. Read `setsid(2)`, `unix(7)`.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::protocol::{self, Event, Kind, Request};
use super::shim;
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// The environment variable that puts a crash point in the shim (for the
/// crash-point tests): passed to the shim as `GLASSBOX_CRASH_AFTER_STEP`.
pub const SHIM_CRASH_ENV: &str = "GLASSBOX_SHIM_CRASH_AFTER_STEP";

/// How glassbox was asked to trace, passed on to the shim.
#[derive(Debug, Clone, Default)]
pub struct TraceArgs {
    pub verbose: u8,
    pub explain: bool,
    pub trace_json: Option<std::path::PathBuf>,
}

/// The thread relaying a shim's trace to this command's stderr.
pub struct Relay(Option<std::thread::JoinHandle<()>>, u32);

impl Relay {
    /// Wait until every line the shim traced is printed: the shim closes
    /// its end once the container runs (or could not start), so a command
    /// that returns right after (`run -d`) still shows the whole trace.
    pub fn finish(mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }

    /// The shim closed its socket without an answer: it died. It is this
    /// command's child until this command exits, so reap it here; only
    /// then is it gone (a process still inside `exit(2)` has closed its
    /// files but is not yet a zombie), and what it left is free to settle.
    /// (At most ten seconds: a shim that lingers is left to settle.)
    pub fn reap_dead_shim(&self) {
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        let pid = nix::unistd::Pid::from_raw(self.1 as i32);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Ok(WaitStatus::StillAlive) = waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            if std::time::Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Start the shim of container `id`: `glassbox --root R shim ID`, its own
/// session, stdin and stdout on /dev/null, stderr a pipe whose lines this
/// command relays (the shim's trace) until the shim closes it.
pub fn spawn_shim(root: &Root, id: &str, t: &TraceArgs) -> Result<Relay> {
    let exe = std::env::current_exe().context("find the glassbox binary (/proc/self/exe)")?;
    // A previous run's shim may still be finishing its teardown.
    super::settle::wait_for_shim(root, id, Duration::from_secs(10))?;
    // Held until the shim holds its own lock: a command settling this
    // container meanwhile sees either no shim and no start, or the shim.
    let _lock = super::state::lock(root, id)?;
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2(2)")?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2(2)")?;
    let mut cmd = Command::new(&exe);
    if !root.is_default {
        cmd.arg("--root").arg(&root.data);
    }
    for _ in 0..t.verbose {
        cmd.arg("-v");
    }
    if t.explain {
        cmd.arg("--explain");
    }
    if let Some(j) = &t.trace_json {
        cmd.arg("--trace-json").arg(j);
    }
    cmd.arg("shim").arg(id);
    cmd.env_remove(crate::trace::CRASH_AFTER_STEP_ENV);
    if let Ok(k) = std::env::var(SHIM_CRASH_ENV) {
        cmd.env(crate::trace::CRASH_AFTER_STEP_ENV, k);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    // The shim's trace is relayed with -v; without, `run` prints nothing of
    // its own (a failed start comes back as an answer on the socket).
    if t.verbose > 0 || t.explain {
        cmd.stderr(Stdio::from(err_w));
    } else {
        cmd.stderr(Stdio::null());
        drop(err_w);
    }
    let ready_raw = ready_w.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe calls: setsid,
    // dup2 of the ready pipe onto fd 3 (without close-on-exec there),
    // close_range(2)/fcntl(2) marking every other inherited descriptor
    // close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            let r = if ready_raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(ready_raw, 3)
            };
            if r == -1 {
                return Err(std::io::Error::last_os_error());
            }
            close_inherited_on_exec();
            Ok(())
        });
    }
    let child = Step::new(Mechanism::Run, Action::Process, format!("start the shim of {}", &id[..12]))
        .arg("id", id)
        .shell(format!("setsid {} shim {id} &", exe.display()))
        .why("The shim is the container's parent and monitor: it outlives this command (its own session), holds the container's output and log, reaps its init and records its exit; no daemon is needed.")
        .man("setsid(2)")
        .observe(|| cmd.spawn().context("start the shim"))?;
    drop(cmd);
    drop(ready_w);
    // The shim's trace lines, relayed while it sets up.
    let relay = Relay(
        Some(std::thread::spawn(move || relay_trace(err_r))),
        child.id(),
    );
    let mut line = String::new();
    BufReader::new(std::fs::File::from(ready_r))
        .read_line(&mut line)
        .context("read the shim's ready line")?;
    // The shim is on its own now; init reaps it once this command exits.
    drop(child);
    match line.trim() {
        "ready" => Ok(relay),
        "" => bail!(
            "the shim of container {id} died before the container started (before its socket was ready; its log: {}); `glassbox doctor` names what it left: start it again, or remove it with `glassbox rm -f {id}`",
            super::shim::log_path(root).display()
        ),
        other => bail!(
            "the shim of container {id}: {}",
            other.trim_start_matches("error: ")
        ),
    }
}

/// In the forked child: mark every descriptor above 3 close-on-exec, so
/// the shim inherits nothing of the command that started it (a pipe the
/// caller's shell reads, as in `id=$(glassbox run -d ...)`, would never
/// see its end). `close_range(2)` with `CLOSE_RANGE_CLOEXEC` (Linux 5.11),
/// else one `fcntl(2)` per possible descriptor. Async-signal-safe.
fn close_inherited_on_exec() {
    // SAFETY: close_range(2) with integer arguments; only sets flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            4u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    // SAFETY: getrlimit(2) into a local struct.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(1 << 20) as i32
    } else {
        1024
    };
    for fd in 4..max {
        // SAFETY: fcntl(2) on a descriptor number; EBADF for unused ones.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

fn relay_trace(err: OwnedFd) {
    let mut r = BufReader::new(std::fs::File::from(err));
    let mut line = Vec::new();
    let stderr = std::io::stderr();
    while let Ok(n) = r.read_until(b'\n', &mut line) {
        if n == 0 {
            break;
        }
        let _ = stderr.lock().write_all(&line);
        line.clear();
    }
}

/// A connection to a shim.
pub struct Conn {
    pub stream: UnixStream,
}

impl Conn {
    /// Connect and say hello; the shim's protocol version must match.
    pub fn connect(root: &Root, id: &str) -> Result<Conn> {
        let path = shim::socket_path(root, id);
        let stream = shim::connect_socket(&path).with_context(|| {
            format!("connect to the shim of container {id} ({})", path.display())
        })?;
        let mut c = Conn { stream };
        c.request(&Request::Hello {
            version: protocol::VERSION,
        })?;
        match c.next_event()? {
            Some(Event::Hello { version, .. }) => protocol::check_version(version)?,
            Some(Event::Error { message }) => bail!("{message}"),
            other => bail!("the shim answered {other:?} to hello"),
        }
        Ok(c)
    }

    pub fn request(&mut self, r: &Request) -> Result<()> {
        protocol::send_request(&mut self.stream, r)
    }

    /// The next event, skipping output frames; `None` when the shim closed.
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        loop {
            match protocol::read_frame(&mut self.stream)? {
                None => return Ok(None),
                Some((Kind::Event, p)) => return Ok(Some(protocol::decode(&p)?)),
                Some(_) => continue,
            }
        }
    }

    /// Send one request and close (a signal, a resize).
    pub fn once(root: &Root, id: &str, r: &Request) -> Result<()> {
        let mut c = Conn::connect(root, id)?;
        c.request(r)?;
        // Let the shim read it before the connection closes.
        let _ = c.stream.set_read_timeout(Some(Duration::from_millis(200)));
        Ok(())
    }
}
