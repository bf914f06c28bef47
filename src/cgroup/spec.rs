//! Docker's resource flags, as pure functions: the same inputs Docker
//! accepts, the same values it writes, the same errors it prints.
//!
//! `--memory` / `--memory-swap` take sizes with b, k, m, g suffixes (Docker's
//! `RAMInBytes`), `--memory` must be at least 6M, and `--memory-swap` is the
//! total of memory plus swap: unset means swap equals memory (the total is
//! twice the memory), equal to memory means no swap, `-1` means unlimited.
//! `--cpu-shares 0` and `--pids-limit 0`/`-1` are Docker's "unset" and
//! "unlimited". Nothing here touches the host: `run` and `cgroup create`
//! both resolve their flags here, and the unit tests pin the rules down.

use anyhow::{Result, bail};
use serde::Serialize;

/// Docker's minimum for `--memory` (`linuxMinMemory`, 6 MiB).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// The CFS period Docker uses for `--cpus` (100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;
/// The bounds of v1 `cpu.shares` (the kernel clamps to them; Docker warns).
pub const MIN_SHARES: u64 = 2;
pub const MAX_SHARES: u64 = 262_144;

/// Parse a size the way Docker's `RAMInBytes` does: a number (decimals
/// allowed) and an optional binary suffix b, k, m, g, t, p (`500M`,
/// `1.5g`, `200mb`, `64KiB`).
pub fn parse_size(text: &str) -> Result<u64> {
    let invalid =
        || anyhow::anyhow!("invalid size: '{text}' (use a number with b, k, m or g, e.g. 200m)");
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1
    {
        return Err(invalid());
    }
    let value: f64 = num.parse().map_err(|_| invalid())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(invalid()),
    };
    // `500mib` would strip to "m" after "b" and "i": Docker accepts it too.
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as u64)
}

/// Show bytes the way a student typed them: `200M`, `1.5G`, `4096`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (u, m) in UNITS {
        if bytes >= m && bytes.is_multiple_of(m) {
            return format!("{}{u}", bytes / m);
        }
    }
    for (u, m) in UNITS {
        if bytes >= m {
            return format!("{:.1}{u}", bytes as f64 / m as f64);
        }
    }
    bytes.to_string()
}

/// The resource flags exactly as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub cpu_shares: Option<i64>,
    pub cpus: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub pids_limit: Option<i64>,
}

impl Flags {
    pub fn is_empty(&self) -> bool {
        *self == Flags::default()
    }
}

/// What to do with swap (the total of memory plus swap, as Docker counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "bytes")]
pub enum Swap {
    /// `--memory-swap` not given: memory + swap = 2 x memory.
    Default,
    /// `--memory-swap -1`: swap without limit.
    Unlimited,
    /// `--memory-swap N`: memory + swap = N (N = memory: no swap).
    Total(u64),
}

/// Resolved limits: every value checked, nothing left to interpret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Bytes; `None`: leave as is.
    pub memory: Option<u64>,
    /// Only meaningful with `memory`.
    pub swap: Option<Swap>,
    /// Docker's `--memory-reservation`, a soft limit in bytes (v1
    /// `memory.soft_limit_in_bytes`, v2 `memory.low`); `None`: leave as is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
    /// v1 `cpu.shares` (already clamped to 2..=262144).
    pub cpu_shares: Option<u64>,
    /// CFS quota and period in microseconds.
    pub cpu_quota: Option<(u64, u64)>,
    /// A cpu list such as `0` or `0-1,3`.
    pub cpuset_cpus: Option<String>,
    /// `None`: leave; `Some(None)`: unlimited (`max`); `Some(Some(n))`.
    pub pids: Option<Option<u64>>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The controllers these limits need.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut c = Vec::new();
        if self.memory.is_some() || self.memory_reservation.is_some() {
            c.push("memory");
        }
        if self.cpu_shares.is_some() || self.cpu_quota.is_some() {
            c.push("cpu");
        }
        if self.cpuset_cpus.is_some() {
            c.push("cpuset");
        }
        if self.pids.is_some() {
            c.push("pids");
        }
        c
    }

    /// memory + swap in bytes, as v1's `memory.memsw.limit_in_bytes` wants
    /// it (`None`: unlimited).
    pub fn memsw_total(&self) -> Option<Option<u64>> {
        let mem = self.memory?;
        Some(match self.swap.unwrap_or(Swap::Default) {
            Swap::Default => Some(mem.saturating_mul(2)),
            Swap::Unlimited => None,
            Swap::Total(t) => Some(t),
        })
    }

    /// Swap alone, as v2's `memory.swap.max` wants it (`None`: `max`).
    pub fn swap_only(&self) -> Option<Option<u64>> {
        let mem = self.memory?;
        Some(self.memsw_total()?.map(|t| t.saturating_sub(mem)))
    }
}

/// How many CPUs glassbox may use here (its CPU affinity and any cgroup
/// quota of its own), the count `--cpus` and `--cpuset-cpus` are checked
/// against, as Docker checks them against the CPUs it can use.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// A warning Docker prints but goes on.
pub type Warnings = Vec<String>;

/// Check the flags with Docker's rules and resolve them to values.
/// `ncpus` is the number of CPUs online (for `--cpus`).
pub fn resolve(flags: &Flags, ncpus: usize) -> Result<(Limits, Warnings)> {
    let mut warnings = Vec::new();
    let mut l = Limits::default();
    if let Some(m) = &flags.memory {
        let bytes = parse_size(m).map_err(|e| {
            anyhow::anyhow!("invalid argument {m:?} for \"-m, --memory\" flag: {e}")
        })?;
        // Docker: 0 leaves the limit unset.
        if bytes != 0 && bytes < MIN_MEMORY {
            bail!("Minimum memory limit allowed is 6MB");
        }
        l.memory = (bytes != 0).then_some(bytes);
    }
    // Docker: --memory-swap 0 is the same as not giving it.
    let swap_flag = flags
        .memory_swap
        .as_ref()
        .filter(|s| parse_size(s).ok() != Some(0));
    if let Some(s) = swap_flag {
        let swap = if s.trim() == "-1" {
            Swap::Unlimited
        } else {
            Swap::Total(parse_size(s).map_err(|e| {
                anyhow::anyhow!("invalid argument {s:?} for \"--memory-swap\" flag: {e}")
            })?)
        };
        let Some(mem) = l.memory else {
            bail!("You should always set the Memory limit when using Memoryswap limit, see usage");
        };
        if let Swap::Total(t) = swap
            && t < mem
        {
            bail!("Minimum memoryswap limit should be larger than memory limit, see usage");
        }
        l.swap = Some(swap);
    }
    if let Some(shares) = flags.cpu_shares {
        match shares {
            0 => {}
            s if s < 0 => bail!(
                "invalid CPU shares {s}: give a positive weight (1024 is the default), or 0 to leave it unset"
            ),
            s if (s as u64) < MIN_SHARES => {
                warnings.push(format!(
                    "Changing requested CPUShares of {s} to minimum allowed of {MIN_SHARES}"
                ));
                l.cpu_shares = Some(MIN_SHARES);
            }
            s if (s as u64) > MAX_SHARES => {
                warnings.push(format!(
                    "Changing requested CPUShares of {s} to maximum allowed of {MAX_SHARES}"
                ));
                l.cpu_shares = Some(MAX_SHARES);
            }
            s => l.cpu_shares = Some(s as u64),
        }
    }
    if let Some(c) = &flags.cpus {
        let nano = parse_cpus(c)?;
        if nano > 0 {
            if nano > ncpus as u64 * 1_000_000_000 {
                bail!(
                    "Range of CPUs is from 0.01 to {ncpus}.00, as there are only {ncpus} CPUs available"
                );
            }
            let quota = nano * CPU_PERIOD_US / 1_000_000_000;
            if quota < 1000 {
                bail!("CPU cfs quota can not be less than 1ms (i.e. 1000)");
            }
            l.cpu_quota = Some((quota, CPU_PERIOD_US));
        }
    }
    if let Some(set) = &flags.cpuset_cpus {
        // Ranges are checked as ranges: `0-99999999999` is two numbers,
        // not a list of a hundred billion CPUs to build first.
        let ranges = parse_cpu_list(set)?;
        if let Some(&(first, _)) = ranges.iter().find(|&&(_, last)| last >= ncpus) {
            bail!(
                "Requested CPUs are not available - requested {}, available: {} (cpu {} does not exist)",
                set.trim(),
                cpu_range(ncpus),
                first.max(ncpus)
            );
        }
        l.cpuset_cpus = Some(set.trim().to_string());
    }
    if let Some(p) = flags.pids_limit {
        l.pids = Some(match p {
            -1 | 0 => None,
            p if p < 0 => {
                bail!("invalid pids limit {p}: give a positive number, or 0 or -1 for unlimited")
            }
            p => Some(p as u64),
        });
    }
    Ok((l, warnings))
}

/// `--cpus 1.5` as nano-CPUs, as Docker's `ParseCPUs` does.
pub fn parse_cpus(text: &str) -> Result<u64> {
    let t = text.trim();
    let v: f64 = t
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid argument {text:?} for \"--cpus\" flag: failed to parse {text} as a rational number"))?;
    if !v.is_finite() || v < 0.0 {
        bail!(
            "invalid argument {text:?} for \"--cpus\" flag: Range of CPUs is from 0.01 to the number of CPUs"
        );
    }
    let nano = (v * 1e9).round();
    if nano != (v * 1e9) && (nano - v * 1e9).abs() > 0.5 {
        bail!("invalid argument {text:?} for \"--cpus\" flag: value is too precise");
    }
    Ok(nano as u64)
}

/// A cpu list (`0`, `0-2`, `0,3`, `1-2,5`) as inclusive ranges of cpu
/// numbers, as written (never expanded: the caller bounds them).
pub fn parse_cpu_list(text: &str) -> Result<Vec<(usize, usize)>> {
    let bad =
        || anyhow::anyhow!("Invalid value {text} for cpuset cpus (use a list like 0 or 0-1,3)");
    let mut out = Vec::new();
    for part in text.trim().split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let num = |t: &str| {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse::<usize>().map_err(|_| bad())
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            return Err(bad());
        }
        out.push((a, b));
    }
    Ok(out)
}

/// The CPUs `0..n` as a cpu list: `0`, `0-1`.
pub fn cpu_range(n: usize) -> String {
    match n {
        0 | 1 => "0".into(),
        n => format!("0-{}", n - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> Flags {
        Flags::default()
    }

    #[test]
    fn sizes_take_dockers_suffixes() {
        assert_eq!(parse_size("200M").unwrap(), 200 << 20);
        assert_eq!(parse_size("200m").unwrap(), 200 << 20);
        assert_eq!(parse_size("200mb").unwrap(), 200 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("64k").unwrap(), 64 << 10);
        assert_eq!(parse_size("64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("4096b").unwrap(), 4096);
        for bad in ["10x", "", "m", "-5m", "1..2m", ".5m", "5m5", "1e3"] {
            let e = parse_size(bad).unwrap_err().to_string();
            assert!(e.contains("invalid size"), "{bad}: {e}");
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(200 << 20), "200M");
        assert_eq!(human_size(3 << 29), "1536M");
        assert_eq!(human_size((1 << 30) + 1), "1.0G");
        assert_eq!(human_size(100), "100");
    }

    #[test]
    fn memory_minimum_is_6m() {
        let f = Flags {
            memory: Some("5m".into()),
            ..flags()
        };
        assert_eq!(
            resolve(&f, 2).unwrap_err().to_string(),
            "Minimum memory limit allowed is 6MB"
        );
        let f = Flags {
            memory: Some("6m".into()),
            ..flags()
        };
        assert_eq!(resolve(&f, 2).unwrap().0.memory, Some(6 << 20));
        let f = Flags {
            memory: Some("10x".into()),
            ..flags()
        };
        let e = resolve(&f, 2).unwrap_err().to_string();
        assert!(e.contains("invalid size: '10x'"), "{e}");
    }

    fn swap_of(mem: &str, swap: Option<&str>) -> Result<Limits> {
        let f = Flags {
            memory: Some(mem.into()),
            memory_swap: swap.map(Into::into),
            ..flags()
        };
        Ok(resolve(&f, 2)?.0)
    }

    #[test]
    fn swap_rules_are_dockers() {
        const M: u64 = 200 << 20;
        // unset: swap = memory (total 2x)
        let l = swap_of("200m", None).unwrap();
        assert_eq!(l.memsw_total(), Some(Some(2 * M)));
        assert_eq!(l.swap_only(), Some(Some(M)));
        // equal: no swap
        let l = swap_of("200m", Some("200m")).unwrap();
        assert_eq!(l.memsw_total(), Some(Some(M)));
        assert_eq!(l.swap_only(), Some(Some(0)));
        // larger: the difference is swap
        let l = swap_of("200m", Some("300m")).unwrap();
        assert_eq!(l.memsw_total(), Some(Some(300 << 20)));
        assert_eq!(l.swap_only(), Some(Some(100 << 20)));
        // -1: unlimited
        let l = swap_of("200m", Some("-1")).unwrap();
        assert_eq!(l.memsw_total(), Some(None));
        assert_eq!(l.swap_only(), Some(None));
        // 0 is Docker's "unset", with or without --memory
        let l = swap_of("200m", Some("0")).unwrap();
        assert_eq!(l.memsw_total(), Some(Some(2 * M)));
        // less than memory, or without memory: Docker's errors
        assert_eq!(
            swap_of("200m", Some("100m")).unwrap_err().to_string(),
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
        let f = Flags {
            memory_swap: Some("300m".into()),
            ..flags()
        };
        assert_eq!(
            resolve(&f, 2).unwrap_err().to_string(),
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        );
        assert!(swap_of("200m", Some("lots")).is_err());
    }

    #[test]
    fn cpu_shares_special_values() {
        let r = |s| {
            resolve(
                &Flags {
                    cpu_shares: Some(s),
                    ..flags()
                },
                2,
            )
        };
        assert_eq!(r(0).unwrap().0.cpu_shares, None);
        assert_eq!(r(512).unwrap().0.cpu_shares, Some(512));
        let (l, w) = r(1).unwrap();
        assert_eq!(l.cpu_shares, Some(2));
        assert_eq!(
            w,
            vec!["Changing requested CPUShares of 1 to minimum allowed of 2"]
        );
        assert_eq!(r(1 << 20).unwrap().0.cpu_shares, Some(MAX_SHARES));
        assert!(r(-3).is_err());
    }

    #[test]
    fn cpus_become_quota_over_period() {
        let r = |s: &str| {
            resolve(
                &Flags {
                    cpus: Some(s.into()),
                    ..flags()
                },
                2,
            )
        };
        assert_eq!(r("0.5").unwrap().0.cpu_quota, Some((50_000, 100_000)));
        assert_eq!(r("1.5").unwrap().0.cpu_quota, Some((150_000, 100_000)));
        assert_eq!(r("2").unwrap().0.cpu_quota, Some((200_000, 100_000)));
        assert_eq!(r("0").unwrap().0.cpu_quota, None);
        assert_eq!(
            r("3").unwrap_err().to_string(),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        assert!(
            r("abc")
                .unwrap_err()
                .to_string()
                .contains("rational number")
        );
        assert!(r("-1").is_err());
        assert!(
            r("0.001")
                .unwrap_err()
                .to_string()
                .contains("less than 1ms")
        );
    }

    #[test]
    fn cpusets_are_checked_against_the_host() {
        assert_eq!(parse_cpu_list("0-2,5").unwrap(), vec![(0, 2), (5, 5)]);
        for bad in [
            "2-1",
            "a",
            "",
            "1,",
            "-1",
            "1-",
            "+1",
            "0-99999999999999999999999",
        ] {
            let e = parse_cpu_list(bad).unwrap_err().to_string();
            assert!(e.contains("Invalid value"), "{bad}: {e}");
        }
        let r = |s: &str| {
            resolve(
                &Flags {
                    cpuset_cpus: Some(s.into()),
                    ..flags()
                },
                2,
            )
        };
        assert_eq!(r("0").unwrap().0.cpuset_cpus.as_deref(), Some("0"));
        assert_eq!(r("0-1,1").unwrap().0.cpuset_cpus.as_deref(), Some("0-1,1"));
        assert_eq!(
            r("7").unwrap_err().to_string(),
            "Requested CPUs are not available - requested 7, available: 0-1 (cpu 7 does not exist)"
        );
    }

    #[test]
    fn a_huge_cpu_range_is_refused_without_building_it() {
        // The old parser pushed every cpu number of the range into a
        // vector first: 800 GB for this one.
        let f = Flags {
            cpuset_cpus: Some("0-99999999999".into()),
            ..flags()
        };
        assert_eq!(
            resolve(&f, 2).unwrap_err().to_string(),
            "Requested CPUs are not available - requested 0-99999999999, available: 0-1 (cpu 2 does not exist)"
        );
        let f = Flags {
            cpuset_cpus: Some(format!("0-{}", usize::MAX)),
            ..flags()
        };
        assert!(
            resolve(&f, 1)
                .unwrap_err()
                .to_string()
                .contains("available: 0 (")
        );
    }

    #[test]
    fn pids_limit_special_values() {
        let r = |p| {
            resolve(
                &Flags {
                    pids_limit: Some(p),
                    ..flags()
                },
                2,
            )
        };
        assert_eq!(r(-1).unwrap().0.pids, Some(None));
        assert_eq!(r(0).unwrap().0.pids, Some(None));
        assert_eq!(r(20).unwrap().0.pids, Some(Some(20)));
        assert!(r(-2).is_err());
    }

    #[test]
    fn controllers_follow_the_flags() {
        let f = Flags {
            memory: Some("200m".into()),
            cpus: Some("0.5".into()),
            pids_limit: Some(10),
            ..flags()
        };
        assert_eq!(
            resolve(&f, 2).unwrap().0.controllers(),
            vec!["memory", "cpu", "pids"]
        );
    }
}
