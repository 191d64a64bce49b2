//! A metric takes a reloaded policy in place.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{timeout_ms, Metric};
use crate::config::{MetricPolicy, Mode};
use crate::series::Series;

impl Metric {
    /// Takes a reloaded `policy` (`idle_timeout`: `None` over another
    /// recorder): all at once under the table's lock, so every admission
    /// is decided wholly under the old settings or wholly under the new.
    /// Then the next upkeeps evict the stored series the new settings would
    /// not admit (`keep.rs`); see [`Budget::configure`](crate::budget::Budget::configure).
    pub(crate) fn reconfigure(&self, policy: MetricPolicy, idle_timeout: Option<Duration>) {
        // Labels that get a limit, a lower one, or another `keep` pick the
        // values they admit from those stored label sets hold, the ones
        // `keep` prefers first. They are read from a copy of the table,
        // without its lock; under it, the values of the label sets admitted
        // meanwhile (at the table's end) come last.
        let keep_changed = policy.keep != self.keep();
        let repicking = self.labels.repicking(&policy, keep_changed);
        // Every label that picks again has its list (perhaps empty).
        let mut values: HashMap<String, Vec<String>> =
            repicking.iter().map(|l| (l.clone(), Vec::new())).collect();
        let mut read = 0;
        if !repicking.is_empty() {
            let copy = {
                let table = self.lock();
                read = self.counts.pushed.load(Ordering::Acquire);
                table.clone()
            };
            let mut preferred: Vec<&Arc<Series>> = copy.iter().collect();
            self.preferred_first(&mut preferred, policy.keep);
            held_values(preferred, &repicking, &mut values);
        }
        let table = self.lock();
        if !repicking.is_empty() {
            let meanwhile = self.counts.pushed.load(Ordering::Acquire) - read;
            let start = table.len().saturating_sub(meanwhile as usize);
            held_values(table[start..].iter(), &repicking, &mut values);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        // What the old settings retired is decided again at upkeep.
        for (series, _) in self
            .retiring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            series.retiring.store(false, Ordering::Release);
        }
        let untracked = self.labels.configure(&policy, &values);
        if !untracked.is_empty() {
            tracing::warn!(
                metric = %self.name,
                labels = ?untracked,
                "cardinality guard: reloaded label limits can't apply to labels {untracked:?} \
                 of metric {}: it already tracks `max_labels_per_metric` other labels",
                self.name
            );
        }
        let enforce = policy.mode == Mode::Enforce;
        if enforce && !self.enforces() {
            // Shadow mode stored label sets enforce would have folded, without
            // a reservation and without listing them. Enforce counts what is
            // stored, exactly: each stored label set holds one reservation
            // (the shadow reservations of rewritten label sets are given
            // back), and its own key leads to it (the closed fast path
            // relies on that). Upkeep then evicts what enforce would not hold.
            let lookup = self.env.lookup(self.flavor);
            let mut stored = 0;
            for series in table.iter().filter(|s| !s.overflow) {
                series.reserved.store(true, Ordering::Relaxed);
                lookup.list(series, None);
                stored += 1;
            }
            self.budget.set_reserved(stored, &self.env.global);
            self.shadow_admitted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        // After the reservations are exact: the budget decides whether it is
        // closed by what it holds now (judged by shadow's reservations, which
        // may outlive the series that made them, it could stay closed while
        // holding nothing).
        let overflow_live = self.counts.overflow_live.load(Ordering::Acquire);
        self.budget
            .configure(&policy, &self.env.global, overflow_live);
        self.enforce.store(enforce, Ordering::Release);
        self.set_keep(policy.keep);
        self.redeciding.store(true, Ordering::Release);
        self.idle_timeout_ms
            .store(timeout_ms(idle_timeout), Ordering::Release);
        self.gauges.set_limit(policy.max_series.get());
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
        drop(table);
    }
}

/// Adds the values of the `labels` that `series` hold (the overflow series
/// and shadow mode's folded label sets aside) to `values`, by label, in
/// the order of `series`.
fn held_values<'a>(
    series: impl IntoIterator<Item = &'a Arc<Series>>,
    labels: &[String],
    values: &mut HashMap<String, Vec<String>>,
) {
    for s in series
        .into_iter()
        .filter(|s| !s.overflow && s.shadow_reasons.is_empty())
    {
        for (key, value) in s.labels() {
            if labels.iter().any(|l| l == key) {
                values
                    .entry(key.to_owned())
                    .or_default()
                    .push(value.into_owned());
            }
        }
    }
}
