//! Namespace identity: each namespace is an inode of the `nsfs` filesystem,
//! shown by `readlink /proc/PID/ns/TYPE` as `uts:[4026532301]`. Two
//! processes are in the same namespace exactly when those inodes are equal.
//! Read `namespaces(7)`, section "The /proc/[pid]/ns/ directory".

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::kind::NsType;

/// `/proc/PID/ns/TYPE`, or `/proc/self/ns/TYPE` for `None`.
pub fn ns_path(pid: Option<u32>, t: NsType) -> PathBuf {
    match pid {
        Some(p) => PathBuf::from(format!("/proc/{p}/ns/{}", t.proc_name())),
        None => PathBuf::from(format!("/proc/self/ns/{}", t.proc_name())),
    }
}

/// The inode of a namespace file (a `/proc` link or a pinned bind mount).
pub fn inode_of(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).with_context(|| format!("stat {}", path.display()))?;
    Ok(meta.ino())
}

/// The inode of a process's namespace of kind `t`.
pub fn inode(pid: Option<u32>, t: NsType) -> Result<u64> {
    inode_of(&ns_path(pid, t))
}

/// Inodes of every kind for a process (`None` where unreadable).
pub fn all(pid: Option<u32>) -> Vec<(NsType, Option<u64>)> {
    NsType::ALL
        .into_iter()
        .map(|t| (t, inode(pid, t).ok()))
        .collect()
}

/// One row of the outside/inside table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    pub ns: NsType,
    pub outside: Option<u64>,
    pub inside: Option<u64>,
}

fn cell(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_string(), |i| i.to_string())
}

/// The table `ns run` prints before CMD starts: per kind, the inode
/// outside and inside and whether it changed.
pub fn render_table(rows: &[Compare]) -> String {
    let mut out = format!(
        "{:<10} {:<12} {:<12} {}\n",
        "NAMESPACE", "OUTSIDE", "INSIDE", "CHANGED"
    );
    for r in rows {
        let changed = match (r.outside, r.inside) {
            (Some(a), Some(b)) if a != b => "yes",
            (Some(_), Some(_)) => "-",
            _ => "?",
        };
        out.push_str(&format!(
            "{:<10} {:<12} {:<12} {}\n",
            r.ns.proc_name(),
            cell(r.outside),
            cell(r.inside),
            changed
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_marks_changes() {
        let rows = vec![
            Compare {
                ns: NsType::Uts,
                outside: Some(4026531838),
                inside: Some(4026532301),
            },
            Compare {
                ns: NsType::Net,
                outside: Some(4026531840),
                inside: Some(4026531840),
            },
        ];
        let t = render_table(&rows);
        assert!(
            t.contains("uts        4026531838   4026532301   yes"),
            "{t}"
        );
        assert!(t.contains("net        4026531840   4026531840   -"), "{t}");
    }

    #[test]
    fn own_namespaces_have_inodes() {
        // Every kind this kernel supports is readable for ourselves.
        assert!(inode(None, NsType::Uts).unwrap() > 0);
    }
}
