//! The times `logs` and `events` take with `--since`/`--until`, read as the Docker CLI reads
//! them (its `timetypes.GetTimestamp`): a Go duration back from now
//! (`10m`, `1h30m`, `1.5h`), an RFC 3339 time with or without its zone
//! (`2024-01-02T15:04:05Z`, `2024-01-02T15:04:05.5+02:00`,
//! `2024-01-02T15:04`, `2024-01-02`; without a zone it is local time), or
//! a Unix timestamp with an optional fraction (`1700000000.5`). No kernel
//! mechanism: the host's clock (`clock_gettime(2)`) and its local zone
//! (`localtime(3)`), which the times without a zone are read in. Pure but
//! for [`parse`], which reads both.

use anyhow::{Result, bail};

/// A point in time: nanoseconds since the Unix epoch.
pub type Nanos = i128;

const SEC: Nanos = 1_000_000_000;

/// `value` read as `logs --since` reads it, now being `now` and the local
/// zone `local_offset` seconds east of UTC. Docker's steps, in its order:
/// a duration (but `0`), then the time layout the text's shape picks,
/// then (if that fails and the text has no `-`) a Unix timestamp.
pub fn parse_time(value: &str, now: Nanos, local_offset: i64) -> Result<Nanos> {
    if value != "0"
        && let Some(d) = parse_duration(value)
    {
        // Docker keeps whole seconds of `now - d` (`Time.Unix()`).
        return Ok((now - d).div_euclid(SEC) * SEC);
    }
    let local = !(value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3);
    let shape = if value.contains('.') {
        Shape::Nanos
    } else if value.contains('T') {
        let mut colons = value.matches(':').count();
        // A `+hh:mm` or `-hh:mm` zone has a colon of its own.
        if !local && !value.contains(['z', 'Z']) && colons > 0 {
            colons -= 1;
        }
        match colons {
            0 => Shape::Hour,
            1 => Shape::Minute,
            _ => Shape::Seconds,
        }
    } else {
        Shape::Date
    };
    match parse_layout(value, shape, !local) {
        Ok((naive, offset)) => Ok(naive - Nanos::from(offset.unwrap_or(local_offset)) * SEC),
        // A text with a `-` meant to be a time: its error.
        Err(e) if value.contains('-') => {
            let e = e.to_string();
            if e.starts_with("cannot parse") {
                bail!("parsing time {value:?} as {:?}: {e}", shape.layout(!local))
            }
            bail!("parsing time {value:?}: {e}")
        }
        Err(_) => match unix_timestamp(value) {
            Some(t) => Ok(t),
            None => bail!("failed to parse value as time or duration: {value:?}"),
        },
    }
}

/// [`parse_time`] now, in this host's local zone.
pub fn parse(value: &str) -> Result<Nanos> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as Nanos);
    parse_time(value, now, local_offset((now / SEC) as i64))
}

/// Seconds east of UTC of this host's local zone at `secs` (`TZ`, else
/// `/etc/localtime`), as `localtime_r(3)` says; 0 if it cannot say.
pub fn local_offset(secs: i64) -> i64 {
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data (integers and a pointer that may be
    // null); all zeros is a valid value of it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `t` and writes only `tm`, both ours.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok { tm.tm_gmtoff } else { 0 }
}

/// A log entry's time (RFC 3339 with nanoseconds, as the json-file log
/// writes it).
pub fn entry_time(rfc3339: &str) -> Option<Nanos> {
    let (naive, offset) = parse_layout(rfc3339, Shape::Nanos, true).ok()?;
    Some(naive - Nanos::from(offset.unwrap_or(0)) * SEC)
}

/// Go's `time.ParseDuration`: a sign, then numbers with units (`ns`,
/// `us`, `µs`, `ms`, `s`, `m`, `h`), fractions allowed (`1.5h`); `0`
/// alone needs no unit.
pub fn parse_duration(s: &str) -> Option<Nanos> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let per: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * per;
        rest = &rest[unit_len..];
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let d = total as Nanos;
    Some(if neg { -d } else { d })
}

/// Docker's `seconds[.fraction]` (its own wire form of a time).
fn unix_timestamp(s: &str) -> Option<Nanos> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let secs_ok = digits(secs.strip_prefix(['-', '+']).unwrap_or(secs));
    if !secs_ok || (s.contains('.') && !digits(frac)) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let nanos: Nanos = if frac.is_empty() {
        0
    } else {
        let n: Nanos = frac.parse().ok()?;
        let len = frac.len() as u32;
        if len <= 9 {
            n * 10i128.pow(9 - len)
        } else {
            n / 10i128.pow(len - 9)
        }
    };
    Some(Nanos::from(secs) * SEC + nanos)
}

/// Which Go layout the text's shape picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `2006-01-02`
    Date,
    /// `2006-01-02T15`
    Hour,
    /// `2006-01-02T15:04`
    Minute,
    /// `2006-01-02T15:04:05`
    Seconds,
    /// `2006-01-02T15:04:05.999999999`
    Nanos,
}

impl Shape {
    /// Go's layout, for messages.
    fn layout(self, zoned: bool) -> &'static str {
        match (self, zoned) {
            (Shape::Date, false) => "2006-01-02",
            (Shape::Date, true) => "2006-01-02Z07:00",
            (Shape::Hour, false) => "2006-01-02T15",
            (Shape::Hour, true) => "2006-01-02T15Z07:00",
            (Shape::Minute, false) => "2006-01-02T15:04",
            (Shape::Minute, true) => "2006-01-02T15:04Z07:00",
            (Shape::Seconds, false) => "2006-01-02T15:04:05",
            (Shape::Seconds, true) => "2006-01-02T15:04:05Z07:00",
            (Shape::Nanos, false) => "2006-01-02T15:04:05.999999999",
            (Shape::Nanos, true) => "2006-01-02T15:04:05.999999999Z07:00",
        }
    }
}

/// A reader of a text in one layout.
struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize, what: &str) -> Result<i64> {
        let d = self
            .rest
            .get(..n)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        match d {
            Some(d) => {
                self.rest = &self.rest[n..];
                Ok(d.parse()?)
            }
            None => bail!("cannot parse {:?} as {what:?}", self.rest),
        }
    }

    fn literal(&mut self, c: char, what: &str) -> Result<()> {
        match self.rest.strip_prefix(c) {
            Some(r) => {
                self.rest = r;
                Ok(())
            }
            None => bail!("cannot parse {:?} as {what:?}", self.rest),
        }
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The time `s` says in layout `shape` (with a zone if `zoned`): its
/// nanoseconds since the epoch as if it were UTC, and the zone's offset
/// east in seconds if it names one.
fn parse_layout(s: &str, shape: Shape, zoned: bool) -> Result<(Nanos, Option<i64>)> {
    let mut c = Cursor { rest: s };
    let y = c.digits(4, "2006")?;
    c.literal('-', "-")?;
    let mo = c.digits(2, "01")?;
    c.literal('-', "-")?;
    let d = c.digits(2, "02")?;
    let (mut h, mut mi, mut se, mut nanos) = (0, 0, 0, 0);
    if shape != Shape::Date {
        c.literal('T', "T")?;
        h = c.digits(2, "15")?;
        if shape != Shape::Hour {
            c.literal(':', ":")?;
            mi = c.digits(2, "04")?;
        }
        if matches!(shape, Shape::Seconds | Shape::Nanos) {
            c.literal(':', ":")?;
            se = c.digits(2, "05")?;
            if let Some(frac) = c.rest.strip_prefix(['.', ',']) {
                let n = frac.bytes().take_while(u8::is_ascii_digit).count();
                if n > 0 {
                    let digits = &frac[..n.min(9)];
                    nanos = digits.parse::<i64>()? * 10i64.pow(9 - digits.len() as u32);
                    c.rest = &frac[n..];
                }
            }
        }
    }
    let offset = if zoned {
        if let Some(r) = c.rest.strip_prefix('Z') {
            c.rest = r;
            Some(0)
        } else {
            let sign = match c.rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => bail!("cannot parse {:?} as \"Z07:00\"", c.rest),
            };
            c.rest = &c.rest[1..];
            let oh = c.digits(2, "07")?;
            c.literal(':', ":")?;
            let om = c.digits(2, "00")?;
            Some(sign * (oh * 3600 + om * 60))
        }
    } else {
        None
    };
    if !c.rest.is_empty() {
        bail!("extra text: {:?}", c.rest);
    }
    for (ok, what) in [
        ((1..=12).contains(&mo), "month"),
        (d >= 1 && d <= days_in_month(y, mo.clamp(1, 12)), "day"),
        (h < 24, "hour"),
        (mi < 60, "minute"),
        (se < 60, "second"),
    ] {
        if !ok {
            bail!("{what} out of range");
        }
    }
    let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}Z");
    let secs =
        crate::clock::parse_rfc3339(&text).ok_or_else(|| anyhow::anyhow!("cannot parse {s:?}"))?;
    Ok((Nanos::from(secs) * SEC + Nanos::from(nanos), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-02T03:04:05.5Z
    const NOW: Nanos = 1_704_164_645 * SEC + SEC / 2;

    fn at(v: &str, offset: i64) -> Nanos {
        parse_time(v, NOW, offset).unwrap_or_else(|e| panic!("{v}: {e:#}"))
    }

    fn secs(s: i64) -> Nanos {
        Nanos::from(s) * SEC
    }

    #[test]
    fn durations_go_back_from_now_in_whole_seconds() {
        assert_eq!(at("10m", 0), secs(1_704_164_645 - 600));
        assert_eq!(at("1h30m", 0), secs(1_704_164_645 - 5400));
        assert_eq!(at("1.5h", 0), secs(1_704_164_645 - 5400));
        assert_eq!(at("300ms", 0), secs(1_704_164_645));
        // A negative duration is in the future.
        assert_eq!(at("-1m", 0), secs(1_704_164_645 + 60));
        assert_eq!(parse_duration("1h30m"), Some(5400 * SEC));
        assert_eq!(parse_duration("2µs"), Some(2000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn rfc3339_with_and_without_a_zone() {
        let t = secs(1_704_164_645);
        assert_eq!(at("2024-01-02T03:04:05Z", 0), t);
        assert_eq!(at("2024-01-02T05:04:05+02:00", 0), t);
        assert_eq!(at("2024-01-01T22:04:05-05:00", 0), t);
        assert_eq!(at("2024-01-02T03:04:05.25Z", 0), t + SEC / 4);
        assert_eq!(at("2024-01-02T03:04:05.123456789Z", 0), t + 123_456_789);
        // No zone: local time (here an hour east of UTC).
        assert_eq!(at("2024-01-02T04:04:05", 3600), t);
        assert_eq!(at("2024-01-02T04:04:05.5", 3600), t + SEC / 2);
        assert_eq!(at("2024-01-02T04:04", 3600), t - secs(5));
        assert_eq!(at("2024-01-02T04", 3600), t - secs(245));
        assert_eq!(at("2024-01-02", 0), secs(1_704_153_600));
        assert_eq!(at("2024-01-02Z", 3600), secs(1_704_153_600));
        assert_eq!(at("2024-01-02T03:04Z", 0), t - secs(5));
        assert_eq!(at("2024-01-02T03Z", 0), t - secs(245));
        assert_eq!(at("2024-01-02T05:04+02:00", 0), t - secs(5));
    }

    #[test]
    fn unix_timestamps_with_a_fraction() {
        assert_eq!(at("1704164645", 3600), secs(1_704_164_645));
        assert_eq!(at("1704164645.5", 0), secs(1_704_164_645) + SEC / 2);
        assert_eq!(at("1704164645.000000001", 0), secs(1_704_164_645) + 1);
        // "0" is the epoch, not a zero duration.
        assert_eq!(at("0", 0), 0);
    }

    #[test]
    fn what_is_no_time_says_so_as_docker_does() {
        let err = |v: &str| parse_time(v, NOW, 0).unwrap_err().to_string();
        assert_eq!(
            err("yesterday"),
            "failed to parse value as time or duration: \"yesterday\""
        );
        assert_eq!(
            err("1.2.3"),
            "failed to parse value as time or duration: \"1.2.3\""
        );
        assert_eq!(
            err("2024-13-01"),
            "parsing time \"2024-13-01\": month out of range"
        );
        assert_eq!(
            err("2024-02-30T10:00:00"),
            "parsing time \"2024-02-30T10:00:00\": day out of range"
        );
        assert!(err("2024-01-02T25:00Z").ends_with("hour out of range"));
        assert_eq!(
            err("2024-1-2"),
            "parsing time \"2024-1-2\" as \"2006-01-02\": cannot parse \"1-2\" as \"01\""
        );
    }

    #[test]
    fn log_entry_times_keep_their_nanoseconds() {
        assert_eq!(
            entry_time("2024-01-02T03:04:05.10589063Z"),
            Some(secs(1_704_164_645) + 105_890_630)
        );
        assert_eq!(
            entry_time("2024-01-02T03:04:05Z"),
            Some(secs(1_704_164_645))
        );
        assert_eq!(entry_time("garbage"), None);
    }
}
