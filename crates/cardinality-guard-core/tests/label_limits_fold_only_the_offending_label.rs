//! `label_limits` fold only the offending label: beyond its limit, a label's
//! value becomes `__overflow__` while every other label keeps its value, the
//! rewritten label set still goes through series admission, totals are
//! conserved, decisions are sticky and exact under concurrency, and the
//! report names the label to blame.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use cardinality_guard_core::{LabelReport, Report, LABEL_OVERFLOW};
use support::{
    assert_series_accounting, guarded, is_overflow, label_sets_of, label_values, labeled_value,
    overflow_total, parse, race, samples_of, sum_of, walk, THREADS,
};

const M: &str = "requests_total";
const LIMIT: u64 = 10;
const USERS: u64 = 40;
const METHODS: [&str; 3] = ["GET", "POST", "PUT"];
const STATUSES: [&str; 2] = ["200", "500"];
/// Label sets one user value makes: every method × status.
const COMBOS: u64 = (METHODS.len() * STATUSES.len()) as u64;

fn limited(extra: &str) -> String {
    format!("[[metrics]]\nmatch = \"{M}\"\nlabel_limits = {{ user = {LIMIT} }}\n{extra}")
}

/// A varied amount per registration, so misplaced updates change sums.
fn amount(u: u64, m: usize, s: usize) -> u64 {
    1 + (u * 7 + m as u64 * 3 + s as u64) % 5
}

/// Registers every user in `users` × method × status once, adding to
/// `recorded[(user, method, status)]`.
fn traffic(users: impl Iterator<Item = u64>, recorded: &mut BTreeMap<(u64, usize, usize), u64>) {
    for u in users {
        for (m, method) in METHODS.iter().enumerate() {
            for (s, status) in STATUSES.iter().enumerate() {
                let n = amount(u, m, s);
                metrics::counter!(M, "method" => *method, "status" => *status, "user" => u.to_string())
                    .increment(n);
                *recorded.entry((u, m, s)).or_default() += n;
            }
        }
    }
}

fn label_report<'a>(report: &'a Report, metric: &str, label: &str) -> &'a LabelReport {
    report
        .metric(metric)
        .unwrap_or_else(|| panic!("{metric} is tracked: {report:?}"))
        .labels
        .iter()
        .find(|l| l.name == label)
        .unwrap_or_else(|| panic!("label {label} of {metric} is tracked: {report:?}"))
}

fn value_of(text: &str, method: &str, status: &str, user: &str) -> Option<f64> {
    let labels = [("method", method), ("status", status), ("user", user)];
    support::value_exact(text, M, &labels)
}

#[test]
fn the_user_label_folds_while_method_and_status_survive() {
    let (guard, exporter) = guarded(&limited(""));
    let mut recorded = BTreeMap::new();
    metrics::with_local_recorder(&guard, || traffic(0..USERS, &mut recorded));
    let text = exporter.render();

    // `user`: the first 10 values seen, and `__overflow__`.
    let mut users: BTreeSet<String> = (0..LIMIT).map(|u| u.to_string()).collect();
    users.insert(LABEL_OVERFLOW.to_owned());
    assert_eq!(label_values(&text, M, "user"), users, "{text}");

    // Every method × status combination renders, for every user value kept.
    let mut expected = BTreeSet::new();
    for user in &users {
        for method in METHODS {
            for status in STATUSES {
                expected.insert(BTreeMap::from([
                    ("method".to_owned(), method.to_owned()),
                    ("status".to_owned(), status.to_owned()),
                    ("user".to_owned(), user.clone()),
                ]));
            }
        }
    }
    assert_eq!(label_sets_of(&text, M), expected, "{text}");
    assert!(
        samples_of(&parse(&text), M).iter().all(|s| !is_overflow(s)),
        "no series-level fold under the default budget:\n{text}"
    );

    // Totals are conserved, and each folded update went to its own method × status.
    let total: u64 = recorded.values().sum();
    assert_eq!(sum_of(&text, M), total as f64, "{text}");
    for (m, method) in METHODS.iter().enumerate() {
        for (s, status) in STATUSES.iter().enumerate() {
            let folded: u64 = (LIMIT..USERS).map(|u| recorded[&(u, m, s)]).sum();
            assert_eq!(
                value_of(&text, method, status, LABEL_OVERFLOW),
                Some(folded as f64),
                "{method} {status}:\n{text}"
            );
            for u in 0..LIMIT {
                assert_eq!(
                    value_of(&text, method, status, &u.to_string()),
                    Some(recorded[&(u, m, s)] as f64),
                    "user {u} {method} {status}:\n{text}"
                );
            }
        }
    }

    // One `label_limit` overflow per folded registration.
    let folded_registrations = (USERS - LIMIT) * COMBOS;
    assert_eq!(
        overflow_total(&text, M, "label_limit"),
        folded_registrations as f64,
        "{text}"
    );
    assert_eq!(overflow_total(&text, M, "series_limit"), 0.0, "{text}");

    let report = exporter.report();
    let metric = report.metric(M).expect("tracked");
    assert_eq!(metric.overflow.label_limit, folded_registrations);
    assert_eq!(metric.overflow.total(), folded_registrations);
    assert_eq!(metric.blame.as_deref(), Some("user"), "{metric:?}");
    assert_eq!(metric.label_sets, (LIMIT + 1) * COMBOS);
    let user = label_report(&report, M, "user");
    assert_eq!(user.limit, Some(LIMIT), "{user:?}");
    assert_eq!(user.values, Some(LIMIT), "{user:?}");
    assert_eq!(user.folded, folded_registrations, "{user:?}");
    assert!(user.folded > 0);
    assert!(user.demand.abs_diff(USERS) <= 1, "40 values: {user:?}");
    // Labels without a limit: tracked for demand only, never folded.
    for (label, distinct) in [("method", 3), ("status", 2)] {
        let l = label_report(&report, M, label);
        assert_eq!(
            (l.limit, l.values, l.folded, l.demand),
            (None, None, 0, distinct),
            "{l:?}"
        );
    }
    // Ranked by demand: the culprit first.
    let names: Vec<&str> = metric.labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["user", "method", "status"], "{metric:?}");

    // The JSON report carries the same.
    let json = serde_json::to_value(&report).expect("the report serializes");
    let entry = json["metrics"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == M))
        .expect("the metric is in the JSON report")
        .clone();
    assert_eq!(entry["blame"], "user", "{entry}");
    assert_eq!(entry["labels"][0]["name"], "user", "{entry}");
    assert_eq!(entry["labels"][0]["limit"], LIMIT, "{entry}");
    assert_eq!(
        entry["labels"][0]["folded"], folded_registrations,
        "{entry}"
    );

    assert_series_accounting(&text, &report);
}

#[test]
fn a_metric_that_never_folds_blames_nobody() {
    let (guard, exporter) = guarded(&limited(""));
    let mut recorded = BTreeMap::new();
    metrics::with_local_recorder(&guard, || traffic(0..LIMIT, &mut recorded));
    let text = exporter.render();
    assert!(
        !label_values(&text, M, "user").contains(LABEL_OVERFLOW),
        "{text}"
    );
    assert_eq!(overflow_total(&text, M, "label_limit"), 0.0, "{text}");
    let report = exporter.report();
    let metric = report.metric(M).expect("tracked");
    assert_eq!(metric.blame, None, "{metric:?}");
    let user = label_report(&report, M, "user");
    assert_eq!((user.values, user.folded), (Some(LIMIT), 0), "{user:?}");
}

#[test]
fn a_folded_user_stays_folded_and_an_admitted_user_keeps_its_series() {
    let (guard, exporter) = guarded(&limited(""));
    let mut recorded = BTreeMap::new();
    metrics::with_local_recorder(&guard, || {
        traffic(0..USERS, &mut recorded);
        // New users first, then the folded ones again (backwards), then the
        // admitted ones: nothing moves.
        traffic(USERS..2 * USERS, &mut recorded);
        traffic((LIMIT..USERS).rev(), &mut recorded);
        traffic(0..LIMIT, &mut recorded);
    });
    let text = exporter.render();
    let mut users: BTreeSet<String> = (0..LIMIT).map(|u| u.to_string()).collect();
    users.insert(LABEL_OVERFLOW.to_owned());
    assert_eq!(label_values(&text, M, "user"), users, "{text}");
    for (m, method) in METHODS.iter().enumerate() {
        for (s, status) in STATUSES.iter().enumerate() {
            for u in 0..LIMIT {
                // Both rounds of an admitted user reached its own series.
                assert_eq!(
                    value_of(&text, method, status, &u.to_string()),
                    Some(recorded[&(u, m, s)] as f64),
                    "user {u}:\n{text}"
                );
            }
            let folded: u64 = (LIMIT..2 * USERS).map(|u| recorded[&(u, m, s)]).sum();
            assert_eq!(
                value_of(&text, method, status, LABEL_OVERFLOW),
                Some(folded as f64),
                "{text}"
            );
        }
    }
    let total: u64 = recorded.values().sum();
    assert_eq!(sum_of(&text, M), total as f64, "{text}");
    // Every registration of a folded user counts: 30 + 40 + 30 users.
    let folded_registrations = (USERS - LIMIT + USERS + USERS - LIMIT) * COMBOS;
    assert_eq!(
        overflow_total(&text, M, "label_limit"),
        folded_registrations as f64,
        "{text}"
    );
    let report = exporter.report();
    let user = label_report(&report, M, "user");
    assert_eq!(user.values, Some(LIMIT), "{user:?}");
    assert_eq!(user.folded, folded_registrations, "{user:?}");
    assert!(user.demand.abs_diff(2 * USERS) <= 2, "{user:?}");
    assert_series_accounting(&text, &report);
}

#[test]
fn a_gauge_of_a_folded_user_does_not_jump_between_series() {
    let toml = "[[metrics]]\nmatch = \"sessions\"\nlabel_limits = { user = 2 }\n";
    let (guard, exporter) = guarded(toml);
    metrics::with_local_recorder(&guard, || {
        for round in 0..3 {
            for u in 0..6 {
                let g = metrics::gauge!("sessions", "user" => u.to_string(), "region" => "eu");
                if round < 2 {
                    g.increment(1.0);
                } else {
                    g.decrement(2.0);
                }
            }
        }
    });
    let text = exporter.render();
    let sets = label_sets_of(&text, "sessions");
    assert_eq!(sets.len(), 3, "users 0, 1 and __overflow__:\n{text}");
    for s in parse(&text).iter().filter(|s| s.name == "sessions") {
        assert_eq!(s.label("region"), "eu", "{text}");
        assert_eq!(s.value, 0.0, "{s:?} nets to zero:\n{text}");
    }
}

/// The series budget still applies to the rewritten label sets.
#[test]
fn series_admission_still_applies_after_rewriting() {
    const MAX_SERIES: u64 = 5;
    let (guard, exporter) = guarded(&limited(&format!("max_series = {MAX_SERIES}\n")));
    let mut recorded = BTreeMap::new();
    metrics::with_local_recorder(&guard, || {
        traffic(0..USERS, &mut recorded);
        traffic(0..USERS, &mut recorded);
    });
    let text = exporter.render();
    let samples = parse(&text);
    let series = samples_of(&samples, M);
    assert_eq!(
        series.len() as u64,
        MAX_SERIES,
        "budget used fully:\n{text}"
    );
    assert_eq!(
        series.iter().filter(|s| is_overflow(s)).count(),
        1,
        "{text}"
    );
    let total: u64 = recorded.values().sum();
    assert_eq!(sum_of(&text, M), total as f64, "{text}");
    // No rewritten label set reached a series of its own (the budget was
    // full first): each such registration counts once, under the reason
    // that decided where it ended (issue 21), never under `label_limit`.
    assert_eq!(overflow_total(&text, M, "label_limit"), 0.0, "{text}");
    assert!(overflow_total(&text, M, "series_limit") > 0.0, "{text}");
    // Folded users never render, even in the overflow series.
    for s in &series {
        let user = s.label("user");
        assert!(
            user.is_empty() || user.parse::<u64>().is_ok_and(|u| u < LIMIT),
            "{s:?}:\n{text}"
        );
    }
    let report = exporter.report();
    let metric = report.metric(M).expect("tracked");
    assert_eq!(metric.series, MAX_SERIES);
    assert_eq!(metric.blame.as_deref(), Some("user"), "{metric:?}");
    assert_series_accounting(&text, &report);
}

/// Runs `traffic` twice (each label set registered twice) under `toml`.
fn twice(toml: &str) -> (String, Report) {
    let (guard, exporter) = guarded(toml);
    let mut recorded = BTreeMap::new();
    metrics::with_local_recorder(&guard, || {
        traffic(0..USERS, &mut recorded);
        traffic(0..USERS, &mut recorded);
    });
    let text = exporter.render();
    let report = exporter.report();
    assert_eq!(
        sum_of(&text, M),
        recorded.values().sum::<u64>() as f64,
        "{text}"
    );
    assert_series_accounting(&text, &report);
    (text, report)
}

#[test]
fn shadow_mode_rewrites_nothing_and_counts_label_limit() {
    let (text, report) = twice(&limited("mode = \"shadow\"\n"));
    let users: BTreeSet<String> = (0..USERS).map(|u| u.to_string()).collect();
    assert_eq!(
        label_values(&text, M, "user"),
        users,
        "nothing rewritten:\n{text}"
    );
    assert_eq!(
        label_sets_of(&text, M).len() as u64,
        USERS * COMBOS,
        "{text}"
    );
    assert!(overflow_total(&text, M, "label_limit") > 0.0, "{text}");
    let metric = report.metric(M).expect("tracked");
    assert!(metric.overflow.label_limit > 0, "{metric:?}");
    assert_eq!(metric.blame.as_deref(), Some("user"), "{metric:?}");
    let user = label_report(&report, M, "user");
    assert_eq!(
        user.values,
        Some(LIMIT),
        "what enforce would keep: {user:?}"
    );
    assert!(user.folded > 0, "{user:?}");
}

/// Runs `twice` in enforce and in shadow mode under `extra` settings and
/// checks that shadow counts what enforce counted.
fn check_shadow_counts_enforce(extra: &str) {
    let (enforce_text, enforce) = twice(&limited(extra));
    let (shadow_text, shadow) = twice(&limited(&format!("{extra}mode = \"shadow\"\n")));
    let (e, s) = (enforce.metric(M).unwrap(), shadow.metric(M).unwrap());
    assert!(e.overflow.label_limit > 0, "{e:?}");
    assert_eq!(
        s.overflow, e.overflow,
        "shadow {:?} vs enforce {:?}",
        s.overflow, e.overflow
    );
    for reason in ["label_limit", "series_limit"] {
        assert_eq!(
            overflow_total(&shadow_text, M, reason),
            overflow_total(&enforce_text, M, reason),
            "{reason}:\n{shadow_text}"
        );
    }
    assert_eq!(
        label_report(&shadow, M, "user").folded,
        label_report(&enforce, M, "user").folded,
    );
}

/// SPEC: shadow mode "evaluates everything, reports it, and alters nothing";
/// its counts are what enforce would have counted, as for series limits
/// (where a label set registered again is counted again). Each label set is
/// registered twice here.
#[test]
fn shadow_mode_counts_every_registration_enforce_would_fold() {
    check_shadow_counts_enforce("");
}

/// Enforce admits only `limit + 1` user values × 6 combinations (66 series,
/// within a budget of 100), so it never folds at stage 2; shadow must not
/// report a `series_limit` overflow that enforce would never have had.
#[test]
fn shadow_mode_evaluates_the_series_budget_on_the_rewritten_label_sets() {
    check_shadow_counts_enforce("max_series = 100\n");
}

const ROUNDS: usize = 150;

#[test]
fn racing_threads_admit_exactly_the_limit_of_values() {
    for round in 0..ROUNDS {
        let limit = 1 + round % 12;
        let values = 2 * limit + 3;
        let toml = format!("[[metrics]]\nmatch = \"{M}\"\nlabel_limits = {{ user = {limit} }}\n");
        let (guard, exporter) = guarded(&toml);
        race(&guard, |t| {
            for v in walk(t, values) {
                let method = METHODS[v % METHODS.len()];
                metrics::counter!(M, "method" => method, "user" => v.to_string()).increment(1);
            }
        });
        let text = exporter.render();
        let ctx = format!("round {round}, limit {limit}:\n{text}");
        let samples = parse(&text);
        let series = samples_of(&samples, M);
        let admitted: Vec<_> = series
            .iter()
            .filter(|s| s.label("user") != LABEL_OVERFLOW)
            .collect();
        assert_eq!(admitted.len(), limit, "exactly the limit: {ctx}");
        // Sticky under contention: an admitted user got every thread's update.
        for s in &admitted {
            assert_eq!(s.value, THREADS as f64, "{:?}: {ctx}", s.labels);
        }
        let sent = THREADS * values;
        assert_eq!(sum_of(&text, M), sent as f64, "conserved: {ctx}");
        let folded_registrations = (THREADS * (values - limit)) as f64;
        let folded_in_series: f64 = series
            .iter()
            .filter(|s| s.label("user") == LABEL_OVERFLOW)
            .map(|s| s.value)
            .sum();
        assert_eq!(folded_in_series, folded_registrations, "{ctx}");
        assert_eq!(
            overflow_total(&text, M, "label_limit"),
            folded_registrations,
            "{ctx}"
        );
        let report = exporter.report();
        let user = label_report(&report, M, "user");
        assert_eq!(user.values, Some(limit as u64), "{user:?}: {ctx}");
        assert_eq!(user.folded as f64, folded_registrations, "{user:?}: {ctx}");
        assert!(user.demand.abs_diff(values as u64) <= 1, "{user:?}: {ctx}");
        assert_series_accounting(&text, &report);
    }
}

#[test]
fn racing_threads_never_push_the_rewritten_label_sets_past_the_series_budget() {
    for round in 0..ROUNDS {
        let limit = 2 + round % 5;
        let max_series = 2 + round % 7;
        let values = 3 * limit;
        let toml = format!(
            "[[metrics]]\nmatch = \"{M}\"\nmax_series = {max_series}\n\
             label_limits = {{ user = {limit} }}\n"
        );
        let (guard, exporter) = guarded(&toml);
        race(&guard, |t| {
            for v in walk(t, values) {
                for method in METHODS {
                    metrics::counter!(M, "method" => method, "user" => v.to_string()).increment(1);
                }
            }
        });
        let text = exporter.render();
        let ctx = format!("round {round}, limit {limit}, max_series {max_series}:\n{text}");
        let series = label_sets_of(&text, M);
        assert!(series.len() <= max_series, "{ctx}");
        // limit + 1 user values × 3 methods always exceed the budget: it fills.
        assert_eq!(series.len(), max_series, "budget used fully: {ctx}");
        let overflow = BTreeMap::from([("otel_metric_overflow".to_owned(), "true".to_owned())]);
        assert!(series.contains(&overflow), "{ctx}");
        let sent = THREADS * values * METHODS.len();
        assert_eq!(sum_of(&text, M), sent as f64, "conserved: {ctx}");
        let users: BTreeSet<String> = label_values(&text, M, "user")
            .into_iter()
            .filter(|u| u != LABEL_OVERFLOW)
            .collect();
        assert!(users.len() <= limit, "{users:?}: {ctx}");
        let report = exporter.report();
        assert_eq!(report.metric(M).unwrap().series, max_series as u64, "{ctx}");
        assert!(
            labeled_value(&text, "cardinality_guard_series", &[("metric", M)])
                == Some(max_series as f64),
            "{ctx}"
        );
        assert_series_accounting(&text, &report);
    }
}
