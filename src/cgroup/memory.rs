//! The memory controller: a hard limit on the group's RAM (and swap), and
//! the OOM killer when the group cannot be brought back under it.
//!
//! v1: `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` (memory plus
//! swap), `memory.soft_limit_in_bytes` (Docker's `--memory-reservation`),
//! `memory.oom_control` (`oom_kill N`), `memory.failcnt`.
//! v2: `memory.max`, `memory.swap.max` (swap alone), `memory.low` (the
//! reservation, as runc writes it), `memory.events` (`oom`, `oom_kill`),
//! `memory.peak`. Read the kernel's
//! `Documentation/admin-guide/cgroup-v2.rst` and `cgroups(7)`.

use serde::Serialize;

use super::spec::{Limits, human_size};
use super::{Max, Version, Write};

const WHY_MEMORY: &str = "Past this limit the kernel reclaims the group's pages, then the OOM killer kills a process in the group.";
const WHY_RESERVATION: &str = "A soft limit: while the host has memory to spare the group may use more; when memory runs short, the kernel reclaims from groups above their reservation first (v2 memory.low protects this much of the group's memory from reclaim).";
const WHY_SWAP: &str = "Docker's --memory-swap counts memory plus swap; without a swap limit the group could push its excess to swap instead of being killed.";

/// The writes that apply the memory limits, in an order the kernel
/// accepts. `current_memsw` is v1's current memory+swap limit (the kernel
/// refuses `memory.limit_in_bytes` above it, so raising memory writes the
/// total first). Warnings when swap cannot be limited.
pub fn writes(
    v: Version,
    l: &Limits,
    swap_accounting: bool,
    current_memsw: Option<u64>,
) -> (Vec<Write>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let reservation = l.memory_reservation.map(|r| reservation_write(v, r));
    let Some(mem) = l.memory else {
        out.extend(reservation);
        return (out, warnings);
    };
    let mem_note = format!("--memory {}", human_size(mem));
    if !swap_accounting {
        warnings.push(
            "swap accounting is off on this kernel (boot with swapaccount=1, or cgroup v2 with memory.swap.max): \
             the --memory-swap limit cannot be enforced; memory is limited without a swap limit"
                .to_string(),
        );
    }
    match v {
        Version::V2 => {
            out.push(
                Write::new(
                    "memory",
                    "memory.max",
                    mem.to_string(),
                    "memory.limit_in_bytes",
                    WHY_MEMORY,
                )
                .note(mem_note),
            );
            if swap_accounting && let Some(swap) = l.swap_only() {
                out.push(
                    Write::new(
                        "memory",
                        "memory.swap.max",
                        Max::from(swap).to_string(),
                        "memory.memsw.limit_in_bytes (memory + swap)",
                        WHY_SWAP,
                    )
                    .note(format!(
                        "swap = memory-swap - memory = {}",
                        swap.map(human_size).unwrap_or("unlimited".into())
                    )),
                );
            }
        }
        Version::V1 => {
            let m = Write::new(
                "memory",
                "memory.limit_in_bytes",
                mem.to_string(),
                "memory.max",
                WHY_MEMORY,
            )
            .note(mem_note);
            let sw = l.memsw_total().filter(|_| swap_accounting).map(|total| {
                Write::new(
                    "memory",
                    "memory.memsw.limit_in_bytes",
                    total.map(|t| t.to_string()).unwrap_or("-1".into()),
                    "memory.swap.max (swap alone)",
                    WHY_SWAP,
                )
                .note(format!(
                    "memory + swap = {}",
                    total.map(human_size).unwrap_or("unlimited".into())
                ))
            });
            let memory_first = mem <= current_memsw.unwrap_or(u64::MAX);
            match (sw, memory_first) {
                (Some(sw), true) => out.extend([m, sw]),
                (Some(sw), false) => out.extend([sw, m]),
                (None, _) => out.push(m),
            }
        }
    }
    out.extend(reservation);
    (out, warnings)
}

/// `--memory-reservation`: v1 `memory.soft_limit_in_bytes`; v2 `memory.low`,
/// as runc writes it.
fn reservation_write(v: Version, bytes: u64) -> Write {
    let (file, other) = match v {
        Version::V1 => ("memory.soft_limit_in_bytes", "memory.low"),
        Version::V2 => ("memory.low", "memory.soft_limit_in_bytes"),
    };
    Write::new("memory", file, bytes.to_string(), other, WHY_RESERVATION)
        .note(format!("--memory-reservation {}", human_size(bytes)))
}

/// What the memory controller reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryStat {
    pub current: u64,
    pub peak: Option<u64>,
    pub limit: Max,
    pub swap_current: Option<u64>,
    /// v2: swap alone; v1: memory + swap.
    pub swap_limit: Option<Max>,
    /// Times the group hit its limit (v2 memory.events `max`, v1 memory.failcnt).
    pub limit_hits: u64,
    /// v2 memory.events `oom`: the limit was hit and reclaim failed.
    pub oom: Option<u64>,
    /// Processes killed by the OOM killer (v2 memory.events / v1 memory.oom_control `oom_kill`).
    pub oom_kill: u64,
}

/// v1 reports "unlimited" as a huge number (PAGE_COUNTER_MAX pages).
pub fn v1_limit(text: &str) -> Max {
    match text.trim().parse::<u64>() {
        Ok(n) if n < 1 << 62 => Max::Value(n),
        _ => Max::Max,
    }
}

/// A `key value` per line file (memory.events, memory.oom_control, cpu.stat).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::spec::{Flags, resolve};

    fn limits(mem: &str, swap: Option<&str>) -> Limits {
        let f = Flags {
            memory: Some(mem.into()),
            memory_swap: swap.map(Into::into),
            ..Flags::default()
        };
        resolve(&f, 2).unwrap().0
    }

    fn files(w: &[Write]) -> Vec<(String, String)> {
        w.iter()
            .map(|w| (w.file.clone(), w.value.clone()))
            .collect()
    }

    #[test]
    fn v2_writes_swap_alone() {
        let s = |f: &str, v: &str| (f.to_string(), v.to_string());
        let (w, _) = writes(Version::V2, &limits("200m", None), true, None);
        assert_eq!(
            files(&w),
            vec![
                s("memory.max", "209715200"),
                s("memory.swap.max", "209715200")
            ]
        );
        let (w, _) = writes(Version::V2, &limits("200m", Some("200m")), true, None);
        assert_eq!(files(&w)[1], s("memory.swap.max", "0"));
        let (w, _) = writes(Version::V2, &limits("200m", Some("300m")), true, None);
        assert_eq!(files(&w)[1], s("memory.swap.max", "104857600"));
        let (w, _) = writes(Version::V2, &limits("200m", Some("-1")), true, None);
        assert_eq!(files(&w)[1], s("memory.swap.max", "max"));
    }

    #[test]
    fn v1_writes_the_total_in_a_valid_order() {
        let s = |f: &str, v: &str| (f.to_string(), v.to_string());
        let (w, _) = writes(Version::V1, &limits("200m", None), true, None);
        assert_eq!(
            files(&w),
            vec![
                s("memory.limit_in_bytes", "209715200"),
                s("memory.memsw.limit_in_bytes", "419430400")
            ]
        );
        let (w, _) = writes(Version::V1, &limits("200m", Some("200m")), true, None);
        assert_eq!(files(&w)[1], s("memory.memsw.limit_in_bytes", "209715200"));
        let (w, _) = writes(Version::V1, &limits("200m", Some("-1")), true, None);
        assert_eq!(files(&w)[1], s("memory.memsw.limit_in_bytes", "-1"));
        // raising memory above the current total: the total goes first
        let (w, _) = writes(
            Version::V1,
            &limits("300m", Some("600m")),
            true,
            Some(200 << 20),
        );
        assert_eq!(w[0].file, "memory.memsw.limit_in_bytes");
    }

    #[test]
    fn a_reservation_is_the_soft_limit_and_comes_last() {
        let mut l = limits("200m", Some("200m"));
        l.memory_reservation = Some(100 << 20);
        let (w, _) = writes(Version::V1, &l, true, None);
        assert_eq!(
            files(&w).last().unwrap(),
            &("memory.soft_limit_in_bytes".into(), "104857600".into())
        );
        let alone = Limits {
            memory_reservation: Some(64 << 20),
            ..Limits::default()
        };
        let (w, _) = writes(Version::V2, &alone, true, None);
        assert_eq!(files(&w), vec![("memory.low".into(), "67108864".into())]);
        assert_eq!(alone.controllers(), vec!["memory"]);
    }

    #[test]
    fn without_swap_accounting_it_warns_and_skips_swap() {
        let (w, warn) = writes(Version::V1, &limits("200m", Some("300m")), false, None);
        assert_eq!(w.len(), 1);
        assert!(warn[0].contains("cannot be enforced"), "{warn:?}");
    }

    #[test]
    fn parses_counters() {
        let events = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(1));
        assert_eq!(keyed(events, "max"), Some(12));
        assert_eq!(
            keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(v1_limit("9223372036854771712\n"), Max::Max);
        assert_eq!(v1_limit("209715200\n"), Max::Value(209715200));
    }
}
