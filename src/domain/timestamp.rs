//! STIX/TAXII timestamps: RFC 3339 in UTC, held as nanoseconds since the Unix epoch.
//!
//! Hand-written rather than via chrono because the STIX rules are stricter than RFC 3339
//! (UTC `Z` only for objects, four-digit years) and ingest parses two of these per object.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since 1970-01-01T00:00:00Z. i64 covers 1677..2262, which we enforce.
pub type Nanos = i64;
/// Microseconds since the epoch: the resolution of `date_added`.
pub type Micros = i64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimestampError(pub &'static str);

/// How strict the parser is about the zone designator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// STIX object properties: only `Z` is allowed.
    UtcOnly,
    /// Query parameters: `Z` or a numeric offset, converted to UTC.
    AnyOffset,
}

pub fn parse(s: &str, zone: Zone) -> Result<Nanos, TimestampError> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return Err(TimestampError("timestamp too short, expected YYYY-MM-DDTHH:MM:SS[.s+]Z"));
    }
    let num = |from: usize, len: usize| -> Result<i64, TimestampError> {
        let mut v = 0i64;
        for &c in &b[from..from + len] {
            if !c.is_ascii_digit() {
                return Err(TimestampError("expected a digit in timestamp"));
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Ok(v)
    };
    let sep = |at: usize, want: u8| -> Result<(), TimestampError> {
        if b[at] == want {
            Ok(())
        } else {
            Err(TimestampError("malformed timestamp, expected YYYY-MM-DDTHH:MM:SS[.s+]Z"))
        }
    };
    let year = num(0, 4)?;
    sep(4, b'-')?;
    let month = num(5, 2)?;
    sep(7, b'-')?;
    let day = num(8, 2)?;
    sep(10, b'T')?;
    let hour = num(11, 2)?;
    sep(13, b':')?;
    let minute = num(14, 2)?;
    sep(16, b':')?;
    let second = num(17, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(TimestampError("timestamp has an invalid date"));
    }
    // Leap seconds (60) are not representable in STIX and are rejected like other invalid times.
    if hour > 23 || minute > 59 || second > 59 {
        return Err(TimestampError("timestamp has an invalid time of day"));
    }
    let mut i = 19;
    let mut frac_nanos = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac_nanos = frac_nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return Err(TimestampError("timestamp has a '.' without fractional digits"));
        }
        for _ in digits..9 {
            frac_nanos *= 10;
        }
    }
    let offset_secs = match (&b[i..], zone) {
        (b"Z", _) => 0,
        (_, Zone::UtcOnly) => return Err(TimestampError("timestamp must be in UTC and end with 'Z'")),
        (rest, Zone::AnyOffset) if rest == b"z" => 0,
        (rest, Zone::AnyOffset) if rest.len() == 6 && (rest[0] == b'+' || rest[0] == b'-') && rest[3] == b':' => {
            let h = num(i + 1, 2)?;
            let m = num(i + 4, 2)?;
            if h > 23 || m > 59 {
                return Err(TimestampError("timestamp has an invalid UTC offset"));
            }
            let secs = h * 3600 + m * 60;
            if rest[0] == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return Err(TimestampError("timestamp must end with 'Z' or a UTC offset")),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or(TimestampError("timestamp is outside the supported range (1677..2262)"))
}

/// Formats with the shortest of millisecond, microsecond or nanosecond precision that loses nothing.
pub fn format_nanos(n: Nanos) -> String {
    let frac = n.rem_euclid(1_000_000_000);
    let (digits, value) = if frac % 1_000_000 == 0 {
        (3, frac / 1_000_000)
    } else if frac % 1_000 == 0 {
        (6, frac / 1_000)
    } else {
        (9, frac)
    };
    format_with(n.div_euclid(1_000_000_000), digits, value)
}

/// `date_added` is always shown with microsecond precision.
pub fn format_micros(m: Micros) -> String {
    format_with(m.div_euclid(1_000_000), 6, m.rem_euclid(1_000_000))
}

fn format_with(secs: i64, digits: usize, frac: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let mut s = String::with_capacity(30);
    let _ =
        write!(s, "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{frac:0digits$}Z", rem / 3600, (rem % 3600) / 60, rem % 60);
    s
}

pub fn now_micros() -> Micros {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    d.as_micros() as i64
}

/// Microseconds strictly after a nanosecond instant, for `added_after` comparisons
/// against microsecond `date_added` values: `date_added > added_after` ⇔ `date_added > floor(n/1000)`.
pub fn micros_floor(n: Nanos) -> Micros {
    n.div_euclid(1_000)
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

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_known_instants() {
        assert_eq!(parse("1970-01-01T00:00:00Z", Zone::UtcOnly).unwrap(), 0);
        assert_eq!(parse("1970-01-01T00:00:01.5Z", Zone::UtcOnly).unwrap(), 1_500_000_000);
        assert_eq!(parse("2016-05-12T08:17:27.000Z", Zone::UtcOnly).unwrap(), 1_463_041_047_000_000_000);
        assert_eq!(parse("2000-02-29T00:00:00Z", Zone::UtcOnly).unwrap(), 951_782_400_000_000_000);
        assert_eq!(
            parse("1970-01-01T01:00:00+01:00", Zone::AnyOffset).unwrap(),
            parse("1970-01-01T00:00:00Z", Zone::AnyOffset).unwrap()
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2016-05-12",
            "2016-05-12T08:17:27",
            "2016-13-12T08:17:27Z",
            "2019-02-29T08:17:27Z",
            "2016-05-12T24:00:00Z",
            "2016-05-12T08:17:27.Z",
            "2016-05-12 08:17:27Z",
            "2016-05-12T08:17:27+00:00x",
            "２016-05-12T08:17:27Z",
            "2016-05-12T08:17:27.123ZZ",
        ] {
            assert!(parse(bad, Zone::AnyOffset).is_err(), "{bad} should be rejected");
        }
        assert!(parse("2016-05-12T08:17:27+00:00", Zone::UtcOnly).is_err());
    }

    #[test]
    fn keeps_sub_microsecond_precision() {
        let n = parse("2016-05-12T08:17:27.123456789Z", Zone::UtcOnly).unwrap();
        assert_eq!(format_nanos(n), "2016-05-12T08:17:27.123456789Z");
        assert_eq!(format_nanos(n - 789), "2016-05-12T08:17:27.123456Z");
        assert_eq!(format_nanos(n - 456_789), "2016-05-12T08:17:27.123Z");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(n in -9_000_000_000_000_000_000i64..9_000_000_000_000_000_000i64) {
            let s = format_nanos(n);
            prop_assert_eq!(parse(&s, Zone::UtcOnly).unwrap(), n);
        }

        #[test]
        fn micros_round_trip(m in -9_000_000_000_000_000i64..9_000_000_000_000_000i64) {
            let s = format_micros(m);
            prop_assert_eq!(parse(&s, Zone::UtcOnly).unwrap(), m * 1000);
        }

        #[test]
        fn ordering_of_strings_matches_ordering_of_instants(a in 0i64..4_000_000_000_000_000_000i64, b in 0i64..4_000_000_000_000_000_000i64) {
            // Fixed-width microsecond strings sort like the instants they denote.
            let (sa, sb) = (format_micros(a / 1000), format_micros(b / 1000));
            prop_assert_eq!(sa.cmp(&sb), (a / 1000).cmp(&(b / 1000)));
        }

        #[test]
        fn never_panics_on_arbitrary_input(s in ".{0,40}") {
            let _ = parse(&s, Zone::AnyOffset);
            let _ = parse(&s, Zone::UtcOnly);
        }
    }
}
