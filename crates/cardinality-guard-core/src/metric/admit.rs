//! Admission of a new label set into its metric, top to bottom:
//!
//! 0. **bounds**: a label set with more than `max_labels` labels is folded
//!    whole (one comparison: no work per label);
//! 1. **labels**: as they render (reserved and over-long keys removed,
//!    over-long values replaced, empty values absent);
//! 2. **label limits**: a value beyond its label's limit becomes `__overflow__`;
//! 3. **budgets**: a closed budget folds at once, without a lock (unless the
//!    label set is one the metric holds, reached through another spelling);
//! 4. **storage**: under the table's lock, the label set is found, admitted
//!    into a series of its own, folded into the overflow series, or dropped.
//!
//! Only admitted label sets are stored, so a flood of rejected ones costs
//! no memory: they find the metric closed (a lock-free check) again.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use metrics::{Key, Label};

use super::{Metric, Table};
use crate::config::OnOverflow;
use crate::normalize::LabelRules;
use crate::rank::rank;
use crate::series::identity::{sorted, GlobalLabels, Identity};
use crate::series::lookup::Vacancy;
use crate::series::{Series, SeriesParts};
use crate::vocabulary::{OverflowReason, Reasons, OVERFLOW_LABEL};

/// What [`Metric::place_locked`] is given besides the identity.
#[derive(Default)]
pub(super) struct Admission<'k> {
    /// The key the identity is of, when the caller has it.
    pub(super) key: Option<&'k Key>,
    /// In shadow mode: the label set enforce would have made of it.
    pub(super) rewritten: Option<&'k Key>,
    /// Promoted by upkeep (`keep = "busiest"`): the score it starts with.
    pub(super) promoted: Option<u32>,
}

/// Where a registration goes.
pub(crate) enum Placed {
    /// A series of its own (admitted now or before).
    Series(Arc<Series>),
    /// Folded into the overflow series, or dropped (`None`).
    Folded(Option<Arc<Series>>),
    /// A reload changed the metric's settings since the registration read
    /// them: decide again.
    Stale,
}

impl Metric {
    /// The series a registration of `key` goes to (`None`: dropped), for a
    /// key the lookup missed (`admissions` as read before that lookup).
    /// Decided wholly under one generation of the metric's settings: a
    /// reload in between makes it decide again.
    pub(crate) fn admit(&self, key: &Key, admissions: u64) -> Option<Arc<Series>> {
        loop {
            if let Some(placed) = self.try_admit(key, admissions) {
                return placed;
            }
        }
    }

    /// [`admit`](Self::admit) under the settings of one generation: `None`
    /// when a reload changed them meanwhile.
    fn try_admit(&self, key: &Key, admissions: u64) -> Option<Option<Arc<Series>>> {
        let generation = self.generation.load(Ordering::Acquire);
        let mut reasons = Reasons::default();
        let bounds = &self.env.bounds;
        // 0. Too many labels: folded whole, before any work per label (in
        // shadow mode too: memory is bounded whatever the mode).
        if key.labels().len() > bounds.labels() {
            reasons.add(OverflowReason::TooManyLabels);
            self.count(reasons);
            return Some(self.fold_target());
        }
        // 1. The labels, as they render.
        let rules = LabelRules {
            own_key: self.own_key,
            max_key_length: bounds.key_length(),
            max_value_length: bounds.value_length(),
        };
        let (normalized, changes) = rules.apply(key, &self.name);
        if changes.invalid {
            reasons.add(OverflowReason::Invalid);
        }
        if changes.too_long {
            reasons.add(OverflowReason::ValueTooLong);
        }
        // 2. Label limits.
        let rewritten = self.labels.apply(&normalized, &self.name, &*self.env.store);
        let enforces = self.enforces();
        let mut placed_key = &*normalized;
        if let Some(rewritten) = &rewritten {
            reasons.add(OverflowReason::LabelLimit);
            if enforces {
                placed_key = rewritten;
            }
        }
        let would_be = rewritten.as_ref().filter(|_| !enforces);
        // 3. A closed budget (or, under `keep = "consistent"`, a rank above
        // the threshold) folds without a lock or an allocation, unless the
        // label set is one the metric holds, or one upkeep promoted.
        let mut promoted = None;
        let outranked = self.outranked(placed_key); // counts the demand too
        if let Some(reason) = self.closed().or(outranked) {
            promoted = self.promoted(placed_key);
            if promoted.is_none() && names_no_global(placed_key, &self.env.global_labels) {
                // Look again unless it is the key just missed and nothing
                // was admitted since (anywhere): a racing admission is seen.
                let missed = std::ptr::eq(placed_key, key)
                    && self.env.admissions.load(Ordering::Acquire) == admissions;
                let found = (!missed)
                    .then(|| self.env.lookup(self.flavor).get(placed_key))
                    .flatten();
                if let Some(series) = found {
                    self.count(reasons);
                    return Some(Some(series));
                }
                if self.generation.load(Ordering::Acquire) != generation {
                    return None; // reloaded meanwhile
                }
                reasons.add(reason);
                self.count(reasons);
                if let Some(busiest) = self.busiest() {
                    busiest.observe(placed_key.get_hash());
                }
                return Some(self.fold_target());
            }
        }
        // 4. Storage.
        match self.place(placed_key, would_be, reasons, generation, promoted) {
            Placed::Series(series) => {
                // The spelling user code used, only when nothing was
                // changed or counted, so what is counted is counted at
                // every registration.
                if series.shadow_reasons.is_empty() && reasons.is_empty() && !series.is_key(key) {
                    self.env.lookup(self.flavor).remember(key, &series, bounds);
                }
                Some(Some(series))
            }
            Placed::Folded(target) => Some(target),
            Placed::Stale => None,
        }
    }

    /// Whether the metric enforces and its budget is closed: a label set
    /// it does not hold yet is folded (or dropped), for this reason.
    pub(crate) fn closed(&self) -> Option<OverflowReason> {
        self.budget.closed().filter(|_| self.enforces())
    }

    /// Under `keep = "consistent"` (enforcing): counts `key` into the
    /// demand, and folds it when its rank is above the threshold.
    fn outranked(&self, key: &Key) -> Option<OverflowReason> {
        let consistent = self.consistent().filter(|_| self.enforces())?;
        let rank = rank(key.labels().map(|l| (l.key(), l.value())));
        let room = self.budget.label_sets_allowed();
        (!consistent.admits(rank, room)).then_some(OverflowReason::SeriesLimit)
    }

    /// Under `keep = "busiest"`: whether upkeep promoted `key`'s label
    /// set (the score its series starts with).
    fn promoted(&self, key: &Key) -> Option<u32> {
        self.busiest()?.take_promotion(key.get_hash())
    }

    /// Storage for a normalized `key` (in enforce mode already rewritten
    /// by the label limits): the series it goes to. `reasons` already
    /// holds what normalizing and the label limits did; every reason is
    /// counted once the lock is released. In shadow mode, `rewritten` is
    /// the label set enforce would have made of `key`.
    fn place(
        &self,
        key: &Key,
        rewritten: Option<&Key>,
        mut reasons: Reasons,
        generation: u64,
        promoted: Option<u32>,
    ) -> Placed {
        let identity = Identity::of(key, &self.env.global_labels);
        let placed = {
            let mut table = self.lock();
            if self.generation.load(Ordering::Acquire) != generation {
                return Placed::Stale;
            }
            let admission = Admission {
                key: Some(key),
                rewritten,
                promoted,
            };
            self.place_locked(&mut table, identity, admission, &mut reasons)
        };
        self.count(reasons);
        placed
    }

    /// [`place`](Self::place) under the table's lock.
    pub(super) fn place_locked(
        &self,
        table: &mut Table,
        identity: Identity,
        admission: Admission<'_>,
        reasons: &mut Reasons,
    ) -> Placed {
        let Admission {
            key,
            rewritten,
            promoted,
        } = admission;
        let lookup = self.env.lookup(self.flavor);
        let vacancy = match lookup.find_or_vacancy(identity.hash, &self.family, &identity.text) {
            Ok(series) => {
                // Another spelling, or a race; in shadow mode, counted again.
                if !self.enforces() {
                    reasons.merge(series.shadow_reasons);
                }
                return Placed::Series(series);
            }
            Err(vacancy) => vacancy,
        };
        if self.enforces() {
            // A label set evicted comes back only after a render showed it
            // absent (Prometheus sees one series end and another start).
            let decided = if self.evicted_unrendered(identity.hash) {
                Err(OverflowReason::SeriesLimit)
            } else if promoted.is_some() {
                self.budget.decide_promoted(&self.env.global)
            } else {
                self.budget.decide(&self.env.global)
            };
            return match decided {
                Ok(()) => {
                    let series =
                        self.insert(table, vacancy, identity, key, true, Reasons::default());
                    series
                        .activity
                        .score
                        .store(promoted.unwrap_or(0), Ordering::Relaxed);
                    Placed::Series(series)
                }
                Err(reason) => {
                    reasons.add(reason);
                    if let (Some(busiest), Some(key)) = (self.busiest(), key) {
                        busiest.observe(key.get_hash());
                    }
                    Placed::Folded(self.fold_target_locked(table))
                }
            };
        }
        // Shadow mode stores every label set, and counts what enforce would
        // have done with the label set it would have made of it.
        let mut decide = || match self.budget.decide(&self.env.global) {
            Ok(()) => true,
            Err(reason) => {
                reasons.add(reason);
                false
            }
        };
        let reserved = match rewritten {
            None => decide(),
            Some(rewritten) => {
                let would = Identity::of(rewritten, &GlobalLabels::default());
                let would = sorted(&would.text).into_owned();
                let mut admitted = self
                    .shadow_admitted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if !admitted.contains(&would) && decide() {
                    admitted.insert(would);
                }
                false // the reservation is the rewritten label set's
            }
        };
        let shadow = reasons.folding();
        Placed::Series(self.insert(table, vacancy, identity, key, reserved, shadow))
    }

    /// A new series in the table, accounted; listed in the lookup unless
    /// shadow mode counts it again at every registration.
    fn insert(
        &self,
        table: &mut Table,
        vacancy: Vacancy<'_>,
        identity: Identity,
        key: Option<&Key>,
        reserved: bool,
        shadow: Reasons,
    ) -> Arc<Series> {
        let series = self.new_series(identity, false, shadow, key);
        series.reserved.store(reserved, Ordering::Relaxed);
        let upkeep = self.upkeeps.load(Ordering::Relaxed);
        (series.activity.since).store(upkeep as u32, Ordering::Relaxed);
        self.push(table, &series);
        vacancy.fill(&series);
        if shadow.is_empty() {
            self.env.lookup(self.flavor).list(&series, key);
        }
        self.env.admissions.fetch_add(1, Ordering::Release);
        self.added(false);
        series
    }

    fn new_series(
        &self,
        identity: Identity,
        overflow: bool,
        shadow: Reasons,
        key: Option<&Key>,
    ) -> Arc<Series> {
        // Over another recorder, the key it registers: its labels sorted.
        let inner_key = || {
            let mut labels: Vec<Label> = match key {
                Some(key) => key.labels().cloned().collect(),
                None => crate::series::identity::parse(&identity.text)
                    .map(|(k, v)| Label::new(k.to_owned(), v.into_owned()))
                    .collect(),
            };
            labels.sort_by(|a, b| a.key().cmp(b.key()));
            Key::from_parts(self.name.clone(), labels)
        };
        let storage = match self.flavor.storage(self.family.texts.len()) {
            Some(ingested) => ingested,
            None => (self.env.store).storage(self.kind, &inner_key, self.histogram.as_ref()),
        };
        let parts = SeriesParts {
            storage,
            hash: identity.hash,
            text: identity.text,
            plain: identity.plain,
            in_order: identity.in_order,
            overflow,
            shadow_reasons: shadow,
        };
        Series::new(parts, self.family.clone())
    }

    /// The overflow series, created (or brought back) if needed; `None`
    /// under `drop`, or when the overflow series has no room.
    pub(crate) fn fold_target(&self) -> Option<Arc<Series>> {
        if let Some(series) = self.overflow.get() {
            if self.counts.overflow_live.load(Ordering::Acquire) {
                return Some(series.clone()); // live: no lock needed
            }
        }
        self.fold_target_locked(&mut self.lock())
    }

    pub(super) fn fold_target_locked(&self, table: &mut Table) -> Option<Arc<Series>> {
        if self.policy().on_overflow == OnOverflow::Drop || !self.budget.overflow_room() {
            return None;
        }
        let series = self.overflow.get_or_init(|| {
            let key = Key::from_parts(self.name.clone(), vec![Label::new(OVERFLOW_LABEL, "true")]);
            let identity = Identity::of(&key, &self.env.global_labels);
            self.new_series(identity, true, Reasons::default(), Some(&key))
        });
        if !self.counts.overflow_live.load(Ordering::Acquire) {
            // Its first fold, or its first since it expired (its room stays reserved).
            self.push(table, series);
            series.revived(self.env.time.now_ms());
            self.added(true);
        }
        Some(series.clone())
    }
}

/// Whether no label of `key` names a global label: a lookup of `key` then
/// finds its label set, whatever the spelling's order.
fn names_no_global(key: &Key, global: &GlobalLabels) -> bool {
    global.pairs.is_empty()
        || key
            .labels()
            .all(|l| global.pairs.iter().all(|(k, _)| k != l.key()))
}
