//! What the registry tells: the render, the report, and the upkeep that
//! keeps both current.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Registry;
use crate::exposition::{write_metric, write_self_report, Rendered};
use crate::metric::Metric;
use crate::report::{unix_ms_now, Report};
use crate::vocabulary::MetricKind;

impl Registry {
    /// With idle timeouts, one sweep (histogram samples need no draining:
    /// they go straight into their distributions); then a sample of every
    /// metric's series for the history.
    pub(crate) fn upkeep(&self) {
        let metrics = self.all_metrics();
        self.sweep(&metrics);
        self.redecide(&metrics);
        let now_ms = self.env.time.now_ms();
        self.history.record(
            now_ms,
            metrics.iter().map(|m| (m.name.as_str(), m.series())),
        );
    }

    fn sweep(&self, metrics: &[Arc<Metric>]) {
        if !self.config().expires() || !self.env.store.owns_series() {
            return;
        }
        let mut sweeps = self.sweeps.lock().unwrap_or_else(|p| p.into_inner());
        *sweeps += 1;
        let now_ms = self.env.time.now_ms();
        let mut expired = false;
        for metric in metrics {
            expired |= metric.sweep(now_ms, *sweeps);
        }
        if expired {
            for lookup in &self.env.lookup {
                lookup.forget_expired(&self.env.bounds);
            }
        }
    }

    /// Admission decided again (when the guard stores its series): what a
    /// reload would no longer admit, and what `keep` prefers, are evicted.
    fn redecide(&self, metrics: &[Arc<Metric>]) {
        if !self.env.store.owns_series() {
            return;
        }
        let mut evicted = false;
        for metric in metrics {
            evicted |= metric.redecide();
        }
        if evicted {
            for lookup in &self.env.lookup {
                lookup.forget_expired(&self.env.bounds);
            }
        }
    }

    pub(super) fn all_metrics(&self) -> Vec<Arc<Metric>> {
        let mut metrics: Vec<Arc<Metric>> = self.metrics.iter().map(|m| m.clone()).collect();
        metrics.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        metrics
    }

    /// The exposition: a sweep first (with idle timeouts), then every
    /// family sorted by name, then the self-report of exactly that.
    pub(crate) fn render(&self) -> String {
        let metrics = self.all_metrics();
        self.sweep(&metrics);
        let now = quanta::Instant::now();
        let mut out = String::with_capacity(self.render_size.load(Ordering::Relaxed) + 1024);
        let mut rendered = Vec::with_capacity(metrics.len());
        for metric in metrics {
            let help = self.descriptions.get(&metric.name);
            let series = write_metric(&mut out, &metric, help.as_deref().map(|h| h.as_str()), now);
            drop(help);
            rendered.push(Rendered { metric, series });
        }
        if self.env.retired.swap(false, Ordering::AcqRel) {
            for lookup in &self.env.lookup {
                lookup.forget_expired(&self.env.bounds);
            }
        }
        let global = self.env.global.report(0);
        let reload = self.reload_status();
        let unmatched_rules = self.settings().matched.unmatched_count();
        write_self_report(
            &mut out,
            &rendered,
            &global,
            &self.env.global_labels.pairs,
            reload,
            (unmatched_rules, &self.problems.counts()),
        );
        self.render_size.store(out.len(), Ordering::Relaxed);
        out
    }

    /// Label sets in the tables (overflow series included): bounded by the
    /// budgets. The other spellings that lead to them are bounded apart,
    /// by `global.max_alias_bytes`.
    pub(crate) fn tracked_label_sets(&self) -> usize {
        self.metrics.iter().map(|m| m.lock().len()).sum()
    }

    pub(crate) fn label_sets(
        &self,
        kind: MetricKind,
        name: &str,
        max: usize,
    ) -> Vec<Vec<(String, String)>> {
        self.metrics
            .get(name)
            .filter(|m| m.kind == kind)
            .map_or_else(Vec::new, |m| m.label_sets(max))
    }

    pub(crate) fn report(&self) -> Report {
        let metrics = self.all_metrics();
        let settings = self.settings();
        let notes = settings.config.notes().iter().cloned();
        let mut report = Report {
            generated_at_unix_ms: unix_ms_now(),
            global: self.env.global.report(self.tracked_label_sets()),
            metrics: metrics.iter().map(|m| m.report()).collect(),
            unmatched_rules: settings.matched.unmatched(&settings.config),
            notes: notes.chain(self.problems.notes()).collect(),
        };
        report.global.alias_bytes = self.env.bounds.alias_bytes();
        self.history
            .record_report(self.env.time.now_ms(), &mut report.metrics);
        for m in &mut report.metrics {
            m.recommendation = m.recommend();
        }
        report.sort();
        report
    }
}
