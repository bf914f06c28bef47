//! The times `events --since`/`--until` take, read as the Docker CLI reads
//! them (`GetTimestamp` in its `timetypes`): a Go duration before now
//! (`10m`, `1h30m`, `1.5h`), an RFC 3339 date and time in any of Docker's
//! shortenings (`2026-12-02`, `2026-12-02T10`, `2026-12-02T10:00`,
//! `2026-12-02T10:00:00.5Z`, `...+01:00`), or a Unix timestamp
//! (`1764669600`, `1764669600.5`). A time without a zone is UTC here
//! (Docker takes the client's zone; glassbox reads none). Pure.

use anyhow::{Result, bail};

const NANOS: i128 = 1_000_000_000;

/// `value` as nanoseconds since the epoch, durations counted back from
/// `now` (nanoseconds since the epoch).
pub fn parse(value: &str, now: i128) -> Result<i128> {
    if value != "0"
        && let Some(d) = go_duration(value)
    {
        return Ok(now - d);
    }
    if let Some(t) = date_time(value) {
        return Ok(t);
    }
    if value.contains('-') {
        bail!(
            "parsing time {value:?}: give an RFC 3339 time like 2026-12-02T10:00:00Z, a Unix timestamp or a duration like 10m"
        );
    }
    match unix(value) {
        Some(t) => Ok(t),
        None => bail!("failed to parse value as time or duration: {value:?}"),
    }
}

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]` then one or more
/// `NUMBER[.FRACTION]UNIT` with units ns, us, µs, ms, s, m, h.
pub fn go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
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
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..n];
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * unit;
    }
    let t = total as i128;
    Some(if neg { -t } else { t })
}

/// `YYYY-MM-DD[THH[:MM[:SS[.FRACTION]]]][Z|±HH:MM]`.
fn date_time(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut rest = &s[10..];
    let (mut h, mut mi, mut se, mut frac) = (0i64, 0i64, 0i64, 0i128);
    if let Some(t) = rest.strip_prefix('T') {
        let fields = |t: &str| -> usize { t.find(['Z', 'z', '+', '-']).unwrap_or(t.len()) };
        let end = fields(t);
        let (clock, zone) = t.split_at(end);
        let (clock, fraction) = match clock.split_once('.') {
            Some((c, f)) => (c, Some(f)),
            None => (clock, None),
        };
        let parts: Vec<&str> = clock.split(':').collect();
        let two = |p: &str| -> Option<i64> {
            (p.len() == 2 && p.bytes().all(|c| c.is_ascii_digit())).then(|| p.parse().ok())?
        };
        match parts.as_slice() {
            [hh] => h = two(hh)?,
            [hh, mm] => (h, mi) = (two(hh)?, two(mm)?),
            [hh, mm, ss] => (h, mi, se) = (two(hh)?, two(mm)?, two(ss)?),
            _ => return None,
        }
        if let Some(f) = fraction {
            if parts.len() != 3
                || f.is_empty()
                || f.len() > 9
                || !f.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            frac = f.parse::<i128>().ok()? * 10i128.pow(9 - f.len() as u32);
        }
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        rest = zone;
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        r if r.len() == 6 && (r.starts_with('+') || r.starts_with('-')) && &r[3..4] == ":" => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            sign * (num_in(r, 1..3)? * 3600 + num_in(r, 4..6)? * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    Some(i128::from(secs) * NANOS + frac)
}

fn num_in(s: &str, r: std::ops::Range<usize>) -> Option<i64> {
    let t = s.get(r)?;
    t.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| t.parse().ok())?
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `SECONDS[.FRACTION]` (Docker's `parseTimestamp`).
fn unix(s: &str) -> Option<i128> {
    let (sec, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let secs: i64 = sec.parse().ok()?;
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<i128>().ok()? * 10i128.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    Some(i128::from(secs) * NANOS + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i128 = 1_764_669_600 * NANOS; // 2025-12-02T10:00:00Z

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse("10m", NOW).unwrap(), NOW - 600 * NANOS);
        assert_eq!(parse("1h30m", NOW).unwrap(), NOW - 5400 * NANOS);
        assert_eq!(parse("1.5h", NOW).unwrap(), NOW - 5400 * NANOS);
        assert_eq!(parse("300ms", NOW).unwrap(), NOW - 300_000_000);
        assert_eq!(parse("-1m", NOW).unwrap(), NOW + 60 * NANOS);
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("10x"), None);
    }

    #[test]
    fn rfc3339_and_its_shortenings() {
        let t = 1_764_669_600i128;
        assert_eq!(parse("2025-12-02T10:00:00Z", NOW).unwrap(), t * NANOS);
        assert_eq!(parse("2025-12-02T11:00:00+01:00", NOW).unwrap(), t * NANOS);
        assert_eq!(
            parse("2025-12-02T10:00:00.5Z", NOW).unwrap(),
            t * NANOS + 500_000_000
        );
        assert_eq!(parse("2025-12-02T10:00", NOW).unwrap(), t * NANOS);
        assert_eq!(parse("2025-12-02T10", NOW).unwrap(), t * NANOS);
        assert_eq!(parse("2025-12-02", NOW).unwrap(), (t - 36000) * NANOS);
        assert_eq!(
            parse("2025-12-02T10:00:00.000000001", NOW).unwrap(),
            t * NANOS + 1
        );
    }

    #[test]
    fn unix_timestamps() {
        assert_eq!(parse("1764669600", NOW).unwrap(), NOW);
        assert_eq!(parse("1764669600.25", NOW).unwrap(), NOW + 250_000_000);
        assert_eq!(parse("0", NOW).unwrap(), 0);
    }

    #[test]
    fn bad_times_say_what_to_give() {
        let e = parse("yesterday", NOW).unwrap_err().to_string();
        assert_eq!(
            e,
            "failed to parse value as time or duration: \"yesterday\""
        );
        let e = parse("2025-13-02", NOW).unwrap_err().to_string();
        assert!(e.starts_with("parsing time \"2025-13-02\""), "{e}");
        assert!(parse("2025-12-02T25:00", NOW).is_err());
        assert!(parse("1.x", NOW).is_err());
    }
}
