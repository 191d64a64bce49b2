//! Numbers in the text format: written as the renderer writes them, read as
//! Prometheus reads them.

use std::fmt::Write;

/// Writes `value` as the renderer writes a float: as Rust displays it
/// (`1`, `0.25`, `1e-7` as `0.0000001`), with `+Inf`, `-Inf` and `NaN`
/// spelled the Prometheus way.
///
/// ```
/// use cardinality_guard_core::text::write_f64;
///
/// let mut out = String::new();
/// for value in [1.0, 0.25, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
///     write_f64(&mut out, value);
///     out.push(' ');
/// }
/// assert_eq!(out, "1 0.25 +Inf -Inf NaN ");
/// ```
pub fn write_f64(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Reads a sample value or a float timestamp as Prometheus does (Go's
/// `strconv.ParseFloat`): decimal digits with an optional sign, point and
/// exponent, or `NaN`, `Inf`, `Infinity` with an optional sign, in any case.
/// `None` for anything else (hexadecimal floats included).
///
/// ```
/// use cardinality_guard_core::text::parse_f64;
///
/// assert_eq!(parse_f64("1.5e3"), Some(1500.0));
/// assert_eq!(parse_f64("+Inf"), Some(f64::INFINITY));
/// assert!(parse_f64("NaN").is_some_and(f64::is_nan));
/// assert_eq!(parse_f64("0x1p3"), None);
/// assert_eq!(parse_f64(""), None);
/// ```
pub fn parse_f64(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let ok = !body.is_empty()
        && (body.eq_ignore_ascii_case("inf")
            || body.eq_ignore_ascii_case("infinity")
            || body.eq_ignore_ascii_case("nan")
            || body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')));
    if !ok {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_floats_read_back() {
        for value in [
            0.0,
            -0.0,
            1.0,
            -2.5,
            1e-7,
            1.5e300,
            f64::MIN_POSITIVE,
            f64::MAX,
        ] {
            let mut out = String::new();
            write_f64(&mut out, value);
            assert_eq!(parse_f64(&out), Some(value), "{out}");
        }
    }

    #[test]
    fn what_prometheus_reads() {
        for ok in [
            "1",
            "-1",
            "+1",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            "inf",
            "-Infinity",
            "nan",
        ] {
            assert!(parse_f64(ok).is_some(), "{ok}");
        }
        for bad in [
            "", "+", "one", "1_000", "0x10", "1.5f", " 1", "1 ", "infinite",
        ] {
            assert_eq!(parse_f64(bad), None, "{bad}");
        }
    }
}
