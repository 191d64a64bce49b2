//! One admitted label set: its storage, and the handle user code updates.
//!
//! On the Prometheus path the guard stores the values itself (a counter, a
//! gauge, or histogram samples drained into a distribution), so admission,
//! storage, expiry and render are one table. Over another recorder the
//! series holds that recorder's handle instead ([`Storage::Inner`]).
//!
//! Every update of a guard-stored series does its work, then one load of
//! `flags`. While the flags read `ACTIVE` (updated since the last sweep, and
//! since the last render) nothing else happens. Otherwise the cold path sets
//! them, and, when the series has expired or been folded away meanwhile,
//! brings it back through its metric ([`Revive`]) and replays the update
//! where it now belongs: a held handle never loses data.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key};
use metrics_exporter_prometheus::Distribution;

/// Updated since the last sweep.
const TOUCHED: u8 = 1;
/// Updated since the last render (a scrape has not seen the last update).
const UNSCRAPED: u8 = 2;
/// Expired: no longer in its metric's table.
pub(crate) const EXPIRED: u8 = 4;
/// Folded (or dropped) for good after expiring: updates go to `redirect`.
const REDIRECTED: u8 = 8;
const ACTIVE: u8 = TOUCHED | UNSCRAPED;

/// Brings an expired series back: implemented by its metric.
pub(crate) trait Revive: Send + Sync {
    /// Re-admits `series` if there is room (`None`: it is live again, the
    /// update already in it), else redirects it for good and returns where
    /// its updates go now (`None` as well when they are dropped).
    fn revive(&self, series: &Arc<Series>) -> Option<Arc<Series>>;
}

/// Where a series keeps its values.
pub(crate) enum Storage {
    Counter(AtomicU64),
    /// An `f64` as bits.
    Gauge(AtomicU64),
    /// Samples go straight into the distribution, under its lock: exact
    /// (a lock-free sample buffer drained beside writers loses samples:
    /// `metrics_util::storage::AtomicBucket::clear_with` races `push`) and
    /// bounded (nothing piles up between scrapes).
    Histogram(Mutex<Distribution>),
    /// Over another recorder: its handle.
    Inner(Handle),
}

/// A handle of any kind.
#[derive(Clone)]
pub(crate) enum Handle {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

/// One label set of one metric.
pub(crate) struct Series {
    pub(crate) storage: Storage,
    flags: AtomicU8,
    /// When a sweep last found it touched (ms by the guard's clock).
    seen_ms: AtomicU64,
    /// The normalized key (for reports and label value reclaim).
    pub(crate) key: Key,
    /// The labels as rendered (`k="v",...`, global labels included), when
    /// that differs from `identity`.
    text: Option<Box<str>>,
    /// The sorted label text: its identity in its metric's table (which
    /// shares it as its key).
    pub(crate) identity: Arc<str>,
    /// The metric's overflow series.
    pub(crate) overflow: bool,
    /// Holds reserved budget (in shadow mode, only where enforce would have
    /// admitted it). Read and written under the metric's lock.
    pub(crate) reserved: AtomicBool,
    /// In shadow mode: the reasons enforce would have folded it for,
    /// counted again at every registration.
    pub(crate) shadow_reasons: u8,
    me: Weak<Series>,
    owner: Weak<dyn Revive>,
    redirect: OnceLock<Option<Arc<Series>>>,
}

/// What a new series is made of.
pub(crate) struct SeriesParts {
    pub(crate) storage: Storage,
    pub(crate) key: Key,
    pub(crate) text: Option<Box<str>>,
    pub(crate) identity: Arc<str>,
    pub(crate) overflow: bool,
    pub(crate) shadow_reasons: u8,
    pub(crate) now_ms: u64,
}

impl Series {
    pub(crate) fn new(parts: SeriesParts, owner: Weak<dyn Revive>) -> Arc<Series> {
        Arc::new_cyclic(|me| Series {
            storage: parts.storage,
            flags: AtomicU8::new(ACTIVE),
            seen_ms: AtomicU64::new(parts.now_ms),
            key: parts.key,
            text: parts.text,
            identity: parts.identity,
            overflow: parts.overflow,
            reserved: AtomicBool::new(false),
            shadow_reasons: parts.shadow_reasons,
            me: me.clone(),
            owner,
            redirect: OnceLock::new(),
        })
    }

    /// The handle user code gets.
    pub(crate) fn counter(self: &Arc<Self>) -> Counter {
        match &self.storage {
            Storage::Inner(Handle::Counter(c)) => c.clone(),
            Storage::Counter(_) => Counter::from_arc(self.clone()),
            _ => Counter::noop(),
        }
    }

    pub(crate) fn gauge(self: &Arc<Self>) -> Gauge {
        match &self.storage {
            Storage::Inner(Handle::Gauge(g)) => g.clone(),
            Storage::Gauge(_) => Gauge::from_arc(self.clone()),
            _ => Gauge::noop(),
        }
    }

    pub(crate) fn histogram(self: &Arc<Self>) -> Histogram {
        match &self.storage {
            Storage::Inner(Handle::Histogram(h)) => h.clone(),
            Storage::Histogram(_) => Histogram::from_arc(self.clone()),
            _ => Histogram::noop(),
        }
    }

    /// The labels as rendered (`k="v",...`).
    pub(crate) fn text(&self) -> &str {
        self.text.as_deref().unwrap_or(&self.identity)
    }

    pub(crate) fn is_expired(&self) -> bool {
        self.flags.load(Ordering::Acquire) & EXPIRED != 0
    }

    /// After an update: the cold path unless the flags already say it all.
    #[inline]
    fn updated(&self, replay: impl FnOnce(&Series)) {
        if self.flags.load(Ordering::SeqCst) != ACTIVE {
            self.updated_cold(replay);
        }
    }

    #[cold]
    #[inline(never)]
    fn updated_cold(&self, replay: impl FnOnce(&Series)) {
        let before = self.flags.fetch_or(ACTIVE, Ordering::SeqCst);
        if before & (EXPIRED | REDIRECTED) == 0 {
            return;
        }
        let target = match self.redirect.get() {
            Some(target) => target.clone(),
            None => match (self.owner.upgrade(), self.me.upgrade()) {
                (Some(owner), Some(me)) => owner.revive(&me),
                _ => None,
            },
        };
        if let Some(target) = target {
            replay(&target);
        }
    }

    /// Marks it live again (re-admitted after expiring).
    pub(crate) fn revived(&self, now_ms: u64) {
        self.seen_ms.store(now_ms, Ordering::Release);
        self.flags.store(ACTIVE, Ordering::SeqCst);
    }

    /// Where its updates go, once redirected.
    pub(crate) fn redirected(&self) -> Option<Option<Arc<Series>>> {
        self.redirect.get().cloned()
    }

    /// Sends its updates to `target` for good (`None`: drops them).
    pub(crate) fn redirect(&self, target: Option<Arc<Series>>) -> Option<Arc<Series>> {
        let target = self.redirect.get_or_init(|| target).clone();
        self.flags.fetch_or(REDIRECTED, Ordering::SeqCst);
        target
    }

    /// One sweep at `now_ms`: true when the series has been idle for
    /// `timeout_ms` and a render has seen its last update; it is then
    /// marked expired (an update racing this sweep wins, and keeps it).
    pub(crate) fn sweep(&self, now_ms: u64, timeout_ms: u64) -> bool {
        let before = self.flags.fetch_and(!TOUCHED, Ordering::SeqCst);
        if before & TOUCHED != 0 {
            self.seen_ms.store(now_ms, Ordering::Release);
            return false;
        }
        if before & UNSCRAPED != 0
            || now_ms.saturating_sub(self.seen_ms.load(Ordering::Acquire)) < timeout_ms
        {
            return false;
        }
        self.flags
            .compare_exchange(before, before | EXPIRED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// A render is about to read the value: its last update is scraped.
    #[inline]
    pub(crate) fn scraped(&self) {
        if self.flags.load(Ordering::Relaxed) & UNSCRAPED != 0 {
            self.flags.fetch_and(!UNSCRAPED, Ordering::SeqCst);
        }
    }

    /// Records `count` samples of `value` into its distribution.
    fn record_into(&self, value: f64, count: usize) {
        let Storage::Histogram(distribution) = &self.storage else {
            return;
        };
        let mut distribution = distribution.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *distribution {
            Distribution::Histogram(histogram) => {
                for _ in 0..count {
                    histogram.record(value);
                }
            }
            Distribution::Summary(rolling, _, sum) => {
                let now = quanta::Instant::now();
                for _ in 0..count {
                    rolling.add(value, now);
                    *sum += value;
                }
            }
            // Never created by the guard (the text format can't render them).
            Distribution::NativeHistogram(_) => {}
        }
    }
}

fn add_f64(bits: &AtomicU64, delta: f64) {
    let _ = bits.fetch_update(Ordering::SeqCst, Ordering::Relaxed, |old| {
        Some((f64::from_bits(old) + delta).to_bits())
    });
}

impl CounterFn for Series {
    fn increment(&self, value: u64) {
        if let Storage::Counter(v) = &self.storage {
            v.fetch_add(value, Ordering::SeqCst);
        }
        self.updated(|target| CounterFn::increment(target, value));
    }

    fn absolute(&self, value: u64) {
        if let Storage::Counter(v) = &self.storage {
            v.fetch_max(value, Ordering::SeqCst);
        }
        self.updated(|target| target.absolute(value));
    }
}

impl GaugeFn for Series {
    fn increment(&self, value: f64) {
        if let Storage::Gauge(v) = &self.storage {
            add_f64(v, value);
        }
        self.updated(|target| GaugeFn::increment(target, value));
    }

    fn decrement(&self, value: f64) {
        if let Storage::Gauge(v) = &self.storage {
            add_f64(v, -value);
        }
        self.updated(|target| GaugeFn::decrement(target, value));
    }

    fn set(&self, value: f64) {
        if let Storage::Gauge(v) = &self.storage {
            v.swap(value.to_bits(), Ordering::SeqCst);
        }
        self.updated(|target| target.set(value));
    }
}

impl HistogramFn for Series {
    fn record(&self, value: f64) {
        self.record_into(value, 1);
        self.updated(|target| target.record(value));
    }

    fn record_many(&self, value: f64, count: usize) {
        self.record_into(value, count);
        self.updated(|target| target.record_many(value, count));
    }
}
