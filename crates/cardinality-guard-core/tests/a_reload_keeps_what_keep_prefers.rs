//! A reload that lowers a budget (or gives a label a limit) evicts at the
//! next upkeep, and the label sets that stay are those `keep` prefers:
//! under `consistent`, the same ones whatever order they came in (two
//! replicas agree); under `busiest`, the busiest; under `first`, the first.
//! An update no render has shown keeps its series until one has, whatever
//! `keep` prefers. Checked on the real render, on a manual clock.

mod support;

use std::collections::BTreeSet;

use cardinality_guard_core::{Config, GuardRecorder, PrometheusGuard};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn config(max_series: u64, keep: &str, extra: &str) -> Config {
    let toml = format!(
        "[[metrics]]\nmatch = \"logins_total\"\nmax_series = {max_series}\nkeep = \"{keep}\"\n{extra}"
    );
    Config::from_toml(&toml, "<test>").expect("test config is valid")
}

fn login(recorder: &GuardRecorder, user: &str, n: u64) {
    let key = Key::from_parts("logins_total", vec![Label::new("user", user.to_owned())]);
    recorder.register_counter(&key, &METADATA).increment(n);
}

fn users(exporter: &PrometheusGuard) -> BTreeSet<String> {
    let mut users = label_values(&exporter.render(), "logins_total", "user");
    users.remove("");
    users
}

/// A guard holding 100 users, registered in `order`, each `weight(i)` times.
fn filled(
    keep: &str,
    order: &[usize],
    weight: impl Fn(usize) -> u64,
) -> (GuardRecorder, PrometheusGuard) {
    let (recorder, exporter, _clock) = on_manual_clock(config(101, keep, ""));
    for &i in order {
        login(&recorder, &format!("user-{i}"), weight(i));
    }
    exporter.run_upkeep(); // busiest: the scores measure what each counted
    assert_eq!(users(&exporter).len(), 100);
    (recorder, exporter)
}

#[test]
fn consistent_replicas_keep_the_same_label_sets_after_a_lower_budget() {
    let forward: Vec<usize> = (0..100).collect();
    let backward: Vec<usize> = (0..100).rev().collect();
    let (_a, replica_a) = filled("consistent", &forward, |_| 1);
    let (_b, replica_b) = filled("consistent", &backward, |_| 1);
    for replica in [&replica_a, &replica_b] {
        replica.reload(config(31, "consistent", "")).unwrap();
        let _ = replica.render();
        replica.run_upkeep();
    }
    let (kept_a, kept_b) = (users(&replica_a), users(&replica_b));
    assert_eq!(kept_a.len(), 30, "{kept_a:?}");
    assert_eq!(kept_a, kept_b, "two replicas keep the same label sets");
    let report = replica_a.report();
    let logins = report.metric("logins_total").unwrap();
    assert_eq!(logins.evicted.reload, 70);
    let text = replica_a.render();
    let evicted = labeled_value(
        &text,
        "cardinality_guard_evicted_total",
        &[("metric", "logins_total"), ("reason", "reload")],
    );
    assert_eq!(evicted, Some(70.0));
}

#[test]
fn first_keeps_the_earliest_and_busiest_the_busiest() {
    let order: Vec<usize> = (0..100).collect();
    // Users 90..100 count the most, and came last.
    let weight = |i: usize| if i >= 90 { 50 } else { 1 };
    let (_f, first) = filled("first", &order, weight);
    let (_b, busiest) = filled("busiest", &order, weight);
    first.reload(config(11, "first", "")).unwrap();
    busiest.reload(config(11, "busiest", "")).unwrap();
    for exporter in [&first, &busiest] {
        let _ = exporter.render();
        exporter.run_upkeep();
    }
    let expect = |range: std::ops::Range<usize>| -> BTreeSet<String> {
        range.map(|i| format!("user-{i}")).collect()
    };
    assert_eq!(users(&first), expect(0..10));
    assert_eq!(users(&busiest), expect(90..100));
}

#[test]
fn a_new_label_limit_keeps_the_values_keep_prefers_and_folds_the_rest() {
    let order: Vec<usize> = (0..100).collect();
    let weight = |i: usize| if i.is_multiple_of(10) { 20 } else { 1 };
    let (recorder, exporter) = filled("busiest", &order, weight);
    exporter
        .reload(config(101, "busiest", "label_limits = { user = 10 }\n"))
        .unwrap();
    let _ = exporter.render();
    exporter.run_upkeep();
    let expect: BTreeSet<String> = (0..100).step_by(10).map(|i| format!("user-{i}")).collect();
    assert_eq!(users(&exporter), expect);
    // The others now fold into `user="__overflow__"`, every increment kept.
    login(&recorder, "user-5", 3);
    login(&recorder, "user-7", 4);
    let text = exporter.render();
    assert_eq!(
        value_exact(&text, "logins_total", &[("user", "__overflow__")]),
        Some(7.0)
    );
}

#[test]
fn an_update_no_render_has_shown_keeps_its_series_until_one_has() {
    let order: Vec<usize> = (0..100).collect();
    let (recorder, exporter) = filled("first", &order, |_| 1);
    let _ = exporter.render();
    // The last ten are updated after the render: the reload would evict
    // them, but no render has shown their last update yet.
    for i in 90..100 {
        login(&recorder, &format!("user-{i}"), 1);
    }
    exporter.reload(config(81, "first", "")).unwrap();
    exporter.run_upkeep();
    let text = exporter.render();
    for i in 90..100 {
        let user = format!("user-{i}");
        assert_eq!(
            value_exact(&text, "logins_total", &[("user", user.as_str())]),
            Some(2.0),
            "{user} kept until a render showed its last update"
        );
    }
    exporter.run_upkeep();
    let left = users(&exporter);
    assert_eq!(left.len(), 80, "{left:?}");
    let expect: BTreeSet<String> = (0..80).map(|i| format!("user-{i}")).collect();
    assert_eq!(left, expect, "the first 80 stay");
}

#[test]
fn busiest_swaps_no_gauge_it_cannot_measure() {
    let toml = "[[metrics]]\nmatch = \"workers\"\nmax_series = 51\nkeep = \"busiest\"\n";
    let (recorder, exporter, _clock) = on_manual_clock(Config::from_toml(toml, "<test>").unwrap());
    for _ in 0..60 {
        for worker in 0..100 {
            for _ in 0..3 {
                let key = Key::from_parts("workers", vec![Label::new("id", worker.to_string())]);
                recorder.register_gauge(&key, &METADATA).set(1.0);
            }
        }
        let _ = exporter.render();
        exporter.run_upkeep();
    }
    let report = exporter.report();
    let workers = report.metric("workers").unwrap();
    assert_eq!(workers.evicted.outranked, 0, "{:?}", workers.evicted);
    assert_eq!(workers.admitted, 50);
}
