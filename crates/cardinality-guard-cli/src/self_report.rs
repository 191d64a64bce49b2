//! The guard's self-report, as read from a scrape: a target that exports
//! `cardinality_guard_series_limit` or `cardinality_guard_series` runs the
//! guard ("guarded"). Its `cardinality_guard_*` families say what the guard
//! enforces (budgets, label limits), what it folded, and the demand it
//! estimated per label: the audit reads them instead of guessing.
//!
//! Memory follows the self-report's own lines (its cardinality is bounded by
//! the guard's `global.max_metrics`; a forged one by the body's size).

use std::collections::BTreeMap;

use cardinality_guard_core::self_report::{
    GLOBAL_SERIES, GLOBAL_SERIES_LIMIT, LABEL_VALUES, OVERFLOW_TOTAL, RESERVED_PREFIX, SERIES,
    SERIES_LIMIT,
};
use cardinality_guard_core::text::Sample;

/// `cardinality_guard_label_limit{metric, label}`: the running label limit
/// (read when the guard exports it).
pub(crate) const LABEL_LIMIT: &str = "cardinality_guard_label_limit";

/// Whether `family` is one of the guard's own.
pub(crate) fn is_self_report(family: &str) -> bool {
    family.starts_with(RESERVED_PREFIX)
}

/// What the self-report of one scrape says.
#[derive(Debug, Clone, Default)]
pub(crate) struct SelfReport {
    /// `cardinality_guard_series_limit` or `cardinality_guard_series` was seen.
    pub(crate) guarded: bool,
    /// `cardinality_guard_series_limit{metric}`.
    pub(crate) series_limit: BTreeMap<String, u64>,
    /// `cardinality_guard_series{metric}`.
    pub(crate) series: BTreeMap<String, u64>,
    /// `cardinality_guard_overflow_total{metric, reason=~"series_limit|global_limit"}`, summed.
    pub(crate) folded: BTreeMap<String, u64>,
    /// `cardinality_guard_overflow_total{metric, reason="label_limit"}`.
    pub(crate) label_limit_folds: BTreeMap<String, u64>,
    /// `cardinality_guard_label_values{metric, label}`: the demand.
    pub(crate) label_values: BTreeMap<(String, String), u64>,
    /// `cardinality_guard_label_limit{metric, label}`: the running label limit.
    pub(crate) label_limits: BTreeMap<(String, String), u64>,
    /// `cardinality_guard_global_series`.
    pub(crate) global_series: Option<u64>,
    /// `cardinality_guard_global_series_limit`.
    pub(crate) global_series_limit: Option<u64>,
}

/// A sample value as a count: negative and NaN are 0, the rest saturates.
pub(crate) fn count(value: f64) -> u64 {
    if value.is_nan() || value <= 0.0 {
        0
    } else {
        value as u64
    }
}

impl SelfReport {
    /// Reads one sample of a `cardinality_guard_*` family.
    pub(crate) fn add(&mut self, sample: &Sample<'_>) {
        let label = |name: &str| sample.label(name).map(|v| v.to_string());
        let value = count(sample.value);
        match sample.name {
            SERIES_LIMIT | SERIES => {
                self.guarded = true;
                if let Some(metric) = label("metric") {
                    let map = if sample.name == SERIES {
                        &mut self.series
                    } else {
                        &mut self.series_limit
                    };
                    map.insert(metric, value);
                }
            }
            OVERFLOW_TOTAL => {
                let map = match sample.label("reason") {
                    Some("series_limit" | "global_limit") => &mut self.folded,
                    Some("label_limit") => &mut self.label_limit_folds,
                    _ => return,
                };
                if let Some(metric) = label("metric") {
                    let folded = map.entry(metric).or_default();
                    *folded = folded.saturating_add(value);
                }
            }
            LABEL_VALUES | LABEL_LIMIT => {
                if let (Some(metric), Some(name)) = (label("metric"), label("label")) {
                    let map = if sample.name == LABEL_VALUES {
                        &mut self.label_values
                    } else {
                        &mut self.label_limits
                    };
                    map.insert((metric, name), value);
                }
            }
            GLOBAL_SERIES => self.global_series = Some(value),
            GLOBAL_SERIES_LIMIT => self.global_series_limit = Some(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::source::read_str;
    use cardinality_guard_core::text::Format;

    #[test]
    fn reads_budgets_folds_demand_and_label_limits() {
        let text = "cardinality_guard_series_limit{metric=\"a_total\"} 50\n\
            cardinality_guard_series{metric=\"a_total\"} 50\n\
            cardinality_guard_overflow_total{metric=\"a_total\",reason=\"series_limit\"} 7\n\
            cardinality_guard_overflow_total{metric=\"a_total\",reason=\"global_limit\"} 2\n\
            cardinality_guard_overflow_total{metric=\"a_total\",reason=\"label_limit\"} 100\n\
            cardinality_guard_label_values{metric=\"a_total\",label=\"user\"} 400\n\
            cardinality_guard_label_limit{metric=\"a_total\",label=\"user\"} 20\n\
            cardinality_guard_global_series 60\ncardinality_guard_global_series_limit 1000\n";
        let s = read_str(text, Format::Prometheus)
            .unwrap()
            .inventory
            .self_report;
        assert!(s.guarded);
        assert_eq!(s.series_limit["a_total"], 50);
        assert_eq!(
            s.folded["a_total"], 9,
            "label_limit folds are not budget folds"
        );
        assert_eq!(s.label_limit_folds["a_total"], 100);
        let key = ("a_total".to_owned(), "user".to_owned());
        assert_eq!((s.label_values[&key], s.label_limits[&key]), (400, 20));
        assert_eq!(
            (s.global_series, s.global_series_limit),
            (Some(60), Some(1000))
        );
        let plain = read_str("cardinality_guard_metrics 1\n", Format::Prometheus).unwrap();
        assert!(!plain.inventory.self_report.guarded);
    }
}
