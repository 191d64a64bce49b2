//! What to do about one metric, in one line, chosen from its report: raise
//! its budget, limit the label that explodes, or remove a label whose demand
//! dwarfs everything; and a complete suggested `guard.toml` that does it for
//! every metric ([`SuggestedConfig`]). A metric comfortably within its
//! budget gets no recommendation (`None`): nothing to do.
//!
//! The rules, in order, for a metric whose budget is `max_series` and whose
//! label sets each cost `c` series (1, buckets + 3 or quantiles + 2):
//!
//! 1. **Nothing to do** when the demand (label sets × `c`) is at most
//!    [`Recommendation::COMFORTABLE_UTILIZATION`] (80%) of `max_series`.
//! 2. **Remove the label** when the label with the highest demand explodes
//!    (at least 10 times the next label's demand, or 10 values when it is
//!    the only label) and alone would need 10 times the budget. Until the
//!    code stops recording it, the guard folds it:
//!    `label_limits = { label = 1 }` (or the number of its pinned values).
//! 3. **Raise `max_series`** when the demand is at most twice the budget:
//!    bounded and close.
//! 4. **Add `label_limits`** for the label with the highest demand when it
//!    explodes: its limit is what the current budget can hold with the
//!    other labels' combinations kept (with the headroom below).
//! 5. Otherwise **raise `max_series`** to the demand (the labels look
//!    bounded, just large).
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
mod suggested;
mod tables;
mod toml;

pub use observation::{Observation, ObservedLabel};
pub use recommendation::{Action, Recommendation};
pub use suggested::SuggestedConfig;
pub use tables::{SuggestedGlobal, SuggestedHistograms, SuggestedPolicy};
