//! What `glassbox cgroup` shows a person: the `stat` table, the `ls`
//! table and its two lines on the host's layout, the line that says which
//! cgroup version a new group uses. Pure text from values: the command
//! prints it, tests compare it.

use super::detect::Placement;
use super::ops::Listing;
use super::spec::human_size;
use super::{Group, Max, Stats};

fn opt_bytes(v: Option<u64>) -> String {
    v.map(|b| format!("{} ({b})", human_size(b)))
        .unwrap_or("-".into())
}

fn max_bytes(m: &Max) -> String {
    match m {
        Max::Max => "max".into(),
        Max::Value(b) => format!("{} ({b})", human_size(*b)),
    }
}

fn secs(us: u64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// `hybrid (v1 controllers + v2 tree): lab/a uses cgroup v1`.
pub fn uses(g: &Group) -> String {
    format!(
        "{}: {} uses cgroup {}",
        g.layout.mode.describe(),
        g.name,
        g.versions()
    )
}

/// The human table of `cgroup stat`.
pub fn stats(s: &Stats) -> String {
    let mut rows: Vec<(String, String)> = vec![("name".into(), s.name.clone())];
    for (v, p) in &s.paths {
        rows.push((format!("path {v}"), p.display().to_string()));
    }
    rows.push((
        "processes".into(),
        format!("{} {:?}", s.procs.len(), s.procs),
    ));
    if let Some(m) = &s.memory {
        rows.push(("memory.current".into(), opt_bytes(Some(m.current))));
        rows.push(("memory.peak".into(), opt_bytes(m.peak)));
        rows.push(("memory.limit".into(), max_bytes(&m.limit)));
        rows.push(("swap.current".into(), opt_bytes(m.swap_current)));
        rows.push((
            "swap.limit".into(),
            m.swap_limit
                .as_ref()
                .map(max_bytes)
                .unwrap_or("- (no swap accounting)".into()),
        ));
        rows.push(("memory.limit_hits".into(), m.limit_hits.to_string()));
        rows.push((
            "memory.oom".into(),
            m.oom
                .map(|o| o.to_string())
                .unwrap_or("- (v1: see oom_kill)".into()),
        ));
        rows.push(("memory.oom_kill".into(), m.oom_kill.to_string()));
    }
    if let Some(c) = &s.cpu {
        rows.push(("cpu.usage".into(), secs(c.usage_usec)));
        if let (Some(u), Some(sy)) = (c.user_usec, c.system_usec) {
            rows.push((
                "cpu.user/system".into(),
                format!("{} / {}", secs(u), secs(sy)),
            ));
        }
        if let Some(sh) = c.shares {
            rows.push(("cpu.shares".into(), sh.to_string()));
        }
        if let Some(w) = c.weight {
            rows.push(("cpu.weight".into(), w.to_string()));
        }
        let quota = match c.quota {
            Max::Max => format!("max (period {}us)", c.period),
            Max::Value(q) => format!(
                "{q}us per {}us = {:.2} CPU",
                c.period,
                q as f64 / c.period as f64
            ),
        };
        rows.push(("cpu.quota".into(), quota));
        rows.push((
            "cpu.throttled".into(),
            format!(
                "{} of {} periods, {}",
                c.nr_throttled,
                c.nr_periods,
                secs(c.throttled_usec)
            ),
        ));
    }
    if let Some(cs) = &s.cpuset {
        rows.push(("cpuset.cpus".into(), cs.clone()));
    }
    if let Some(p) = &s.pids {
        rows.push(("pids.current".into(), p.current.to_string()));
        rows.push(("pids.max".into(), p.max.to_string()));
        rows.push(("pids.refused".into(), p.refused.to_string()));
    }
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<w$}  {v}\n"))
        .collect()
}

/// The two lines `cgroup ls` says first: the mode and swap accounting,
/// then where each controller lives.
pub fn layout(l: &Listing) -> [String; 2] {
    let swap = match l.swap_accounting {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    };
    let mode = format!(
        "{}; swap accounting {swap}, {}",
        l.layout.mode.describe(),
        if l.swap_configured {
            "swap configured"
        } else {
            "no swap configured"
        }
    );
    let places: Vec<String> = l
        .placements
        .iter()
        .map(|(c, p)| match p {
            Some(Placement::V1(m)) => format!("{c}: v1 {}", m.display()),
            Some(Placement::V2(m)) => format!("{c}: v2 {}", m.display()),
            None => format!("{c}: absent"),
        })
        .collect();
    [mode, places.join(", ")]
}

/// The table of `cgroup ls`: one line per group, under a header.
pub fn table(l: &Listing) -> String {
    let mut out = format!(
        "{:<20} {:<6} {:>5} {:>10} {:>12} {:>6}\n",
        "NAME", "CGROUP", "PROCS", "MEMORY", "CPU", "PIDS"
    );
    for g in &l.groups {
        let s = &g.stats;
        let mem = s.memory.as_ref().map(|m| match m.limit {
            Max::Max => "max".to_string(),
            Max::Value(b) => human_size(b),
        });
        let cpu = s.cpu.as_ref().map(|c| match (c.shares, c.weight) {
            (Some(sh), _) => format!("shares {sh}"),
            (_, Some(w)) => format!("weight {w}"),
            _ => "-".into(),
        });
        let pids = s.pids.as_ref().map(|p| p.max.to_string());
        out.push_str(&format!(
            "{:<20} {:<6} {:>5} {:>10} {:>12} {:>6}\n",
            g.name,
            g.versions,
            s.procs.len(),
            mem.unwrap_or("-".into()),
            cpu.unwrap_or("-".into()),
            pids.unwrap_or("-".into())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::cpu::CpuStat;
    use crate::cgroup::detect::{Layout, Mode};
    use crate::cgroup::memory::MemoryStat;
    use crate::cgroup::ops::Listed;
    use crate::cgroup::pids::PidsStat;

    fn sample() -> Stats {
        Stats {
            name: "lab/mem".into(),
            paths: vec![("v2".into(), "/sys/fs/cgroup/g/lab/mem".into())],
            procs: vec![42],
            memory: Some(MemoryStat {
                current: 1 << 20,
                limit: Max::Value(200 << 20),
                oom_kill: 1,
                ..MemoryStat::default()
            }),
            cpu: Some(CpuStat {
                weight: Some(59),
                quota: Max::Value(50_000),
                period: 100_000,
                ..CpuStat::default()
            }),
            cpuset: None,
            pids: Some(PidsStat {
                current: 1,
                max: Max::Value(20),
                refused: 0,
            }),
        }
    }

    #[test]
    fn the_stat_table_aligns_names_and_shows_both_units() {
        let t = stats(&sample());
        assert!(t.contains("memory.limit       200M (209715200)\n"), "{t}");
        assert!(
            t.contains("cpu.quota          50000us per 100000us = 0.50 CPU\n"),
            "{t}"
        );
        assert!(t.contains("processes          1 [42]\n"), "{t}");
        assert!(
            t.contains("memory.oom         - (v1: see oom_kill)\n"),
            "{t}"
        );
    }

    #[test]
    fn the_ls_table_and_its_layout_lines() {
        let l = Listing {
            layout: Layout {
                mode: Mode::Unified,
                v2_mount: Some("/sys/fs/cgroup".into()),
                controllers: Default::default(),
            },
            placements: vec![
                ("memory", Some(Placement::V2("/sys/fs/cgroup".into()))),
                ("cpuset", None),
            ],
            swap_accounting: Some(true),
            swap_configured: false,
            groups: vec![Listed {
                name: "lab/mem".into(),
                versions: "v2".into(),
                stats: sample(),
            }],
        };
        let [mode, places] = layout(&l);
        assert_eq!(
            mode,
            "cgroup v2 (unified); swap accounting on, no swap configured"
        );
        assert_eq!(places, "memory: v2 /sys/fs/cgroup, cpuset: absent");
        let t = table(&l);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "NAME                 CGROUP PROCS     MEMORY          CPU   PIDS"
        );
        assert_eq!(
            lines[1],
            "lab/mem              v2         1       200M    weight 59     20"
        );
    }
}
