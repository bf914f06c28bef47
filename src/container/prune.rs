//! `container prune` (and the containers' part of `system prune`): every
//! container that does not run is removed, as [`super::delete::remove`]
//! removes one, and the space its writable layer held is counted as
//! Docker counts it (`SizeRw`: the bytes of the files in the layer, a
//! hard-linked file once; the logs and glassbox's own files are not part
//! of it). A container whose shim lives is left alone, even while it is
//! still `Created` (it is being started).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Result;

use super::{delete, settle, shim};
use crate::state::Root;

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Ids of the removed containers, oldest first.
    pub removed: Vec<String>,
    /// Bytes of their writable layers.
    pub reclaimed: u64,
    /// The containers that could not be removed, and why.
    pub errors: Vec<String>,
}

/// The bytes of the files below `dir` (Docker's `directory.Size`): sizes
/// as `lstat` gives them, directories and empty files not counted, each
/// inode once.
pub fn layer_size(dir: &Path) -> u64 {
    fn walk(d: &Path, seen: &mut HashSet<(u64, u64)>, total: &mut u64) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(md) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if md.is_dir() {
                walk(&e.path(), seen, total);
            } else if md.len() > 0 && seen.insert((md.dev(), md.ino())) {
                *total += md.len();
            }
        }
    }
    let mut total = 0;
    walk(dir, &mut HashSet::new(), &mut total);
    total
}

/// Remove every container of `root` that does not run.
pub fn stopped(root: &Root) -> Result<Pruned> {
    let mut out = Pruned::default();
    for c in settle::all(root)? {
        if shim::runs(c.state.status) || shim::alive(root, &c.id) {
            continue;
        }
        let size = layer_size(&c.rootfs.upper);
        match delete::remove(root, &c.id) {
            Ok(()) => {
                out.removed.push(c.id);
                out.reclaimed += size;
            }
            Err(e) => out.errors.push(format!("{}: {e:#}", c.id)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_counts_file_bytes_and_a_hard_link_once() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/a"), vec![b'x'; 100]).unwrap();
        std::fs::hard_link(d.path().join("etc/a"), d.path().join("b")).unwrap();
        std::fs::write(d.path().join("empty"), b"").unwrap();
        std::os::unix::fs::symlink("etc/a", d.path().join("l")).unwrap();
        assert_eq!(layer_size(d.path()), 100 + 5);
        assert_eq!(layer_size(&d.path().join("missing")), 0);
    }
}
