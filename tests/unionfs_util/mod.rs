//! Helpers shared by the unionfs integration tests: build layers, look at
//! mountinfo, list a tree to prove nothing changed.
#![allow(dead_code)]

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::common::{self, TestRoot};

/// Is anything mounted exactly at `path`?
pub fn mounted(path: &Path) -> bool {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    glassbox::host::mountinfo::read(None)
        .unwrap()
        .iter()
        .any(|m| m.mount_point == path)
}

/// Mounts anywhere under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    glassbox::host::mountinfo::read(None)
        .unwrap()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// `mkdir -p` each path.
pub fn dirs(base: &Path, names: &[&str]) {
    for n in names {
        std::fs::create_dir_all(base.join(n)).unwrap();
    }
}

/// Write a file, making its parents.
pub fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Every entry under `dir` with its type, size, mode, mtime and content:
/// equal listings mean nothing was changed.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            out.push(format!("{rel}: missing"));
            return;
        };
        let mut names: Vec<_> = rd.map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for n in names {
            let p = dir.join(&n);
            let m = std::fs::symlink_metadata(&p).unwrap();
            let key = format!("{rel}/{}", n.to_string_lossy());
            let kind = if m.is_dir() {
                "dir".to_string()
            } else if m.file_type().is_char_device() {
                format!("chardev {}", m.rdev())
            } else {
                format!("file {:?}", std::fs::read(&p).unwrap_or_default())
            };
            out.push(format!(
                "{key} {kind} mode={:o} mtime={}",
                m.mode(),
                m.mtime_nsec()
            ));
            if m.is_dir() {
                walk(&p, &key, out);
            }
        }
    }
    walk(dir, "", &mut out);
    out
}

/// A standard small stack: `l1` (top) over `l2`, `u`, `w`, `m`, under `base`.
pub struct Layout {
    pub l1: PathBuf,
    pub l2: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

impl Layout {
    pub fn new(base: &Path) -> Layout {
        let l = Layout {
            l1: base.join("l1"),
            l2: base.join("l2"),
            upper: base.join("u"),
            work: base.join("w"),
            merged: base.join("m"),
        };
        for d in [&l.l1, &l.l2, &l.upper, &l.work, &l.merged] {
            std::fs::create_dir_all(d).unwrap();
        }
        put(&l.l2.join("etc/motd"), "bottom motd\n");
        put(&l.l2.join("etc/hostname"), "bottom\n");
        put(&l.l1.join("etc/hostname"), "top\n");
        put(&l.l2.join("data/a"), "a\n");
        put(&l.l2.join("data/b"), "b\n");
        l
    }

    pub fn lower(&self) -> String {
        format!("{}:{}", self.l1.display(), self.l2.display())
    }

    /// The arguments of `unionfs mount` for this layout.
    pub fn mount_args(&self) -> Vec<String> {
        vec![
            "unionfs".into(),
            "mount".into(),
            "--lower".into(),
            self.lower(),
            "--upper".into(),
            self.upper.display().to_string(),
            "--work".into(),
            self.work.display().to_string(),
            self.merged.display().to_string(),
        ]
    }
}

/// Point `flag` (`--upper`, `--work`) of mount arguments at `value`.
pub fn set(args: &mut [String], flag: &str, value: &Path) {
    let i = args.iter().position(|a| a == flag).unwrap();
    args[i + 1] = value.display().to_string();
}

/// As root, a private state root with the standard stack under `<root>/s`:
/// (the root, `<root>/s`, the stack).
pub fn root_with_stack() -> (TestRoot, PathBuf, Layout) {
    common::require_root();
    let root = TestRoot::new();
    let base = root.path().join("s");
    let l = Layout::new(&base);
    (root, base, l)
}

/// Two stacks under `base`: `first` mounted, and the mount arguments of
/// `second` with its upper and work directories inside `first`'s overlay.
pub fn upper_on_overlay(root: &TestRoot, base: &Path) -> (Layout, Layout, Vec<String>) {
    let first = Layout::new(&base.join("first"));
    root.ok(&strs(&first.mount_args()));
    std::fs::create_dir(first.merged.join("u")).unwrap();
    std::fs::create_dir(first.merged.join("w")).unwrap();
    let second = Layout::new(&base.join("second"));
    let mut args = second.mount_args();
    set(&mut args, "--upper", &first.merged.join("u"));
    set(&mut args, "--work", &first.merged.join("w"));
    (first, second, args)
}

pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
