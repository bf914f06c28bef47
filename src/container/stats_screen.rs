//! `stats` live: every second a reading of each container's cgroup
//! ([`super::stats`]), CPU % over the second since the last reading, the
//! table redrawn in place as Docker's CLI draws it on a terminal (the
//! cursor home, each line ended by "erase to end of line", the rest of
//! the screen erased: no flicker, and a shorter table leaves nothing
//! behind), or printed round after round on anything else. Without names
//! the rows follow the running containers (all with `-a`): one that stops
//! drops out, one that starts joins; a named one that stops shows zeros.
//! The cursor is hidden while drawing; SIGINT, SIGTERM and SIGHUP are
//! taken from a `signalfd(2)` so Ctrl-C gives the terminal back as it
//! was. Read `console_codes(4)` (the escape sequences), `signalfd(2)`.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::state::{self, Container};
use super::stats::{self, Sample};
use super::{settle, shim};
use crate::state::Root;

/// What to show, and how.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// The containers named (none: the running ones, all with `all`).
    pub names: Vec<String>,
    pub all: bool,
    pub no_trunc: bool,
    /// A Go template (`table ...`, `json`, or a row's).
    pub format: String,
    /// Redraw every second until interrupted (else print one table).
    pub stream: bool,
    /// The output is a terminal: redraw in place.
    pub terminal: bool,
}

/// Erase the screen (once, before the first table).
pub const CLEAR: &str = "\x1b[2J";
/// Hide and show the cursor.
pub const HIDE_CURSOR: &str = "\x1b[?25l";
pub const SHOW_CURSOR: &str = "\x1b[?25h";

/// One round's text for the screen: on a terminal, the cursor home, each
/// line ended by "erase to end of line", and the rest of the screen erased
/// (Docker's redraw); elsewhere the table as it is.
pub fn frame(table: &str, terminal: bool) -> String {
    if !terminal {
        return table.to_string();
    }
    let mut s = String::from("\x1b[H");
    for line in table.lines() {
        s.push_str(line);
        s.push_str("\x1b[K\n");
    }
    s.push_str("\x1b[J");
    s
}

/// The rows of one round: each container against its last reading (a
/// container read for the first time shows 0% CPU; one not running,
/// Docker's zeros).
pub fn rows(
    targets: &[Container],
    before: &HashMap<String, Sample>,
    now: &HashMap<String, Sample>,
    no_trunc: bool,
) -> Vec<serde_json::Value> {
    targets
        .iter()
        .map(|c| match now.get(&c.id) {
            Some(n) => stats::row(c, Some((before.get(&c.id).unwrap_or(n), n)), no_trunc),
            None => stats::row(c, None, no_trunc),
        })
        .collect()
}

/// The containers of this round: those named (as they are now; a removed
/// one is left out), else the running ones (all with `-a`), newest first.
pub fn targets(root: &Root, w: &Watch, named: &[Container]) -> Result<Vec<Container>> {
    if !w.names.is_empty() {
        let mut v = Vec::new();
        for c in named {
            if let Some(r) = state::load(root, &c.id)? {
                v.push(settle::settle(root, &r)?);
            }
        }
        return Ok(v);
    }
    let mut all = settle::all(root)?;
    all.reverse();
    Ok(all
        .into_iter()
        .filter(|c| w.all || shim::runs(c.state.status))
        .collect())
}

/// A reading of each running container, by id.
fn sample_all(root: &Root, cs: &[Container]) -> HashMap<String, Sample> {
    cs.iter()
        .filter(|c| shim::runs(c.state.status))
        .filter_map(|c| Some((c.id.clone(), stats::sample(root, c).ok()?)))
        .collect()
}

/// The signals that end a live `stats`, taken from a signalfd (blocked
/// while it lives, the old mask given back when dropped).
struct Interrupts {
    fd: SignalFd,
    old: SigSet,
}

impl Interrupts {
    fn take() -> Result<Interrupts> {
        let mut set = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(s);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .context("sigprocmask(2)")?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .context("signalfd(2)")?;
        Ok(Interrupts { fd, old })
    }

    /// Wait up to `d`; the signal that came meanwhile, if one did.
    fn wait(&self, d: Duration) -> Result<Option<i32>> {
        let deadline = Instant::now() + d;
        loop {
            if let Ok(Some(info)) = self.fd.read_signal() {
                return Ok(Some(info.ssi_signo as i32));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(
                &mut fds,
                PollTimeout::from(left.as_millis().min(1000) as u16),
            ) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("poll(2) on the signalfd"),
            }
        }
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// Show the stats of `named` (the records of the names given; empty for
/// the running ones) until interrupted, or once; the exit status (128 +
/// the signal that ended it, 0 after one table).
pub fn watch(root: &Root, w: &Watch, named: &[Container], out: &mut impl Write) -> Result<i32> {
    // A bad template is refused before anything is drawn.
    let sample = stats::row(&Container::default(), None, w.no_trunc);
    crate::template::listing(&w.format, &[sample], &stats::headers())?;
    let interrupts = Interrupts::take()?;
    let live = w.stream && w.terminal;
    if live {
        let _ = write!(out, "{CLEAR}{HIDE_CURSOR}");
        let _ = out.flush();
    }
    let result = rounds(root, w, named, out, &interrupts);
    if live {
        let _ = write!(out, "{SHOW_CURSOR}");
        let _ = out.flush();
    }
    result
}

fn rounds(
    root: &Root,
    w: &Watch,
    named: &[Container],
    out: &mut impl Write,
    interrupts: &Interrupts,
) -> Result<i32> {
    let mut before = sample_all(root, &targets(root, w, named)?);
    loop {
        // Docker's CPU % is over an interval: a second between readings.
        if let Some(sig) = interrupts.wait(Duration::from_secs(1))? {
            return Ok(128 + sig);
        }
        let targets = targets(root, w, named)?;
        let now = sample_all(root, &targets);
        let table = crate::template::listing(
            &w.format,
            &rows(&targets, &before, &now, w.no_trunc),
            &stats::headers(),
        )?;
        let text = frame(&table, w.stream && w.terminal);
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            // The reader went away (a pipe closed): nothing more to show.
            return Ok(0);
        }
        if !w.stream {
            return Ok(0);
        }
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_is_redrawn_in_place() {
        let t = "A   B\n1   2\n";
        assert_eq!(frame(t, false), t);
        assert_eq!(frame(t, true), "\x1b[HA   B\x1b[K\n1   2\x1b[K\n\x1b[J");
    }

    #[test]
    fn rows_follow_the_readings() {
        let web = crate::container::list::tests_sample("web");
        let mut db = crate::container::list::tests_sample("db");
        db.id = "d".repeat(64);
        let first = Sample {
            cpu_ns: 1_000_000_000,
            system_ns: 10_000_000_000,
            online_cpus: 2,
            mem_usage: 1024,
            mem_limit: 4096,
            ..Sample::default()
        };
        let later = Sample {
            cpu_ns: 2_000_000_000,
            system_ns: 12_000_000_000,
            ..first.clone()
        };
        let before: HashMap<String, Sample> = [(web.id.clone(), first.clone())].into();
        let now: HashMap<String, Sample> =
            [(web.id.clone(), later.clone()), (db.id.clone(), first)].into();
        let r = rows(&[web.clone(), db.clone()], &before, &now, false);
        // One CPU busy over the second: 100%.
        assert_eq!(r[0]["CPUPerc"], "100.00%");
        // Read for the first time: no interval yet, its memory already.
        assert_eq!(r[1]["CPUPerc"], "0.00%");
        assert_eq!(r[1]["MemUsage"], "1KiB / 4KiB");
        // Not running any more: Docker's zeros.
        let r = rows(&[web], &before, &HashMap::new(), false);
        assert_eq!(r[0]["MemUsage"], "0B / 0B");
        assert_eq!(r[0]["CPUPerc"], "0.00%");
    }
}
