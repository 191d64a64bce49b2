//! What one scrape holds: per family its kind, series, label sets and the
//! distinct values of each label.
//!
//! A guarded target's folds are not values: the overflow series
//! (`otel_metric_overflow="true"`) is counted apart (`overflow_series`), not
//! as a label set, and a label value `__overflow__` is not one of the label's
//! distinct values (its label sets are `folded_sets`). The guard's own
//! families (`cardinality_guard_*`) are read into a [`SelfReport`] too.
//!
//! Identities are kept as 64-bit hashes (SipHash with fixed keys), never as
//! text, so a million series cost a few tens of MB; two distinct values
//! collide with a chance of about n²/2⁶⁵ (3·10⁻⁸ for a million).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use cardinality_guard_core::self_report::OVERFLOW_LABEL;
use cardinality_guard_core::text::{Kind, Sample};
use cardinality_guard_core::LABEL_OVERFLOW;

use crate::self_report::{is_self_report, SelfReport};

/// A `HashSet` of values that are hashes already.
pub(crate) type HashIds = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// Passes a `u64` through: the keys are SipHash values already.
#[derive(Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn hasher() -> std::hash::DefaultHasher {
    std::hash::DefaultHasher::new()
}

/// One label of a family.
#[derive(Debug, Default, Clone)]
pub(crate) struct LabelStats {
    /// Hashes of its distinct values.
    pub(crate) values: HashIds,
    /// Distinct label sets that carry it (the others lack it).
    pub(crate) label_sets: u64,
    /// Updates (see [`Family::updates`]) of the series whose value of it is
    /// `__overflow__`.
    pub(crate) folded_updates: f64,
    /// Distinct values starting with `/`: a raw request path.
    pub(crate) paths: u64,
    /// Some label set has `__overflow__` as its value (a label limit folded it).
    pub(crate) folds: bool,
}

/// One metric family.
#[derive(Debug, Clone)]
pub(crate) struct Family {
    /// Its name (the `# TYPE` name, or the sample name when untyped).
    pub(crate) name: String,
    /// Its kind.
    pub(crate) kind: Kind,
    /// Sample lines: the series Prometheus stores for it.
    pub(crate) series: u64,
    /// Distinct label sets, without `le` (histograms) and `quantile` (summaries).
    pub(crate) label_sets: HashIds,
    /// Distinct series identities (sample name + all labels); only kept
    /// when asked ([`Inventory::new`]), for growth.
    pub(crate) series_ids: HashIds,
    /// Per label (`le`/`quantile` of histograms/summaries left out).
    pub(crate) labels: BTreeMap<String, LabelStats>,
    /// Finite `le` bounds seen (histograms), sorted, each once (`-0.0` is `0.0`).
    pub(crate) buckets: BTreeSet<OrderedBound>,
    /// `quantile` values seen (summaries).
    pub(crate) quantiles: BTreeSet<OrderedBound>,
    /// The name metrics-rs would register: for a counter the sample name
    /// without `_created` (`x_total`), otherwise the family name.
    pub(crate) guard_name: Option<String>,
    /// Sample lines of its overflow series (`otel_metric_overflow="true"`).
    pub(crate) overflow_series: u64,
    /// Distinct label sets with a value `__overflow__` (folded by a label limit).
    pub(crate) folded_sets: HashIds,
    /// The sum of its counters' values (or of its histograms' and
    /// summaries' `_count`), over every series, the overflow series
    /// included; `None` for a gauge or untyped family.
    pub(crate) updates: Option<f64>,
    /// The part of `updates` the overflow series carries.
    pub(crate) overflow_updates: f64,
}

/// An `f64` ordered by value (finite numbers only, so the order is total).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OrderedBound(pub f64);

impl Eq for OrderedBound {}

impl PartialOrd for OrderedBound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedBound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Family {
    fn new(name: &str, kind: Kind) -> Family {
        Family {
            name: name.to_owned(),
            kind,
            series: 0,
            label_sets: HashIds::default(),
            series_ids: HashIds::default(),
            labels: BTreeMap::new(),
            buckets: BTreeSet::new(),
            quantiles: BTreeSet::new(),
            guard_name: None,
            overflow_series: 0,
            folded_sets: HashIds::default(),
            updates: matches!(
                kind,
                Kind::Counter | Kind::Histogram | Kind::GaugeHistogram | Kind::Summary
            )
            .then_some(0.0),
            overflow_updates: 0.0,
        }
    }

    /// The updates one of its samples carries: a counter's value (not its
    /// `_created` timestamp), a histogram's or summary's `_count`.
    fn updates_of(&self, sample: &Sample<'_>) -> f64 {
        let counts = match self.kind {
            Kind::Counter => sample.name == self.name || !sample.name.ends_with("_created"),
            Kind::Histogram | Kind::Summary => {
                sample.name.strip_prefix(self.name.as_str()) == Some("_count")
            }
            Kind::GaugeHistogram => sample.name.strip_prefix(self.name.as_str()) == Some("_gcount"),
            _ => false,
        };
        if counts && sample.value.is_finite() && sample.value > 0.0 {
            sample.value
        } else {
            0.0
        }
    }

    /// The label that is not part of the label set for this kind.
    fn shape_label(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Histogram | Kind::GaugeHistogram => Some("le"),
            Kind::Summary => Some("quantile"),
            _ => None,
        }
    }
}

/// One scrape, summed up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inventory {
    /// Families by name.
    pub(crate) families: BTreeMap<String, Family>,
    /// Every sample line.
    pub(crate) total_series: u64,
    /// The guard's self-report, if the target exports one.
    pub(crate) self_report: SelfReport,
    track_series: bool,
}

impl Inventory {
    /// An empty inventory; `track_series` keeps each series' identity (for growth).
    pub(crate) fn new(track_series: bool) -> Inventory {
        Inventory {
            track_series,
            ..Inventory::default()
        }
    }

    /// Counts one sample line.
    pub(crate) fn add(&mut self, sample: &Sample<'_>) {
        self.total_series += 1;
        let family = match self.families.get_mut(sample.family) {
            Some(f) => f,
            None => self
                .families
                .entry(sample.family.to_owned())
                .or_insert_with(|| Family::new(sample.family, sample.kind)),
        };
        family.series += 1;
        if is_self_report(sample.family) {
            self.self_report.add(sample);
        }
        let updates = family.updates_of(sample);
        if let Some(total) = &mut family.updates {
            *total += updates;
        }
        if family.kind == Kind::Counter
            && family.guard_name.is_none()
            && !sample.name.ends_with("_created")
        {
            family.guard_name = Some(sample.name.to_owned());
        }
        let shape = family.shape_label();
        // Prometheus' identity: labels sorted by name, an empty value is no label.
        let mut labels: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (*n, v.as_ref()))
            .collect();
        labels.sort_unstable_by(|a, b| a.0.cmp(b.0));

        if self.track_series {
            let mut h = hasher();
            sample.name.hash(&mut h);
            labels.hash(&mut h);
            family.series_ids.insert(h.finish());
        }
        if sample.label(OVERFLOW_LABEL) == Some("true") {
            // The overflow series: a fold, not a label set.
            family.overflow_series += 1;
            family.overflow_updates += updates;
            return;
        }
        let mut set = hasher();
        let mut shape_value = None;
        for (name, value) in &labels {
            if Some(*name) == shape {
                shape_value = Some(*value);
            } else {
                (name, value).hash(&mut set);
            }
        }
        if let Some(v) = shape_value.and_then(|v| v.parse::<f64>().ok()) {
            if v.is_finite() {
                // `-0.0` and `0.0` are one bound (`total_cmp` tells them apart).
                let v = v + 0.0;
                match family.kind {
                    Kind::Summary => family.quantiles.insert(OrderedBound(v)),
                    _ => family.buckets.insert(OrderedBound(v)),
                };
            }
        }
        let set = set.finish();
        let new_set = family.label_sets.insert(set);
        for (name, value) in labels {
            if Some(name) == shape {
                continue;
            }
            let stats = match family.labels.get_mut(name) {
                Some(s) => s,
                None => family.labels.entry(name.to_owned()).or_default(),
            };
            if new_set {
                stats.label_sets += 1;
            }
            if value == LABEL_OVERFLOW {
                // A fold, not a value.
                stats.folded_updates += updates;
                stats.folds = true;
                family.folded_sets.insert(set);
                continue;
            }
            let mut h = hasher();
            value.hash(&mut h);
            if stats.values.insert(h.finish()) && value.starts_with('/') {
                stats.paths += 1;
            }
        }
    }

    /// Families sorted by series, most first (then by name).
    pub(crate) fn by_series(&self) -> Vec<&Family> {
        let mut out: Vec<&Family> = self.families.values().collect();
        out.sort_by(|a, b| b.series.cmp(&a.series).then_with(|| a.name.cmp(&b.name)));
        out
    }
}
