//! The members of an unpacked image archive that glassbox reads
//! (`manifest.json`, `index.json`, configs, layers, blobs): regular files
//! inside the archive, and nothing else.
//!
//! An archive is unpacked into a private temporary directory, where its
//! symlinks stay symlinks. Following one with an ordinary `open(2)` would
//! read whatever it points to on the host: a tar file elsewhere that then
//! enters the store, or `/proc/self/pagemap`, which reads forever. So a
//! member is looked up component by component with `lstat(2)`: every
//! directory on the way must be a real directory, and the member must be a
//! regular file with one link. A symlink is followed only when it is
//! relative and stays inside the archive (Docker up to 24 saves a layer
//! that two images share once, and links the second `layer.tar` to the
//! first with `../ID/layer.tar`); an absolute target, a `..` that climbs
//! out, a hard link, a FIFO, a device or a directory is refused with an
//! error naming the member. Read `symlink(7)`, `lstat(2)`, `open(2)`
//! (`O_NOFOLLOW`).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::unpack::safe_relative;

/// How many symlinks one lookup may follow (inside the archive).
const MAX_LINKS: usize = 8;

/// Refusals say what to do about them.
pub const ONLY_REGULAR: &str = "an image archive is read only from its regular files";

/// What `lstat(2)` says of a path inside an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    /// A regular file and how many names it has (hard links).
    File {
        nlink: u64,
    },
    Symlink(PathBuf),
    /// Anything else: `a FIFO`, `a character device`, ...
    Other(&'static str),
}

/// An archive's members: unpacked in a directory ([`Unpacked`]), or read
/// through once without unpacking by a `--dry-run` ([`super::scan::Scan`]).
pub trait Tree {
    /// `lstat(2)` of `rel` (relative to the archive); `None` if absent.
    fn node(&self, rel: &Path) -> Result<Option<Node>>;
}

/// An archive unpacked into a directory.
pub struct Unpacked<'a>(pub &'a Path);

impl Tree for Unpacked<'_> {
    fn node(&self, rel: &Path) -> Result<Option<Node>> {
        let full = self.0.join(rel);
        let md = match std::fs::symlink_metadata(&full) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("lstat {}", full.display())),
        };
        let ft = md.file_type();
        Ok(Some(if ft.is_dir() {
            Node::Dir
        } else if ft.is_file() {
            Node::File { nlink: md.nlink() }
        } else if ft.is_symlink() {
            Node::Symlink(
                std::fs::read_link(&full)
                    .with_context(|| format!("readlink {}", full.display()))?,
            )
        } else {
            Node::Other(kind(&ft))
        }))
    }
}

/// The path of member `name` (as the archive's JSON names it) under the
/// unpacked archive `dir`: a regular file inside it, or an error.
pub fn member(dir: &Path, name: &str) -> Result<PathBuf> {
    Ok(dir.join(resolve(&Unpacked(dir), name)?))
}

/// Where member `name` is in `tree`, relative to the archive: a regular
/// file inside it (through relative symlinks that stay inside), or an
/// error naming what it is instead.
pub fn resolve(tree: &impl Tree, name: &str) -> Result<PathBuf> {
    let mut rel =
        safe_relative(name.as_bytes()).with_context(|| format!("archive path {name:?}"))?;
    for _ in 0..=MAX_LINKS {
        match walk(tree, &rel, name)? {
            Node::Symlink(target) => {
                rel = inside_target(&rel, &target).with_context(|| {
                    format!(
                        "archive member {name:?} is a symlink to {}, outside the archive: {ONLY_REGULAR}",
                        target.display()
                    )
                })?;
                continue;
            }
            Node::File { nlink } if nlink > 1 => bail!(
                "archive member {name:?} is a hard link ({nlink} names for one file): {ONLY_REGULAR}"
            ),
            Node::File { .. } => return Ok(rel),
            Node::Dir => {
                bail!("archive member {name:?} is a directory, not a regular file: {ONLY_REGULAR}")
            }
            Node::Other(what) => {
                bail!("archive member {name:?} is {what}, not a regular file: {ONLY_REGULAR}")
            }
        }
    }
    bail!("archive member {name:?}: more than {MAX_LINKS} symlinks in a row")
}

/// Read a member whole.
pub fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let mut f = open(dir, name)?;
    let mut v = Vec::new();
    f.read_to_end(&mut v)
        .with_context(|| format!("read archive member {name:?}"))?;
    Ok(v)
}

/// Open a member (with `O_NOFOLLOW`, and checked again once open).
pub fn open(dir: &Path, name: &str) -> Result<File> {
    let path = member(dir, name)?;
    open_regular(&path).with_context(|| format!("archive member {name:?}"))
}

/// Open a path that must be a regular file, never through a symlink.
pub fn open_regular(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    let md = f
        .metadata()
        .with_context(|| format!("fstat {}", path.display()))?;
    if !md.file_type().is_file() {
        bail!(
            "{} is {}, not a regular file",
            path.display(),
            kind(&md.file_type())
        );
    }
    Ok(f)
}

/// Does member `name` exist at all (as anything)?
pub fn exists(dir: &Path, name: &str) -> bool {
    std::fs::symlink_metadata(dir.join(name)).is_ok()
}

/// `lstat(2)` of `rel` in `tree`, every parent a real directory.
fn walk(tree: &impl Tree, rel: &Path, name: &str) -> Result<Node> {
    let mut cur = PathBuf::new();
    let mut comps = rel.components().peekable();
    while let Some(c) = comps.next() {
        cur.push(c);
        let Some(node) = tree.node(&cur)? else {
            bail!(
                "the archive names {name:?} but does not contain it: the archive is truncated or incomplete"
            )
        };
        if comps.peek().is_none() {
            return Ok(node);
        }
        let what = match node {
            Node::Dir => continue,
            Node::File { .. } => "a regular file",
            Node::Symlink(_) => "a symlink",
            Node::Other(what) => what,
        };
        bail!(
            "archive member {name:?}: {} is {what}, not a directory: {ONLY_REGULAR}",
            cur.display()
        );
    }
    bail!("archive path {name:?} names the archive itself")
}

/// Where a relative symlink at `link` (relative to the archive) points,
/// relative to the archive; `None` if it points outside.
fn inside_target(link: &Path, target: &Path) -> Option<PathBuf> {
    if target.is_absolute() {
        return None;
    }
    let mut out: Vec<Component> = link.parent()?.components().collect();
    for c in target.components() {
        match c {
            Component::Normal(_) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let p: PathBuf = out.into_iter().collect();
    (!p.as_os_str().is_empty()).then_some(p)
}

/// "a symlink", "a FIFO", ... for messages.
pub fn kind(ft: &std::fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "a symlink"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "an unknown kind of file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn only_regular_files_inside_are_members() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/layer.tar"), b"layer").unwrap();
        std::fs::create_dir_all(dir.join("b")).unwrap();
        // Docker <= 24: a shared layer linked from the second image.
        symlink("../a/layer.tar", dir.join("b/layer.tar")).unwrap();
        assert_eq!(read(dir, "b/layer.tar").unwrap(), b"layer");
        assert_eq!(
            member(dir, "./a/layer.tar").unwrap(),
            dir.join("a/layer.tar")
        );

        let host = tempfile::NamedTempFile::new().unwrap();
        symlink(host.path(), dir.join("abs")).unwrap();
        let e = format!("{:#}", member(dir, "abs").unwrap_err());
        assert!(
            e.contains("outside the archive") && e.contains("\"abs\""),
            "{e}"
        );
        symlink("../../../../etc/passwd", dir.join("a/up")).unwrap();
        let e = format!("{:#}", member(dir, "a/up").unwrap_err());
        assert!(e.contains("outside the archive"), "{e}");
        symlink("/proc/self", dir.join("proc")).unwrap();
        let e = format!("{:#}", member(dir, "proc/pagemap").unwrap_err());
        assert!(
            e.contains("symlink") && e.contains("not a directory"),
            "{e}"
        );
        std::fs::hard_link(dir.join("a/layer.tar"), dir.join("hard")).unwrap();
        let e = format!("{:#}", member(dir, "hard").unwrap_err());
        assert!(e.contains("hard link"), "{e}");
        let e = format!("{:#}", member(dir, "a").unwrap_err());
        assert!(e.contains("a directory"), "{e}");
        nix::unistd::mkfifo(
            &dir.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let e = format!("{:#}", member(dir, "fifo").unwrap_err());
        assert!(e.contains("a FIFO"), "{e}");
        let e = format!("{:#}", member(dir, "missing.json").unwrap_err());
        assert!(e.contains("does not contain it"), "{e}");
        symlink("loop2", dir.join("loop1")).unwrap();
        symlink("loop1", dir.join("loop2")).unwrap();
        let e = format!("{:#}", member(dir, "loop1").unwrap_err());
        assert!(e.contains("symlinks in a row"), "{e}");
    }
}
