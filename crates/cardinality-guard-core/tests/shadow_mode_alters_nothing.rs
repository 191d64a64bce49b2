//! `mode = "shadow"` renders every label set as recorded, while the report and
//! `cardinality_guard_overflow_total` tell what enforce would have done.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use cardinality_guard_core::{Config, Report};
use support::{assert_series_accounting, guarded, label_sets_of, overflow_total, parse, Sample};

const USERS: u64 = 30;
const ROUNDS: u64 = 2;
const BUDGET: u64 = 10;
/// One bucket bound: 4 series per label set.
const HISTOGRAM_COST: u64 = 1 + 3;
/// The metrics of `traffic` and the series one label set renders as.
const METRICS: [(&str, u64); 3] = [
    ("logins_total", 1),
    ("sessions_open", 1),
    ("request_seconds", HISTOGRAM_COST),
];

/// A config in `mode` with a budget of `BUDGET` for every metric; `extra` is
/// TOML appended to `[defaults]` (it may open further tables).
fn config(mode: &str, extra: &str) -> String {
    format!(
        "[histograms]\nbuckets = [1.0]\n[defaults]\nmode = \"{mode}\"\nmax_series = {BUDGET}\n{extra}\n"
    )
}

/// `USERS` label sets of each metric, each registered `ROUNDS` times.
fn traffic() {
    for round in 0..ROUNDS {
        for u in 0..USERS {
            let user = u.to_string();
            metrics::counter!("logins_total", "user" => user.clone()).increment(u + round);
            metrics::gauge!("sessions_open", "user" => user.clone()).increment(1.0);
            metrics::histogram!("request_seconds", "user" => user).record(u as f64 / 8.0);
        }
    }
}

/// Runs `traffic` through a guard built from `toml`: its render and report.
fn run(toml: &str) -> (String, Report) {
    let (guard, exporter) = guarded(toml);
    metrics::with_local_recorder(&guard, traffic);
    let text = exporter.render();
    assert_series_accounting(&text, &exporter.report());
    (text, exporter.report())
}

/// The samples of every metric but the guard's own, in a stable order.
fn guarded_samples(text: &str) -> Vec<Sample> {
    let mut samples = parse(text);
    samples.retain(|s| !s.name.starts_with("cardinality_guard_"));
    samples.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    samples
}

#[test]
fn shadow_renders_what_an_unguarded_exporter_renders() {
    let toml = config("shadow", "");
    let (text, _) = run(&toml);
    let config = Config::from_toml(&toml, "<test>").unwrap();
    let plain = cardinality_guard_core::prometheus_builder(&config)
        .unwrap()
        .build_recorder();
    metrics::with_local_recorder(&plain, traffic);
    assert_eq!(
        guarded_samples(&text),
        guarded_samples(&plain.handle().render())
    );
    let users: BTreeSet<_> = (0..USERS)
        .map(|u| BTreeMap::from([("user".to_owned(), u.to_string())]))
        .collect();
    for (m, _) in METRICS {
        assert_eq!(label_sets_of(&text, m), users, "{m}:\n{text}");
    }
}

/// Runs `traffic` in enforce and in shadow mode under the same budgets and
/// checks that shadow reports and counts exactly what enforce did, while
/// rendering every label set. Returns the enforce run's report.
fn check_shadow_reports_enforce(extra: &str) -> Report {
    let (enforce_text, enforce) = run(&config("enforce", extra));
    let (shadow_text, shadow) = run(&config("shadow", extra));
    for (m, cost) in METRICS {
        let (e, s) = (enforce.metric(m).unwrap(), shadow.metric(m).unwrap());
        assert!(e.overflow.total() > 0, "{m} overflows under enforce: {e:?}");
        assert_eq!(s.overflow, e.overflow, "{m}");
        for reason in ["series_limit", "global_limit"] {
            assert_eq!(
                overflow_total(&shadow_text, m, reason),
                overflow_total(&enforce_text, m, reason),
                "{m} {reason}:\n{shadow_text}"
            );
        }
        assert_eq!(s.series, USERS * cost, "{m}: every label set renders");
        assert!(!s.overflow_series, "{m}: no overflow series in shadow mode");
    }
    enforce
}

/// `check_shadow_reports_enforce`, and that enforce rejected every
/// registration (one per round) of the label sets beyond the first
/// `admitted(cost)` with reason `series_limit`.
fn check_rejected_beyond(extra: &str, admitted: impl Fn(u64) -> u64) {
    let enforce = check_shadow_reports_enforce(extra);
    for (m, cost) in METRICS {
        let rejected = (USERS - admitted(cost)) * ROUNDS;
        let counted = enforce.metric(m).unwrap().overflow.series_limit;
        assert_eq!(counted, rejected, "{m}");
    }
}

#[test]
fn shadow_counts_what_enforce_folds() {
    // The overflow series' room is reserved first.
    check_rejected_beyond("", |cost| (BUDGET - cost) / cost);
}

#[test]
fn shadow_counts_what_enforce_drops() {
    check_rejected_beyond("on_overflow = \"drop\"", |cost| BUDGET / cost);
}

#[test]
fn shadow_counts_what_the_global_limit_would_fold() {
    let enforce = check_shadow_reports_enforce("[global]\nmax_series = 12");
    let global_limited: u64 = METRICS
        .iter()
        .map(|(m, _)| enforce.metric(m).unwrap().overflow.global_limit)
        .sum();
    assert!(global_limited > 0, "{enforce:?}");
}

/// A metric in shadow mode does not take the room of enforced ones beyond
/// what it would take if it were enforced.
#[test]
fn a_shadow_metric_leaves_enforced_metrics_as_enforce_would() {
    let run_with = |mode: &str| {
        let toml = format!(
            "[global]\nmax_series = 20\n[[metrics]]\nmatch = \"noisy_total\"\nmax_series = 5\nmode = \"{mode}\"\n"
        );
        let (guard, exporter) = guarded(&toml);
        metrics::with_local_recorder(&guard, || {
            for u in 0..50 {
                metrics::counter!("noisy_total", "user" => u.to_string()).increment(1);
                metrics::counter!("quiet_total", "user" => u.to_string()).increment(1);
            }
        });
        let text = exporter.render();
        assert_series_accounting(&text, &exporter.report());
        (
            label_sets_of(&text, "noisy_total"),
            label_sets_of(&text, "quiet_total"),
        )
    };
    let (noisy_enforced, quiet_beside_enforced) = run_with("enforce");
    let (noisy_shadowed, quiet_beside_shadowed) = run_with("shadow");
    assert_eq!(noisy_enforced.len(), 5);
    assert_eq!(noisy_shadowed.len(), 50);
    assert_eq!(quiet_beside_shadowed, quiet_beside_enforced);
}
