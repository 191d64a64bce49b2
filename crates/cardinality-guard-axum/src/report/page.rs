//! What the endpoint shows, as JSON or as a page.

use cardinality_guard_core::Report;

/// A report with, when opted in, some admitted label sets per metric.
pub(crate) struct Page {
    pub(crate) report: Report,
    /// Per metric (same order as `report.metrics`): label sets as `k="v"` lists.
    pub(crate) label_sets: Option<Vec<Vec<String>>>,
}
