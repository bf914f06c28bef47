//! A container's size on disk, as `ps -s` shows it (`2B (virtual 4.5MB)`):
//! its own writable layer (overlay's `upperdir`, Docker's `SizeRw`: what
//! the container changed, copied up or made), and that plus its image's
//! layers (`SizeRootFs`, the "virtual" size). Counted as Docker's
//! `directory.Size` counts: the sizes of everything but directories, a
//! hard-linked file once. Reads only (`lstat(2)`); read
//! `Documentation/filesystems/overlayfs.rst` for the upper layer.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::human::human_size;
use super::state::Container;

/// The bytes under `dir`, directories not counted, each inode once; what
/// cannot be read counts nothing (a file removed meanwhile).
pub fn dir_size(dir: &Path) -> u64 {
    let mut seen: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                todo.push(e.path());
            } else if seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

/// A container's two sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Its writable layer (`SizeRw`).
    pub rw: u64,
    /// That and its image's layers (`SizeRootFs`).
    pub root_fs: u64,
}

/// The sizes of `c`, its image's layers being `image_size` bytes.
pub fn of(c: &Container, image_size: u64) -> Sizes {
    let rw = dir_size(&c.rootfs.upper);
    Sizes {
        rw,
        root_fs: rw + image_size,
    }
}

/// The SIZE column as the Docker CLI writes it: the writable layer, and
/// the virtual size when there is one (go-units, three digits).
pub fn shown(s: Sizes) -> String {
    let rw = human_size(s.rw, 3);
    if s.root_fs > 0 {
        format!("{rw} (virtual {})", human_size(s.root_fs, 3))
    } else {
        rw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_reads_as_dockers() {
        assert_eq!(
            shown(Sizes {
                rw: 2,
                root_fs: 4_500_002
            }),
            "2B (virtual 4.5MB)"
        );
        assert_eq!(shown(Sizes { rw: 0, root_fs: 0 }), "0B");
        assert_eq!(
            shown(Sizes {
                rw: 1536,
                root_fs: 1_230_000_000
            }),
            "1.54kB (virtual 1.23GB)"
        );
    }

    #[test]
    fn files_count_once_and_directories_not_at_all() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("a/b")).unwrap();
        std::fs::write(p.join("a/b/f"), b"hello").unwrap();
        std::fs::write(p.join("g"), b"xy").unwrap();
        std::fs::hard_link(p.join("g"), p.join("a/g2")).unwrap();
        std::os::unix::fs::symlink("f", p.join("a/b/link")).unwrap();
        // 5 + 2 (once for both names) + the link's own 1 byte.
        assert_eq!(dir_size(p), 8);
        assert_eq!(dir_size(&p.join("missing")), 0);
    }
}
