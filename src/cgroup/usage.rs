//! What `docker stats` reads of a container's group beyond `cgroup stat`:
//! the page cache the group could give back at once (`inactive_file` in
//! `memory.stat`; Docker subtracts it from the usage it shows) and the
//! bytes read and written on block devices (v1 `blkio`'s
//! `io_service_bytes_recursive`, v2 `io.stat`'s `rbytes`/`wbytes`).
//! Read the kernel's `cgroup-v1/memory.rst`, `cgroup-v1/blkio-controller.rst`
//! and `cgroup-v2.rst`.

use anyhow::Result;

use super::memory::keyed;
use super::{Group, Stats, Version, read_if_exists};

/// A group's usage, as `stats` computes its columns from it.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub stats: Stats,
    /// `total_inactive_file` (v1) or `inactive_file` (v2) of `memory.stat`.
    pub inactive_file: Option<u64>,
    pub io_read: u64,
    pub io_write: u64,
}

/// v1 `blkio.*io_service_bytes_recursive`: `MAJ:MIN Op BYTES` lines (and a
/// `Total` line); the `Read` and `Write` bytes summed over the devices.
pub fn parse_blkio(text: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [_, op, n] = f.as_slice() {
            let n: u64 = n.parse().unwrap_or(0);
            match op.to_ascii_lowercase().as_str() {
                "read" => r += n,
                "write" => w += n,
                _ => {}
            }
        }
    }
    (r, w)
}

/// v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N ...` per device, summed.
pub fn parse_io_stat(text: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for l in text.lines() {
        for kv in l.split_whitespace().skip(1) {
            match kv.split_once('=') {
                Some(("rbytes", n)) => r += n.parse().unwrap_or(0),
                Some(("wbytes", n)) => w += n.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    (r, w)
}

impl Group {
    /// [`Group::stats`] plus the page cache and the block I/O.
    pub fn usage(&self) -> Result<Usage> {
        let mut u = Usage {
            stats: self.stats()?,
            ..Usage::default()
        };
        for t in &self.trees {
            let d = t.dir(&self.rel);
            let v1 = t.version() == Version::V1;
            if t.holds("memory")
                && let Some(ms) = read_if_exists(&d.join("memory.stat"))
            {
                let key = if v1 {
                    "total_inactive_file"
                } else {
                    "inactive_file"
                };
                u.inactive_file = keyed(&ms, key);
            }
            if v1 && t.holds("blkio") {
                // CFQ's file when the scheduler fills it, else the
                // throttle layer's, as runc reads them.
                let cfq = read_if_exists(&d.join("blkio.io_service_bytes_recursive"))
                    .filter(|t| t.lines().any(|l| l.split_whitespace().count() == 3));
                let text = cfq.or_else(|| {
                    read_if_exists(&d.join("blkio.throttle.io_service_bytes_recursive"))
                });
                (u.io_read, u.io_write) = parse_blkio(&text.unwrap_or_default());
            }
            if !v1 && let Some(io) = read_if_exists(&d.join("io.stat")) {
                (u.io_read, u.io_write) = parse_io_stat(&io);
            }
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_io_is_summed_over_devices() {
        let v1 = "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:16 Read 1\n8:16 Write 2\n8:16 Total 3\nTotal 4611\n";
        assert_eq!(parse_blkio(v1), (4097, 514));
        let v2 = "8:0 rbytes=100 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2\n";
        assert_eq!(parse_io_stat(v2), (101, 22));
        assert_eq!(parse_blkio(""), (0, 0));
    }
}
