//! The tar side of `cp` and `export`: a [`TarSink`] writes the entries of
//! a walk as a tar stream (what `cp CONTAINER:PATH -` and `export` print),
//! and [`extract`] reads a tar stream (`cp - CONTAINER:DIR`) into any
//! [`Sink`]. An entry that would leave the destination (an absolute name,
//! a `..`) is refused, as Docker refuses it. Read `tar(5)`.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::resolve::{Kind, Meta};
use super::walk::Sink;

/// Writes a tar stream; owners and modes as the source has them.
pub struct TarSink<W: Write> {
    pub tar: tar::Builder<W>,
    /// Write a `./` entry for the top of `DIR/.` (`cp`), or not (`export`,
    /// whose names start at the root's entries, as Docker's do).
    pub dot: bool,
    /// Bytes of regular files written.
    pub bytes: u64,
}

impl<W: Write> TarSink<W> {
    pub fn new(out: W) -> TarSink<W> {
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        TarSink {
            tar,
            dot: true,
            bytes: 0,
        }
    }

    /// End the archive (two zero blocks) and give the writer back.
    pub fn finish(self) -> Result<W> {
        self.tar.into_inner().context("finish the tar stream")
    }
}

fn header(meta: &Meta, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(meta.mode);
    h.set_uid(meta.uid as u64);
    h.set_gid(meta.gid as u64);
    h.set_mtime(meta.mtime.max(0) as u64);
    h.set_size(size);
    h
}

/// The name of an entry in the tar: `./` for the top of `DIR/.`, a
/// directory with a trailing `/`.
fn name(rel: &Path, dir: bool) -> PathBuf {
    let mut s = rel.as_os_str().to_owned();
    if dir && rel != Path::new(".") {
        s.push("/");
    }
    if rel == Path::new(".") {
        return PathBuf::from("./");
    }
    PathBuf::from(s)
}

/// Read at most `size` bytes and pad with zeros to exactly `size`: a
/// file that shrank while it was read still makes a well-formed entry.
struct Exactly<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        let n = if n == 0 {
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.left -= n as u64;
        Ok(n)
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn dir(&mut self, rel: &Path, meta: &Meta) -> Result<()> {
        if rel == Path::new(".") && !self.dot {
            return Ok(());
        }
        let mut h = header(meta, tar::EntryType::Directory, 0);
        self.tar
            .append_data(&mut h, name(rel, true), std::io::empty())
            .with_context(|| format!("add {} to the tar stream", rel.display()))
    }

    fn dir_done(&mut self, _rel: &Path, _meta: &Meta) -> Result<()> {
        Ok(())
    }

    fn file(&mut self, rel: &Path, meta: &Meta, data: &mut dyn Read) -> Result<()> {
        let mut h = header(meta, tar::EntryType::Regular, meta.size);
        let body = Exactly {
            inner: data,
            left: meta.size,
        };
        self.tar
            .append_data(&mut h, name(rel, false), body)
            .with_context(|| format!("add {} to the tar stream", rel.display()))?;
        self.bytes += meta.size;
        Ok(())
    }

    fn symlink(&mut self, rel: &Path, target: &Path, meta: &Meta) -> Result<()> {
        let mut h = header(meta, tar::EntryType::Symlink, 0);
        self.tar
            .append_link(&mut h, name(rel, false), target)
            .with_context(|| format!("add {} to the tar stream", rel.display()))
    }

    fn special(&mut self, rel: &Path, meta: &Meta) -> Result<()> {
        let kind = match meta.kind {
            Kind::Char => tar::EntryType::Char,
            Kind::Block => tar::EntryType::Block,
            _ => tar::EntryType::Fifo,
        };
        let mut h = header(meta, kind, 0);
        if kind != tar::EntryType::Fifo {
            h.set_device_major(libc::major(meta.rdev))?;
            h.set_device_minor(libc::minor(meta.rdev))?;
        }
        self.tar
            .append_data(&mut h, name(rel, false), std::io::empty())
            .with_context(|| format!("add {} to the tar stream", rel.display()))
    }

    fn hard_link(&mut self, rel: &Path, target: &Path) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        self.tar
            .append_link(&mut h, name(rel, false), target)
            .with_context(|| format!("add {} to the tar stream", rel.display()))
    }
}

/// An entry's name made relative to the destination: leading `/` and
/// `./` dropped; `None` for the destination itself; an error for `..`.
pub fn entry_path(raw: &Path) -> Result<Option<PathBuf>> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => bail!(
                "invalid tar entry {}: a '..' would leave the destination directory",
                raw.display()
            ),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Read a tar stream into `sink`; the directories' modes and times are
/// set at the end (deepest first), once everything is in them.
pub fn extract(input: impl Read, sink: &mut dyn Sink) -> Result<()> {
    let mut ar = tar::Archive::new(input);
    let mut dirs: Vec<(PathBuf, Meta)> = Vec::new();
    for entry in ar.entries().context("read the tar stream")? {
        let mut entry = entry.context("read the tar stream")?;
        let raw = entry.path().context("an entry's name")?.into_owned();
        let Some(rel) = entry_path(&raw)? else {
            continue;
        };
        let h = entry.header();
        let kind = h.entry_type();
        let meta = Meta {
            kind: Kind::File,
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
            size: h.size().unwrap_or(0),
            mtime: h.mtime().unwrap_or(0) as i64,
            mtime_nsec: 0,
            rdev: libc::makedev(
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            ),
        };
        match kind {
            tar::EntryType::Directory => {
                let meta = Meta {
                    kind: Kind::Dir,
                    ..meta
                };
                sink.dir(&rel, &meta)?;
                dirs.push((rel, meta));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                sink.file(&rel, &meta, &mut entry)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .context("a symlink's target")?
                    .with_context(|| format!("the symlink {} has no target", raw.display()))?
                    .into_owned();
                let meta = Meta {
                    kind: Kind::Symlink,
                    ..meta
                };
                sink.symlink(&rel, &target, &meta)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .context("a hard link's target")?
                    .with_context(|| format!("the hard link {} has no target", raw.display()))?;
                let Some(target) = entry_path(&target)? else {
                    bail!(
                        "the hard link {} points at the destination itself",
                        raw.display()
                    );
                };
                sink.hard_link(&rel, &target)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let kind = match kind {
                    tar::EntryType::Char => Kind::Char,
                    tar::EntryType::Block => Kind::Block,
                    _ => Kind::Fifo,
                };
                sink.special(&rel, &Meta { kind, ..meta })?;
            }
            // pax and GNU long-name headers are read by the tar crate
            // itself; anything else is not a file.
            _ => {}
        }
    }
    for (rel, meta) in dirs.iter().rev() {
        sink.dir_done(rel, meta)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_that_leave_the_destination_are_refused() {
        assert_eq!(entry_path(Path::new("./a/b")).unwrap(), Some("a/b".into()));
        assert_eq!(
            entry_path(Path::new("/etc/x")).unwrap(),
            Some("etc/x".into())
        );
        assert_eq!(entry_path(Path::new("./")).unwrap(), None);
        let e = entry_path(Path::new("a/../../x")).unwrap_err();
        assert!(
            format!("{e}").contains("would leave the destination"),
            "{e}"
        );
    }

    #[test]
    fn a_file_that_shrank_is_padded_to_its_size() {
        let mut r = Exactly {
            inner: &b"abc"[..],
            left: 5,
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0");
    }
}
