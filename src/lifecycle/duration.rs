//! Durations as people write them in flags, scenario files and control
//! requests (`1.5s`, `500ms`, `2m`). Below everything that reads them.

use std::time::Duration;

/// Parses `1.5s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write e.g. \"1.5s\", \"500ms\", \"2m\" or \"1h\""))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("{text:?}: unknown unit {other:?}; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{text:?}: {e}"))
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
    }
}
