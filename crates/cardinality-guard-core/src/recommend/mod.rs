//! What to do about one metric, in one line, chosen from its report: raise
//! its budget, limit the label that explodes, or remove a label whose demand
//! dwarfs everything; and a complete suggested `guard.toml` that does it for
//! every metric ([`SuggestedConfig`]). A metric comfortably within its
//! budget gets no recommendation (`None`): nothing to do.
//!
//! The rules, in order, for a metric whose budget is `max_series` and whose
//! label sets each cost `c` series (1, buckets + 3 or quantiles + 2):
//!
//! 1. **A label limit that folds most of the updates** is the problem,
//!    however comfortable the budget: when the label sets whose value of a
//!    label is `__overflow__` carry more than
//!    [`Recommendation::FOLDING_SHARE`] (50%) of the metric's updates, the
//!    label is to be removed if it is an id (rule 3's test; unless its
//!    limit already folds it as the removal would meanwhile); else, when the
//!    budget holds the label sets its limit raised to fit its demand
//!    (demand × 1.25, rounded up) lets through, that limit is advised
//!    (`limit_label` naming it). When the budget does not hold them, the
//!    limit is what the budget affords (rule 6 advises such limits), and
//!    the rules below decide: a suggestion applied to the same workload
//!    asks for nothing more.
//! 2. **Nothing to do** when the demand (label sets × `c`) is at most
//!    [`Recommendation::COMFORTABLE_UTILIZATION`] (80%) of `max_series`.
//! 3. **Remove an id**: a label whose demand alone (values × `c`) is beyond
//!    what the budget comfortably holds, and whose distinct values per
//!    update of the metric exceed [`Recommendation::ID_VALUES_PER_UPDATE`]
//!    (0.6: on average each value seen fewer than 1.7 times), is an id, not
//!    a dimension: `remove_label` at any multiple of the budget, with the
//!    measured ratio in the text. Updates are counter values (or histogram
//!    counts): without them (a gauge, an audit that could not read them)
//!    no label is called an id.
//! 4. **Remove the label** when the label with the highest demand explodes
//!    (at least 10 times the next label's demand, or 10 values when it is
//!    the only label) and alone would need 10 times the budget. Until the
//!    code stops recording it, the guard folds it:
//!    `label_limits = { label = 1 }` (or the number of its pinned values).
//! 5. **Raise `max_series`** when the demand is at most twice the budget:
//!    bounded and close.
//! 6. **Add `label_limits`** for the label with the highest demand when it
//!    explodes: its limit is what the current budget can hold with the
//!    other labels' combinations kept (with the headroom below). This is a
//!    guess from the demand alone: once enforced, rule 1 measures what the
//!    limit folds, and reports it if that is most of the updates.
//! 7. Otherwise **raise `max_series`** to the demand (the labels look
//!    bounded, just large).
//!
//! Then `keep = "busiest"` is advised too when the metric folds under
//! `keep = "first"` and its admitted series carry less than half of its
//! recent traffic (never with an id's removal: busiest cannot help ids).
//!
//! **A suggestion never contradicts itself.** Every recommendation carries
//! the label limits it holds the metric to
//! ([`Recommendation::label_limits`]: the running ones, the one its action
//! sets), and the suggested `guard.toml` writes exactly those. In enforce
//! mode the demand is counted within the running label limits (a label
//! folded by its limit has its limit's values plus `__overflow__`). In
//! shadow mode, which stores every label set, a running limit the observed
//! values exceed would fold what the advice counts on: it is raised to fit
//! them (demand × 1.25), a `raise_max_series` then becomes `limit_label`
//! naming it (the text says both), and a further one is said in the text.
//! When every label has a limit, a raised `max_series` is never more than
//! they let the metric hold (the product of each limit + 1 label sets,
//! plus the overflow series), and they let through the label sets the
//! advice expects.
//!
//! Every budget recommended counts series as the guard does: the expected
//! label sets times 1.25 (rounded up: room for a quarter more than
//! observed, and for the error of the demand estimates), plus one for the
//! overflow series the guard reserves in fold mode, times `c`.
//!
//! The demand in label sets is exact in shadow mode, which admits every label
//! set. In enforce mode the folded ones are not stored: the demand is then an
//! upper estimate, the admitted label sets plus the folded registrations, at
//! most the product of the labels' demands. Label demands are HyperLogLog
//! estimates (nearly exact below a few hundred values, about 2% off above).

mod facts;
mod learned;
mod observation;
mod recommendation;
mod rules;
mod running;
mod suggested;
mod tables;
mod toml;

pub use observation::{Observation, ObservedLabel};
pub use recommendation::{Action, Recommendation};
pub use suggested::SuggestedConfig;
pub use tables::{SuggestedGlobal, SuggestedHistograms, SuggestedPolicy};
