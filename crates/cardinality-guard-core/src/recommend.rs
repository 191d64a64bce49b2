//! What to do about one metric, in one line, chosen from its report: raise
//! its budget, limit the label that explodes, or remove a label whose demand
//! dwarfs everything. A metric comfortably within its budget gets no
//! recommendation (`None`): nothing to do.
//!
//! The rules, in order, for a metric whose budget is `max_series` and whose
//! label sets each cost `c` series (1, buckets + 3 or quantiles + 2):
//!
//! 1. **Nothing to do** when the demand (label sets × `c`) is at most
//!    [`COMFORTABLE_UTILIZATION`] of `max_series`.
//! 2. **Remove the label** when the label with the highest demand explodes
//!    (at least [`EXPLODING_RATIO`] times the next label's demand) and alone
//!    would need [`DWARFING_FACTOR`] times the budget. Until the code stops
//!    recording it, the guard folds it: `label_limits = { label = 1 }` (or
//!    the number of its pinned values).
//! 3. **Raise `max_series`** when the demand is at most [`CLOSE_FACTOR`]
//!    times the budget: bounded and close.
//! 4. **Add `label_limits`** for the label with the highest demand when it
//!    explodes: its limit is what the current budget can hold with the
//!    other labels' combinations kept (with [`HEADROOM`]).
//! 5. Otherwise **raise `max_series`** to the demand (the labels look
//!    bounded, just large).
//!
//! Every budget recommended counts series as the guard does: the expected
//! label sets times [`HEADROOM`] (rounded up), plus one for the overflow
//! series the guard reserves in fold mode, times `c`.
//!
//! The demand in label sets is exact in shadow mode, which admits every label
//! set. In enforce mode the folded ones are not stored: the demand is then an
//! upper estimate, the admitted label sets plus the folded registrations, at
//! most the product of the labels' demands. Label demands are HyperLogLog
//! estimates (nearly exact below a few hundred values, about 2% off above).

use crate::config::{Mode, OnOverflow};
use crate::report::MetricReport;
// The types of the advice stand with the report they belong to; the rules
// that choose it are here.
pub use crate::report::{Action, Recommendation};

/// A metric whose demand is at most this share of its budget needs nothing
/// (the report page's utilization bar turns amber above it too).
pub const COMFORTABLE_UTILIZATION: f64 = 0.8;

/// A demand up to this many times the budget is "close": raise the budget.
/// Beyond it, a label that explodes is limited instead.
pub const CLOSE_FACTOR: f64 = 2.0;

/// A label explodes when its demand is at least this many times the demand
/// of every other label of the metric (with one label, at least this many
/// values).
pub const EXPLODING_RATIO: u64 = 10;

/// An exploding label whose demand alone (values × series per label set) is
/// at least this many times the budget dwarfs everything: remove it.
pub const DWARFING_FACTOR: f64 = 10.0;

/// Budgets recommended are the expected label sets times this (rounded up):
/// room for a quarter more than observed, and for the error of the demand
/// estimates.
pub const HEADROOM: f64 = 1.25;

impl Recommendation {
    /// What to do about `metric`, from its report alone; `None` when it is
    /// comfortably within its budget. The rules and their thresholds: see
    /// [the module](crate::recommend).
    #[must_use]
    pub fn for_metric(metric: &MetricReport) -> Option<Recommendation> {
        let facts = Facts::of(metric);
        if facts.need as f64 <= COMFORTABLE_UTILIZATION * facts.limit as f64 {
            return None;
        }
        if let Some(top) = facts.exploding() {
            if (top.demand.saturating_mul(facts.cost)) as f64
                >= DWARFING_FACTOR * facts.limit as f64
            {
                return Some(facts.remove(metric, top));
            }
            if facts.need as f64 > CLOSE_FACTOR * facts.limit as f64 {
                return Some(facts.limit_label(metric, top));
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
    fn of(m: &MetricReport) -> Facts {
        let cost = m.series_per_label_set.max(1);
        let mut labels: Vec<(String, u64, u64)> = m
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.demand, l.pinned as u64))
            .collect();
        labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let folded = m.overflow.series_limit + m.overflow.global_limit;
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
        }
    }

    fn limit_label(&self, m: &MetricReport, top: Top<'_>) -> Recommendation {
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
        let max_series = self.budget_for(sets).max(m.limit);
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
        }
    }

    fn remove(&self, m: &MetricReport, top: Top<'_>) -> Recommendation {
        let limit = top.pinned.max(1);
        let sets = self.folded_sets(&top, limit);
        let max_series = self.budget_for(sets).max(m.limit);
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

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, PrometheusGuard, Report};

    /// Runs `workload` through a guard of `toml` and returns its report.
    fn run(toml: &str, workload: impl FnOnce()) -> Report {
        let config = Config::from_toml(toml, "guard.toml").unwrap();
        let (recorder, exporter) = PrometheusGuard::builder(config)
            .upkeep_interval(None)
            .build()
            .unwrap();
        metrics::with_local_recorder(&recorder, workload);
        exporter.report()
    }

    fn advice(report: &Report, name: &str) -> Option<Recommendation> {
        report.metric(name).unwrap().recommendation.clone()
    }

    /// 4 queues × 3 outcomes: 12 label sets.
    fn jobs() {
        for queue in 0..4 {
            for outcome in ["ok", "retry", "failed"] {
                metrics::counter!("jobs_total", "queue" => queue.to_string(), "outcome" => outcome)
                    .increment(1);
            }
        }
    }

    /// 2 regions × 50 tenants: 100 label sets of a histogram (14 series each).
    fn tenants() {
        for tenant in 0..50 {
            for region in ["eu", "us"] {
                metrics::histogram!("latency_seconds", "region" => region, "tenant" => format!("t{tenant}"))
                    .record(0.1);
            }
        }
    }

    #[test]
    fn nothing_to_do_within_budget() {
        let report = run("[defaults]\nmode = \"shadow\"\nmax_series = 15\n", jobs);
        // 12 of 15 series is 80%: comfortable, just.
        assert_eq!(report.metric("jobs_total").unwrap().series, 12);
        assert_eq!(advice(&report, "jobs_total"), None);
    }

    #[test]
    fn bounded_and_close_raises_max_series() {
        for mode in ["shadow", "enforce"] {
            let toml = format!("[defaults]\nmode = \"{mode}\"\nmax_series = 10\n");
            let report = run(&toml, jobs);
            let advice = advice(&report, "jobs_total").unwrap();
            assert_eq!(advice.action, Action::RaiseMaxSeries, "{mode}");
            // 12 label sets × 1.25 = 15, + 1 for the overflow series.
            assert_eq!(
                (advice.max_series, advice.expected_series),
                (16, 12),
                "{mode}"
            );
            assert!(
                advice
                    .text
                    .starts_with("raise max_series to 16: 12 label sets"),
                "{}",
                advice.text
            );
        }
    }

    #[test]
    fn with_drop_no_room_is_kept_for_an_overflow_series() {
        let report = run(
            "[defaults]\nmode = \"shadow\"\nmax_series = 10\non_overflow = \"drop\"\n",
            jobs,
        );
        assert_eq!(advice(&report, "jobs_total").unwrap().max_series, 15);
    }

    #[test]
    fn bounded_but_far_over_budget_still_raises() {
        // 20 routes × 5 statuses: no label explodes, 5× the budget.
        let report = run("[defaults]\nmode = \"shadow\"\nmax_series = 20\n", || {
            for route in 0..20 {
                for status in [200, 201, 404, 500, 503] {
                    metrics::counter!("requests_total", "route" => format!("/r{route}"), "status" => status.to_string())
                        .increment(1);
                }
            }
        });
        let advice = advice(&report, "requests_total").unwrap();
        assert_eq!(advice.action, Action::RaiseMaxSeries);
        assert_eq!(advice.max_series, 126);
    }

    #[test]
    fn one_exploding_label_gets_a_label_limit_that_holds() {
        let toml = "[defaults]\nmode = \"shadow\"\nmax_series = 280\n";
        let report = run(toml, tenants);
        let metric = report.metric("latency_seconds").unwrap();
        assert_eq!((metric.label_sets, metric.series_per_label_set), (100, 14));
        let advice = advice(&report, "latency_seconds").unwrap();
        // The budget holds 19 label sets besides the overflow series' room;
        // with 2 regions and headroom, 6 tenants + `__overflow__`.
        let Action::LimitLabel {
            label, label_limit, ..
        } = &advice.action
        else {
            panic!("{advice:?}");
        };
        assert_eq!((label.as_str(), *label_limit), ("tenant", 6));
        assert_eq!(
            (advice.expected_series, advice.max_series),
            (2 * 7 * 14, 280)
        );
        assert!(
            advice
                .text
                .contains("would hold 196 series instead of 1400"),
            "{}",
            advice.text
        );

        // Applied to the same workload: within budget, folded in `tenant` only.
        let suggested = report.suggested_config(&Config::from_toml(toml, "guard.toml").unwrap());
        let after = run(&suggested, tenants);
        let metric = after.metric("latency_seconds").unwrap();
        assert_eq!(metric.series, 196, "{suggested}");
        assert!(metric.series <= metric.limit);
        assert_eq!(metric.overflow.series_limit, 0);
        assert!(!metric.overflow_series);
        let folded: Vec<_> = metric
            .labels
            .iter()
            .filter(|l| l.folded > 0)
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(folded, ["tenant"]);
        assert_eq!(metric.recommendation, None);
    }

    #[test]
    fn a_label_that_dwarfs_everything_is_to_be_removed() {
        let report = run("[defaults]\nmode = \"shadow\"\nmax_series = 100\n", || {
            for user in 0..2000 {
                let method = if user % 2 == 0 { "password" } else { "sso" };
                metrics::counter!("logins_total", "user" => user.to_string(), "method" => method)
                    .increment(1);
            }
        });
        let advice = advice(&report, "logins_total").unwrap();
        let Action::RemoveLabel {
            label,
            demand,
            label_limit,
        } = &advice.action
        else {
            panic!("{advice:?}");
        };
        assert_eq!((label.as_str(), *label_limit), ("user", 1));
        assert!((1900..=2100).contains(demand), "{demand}");
        // 2 methods × (1 user + `__overflow__`); the budget is kept.
        assert_eq!((advice.expected_series, advice.max_series), (4, 100));
        assert!(
            advice
                .text
                .starts_with("remove the label user from the code"),
            "{}",
            advice.text
        );
    }

    #[test]
    fn it_serializes_flat_with_its_text() {
        let report = run("[defaults]\nmode = \"shadow\"\nmax_series = 10\n", jobs);
        let json = serde_json::to_value(advice(&report, "jobs_total").unwrap()).unwrap();
        assert_eq!(json["kind"], "raise_max_series");
        assert_eq!(json["max_series"], 16);
        assert!(json["text"]
            .as_str()
            .unwrap()
            .starts_with("raise max_series to 16"));
    }
}
