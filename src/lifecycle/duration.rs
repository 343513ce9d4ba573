//! Durations as people write them in flags, scenario files and control
//! requests (`1.5s`, `500ms`, `2m`). Below everything that reads them.

use std::time::Duration;

/// Parses `1.5s`, `500ms`, `2m`, `1h`, or a bare number of seconds. Exact:
/// the decimal is read to the nanosecond, not through a float, so what
/// [`format_duration`] writes reads back the same.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let not_a_duration = || format!("{text:?} is not a duration: write e.g. \"1.5s\", \"500ms\", \"2m\" or \"1h\"");
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(not_a_duration());
    }
    let unit_nanos: u128 = match unit.trim() {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => return Err(format!("{text:?}: unknown unit {other:?}; use ms, s, m or h")),
    };
    let too_long = || format!("{text:?} is too long a duration");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    // Digits past the 20th are below a nanosecond even in hours.
    let fraction = &fraction[..fraction.len().min(20)];
    let fraction_nanos = if fraction.is_empty() {
        0
    } else {
        let digits: u128 = fraction.parse().map_err(|_| not_a_duration())?;
        digits * unit_nanos / 10u128.pow(fraction.len() as u32)
    };
    let nanos = whole
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(fraction_nanos))
        .ok_or_else(too_long)?;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Writes a duration so that [`parse_duration`] reads it back exactly:
/// `1500ms`, or `0.000500000s` when it is not a whole number of milliseconds.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}.{:09}s", d.as_secs(), d.subsec_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1.5s"), Ok(secs(1.5)));
        assert_eq!(parse_duration("500ms"), Ok(secs(0.5)));
        assert_eq!(parse_duration("2m"), Ok(secs(120.0)));
        assert_eq!(parse_duration("3"), Ok(secs(3.0)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 weeks").unwrap_err().contains("unknown unit"));
        assert_eq!(parse_duration(".5s"), Ok(secs(0.5)));
        assert_eq!(parse_duration("5."), Ok(secs(5.0)));
        for bad in ["", ".", "1.2.3", "ms", "-1s", "1e3"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("99999999999999999999999h")
            .unwrap_err()
            .contains("too long"));
    }

    /// Found writing the scenarios fuzz target (its check that saved steps load
    /// back): a step of `0.5ms` was saved to the state file as `0ms`, which
    /// does not load (and `1.5ms` as `1ms`, another scenario). Durations are
    /// now read and written back exactly.
    #[test]
    fn durations_read_and_written_exactly() {
        assert_eq!(parse_duration("0.5ms"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("1.0005s"), Ok(Duration::new(1, 500_000)));
        assert_eq!(parse_duration("0.3s"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0.000000001s"), Ok(Duration::from_nanos(1)));
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_micros(500)), "0.000500000s");
        for d in [
            Duration::from_micros(500),
            Duration::new(123_456_789, 123_456_789),
            Duration::from_millis(7),
            Duration::new(u64::MAX, 999_999_999),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
    }
}
