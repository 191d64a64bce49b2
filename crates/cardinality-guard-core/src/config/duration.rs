//! Durations as a config file writes them (`idle_timeout = "10m"`), also
//! the grammar of the `cardinality-guard audit` flags (`--watch 10m`).

use std::fmt;
use std::time::Duration;

/// Why [`parse_duration`] refused a text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a whole number and a unit, or zero.
    Malformed,
    /// More milliseconds than a `u64` holds.
    TooLarge,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Malformed => f.write_str(
                "not a duration: write a whole number above zero and a unit, e.g. 500ms, 90s, 10m, 1h (units ms, s, m, h)",
            ),
            DurationError::TooLarge => write!(
                f,
                "too large: the longest duration is {} ms (about 584 million years)",
                u64::MAX
            ),
        }
    }
}

impl std::error::Error for DurationError {}

/// A duration written as a whole number above zero and a unit: `ms`, `s`,
/// `m` or `h` (`"500ms"`, `"90s"`, `"10m"`, `"1h"`). Whitespace around the
/// text and before the unit is allowed; fractions, other units and zero are
/// not.
///
/// ```
/// use std::time::Duration;
/// use cardinality_guard_core::config::{parse_duration, DurationError};
///
/// assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_duration(" 10 m "), Ok(Duration::from_secs(600)));
/// assert_eq!(parse_duration("1.5h"), Err(DurationError::Malformed));
/// assert_eq!(parse_duration("0s"), Err(DurationError::Malformed));
/// assert_eq!(parse_duration("99999999999999999999ms"), Err(DurationError::TooLarge));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or(DurationError::Malformed)?;
    let (number, unit) = text.split_at(split);
    let per_unit: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(DurationError::Malformed),
    };
    if number.is_empty() {
        return Err(DurationError::Malformed);
    }
    // All digits: a parse failure is an overflow.
    let n: u64 = number.parse().map_err(|_| DurationError::TooLarge)?;
    let millis = n.checked_mul(per_unit).ok_or(DurationError::TooLarge)?;
    if millis == 0 {
        return Err(DurationError::Malformed);
    }
    Ok(Duration::from_millis(millis))
}
