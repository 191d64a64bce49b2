//! The rules that choose a [`Recommendation`] from what was observed of a
//! metric, and their tuning (the prose: [the module](crate::recommend)).

use std::collections::BTreeMap;

pub(crate) use super::facts::HEADROOM;
use super::facts::{Facts, Label};
use super::observation::Observation;
use super::recommendation::{plural, Action, Recommendation};
use crate::config::Keep;

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

const ID_VALUES_PER_UPDATE: f64 = Recommendation::ID_VALUES_PER_UPDATE;

const FOLDING_SHARE: f64 = Recommendation::FOLDING_SHARE;

/// A metric that folds, under `keep = "first"`, whose admitted series carry
/// less than this share of its recent traffic is advised `keep = "busiest"`
/// too: the label sets that came first are not the ones that matter.
const BUSIEST_SHARE: f64 = 0.5;

impl Observation {
    /// What to do about the metric; `None` when it is comfortably within
    /// its budget and no label limit folds most of its updates. The rules
    /// and their thresholds: [the module](crate::recommend).
    #[must_use]
    pub fn recommend(&self) -> Option<Recommendation> {
        let facts = Facts::of(self);
        let (advice, busiest_helps) = facts.choose()?;
        let advice = facts.reconcile(advice);
        let share = self.admitted_share.unwrap_or(1.0);
        if !busiest_helps || self.keep != Keep::First || self.folded == 0 || share >= BUSIEST_SHARE
        {
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
}

impl Facts {
    /// The rules in order, and whether `keep = "busiest"` could help.
    fn choose(&self) -> Option<(Recommendation, bool)> {
        if let Some((label, share)) = self.folding_label() {
            if self.is_id(label) {
                // Unless the limit already folds it as the removal would
                // meanwhile: the config has nothing more to do.
                if label.limit > Some(label.pinned.max(1)) {
                    return Some((self.remove(label, Some(share)), false));
                }
            } else if let Some(refit) = self.refit(label, share) {
                return Some((refit, true));
            }
        }
        let comfortable = Recommendation::COMFORTABLE_UTILIZATION * self.limit as f64;
        if self.need as f64 <= comfortable {
            return None;
        }
        let id = self
            .labels
            .iter()
            .find(|l| l.demand.saturating_mul(self.cost) as f64 > comfortable && self.is_id(l));
        if let Some(id) = id {
            return Some((self.remove(id, None), false));
        }
        if let Some(top) = self.exploding() {
            let alone = top.demand.saturating_mul(self.cost) as f64;
            if alone >= DWARFING_FACTOR * self.limit as f64 {
                return Some((self.remove(top, None), true));
            }
            if self.need as f64 > CLOSE_FACTOR * self.limit as f64 {
                return Some((self.limit_label(top), true));
            }
        }
        Some((self.raise(), true))
    }

    /// Whether `label` is an id: more than
    /// [`Recommendation::ID_VALUES_PER_UPDATE`] values per update.
    fn is_id(&self, label: &Label) -> bool {
        self.values_per_update(label)
            .is_some_and(|r| r > ID_VALUES_PER_UPDATE)
    }

    /// The label whose running limit folds the largest share of the
    /// updates, if more than [`Recommendation::FOLDING_SHARE`]; with that
    /// share.
    fn folding_label(&self) -> Option<(&Label, f64)> {
        let updates = self.updates? as f64;
        self.labels
            .iter()
            .filter(|l| l.folding_limit().is_some())
            .filter_map(|l| Some((l, (l.folded_updates? as f64 / updates).min(1.0))))
            .filter(|(_, share)| *share > FOLDING_SHARE)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The label with the highest demand, if it explodes.
    fn exploding(&self) -> Option<&Label> {
        let top = self.labels.first()?;
        let next = self.labels.get(1).map_or(1, |l| l.demand.max(1));
        (top.demand >= EXPLODING_RATIO.saturating_mul(next)).then_some(top)
    }

    fn raise(&self) -> Recommendation {
        let max_series = self.budget_for(self.label_sets, None);
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
        Recommendation::new(Action::RaiseMaxSeries, max_series, self.need, text)
    }

    /// A running label limit that folds most of the updates, on a label
    /// that is no id, while the budget has room for the values it folds:
    /// raised to fit its demand. `None` when the label sets the raised
    /// limit lets through would not fit the budget: the limit is then what
    /// the budget affords (as rule 6 would advise it), not the problem.
    fn refit(&self, label: &Label, share: f64) -> Option<Recommendation> {
        let running = label.limit.unwrap_or(0);
        let to = label.fitting_limit();
        let others = self.others(&label.name);
        let expected = others.saturating_mul(label.demand.max(1));
        let fit = self.series_for(others.saturating_mul(to.saturating_add(1)));
        if fit > self.limit {
            return None;
        }
        let text = format!(
            "label_limits.{name} = {running} folds {pct:.0}% of the updates: raise it to {to} \
             (~{demand} values seen, the other labels {others} combination{s}); the metric \
             would hold {series} series, within max_series = {limit}",
            name = label.name,
            pct = 100.0 * share,
            demand = label.demand,
            s = plural(others),
            series = expected.saturating_mul(self.cost),
            limit = self.limit,
        );
        let action = Action::LimitLabel {
            label: label.name.clone(),
            demand: label.demand,
            label_limit: to,
        };
        let expected = expected.saturating_mul(self.cost);
        Some(Recommendation::new(action, self.limit, expected, text))
    }

    fn limit_label(&self, top: &Label) -> Recommendation {
        // What the current budget holds, in label sets, less the overflow
        // series' room; each kept value of the label costs `others` label
        // sets, and so does its `__overflow__` value.
        let others = self.others(&top.name);
        let room = (self.limit / self.cost).saturating_sub(self.reserve);
        let fit = (room as f64 / (others as f64 * HEADROOM)).floor() as u64;
        let limit = fit
            .saturating_sub(1)
            .min(top.demand.saturating_sub(1))
            .max(top.pinned)
            .max(1);
        let sets = self.folded_sets(others, limit);
        let named = Some((top.name.as_str(), limit));
        let max_series = self.budget_for(sets, named).max(self.limit);
        let text = format!(
            "add label_limits = {{ {label} = {limit} }}: {label} explodes (~{demand} values, \
             the other labels {others} combination{s}); folded past {limit} values the metric \
             would hold {expected} series instead of {need}",
            label = top.name,
            demand = top.demand,
            s = plural(others),
            expected = sets.saturating_mul(self.cost),
            need = self.need,
        );
        let action = Action::LimitLabel {
            label: top.name.clone(),
            demand: top.demand,
            label_limit: limit,
        };
        Recommendation::new(action, max_series, sets.saturating_mul(self.cost), text)
    }

    /// Remove `top` from the code: an id, or a label that dwarfs the
    /// budget; `share`: the share of the updates its running limit folds.
    fn remove(&self, top: &Label, share: Option<f64>) -> Recommendation {
        let limit = top.pinned.max(1);
        let others = self.others(&top.name);
        let sets = self.folded_sets(others, limit);
        let named = Some((top.name.as_str(), limit));
        let max_series = self.budget_for(sets, named).max(self.limit);
        let alone = top.demand.saturating_mul(self.cost) as f64 / self.limit.max(1) as f64;
        let why = match (self.values_per_update(top), self.updates) {
            (Some(ratio), Some(updates)) if ratio > ID_VALUES_PER_UPDATE => format!(
                "~{demand} values over {updates} update{s}, {ratio:.2} values per update: an \
                 id, not a dimension ({alone:.1}× the budget of {budget} on its own)",
                demand = top.demand,
                s = plural(updates),
                budget = self.limit,
            ),
            _ => format!(
                "~{} values, {alone:.0}× the budget of {} on its own",
                top.demand, self.limit
            ),
        };
        let folding = match (share, top.limit) {
            (Some(share), Some(running)) => format!(
                " (label_limits.{} = {running} folds {:.0}% of the updates)",
                top.name,
                100.0 * share
            ),
            _ => String::new(),
        };
        let text = format!(
            "remove the label {label} from the code: {why}{folding}; until then \
             label_limits = {{ {label} = {limit} }} folds it, and the metric would hold \
             {expected} series",
            label = top.name,
            expected = sets.saturating_mul(self.cost),
        );
        let action = Action::RemoveLabel {
            label: top.name.clone(),
            demand: top.demand,
            label_limit: limit,
        };
        Recommendation::new(action, max_series, sets.saturating_mul(self.cost), text)
    }

    /// Label sets with a label limited to `limit` values (plus
    /// `__overflow__`), `others` combinations of the other labels each.
    fn folded_sets(&self, others: u64, limit: u64) -> u64 {
        others
            .saturating_mul(limit.saturating_add(1))
            .min(self.label_sets)
            .max(1)
    }

    /// Makes the advice agree with the label limits it leaves running: in
    /// shadow mode, a running limit that would fold values the advice
    /// counts on is raised to fit them (a raise of `max_series` becomes
    /// `limit_label` naming it; any other is said in the text); then the
    /// advice carries every label limit it holds the metric to.
    fn reconcile(&self, mut advice: Recommendation) -> Recommendation {
        let named = advice
            .action
            .label_limit()
            .map(|(label, limit)| (label.to_owned(), limit));
        let named_ref = named.as_ref().map(|(l, v)| (l.as_str(), *v));
        let mut raised = self.labels.iter().filter(|l| {
            self.shadow
                && l.folding_limit().is_some()
                && named_ref.is_none_or(|(name, _)| name != l.name)
        });
        if advice.action == Action::RaiseMaxSeries {
            if let Some(first) = raised.next() {
                let to = first.fitting_limit();
                advice.text = format!(
                    "label_limits.{} = {} would fold ~{} of its ~{} values: raise it to {to}, \
                     and {}",
                    first.name,
                    first.limit.unwrap_or(0),
                    first.demand.saturating_sub(first.limit.unwrap_or(0)),
                    first.demand,
                    advice.text
                );
                advice.action = Action::LimitLabel {
                    label: first.name.clone(),
                    demand: first.demand,
                    label_limit: to,
                };
            }
        }
        for label in raised {
            advice.text.push_str(&format!(
                "; and label_limits.{} = {} would fold ~{} of its ~{} values: raise it to {}",
                label.name,
                label.limit.unwrap_or(0),
                label.demand.saturating_sub(label.limit.unwrap_or(0)),
                label.demand,
                label.fitting_limit()
            ));
        }
        let named = advice.action.label_limit();
        advice.label_limits = self
            .labels
            .iter()
            .filter_map(|l| Some((l.name.clone(), self.advised_limit(l, named)?)))
            .collect::<BTreeMap<_, _>>();
        advice
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
