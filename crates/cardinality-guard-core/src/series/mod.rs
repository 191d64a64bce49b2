//! One admitted label set: its value, its label text, and the handle user
//! code updates.
//!
//! A series is one allocation laid out for the hot path: its storage (an
//! atomic, or a boxed distribution), its flags, the hash of its key, its
//! labels as they render (the one copy the guard keeps: the lookup, the
//! report and the render all read it), and a pointer to its [`Family`].
//!
//! Every update of a guard-stored series does its work, then one load of
//! `flags`. While the flags read `ACTIVE` (updated since the last sweep, and
//! since the last render) nothing else happens. Otherwise the cold path sets
//! them, and, when the series has expired or been folded away meanwhile,
//! brings it back through its metric ([`Revive`]) and replays the update
//! where it now belongs: a held handle never loses data.

pub(crate) mod identity;
mod ingested;
pub(crate) mod lookup;
mod storage;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use metrics::{Counter, Gauge, Histogram, Key, Label};

use crate::vocabulary::Reasons;
use identity::GlobalLabels;
pub(crate) use ingested::{BucketValues, SummaryValues};
pub(crate) use storage::{Handle, Storage};

/// Updated since the last sweep.
const TOUCHED: u8 = 1;
/// Updated since the last render (a scrape has not seen the last update).
const UNSCRAPED: u8 = 2;
/// Expired: no longer in its metric's table.
const EXPIRED: u8 = 4;
/// Folded (or dropped) for good after expiring: updates go to `redirect`.
const REDIRECTED: u8 = 8;
/// Evicted (re-decided away, not idle): never brought back as it was.
const EVICTED: u8 = 16;
const ACTIVE: u8 = TOUCHED | UNSCRAPED;

/// Brings an expired series back: implemented by its metric.
pub(crate) trait Revive: Send + Sync {
    /// Re-admits `series` if there is room (`None`: it is live again, the
    /// update already in it), else redirects it for good and returns where
    /// its updates go now (`None` as well when they are dropped). An
    /// evicted series no render has shown absent yet is neither: the
    /// update goes to the overflow series, and the next one asks again.
    fn revive(&self, series: &Arc<Series>) -> Option<Arc<Series>>;
}

/// What upkeep measures of a series, read and written under its metric's
/// lock (atomics only so a series stays `Sync`).
#[derive(Default)]
pub(crate) struct Activity {
    /// Its [`level`](Series::level) at the last upkeep.
    pub(crate) level: AtomicU64,
    /// Its recent activity: updates per upkeep, decayed by an eighth at
    /// each (`keep = "busiest"`).
    pub(crate) score: AtomicU32,
    /// The upkeep it was admitted at (the residence before it may be
    /// outranked).
    pub(crate) since: AtomicU32,
}

/// What the series of one metric share.
pub(crate) struct Family {
    /// The metric's name, as it renders.
    pub(crate) name: String,
    /// The guard's global labels, whose text starts every plain series' text.
    pub(crate) global: Arc<GlobalLabels>,
    /// An ingested histogram's `le` texts, or an ingested summary's
    /// `quantile` texts, as the upstream wrote them (else empty).
    pub(crate) texts: Box<[Box<str>]>,
    owner: Weak<dyn Revive>,
}

impl Family {
    pub(crate) fn new(
        name: String,
        global: Arc<GlobalLabels>,
        texts: Box<[Box<str>]>,
        owner: Weak<dyn Revive>,
    ) -> Family {
        Family {
            name,
            global,
            texts,
            owner,
        }
    }
}

/// One label set of one metric.
pub(crate) struct Series {
    pub(crate) storage: Storage,
    flags: AtomicU8,
    /// The metric's overflow series.
    pub(crate) overflow: bool,
    /// Its text is the global labels' text, then its key's labels.
    plain: bool,
    /// Its labels are in the order of their keys: its text is its render
    /// order's sort key as it is.
    in_order: bool,
    /// In shadow mode: the reasons enforce would have folded it for,
    /// counted again at every registration.
    pub(crate) shadow_reasons: Reasons,
    /// Holds reserved budget (in shadow mode, only where enforce would have
    /// admitted it). Read and written under the metric's lock.
    pub(crate) reserved: AtomicBool,
    /// Whether a registration of its key finds it without its metric (not
    /// in shadow mode while enforce would fold it: those are counted again).
    pub(crate) listed: AtomicBool,
    /// Upkeep evicts it, but an update no render has shown yet kept it: the
    /// next render shows its last value and evicts it at once.
    pub(crate) retiring: AtomicBool,
    /// When a sweep last found it touched (ms by the guard's clock).
    seen_ms: AtomicU64,
    /// What upkeep measures of it (`keep = "busiest"`, the traffic share).
    pub(crate) activity: Activity,
    /// The hash of its canonical key: where the lookup keeps it.
    pub(crate) hash: u64,
    /// Its labels as rendered (`k="v",...`, global labels included).
    text: Box<str>,
    pub(crate) family: Arc<Family>,
    me: Weak<Series>,
    redirect: OnceLock<Option<Arc<Series>>>,
}

/// What a new series is made of.
pub(crate) struct SeriesParts {
    pub(crate) storage: Storage,
    pub(crate) hash: u64,
    pub(crate) text: String,
    pub(crate) plain: bool,
    pub(crate) in_order: bool,
    pub(crate) overflow: bool,
    pub(crate) shadow_reasons: Reasons,
}

impl Series {
    pub(crate) fn new(parts: SeriesParts, family: Arc<Family>) -> Arc<Series> {
        Arc::new_cyclic(|me| Series {
            storage: parts.storage,
            flags: AtomicU8::new(ACTIVE),
            overflow: parts.overflow,
            plain: parts.plain,
            in_order: parts.in_order,
            shadow_reasons: parts.shadow_reasons,
            reserved: AtomicBool::new(false),
            listed: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            // New series are touched: the first sweep sets it.
            seen_ms: AtomicU64::new(0),
            activity: Activity::default(),
            hash: parts.hash,
            text: parts.text.into_boxed_str(),
            family,
            me: me.clone(),
            redirect: OnceLock::new(),
        })
    }

    /// The handle user code gets.
    pub(crate) fn counter(self: &Arc<Self>) -> Counter {
        match &self.storage {
            Storage::Inner(handle) => handle.counter(),
            Storage::Counter(_) => Counter::from_arc(self.clone()),
            _ => Counter::noop(),
        }
    }

    pub(crate) fn gauge(self: &Arc<Self>) -> Gauge {
        match &self.storage {
            Storage::Inner(handle) => handle.gauge(),
            Storage::Gauge(_) => Gauge::from_arc(self.clone()),
            _ => Gauge::noop(),
        }
    }

    pub(crate) fn histogram(self: &Arc<Self>) -> Histogram {
        match &self.storage {
            Storage::Inner(handle) => handle.histogram(),
            Storage::Histogram(_) => Histogram::from_arc(self.clone()),
            _ => Histogram::noop(),
        }
    }

    /// The labels as rendered (`k="v",...`).
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Its labels sorted, as text: the order series render in (its text
    /// itself, unless its labels were registered out of order).
    pub(crate) fn sort_key(&self) -> Cow<'_, str> {
        match self.in_order {
            true => Cow::Borrowed(&self.text),
            false => identity::sorted(&self.text),
        }
    }

    /// The text of its key's own labels (a plain series' text after the
    /// global labels).
    fn key_text(&self) -> &str {
        let prefix = self.family.global.text.len();
        match (prefix, self.text.len()) {
            (0, _) => &self.text,
            (p, len) if len <= p => "",
            (p, _) => self.text.get(p + 1..).unwrap_or(""),
        }
    }

    /// Whether `key` (as user code spells it) is this series' label set,
    /// by its text alone: only for plain, listed series.
    #[inline]
    pub(crate) fn is_key(&self, key: &Key) -> bool {
        self.plain
            && self.listed.load(Ordering::Relaxed)
            && key.name() == self.family.name
            && identity::matches(key.labels().as_slice(), self.key_text())
    }

    /// Its key's labels (what user code registered, after normalizing and
    /// label limits; a label repeating a global one left out).
    pub(crate) fn labels(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        let (text, global) = match self.plain {
            true => (self.key_text(), None),
            false => (&*self.text, Some(&self.family.global.pairs)),
        };
        // A label repeating a global one (same name, same value) is the
        // global label, not the key's.
        let repeats = move |k: &str, v: &str| {
            global.is_some_and(|pairs| pairs.iter().any(|(gk, gv)| gk == k && gv == v))
        };
        identity::parse(text).filter(move |(k, v)| !repeats(k, v))
    }

    /// Its key, rebuilt from its text (for the cold paths that decide it
    /// again).
    pub(crate) fn key(&self) -> Key {
        let labels: Vec<Label> = self
            .labels()
            .map(|(k, v)| Label::new(k.to_owned(), v.into_owned()))
            .collect();
        Key::from_parts(self.family.name.clone(), labels)
    }

    pub(crate) fn is_expired(&self) -> bool {
        self.flags.load(Ordering::Acquire) & EXPIRED != 0
    }

    /// Whether it was evicted (not only expired).
    pub(crate) fn is_evicted(&self) -> bool {
        self.flags.load(Ordering::Acquire) & EVICTED != 0
    }

    /// Evicts it unless an update no render has shown yet keeps it (as
    /// idle expiry would): true when it is evicted now. An update racing
    /// the eviction wins, and keeps it.
    pub(crate) fn evict(&self) -> bool {
        let before = self.flags.load(Ordering::SeqCst);
        if before & (UNSCRAPED | EXPIRED) != 0 {
            return false;
        }
        self.flags
            .compare_exchange(
                before,
                before | EXPIRED | EVICTED,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
    }

    /// How much it has counted so far: a counter's value, a histogram's
    /// observations (a gauge: 0; over another recorder: 0); an ingested
    /// counter's value and an ingested histogram's or summary's count,
    /// rounded down.
    pub(crate) fn level(&self) -> u64 {
        match &self.storage {
            Storage::Counter(v) => v.load(Ordering::Acquire),
            Storage::FloatCounter(bits) => {
                ingested::level_of(f64::from_bits(bits.load(Ordering::Acquire)))
            }
            Storage::Buckets(values) => {
                ingested::level_of(values.lock().unwrap_or_else(|p| p.into_inner()).count())
            }
            Storage::Summary(values) => {
                ingested::level_of(values.lock().unwrap_or_else(|p| p.into_inner()).count())
            }
            Storage::Histogram(d) => {
                use metrics_exporter_prometheus::Distribution;
                match &*d.lock().unwrap_or_else(|p| p.into_inner()) {
                    Distribution::Histogram(h) => h.count(),
                    Distribution::Summary(s, _, _) => s.count() as u64,
                    Distribution::NativeHistogram(_) => 0,
                }
            }
            _ => 0,
        }
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
            None => match (self.family.owner.upgrade(), self.me.upgrade()) {
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
}
