//! One metric (a kind and a rendered name). It owns the admission of its
//! label sets ([`Metric::admit`], in `admit.rs`): their labels as they
//! render, its label limits, its budget, and its table of series, which
//! admission, expiry (`expiry.rs`), reloads (`reconfigure.rs`) and the
//! render share under one lock.

mod admit;
mod expiry;
mod keep;
mod reconfigure;
mod updates;
mod warn;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use crate::bounds::Bounds;
use crate::budget::{Budget, Global};
use crate::clock::Timeline;
use crate::config::{MetricPolicy, Mode};
use crate::flavor::Flavor;
use crate::heavy::Busiest;
use crate::labels::MetricLabels;
use crate::rank::Consistent;
use crate::report::{ratio, LabelReport, MetricReport};
use crate::self_report::{GlobalGauges, MetricGauges};
use crate::series::identity::GlobalLabels;
use crate::series::lookup::Lookup;
use crate::series::{Family, Revive, Series};
use crate::shape::HistogramStore;
use crate::store::Store;
use crate::vocabulary::{
    EvictedCounts, EvictionReason, MetricKind, OverflowCounts, OverflowReason,
};

/// A metric's series, in the order they were admitted (a render sorts
/// them by their labels).
pub(crate) type Table = Vec<Arc<Series>>;

/// What all metrics of one guard share.
pub(crate) struct Env {
    pub(crate) global: Global,
    /// The bounds on names, labels and descriptions.
    pub(crate) bounds: Bounds,
    pub(crate) time: Timeline,
    /// Labels every series renders with (`[global] labels`).
    pub(crate) global_labels: Arc<GlobalLabels>,
    /// Where series live (chosen when the guard is built).
    pub(crate) store: Box<dyn Store>,
    /// The guard's self-report handles (no-ops on the Prometheus path).
    pub(crate) gauges: GlobalGauges,
    /// The stored series of each flavor, by key.
    pub(crate) lookup: [Lookup; Flavor::COUNT],
    /// Label sets admitted so far (all metrics; re-admissions included),
    /// bumped under the metric's lock once the label set's key leads to it:
    /// a registration that saw no change since before its first lookup, and
    /// then finds the metric closed, knows its label set is not admitted.
    pub(crate) admissions: AtomicU64,
    /// A render ended retiring series: the other spellings that lead to
    /// them are to be forgotten.
    pub(crate) retired: AtomicBool,
}

impl Env {
    pub(crate) fn lookup(&self, flavor: Flavor) -> &Lookup {
        &self.lookup[flavor as usize]
    }
}

/// What a new metric is made of.
pub(crate) struct MetricParts {
    pub(crate) name: String,
    pub(crate) flavor: Flavor,
    /// An ingested histogram's `le` texts or summary's `quantile` texts.
    pub(crate) texts: Box<[Box<str>]>,
    pub(crate) policy: MetricPolicy,
    pub(crate) cost: u64,
    /// The label key its kind renders itself (`le`, `quantile`).
    pub(crate) own_key: Option<&'static str>,
    /// How it renders, when the guard stores its series.
    pub(crate) histogram: Option<HistogramStore>,
    pub(crate) max_labels: usize,
}

/// Counts for the report and the self-report.
#[derive(Default)]
struct Counts {
    /// Label sets in the table (not the overflow series).
    label_sets: AtomicU64,
    overflow_live: AtomicBool,
    admitted: AtomicU64,
    evicted: [AtomicU64; EvictionReason::COUNT],
    revived: AtomicU64,
    /// Series pushed onto the table so far (the newest are at its end).
    pushed: AtomicU64,
    overflow: [AtomicU64; OverflowReason::COUNT],
}

pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) kind: MetricKind,
    /// What its series store (metrics-rs kinds, or what `Ingest` created).
    pub(crate) flavor: Flavor,
    pub(crate) family: Arc<Family>,
    /// Its policy; a reload replaces it (under the table's lock).
    policy: RwLock<Arc<MetricPolicy>>,
    /// `policy.mode == Enforce`, for lock-free reads.
    enforce: AtomicBool,
    /// Bumped (under the table's lock) by every reload: a registration
    /// decided under older settings decides again.
    generation: AtomicU64,
    own_key: Option<&'static str>,
    /// Label limits, pinned values, demand.
    pub(crate) labels: MetricLabels,
    /// Its idle timeout in ms; 0: its label sets do not expire.
    idle_timeout_ms: AtomicU64,
    /// On the Prometheus path, for histograms: how they render.
    pub(crate) histogram: Option<HistogramStore>,
    pub(crate) budget: Budget,
    pub(crate) env: Arc<Env>,
    table: Mutex<Table>,
    /// In shadow mode: the label sets rewritten by label limits that
    /// enforce would have admitted (sorted label text). Taken under `table`.
    shadow_admitted: Mutex<HashSet<String>>,
    overflow: OnceLock<Arc<Series>>,
    /// What its budget keeps (`policy.keep`, for lock-free reads).
    keep: AtomicU8,
    /// Under `keep = "busiest"`: the folded label sets that register most.
    busiest: OnceLock<Busiest>,
    /// Under `keep = "consistent"`: the demand and the rank threshold.
    consistent: OnceLock<Consistent>,
    /// Set by a reload: the next upkeeps evict the stored series the new
    /// settings would not admit.
    redeciding: AtomicBool,
    /// Label sets evicted (by the hash of their identity) that no render has
    /// shown absent yet: not admitted again before one has. Taken under `table`.
    evicted_unrendered: Mutex<HashSet<u64>>,
    /// Series upkeep evicts once a render has shown their last update,
    /// with the reason. Taken under `table`.
    retiring: Mutex<Vec<(Arc<Series>, EvictionReason)>>,
    /// Upkeeps so far (a series' residence is counted in them).
    upkeeps: AtomicU64,
    /// What its admitted and overflow series counted, for the traffic share.
    traffic: Mutex<keep::Traffic>,
    counts: Counts,
    /// When the last warning about this metric was logged (ms by the
    /// guard's clock, plus one); 0: never.
    warned_at: AtomicU64,
    gauges: MetricGauges,
}

impl Metric {
    pub(crate) fn new(parts: MetricParts, env: Arc<Env>) -> Arc<Metric> {
        let gauges =
            MetricGauges::register(&*env.store, &parts.name, parts.policy.max_series.get());
        let idle_timeout = parts
            .policy
            .idle_timeout
            .filter(|_| env.store.owns_series());
        let keep = keep::effective(parts.policy.keep, &*env.store);
        Arc::new_cyclic(|me: &std::sync::Weak<Metric>| {
            let owner: std::sync::Weak<dyn Revive> = me.clone();
            Metric {
                family: Arc::new(Family::new(
                    parts.name.clone(),
                    env.global_labels.clone(),
                    parts.texts,
                    owner,
                )),
                labels: MetricLabels::new(&parts.policy, parts.max_labels),
                budget: Budget::new(
                    &parts.policy,
                    parts.cost,
                    parts.flavor.overflow_cost(parts.cost),
                    &env.global,
                ),
                name: parts.name,
                kind: parts.flavor.kind(),
                flavor: parts.flavor,
                enforce: AtomicBool::new(parts.policy.mode == Mode::Enforce),
                policy: RwLock::new(Arc::new(parts.policy.clone())),
                generation: AtomicU64::new(0),
                own_key: parts.own_key,
                idle_timeout_ms: AtomicU64::new(timeout_ms(idle_timeout)),
                histogram: parts.histogram,
                env,
                table: Mutex::new(Table::new()),
                shadow_admitted: Mutex::new(HashSet::new()),
                overflow: OnceLock::new(),
                keep: AtomicU8::new(keep as u8),
                busiest: OnceLock::new(),
                consistent: OnceLock::new(),
                redeciding: AtomicBool::new(false),
                evicted_unrendered: Mutex::new(HashSet::new()),
                retiring: Mutex::new(Vec::new()),
                upkeeps: AtomicU64::new(0),
                traffic: Mutex::new(keep::Traffic::default()),
                counts: Counts::default(),
                warned_at: AtomicU64::new(0),
                gauges,
            }
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn enforces(&self) -> bool {
        self.enforce.load(Ordering::Acquire)
    }

    /// Its policy as it is now.
    pub(crate) fn policy(&self) -> Arc<MetricPolicy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Its idle timeout in ms, if its label sets expire.
    pub(crate) fn idle_timeout_ms(&self) -> Option<u64> {
        Some(self.idle_timeout_ms.load(Ordering::Acquire)).filter(|&ms| ms > 0)
    }

    /// Puts `series` at the end of the table (under its lock).
    fn push(&self, table: &mut Table, series: &Arc<Series>) {
        table.push(series.clone());
        self.counts.pushed.fetch_add(1, Ordering::Release);
    }

    /// What the overflow series (`overflow`) or a label set's series costs.
    pub(crate) fn cost(&self, overflow: bool) -> u64 {
        match overflow {
            true => self.budget.overflow_cost,
            false => self.budget.cost,
        }
    }

    /// Accounts a series that renders now.
    fn added(&self, overflow: bool) {
        if overflow {
            self.counts.overflow_live.store(true, Ordering::Release);
        } else {
            self.counts.label_sets.fetch_add(1, Ordering::AcqRel);
            self.counts.admitted.fetch_add(1, Ordering::Relaxed);
        }
        let cost = self.cost(overflow);
        self.env.global.add_series(cost);
        self.gauges.add_series(cost, !overflow);
        self.env.gauges.add_series(cost);
    }

    /// Accounts a series that expired or was evicted, for `reason`.
    fn removed(&self, series: &Series, reason: EvictionReason) {
        self.departed(series);
        if series.overflow {
            self.counts.overflow_live.store(false, Ordering::Release);
            self.budget.overflow_gone(&self.env.global);
        } else {
            self.counts.label_sets.fetch_sub(1, Ordering::AcqRel);
            self.counts.evicted[reason as usize].fetch_add(1, Ordering::Relaxed);
            if series.reserved.swap(false, Ordering::Relaxed) {
                self.budget.release(&self.env.global);
            }
        }
        self.env.global.remove_series(self.cost(series.overflow));
    }

    /// Counts the reasons of one registration (and perhaps warns), with no
    /// lock held: a log subscriber may record metrics of its own. A label
    /// limit's rewrite that the budget then folded counts once, under the
    /// budget's reason ([`Reasons::decided`](crate::vocabulary::Reasons::decided)).
    pub(crate) fn count(&self, reasons: crate::vocabulary::Reasons) {
        for reason in reasons.decided().iter() {
            let count = self.counts.overflow[reason as usize].fetch_add(1, Ordering::Relaxed) + 1;
            self.gauges
                .count_overflow(&*self.env.store, &self.name, reason);
            self.warn(reason, count);
        }
    }

    /// Up to `max` admitted label sets (not the overflow series).
    pub(crate) fn label_sets(&self, max: usize) -> Vec<Vec<(String, String)>> {
        self.lock()
            .iter()
            .filter(|s| !s.overflow)
            .take(max)
            .map(|s| {
                s.labels()
                    .map(|(k, v)| (k.to_owned(), v.into_owned()))
                    .collect()
            })
            .collect()
    }

    /// Exported series it holds now, overflow series included.
    pub(crate) fn series(&self) -> u64 {
        let overflow_live = self.counts.overflow_live.load(Ordering::Acquire);
        self.counts.label_sets.load(Ordering::Acquire) * self.budget.cost
            + u64::from(overflow_live) * self.budget.overflow_cost
    }

    pub(crate) fn report_admitted(&self) -> u64 {
        self.counts.admitted.load(Ordering::Relaxed)
    }

    pub(crate) fn evicted_counts(&self) -> EvictedCounts {
        EvictedCounts::from_fn(|r| self.counts.evicted[r as usize].load(Ordering::Relaxed))
    }

    pub(crate) fn overflow_counts(&self) -> OverflowCounts {
        let mut overflow = OverflowCounts::default();
        for reason in OverflowReason::ALL {
            let count = self.counts.overflow[reason as usize].load(Ordering::Relaxed);
            overflow.add(reason, count);
        }
        overflow
    }

    /// Its tracked labels, highest demand first.
    pub(crate) fn label_reports(&self) -> Vec<LabelReport> {
        self.labels.report()
    }

    pub(crate) fn report(&self) -> MetricReport {
        let overflow_live = self.counts.overflow_live.load(Ordering::Acquire);
        let label_sets = self.counts.label_sets.load(Ordering::Acquire);
        let series =
            label_sets * self.budget.cost + u64::from(overflow_live) * self.budget.overflow_cost;
        let overflow = self.overflow_counts();
        let policy = self.policy();
        let limit = policy.max_series.get();
        let mut labels = self.labels.report();
        let updates = self.updates(&mut labels);
        let blame = (overflow.total() > 0)
            .then(|| labels.first().map(|l| l.name.clone()))
            .flatten();
        MetricReport {
            history: Vec::new(), // the registry's to fill in
            labels,
            blame,
            name: self.name.clone(),
            kind: self.kind,
            series,
            limit,
            utilization: ratio(series, limit),
            label_sets,
            series_per_label_set: self.budget.cost,
            overflow_series: overflow_live,
            overflow,
            admitted: self.counts.admitted.load(Ordering::Relaxed),
            on_overflow: policy.on_overflow,
            mode: policy.mode,
            idle_timeout_seconds: self.idle_timeout_ms().map(|ms| ms as f64 / 1000.0),
            expired: self.counts.evicted[EvictionReason::Idle as usize].load(Ordering::Relaxed),
            evicted: self.evicted_counts(),
            keep: self.keep(),
            admitted_share: self.admitted_share(),
            revived: self.counts.revived.load(Ordering::Relaxed),
            updates,
            recommendation: None,
        }
    }
}

/// An idle timeout in ms (at least 1); 0 for none.
fn timeout_ms(timeout: Option<Duration>) -> u64 {
    timeout.map_or(0, |t| {
        u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)
    })
}
