//! An image archive read through once without unpacking it: what a
//! `--dry-run` of `image load` knows, since a plan writes nothing (the
//! real load unpacks the archive into a work directory first).
//!
//! Each tar entry is taken as the unpacker would take it ([`super::unpack`]:
//! later entries replace earlier ones, `.wh.NAME` leaves a whiteout, a hard
//! link gives its file a second name), and remembered as the node
//! `lstat(2)` would find in the unpacked directory. A regular file is
//! hashed as it streams past (sha256, size, compression), and kept whole
//! when it is small (the JSON documents), so the plan can name the same
//! blobs, layers and digests the real load stores. Members are looked up
//! with the same rules as in an unpacked archive ([`super::member`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::add::LayerSource;
use super::digest::HashReader;
use super::member::{self, Node, Tree};
use super::unpack::{Compression, decompressed, safe_relative};

/// Members larger than this are hashed, not kept (JSON is far smaller).
const KEEP: u64 = 4 * 1024 * 1024;

/// One member of a scanned archive.
#[derive(Debug, Clone)]
struct Member {
    node: Node,
    /// For a regular file: its sha256, size and compression.
    digest: String,
    len: u64,
    compression: Compression,
    /// Its bytes, if at most [`KEEP`].
    bytes: Option<Vec<u8>>,
}

impl Member {
    fn of(node: Node) -> Member {
        Member {
            node,
            digest: String::new(),
            len: 0,
            compression: Compression::None,
            bytes: None,
        }
    }
}

/// An archive's members, by path relative to the archive.
#[derive(Debug, Default)]
pub struct Scan {
    members: BTreeMap<PathBuf, Member>,
}

impl Tree for Scan {
    fn node(&self, rel: &Path) -> Result<Option<Node>> {
        Ok(self.members.get(rel).map(|m| m.node.clone()))
    }
}

impl Scan {
    /// Read a (possibly compressed) archive stream to its end.
    pub fn of(reader: impl Read) -> Result<Scan> {
        let (stream, compression) = decompressed(reader)?;
        let mut archive = tar::Archive::new(stream);
        let mut scan = Scan::default();
        let entries = archive.entries().with_context(|| {
            format!(
                "read the archive as a tar archive ({})",
                compression.as_str()
            )
        })?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.with_context(|| {
                format!(
                    "read the next tar entry after {n} entries: the archive is truncated or corrupt"
                )
            })?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            scan.add(&mut entry)
                .with_context(|| format!("layer entry {name:?}"))?;
        }
        Ok(scan)
    }

    fn add<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        use tar::EntryType as T;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let rel = safe_relative(&entry.path_bytes())?;
        if rel.as_os_str().is_empty() {
            return Ok(());
        }
        self.parents(&rel)?;
        let file_name = rel
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if file_name == ".wh..wh..opq" {
            return Ok(());
        }
        if let Some(victim) = file_name.strip_prefix(".wh.") {
            if victim.is_empty() || victim == "." || victim == ".." {
                bail!("whiteout names no file");
            }
            let target = rel.with_file_name(victim);
            self.replace(&target, Member::of(Node::Other("a character device")));
            return Ok(());
        }
        let member = match kind {
            T::Directory => {
                if self.members.get(&rel).map(|m| &m.node) == Some(&Node::Dir) {
                    return Ok(());
                }
                Member::of(Node::Dir)
            }
            T::Regular | T::Continuous => file(entry)?,
            T::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .context("symlink without a target")?;
                Member::of(Node::Symlink(PathBuf::from(
                    String::from_utf8_lossy(&link).into_owned(),
                )))
            }
            T::Link => {
                let link = entry
                    .link_name_bytes()
                    .context("hard link without a target")?
                    .into_owned();
                let source = safe_relative(&link).with_context(|| {
                    format!(
                        "hard link target {:?} is outside the layer",
                        String::from_utf8_lossy(&link)
                    )
                })?;
                let Some(target) = self.members.get_mut(&source) else {
                    bail!(
                        "hard link target {} is not in this layer (earlier in the archive)",
                        source.display()
                    );
                };
                if source == rel {
                    return Ok(());
                }
                match &mut target.node {
                    Node::Dir => bail!("hard link to a directory {}", source.display()),
                    Node::File { nlink } => {
                        *nlink += 1;
                        target.clone()
                    }
                    _ => target.clone(),
                }
            }
            T::Char => Member::of(Node::Other("a character device")),
            T::Block => Member::of(Node::Other("a block device")),
            T::Fifo => Member::of(Node::Other("a FIFO")),
            other => bail!("unsupported tar entry type {other:?}"),
        };
        self.replace(&rel, member);
        Ok(())
    }

    /// Every ancestor of `rel` must be a directory (made if missing, as
    /// the unpacker makes it).
    fn parents(&mut self, rel: &Path) -> Result<()> {
        let mut cur = PathBuf::new();
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        for c in parent.components() {
            cur.push(c);
            match self.members.get(&cur).map(|m| &m.node) {
                None => {
                    self.members.insert(cur.clone(), Member::of(Node::Dir));
                }
                Some(Node::Dir) => {}
                Some(Node::Symlink(_)) => bail!(
                    "parent {} is a symlink: writing through it could land outside the layer",
                    cur.display()
                ),
                Some(_) => bail!("parent {} is not a directory", cur.display()),
            }
        }
        Ok(())
    }

    /// Put `member` at `rel`, removing what was there (a directory with
    /// everything in it).
    fn replace(&mut self, rel: &Path, member: Member) {
        if self.members.get(rel).map(|m| &m.node) == Some(&Node::Dir) {
            self.members.retain(|p, _| !p.starts_with(rel));
        }
        self.members.insert(rel.to_path_buf(), member);
    }

    /// Does `name` exist at all (as anything)? As [`member::exists`].
    pub fn exists(&self, name: &str) -> bool {
        safe_relative(name.as_bytes()).is_ok_and(|rel| self.members.contains_key(&rel))
    }

    /// The bytes of member `name` (a small regular file).
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let m = self.member(name)?;
        m.bytes.clone().with_context(|| {
            format!(
                "archive member {name:?} is {} bytes: too large for a document",
                m.len
            )
        })
    }

    /// What member `name` would hash to: a layer a plan stores.
    pub fn layer(&self, name: &str) -> Result<LayerSource> {
        let m = self.member(name)?;
        Ok(LayerSource::Scanned {
            digest: m.digest.clone(),
            len: m.len,
            compression: m.compression,
        })
    }

    fn member(&self, name: &str) -> Result<&Member> {
        let rel = member::resolve(self, name)?;
        self.members
            .get(&rel)
            .with_context(|| format!("archive member {name:?} vanished"))
    }
}

/// A regular file's member: hashed, and kept if small.
fn file<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Member> {
    let size = entry.header().size().unwrap_or(0);
    let mut head = Vec::new();
    let mut r = HashReader::new(entry);
    (&mut r)
        .take(4)
        .read_to_end(&mut head)
        .context("read the member: the archive is truncated or corrupt")?;
    let bytes = if size <= KEEP {
        let mut rest = Vec::new();
        r.read_to_end(&mut rest)
            .context("read the member: the archive is truncated or corrupt")?;
        head.extend(rest);
        Some(head.clone())
    } else {
        None
    };
    let (digest, len) = r
        .finish()
        .context("read the member: the archive is truncated or corrupt")?;
    Ok(Member {
        node: Node::File { nlink: 1 },
        digest,
        len,
        compression: Compression::detect(&head),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::sha256_of;
    use crate::image::unpack::tests::TarBuilder;

    /// The same lookups on a scan and on the unpacked archive agree.
    #[test]
    fn a_scan_finds_what_the_unpacked_archive_holds() {
        let tar = TarBuilder::new()
            .file("manifest.json", b"[]", 0o644)
            .dir("a")
            .file("a/layer.tar", b"layer", 0o644)
            .symlink("b/layer.tar", "../a/layer.tar")
            .symlink("abs", "/etc/passwd")
            .symlink("up", "../../etc/passwd")
            .hardlink("hard", "manifest.json")
            .build();
        let scan = Scan::of(&tar[..]).unwrap();
        let d = tempfile::tempdir().unwrap();
        crate::image::unpack::unpack_layer(&tar[..], d.path()).unwrap();
        for name in ["a/layer.tar", "b/layer.tar", "./a/layer.tar"] {
            assert_eq!(
                member::resolve(&scan, name).unwrap(),
                member::resolve(&member::Unpacked(d.path()), name).unwrap(),
                "{name}"
            );
        }
        for name in ["abs", "up", "hard", "manifest.json", "a", "missing"] {
            let got = format!("{:#}", member::resolve(&scan, name).unwrap_err());
            let want = format!(
                "{:#}",
                member::resolve(&member::Unpacked(d.path()), name).unwrap_err()
            );
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(
            scan.layer("b/layer.tar").unwrap(),
            LayerSource::Scanned {
                digest: sha256_of(b"layer"),
                len: 5,
                compression: Compression::None
            }
        );
        assert!(scan.exists("abs") && !scan.exists("nothing"));
    }
}
