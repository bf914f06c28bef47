//! The cpu controller: a relative weight among sibling groups, and a hard
//! quota per period (CFS bandwidth control).
//!
//! v1: `cpu.shares` (2..262144, default 1024), `cpu.cfs_quota_us` and
//! `cpu.cfs_period_us`, usage in the cpuacct controller's `cpuacct.usage`.
//! v2: `cpu.weight` (1..10000, default 100), `cpu.max` ("QUOTA PERIOD"),
//! usage and throttling in `cpu.stat`. Docker's `--cpu-shares` is a v1
//! number; on v2 runc and crun convert it to a weight. Read
//! `Documentation/scheduler/sched-bwc.rst`.

use serde::Serialize;

use super::spec::Limits;
use super::{Max, Version, Write};

const WHY_SHARES: &str = "When CPUs are contended, sibling groups get CPU time in proportion to their weights; an idle CPU is still free to use.";
const WHY_QUOTA: &str = "The group may run QUOTA microseconds per PERIOD across all CPUs, then it is throttled until the next period.";

/// v1 `cpu.shares` to v2 `cpu.weight`, as runc 1.3.2+ and crun 1.23+ do:
/// a quadratic in log2(shares) that maps 2 -> 1, 1024 -> 100 and
/// 262144 -> 10000 exactly (the older linear formula gave 1024 -> 39).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// The writes for `--cpu-shares` and `--cpus`.
pub fn writes(v: Version, l: &Limits) -> Vec<Write> {
    let mut out = Vec::new();
    if let Some(shares) = l.cpu_shares {
        out.push(match v {
            Version::V1 => Write::new(
                "cpu",
                "cpu.shares",
                shares.to_string(),
                "cpu.weight",
                WHY_SHARES,
            )
            .note(format!("--cpu-shares {shares}")),
            Version::V2 => {
                let w = shares_to_weight(shares);
                Write::new("cpu", "cpu.weight", w.to_string(), "cpu.shares", WHY_SHARES)
                    .note(format!("--cpu-shares {shares} -> cpu.weight {w}"))
            }
        });
    }
    if let Some((quota, period)) = l.cpu_quota {
        let note = format!(
            "--cpus {:.2} = {quota}us every {period}us",
            quota as f64 / period as f64
        );
        match v {
            Version::V1 => {
                out.push(
                    Write::new(
                        "cpu",
                        "cpu.cfs_period_us",
                        period.to_string(),
                        "cpu.max (second number)",
                        WHY_QUOTA,
                    )
                    .note(note.clone()),
                );
                out.push(
                    Write::new(
                        "cpu",
                        "cpu.cfs_quota_us",
                        quota.to_string(),
                        "cpu.max (first number)",
                        WHY_QUOTA,
                    )
                    .note(note),
                );
            }
            Version::V2 => out.push(
                Write::new(
                    "cpu",
                    "cpu.max",
                    format!("{quota} {period}"),
                    "cpu.cfs_quota_us and cpu.cfs_period_us",
                    WHY_QUOTA,
                )
                .note(note),
            ),
        }
    }
    out
}

/// What the cpu (and v1 cpuacct) controller reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CpuStat {
    /// CPU time used by the group, in microseconds.
    pub usage_usec: u64,
    pub user_usec: Option<u64>,
    pub system_usec: Option<u64>,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_usec: u64,
    /// v1 cpu.shares.
    pub shares: Option<u64>,
    /// v2 cpu.weight.
    pub weight: Option<u64>,
    /// Quota per period in microseconds (`max`: none).
    pub quota: Max,
    pub period: u64,
}

/// v2 `cpu.max`: "max 100000" or "50000 100000".
pub fn parse_cpu_max(text: &str) -> (Max, u64) {
    let mut it = text.split_whitespace();
    let q = it
        .next()
        .and_then(|q| q.parse().ok())
        .map(Max::Value)
        .unwrap_or(Max::Max);
    let p = it.next().and_then(|p| p.parse().ok()).unwrap_or(100_000);
    (q, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_match_runc_and_crun() {
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(512), 59);
        assert_eq!(shares_to_weight(2048), 174);
        assert_eq!(shares_to_weight(10), 4);
        assert_eq!(shares_to_weight(5), 2);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 0);
    }

    #[test]
    fn quota_files() {
        let l = Limits {
            cpu_shares: Some(512),
            cpu_quota: Some((50_000, 100_000)),
            ..Limits::default()
        };
        let v2: Vec<_> = writes(Version::V2, &l)
            .into_iter()
            .map(|w| (w.file, w.value))
            .collect();
        assert_eq!(
            v2,
            vec![
                ("cpu.weight".into(), "59".into()),
                ("cpu.max".into(), "50000 100000".into())
            ]
        );
        let v1: Vec<_> = writes(Version::V1, &l)
            .into_iter()
            .map(|w| (w.file, w.value))
            .collect();
        assert_eq!(
            v1,
            vec![
                ("cpu.shares".into(), "512".into()),
                ("cpu.cfs_period_us".into(), "100000".into()),
                ("cpu.cfs_quota_us".into(), "50000".into())
            ]
        );
        assert_eq!(parse_cpu_max("max 100000\n"), (Max::Max, 100_000));
        assert_eq!(
            parse_cpu_max("50000 100000\n"),
            (Max::Value(50_000), 100_000)
        );
    }
}
