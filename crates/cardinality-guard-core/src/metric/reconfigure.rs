//! A metric takes a reloaded policy in place.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{timeout_ms, Metric};
use crate::config::{MetricPolicy, Mode};

impl Metric {
    /// Takes a reloaded `policy` (`idle_timeout`: `None` over another
    /// recorder): all at once under the table's lock, so every admission
    /// is decided wholly under the old settings or wholly under the new.
    /// Admitted series stay; see [`Budget::configure`](crate::budget::Budget::configure).
    pub(crate) fn reconfigure(&self, policy: MetricPolicy, idle_timeout: Option<Duration>) {
        let table = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        let values = |label: &str| -> Vec<String> {
            table
                .iter()
                .filter(|s| !s.overflow && s.shadow_reasons.is_empty())
                .filter_map(|s| {
                    s.labels()
                        .find(|(k, _)| *k == label)
                        .map(|(_, v)| v.into_owned())
                })
                .collect()
        };
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
            // relies on that).
            let lookup = self.env.lookup(self.kind);
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
        self.idle_timeout_ms
            .store(timeout_ms(idle_timeout), Ordering::Release);
        self.gauges.set_limit(policy.max_series.get());
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
        drop(table);
    }
}
