//! Durations on the command line: `500ms`, `2s`, `1.5s`, `1m` (at most `1h`).

use std::time::Duration;

/// The longest duration any option accepts.
pub const MAX: Duration = Duration::from_secs(3600);

/// Parses `500ms`, `2s`, `1.5s`, `1m`, `1h` (zero allowed; negative, unitless and
/// over an hour rejected). For clap's `value_parser`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        return Err(format!("\"{text}\" has no unit (write 500ms, 2s or 1m)"));
    };
    if num.is_empty()
        || !num.chars().all(|c| c.is_ascii_digit() || c == '.')
        || num.matches('.').count() > 1
    {
        return Err(format!(
            "\"{text}\" is not a duration (write 500ms, 2s or 1m; no sign)"
        ));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration (write 500ms, 2s or 1m)"))?;
    let d = Duration::from_secs_f64(value * unit);
    if d > MAX {
        return Err(format!("\"{text}\" is longer than the 1h limit"));
    }
    Ok(d)
}

/// [`parse`], and zero rejected (a deadline of nothing is always missed).
pub fn parse_nonzero(text: &str) -> Result<Duration, String> {
    match parse(text)? {
        Duration::ZERO => Err(format!(
            "\"{text}\" is zero (give a deadline longer than 0s)"
        )),
        d => Ok(d),
    }
}

/// Prints a duration the way [`parse`] reads it back: as a replay line writes
/// it ([`teardown_harness::shell::format_duration_arg`]), zero as `0ms`.
pub fn show(d: Duration) -> String {
    if d.is_zero() {
        "0ms".to_owned()
    } else {
        teardown_harness::shell::format_duration_arg(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_milliseconds_seconds_and_minutes_parse() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("1h"), Ok(MAX));
    }

    #[test]
    fn negative_unitless_malformed_and_absurd_durations_are_rejected() {
        for bad in ["-1s", "2", "s", "1.2.3s", "2h", "61m", "1e3s", "", "ms"] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn shown_durations_parse_back() {
        for d in [
            Duration::ZERO,
            Duration::from_millis(250),
            Duration::from_secs(3),
        ] {
            assert_eq!(parse(&show(d)), Ok(d));
        }
    }
}
