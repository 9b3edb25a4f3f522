//! Numbers and durations as the text form writes them: decimal `u32`s and
//! `digits ("ms" | "s")`. A leaf: the parser and the single trait word both read
//! through it.

/// Milliseconds per unit of a duration word: `ms` 1, `s` 1000.
pub(crate) fn unit_ms(unit: &str) -> Option<u32> {
    match unit {
        "ms" => Some(1),
        "s" => Some(1000),
        _ => None,
    }
}

/// A whole duration word (`500ms`, `2s`) in milliseconds, as the parser reads
/// one; `None` if it is not one or does not fit a `u32`.
pub(crate) fn duration_ms(text: &str) -> Option<u32> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let factor = unit_ms(unit)?;
    if digits.is_empty() {
        return None;
    }
    to_u32(digits)?.checked_mul(factor)
}

/// A whole size word of `slow-exit` (`32MiB`) in MiB, as the parser reads one;
/// `None` if it is not one or is not 1 to [`super::SLOW_EXIT_MIB`].
pub(crate) fn size_mib(text: &str) -> Option<u32> {
    let digits = text.strip_suffix("MiB")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    to_u32(digits).filter(|n| (1..=super::SLOW_EXIT_MIB).contains(n))
}

/// Decimal digits to `u32`, `None` on overflow.
pub(crate) fn to_u32(digits: &str) -> Option<u32> {
    digits.bytes().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_convert_up_to_u32_max_and_no_further() {
        assert_eq!(to_u32("0"), Some(0));
        assert_eq!(to_u32("007"), Some(7));
        assert_eq!(to_u32("4294967295"), Some(u32::MAX));
        assert_eq!(to_u32("4294967296"), None);
        assert_eq!(to_u32("99999999999999999999999"), None);
    }

    #[test]
    fn size_words_are_whole_mib_from_1_to_256() {
        assert_eq!(size_mib("1MiB"), Some(1));
        assert_eq!(size_mib("32MiB"), Some(32));
        assert_eq!(size_mib("256MiB"), Some(256));
        for bad in [
            "", "MiB", "0MiB", "257MiB", "32", "32mib", "32M", "-1MiB", "1.5MiB",
        ] {
            assert_eq!(size_mib(bad), None, "{bad}");
        }
    }

    #[test]
    fn duration_words_read_like_the_parser() {
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("2s"), Some(2000));
        assert_eq!(duration_ms("0ms"), Some(0));
        assert_eq!(duration_ms("4294968s"), None);
        for bad in ["", "ms", "5", "5min", "-1s", "1.5s"] {
            assert_eq!(duration_ms(bad), None, "{bad}");
        }
    }
}
