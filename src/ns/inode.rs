//! Namespace identity: each namespace is an inode of the `nsfs` filesystem,
//! shown by `readlink /proc/PID/ns/TYPE` as `uts:[4026532301]`. Two
//! processes are in the same namespace exactly when those inodes are equal.
//! Read `namespaces(7)`, section "The /proc/[pid]/ns/ directory".

use std::os::fd::{AsRawFd, BorrowedFd};
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

/// Where a `--dry-run` plan made without knowing the process (its record
/// was root's to read: `exec --dry-run` as another user) names its
/// namespaces: `/proc/PID/ns/TYPE`. No real process has this directory.
pub const PLANNED_PROC: &str = "/proc/PID";

/// `/proc/PID/ns/TYPE` of a process a plan does not know.
pub fn planned_ns_path(t: NsType) -> PathBuf {
    Path::new(PLANNED_PROC).join("ns").join(t.proc_name())
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

/// `statfs(2)`'s `f_type` of the namespace filesystem, `nsfs`.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// What an open file really is, asked of the kernel: `Ok(Some(kind))` for
/// a namespace file (its filesystem is `nsfs`, as `fstatfs(2)` says, and
/// the ioctl `NS_GET_NSTYPE` names its kind), `Ok(None)` for any other
/// file, such as the empty file left under a pin once it is unmounted.
/// Read `ioctl_ns(2)`.
pub fn ns_type_of_fd(fd: BorrowedFd) -> Result<Option<NsType>> {
    // SAFETY: a zeroed statfs is a valid out-buffer for the kernel to fill.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is an open descriptor and sfs a valid, writable statfs.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut sfs) } != 0 {
        return Err(std::io::Error::last_os_error()).context("fstatfs(2)");
    }
    if sfs.f_type as i64 != NSFS_MAGIC {
        return Ok(None);
    }
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd.
    let kind = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_NSTYPE) };
    if kind == -1 {
        return Err(std::io::Error::last_os_error()).context("ioctl(2) NS_GET_NSTYPE");
    }
    Ok(NsType::ALL
        .into_iter()
        .find(|t| t.clone_flag() == kind as u64))
}

/// [`ns_type_of_fd`] of the file at `path`.
pub fn ns_type_of(path: &Path) -> Result<Option<NsType>> {
    use std::os::fd::AsFd;
    let f = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    ns_type_of_fd(f.as_fd()).with_context(|| format!("ask what {} is", path.display()))
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
    fn namespace_files_are_told_from_other_files() {
        for t in [NsType::Uts, NsType::Net, NsType::Mnt] {
            assert_eq!(ns_type_of(&ns_path(None, t)).unwrap(), Some(t));
        }
        let f = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(ns_type_of(f.path()).unwrap(), None);
    }

    #[test]
    fn own_namespaces_have_inodes() {
        // Every kind this kernel supports is readable for ourselves.
        assert!(inode(None, NsType::Uts).unwrap() > 0);
    }
}
