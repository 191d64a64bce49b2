//! The page's optional auto-refresh: `?refresh=N` seconds, rendered as a
//! `<meta http-equiv="refresh">` (the page runs no scripts).

use std::ops::RangeInclusive;

/// The refresh periods the page accepts, in seconds: a value outside is
/// ignored (no refresh), so a link can't make the page hammer the service.
pub(super) const REFRESH_SECONDS: RangeInclusive<u32> = 5..=3600;

/// The period the page offers to refresh at, in seconds.
pub(super) const SUGGESTED_REFRESH: u32 = 30;

/// The last `refresh` query parameter, when it is a whole number of seconds
/// in [`REFRESH_SECONDS`]; anything else (garbage, a sign, a fraction, out
/// of range) means no refresh.
pub(super) fn refresh_seconds(query: &[(String, String)]) -> Option<u32> {
    let (_, value) = query.iter().rev().find(|(k, _)| k == "refresh")?;
    if value.is_empty() || value.len() > 5 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse()
        .ok()
        .filter(|seconds| REFRESH_SECONDS.contains(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Option<u32> {
        let query: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        refresh_seconds(&query)
    }

    #[test]
    fn whole_seconds_within_bounds() {
        assert_eq!(parse(&[("refresh", "30")]), Some(30));
        assert_eq!(parse(&[("refresh", "5")]), Some(5));
        assert_eq!(parse(&[("refresh", "3600")]), Some(3600));
        assert_eq!(parse(&[("refresh", "0030")]), Some(30));
        assert_eq!(parse(&[("format", "html"), ("refresh", "60")]), Some(60));
        // The last one wins, as for `format`.
        assert_eq!(parse(&[("refresh", "10"), ("refresh", "20")]), Some(20));
    }

    #[test]
    fn out_of_range_is_ignored() {
        for value in ["0", "4", "3601", "86400", "99999"] {
            assert_eq!(parse(&[("refresh", value)]), None, "{value}");
        }
    }

    #[test]
    fn garbage_is_ignored() {
        for value in [
            "",
            "abc",
            "30s",
            "+30",
            "-30",
            "30.5",
            " 30",
            "1e2",
            "٣٠",
            "300000000000",
        ] {
            assert_eq!(parse(&[("refresh", value)]), None, "{value:?}");
        }
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[("Refresh", "30")]), None);
        // A later invalid value switches an earlier valid one off.
        assert_eq!(parse(&[("refresh", "30"), ("refresh", "x")]), None);
    }
}
