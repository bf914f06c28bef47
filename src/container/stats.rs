//! `stats`: what a container uses, read from its cgroup (the cgroup
//! library's [`crate::cgroup::usage`]) and from its network namespace
//! (`/proc/PID/net/dev` of its init), computed as the Docker CLI computes
//! its columns:
//!
//! - CPU %: the container's CPU time over the machine's in the same
//!   interval (`/proc/stat`, all CPUs), times the number of CPUs: 100% is
//!   one CPU kept busy;
//! - MEM USAGE: the group's usage minus its inactive page cache (what the
//!   kernel could give back at once), over the limit (the machine's
//!   memory when there is none);
//! - NET I/O: bytes received and sent on its interfaces (not `lo`);
//! - BLOCK I/O: bytes read and written on block devices;
//! - PIDS: `pids.current`.
//!
//! Read `proc(5)` (`/proc/stat`, `/proc/PID/net/dev`) and `cgroups(7)`.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use super::human::{bytes_size, human_size};
use super::state::Container;
use crate::cgroup::Max;
use crate::state::Root;

/// Docker's default `stats` table.
pub const DEFAULT_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// Column titles for `--format 'table ...'`.
pub fn headers() -> BTreeMap<&'static str, &'static str> {
    [
        ("Container", "CONTAINER"),
        ("Name", "NAME"),
        ("ID", "CONTAINER ID"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ]
    .into()
}

/// One reading of a container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// CPU time of the group, nanoseconds.
    pub cpu_ns: u64,
    /// CPU time of the machine (`/proc/stat`), nanoseconds.
    pub system_ns: u64,
    pub online_cpus: u32,
    /// Usage minus inactive file, bytes.
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

/// `/proc/stat`'s `cpu` line: user, nice, system, idle, iowait, irq and
/// softirq ticks summed (as Docker sums them) in nanoseconds, and the
/// number of `cpuN` lines (the online CPUs).
pub fn system_cpu(proc_stat: &str, ticks_per_sec: u64) -> (u64, u32) {
    let mut total = 0;
    let mut cpus = 0;
    for l in proc_stat.lines() {
        let mut f = l.split_whitespace();
        match f.next() {
            Some("cpu") => {
                let ticks: u64 = f.take(7).filter_map(|n| n.parse::<u64>().ok()).sum();
                total = ticks.saturating_mul(1_000_000_000) / ticks_per_sec.max(1);
            }
            Some(c) if c.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus)
}

/// `/proc/PID/net/dev`: bytes received and sent on every interface but
/// `lo`.
pub fn net_dev(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Usage minus the inactive page cache, when the cache is smaller (Docker's
/// `calculateMemUsageUnixNoCache`).
pub fn mem_usage(usage: u64, inactive_file: Option<u64>) -> u64 {
    match inactive_file {
        Some(i) if i < usage => usage - i,
        _ => usage,
    }
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf with a constant name.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// Read `c` now (it runs).
pub fn sample(root: &Root, c: &Container) -> Result<Sample> {
    let g = crate::cgroup::Group::open(root, &c.cgroup)?;
    let u = g.usage()?;
    let machine = mem_total(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default());
    let (cur, limit) = match &u.stats.memory {
        Some(m) => (
            m.current,
            match m.limit {
                Max::Value(n) if n <= machine || machine == 0 => n,
                _ => machine,
            },
        ),
        None => (0, machine),
    };
    let (system_ns, online_cpus) = system_cpu(
        &std::fs::read_to_string("/proc/stat").unwrap_or_default(),
        clock_ticks(),
    );
    // The host's interfaces are not the container's: `--network host`
    // shows none, as Docker shows it.
    let (net_rx, net_tx) = if c.host_config.network_mode == "host" || c.state.pid == 0 {
        (0, 0)
    } else {
        net_dev(
            &std::fs::read_to_string(format!("/proc/{}/net/dev", c.state.pid)).unwrap_or_default(),
        )
    };
    Ok(Sample {
        cpu_ns: u.stats.cpu.as_ref().map_or(0, |c| c.usage_usec * 1000),
        system_ns,
        online_cpus,
        mem_usage: mem_usage(cur, u.inactive_file),
        mem_limit: limit,
        net_rx,
        net_tx,
        blk_read: u.io_read,
        blk_write: u.io_write,
        pids: u.stats.pids.as_ref().map_or(0, |p| p.current),
    })
}

/// CPU % between two readings (Docker's `calculateCPUPercentUnix`).
pub fn cpu_percent(before: &Sample, now: &Sample) -> f64 {
    let cpu = now.cpu_ns as f64 - before.cpu_ns as f64;
    let system = now.system_ns as f64 - before.system_ns as f64;
    if system > 0.0 && cpu > 0.0 {
        cpu / system * now.online_cpus.max(1) as f64 * 100.0
    } else {
        0.0
    }
}

/// The template fields of one row; `None` readings (a container that
/// does not run) show Docker's `--`.
pub fn row(c: &Container, readings: Option<(&Sample, &Sample)>, no_trunc: bool) -> Value {
    let id = if no_trunc {
        c.id.as_str()
    } else {
        super::id::short(&c.id)
    };
    let Some((before, now)) = readings else {
        return json!({
            "Container": c.name, "Name": c.name, "ID": id,
            "CPUPerc": "0.00%", "MemUsage": "0B / 0B", "MemPerc": "0.00%",
            "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0",
        });
    };
    let mem_perc = if now.mem_limit > 0 {
        now.mem_usage as f64 / now.mem_limit as f64 * 100.0
    } else {
        0.0
    };
    json!({
        "Container": c.name,
        "Name": c.name,
        "ID": id,
        "CPUPerc": format!("{:.2}%", cpu_percent(before, now)),
        "MemUsage": format!("{} / {}", bytes_size(now.mem_usage as f64), bytes_size(now.mem_limit as f64)),
        "MemPerc": format!("{mem_perc:.2}%"),
        "NetIO": format!("{} / {}", human_size(now.net_rx, 3), human_size(now.net_tx, 3)),
        "BlockIO": format!("{} / {}", human_size(now.blk_read, 3), human_size(now.blk_write, 3)),
        "PIDs": now.pids.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_and_the_network_as_proc_shows_them() {
        let stat = "cpu  100 0 50 800 50 0 0 7 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 1\n";
        // 1000 ticks (steal left out, as Docker leaves it) at 100 a second.
        assert_eq!(system_cpu(stat, 100), (10_000_000_000, 2));
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0\n  eth0:    1296      16    0    0    0     0          0         0      726        9    0    0    0     0       0          0\n";
        assert_eq!(net_dev(dev), (1296, 726));
        assert_eq!(mem_total("MemTotal:       24680000 kB\n"), 24680000 * 1024);
        assert_eq!(mem_usage(1000, Some(300)), 700);
        assert_eq!(mem_usage(1000, Some(3000)), 1000);
    }

    #[test]
    fn columns_as_docker_prints_them() {
        let before = Sample {
            cpu_ns: 1_000_000_000,
            system_ns: 10_000_000_000,
            online_cpus: 2,
            ..Sample::default()
        };
        let now = Sample {
            cpu_ns: 1_500_000_000,
            system_ns: 12_000_000_000,
            online_cpus: 2,
            mem_usage: 352256,
            mem_limit: 25_271_000_000,
            net_rx: 1296,
            net_tx: 726,
            pids: 1,
            ..Sample::default()
        };
        // Half a second of CPU in one second of two CPUs: one CPU half busy.
        assert!((cpu_percent(&before, &now) - 50.0).abs() < 1e-9);
        let c = crate::container::list::tests_sample("web");
        let r = row(&c, Some((&before, &now)), false);
        assert_eq!(r["CPUPerc"], "50.00%");
        assert_eq!(r["MemUsage"], "344KiB / 23.54GiB");
        assert_eq!(r["MemPerc"], "0.00%");
        assert_eq!(r["NetIO"], "1.3kB / 726B");
        assert_eq!(r["BlockIO"], "0B / 0B");
        assert_eq!(r["PIDs"], "1");
        let table = crate::template::listing(DEFAULT_FORMAT, &[r], &headers()).unwrap();
        assert!(
            table.starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O   PIDS\n"),
            "{table}"
        );
    }
}
