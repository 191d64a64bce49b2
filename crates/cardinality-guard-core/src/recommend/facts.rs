//! The figures the rules read of an [`Observation`]: the demand in label
//! sets and series, the labels with their running limits, the updates.

use super::observation::Observation;
use crate::config::{Mode, OnOverflow};

/// Budgets recommended are the expected label sets times this (rounded up):
/// room for a quarter more than observed, and for the error of the demand
/// estimates. A label limit raised to fit its demand is its demand times
/// this too.
pub(crate) const HEADROOM: f64 = 1.25;

/// One label as the rules read it.
pub(super) struct Label {
    pub(super) name: String,
    /// Estimated distinct values seen (folded ones included).
    pub(super) demand: u64,
    pub(super) pinned: u64,
    /// Its running label limit.
    pub(super) limit: Option<u64>,
    /// Updates its `__overflow__` label sets carry.
    pub(super) folded_updates: Option<u64>,
}

impl Label {
    /// Distinct values its stored label sets can hold in enforce mode: its
    /// demand, or under a limit it exceeds, the limit plus `__overflow__`.
    pub(super) fn values(&self) -> u64 {
        match self.limit {
            Some(limit) if self.demand > limit => limit.saturating_add(1),
            _ => self.demand.max(1),
        }
    }

    /// Its running limit, if its demand exceeds it: the limit folds values.
    pub(super) fn folding_limit(&self) -> Option<u64> {
        self.limit.filter(|&limit| self.demand > limit)
    }

    /// The limit that fits its demand: the demand × [`HEADROOM`], rounded
    /// up, and above the running limit.
    pub(super) fn fitting_limit(&self) -> u64 {
        let fit = (self.demand as f64 * HEADROOM).ceil() as u64;
        fit.max(self.limit.map_or(1, |l| l.saturating_add(1)))
    }
}

/// The figures the rules read.
pub(super) struct Facts {
    pub(super) cost: u64,
    pub(super) limit: u64,
    /// The overflow series' room, in label sets (1 in fold mode, else 0).
    pub(super) reserve: u64,
    /// Shadow mode: every label set observed is stored, running label
    /// limits rewrote nothing.
    pub(super) shadow: bool,
    /// Distinct label sets demanded (exact in shadow mode; in enforce mode
    /// within what the running label limits let through).
    pub(super) label_sets: u64,
    /// Series they need: `label_sets × cost`.
    pub(super) need: u64,
    /// The metric's updates, when known and not zero.
    pub(super) updates: Option<u64>,
    /// The tracked labels, highest demand first.
    pub(super) labels: Vec<Label>,
}

impl Facts {
    pub(super) fn of(m: &Observation) -> Facts {
        let cost = m.series_per_label_set.max(1);
        let mut labels: Vec<Label> = m
            .labels
            .iter()
            .map(|l| Label {
                name: l.name.clone(),
                demand: l.demand,
                pinned: l.pinned,
                limit: l.limit,
                folded_updates: l.folded_updates,
            })
            .collect();
        labels.sort_by(|a, b| b.demand.cmp(&a.demand).then_with(|| a.name.cmp(&b.name)));
        let shadow = m.mode == Mode::Shadow;
        let folded = m.folded;
        let label_sets = if shadow || folded == 0 {
            m.label_sets
        } else {
            // What the labels (within their running limits) can combine to.
            let product = labels
                .iter()
                .fold(1u64, |p, l| p.saturating_mul(l.values()));
            m.label_sets
                .saturating_add(folded)
                .min(product)
                .max(m.label_sets)
        };
        Facts {
            cost,
            limit: m.limit,
            reserve: u64::from(m.on_overflow == OnOverflow::Fold),
            shadow,
            label_sets,
            need: label_sets.saturating_mul(cost),
            updates: m.updates.filter(|&u| u > 0),
            labels,
        }
    }

    /// Values of `label` the stored label sets are expected to combine
    /// with: in shadow mode its demand (the rules raise a running limit it
    /// exceeds), in enforce mode what its running limit lets through.
    fn values_of(&self, label: &Label) -> u64 {
        match self.shadow {
            true => label.demand.max(1),
            false => label.values(),
        }
    }

    /// Distinct combinations of the labels other than `name` (an upper
    /// estimate, at most the label sets demanded).
    pub(super) fn others(&self, name: &str) -> u64 {
        self.labels
            .iter()
            .filter(|l| l.name != name)
            .fold(1u64, |p, l| p.saturating_mul(self.values_of(l)))
            .min(self.label_sets)
            .max(1)
    }

    /// Distinct values of `label` per update of the metric, if the updates
    /// are known: near 1 for an id (each value seen about once).
    pub(super) fn values_per_update(&self, label: &Label) -> Option<f64> {
        self.updates.map(|u| label.demand as f64 / u as f64)
    }

    /// The label limit the advice gives `label`: `named`'s when it names
    /// it; in shadow mode, where a running limit it exceeds would fold
    /// values the advice counts on, the [fitting](Label::fitting_limit)
    /// one; else its running limit.
    pub(super) fn advised_limit(&self, label: &Label, named: Option<(&str, u64)>) -> Option<u64> {
        match named {
            Some((name, limit)) if name == label.name => Some(limit),
            _ if self.shadow && label.folding_limit().is_some() => Some(label.fitting_limit()),
            _ => label.limit,
        }
    }

    /// The label sets the advised label limits allow at most (each label
    /// its limit's values and `__overflow__`), when every label has one;
    /// `None`: a label without a limit leaves them unbounded.
    pub(super) fn cap(&self, named: Option<(&str, u64)>) -> Option<u64> {
        self.labels.iter().try_fold(1u64, |p, l| {
            let limit = self.advised_limit(l, named)?;
            Some(p.saturating_mul(limit.saturating_add(1)))
        })
    }

    /// The budget for `label_sets` expected label sets: with headroom, plus
    /// the overflow series' room, in series; never beyond what the advised
    /// label limits (`named` among them) let the metric hold.
    pub(super) fn budget_for(&self, label_sets: u64, named: Option<(&str, u64)>) -> u64 {
        let sets = (label_sets as f64 * HEADROOM).ceil() as u64;
        let sets = self
            .cap(named)
            .map_or(sets, |cap| sets.min(cap.max(label_sets)));
        self.series_for(sets)
    }

    /// `label_sets` plus the overflow series' room, in series.
    pub(super) fn series_for(&self, label_sets: u64) -> u64 {
        label_sets
            .saturating_add(self.reserve)
            .saturating_mul(self.cost)
            .max(self.cost)
    }
}
