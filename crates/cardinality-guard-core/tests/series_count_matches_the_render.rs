//! `cardinality_guard_series{metric}` equals what the real exporter renders,
//! and so do the report and `cardinality_guard_global_series`, for every kind
//! of metric, histogram shape and overflow policy.

mod support;

use support::{
    assert_series_accounting, guarded, overflow_total, rendered_series, self_reported_series,
};

#[test]
fn counters_with_overflow() {
    let (guard, exporter) = guarded("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 10\n");
    metrics::with_local_recorder(&guard, || {
        for u in 0..50 {
            metrics::counter!("logins_total", "user" => u.to_string()).increment(1);
        }
    });
    let text = exporter.render();
    assert_eq!(rendered_series(&text, "logins_total"), 10, "{text}");
    assert_eq!(self_reported_series(&text, "logins_total"), Some(10.0));
}

/// Label sets recorded per metric: enough to overflow every budget below.
const USERS: u64 = 50;
const COUNTER: &str = "requests_total";
const GAUGE: &str = "sessions_open";

/// The `[defaults]` every metric of a run gets.
#[derive(Debug, Clone, Copy)]
struct Policy {
    max_series: u64,
    on_overflow: &'static str,
    mode: &'static str,
}

impl Policy {
    fn toml(self) -> String {
        format!(
            "[defaults]\nmax_series = {}\non_overflow = \"{}\"\nmode = \"{}\"\n",
            self.max_series, self.on_overflow, self.mode
        )
    }

    /// The series a metric whose label set renders `cost` series holds after
    /// `USERS` label sets, derived from the admission rules.
    fn expected_series(self, cost: u64) -> u64 {
        let fit = |room: u64| (room / cost).min(USERS);
        match (self.mode, self.on_overflow) {
            ("shadow", _) => USERS * cost,
            (_, "drop") => fit(self.max_series) * cost,
            // Room for the overflow series is reserved first.
            _ if USERS * cost + cost <= self.max_series => USERS * cost,
            _ => (fit(self.max_series - cost) + 1) * cost,
        }
    }
}

const UNDER_BUDGET: Policy = Policy {
    max_series: 2000,
    on_overflow: "fold",
    mode: "enforce",
};
const FOLD: Policy = Policy {
    max_series: 40,
    on_overflow: "fold",
    mode: "enforce",
};
const DROP: Policy = Policy {
    on_overflow: "drop",
    ..FOLD
};
const SHADOW: Policy = Policy {
    mode: "shadow",
    ..FOLD
};

/// Records `USERS` label sets of a counter, a gauge and each histogram in
/// `histograms` (name, series one label set renders as, derived from the
/// `[histograms]` section) under every policy, and checks the render against
/// the self-report, the report, and the series the rules allow.
fn check_every_policy(histograms_toml: &str, histograms: &[(&'static str, u64)]) {
    for policy in [UNDER_BUDGET, FOLD, DROP, SHADOW] {
        let (guard, exporter) = guarded(&format!("{}{histograms_toml}", policy.toml()));
        metrics::with_local_recorder(&guard, || {
            for u in 0..USERS {
                let user = u.to_string();
                metrics::counter!(COUNTER, "user" => user.clone()).increment(1);
                metrics::gauge!(GAUGE, "user" => user.clone()).increment(1.0);
                for (name, _) in histograms {
                    let histogram = metrics::histogram!(*name, "user" => user.clone());
                    // Registration alone renders the series: half record nothing.
                    if u % 2 == 0 {
                        histogram.record(0.3);
                    }
                }
            }
        });
        let text = exporter.render();
        let report = exporter.report();
        assert_series_accounting(&text, &report);
        let every = [(COUNTER, 1), (GAUGE, 1)]
            .into_iter()
            .chain(histograms.iter().copied());
        for (name, cost) in every {
            assert_eq!(
                rendered_series(&text, name) as u64,
                policy.expected_series(cost),
                "{name} under {policy:?}:\n{text}"
            );
        }
    }
}

#[test]
fn bucketed_histograms_render_buckets_plus_three() {
    // 4 bounds: `_bucket` × 5 (with `+Inf`), `_sum`, `_count`.
    check_every_policy(
        "[histograms]\nbuckets = [0.1, 0.5, 1.0, 5.0]\n",
        &[("latency_seconds", 4 + 3)],
    );
}

#[test]
fn summaries_render_seven_quantiles_plus_two() {
    check_every_policy(
        "[histograms]\nbuckets = \"summary\"\n",
        &[("latency_seconds", 7 + 2)],
    );
}

/// Overlapping `[[histograms.per_metric]]` patterns, listed so that file order
/// and the exporter's order differ. The exporter tries exact names, then
/// prefixes, then suffixes, each group sorted by its text; the first match wins.
const OVERLAPPING: &str = r#"
[[histograms.per_metric]]
match = "*_seconds"
buckets = [1.0, 2.0, 3.0, 4.0]

[[histograms.per_metric]]
match = "db_query_*"
buckets = [1.0, 2.0, 3.0]

[[histograms.per_metric]]
match = "db_*"
buckets = [1.0, 2.0]

[[histograms.per_metric]]
match = "*_query_seconds"
buckets = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]

[[histograms.per_metric]]
match = "db_query_seconds"
buckets = [1.0, 2.0, 3.0, 4.0, 5.0]
"#;

/// The histograms of `OVERLAPPING` and the bucket bounds each renders with.
const OVERLAPPING_BOUNDS: [(&str, u64); 5] = [
    // The exact name beats every pattern.
    ("db_query_seconds", 5),
    // Both prefixes match: "db_" sorts before "db_query_".
    ("db_query_rows", 2),
    // A prefix beats a suffix.
    ("db_lock_seconds", 2),
    // Both suffixes match: "_query_seconds" sorts before "_seconds".
    ("cache_query_seconds", 6),
    ("cache_seconds", 4),
];

/// `OVERLAPPING` after `[histograms]` and its `global` lines; a histogram no
/// pattern matches renders `fallback_cost` series per label set.
fn check_overlapping(global: &str, fallback_cost: u64) {
    let toml = format!("[histograms]\n{global}{OVERLAPPING}");
    let mut histograms = OVERLAPPING_BOUNDS
        .map(|(name, bounds)| (name, bounds + 3))
        .to_vec();
    histograms.push(("rows_fetched", fallback_cost));
    check_every_policy(&toml, &histograms);
}

#[test]
fn overlapping_per_metric_buckets_over_global_buckets() {
    check_overlapping("buckets = [1.0]\n", 1 + 3);
}

#[test]
fn overlapping_per_metric_buckets_over_summaries() {
    check_overlapping("buckets = \"summary\"\n", 7 + 2);
}

#[test]
fn global_series_counts_guarded_metrics_only() {
    let (guard, exporter) = guarded(
        "[global]\nmax_series = 30\n[defaults]\nmax_series = 8\n[histograms]\nbuckets = [1.0]\n",
    );
    metrics::with_local_recorder(&guard, || {
        for u in 0..20 {
            metrics::counter!("a_total", "user" => u.to_string()).increment(1);
            metrics::histogram!("b_seconds", "user" => u.to_string()).record(1.0);
        }
    });
    let text = exporter.render();
    let report = exporter.report();
    assert_series_accounting(&text, &report);
    let guarded_series = rendered_series(&text, "a_total") + rendered_series(&text, "b_seconds");
    assert_eq!(report.global.series, guarded_series as u64);
    assert!(
        report
            .metrics
            .iter()
            .all(|m| !m.name.starts_with("cardinality_guard_")),
        "the self-report is not guarded: {report:?}"
    );
}

/// `http.requests` renders as `http_requests`: the two names are one metric,
/// and one label set recorded under both is one rendered series.
#[test]
fn names_that_sanitize_alike_share_their_series() {
    let (guard, exporter) = guarded("");
    metrics::with_local_recorder(&guard, || {
        for u in 0..3 {
            metrics::counter!("http.requests", "user" => u.to_string()).increment(1);
            metrics::counter!("http_requests", "user" => u.to_string()).increment(1);
        }
    });
    let text = exporter.render();
    assert_eq!(rendered_series(&text, "http_requests"), 3, "{text}");
    assert_series_accounting(&text, &exporter.report());
}

/// A rendered name belongs to one family: a gauge under a counter's name is
/// refused (reason `invalid`), so the render never holds two families of
/// one name (which a Prometheus server would refuse).
#[test]
fn a_counter_and_a_gauge_sharing_a_name() {
    let (guard, exporter) = guarded("");
    metrics::with_local_recorder(&guard, || {
        for u in 0..3 {
            metrics::counter!("jobs", "worker" => u.to_string()).increment(1);
        }
        metrics::gauge!("jobs", "queue" => "main").set(4.0);
    });
    let text = exporter.render();
    assert_eq!(rendered_series(&text, "jobs"), 3, "{text}");
    assert_eq!(self_reported_series(&text, "jobs"), Some(3.0), "{text}");
    assert_eq!(text.matches("# TYPE jobs ").count(), 1, "{text}");
    assert_eq!(
        overflow_total(&text, "__invalid__", "invalid"),
        1.0,
        "{text}"
    );
    assert_series_accounting(&text, &exporter.report());
}
