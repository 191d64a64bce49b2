//! The guard's own suggestion: a complete `guard.toml` built from what it
//! observed and the running config. Shadow mode is the learning phase, this
//! is its lesson.
//!
//! - `[global]`, `[defaults]` and `[histograms]` are the running config's
//!   (histograms must render as they did, or the series counts change), with
//!   `[defaults] mode = "enforce"` and `global.max_series` raised, if need
//!   be, to the sum of the budgets below, and over the running `[defaults]`
//!   and rules it writes (a file may not set a budget above its global one).
//! - Every metric observed gets a `[[metrics]]` entry with an exact match,
//!   the budget of its [`Recommendation`] (or its running budget when there
//!   is nothing to do), the label limits it holds the metric to
//!   ([`Recommendation::label_limits`]: the running ones, the observation's
//!   over them, the advice's over both), its `keep`, `mode = "enforce"`,
//!   and a comment saying why each number.
//! - The running config's other `[[metrics]]` rules follow unchanged, for
//!   the metrics not seen yet.

use std::collections::BTreeMap;

use super::observation::Observation;
use super::recommendation::{plural, Action, Recommendation};
use super::rules::HEADROOM;
use super::running::{defaults, histograms, kept, pinned};
use super::suggested::SuggestedConfig;
use super::tables::{SuggestedGlobal, SuggestedPolicy};
use crate::config::{
    Config, GlobalLimits, Keep, MetricPolicy, MetricRule, Mode, OnOverflow, Pattern,
};

impl SuggestedConfig {
    /// The suggestion for the metrics `observed` (holding `series` series
    /// in all) under the `running` config: the one engine behind
    /// [`Report::suggested_config`](crate::Report::suggested_config) and
    /// `cardinality-guard audit --suggest`. What it writes: [the
    /// module](crate::recommend).
    #[must_use]
    pub fn from_observations(
        series: u64,
        observed: &[Observation],
        running: &Config,
    ) -> SuggestedConfig {
        suggest(series, observed, running)
    }
}

fn suggest(series: u64, observed: &[Observation], running: &Config) -> SuggestedConfig {
    let entries: Vec<Entry<'_>> = observed
        .iter()
        .filter(|m| matches!(Pattern::parse(&m.name), Ok(Pattern::Exact(_))))
        .map(|m| Entry::of(m, running))
        .collect();
    let mut config = SuggestedConfig::new()
        .header(header(series, running, &entries))
        .global(global(running, &entries))
        .defaults(defaults(&running.defaults))
        .histograms(histograms(running))
        .comment(
            "One entry per metric observed (exact match), enforced. The numbers are\n\
             series as the guard counts them: label sets x series per label set.",
        );
    for entry in &entries {
        config = config.metric(entry.metric.name.as_str(), entry.policy(running));
    }
    let others: Vec<&MetricRule> = running
        .metrics
        .iter()
        .filter(|r| match &r.pattern {
            Pattern::Exact(name) => !entries.iter().any(|e| e.metric.name == **name),
            _ => true,
        })
        .collect();
    if !others.is_empty() {
        config = config.comment("The running config's other rules, for metrics not seen yet.");
    }
    for rule in others {
        config = config.metric(rule.pattern.to_string(), kept(rule));
    }
    config
}

/// One observed metric and what the suggestion does with it.
struct Entry<'a> {
    metric: &'a Observation,
    running: MetricPolicy,
    advice: Option<Recommendation>,
    max_series: u64,
}

impl<'a> Entry<'a> {
    fn of(metric: &'a Observation, running: &Config) -> Self {
        let advice = metric.recommend();
        let max_series = advice.as_ref().map_or(metric.limit, |a| a.max_series);
        Entry {
            metric,
            running: running.policy_for(&metric.name),
            advice,
            max_series,
        }
    }

    fn policy(&self, running: &Config) -> SuggestedPolicy {
        let m = self.metric;
        let cost = m.series_per_label_set;
        let comment = match &self.advice {
            None => format!("{}: nothing to do", m.name),
            Some(advice) => format!("{}: {}", m.name, advice.text),
        };
        let why = match &self.advice {
            None => format!(
                "kept: {} label set{} x {cost} = {} series of {} ({:.0}%)",
                m.label_sets,
                plural(m.label_sets),
                m.label_sets.saturating_mul(cost),
                m.limit,
                100.0 * (m.label_sets.saturating_mul(cost)) as f64 / m.limit.max(1) as f64
            ),
            Some(advice) if advice.max_series == m.limit => format!(
                "kept: the {} series expected fit, with headroom",
                advice.expected_series
            ),
            Some(advice) => format!(
                "was {}: {} series expected x {HEADROOM} headroom{}",
                m.limit,
                advice.expected_series,
                if self.running.on_overflow == OnOverflow::Fold {
                    format!(", + {cost} for the overflow series")
                } else {
                    String::new()
                }
            ),
        };
        let mut policy = SuggestedPolicy::new()
            .comment(comment)
            .max_series(self.max_series)
            .note(why)
            .on_overflow(self.running.on_overflow)
            .mode(Mode::Enforce);
        if self.running.mode == Mode::Shadow {
            policy = policy.note("was shadow: the learning phase is over");
        }
        match self.advice.as_ref().and_then(|a| a.keep) {
            Some(keep) => policy = policy.keep(keep),
            None if self.running.keep != Keep::First => policy = policy.keep(self.running.keep),
            None => {}
        }
        let limits = self.label_limits();
        if !limits.is_empty() {
            for (label, limit) in &limits {
                let was = self.running_limit(label);
                let named = self.advice.as_ref().and_then(|a| a.action.label_limit());
                if was.is_some_and(|was| was != *limit) && named.is_none_or(|(n, _)| n != label) {
                    policy = policy.note(format!(
                        "{label}: was {}; raised for the values the advice counts on",
                        was.unwrap_or(0)
                    ));
                }
            }
            policy = policy.label_limits(limits.iter().map(|(k, v)| (k.as_str(), *v)));
            match self.advice.as_ref().map(|a| &a.action) {
                Some(Action::LimitLabel { label, demand, .. }) => {
                    policy = policy.note(format!(
                        "{label}: ~{demand} values observed; the rest fold into __overflow__"
                    ));
                }
                Some(Action::RemoveLabel { label, demand, .. }) => {
                    policy = policy.note(format!(
                        "{label}: ~{demand} values observed; fold it until the code drops it"
                    ));
                }
                _ => {}
            }
        }
        if !self.running.pinned.is_empty() {
            policy = policy.pinned(pinned(&self.running));
        }
        match (self.running.idle_timeout, running.defaults.idle_timeout) {
            (Some(d), _) => policy.idle_timeout(Some(d)),
            (None, Some(_)) => policy.idle_timeout(None),
            (None, None) => policy,
        }
    }
}

impl Entry<'_> {
    /// A running label limit: the observation's (what the guard, or the
    /// audit from the self-report, saw in force), else the running
    /// config's.
    fn running_limit(&self, label: &str) -> Option<u64> {
        let observed = self.metric.labels.iter().find(|l| l.name == label);
        observed
            .and_then(|l| l.limit)
            .or_else(|| self.running.label_limits.get(label).map(|v| v.get()))
    }

    /// The label limits written: the running config's, the observed ones
    /// over them, the advice's over both.
    fn label_limits(&self) -> BTreeMap<String, u64> {
        let mut limits: BTreeMap<String, u64> = self
            .running
            .label_limits
            .iter()
            .map(|(k, v)| (k.clone(), v.get()))
            .collect();
        for label in &self.metric.labels {
            if let Some(limit) = label.limit {
                limits.insert(label.name.clone(), limit);
            }
        }
        if let Some(advice) = &self.advice {
            limits.extend(advice.label_limits.iter().map(|(k, v)| (k.clone(), *v)));
            if let Some((label, limit)) = advice.action.label_limit() {
                limits.insert(label.to_owned(), limit);
            }
        }
        limits
    }
}

fn header(series: u64, running: &Config, entries: &[Entry<'_>]) -> String {
    let advised = entries.iter().filter(|e| e.advice.is_some()).count();
    format!(
        "guard.toml suggested by cardinality-guard from what it observed:\n\
         {} metric{}, {series} series of a global budget of {}; {advised} recommendation{}.\n\
         Running defaults mode: {}. Review it, then deploy it: every metric\n\
         below enforces its budget. What it leaves out is the embedded default's.",
        entries.len(),
        plural(entries.len() as u64),
        running.global.max_series,
        plural(advised as u64),
        running.defaults.mode.as_str(),
    )
}

/// A `SuggestedGlobal` setter of one bound.
type SetBound = fn(SuggestedGlobal, usize) -> SuggestedGlobal;

fn global(running: &Config, entries: &[Entry<'_>]) -> SuggestedGlobal {
    let g = &running.global;
    let sum: u64 = entries.iter().map(|e| e.max_series).sum();
    // A file can't set a budget above the global one it sets: the running
    // [defaults] and rules, written below, need room too.
    let kept = running.metrics.iter().filter_map(|r| r.max_series);
    let largest = kept.fold(running.defaults.max_series.get(), |n, m| n.max(m.get()));
    let needed = sum.max(largest);
    let why = match largest > sum {
        true => format!("the largest budget below is {largest}"),
        false => format!("the budgets below add up to {sum}"),
    };
    let global = if needed > g.max_series.get() {
        SuggestedGlobal::new()
            .max_series(needed)
            .note(format!("was {}: {why}", g.max_series))
    } else {
        SuggestedGlobal::new()
            .max_series(g.max_series.get())
            .note(format!("the budgets below add up to {sum}"))
    };
    let global = global
        .max_metrics(g.max_metrics.get().max(entries.len()))
        .note(format!("{} observed", entries.len()))
        .max_labels_per_metric(g.max_labels_per_metric.get())
        .warn_interval(g.warn_interval)
        .max_label_value_length(g.max_label_value_length.get());
    // The bounds of issue 19 only when the running config changed them.
    let d = GlobalLimits::default();
    let bounds: [(usize, usize, SetBound); 5] = [
        (
            g.max_metric_name_length.get(),
            d.max_metric_name_length.get(),
            SuggestedGlobal::max_metric_name_length,
        ),
        (
            g.max_label_key_length.get(),
            d.max_label_key_length.get(),
            SuggestedGlobal::max_label_key_length,
        ),
        (
            g.max_labels.get(),
            d.max_labels.get(),
            SuggestedGlobal::max_labels,
        ),
        (
            g.max_description_length.get(),
            d.max_description_length.get(),
            SuggestedGlobal::max_description_length,
        ),
        (
            g.max_alias_bytes.get(),
            d.max_alias_bytes.get(),
            SuggestedGlobal::max_alias_bytes,
        ),
    ];
    let global = bounds
        .into_iter()
        .filter(|(running, default, _)| running != default)
        .fold(global, |global, (running, _, set)| set(global, running));
    if running.global_labels.is_empty() {
        global
    } else {
        global.labels(&running.global_labels)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{Config, Mode};

    #[test]
    fn a_metric_under_a_pattern_keeps_its_pinned_values_and_the_pattern_stays() {
        let running = Config::from_toml(
            "[defaults]\nmode = \"shadow\"\n\
             [[metrics]]\nmatch = \"app_*\"\nmax_series = 50\nidle_timeout = \"90s\"\n\
             label_limits = { user = 1000 }\npinned = { user = [\"admin\", \"root\"] }\n",
            "guard.toml",
        )
        .unwrap();
        let (recorder, exporter) = crate::PrometheusGuard::builder(running.clone())
            .upkeep_interval(None)
            .build()
            .unwrap();
        metrics::with_local_recorder(&recorder, || {
            for user in 0..600 {
                metrics::counter!("app_logins_total", "user" => user.to_string()).increment(1);
            }
        });
        let text = exporter.report().suggested_config(&running);
        let parsed =
            Config::from_toml(&text, "suggested.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let policy = parsed.policy_for("app_logins_total");
        // Remove `user`; meanwhile fold it, its pinned values kept.
        assert_eq!(policy.label_limits["user"].get(), 2, "{text}");
        assert_eq!(policy.pinned["user"].len(), 2, "{text}");
        assert_eq!(policy.idle_timeout, Some(Duration::from_secs(90)));
        assert_eq!((policy.mode, policy.max_series.get()), (Mode::Enforce, 50));
        // The pattern still serves the metrics not seen yet.
        assert_eq!(parsed.policy_for("app_orders_total").max_series.get(), 50);
        assert_eq!(parsed.metrics.len(), 2, "{text}");
    }

    #[test]
    fn the_running_config_round_trips_when_nothing_was_observed() {
        let running = Config::from_toml(
            "[global]\nlabels = { region = \"eu\" }\nwarn_interval = \"90s\"\n\
             max_labels = 20\nmax_alias_bytes = 4096\nmax_metric_name_length = 100\n\
             [defaults]\nmode = \"shadow\"\nidle_timeout = \"10m\"\nlabel_limits = { user = 5 }\n\
             pinned = { user = [\"admin\"] }\n\
             [histograms]\nbuckets = \"summary\"\n\
             [[histograms.per_metric]]\nmatch = \"db_*\"\nbuckets = [0.001, 0.1]\n\
             [[metrics]]\nmatch = \"app_*\"\nmax_series = 300\non_overflow = \"drop\"\nidle_timeout = \"off\"\n",
            "guard.toml",
        )
        .unwrap();
        let empty = crate::PrometheusGuard::builder(running.clone())
            .upkeep_interval(None)
            .build()
            .unwrap()
            .1
            .report();
        let text = empty.suggested_config(&running);
        let parsed =
            Config::from_toml(&text, "suggested.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let mut expected = running.clone();
        expected.defaults.mode = Mode::Enforce;
        assert_eq!(parsed, expected, "{text}");
    }
}
