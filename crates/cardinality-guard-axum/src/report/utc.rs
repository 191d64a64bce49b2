//! Wall-clock time as UTC, ISO 8601, without a date library: the report
//! page's "generated at".

/// `unix_ms` (milliseconds since the Unix epoch) as
/// `YYYY-MM-DDTHH:MM:SSZ` (seconds truncated).
pub(super) fn iso8601(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, in_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01.
///
/// Counts in 400-year eras (146,097 days each) of years that start on
/// 1 March, so the leap day is the last day of its year; months from March
/// have a regular length pattern (153 days per 5 months).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days since 0000-03-01 (1970-01-01 is day 719,468 of that count).
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(999), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z"); // a leap day
        assert_eq!(iso8601(951_868_799_000), "2000-02-29T23:59:59Z");
        assert_eq!(iso8601(4_107_542_400_000), "2100-03-01T00:00:00Z"); // 2100: no leap day
        assert_eq!(iso8601(253_402_300_799_000), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn every_day_follows_the_one_before() {
        // Against a plain day-by-day calendar walk, 1970 to 2200.
        let (mut y, mut m, mut d) = (1970, 1, 1);
        for days in 0..(230 * 366) {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let length = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > length {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
