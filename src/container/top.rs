//! `top`: the processes of a container, as `ps -ef` on the host shows
//! them (Docker runs `ps -ef` and keeps the lines of the container's
//! pids): UID PID PPID C STIME TTY TIME CMD. The pids are those of the
//! container's cgroup (`cgroup.procs`), so a process `exec`'d into the
//! container is there too, and each column comes from `/proc/PID/stat`,
//! `/proc/PID/status` and `/proc/PID/cmdline`, computed as procps does.
//! The pids are the host's: inside, the init is PID 1. Read `proc(5)`
//! and `ps(1)`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::state::Container;
use crate::state::Root;

/// `ps -ef`'s columns.
pub const TITLES: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// The fields of `/proc/PID/stat` `top` needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub ppid: u32,
    pub tty_nr: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Clock ticks after boot.
    pub start: u64,
}

/// Parse `/proc/PID/stat` (the command name may hold spaces and `)`).
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // f[0] is field 3 (state).
    let n = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        comm,
        ppid: n(4)? as u32,
        tty_nr: n(7)?,
        cpu_ticks: n(14)? + n(15)?,
        start: n(22)?,
    })
}

/// procps's TTY: `?` without one, `pts/N`, `ttyN`, `ttySN`.
pub fn tty_name(tty_nr: u64) -> String {
    if tty_nr == 0 {
        return "?".into();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 1 => "console".into(),
        _ => "?".into(),
    }
}

/// procps's TIME: `[DD-]HH:MM:SS` of CPU time.
pub fn cpu_time(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// procps's C: CPU use over the process's life in percent, at most 99.
pub fn cpu_percent(cpu_ticks: u64, hz: u64, alive_secs: u64) -> u64 {
    if alive_secs == 0 {
        return 0;
    }
    (cpu_ticks * 100 / hz.max(1) / alive_secs).min(99)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A time in the local zone: (year, day of year, month 0-11, day, hour, minute).
fn local(t: i64) -> (i32, i32, usize, i32, i32, i32) {
    // SAFETY: localtime_r fills the tm we own from a time_t we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let tt = t as libc::time_t;
    // SAFETY: as above; both pointers are valid for the call.
    unsafe { libc::localtime_r(&tt, &mut tm) };
    (
        tm.tm_year,
        tm.tm_yday,
        tm.tm_mon.clamp(0, 11) as usize,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
    )
}

/// procps's STIME: `HH:MM` today, `MonDD` this year, else the year.
pub fn start_time(started: i64, now: i64) -> String {
    let (y, yd, mon, day, h, m) = local(started);
    let (ny, nyd, ..) = local(now);
    if ny != y {
        format!("{}", y + 1900)
    } else if nyd != yd {
        format!("{}{day:02}", MONTHS[mon])
    } else {
        format!("{h:02}:{m:02}")
    }
}

/// The user names of the host's `/etc/passwd` (ps shows the host's).
fn users() -> BTreeMap<u32, String> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
        })
        .collect()
}

/// `btime` of `/proc/stat`: the boot, in seconds since the epoch.
fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The effective uid of `/proc/PID/status`.
fn euid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
}

/// One `ps -ef` line for `pid`; `None` if it has gone meanwhile.
fn process(
    pid: u32,
    users: &BTreeMap<u32, String>,
    hz: u64,
    boot: i64,
    now: i64,
) -> Option<Vec<String>> {
    let stat = parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    let uid = euid(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cmd = if args.is_empty() {
        format!("[{}]", stat.comm)
    } else {
        args.join(" ")
    };
    let started = boot + (stat.start / hz.max(1)) as i64;
    let alive = (now - started).max(0) as u64;
    Some(vec![
        users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
        pid.to_string(),
        stat.ppid.to_string(),
        cpu_percent(stat.cpu_ticks, hz, alive).to_string(),
        start_time(started, now),
        tty_name(stat.tty_nr),
        cpu_time(stat.cpu_ticks / hz.max(1)),
        cmd,
    ])
}

/// The processes of running container `c`, by pid, one row of [`TITLES`]
/// each (Docker's message when it does not run).
pub fn processes(root: &Root, c: &Container) -> Result<Vec<Vec<String>>> {
    if !super::shim::runs(c.state.status) {
        bail!("Container {} is not running", c.id);
    }
    let g = crate::cgroup::Group::open(root, &c.cgroup)?;
    let pids = g.procs()?;
    // SAFETY: sysconf with a constant name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let boot = boot_time();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let users = users();
    Ok(pids
        .into_iter()
        .filter_map(|p| process(p, &users, hz, boot, now))
        .collect())
}

/// The table as `docker top` prints it (tabwriter, columns at least 20
/// wide).
pub fn table(rows: &[Vec<String>]) -> String {
    let mut text = TITLES.join("\t");
    text.push('\n');
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    crate::template::tabwriter(&text, 20, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_even_with_odd_names() {
        let s = parse_stat("4242 (we ird) x) S 7 4242 4242 34816 -1 4194560 100 0 0 0 30 12 0 0 20 0 1 0 987654 1000 50").unwrap();
        assert_eq!(s.comm, "we ird) x");
        assert_eq!(s.ppid, 7);
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.cpu_ticks, 42);
        assert_eq!(s.start, 987654);
        assert_eq!(tty_name(34816), "pts/0");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
    }

    #[test]
    fn times_as_procps_prints_them() {
        assert_eq!(cpu_time(0), "00:00:00");
        assert_eq!(cpu_time(3725), "01:02:05");
        assert_eq!(cpu_time(90000), "1-01:00:00");
        assert_eq!(cpu_percent(50, 100, 10), 5);
        assert_eq!(cpu_percent(5000, 100, 10), 99);
        assert_eq!(cpu_percent(5, 100, 0), 0);
        let now = 1_704_067_200 + 12 * 3600; // 2024-01-01 12:00 UTC
        let s = start_time(now - 60, now);
        assert_eq!(s.len(), 5, "HH:MM today: {s}");
        assert_eq!(start_time(now - 400 * 86400, now), "2022");
    }

    #[test]
    fn the_table_is_dockers() {
        let rows = vec![vec![
            "root".into(),
            "5098".into(),
            "5077".into(),
            "0".into(),
            "06:39".into(),
            "?".into(),
            "00:00:00".into(),
            "sleep 1000".into(),
        ]];
        assert_eq!(
            table(&rows),
            "UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD\nroot                5098                5077                0                   06:39               ?                   00:00:00            sleep 1000\n"
        );
    }
}
