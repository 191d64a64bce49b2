//! The rules that choose a [`Recommendation`] from what was observed of a
//! metric, and their tuning (the prose: [the module](crate::recommend)).

use super::observation::Observation;
use super::recommendation::{plural, Action, Recommendation};
use crate::config::{Keep, Mode, OnOverflow};

/// A demand up to this many times the budget is "close": raise the budget.
/// Beyond it, a label that explodes is limited instead.
const CLOSE_FACTOR: f64 = 2.0;

/// A label explodes when its demand is at least this many times the demand
/// of every other label of the metric (with one label, at least this many
/// values).
const EXPLODING_RATIO: u64 = 10;

/// An exploding label whose demand alone (values × series per label set) is
/// at least this many times the budget dwarfs everything: remove it.
const DWARFING_FACTOR: f64 = 10.0;

/// Budgets recommended are the expected label sets times this (rounded up):
/// room for a quarter more than observed, and for the error of the demand
/// estimates.
pub(crate) const HEADROOM: f64 = 1.25;

/// A metric that folds, under `keep = "first"`, whose admitted series carry
/// less than this share of its recent traffic is advised `keep = "busiest"`
/// too: the label sets that came first are not the ones that matter.
const BUSIEST_SHARE: f64 = 0.5;

impl Observation {
    /// What to do about the metric; `None` when it is comfortably within
    /// its budget. The rules and their thresholds: [the
    /// module](crate::recommend).
    #[must_use]
    pub fn recommend(&self) -> Option<Recommendation> {
        let advice = self.advise()?;
        let share = self.admitted_share.unwrap_or(1.0);
        if self.keep != Keep::First || self.folded == 0 || share >= BUSIEST_SHARE {
            return Some(advice);
        }
        let text = format!(
            "{}; and keep = \"busiest\": its admitted series carry only {:.0}% of its \
             recent traffic, the rest folds",
            advice.text,
            100.0 * share
        );
        Some(Recommendation {
            keep: Some(Keep::Busiest),
            text,
            ..advice
        })
    }

    fn advise(&self) -> Option<Recommendation> {
        let facts = Facts::of(self);
        let comfortable = Recommendation::COMFORTABLE_UTILIZATION * facts.limit as f64;
        if facts.need as f64 <= comfortable {
            return None;
        }
        if let Some(top) = facts.exploding() {
            if (top.demand.saturating_mul(facts.cost)) as f64
                >= DWARFING_FACTOR * facts.limit as f64
            {
                return Some(facts.remove(top));
            }
            if facts.need as f64 > CLOSE_FACTOR * facts.limit as f64 {
                return Some(facts.limit_label(top));
            }
        }
        Some(facts.raise())
    }
}
/// The figures the rules read.
struct Facts {
    cost: u64,
    limit: u64,
    /// The overflow series' room, in label sets (1 in fold mode, else 0).
    reserve: u64,
    /// Distinct label sets demanded (exact in shadow mode).
    label_sets: u64,
    /// Series they need: `label_sets × cost`.
    need: u64,
    /// (name, demand, pinned) of the tracked labels, highest demand first.
    labels: Vec<(String, u64, u64)>,
}

struct Top<'a> {
    name: &'a str,
    demand: u64,
    pinned: u64,
    /// Distinct combinations of the other labels (an upper estimate).
    others: u64,
}

impl Facts {
    fn of(m: &Observation) -> Facts {
        let cost = m.series_per_label_set.max(1);
        let mut labels: Vec<(String, u64, u64)> = m
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.demand, l.pinned))
            .collect();
        labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let folded = m.folded;
        let label_sets = if m.mode == Mode::Shadow || folded == 0 {
            m.label_sets
        } else {
            let product = labels
                .iter()
                .fold(1u64, |p, l| p.saturating_mul(l.1.max(1)));
            m.label_sets
                .saturating_add(folded)
                .min(product)
                .max(m.label_sets)
        };
        Facts {
            cost,
            limit: m.limit,
            reserve: u64::from(m.on_overflow == OnOverflow::Fold),
            label_sets,
            need: label_sets.saturating_mul(cost),
            labels,
        }
    }

    /// The label with the highest demand, if it explodes.
    fn exploding(&self) -> Option<Top<'_>> {
        let (name, demand, pinned) = self.labels.first()?;
        let next = self.labels.get(1).map_or(1, |l| l.1.max(1));
        if *demand < EXPLODING_RATIO.saturating_mul(next) {
            return None;
        }
        let product = self.labels[1..]
            .iter()
            .fold(1u64, |p, l| p.saturating_mul(l.1.max(1)));
        Some(Top {
            name,
            demand: *demand,
            pinned: *pinned,
            others: product.min(self.label_sets).max(1),
        })
    }

    /// The budget for `label_sets` expected label sets: with headroom, plus
    /// the overflow series' room, in series.
    fn budget_for(&self, label_sets: u64) -> u64 {
        let sets = (label_sets as f64 * HEADROOM).ceil() as u64;
        sets.saturating_add(self.reserve)
            .saturating_mul(self.cost)
            .max(self.cost)
    }

    fn raise(&self) -> Recommendation {
        let max_series = self.budget_for(self.label_sets);
        let times = self.need as f64 / self.limit.max(1) as f64;
        let text = format!(
            "raise max_series to {max_series}: {} label set{} × {} series = {} series demanded \
             ({:.1}× the budget of {})",
            self.label_sets,
            plural(self.label_sets),
            self.cost,
            self.need,
            times,
            self.limit
        );
        Recommendation {
            action: Action::RaiseMaxSeries,
            max_series,
            expected_series: self.need,
            text,
            keep: None,
        }
    }

    fn limit_label(&self, top: Top<'_>) -> Recommendation {
        // What the current budget holds, in label sets, less the overflow
        // series' room; each kept value of the label costs `others` label
        // sets, and so does its `__overflow__` value.
        let room = (self.limit / self.cost).saturating_sub(self.reserve);
        let fit = (room as f64 / (top.others as f64 * HEADROOM)).floor() as u64;
        let limit = fit
            .saturating_sub(1)
            .min(top.demand.saturating_sub(1))
            .max(top.pinned)
            .max(1);
        let sets = self.folded_sets(&top, limit);
        let max_series = self.budget_for(sets).max(self.limit);
        let text = format!(
            "add label_limits = {{ {label} = {limit} }}: {label} explodes (~{demand} values, \
             the other labels {others} combination{s}); folded past {limit} values the metric \
             would hold {expected} series instead of {need}",
            label = top.name,
            demand = top.demand,
            others = top.others,
            s = plural(top.others),
            expected = sets * self.cost,
            need = self.need,
        );
        Recommendation {
            action: Action::LimitLabel {
                label: top.name.to_owned(),
                demand: top.demand,
                label_limit: limit,
            },
            max_series,
            expected_series: sets * self.cost,
            text,
            keep: None,
        }
    }

    fn remove(&self, top: Top<'_>) -> Recommendation {
        let limit = top.pinned.max(1);
        let sets = self.folded_sets(&top, limit);
        let max_series = self.budget_for(sets).max(self.limit);
        let alone = top.demand.saturating_mul(self.cost) as f64 / self.limit.max(1) as f64;
        let text = format!(
            "remove the label {label} from the code: ~{demand} values, {alone:.0}× the budget \
             of {limit_series} on its own; until then label_limits = {{ {label} = {limit} }} \
             folds it, and the metric would hold {expected} series",
            label = top.name,
            demand = top.demand,
            limit_series = self.limit,
            expected = sets * self.cost,
        );
        Recommendation {
            action: Action::RemoveLabel {
                label: top.name.to_owned(),
                demand: top.demand,
                label_limit: limit,
            },
            max_series,
            expected_series: sets * self.cost,
            text,
            keep: None,
        }
    }

    /// Label sets with `top` limited to `limit` values (plus `__overflow__`).
    fn folded_sets(&self, top: &Top<'_>, limit: u64) -> u64 {
        top.others
            .saturating_mul(limit.saturating_add(1))
            .min(self.label_sets)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::ObservedLabel;

    fn full(keep: Keep, admitted_share: Option<f64>) -> Observation {
        let mut full = Observation::new("logins_total", 500, 1)
            .label_sets(499)
            .folded(5_000)
            .keep(keep)
            .label(ObservedLabel::new("user", 5_000));
        full.admitted_share = admitted_share;
        full
    }

    #[test]
    fn busiest_is_advised_when_the_first_label_sets_carry_little_traffic() {
        let advice = full(Keep::First, Some(0.1)).recommend().unwrap();
        assert_eq!(advice.keep, Some(Keep::Busiest));
        assert!(
            advice.text.contains("keep = \"busiest\""),
            "{}",
            advice.text
        );
        assert!(advice.text.contains("only 10%"), "{}", advice.text);
        // The label advice stays what it was.
        let plain = full(Keep::First, Some(0.9)).recommend().unwrap();
        assert_eq!(plain.keep, None);
        assert_eq!(plain.action, advice.action);
        assert!(advice.text.starts_with(&plain.text));
        // Not when it already keeps something else, nor without a measure.
        assert_eq!(
            full(Keep::Busiest, Some(0.1)).recommend().unwrap().keep,
            None
        );
        assert_eq!(full(Keep::First, None).recommend().unwrap().keep, None);
    }
}
