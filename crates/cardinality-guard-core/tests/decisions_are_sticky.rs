//! The same label set always goes to the same place: a folded one to the
//! overflow series every time it is registered, an admitted one to its own
//! series even after the budget filled.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::{assert_series_accounting, guarded, label_sets_of, labeled_value, sum_of};

/// Room for 2 label sets of a counter or gauge, and the overflow series.
fn budget_of_three(m: &str) -> String {
    format!("[[metrics]]\nmatch = \"{m}\"\nmax_series = 3\n")
}

const OVERFLOW: (&str, &str) = ("otel_metric_overflow", "true");

/// The label set of one sample, as `label_sets_of` gives it.
fn labels<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn a_gauge_raised_and_lowered_through_separate_registrations_nets_to_zero() {
    let m = "connections";
    let (guard, exporter) = guarded(&budget_of_three(m));
    let peers = 0..10_u32;
    let amount = |p: u32| f64::from(p + 1);
    metrics::with_local_recorder(&guard, || {
        for p in peers.clone() {
            metrics::gauge!(m, "peer" => p.to_string()).increment(amount(p));
        }
        // Peers 0 and 1 were admitted; the rest went to the overflow series.
        let text = exporter.render();
        let folded: f64 = peers.clone().skip(2).map(amount).sum();
        assert_eq!(labeled_value(&text, m, &[OVERFLOW]), Some(folded), "{text}");
        for p in peers.clone() {
            metrics::gauge!(m, "peer" => p.to_string()).decrement(amount(p));
        }
    });
    let text = exporter.render();
    let expected = BTreeSet::from([
        labels([("peer", "0")]),
        labels([("peer", "1")]),
        labels([OVERFLOW]),
    ]);
    assert_eq!(label_sets_of(&text, m), expected, "{text}");
    for sample in support::parse(&text).iter().filter(|s| s.name == m) {
        assert_eq!(sample.value, 0.0, "{sample:?}:\n{text}");
    }
    assert_series_accounting(&text, &exporter.report());
}

#[test]
fn an_admitted_label_set_keeps_its_series_after_the_budget_filled() {
    let m = "logins_total";
    let (guard, exporter) = guarded(&budget_of_three(m));
    let login = |user: &str, n: u64| metrics::counter!(m, "user" => user.to_owned()).increment(n);
    metrics::with_local_recorder(&guard, || {
        login("ada", 1);
        login("bob", 1);
        for u in 0..20 {
            login(&format!("guest{u}"), 1);
        }
        login("ada", 5);
        login("bob", 7);
    });
    let text = exporter.render();
    assert_eq!(
        labeled_value(&text, m, &[("user", "ada")]),
        Some(6.0),
        "{text}"
    );
    assert_eq!(
        labeled_value(&text, m, &[("user", "bob")]),
        Some(8.0),
        "{text}"
    );
    assert_eq!(labeled_value(&text, m, &[OVERFLOW]), Some(20.0), "{text}");
    assert_eq!(exporter.report().metric(m).unwrap().label_sets, 2);
}

#[test]
fn a_folded_histogram_label_set_lands_in_the_overflow_series_every_time() {
    let m = "request_seconds";
    // One bound: 4 series per label set; 8 hold one label set and the overflow series.
    let toml =
        format!("[histograms]\nbuckets = [1.0]\n[[metrics]]\nmatch = \"{m}\"\nmax_series = 8\n");
    let (guard, exporter) = guarded(&toml);
    let registrations = 4;
    metrics::with_local_recorder(&guard, || {
        metrics::histogram!(m, "user" => "first").record(0.5);
        for _ in 0..registrations {
            metrics::histogram!(m, "user" => "late").record(2.0);
        }
    });
    let text = exporter.render();
    let count = labeled_value(&text, &format!("{m}_count"), &[OVERFLOW]);
    assert_eq!(count, Some(registrations as f64), "{text}");
    let sum = labeled_value(&text, &format!("{m}_sum"), &[OVERFLOW]);
    assert_eq!(sum, Some(2.0 * registrations as f64), "{text}");
    assert_eq!(
        sum_of(&text, &format!("{m}_count")),
        (registrations + 1) as f64
    );
    let expected = BTreeSet::from([labels([("user", "first")]), labels([OVERFLOW])]);
    assert_eq!(label_sets_of(&text, m), expected, "{text}");
    assert_series_accounting(&text, &exporter.report());
}

/// Label order does not make a label set: raising a gauge with its labels in
/// one order and lowering it with them in the other hits the same series,
/// admitted or folded.
#[test]
fn label_order_does_not_move_a_label_set() {
    let m = "workers_busy";
    let (guard, exporter) = guarded(&budget_of_three(m));
    let pools = 0..6_u32;
    metrics::with_local_recorder(&guard, || {
        for p in pools.clone() {
            let (pool, tier) = (p.to_string(), (p % 2).to_string());
            metrics::gauge!(m, "pool" => pool.clone(), "tier" => tier.clone()).increment(3.0);
        }
        for p in pools.clone() {
            let (pool, tier) = (p.to_string(), (p % 2).to_string());
            metrics::gauge!(m, "tier" => tier, "pool" => pool).decrement(3.0);
        }
    });
    let text = exporter.render();
    let rendered = support::parse(&text);
    let values: Vec<f64> = rendered
        .iter()
        .filter(|s| s.name == m)
        .map(|s| s.value)
        .collect();
    assert_eq!(
        values, [0.0; 3],
        "two pools and the overflow series:\n{text}"
    );
    assert_eq!(exporter.report().metric(m).unwrap().label_sets, 2);
    assert_series_accounting(&text, &exporter.report());
}
