//! What a metric's series have counted, read at report time: the updates
//! the suggestion engine weighs (ids, a label limit that folds most of the
//! traffic), exactly as a scrape of the same moment shows them.

use super::Metric;
use crate::normalize::LABEL_OVERFLOW;
use crate::report::LabelReport;
use crate::vocabulary::MetricKind;

impl Metric {
    /// The sum of [`level`](crate::series::Series::level) over the series
    /// the table holds (the overflow series included): the counter values,
    /// or histogram and summary counts, the next render shows. Fills each
    /// of `labels`' `folded_updates` with the part its `__overflow__` label
    /// sets carry. `None` (and `labels` untouched) for a gauge, and over
    /// another recorder, which keeps the values.
    ///
    /// One pass under the table's lock, as a render reads it; nothing is
    /// added to the update path.
    pub(super) fn updates(&self, labels: &mut [LabelReport]) -> Option<u64> {
        if self.kind == MetricKind::Gauge || !self.env.store.owns_series() {
            return None;
        }
        let mut folded = vec![0u64; labels.len()];
        let mut total = 0u64;
        {
            let table = self.lock();
            for series in table.iter() {
                let level = series.level();
                total = total.saturating_add(level);
                // Only a label set that holds `__overflow__` is parsed.
                if series.overflow || !series.text().contains(LABEL_OVERFLOW) {
                    continue;
                }
                for (key, value) in series.labels() {
                    if value != LABEL_OVERFLOW {
                        continue;
                    }
                    if let Some(i) = labels.iter().position(|l| l.name == key) {
                        folded[i] = folded[i].saturating_add(level);
                    }
                }
            }
        }
        for (label, folded) in labels.iter_mut().zip(folded) {
            label.folded_updates = Some(folded);
        }
        Some(total)
    }
}
