//! Finding the namespaces on the system, as `lsns(8)` does: walk
//! `/proc/*/ns/*`, group processes by namespace inode, and report each
//! namespace with its process count and its lowest pid. Also one process's
//! namespaces beside PID 1's (`ns show`).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use super::inode;
use super::kind::NsType;

/// One namespace found on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsInfo {
    pub ns: NsType,
    pub inode: u64,
    pub nprocs: usize,
    /// The lowest pid in it.
    pub pid: u32,
    pub uid: u32,
    pub command: String,
}

/// A process seen in /proc: pid, owner uid, command line, and its inodes.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub uid: u32,
    pub command: String,
    pub inodes: Vec<(NsType, u64)>,
}

/// Every process we can read in /proc.
pub fn scan_procs() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(meta) = e.metadata() else { continue };
        let inodes: Vec<(NsType, u64)> = NsType::ALL
            .into_iter()
            .filter_map(|t| inode::inode(Some(pid), t).ok().map(|i| (t, i)))
            .collect();
        if inodes.is_empty() {
            continue; // a kernel thread we may not look at, or gone
        }
        out.push(Proc {
            pid,
            uid: meta.uid(),
            command: command_of(pid),
            inodes,
        });
    }
    out
}

/// The command line of a process, as `ps` shows it.
pub fn command_of(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    if text.is_empty() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        format!("[{}]", comm.trim())
    } else {
        text.join(" ")
    }
}

/// Group processes into namespaces (pure: testable with made-up procs).
pub fn group(procs: &[Proc], only: Option<NsType>) -> Vec<NsInfo> {
    let mut by: BTreeMap<(u64, NsType), NsInfo> = BTreeMap::new();
    for p in procs {
        for (t, ino) in &p.inodes {
            if only.is_some_and(|o| o != *t) {
                continue;
            }
            let e = by.entry((*ino, *t)).or_insert_with(|| NsInfo {
                ns: *t,
                inode: *ino,
                nprocs: 0,
                pid: p.pid,
                uid: p.uid,
                command: p.command.clone(),
            });
            e.nprocs += 1;
            if p.pid < e.pid {
                e.pid = p.pid;
                e.uid = p.uid;
                e.command = p.command.clone();
            }
        }
    }
    by.into_values().collect()
}

/// The `lsns`-like table.
pub fn render_ls(rows: &[NsInfo]) -> String {
    let mut out = format!(
        "{:<11} {:<7} {:>6} {:>7} {:<8} {}\n",
        "NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND"
    );
    for r in rows {
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(r.uid))
            .ok()
            .flatten()
            .map_or_else(|| r.uid.to_string(), |u| u.name);
        out.push_str(&format!(
            "{:<11} {:<7} {:>6} {:>7} {:<8} {}\n",
            r.inode,
            r.ns.proc_name(),
            r.nprocs,
            r.pid,
            user,
            r.command
        ));
    }
    out
}

/// `ns show`: one process's namespaces beside another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// PID 1, or this glassbox process when PID 1's namespaces are hidden
    /// (a sandbox or an LSM).
    pub base: u32,
    pub rows: Vec<inode::Compare>,
}

impl Shown {
    /// Why the comparison is not with PID 1, when it is not.
    pub fn instead_of_pid1(&self) -> Option<String> {
        (self.base != 1).then(|| format!(
            "the namespaces of PID 1 are not readable here (a sandbox or an LSM hides them): comparing with this glassbox process (PID {}) instead",
            self.base
        ))
    }
}

/// The namespaces of `pid` beside PID 1's, or beside this process's when
/// none of PID 1's can be read.
pub fn show(pid: u32) -> anyhow::Result<Shown> {
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        anyhow::bail!("process {pid} does not exist (has it exited?)");
    }
    let compare = |base: u32| -> Vec<inode::Compare> {
        NsType::ALL
            .into_iter()
            .map(|t| inode::Compare {
                ns: t,
                inside: inode::inode(Some(pid), t).ok(),
                outside: inode::inode(Some(base), t).ok(),
            })
            .collect()
    };
    let rows = compare(1);
    if rows.iter().all(|r| r.outside.is_none()) {
        let base = std::process::id();
        return Ok(Shown {
            base,
            rows: compare(base),
        });
    }
    Ok(Shown { base: 1, rows })
}

/// `ns show`: one process's namespaces beside those of `base` (PID 1).
pub fn render_show(pid: u32, base: u32, rows: &[inode::Compare]) -> String {
    let mut out = format!(
        "{:<8} {:<12} {:<12} {}\n",
        "TYPE",
        format!("PID {pid}"),
        format!("PID {base}"),
        "DIFFERS"
    );
    for r in rows {
        let differs = match (r.inside, r.outside) {
            (Some(a), Some(b)) if a != b => "*",
            (Some(_), Some(_)) => "",
            _ => "?",
        };
        let cell = |v: Option<u64>| v.map_or_else(|| "-".into(), |i| i.to_string());
        out.push_str(&format!(
            "{:<8} {:<12} {:<12} {}\n",
            r.ns.proc_name(),
            cell(r.inside),
            cell(r.outside),
            differs
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_counts_and_keeps_lowest_pid() {
        let p = |pid, uts| Proc {
            pid,
            uid: 0,
            command: format!("cmd{pid}"),
            inodes: vec![(NsType::Uts, uts), (NsType::Net, 10)],
        };
        let rows = group(&[p(30, 1), p(7, 1), p(9, 2)], None);
        assert_eq!(rows.len(), 3);
        let uts1 = rows.iter().find(|r| r.inode == 1).unwrap();
        assert_eq!(
            (uts1.nprocs, uts1.pid, uts1.command.as_str()),
            (2, 7, "cmd7")
        );
        let net = rows.iter().find(|r| r.ns == NsType::Net).unwrap();
        assert_eq!(net.nprocs, 3);
        assert_eq!(group(&[p(1, 1)], Some(NsType::Net)).len(), 1);
    }

    #[test]
    fn show_marks_differences() {
        let rows = vec![
            inode::Compare {
                ns: NsType::Uts,
                outside: Some(1),
                inside: Some(2),
            },
            inode::Compare {
                ns: NsType::Net,
                outside: Some(3),
                inside: Some(3),
            },
        ];
        let t = render_show(42, 1, &rows);
        assert!(t.lines().nth(1).unwrap().ends_with('*'), "{t}");
        assert!(!t.lines().nth(2).unwrap().ends_with('*'), "{t}");
    }
}
