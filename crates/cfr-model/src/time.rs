//! Time, durations and percentages as exact integers.
//!
//! Times are integer nanoseconds since the Unix epoch (UTC); durations are
//! integer nanoseconds; percentages are integer parts per million. Nothing
//! here uses floating point, so the same text always gives the same number
//! on every platform, including the wasm32 analyzer.

use std::fmt;

/// Nanoseconds per second.
pub const NS_PER_SEC: i64 = 1_000_000_000;
/// Nanoseconds per day.
pub const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;

/// A time or duration that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeError {
    /// The text that was rejected.
    pub input: String,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not {}", self.input, self.expected)
    }
}

impl std::error::Error for TimeError {}

/// Days since 1970-01-01 for a proleptic Gregorian date (Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

/// Parses an RFC 3339 timestamp (`2026-03-02T10:00:00.25Z`, any precision
/// up to nanoseconds, `Z` or a numeric offset) into ns since the epoch.
pub fn parse_rfc3339(s: &str) -> Result<i64, TimeError> {
    let err = || TimeError {
        input: s.chars().take(64).collect(),
        expected: "an RFC 3339 time such as 2026-03-02T10:00:00.25Z",
    };
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 40 {
        return Err(err());
    }
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(err());
    }
    let year = digits(&b[0..4]).ok_or_else(err)?;
    let month = digits(&b[5..7]).ok_or_else(err)? as u32;
    let day = digits(&b[8..10]).ok_or_else(err)? as u32;
    let hour = digits(&b[11..13]).ok_or_else(err)?;
    let min = digits(&b[14..16]).ok_or_else(err)?;
    let sec = digits(&b[17..19]).ok_or_else(err)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return Err(err());
    }
    let mut rest = &b[19..];
    let mut frac_ns = 0i64;
    if let Some((&b'.', tail)) = rest.split_first() {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return Err(err());
        }
        frac_ns = digits(&tail[..n]).ok_or_else(err)? * 10i64.pow(9 - n as u32);
        rest = &tail[n..];
    }
    let offset_s = match rest {
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2]).ok_or_else(err)?;
            let om = digits(&[*m1, *m2]).ok_or_else(err)?;
            if oh > 23 || om > 59 {
                return Err(err());
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_s;
    secs.checked_mul(NS_PER_SEC)
        .and_then(|v| v.checked_add(frac_ns))
        .ok_or_else(err)
}

/// Formats ns since the epoch as RFC 3339 UTC with `Z`, the fraction trimmed
/// of trailing zeros (`10:00:00.25Z`, `10:00:00Z`).
pub fn format_rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(NS_PER_SEC);
    let frac = ns.rem_euclid(NS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        y,
        m,
        d,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// `format_rfc3339(ns).len()`, counted without formatting: the 20
/// characters of `YYYY-MM-DDTHH:MM:SSZ` (every year an `i64` of
/// nanoseconds reaches, 1677 to 2262, has four digits), and the point and
/// the fraction's significant digits when there is one.
pub fn rfc3339_len(ns: i64) -> usize {
    let mut frac = ns.rem_euclid(NS_PER_SEC);
    if frac == 0 {
        return 20;
    }
    let mut digits = 9;
    while frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    21 + digits
}

/// The start (ns) of the calendar month (UTC) holding `ns`, and its label
/// `"2026-03"`.
pub fn month_of(ns: i64) -> (i64, String) {
    let days = ns.div_euclid(NS_PER_DAY);
    let (y, m, _) = civil_from_days(days);
    (
        days_from_civil(y, m, 1) * NS_PER_DAY,
        format!("{y:04}-{m:02}"),
    )
}

/// The start (ns) of the calendar month after the one starting at `start`.
pub fn next_month(start: i64) -> i64 {
    let (y, m, _) = civil_from_days(start.div_euclid(NS_PER_DAY));
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(y, m, 1) * NS_PER_DAY
}

/// Parses a duration: a whole number and a unit, `ns`, `us`, `ms`, `s`, `m`,
/// `h` or `d` (`"250ms"`, `"2s"`, `"5m"`, `"48h"`, `"7d"`).
pub fn parse_duration(s: &str) -> Result<i64, TimeError> {
    let err = || TimeError {
        input: s.chars().take(64).collect(),
        expected: "a duration such as \"250ms\", \"2s\", \"5m\", \"48h\" or \"7d\"",
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (num, unit) = s.split_at(split);
    if num.is_empty() || num.len() > 18 {
        return Err(err());
    }
    let n = digits(num.as_bytes()).ok_or_else(err)?;
    let mul = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => NS_PER_SEC,
        "m" => 60 * NS_PER_SEC,
        "h" => 3600 * NS_PER_SEC,
        "d" => NS_PER_DAY,
        _ => return Err(err()),
    };
    n.checked_mul(mul).ok_or_else(err)
}

/// Formats a duration readably and exactly: `"2s"`, `"3.1s"`, `"250ms"`,
/// `"48h"`, `"7d"`, `"90m"`, `"1.5us"`, `"12ns"`.
pub fn format_duration(ns: i64) -> String {
    if ns < 0 {
        return format!("-{}", format_duration(ns.checked_neg().unwrap_or(i64::MAX)));
    }
    if ns == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in [
        ("d", NS_PER_DAY),
        ("h", 3600 * NS_PER_SEC),
        ("m", 60 * NS_PER_SEC),
    ] {
        if ns % size == 0 {
            return format!("{}{unit}", ns / size);
        }
    }
    let (unit, size, width) = if ns >= NS_PER_SEC {
        ("s", NS_PER_SEC, 9)
    } else if ns >= 1_000_000 {
        ("ms", 1_000_000, 6)
    } else if ns >= 1_000 {
        ("us", 1_000, 3)
    } else {
        return format!("{ns}ns");
    };
    let whole = ns / size;
    let frac = ns % size;
    if frac == 0 {
        format!("{whole}{unit}")
    } else {
        let f = format!("{frac:0width$}");
        format!("{whole}.{}{unit}", f.trim_end_matches('0'))
    }
}

/// Formats a duration for people reading a verdict, exactly: hours,
/// minutes and seconds, each written only when not zero (`"1 h 48 min
/// 1.771744385 s"`, `"2 min"`, `"48 h"`, `"3.1 s"`); below one second, in
/// milliseconds (`"250 ms"`, `"1.5 ms"`). The seconds (or milliseconds)
/// carry the exact fraction, trimmed of trailing zeros, so no duration is
/// rounded: a reply 1 ns late never reads as on time. Hours are not
/// grouped into days. `0` is `"0 s"`; a negative duration gets a `-`.
pub fn format_duration_human(ns: i64) -> String {
    if ns < 0 {
        return format!(
            "-{}",
            format_duration_human(ns.checked_neg().unwrap_or(i64::MAX))
        );
    }
    if ns == 0 {
        return "0 s".to_owned();
    }
    fn with_fraction(whole: i64, frac: i64, width: usize, unit: &str) -> String {
        if frac == 0 {
            format!("{whole} {unit}")
        } else {
            let f = format!("{frac:0width$}");
            format!("{whole}.{} {unit}", f.trim_end_matches('0'))
        }
    }
    if ns < NS_PER_SEC {
        return with_fraction(ns / 1_000_000, ns % 1_000_000, 6, "ms");
    }
    let secs = ns / NS_PER_SEC;
    let frac = ns % NS_PER_SEC;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut parts = Vec::with_capacity(3);
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 || frac > 0 {
        parts.push(with_fraction(s, frac, 9, "s"));
    }
    parts.join(" ")
}

/// Parts per million in 100 %.
pub const PPM: u32 = 1_000_000;

/// Parses a percentage `"99.9%"` (up to four decimals) into parts per
/// million, `0..=1_000_000`.
pub fn parse_percent(s: &str) -> Result<u32, TimeError> {
    let err = || TimeError {
        input: s.chars().take(64).collect(),
        expected: "a percentage between \"0%\" and \"100%\" such as \"99.9%\"",
    };
    let body = s.strip_suffix('%').ok_or_else(err)?;
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty() || int.len() > 3 || frac.len() > 4 || (body.contains('.') && frac.is_empty())
    {
        return Err(err());
    }
    let i = digits(int.as_bytes()).ok_or_else(err)?;
    let f = if frac.is_empty() {
        0
    } else {
        digits(frac.as_bytes()).ok_or_else(err)? * 10i64.pow(4 - frac.len() as u32)
    };
    let ppm = i * 10_000 + f;
    if ppm > i64::from(PPM) {
        return Err(err());
    }
    Ok(ppm as u32)
}

/// Formats parts per million as a percentage without trailing zeros
/// (`999000` -> `"99.9%"`, `1000000` -> `"100%"`).
pub fn format_percent(ppm: u32) -> String {
    let whole = ppm / 10_000;
    let frac = ppm % 10_000;
    if frac == 0 {
        format!("{whole}%")
    } else {
        let f = format!("{frac:04}");
        format!("{whole}.{}%", f.trim_end_matches('0'))
    }
}

/// Formats parts per million with exactly three decimals, truncated
/// (`996530` -> `"99.653%"`, `1000000` -> `"100.000%"`).
pub fn format_percent3(ppm: u32) -> String {
    format!("{}.{:03}%", ppm / 10_000, (ppm % 10_000) / 10)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The counted length is the formatted one, at the range's ends, for
    /// negative times, and for every count of fraction digits.
    #[test]
    fn rfc3339_len_is_the_formatted_length() {
        let mut cases = vec![i64::MIN, i64::MAX, 0, -1, 1, NS_PER_SEC, -NS_PER_SEC];
        for digits in 0..9 {
            let f = 10i64.pow(digits);
            cases.extend([f, 3 * f, 1_772_000_000 * NS_PER_SEC + f, -f]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x as i64);
        }
        for ns in cases {
            assert_eq!(rfc3339_len(ns), format_rfc3339(ns).len(), "{ns}");
        }
    }

    #[test]
    fn rfc3339_roundtrip_and_trimming() {
        let t = parse_rfc3339("2026-03-02T10:00:00.250Z").unwrap();
        assert_eq!(format_rfc3339(t), "2026-03-02T10:00:00.25Z");
        let t2 = parse_rfc3339("2026-03-02T11:00:00.25+01:00").unwrap();
        assert_eq!(t, t2);
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z").unwrap() / NS_PER_SEC,
            1_709_164_800
        );
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-03-02 10:00:00Z",
            "2026-03-02T10:00:00",
            "2026-03-02T24:00:00Z",
            "2026-03-02T10:00:00.Z",
            "2026-03-02T10:00:00.1234567890Z",
            "x",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn months() {
        let t = parse_rfc3339("2026-03-31T23:59:59Z").unwrap();
        let (start, label) = month_of(t);
        assert_eq!(label, "2026-03");
        assert_eq!(format_rfc3339(start), "2026-03-01T00:00:00Z");
        assert_eq!(format_rfc3339(next_month(start)), "2026-04-01T00:00:00Z");
        let dec = parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(format_rfc3339(next_month(dec)), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), 250_000_000);
        assert_eq!(parse_duration("7d").unwrap(), 7 * NS_PER_DAY);
        assert!(parse_duration("2.5s").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("99999999999999999d").is_err());
        assert_eq!(format_duration(3_100_000_000), "3.1s");
        assert_eq!(format_duration(2 * NS_PER_SEC), "2s");
        assert_eq!(format_duration(48 * 3600 * NS_PER_SEC), "2d");
        assert_eq!(format_duration(250_000_000), "250ms");
        assert_eq!(format_duration(1), "1ns");
    }

    #[test]
    fn human_durations() {
        let s = NS_PER_SEC;
        assert_eq!(
            format_duration_human(6_481_771_744_385),
            "1 h 48 min 1.771744385 s"
        );
        assert_eq!(format_duration_human(3_100_000_000), "3.1 s");
        assert_eq!(format_duration_human(250_000_000), "250 ms");
        assert_eq!(format_duration_human(1_500_000), "1.5 ms");
        assert_eq!(format_duration_human(1), "0.000001 ms");
        assert_eq!(format_duration_human(120 * s), "2 min");
        assert_eq!(format_duration_human(48 * 3600 * s), "48 h");
        assert_eq!(format_duration_human(3600 * s + 5 * s), "1 h 5 s");
        assert_eq!(format_duration_human(60 * s + 250_000_000), "1 min 0.25 s");
        assert_eq!(format_duration_human(2 * s + 1), "2.000000001 s");
        assert_eq!(format_duration_human(0), "0 s");
        assert_eq!(format_duration_human(-2 * s), "-2 s");
        assert!(format_duration_human(i64::MIN).starts_with('-'));
    }

    #[test]
    fn percents() {
        assert_eq!(parse_percent("99.9%").unwrap(), 999_000);
        assert_eq!(parse_percent("100%").unwrap(), 1_000_000);
        assert_eq!(parse_percent("0.0001%").unwrap(), 1);
        assert!(parse_percent("100.1%").is_err());
        assert!(parse_percent("99.%").is_err());
        assert!(parse_percent("99.9").is_err());
        assert_eq!(format_percent(999_000), "99.9%");
        assert_eq!(format_percent(100_000), "10%");
        assert_eq!(format_percent3(996_539), "99.653%");
        assert_eq!(format_percent3(1_000_000), "100.000%");
    }
}
