//! A complete suggested `guard.toml`, built from what the guard observed:
//! shadow mode is the learning phase, this is its lesson.
//!
//! - `[global]`, `[defaults]` and `[histograms]` are the running config's
//!   (histograms must render as they did, or the series counts change), with
//!   `[defaults] mode = "enforce"` and `global.max_series` raised, if need
//!   be, to the sum of the budgets below.
//! - Every metric observed gets a `[[metrics]]` entry with an exact match,
//!   the budget of its [`Recommendation`] (or its running budget when there
//!   is nothing to do), the label limit it advises, `mode = "enforce"`, and a
//!   comment saying why each number.
//! - The running config's other `[[metrics]]` rules follow unchanged, for
//!   the metrics not seen yet.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::config::{Config, MetricPolicy, MetricRule, Mode, Pattern, PinnedValues};
use crate::recommend::{Action, Recommendation, HEADROOM};
use crate::report::{MetricReport, Report};

impl Report {
    /// A complete `guard.toml` suggested from this report and the `running`
    /// config: it loads with [`Config::from_toml`], and applied to the same
    /// workload it holds every observed metric within its new budget, with
    /// values folded (`__overflow__`) only in the labels its
    /// recommendations name. See [`Recommendation::for_metric`] for the
    /// rules.
    ///
    /// ```
    /// use cardinality_guard_core::{Config, PrometheusGuard};
    ///
    /// let shadow = Config::from_toml("[defaults]\nmode = \"shadow\"\nmax_series = 100\n", "guard.toml")?;
    /// let (recorder, exporter) = PrometheusGuard::builder(shadow).build()?;
    /// metrics::with_local_recorder(&recorder, || {
    ///     for user in 0..2000 {
    ///         metrics::counter!("logins_total", "user" => user.to_string()).increment(1);
    ///     }
    /// });
    /// let suggested = exporter.suggested_config();
    /// assert!(suggested.contains("match = \"logins_total\""));
    /// let config = Config::from_toml(&suggested, "suggested.toml")?;
    /// let policy = config.policy_for("logins_total");
    /// assert_eq!(policy.label_limits["user"].get(), 1); // remove the label; meanwhile, fold it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn suggested_config(&self, running: &Config) -> String {
        let mut out = String::new();
        let entries: Vec<Entry<'_>> = self
            .metrics
            .iter()
            .filter(|m| matches!(Pattern::parse(&m.name), Ok(Pattern::Exact(_))))
            .map(|m| Entry::of(m, running))
            .collect();
        header(&mut out, self, running, &entries);
        global(&mut out, running, &entries);
        defaults(&mut out, &running.defaults);
        histograms(&mut out, running);
        out.push_str(
            "\n# One entry per metric observed (exact match), enforced. The numbers are\n\
             # series as the guard counts them: label sets x series per label set.\n",
        );
        for entry in &entries {
            entry.write(&mut out, running);
        }
        let others: Vec<&MetricRule> = running
            .metrics
            .iter()
            .filter(|r| match &r.pattern {
                Pattern::Exact(name) => !entries.iter().any(|e| e.metric.name == *name),
                _ => true,
            })
            .collect();
        if !others.is_empty() {
            out.push_str("\n# The running config's other rules, for metrics not seen yet.\n");
        }
        for rule in others {
            write_rule(&mut out, rule);
        }
        out
    }
}

/// One observed metric and what the suggestion does with it.
struct Entry<'a> {
    metric: &'a MetricReport,
    policy: MetricPolicy,
    advice: Option<Recommendation>,
    max_series: u64,
}

impl<'a> Entry<'a> {
    fn of(metric: &'a MetricReport, running: &Config) -> Self {
        let policy = running.policy_for(&metric.name);
        let advice = Recommendation::for_metric(metric);
        let max_series = advice.as_ref().map_or(metric.limit, |a| a.max_series);
        Entry {
            metric,
            policy,
            advice,
            max_series,
        }
    }

    fn write(&self, out: &mut String, running: &Config) {
        let m = self.metric;
        let cost = m.series_per_label_set;
        out.push('\n');
        match &self.advice {
            None => {
                let _ = writeln!(out, "# {}: nothing to do", m.name);
            }
            Some(advice) => {
                let _ = writeln!(out, "# {}: {}", m.name, advice.text);
            }
        }
        out.push_str("[[metrics]]\n");
        let _ = writeln!(out, "match = {}", quote(&m.name));
        let why = match &self.advice {
            None => format!(
                "kept: {} label set{} x {cost} = {} series of {} ({:.0}%)",
                m.label_sets,
                plural(m.label_sets),
                m.label_sets * cost,
                m.limit,
                100.0 * (m.label_sets * cost) as f64 / m.limit.max(1) as f64
            ),
            Some(advice) if advice.max_series == m.limit => format!(
                "kept: the {} series expected fit, with headroom",
                advice.expected_series
            ),
            Some(advice) => format!(
                "was {}: {} series expected x {HEADROOM} headroom{}",
                m.limit,
                advice.expected_series,
                if self.policy.on_overflow == crate::OnOverflow::Fold {
                    format!(", + {cost} for the overflow series")
                } else {
                    String::new()
                }
            ),
        };
        let _ = writeln!(out, "max_series = {}  # {why}", self.max_series);
        let _ = writeln!(
            out,
            "on_overflow = {}",
            quote(self.policy.on_overflow.as_str())
        );
        let was = match self.policy.mode {
            Mode::Shadow => "  # was shadow: the learning phase is over",
            Mode::Enforce => "",
        };
        let _ = writeln!(out, "mode = \"enforce\"{was}");
        let mut limits: BTreeMap<String, u64> = self
            .policy
            .label_limits
            .iter()
            .map(|(k, v)| (k.clone(), v.get()))
            .collect();
        let added = self.advice.as_ref().and_then(|a| a.action.label_limit());
        if let Some((label, limit)) = added {
            limits.insert(label.to_owned(), limit);
        }
        if !limits.is_empty() {
            let why = match self.advice.as_ref().map(|a| &a.action) {
                Some(Action::LimitLabel { label, demand, .. }) => {
                    format!(
                        "  # {label}: ~{demand} values observed; the rest fold into __overflow__"
                    )
                }
                Some(Action::RemoveLabel { label, demand, .. }) => {
                    format!(
                        "  # {label}: ~{demand} values observed; fold it until the code drops it"
                    )
                }
                _ => String::new(),
            };
            let _ = writeln!(out, "label_limits = {}{why}", inline_numbers(&limits));
        }
        if !self.policy.pinned.is_empty() {
            let _ = writeln!(out, "pinned = {}", inline_pinned(&self.policy.pinned));
        }
        match (self.policy.idle_timeout, running.defaults.idle_timeout) {
            (Some(d), _) => {
                let _ = writeln!(out, "idle_timeout = {}", quote(&duration(d)));
            }
            (None, Some(_)) => out.push_str("idle_timeout = \"off\"\n"),
            (None, None) => {}
        }
    }
}

fn header(out: &mut String, report: &Report, running: &Config, entries: &[Entry<'_>]) {
    let advised = entries.iter().filter(|e| e.advice.is_some()).count();
    let _ = writeln!(
        out,
        "# guard.toml suggested by cardinality-guard from what it observed:\n\
         # {} metric{}, {} series of a global budget of {}; {} recommendation{}.\n\
         # Running defaults mode: {}. Review it, then deploy it: every metric\n\
         # below enforces its budget. What it leaves out is the embedded default's.",
        entries.len(),
        plural(entries.len() as u64),
        report.global.series,
        running.global.max_series,
        advised,
        plural(advised as u64),
        running.defaults.mode.as_str(),
    );
}

fn global(out: &mut String, running: &Config, entries: &[Entry<'_>]) {
    let g = &running.global;
    let sum: u64 = entries.iter().map(|e| e.max_series).sum();
    out.push_str("\n[global]\n");
    if sum > g.max_series.get() {
        let _ = writeln!(
            out,
            "max_series = {sum}  # was {}: the budgets below add up to {sum}",
            g.max_series
        );
    } else {
        let _ = writeln!(
            out,
            "max_series = {}  # the budgets below add up to {sum}",
            g.max_series
        );
    }
    let metrics = g.max_metrics.get().max(entries.len());
    let _ = writeln!(out, "max_metrics = {metrics}  # {} observed", entries.len());
    let _ = writeln!(out, "max_labels_per_metric = {}", g.max_labels_per_metric);
    let _ = writeln!(out, "warn_interval = {}", quote(&duration(g.warn_interval)));
    let _ = writeln!(out, "max_label_value_length = {}", g.max_label_value_length);
    if !running.global_labels.is_empty() {
        let labels: Vec<String> = running
            .global_labels
            .iter()
            .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
            .collect();
        let _ = writeln!(out, "labels = {{ {} }}", labels.join(", "));
    }
}

fn defaults(out: &mut String, d: &MetricPolicy) {
    out.push_str("\n[defaults]  # for metrics not seen yet\n");
    let _ = writeln!(out, "max_series = {}", d.max_series);
    let _ = writeln!(out, "on_overflow = {}", quote(d.on_overflow.as_str()));
    let was = match d.mode {
        Mode::Shadow => "  # was shadow",
        Mode::Enforce => "",
    };
    let _ = writeln!(out, "mode = \"enforce\"{was}");
    let limits: BTreeMap<String, u64> = d
        .label_limits
        .iter()
        .map(|(k, v)| (k.clone(), v.get()))
        .collect();
    let _ = writeln!(out, "label_limits = {}", inline_numbers(&limits));
    let _ = writeln!(out, "pinned = {}", inline_pinned(&d.pinned));
    let timeout = d.idle_timeout.map_or_else(|| "off".to_owned(), duration);
    let _ = writeln!(out, "idle_timeout = {}", quote(&timeout));
}

fn histograms(out: &mut String, running: &Config) {
    let h = &running.histograms;
    out.push_str("\n[histograms]  # as they rendered: the series counts depend on it\n");
    match &h.buckets {
        Some(b) => {
            let _ = writeln!(out, "buckets = {}", bounds(b.bounds()));
        }
        None => out.push_str("buckets = \"summary\"\n"),
    }
    for (pattern, buckets) in &h.per_metric {
        out.push_str("\n[[histograms.per_metric]]\n");
        let _ = writeln!(out, "match = {}", quote(&pattern.to_string()));
        let _ = writeln!(out, "buckets = {}", bounds(buckets.bounds()));
    }
}

fn write_rule(out: &mut String, rule: &MetricRule) {
    out.push_str("\n[[metrics]]\n");
    let _ = writeln!(out, "match = {}", quote(&rule.pattern.to_string()));
    if let Some(max) = rule.max_series {
        let _ = writeln!(out, "max_series = {max}");
    }
    if let Some(o) = rule.on_overflow {
        let _ = writeln!(out, "on_overflow = {}", quote(o.as_str()));
    }
    if let Some(mode) = rule.mode {
        let _ = writeln!(out, "mode = {}", quote(mode.as_str()));
    }
    if !rule.label_limits.is_empty() {
        let limits = rule
            .label_limits
            .iter()
            .map(|(k, v)| (k.clone(), v.get()))
            .collect();
        let _ = writeln!(out, "label_limits = {}", inline_numbers(&limits));
    }
    if !rule.pinned.is_empty() {
        let _ = writeln!(out, "pinned = {}", inline_pinned(&rule.pinned));
    }
    if let Some(timeout) = rule.idle_timeout {
        let timeout = timeout.map_or_else(|| "off".to_owned(), duration);
        let _ = writeln!(out, "idle_timeout = {}", quote(&timeout));
    }
}

fn inline_numbers(map: &BTreeMap<String, u64>) -> String {
    let items: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{} = {v}", quote(k)))
        .collect();
    inline(&items)
}

fn inline_pinned(map: &BTreeMap<String, PinnedValues>) -> String {
    let items: Vec<String> = map
        .iter()
        .map(|(k, values)| {
            let values: Vec<String> = values.iter().map(|v| quote(v)).collect();
            format!("{} = [{}]", quote(k), values.join(", "))
        })
        .collect();
    inline(&items)
}

fn inline(items: &[String]) -> String {
    if items.is_empty() {
        "{}".to_owned()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

/// A TOML float array (`{:?}` always writes a float: `1.0`, `1e-7`).
fn bounds(bounds: &[f64]) -> String {
    let items: Vec<String> = bounds.iter().map(|b| format!("{b:?}")).collect();
    format!("[{}]", items.join(", "))
}

/// A duration the config reads back: whole seconds as `"90s"`, else
/// milliseconds (at least 1).
fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}ms", ms.max(1))
    }
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
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

    #[test]
    fn strings_and_durations_read_back() {
        let tricky = "a\"b\\c\nd\u{1}é";
        let text = format!("key = {}\n", quote(tricky));
        let value: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(value["key"].as_str(), Some(tricky));
        assert_eq!(duration(Duration::from_secs(600)), "600s");
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(bounds(&[0.005, 1.0, 1e-7]), "[0.005, 1.0, 1e-7]");
    }

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
