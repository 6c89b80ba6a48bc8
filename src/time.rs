//! Timestamps and durations without a clock.
//!
//! The core never reads the clock: callers pass `now` as Unix seconds (UTC). This module parses
//! and formats the two textual forms the contract uses:
//!
//! * timestamps in the RFC 3339 subset `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`
//!   (fractions are truncated to whole seconds), years 0001–9999;
//! * durations `INT(m|h|d|w)` — minutes, hours, days, weeks (docs/limits.md).
//!
//! The calendar arithmetic is Howard Hinnant's `days_from_civil` algorithm
//! (<https://howardhinnant.github.io/date_algorithms.html>), proleptic Gregorian.

use crate::prelude::*;

use core::fmt;

use crate::text::{cat, int, padded};

/// Seconds since 1970-01-01T00:00:00Z.
pub type UnixSecs = i64;

/// Why a timestamp or duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeError {
    /// The text is not of the form `YYYY-MM-DD[THH:MM:SS[.frac](Z|±HH:MM)]`.
    TimestampSyntax(String),
    /// The text has the right shape but names a date or time that does not exist.
    TimestampRange(String),
    /// The text is not of the form `INT(m|h|d|w)`.
    DurationSyntax(String),
    /// The duration's number is zero or too large.
    DurationRange(String),
}

impl TimeError {
    /// The message, as `Display` writes it; built without `core::fmt` (see [`crate::text`]).
    pub fn message(&self) -> String {
        match self {
            TimeError::TimestampSyntax(s) => {
                cat(&["'", s, "' is not a timestamp; expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"])
            }
            TimeError::TimestampRange(s) => {
                cat(&["'", s, "' names a date or time that does not exist"])
            }
            TimeError::DurationSyntax(s) => cat(&[
                "'",
                s,
                "' is not a duration; expected a whole number followed by m, h, d or w (e.g. 30d)",
            ]),
            TimeError::DurationRange(s) => cat(&[
                "duration '",
                s,
                "' is out of range; it must be at least 1 and at most ",
                &int(i64::from(DURATION_AMOUNT_MAX)),
            ]),
        }
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for TimeError {}

/// The largest number a duration literal may carry (`1000000w` is about 19,000 years).
pub const DURATION_AMOUNT_MAX: u32 = 1_000_000;

/// The unit of a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DurationUnit {
    /// Minutes (`m`).
    #[serde(rename = "m")]
    Minutes,
    /// Hours (`h`).
    #[serde(rename = "h")]
    Hours,
    /// Days (`d`).
    #[serde(rename = "d")]
    Days,
    /// Weeks (`w`).
    #[serde(rename = "w")]
    Weeks,
}

impl DurationUnit {
    /// Seconds in one unit.
    pub const fn secs(self) -> i64 {
        match self {
            DurationUnit::Minutes => 60,
            DurationUnit::Hours => 3_600,
            DurationUnit::Days => 86_400,
            DurationUnit::Weeks => 604_800,
        }
    }

    /// The unit's letter in the text form.
    pub const fn letter(self) -> char {
        match self {
            DurationUnit::Minutes => 'm',
            DurationUnit::Hours => 'h',
            DurationUnit::Days => 'd',
            DurationUnit::Weeks => 'w',
        }
    }

    /// The unit for a letter, if it is one.
    pub const fn from_letter(c: char) -> Option<Self> {
        match c {
            'm' => Some(DurationUnit::Minutes),
            'h' => Some(DurationUnit::Hours),
            'd' => Some(DurationUnit::Days),
            'w' => Some(DurationUnit::Weeks),
            _ => None,
        }
    }
}

/// A duration as written (`90d` stays `90d`, so text round-trips exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    /// The number; invariant: `1..=DURATION_AMOUNT_MAX`.
    amount: u32,
    unit: DurationUnit,
}

impl Duration {
    /// A duration of `amount` units.
    ///
    /// # Errors
    /// When `amount` is 0 or above [`DURATION_AMOUNT_MAX`].
    pub fn new(amount: u32, unit: DurationUnit) -> Result<Self, TimeError> {
        if amount == 0 || amount > DURATION_AMOUNT_MAX {
            let mut text = int(i64::from(amount));
            text.push(unit.letter());
            return Err(TimeError::DurationRange(text));
        }
        Ok(Duration { amount, unit })
    }

    /// Parses `INT(m|h|d|w)`.
    ///
    /// # Errors
    /// When the text is not of that form or the number is out of range.
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let syntax = || TimeError::DurationSyntax(text.to_owned());
        let mut chars = text.chars();
        let unit = chars.next_back().and_then(DurationUnit::from_letter).ok_or_else(syntax)?;
        let digits = chars.as_str();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        let amount: u32 = digits.parse().map_err(|_| TimeError::DurationRange(text.to_owned()))?;
        Duration::new(amount, unit).map_err(|_| TimeError::DurationRange(text.to_owned()))
    }

    /// The number as written.
    pub const fn amount(self) -> u32 {
        self.amount
    }

    /// The unit as written.
    pub const fn unit(self) -> DurationUnit {
        self.unit
    }

    /// Length in seconds.
    pub const fn secs(self) -> i64 {
        self.amount as i64 * self.unit.secs()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.letter())
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads exactly `n` ASCII digits at `pos`.
fn digits(b: &[u8], pos: usize, n: usize) -> Option<i64> {
    let s = b.get(pos..pos + n)?;
    s.iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
}

/// Parses a timestamp (`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) to Unix seconds.
///
/// # Errors
/// When the text is not of that form or names a date or time that does not exist.
pub fn parse_timestamp(text: &str) -> Result<UnixSecs, TimeError> {
    let syntax = || TimeError::TimestampSyntax(text.to_owned());
    let range = || TimeError::TimestampRange(text.to_owned());
    let b = text.as_bytes();
    if b.len() > 40 {
        return Err(syntax());
    }
    let year = digits(b, 0, 4).ok_or_else(syntax)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(syntax());
    }
    let month = digits(b, 5, 2).ok_or_else(syntax)?;
    let day = digits(b, 8, 2).ok_or_else(syntax)?;
    if year == 0 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(range());
    }
    let date_secs = days_from_civil(year, month, day) * 86_400;
    if b.len() == 10 {
        return Ok(date_secs);
    }
    if !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return Err(syntax());
    }
    let hour = digits(b, 11, 2).ok_or_else(syntax)?;
    let minute = digits(b, 14, 2).ok_or_else(syntax)?;
    let second = digits(b, 17, 2).ok_or_else(syntax)?;
    if hour > 23 || minute > 59 || second > 59 {
        return Err(range());
    }
    let mut pos = 19;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        if pos == start {
            return Err(syntax());
        }
    }
    let offset_secs = match b.get(pos..) {
        Some([b'Z' | b'z']) => 0,
        Some([sign @ (b'+' | b'-'), b'0'..=b'9', b'0'..=b'9', b':', b'0'..=b'9', b'0'..=b'9']) => {
            let oh = digits(b, pos + 1, 2).ok_or_else(syntax)?;
            let om = digits(b, pos + 4, 2).ok_or_else(syntax)?;
            if oh > 23 || om > 59 {
                return Err(range());
            }
            let off = oh * 3_600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return Err(syntax()),
    };
    Ok(date_secs + hour * 3_600 + minute * 60 + second - offset_secs)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_timestamp(secs: UnixSecs) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let two = |n: i64| padded(n, 2);
    cat(&[
        &padded(y, 4),
        "-",
        &two(m),
        "-",
        &two(d),
        "T",
        &two(rem / 3_600),
        ":",
        &two(rem % 3_600 / 60),
        ":",
        &two(rem % 60),
        "Z",
    ])
}

/// Formats Unix seconds as the rule language's time literal: `@YYYY-MM-DD` at midnight,
/// `@YYYY-MM-DDTHH:MM:SSZ` otherwise.
pub fn format_time_literal(secs: UnixSecs) -> String {
    let full = format_timestamp(secs);
    if secs.rem_euclid(86_400) == 0 {
        format!("@{}", &full[..10])
    } else {
        format!("@{full}")
    }
}

/// The earliest timestamp this module accepts (0001-01-01T00:00:00Z).
pub const TIMESTAMP_MIN: UnixSecs = -62_135_596_800;
/// The latest timestamp this module accepts (9999-12-31T23:59:59Z).
pub const TIMESTAMP_MAX: UnixSecs = 253_402_300_799;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_known_instants() {
        assert_eq!(parse_timestamp("1970-01-01"), Ok(0));
        assert_eq!(parse_timestamp("1970-01-02T00:00:01Z"), Ok(86_401));
        assert_eq!(parse_timestamp("2000-03-01T00:00:00Z"), Ok(951_868_800));
        assert_eq!(
            parse_timestamp("2026-11-20T10:00:00+01:00"),
            parse_timestamp("2026-11-20T09:00:00Z")
        );
        assert_eq!(
            parse_timestamp("2026-11-20T10:00:00.999Z"),
            parse_timestamp("2026-11-20T10:00:00Z")
        );
        assert_eq!(parse_timestamp("0001-01-01"), Ok(TIMESTAMP_MIN));
        assert_eq!(parse_timestamp("9999-12-31T23:59:59Z"), Ok(TIMESTAMP_MAX));
    }

    #[test]
    fn timestamps_reject_bad_text() {
        for bad in [
            "",
            "2026",
            "2026-1-01",
            "2026-11-20T10:00Z",
            "2026-11-20 10:00:00Z",
            "2026-11-20T10:00:00",
            "x026-11-20",
            "2026-11-20T10:00:00.Z",
            "2026-11-20Z",
        ] {
            assert!(matches!(parse_timestamp(bad), Err(TimeError::TimestampSyntax(_))), "{bad}");
        }
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "0000-01-01",
            "2026-11-20T24:00:00Z",
            "2026-11-20T10:60:00Z",
        ] {
            assert!(matches!(parse_timestamp(bad), Err(TimeError::TimestampRange(_))), "{bad}");
        }
        assert_eq!(parse_timestamp("2024-02-29"), Ok(1_709_164_800));
    }

    #[test]
    fn formatting_inverts_parsing() {
        for secs in [TIMESTAMP_MIN, -1, 0, 59, 951_868_800, 1_790_000_123, TIMESTAMP_MAX] {
            assert_eq!(parse_timestamp(&format_timestamp(secs)), Ok(secs));
        }
        assert_eq!(format_time_literal(86_400), "@1970-01-02");
        assert_eq!(format_time_literal(86_401), "@1970-01-02T00:00:01Z");
    }

    #[test]
    fn durations_parse_and_print() {
        let d = Duration::parse("90d").map(|d| (d.secs(), d.to_string()));
        assert_eq!(d, Ok((90 * 86_400, "90d".to_owned())));
        assert_eq!(Duration::parse("2w").map(Duration::secs), Ok(1_209_600));
        assert_eq!(Duration::parse("15m").map(Duration::secs), Ok(900));
        for bad in ["", "d", "10", "10s", "-1d", "1.5d", " 1d"] {
            assert!(matches!(Duration::parse(bad), Err(TimeError::DurationSyntax(_))), "{bad}");
        }
        for bad in ["0d", "1000001d", "99999999999w"] {
            assert!(matches!(Duration::parse(bad), Err(TimeError::DurationRange(_))), "{bad}");
        }
    }
}
