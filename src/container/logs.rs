//! `logs [-f] [--tail N] [-t]`: the container's json-file log read back,
//! each entry to the stream it came from; `-f` follows the file until the
//! container has exited (its shim gone) and everything written is shown.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use super::shim;
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
}

fn show(e: &Entry, timestamps: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let text = if timestamps {
        format!("{} {}", e.time, e.text)
    } else {
        e.text.clone()
    };
    let w: &mut dyn Write = if e.stream == "stderr" { err } else { out };
    w.write_all(text.as_bytes()).context("write the log")?;
    w.flush().ok();
    Ok(())
}

/// The entries of the rotated files (oldest first) and the current one.
fn read_all(c: &Container) -> Vec<Entry> {
    let mut files = Vec::new();
    for n in (1..100).rev() {
        let p = std::path::PathBuf::from(format!("{}.{n}", c.log_path.display()));
        if p.exists() {
            files.push(p);
        }
    }
    files.push(c.log_path.clone());
    let mut out = Vec::new();
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            out.extend(text.lines().filter_map(parse));
        }
    }
    out
}

/// Print the log of `c` as `opts` ask.
pub fn print(
    root: &Root,
    c: &Container,
    opts: Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let all = read_all(c);
    let skip = opts.tail.map_or(0, |n| all.len().saturating_sub(n));
    for e in &all[skip..] {
        show(e, opts.timestamps, out, err)?;
    }
    if !opts.follow {
        return Ok(());
    }
    // Follow the current file from where it ends now.
    let Ok(file) = std::fs::File::open(&c.log_path) else {
        return Ok(());
    };
    let mut r = BufReader::new(file);
    r.seek(SeekFrom::End(0)).context("seek the log")?;
    let mut line = String::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line).context("read the log")?;
        if n > 0 && line.ends_with('\n') {
            if let Some(e) = parse(&line) {
                show(&e, opts.timestamps, out, err)?;
            }
            continue;
        }
        if n > 0 {
            // Half a line: wait for its end.
            r.seek(SeekFrom::Current(-(n as i64)))
                .context("seek the log")?;
        }
        if !shim::alive(root, &c.id) {
            // One last read of what the shim wrote before it went.
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut r, &mut rest);
            for l in rest.lines() {
                if let Some(e) = parse(l) {
                    show(&e, opts.timestamps, out, err)?;
                }
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_back_to_their_streams() {
        let e = parse(r#"{"log":"hi\n","stream":"stderr","time":"2024-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(e.stream, "stderr");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        show(&e, true, &mut out, &mut err).unwrap();
        assert!(out.is_empty());
        assert_eq!(String::from_utf8(err).unwrap(), "2024-01-01T00:00:00Z hi\n");
        assert!(parse("not json").is_none());
    }
}
