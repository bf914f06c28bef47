//! Free space while the store grows, and the space a removal gives back.
//!
//! A layer or an archive can expand a thousandfold: 2 MB of gzip can hold
//! 2 GiB of zeros. So whatever writes into the store (unpacking a layer or
//! an archive, a blob, standard input saved for `load`) asks `statvfs(3)`
//! how much the state root's filesystem has left every [`CHECK_EVERY`]
//! bytes, and stops once it falls below a reserve kept free for everything
//! else on that filesystem. A full disk (`ENOSPC`, `EDQUOT`) stops it too.
//! The command then removes what it had half written and says so.
//!
//! The reserve is 5% of the filesystem's size, at least 256 MiB and at
//! most 4 GiB, and never more than a quarter of a small filesystem (a
//! 64 MiB tmpfs keeps 16 MiB); [`RESERVE_ENV`] sets another (`64M`, `1G`,
//! `10%`, `0` to rely on `ENOSPC` alone). Sizes use binary units (`64M` is 64 MiB, as
//! `mount -o size=64m`). [`disk_usage`] counts what a path occupies, as
//! `du(1)` does: each inode once, in allocated blocks. Read `statvfs(3)`
//! and `du(1)`.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The environment variable that sets the reserve.
pub const RESERVE_ENV: &str = "GLASSBOX_STORE_RESERVE";
/// How many bytes may pass between two looks at the free space.
pub const CHECK_EVERY: u64 = 4 << 20;
const MIN_RESERVE: u64 = 256 << 20;
const MAX_RESERVE: u64 = 4 << 30;

/// What `statvfs(3)` says of a filesystem: bytes an ordinary write may
/// still use (`f_bavail`, what `df` shows as Avail), and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Free {
    pub avail: u64,
    pub size: u64,
}

/// The free space of the filesystem holding `dir`.
pub fn free(dir: &Path) -> io::Result<Free> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(io::Error::from)?;
    let unit = st.fragment_size() as u64;
    Ok(Free {
        avail: (st.blocks_available() as u64).saturating_mul(unit),
        size: (st.blocks() as u64).saturating_mul(unit),
    })
}

/// A size given as bytes or as a share of the filesystem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeSpec {
    Bytes(u64),
    Percent(f64),
}

/// Parse `64M`, `64MiB`, `1g`, `512k`, `1048576`, `10%`.
pub fn parse_size(text: &str) -> Result<SizeSpec> {
    let t = text.trim();
    if let Some(p) = t.strip_suffix('%') {
        let v: f64 = p
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| (0.0..=100.0).contains(v))
            .with_context(|| format!("{text:?} is not a percentage from 0% to 100%"))?;
        return Ok(SizeSpec::Percent(v));
    }
    let lower = t.to_ascii_lowercase();
    let num = lower.trim_end_matches(['b', 'i']);
    let (digits, shift) = match num.chars().last() {
        Some('k') => (&num[..num.len() - 1], 10),
        Some('m') => (&num[..num.len() - 1], 20),
        Some('g') => (&num[..num.len() - 1], 30),
        Some('t') => (&num[..num.len() - 1], 40),
        _ => (num, 0),
    };
    let n: u64 =
        digits.trim().parse().ok().with_context(|| {
            format!("{text:?} is not a size: write bytes, or e.g. 256M, 1G, 5%")
        })?;
    n.checked_mul(1u64 << shift)
        .map(SizeSpec::Bytes)
        .with_context(|| format!("{text:?} is too large"))
}

/// The free space a writer leaves alone on the filesystem of `dir`.
#[derive(Debug, Clone)]
pub struct Reserve {
    pub dir: PathBuf,
    pub bytes: u64,
}

impl Reserve {
    /// The reserve for the filesystem of `dir`: [`RESERVE_ENV`] if set,
    /// else the default (see the module's documentation).
    pub fn for_dir(dir: &Path) -> Result<Reserve> {
        let size = free(dir)
            .with_context(|| format!("statvfs(3) {}", dir.display()))?
            .size;
        let bytes = match std::env::var(RESERVE_ENV) {
            Ok(v) => match parse_size(&v).with_context(|| format!("{RESERVE_ENV}={v}"))? {
                SizeSpec::Bytes(b) => b,
                SizeSpec::Percent(p) => (size as f64 * p / 100.0) as u64,
            },
            Err(_) => default_reserve(size),
        };
        Ok(Reserve {
            dir: dir.to_path_buf(),
            bytes,
        })
    }

    /// Fail with [`OutOfSpace`] if the free space is below the reserve;
    /// `written` is what the caller has written so far (for the message).
    pub fn check(&self, written: u64) -> io::Result<()> {
        if self.bytes == 0 {
            return Ok(());
        }
        let f = free(&self.dir)?;
        if f.avail < self.bytes {
            return Err(io::Error::other(OutOfSpace {
                dir: self.dir.clone(),
                avail: f.avail,
                reserve: self.bytes,
                written,
            }));
        }
        Ok(())
    }
}

/// The reserve of a filesystem of `size` bytes when none is set.
pub fn default_reserve(size: u64) -> u64 {
    (size / 20).clamp(MIN_RESERVE, MAX_RESERVE).min(size / 4)
}

/// A writer stopped because the free space fell below the reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfSpace {
    pub dir: PathBuf,
    pub avail: u64,
    pub reserve: u64,
    pub written: u64,
}

impl std::fmt::Display for OutOfSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped after writing {}: the filesystem of {} has {} free, below the {} reserve ({RESERVE_ENV})",
            bytes(self.written),
            self.dir.display(),
            bytes(self.avail),
            bytes(self.reserve)
        )
    }
}

impl std::error::Error for OutOfSpace {}

/// Counts bytes as they pass and looks at the free space every
/// [`CHECK_EVERY`] of them.
#[derive(Debug)]
pub struct Meter {
    reserve: Reserve,
    total: u64,
    next_check: u64,
}

impl Meter {
    pub fn new(reserve: Reserve) -> Meter {
        Meter {
            reserve,
            total: 0,
            next_check: CHECK_EVERY,
        }
    }

    /// Count `n` more bytes; check the reserve when due.
    pub fn passed(&mut self, n: u64) -> io::Result<()> {
        self.total += n;
        if self.total >= self.next_check {
            self.next_check = self.total + CHECK_EVERY;
            self.reserve.check(self.total)?;
        }
        Ok(())
    }
}

/// A reader metered by a [`Meter`] (what is read is about to be written).
pub struct MeteredReader<R> {
    pub inner: R,
    pub meter: Meter,
}

impl<R: Read> Read for MeteredReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter.passed(n as u64)?;
        Ok(n)
    }
}

/// A writer metered by a [`Meter`].
pub struct MeteredWriter<W> {
    pub inner: W,
    pub meter: Meter,
}

impl<W: Write> Write for MeteredWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.meter.passed(buf.len() as u64)?;
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Why a write into the store ran out of room, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoom {
    /// Stopped at the reserve.
    Reserve(OutOfSpace),
    /// The filesystem said `ENOSPC` or `EDQUOT`.
    Full,
}

/// Is `err` (or anything it was caused by) a lack of space?
pub fn no_room(err: &anyhow::Error) -> Option<NoRoom> {
    err.chain().find_map(|cause| {
        if let Some(o) = cause.downcast_ref::<OutOfSpace>() {
            return Some(NoRoom::Reserve(o.clone()));
        }
        io_no_room(cause.downcast_ref::<io::Error>()?)
    })
}

/// The same question of an `io::Error`.
pub fn io_no_room(e: &io::Error) -> Option<NoRoom> {
    if let Some(o) = e.get_ref().and_then(|i| i.downcast_ref::<OutOfSpace>()) {
        return Some(NoRoom::Reserve(o.clone()));
    }
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => Some(NoRoom::Full),
        _ => None,
    }
}

/// What to tell the user when a write into the store at `dir` ran out of
/// room: what happened, what is free now, and what to do.
pub fn advice(why: &NoRoom, dir: &Path) -> String {
    let now = free(dir)
        .map(|f| format!("{} free now", bytes(f.avail)))
        .unwrap_or_else(|e| format!("statvfs(3) failed: {e}"));
    let what = match why {
        NoRoom::Reserve(o) => format!(
            "not enough free space in the store: {} free, below the {} reserve ({} written when it stopped)",
            bytes(o.avail),
            bytes(o.reserve),
            bytes(o.written)
        ),
        NoRoom::Full => "no space left on the store's filesystem (ENOSPC)".to_string(),
    };
    let reserve = match Reserve::for_dir(dir) {
        Ok(r) if r.bytes == 0 => {
            format!("; {RESERVE_ENV}=0 lets the filesystem fill: unset it to keep a reserve free")
        }
        Ok(r) => format!(
            ", lower the {} reserve ({RESERVE_ENV}=SIZE, e.g. 128M)",
            bytes(r.bytes)
        ),
        Err(_) => String::new(),
    };
    format!(
        "{what}; {now} on the filesystem of {}. To go on: free some space (`glassbox image prune -a`, or remove other files), put the state root on a larger filesystem (--root){reserve}; then try again",
        dir.display()
    )
}

/// Space `path` occupies on disk, as `du -s -B1` counts it: every inode
/// once (hard links share one), allocated blocks, symlinks not followed.
pub fn disk_usage(path: &Path) -> u64 {
    let mut seen = BTreeSet::new();
    usage(path, &mut seen)
}

fn usage(path: &Path, seen: &mut BTreeSet<(u64, u64)>) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut n = 0;
    if seen.insert((md.dev(), md.ino())) {
        n += md.blocks() * 512;
    }
    if md.is_dir()
        && let Ok(rd) = std::fs::read_dir(path)
    {
        for e in rd.flatten() {
            n += usage(&e.path(), seen);
        }
    }
    n
}

/// `15.9MiB`, `512B`: binary units, for messages about space.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units_or_percent() {
        assert_eq!(parse_size("0").unwrap(), SizeSpec::Bytes(0));
        assert_eq!(parse_size("64M").unwrap(), SizeSpec::Bytes(64 << 20));
        assert_eq!(parse_size("64MiB").unwrap(), SizeSpec::Bytes(64 << 20));
        assert_eq!(parse_size("1g").unwrap(), SizeSpec::Bytes(1 << 30));
        assert_eq!(parse_size("512k").unwrap(), SizeSpec::Bytes(512 << 10));
        assert_eq!(parse_size("1048576").unwrap(), SizeSpec::Bytes(1 << 20));
        assert_eq!(parse_size("10%").unwrap(), SizeSpec::Percent(10.0));
        for bad in ["", "x", "12Q", "-1", "200%", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_reserve_fits_the_filesystem() {
        const GIB: u64 = 1 << 30;
        assert_eq!(default_reserve(64 << 20), 16 << 20);
        assert_eq!(default_reserve(2 * GIB), 256 << 20);
        assert_eq!(default_reserve(40 * GIB), 2 * GIB);
        assert_eq!(default_reserve(2000 * GIB), 4 * GIB);
    }

    #[test]
    fn the_meter_stops_below_the_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let avail = free(dir.path()).unwrap().avail;
        let mut m = Meter::new(Reserve {
            dir: dir.path().to_path_buf(),
            bytes: avail + (1 << 40),
        });
        m.passed(CHECK_EVERY - 1).unwrap();
        let e = m.passed(1).unwrap_err();
        let no = io_no_room(&e).unwrap();
        assert!(matches!(no, NoRoom::Reserve(ref o) if o.written == CHECK_EVERY));
        let any = anyhow::Error::from(e).context("unpack");
        assert_eq!(no_room(&any), Some(no));
        let full = anyhow::Error::from(io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(no_room(&full), Some(NoRoom::Full));
        assert_eq!(no_room(&anyhow::anyhow!("other")), None);
    }

    #[test]
    fn usage_counts_hard_links_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![1u8; 64 << 10]).unwrap();
        let one = disk_usage(dir.path());
        std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).unwrap();
        assert_eq!(disk_usage(dir.path()), one);
        assert!(one >= 64 << 10);
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(12), "12B");
    }
}
