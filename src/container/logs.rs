//! `logs [-f] [--tail N] [-t] [--since T] [--until T]`: the container's
//! json-file log read back, each entry to the stream it came from; `-f`
//! follows the file until the container has exited (its shim gone) and
//! everything written is shown, or until the `--until` time has passed.
//! As Docker's json-file reader: the tail is taken first, then the entries
//! before `--since` are skipped and the first after `--until` ends it.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use super::shim;
use super::since::Nanos;
use super::state::Container;
use crate::state::Root;

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub stream: String,
    pub text: String,
    pub time: String,
}

/// Parse one line of the json-file log.
pub fn parse(line: &str) -> Option<Entry> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(Entry {
        stream: v["stream"].as_str()?.to_string(),
        text: v["log"].as_str()?.to_string(),
        time: v["time"].as_str().unwrap_or_default().to_string(),
    })
}

/// Options of `logs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub follow: bool,
    /// Only the last N entries.
    pub tail: Option<usize>,
    pub timestamps: bool,
    /// Only entries at or after this time ([`super::since`]).
    pub since: Option<Nanos>,
    /// Only entries at or before this time.
    pub until: Option<Nanos>,
}

/// Where an entry stands against `--since` and `--until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Before,
    In,
    After,
}

/// Docker's test of an entry's time: before `since` is skipped, after
/// `until` ends the reading. An entry without a readable time is shown.
pub fn window(e: &Entry, since: Option<Nanos>, until: Option<Nanos>) -> Window {
    let Some(t) = super::since::entry_time(&e.time) else {
        return Window::In;
    };
    if since.is_some_and(|s| t < s) {
        Window::Before
    } else if until.is_some_and(|u| t > u) {
        Window::After
    } else {
        Window::In
    }
}

/// Show the entries of `entries` in the window; false once one is after
/// it (nothing more to show). As Docker's log forwarder: once an entry is
/// at or after `--since`, `opts.since` is cleared, so a later entry whose
/// time goes backwards is shown all the same.
fn show_all(
    entries: &[Entry],
    opts: &mut Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<bool> {
    for e in entries {
        match window(e, opts.since, opts.until) {
            Window::Before => continue,
            Window::After => return Ok(false),
            Window::In => {
                opts.since = None;
                show(e, opts.timestamps, out, err)?
            }
        }
    }
    Ok(true)
}

/// `--since` and `--until` as the Docker CLI reads them (empty: none);
/// its message for one that is no time.
pub fn times(since: Option<&str>, until: Option<&str>) -> Result<(Option<Nanos>, Option<Nanos>)> {
    let read = |v: Option<&str>, what: &str| -> Result<Option<Nanos>> {
        match v {
            None | Some("") => Ok(None),
            Some(v) => super::since::parse(v)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("invalid value for \"{what}\": {e:#}")),
        }
    };
    Ok((read(since, "since")?, read(until, "until")?))
}

/// Has the `--until` time passed?
fn past(until: Option<Nanos>) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as Nanos);
    until.is_some_and(|u| now > u)
}

fn show(e: &Entry, timestamps: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let text = if timestamps {
        format!("{} {}", fixed_nanos(&e.time), e.text)
    } else {
        e.text.clone()
    };
    let w: &mut dyn Write = if e.stream == "stderr" { err } else { out };
    w.write_all(text.as_bytes()).context("write the log")?;
    w.flush().ok();
    Ok(())
}

/// A log entry's time as `logs -t` prints it: Docker's RFC3339NanoFixed,
/// nine digits of fraction always (the json-file log, like Go's
/// RFC3339Nano, drops trailing zeros: `.10589063Z`).
fn fixed_nanos(time: &str) -> String {
    let Some(t) = time.find('T') else {
        return time.to_string();
    };
    let zone = time[t..]
        .find(['Z', '+', '-'])
        .map_or(time.len(), |i| t + i);
    let (clock, offset) = time.split_at(zone);
    let (whole, frac) = clock.split_once('.').unwrap_or((clock, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return time.to_string();
    }
    format!("{whole}.{frac:0<9}{offset}")
}

/// The entries of the rotated files, oldest first (`LOG.99` .. `LOG.1`).
fn read_rotated(c: &Container) -> Vec<Entry> {
    let mut out = Vec::new();
    for n in (1..100).rev() {
        let p = std::path::PathBuf::from(format!("{}.{n}", c.log_path.display()));
        if let Ok(text) = std::fs::read_to_string(&p) {
            out.extend(text.lines().filter_map(parse));
        }
    }
    out
}

/// The whole lines `r` has now (a half line is left for the next read).
fn read_lines(r: &mut BufReader<std::fs::File>) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line).context("read the log")?;
        if n == 0 {
            return Ok(out);
        }
        if !line.ends_with('\n') {
            r.seek(SeekFrom::Current(-(n as i64)))
                .context("seek the log")?;
            return Ok(out);
        }
        out.extend(parse(&line));
    }
}

/// The current log file, opened; with `wait`, once its shim made it (a
/// `logs -f` right after `run -d` may come first). `None`: there is none.
fn open_current(root: &Root, c: &Container, wait: bool) -> Option<BufReader<std::fs::File>> {
    loop {
        if let Ok(f) = std::fs::File::open(&c.log_path) {
            return Some(BufReader::new(f));
        }
        if !wait || !shim::alive(root, &c.id) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Print the log of `c` as `opts` ask. With `follow`, what the current
/// file holds is read through the same descriptor that then follows it,
/// so no entry falls between the two.
pub fn print(
    root: &Root,
    c: &Container,
    mut opts: Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let mut current = open_current(root, c, opts.follow);
    let mut all = read_rotated(c);
    if let Some(r) = current.as_mut() {
        all.extend(read_lines(r)?);
    }
    let skip = opts.tail.map_or(0, |n| all.len().saturating_sub(n));
    let more = show_all(&all[skip..], &mut opts, out, err)?;
    let (true, true, Some(mut r)) = (opts.follow, more, current) else {
        return Ok(());
    };
    loop {
        let alive = shim::alive(root, &c.id);
        let done = past(opts.until);
        // Read after looking at the shim and the clock: what was written
        // before it went is read in this round.
        if !show_all(&read_lines(&mut r)?, &mut opts, out, err)? || !alive || done {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_nine_digits_as_dockers() {
        assert_eq!(
            fixed_nanos("2026-12-02T09:44:54.10589063Z"),
            "2026-12-02T09:44:54.105890630Z"
        );
        assert_eq!(
            fixed_nanos("2024-01-01T00:00:00Z"),
            "2024-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            fixed_nanos("2024-01-01T00:00:00.5+01:00"),
            "2024-01-01T00:00:00.500000000+01:00"
        );
        assert_eq!(
            fixed_nanos("2024-01-01T00:00:00.123456789Z"),
            "2024-01-01T00:00:00.123456789Z"
        );
    }

    #[test]
    fn since_and_until_skip_before_and_end_after() {
        let e = |time: &str| Entry {
            stream: "stdout".into(),
            text: format!("{time}\n"),
            time: time.into(),
        };
        let t = |s: &str| super::super::since::entry_time(s);
        let (since, until) = (t("2024-01-01T00:00:10Z"), t("2024-01-01T00:00:20Z"));
        assert_eq!(
            window(&e("2024-01-01T00:00:09.9Z"), since, until),
            Window::Before
        );
        assert_eq!(window(&e("2024-01-01T00:00:10Z"), since, until), Window::In);
        assert_eq!(window(&e("2024-01-01T00:00:20Z"), since, until), Window::In);
        assert_eq!(
            window(&e("2024-01-01T00:00:20.000000001Z"), since, until),
            Window::After
        );
        assert_eq!(window(&e("2024-01-01T00:00:00Z"), None, None), Window::In);
        let mut opts = Options {
            since,
            until,
            ..Options::default()
        };
        let entries: Vec<Entry> = [
            "2024-01-01T00:00:05Z",
            "2024-01-01T00:00:15Z",
            "2024-01-01T00:00:25Z",
            "2024-01-01T00:00:16Z",
        ]
        .iter()
        .map(|s| e(s))
        .collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert!(!show_all(&entries, &mut opts, &mut out, &mut err).unwrap());
        // The first entry after --until ends it, as Docker's reader does.
        assert_eq!(String::from_utf8(out).unwrap(), "2024-01-01T00:00:15Z\n");
        // After the first entry in the window, one that goes back in time
        // is shown too (Docker's forwarder stops checking --since).
        let mut opts = Options {
            since,
            ..Options::default()
        };
        let back = [e("2024-01-01T00:00:11Z"), e("2024-01-01T00:00:09Z")];
        let mut out = Vec::new();
        assert!(show_all(&back, &mut opts, &mut out, &mut err).unwrap());
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
    }

    #[test]
    fn entries_go_back_to_their_streams() {
        let e = parse(r#"{"log":"hi\n","stream":"stderr","time":"2024-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(e.stream, "stderr");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        show(&e, true, &mut out, &mut err).unwrap();
        assert!(out.is_empty());
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "2024-01-01T00:00:00.000000000Z hi\n"
        );
        assert!(parse("not json").is_none());
    }
}
