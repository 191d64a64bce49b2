//! Idle expiry against the real `PrometheusRecorder`, on a manual clock: the
//! guard expires idle label sets at a render, frees their budget, hides them
//! from the exposition, and brings them back when they are updated again.

mod support;

use std::time::Duration;

use cardinality_guard_core::{ManualClock, PrometheusGuard};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::*;

static METADATA: Metadata<'static> = Metadata::new("test", Level::INFO, None);

const SECOND: Duration = Duration::from_secs(1);

fn key(name: &str, labels: &[(&str, String)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(k.to_string(), v.clone()))
        .collect();
    Key::from_parts(name.to_owned(), labels)
}

fn user(name: &str, u: impl ToString) -> Key {
    key(name, &[("user", u.to_string())])
}

fn users_of(text: &str, m: &str) -> Vec<String> {
    let mut users: Vec<String> = label_values(text, m, "user").into_iter().collect();
    users.sort();
    users
}

/// Renders, checks that every metric's self-report equals what renders, and
/// returns the text.
fn scrape(exporter: &PrometheusGuard) -> String {
    let text = exporter.render();
    assert_series_accounting(&text, &exporter.report());
    text
}

/// Lets a 30 s idle timeout pass with no update: a scrape past it notes the
/// last activity, the next one expires. Returns the last render.
fn idle_past_30s(exporter: &PrometheusGuard, clock: &ManualClock) -> String {
    clock.advance(31 * SECOND);
    scrape(exporter);
    clock.advance(31 * SECOND);
    scrape(exporter)
}

#[test]
fn an_idle_label_set_expires_and_frees_its_budget() {
    const M: &str = "logins_total";
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 3\nidle_timeout = \"60s\"\n"
    ));
    for u in ["a", "b", "c", "d"] {
        guard.register_counter(&user(M, u), &METADATA).increment(1);
    }
    let text = scrape(&exporter);
    assert_eq!(users_of(&text, M), ["a", "b"], "{text}");
    assert_eq!(
        value_exact(&text, M, &[("otel_metric_overflow", "true")]),
        Some(2.0)
    );

    // "a" stays busy; "b" and the overflow series go idle.
    for _ in 0..4 {
        clock.advance(20 * SECOND);
        guard
            .register_counter(&user(M, "a"), &METADATA)
            .increment(1);
        scrape(&exporter);
    }
    let text = scrape(&exporter);
    assert_eq!(users_of(&text, M), ["a"], "b expired, a did not:\n{text}");
    assert_eq!(value_exact(&text, M, &[("user", "a")]), Some(5.0));
    assert!(
        value_exact(&text, M, &[("otel_metric_overflow", "true")]).is_none(),
        "the idle overflow series expires too:\n{text}"
    );
    let report = exporter.report();
    let m = report.metric(M).expect("tracked");
    assert_eq!((m.series, m.label_sets, m.expired), (1, 1, 1));
    assert_eq!(m.idle_timeout_seconds, Some(60.0));

    // The freed room takes a new label set.
    guard
        .register_counter(&user(M, "e"), &METADATA)
        .increment(7);
    let text = scrape(&exporter);
    assert_eq!(users_of(&text, M), ["a", "e"], "{text}");
    assert_eq!(value_exact(&text, M, &[("user", "e")]), Some(7.0));
}

#[test]
fn a_held_handle_that_outlives_expiry_keeps_its_data() {
    const M: &str = "jobs_total";
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 10\nidle_timeout = \"30s\"\n"
    ));
    let held = guard.register_counter(&user(M, "kept"), &METADATA);
    held.increment(5);
    let gauge = guard.register_gauge(&user("queue_depth", "kept"), &METADATA);
    gauge.set(3.0);
    scrape(&exporter);

    let text = idle_past_30s(&exporter, &clock);
    assert!(users_of(&text, M).is_empty(), "expired:\n{text}");
    assert_eq!(exporter.report().metric(M).map(|m| m.series), Some(0));

    // The handle was kept all along: its next update brings the series back
    // with everything it counted.
    held.increment(2);
    let text = scrape(&exporter);
    assert_eq!(
        value_exact(&text, M, &[("user", "kept")]),
        Some(7.0),
        "{text}"
    );
    let m = exporter.report().metric(M).cloned().expect("tracked");
    assert_eq!((m.series, m.expired, m.revived), (1, 1, 1));
    // The gauge had no timeout of its own ([defaults] has none): never expired.
    assert_eq!(
        value_exact(&text, "queue_depth", &[("user", "kept")]),
        Some(3.0)
    );

    // And again: a handle survives any number of expiries.
    for round in 1..=3u64 {
        let text = idle_past_30s(&exporter, &clock);
        assert!(users_of(&text, M).is_empty(), "round {round}:\n{text}");
        held.increment(1);
        let text = scrape(&exporter);
        assert_eq!(
            value_exact(&text, M, &[("user", "kept")]),
            Some(7.0 + round as f64),
            "round {round}:\n{text}"
        );
    }
}

#[test]
fn a_held_handle_brought_back_without_room_folds_and_loses_nothing() {
    const M: &str = "carts_total";
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 3\nidle_timeout = \"30s\"\n"
    ));
    let held = guard.register_counter(&user(M, "old"), &METADATA);
    held.increment(4);
    scrape(&exporter);
    idle_past_30s(&exporter, &clock); // "old" expired: its room is free
    for u in ["x", "y", "z"] {
        guard.register_counter(&user(M, u), &METADATA).increment(1);
    }
    let text = scrape(&exporter);
    assert_eq!(users_of(&text, M), ["x", "y"], "{text}");

    held.increment(10);
    let text = scrape(&exporter);
    assert_eq!(users_of(&text, M), ["x", "y"], "no room for old:\n{text}");
    assert_eq!(
        value_exact(&text, M, &[("otel_metric_overflow", "true")]),
        Some(11.0),
        "z (1) and old's update (10) in the overflow series:\n{text}"
    );
    held.increment(1);
    let text = scrape(&exporter);
    assert_eq!(
        value_exact(&text, M, &[("otel_metric_overflow", "true")]),
        Some(12.0)
    );
}

#[test]
fn after_a_junk_burst_expires_legitimate_label_sets_are_admitted() {
    const M: &str = "http_requests_total";
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 101\nidle_timeout = \"5m\"\n"
    ));
    let path = |p: String| key(M, &[("path", p)]);
    // A scanner fills the budget once.
    for i in 0..1_000 {
        guard
            .register_counter(&path(format!("/scan/{i}")), &METADATA)
            .increment(1);
    }
    // Legitimate traffic, every minute: folded while the junk holds the room.
    let legit: Vec<String> = (0..20).map(|i| format!("/api/{i}")).collect();
    let mut sent = 0u64;
    let minute = |sent: &mut u64| {
        for p in &legit {
            guard
                .register_counter(&path(p.clone()), &METADATA)
                .increment(1);
            *sent += 1;
        }
        clock.advance(60 * SECOND);
        scrape(&exporter)
    };
    let text = minute(&mut sent);
    assert!(label_values(&text, M, "path")
        .iter()
        .all(|p| p.starts_with("/scan/")));
    for _ in 0..6 {
        minute(&mut sent);
    }
    let text = scrape(&exporter);
    let paths = label_values(&text, M, "path");
    assert!(
        paths.iter().all(|p| p.starts_with("/api/")),
        "the junk expired:\n{text}"
    );
    assert_eq!(
        paths.len(),
        legit.len(),
        "every legitimate path admitted:\n{text}"
    );
    let report = exporter.report();
    let m = report.metric(M).expect("tracked");
    assert_eq!(m.expired, 100, "the 100 junk label sets");
    // Totals: the 900 folded junk registrations and every legitimate one
    // render (in the overflow series or their own); only the 100 expired
    // junk series are gone.
    assert_eq!(sum_of(&text, M), (900 + sent) as f64, "{text}");
}

#[test]
fn the_self_report_equals_the_render_after_every_expiry_step() {
    let (guard, exporter, clock) = expiring(
        "[global]\nmax_series = 400\n\
         [defaults]\nmax_series = 60\nidle_timeout = \"10s\"\n\
         [histograms]\nbuckets = [0.1, 1]\n\
         [[metrics]]\nmatch = \"quiet\"\nidle_timeout = \"40s\"\n\
         [[metrics]]\nmatch = \"dropped\"\non_overflow = \"drop\"\nmax_series = 5\n",
    );
    let mut held = Vec::new();
    for step in 0..40u64 {
        for i in 0..(step % 7) * 5 {
            let u = format!("{}", (step * 13 + i) % 90);
            guard
                .register_counter(&user("busy_total", &u), &METADATA)
                .increment(1);
            guard
                .register_histogram(&user("latency", &u), &METADATA)
                .record(0.5);
            guard.register_gauge(&user("quiet", &u), &METADATA).set(1.0);
            guard
                .register_counter(&user("dropped", &u), &METADATA)
                .increment(1);
        }
        if step % 5 == 0 {
            held.push(guard.register_counter(&user("busy_total", step), &METADATA));
        }
        for (i, h) in held.iter().enumerate() {
            if (step + i as u64).is_multiple_of(9) {
                h.increment(1);
            }
        }
        clock.advance(Duration::from_millis(1_000 + 700 * (step % 11)));
        let text = scrape(&exporter);
        let report = exporter.report();
        for m in &report.metrics {
            assert!(m.series <= m.limit, "step {step}: {} over budget", m.name);
        }
        assert!(report.global.series <= 400, "step {step}");
        assert!(!text.is_empty());
    }
    let report = exporter.report();
    for name in ["busy_total", "latency", "quiet", "dropped"] {
        let m = report.metric(name).expect("tracked");
        assert!(m.expired > 0, "{name} never expired: {m:?}");
    }
}

#[test]
fn label_values_are_given_back_when_their_label_sets_expire() {
    const M: &str = "orders_total";
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nlabel_limits = {{ user = 2 }}\nidle_timeout = \"30s\"\n"
    ));
    for u in ["a", "b", "c"] {
        guard.register_counter(&user(M, u), &METADATA).increment(1);
    }
    let text = scrape(&exporter);
    assert_eq!(users_of(&text, M), ["__overflow__", "a", "b"], "{text}");
    for _ in 0..4 {
        clock.advance(20 * SECOND);
        scrape(&exporter);
    }
    for u in ["c", "d", "e"] {
        guard.register_counter(&user(M, u), &METADATA).increment(1);
    }
    let text = scrape(&exporter);
    assert_eq!(
        users_of(&text, M),
        ["__overflow__", "c", "d"],
        "a and b gave their places back:\n{text}"
    );
    let report = exporter.report();
    let labels = &report.metric(M).expect("tracked").labels;
    assert_eq!(labels[0].values, Some(2));
}

#[test]
fn a_budget_reopens_only_once_a_tenth_of_it_is_free() {
    const M: &str = "sessions_total";
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 21\nidle_timeout = \"30s\"\n"
    ));
    // 20 label sets fill the room (the 21st series is the overflow's).
    let held: Vec<_> = (0..20)
        .map(|u| guard.register_counter(&user(M, u), &METADATA))
        .collect();
    guard
        .register_counter(&user(M, "late"), &METADATA)
        .increment(1);
    // One label set goes idle: one place is free, under a tenth of 20.
    let busy = |held: &[metrics::Counter]| held[1..].iter().for_each(|h| h.increment(1));
    for _ in 0..4 {
        busy(&held);
        clock.advance(20 * SECOND);
        scrape(&exporter);
    }
    assert_eq!(exporter.report().metric(M).map(|m| m.label_sets), Some(19));
    guard
        .register_counter(&user(M, "next"), &METADATA)
        .increment(1);
    let text = scrape(&exporter);
    assert!(
        !users_of(&text, M).contains(&"next".to_owned()),
        "still closed with one place free:\n{text}"
    );
    // A second idle one: two places free, a tenth of the room: it reopens.
    for _ in 0..4 {
        held[2..].iter().for_each(|h| h.increment(1));
        clock.advance(20 * SECOND);
        scrape(&exporter);
    }
    guard
        .register_counter(&user(M, "next"), &METADATA)
        .increment(1);
    guard
        .register_counter(&user(M, "after"), &METADATA)
        .increment(1);
    let text = scrape(&exporter);
    let users = users_of(&text, M);
    assert!(users.contains(&"next".to_owned()), "{text}");
    assert!(users.contains(&"after".to_owned()), "{text}");
}

#[test]
fn histograms_expire_like_any_series() {
    let config = |rules: &str| {
        format!("[defaults]\nidle_timeout = \"30s\"\n[histograms]\nbuckets = [1]\n{rules}")
    };
    let run = |toml: String| {
        let (guard, exporter, clock) = expiring(&toml);
        guard
            .register_histogram(&user("lat", "a"), &METADATA)
            .record(0.5);
        guard
            .register_counter(&user("hits", "a"), &METADATA)
            .increment(1);
        scrape(&exporter);
        let text = idle_past_30s(&exporter, &clock);
        (
            label_sets_of(&text, "lat").len(),
            label_sets_of(&text, "hits").len(),
        )
    };
    assert_eq!(run(config("")), (0, 0), "both expire");
    // A rule that turns expiry off for another metric changes nothing here.
    let other = config("[[metrics]]\nmatch = \"other\"\nidle_timeout = \"off\"\n");
    assert_eq!(run(other), (0, 0), "both expire");
    // Off for the histogram: it stays, the counter expires.
    let kept = config("[[metrics]]\nmatch = \"lat\"\nidle_timeout = \"off\"\n");
    assert_eq!(
        run(kept),
        (1, 0),
        "the histogram stays, the counter expires"
    );
}

#[test]
fn registering_an_expired_label_set_again_brings_it_back() {
    const M: &str = "clicks_total";
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 5\nidle_timeout = \"30s\"\n"
    ));
    metrics::with_local_recorder(&guard, || {
        metrics::counter!(M, "user" => "a").increment(3);
    });
    scrape(&exporter);
    let text = idle_past_30s(&exporter, &clock);
    assert!(users_of(&text, M).is_empty(), "{text}");
    metrics::with_local_recorder(&guard, || {
        metrics::counter!(M, "user" => "a").increment(1);
    });
    let text = scrape(&exporter);
    // Its storage was deleted at expiry: a new series, from zero (a
    // counter reset to Prometheus).
    assert_eq!(value_exact(&text, M, &[("user", "a")]), Some(1.0), "{text}");
    // Coming back starts a new idle period: the next sweeps keep it.
    for _ in 0..2 {
        clock.advance(10 * SECOND);
        let text = scrape(&exporter);
        assert_eq!(value_exact(&text, M, &[("user", "a")]), Some(1.0), "{text}");
    }
    let m = exporter.report().metric(M).cloned().expect("tracked");
    assert_eq!((m.expired, m.revived, m.admitted), (1, 0, 2));
}
