//! Issue 21: a registration that a label limit rewrote and the series
//! budget then folded counts once in `cardinality_guard_overflow_total`,
//! under the reason that decided where it ended; the updates the report
//! measures equal what the same render shows; and the running label limits
//! render as `cardinality_guard_label_limit{metric, label}`. Through the
//! real render of a `PrometheusGuard`.

mod support;

use cardinality_guard_core::OverflowReason;
use support::{guarded, labeled_value, overflow_total, parse, sum_of};

const M: &str = "logins_total";

/// `user` limited to one value, a budget of 2 label sets (3 series, one
/// kept for the overflow series).
fn toml(mode: &str) -> String {
    format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 3\nmode = \"{mode}\"\n\
         label_limits = {{ user = 1 }}\n"
    )
}

#[test]
fn a_rewritten_registration_the_budget_folds_counts_once() {
    for mode in ["enforce", "shadow"] {
        let (recorder, exporter) = guarded(&toml(mode));
        let mut registrations = 0u64;
        metrics::with_local_recorder(&recorder, || {
            // method-major: (user 0, m0) and (__overflow__, m0) take the
            // budget; the rest of m0 reaches (__overflow__, m0); every
            // registration of m1 and m2 is folded by the budget, 8 of them
            // rewritten by the label limit first.
            for method in ["m0", "m1", "m2"] {
                for user in 0..5 {
                    metrics::counter!(M, "user" => user.to_string(), "method" => method)
                        .increment(1);
                    registrations += 1;
                }
            }
        });
        let text = exporter.render();
        // Only (user 0, m0) reached its own series.
        let own = 1;
        let counted: f64 = OverflowReason::ALL
            .iter()
            .map(|r| overflow_total(&text, M, r.as_str()))
            .sum();
        assert_eq!(counted, (registrations - own) as f64, "{mode}:\n{text}");
        assert_eq!(overflow_total(&text, M, "label_limit"), 4.0, "{mode}");
        assert_eq!(overflow_total(&text, M, "series_limit"), 10.0, "{mode}");
        let report = exporter.report();
        let metric = report.metric(M).unwrap();
        assert_eq!(metric.overflow.total(), registrations - own, "{mode}");
        // The label's own count keeps every rewrite.
        let user = metric.labels.iter().find(|l| l.name == "user").unwrap();
        assert_eq!(user.folded, 12, "{mode}: {user:?}");
    }
}

#[test]
fn the_updates_reported_are_what_the_render_shows() {
    let (recorder, exporter) = guarded(
        "[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 8\nlabel_limits = { user = 2 }\n\
         [[metrics]]\nmatch = \"wait_seconds\"\nlabel_limits = { user = 2 }\n",
    );
    metrics::with_local_recorder(&recorder, || {
        for user in 0..6u64 {
            for queue in ["a", "b", "c"] {
                metrics::counter!("jobs_total", "user" => user.to_string(), "queue" => queue)
                    .increment(user + 1);
                for _ in 0..=user {
                    metrics::histogram!("wait_seconds", "user" => user.to_string()).record(0.5);
                }
            }
        }
        metrics::gauge!("workers", "user" => "0").set(3.0);
    });
    let report = exporter.report();
    let text = exporter.render();
    let folded_in = |name: &str| -> f64 {
        parse(&text)
            .iter()
            .filter(|s| {
                s.name == name && s.labels.get("user").map(String::as_str) == Some("__overflow__")
            })
            .map(|s| s.value)
            .sum()
    };
    for (metric, counted) in [
        ("jobs_total", "jobs_total"),
        ("wait_seconds", "wait_seconds_count"),
    ] {
        let m = report.metric(metric).unwrap();
        assert_eq!(
            m.updates,
            Some(sum_of(&text, counted) as u64),
            "{metric}:\n{text}"
        );
        let user = m.labels.iter().find(|l| l.name == "user").unwrap();
        assert_eq!(
            user.folded_updates,
            Some(folded_in(counted) as u64),
            "{metric}:\n{text}"
        );
        assert!(user.folded_updates.unwrap() > 0, "{metric}: {user:?}");
    }
    // 3 × (1 + 2 + … + 6) increments; the budget folded some into the
    // overflow series, which counts too.
    assert_eq!(report.metric("jobs_total").unwrap().updates, Some(63));
    assert!(report.metric("jobs_total").unwrap().overflow_series);
    // A gauge's values are no updates.
    assert_eq!(report.metric("workers").unwrap().updates, None);
    // The Observation reads them.
    let observed = report.metric("wait_seconds").unwrap().observation();
    assert_eq!(observed.updates, Some(63));
    assert_eq!(observed.labels[0].folded_updates, Some(3 * (3 + 4 + 5 + 6)));
    // And the JSON carries them.
    let json = serde_json::to_value(report.metric("wait_seconds").unwrap()).unwrap();
    assert_eq!(json["updates"], 63);
    assert_eq!(json["labels"][0]["folded_updates"], 54);
}

#[test]
fn running_label_limits_render_in_the_self_report() {
    let (recorder, exporter) = guarded(&toml("enforce"));
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!(M, "user" => "u", "method" => "m").increment(1);
    });
    let text = exporter.render();
    let limit = |label| {
        labeled_value(
            &text,
            "cardinality_guard_label_limit",
            &[("metric", M), ("label", label)],
        )
    };
    assert_eq!(limit("user"), Some(1.0), "{text}");
    assert_eq!(limit("method"), None, "only labels with a limit:\n{text}");
    assert!(
        text.contains("# TYPE cardinality_guard_label_limit gauge\n"),
        "{text}"
    );
    assert!(
        text.contains("# HELP cardinality_guard_label_limit "),
        "{text}"
    );
}
