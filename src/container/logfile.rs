//! Docker's json-file log: one JSON object per line of output,
//! `{"log":"hi\n","stream":"stdout","time":"2024-09-26T21:31:42.123456789Z"}`,
//! written by the shim as the container writes. A line longer than 16 KiB
//! is cut into pieces (only the last ends in `\n`), as Docker's log copier
//! cuts it, so one endless line never holds the container up. With
//! `--log-opt max-size`, the file is rotated to `.1`, `.2`, ... keeping
//! `max-file` files, as Docker rotates it: before an entry is written once
//! the file has reached the size (so a file passes it by at most one
//! entry); without it, it grows (Docker's default). A write that fails (a
//! full disk) is dropped whole, the file cut back to its last whole
//! entry: the shim keeps reading the container's output either way, so
//! the container never blocks on it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Docker's log buffer: a line is cut every 16 KiB.
pub const MAX_LINE: usize = 16 * 1024;

/// Which stream a piece of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Go's JSON string encoding as Docker's logs show it: `<`, `>` and `&`
/// escaped for HTML, invalid UTF-8 as U+FFFD.
pub fn json_string(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One log entry as a line of the file.
pub fn entry(piece: &[u8], stream: Stream, time: &str) -> String {
    format!(
        "{{\"log\":{},\"stream\":\"{}\",\"time\":\"{time}\"}}\n",
        json_string(piece),
        stream.as_str()
    )
}

/// Go's RFC 3339 with nanoseconds, trailing zeros dropped (`time.RFC3339Nano`).
pub fn log_time(secs: i64, nanos: u32) -> String {
    let full = crate::clock::rfc3339_nanos(secs, nanos);
    let (head, frac) = full
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((&full, ""));
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{head}Z")
    } else {
        format!("{head}.{frac}Z")
    }
}

/// Cut what a stream delivered into log pieces: whole lines (with their
/// `\n`) and 16 KiB pieces of a longer line; what is left without a `\n`
/// stays in `pending` for the next read.
pub fn split(pending: &mut Vec<u8>, input: &[u8]) -> Vec<Vec<u8>> {
    pending.extend_from_slice(input);
    let mut out = Vec::new();
    loop {
        let nl = pending.iter().position(|b| *b == b'\n');
        match nl {
            Some(i) if i < MAX_LINE => {
                out.push(pending.drain(..=i).collect());
            }
            _ if pending.len() >= MAX_LINE => {
                out.push(pending.drain(..MAX_LINE).collect());
            }
            _ => return out,
        }
    }
}

/// Log options (`--log-opt max-size=10m --log-opt max-file=3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// Rotate when the file would pass this many bytes; `None`: never.
    pub max_size: Option<u64>,
    /// How many files to keep in all (Docker's default 1).
    pub max_file: u32,
}

/// A json-file log being written.
pub struct LogFile {
    path: PathBuf,
    /// `None` when the file could not be opened: entries are dropped.
    file: Option<File>,
    size: u64,
    rotation: Rotation,
    pending: [Vec<u8>; 2],
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("open log file {}", path.display()))
}

impl LogFile {
    /// Open (or create) the log. A log that cannot be opened (a full disk)
    /// is no reason to stop the container: its entries are dropped, and
    /// each write says why.
    pub fn open(path: &Path, rotation: Rotation) -> Result<LogFile> {
        let file = open_append(path).ok();
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Log what `stream` delivered at `time`. A write that fails (a full
    /// disk) drops the entry and returns the error: the caller keeps
    /// draining the container's pipes either way.
    pub fn write(&mut self, stream: Stream, input: &[u8], time: &str) -> Result<()> {
        let slot = &mut self.pending[stream as usize];
        let pieces = split(slot, input);
        let mut first_err = None;
        for p in pieces {
            if let Err(e) = self.append(&entry(&p, stream, time)) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Log whatever is left without a newline (the streams closed): an
    /// entry without `\n`, as Docker writes the last piece of output.
    pub fn flush(&mut self, time: &str) -> Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.pending[stream as usize]);
            if !rest.is_empty() {
                self.append(&entry(&rest, stream, time))?;
            }
        }
        Ok(())
    }

    fn append(&mut self, line: &str) -> Result<()> {
        if let Some(max) = self.rotation.max_size
            && self.size >= max
        {
            self.rotate()?;
        }
        let Some(file) = self.file.as_mut() else {
            // Try again: the disk may have room now.
            self.file = Some(open_append(&self.path)?);
            self.size = self
                .file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map_or(0, |m| m.len());
            return self.append(line);
        };
        if let Err(e) = file.write_all(line.as_bytes()) {
            // Half an entry would spoil the line after it: cut it off.
            let _ = file.set_len(self.size);
            return Err(e).with_context(|| format!("write log file {}", self.path.display()));
        }
        self.size += line.len() as u64;
        Ok(())
    }

    /// `log` -> `log.1` -> `log.2` ..., keeping `max_file` files in all
    /// (with one, the file starts again empty).
    fn rotate(&mut self) -> Result<()> {
        let keep = self.rotation.max_file.max(1);
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if keep == 1 {
            if let Some(f) = &self.file {
                f.set_len(0)
                    .with_context(|| format!("truncate log file {}", self.path.display()))?;
            }
        } else {
            let _ = std::fs::remove_file(numbered(keep - 1));
            for n in (1..keep - 1).rev() {
                let _ = std::fs::rename(numbered(n), numbered(n + 1));
            }
            std::fs::rename(&self.path, numbered(1))
                .with_context(|| format!("rotate log file {}", self.path.display()))?;
            self.file = Some(open_append(&self.path)?);
        }
        self.size = 0;
        Ok(())
    }
}

/// `--log-opt` values (`max-size=SIZE`, `max-file=N`) as the json-file
/// driver takes them; Docker's messages for the others.
pub fn options(opts: &[String]) -> Result<super::state::LogConfig> {
    use super::state::LogConfig;
    let mut log = LogConfig::default();
    for o in opts {
        match o.split_once('=') {
            Some(("max-size", v)) => log.max_size = Some(parse_size(v)?),
            Some(("max-file", v)) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => log.max_file = Some(n.min(i64::from(u32::MAX)) as u32),
                Ok(_) => bail!("max-file cannot be less than 1"),
                Err(_) => bail!("invalid max-file {v:?}: give a number of files (1 or more)"),
            },
            _ => bail!(
                "unknown log opt '{}' for json-file log driver (glassbox has max-size and max-file)",
                o.split_once('=').map_or(o.as_str(), |(k, _)| k)
            ),
        }
    }
    Ok(log)
}

/// `--log-opt max-size` as Docker reads it (go-units' `RAMInBytes`):
/// a number, maybe with a fraction, and an optional binary unit `k`, `m`,
/// `g`, `t`, `p` (`10m`, `1.5m`, `512kb`, `1GiB`, `100`); Docker's
/// messages for a bad one and for zero.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => anyhow::bail!("invalid size: '{s}' (give a size such as 10m, 512k or 1g)"),
    };
    let n: f64 = match num.parse() {
        Ok(n) if !num.starts_with('.') => n,
        _ => anyhow::bail!("invalid size: '{s}' (give a size such as 10m, 512k or 1g)"),
    };
    let bytes = (n * mult as f64) as u64;
    if bytes == 0 {
        anyhow::bail!("max-size must be a positive number");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_dockers_json() {
        assert_eq!(
            entry(b"hi <b>&\n", Stream::Stdout, "2024-01-02T03:04:05.5Z"),
            "{\"log\":\"hi \\u003cb\\u003e\\u0026\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05.5Z\"}\n"
        );
        let v: serde_json::Value =
            serde_json::from_str(&entry(b"\x01\xff\"q\"", Stream::Stderr, "t")).unwrap();
        assert_eq!(v["log"], "\u{1}\u{fffd}\"q\"");
        assert_eq!(v["stream"], "stderr");
    }

    #[test]
    fn times_drop_trailing_zeros_as_go_does() {
        assert_eq!(log_time(0, 500_000_000), "1970-01-01T00:00:00.5Z");
        assert_eq!(log_time(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(log_time(0, 123_456_789), "1970-01-01T00:00:00.123456789Z");
    }

    #[test]
    fn lines_are_whole_and_long_lines_cut_at_16k() {
        let mut pending = Vec::new();
        assert_eq!(split(&mut pending, b"a\nb"), vec![b"a\n".to_vec()]);
        assert_eq!(split(&mut pending, b"c\n"), vec![b"bc\n".to_vec()]);
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let pieces = split(&mut pending, &long);
        assert_eq!(pieces.len(), 2);
        assert!(
            pieces
                .iter()
                .all(|p| p.len() == MAX_LINE && !p.ends_with(b"\n"))
        );
        assert_eq!(pending.len(), 10);
        let pieces = split(&mut pending, b"\n");
        assert_eq!(pieces, vec![[vec![b'x'; 10], b"\n".to_vec()].concat()]);
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut log = LogFile::open(
            &path,
            Rotation {
                max_size: Some(200),
                max_file: 3,
            },
        )
        .unwrap();
        for i in 0..20 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes(), "t")
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["c-json.log", "c-json.log.1", "c-json.log.2"]);
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains("line 19"), "{last}");
        // As Docker's: rotated once the size is reached, so a full file
        // passes it by less than one entry.
        let full = std::fs::metadata(dir.path().join("c-json.log.1"))
            .unwrap()
            .len();
        let one = entry(b"line 10\n", Stream::Stdout, "t").len() as u64;
        assert!((200..200 + one).contains(&full), "{full}");
        assert_eq!(parse_size("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size("1.5m").unwrap(), 3 << 19);
        assert_eq!(parse_size("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(
            parse_size("0").unwrap_err().to_string(),
            "max-size must be a positive number"
        );
        assert!(
            parse_size("1x")
                .unwrap_err()
                .to_string()
                .starts_with("invalid size: '1x'")
        );
        assert!(parse_size("x").is_err() && parse_size(".5k").is_err());
    }
}
