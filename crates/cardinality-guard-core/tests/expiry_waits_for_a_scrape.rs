//! Idle expiry never loses an update: a series expires only once a render
//! (a scrape) has seen its last update, however long the clock runs and
//! however many sweeps pass meanwhile; its budget is freed the moment it
//! expires; a handle user code keeps brings its series back with every
//! update. All on the guard's manual clock: nothing here sleeps.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cardinality_guard_core::{ManualClock, PrometheusGuard};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const OVERFLOW: [(&str, &str); 1] = [("otel_metric_overflow", "true")];

fn user(name: &str, u: impl ToString) -> Key {
    Key::from_parts(name.to_owned(), vec![Label::new("user", u.to_string())])
}

/// Renders, checks the self-report against the lines rendered, returns the text.
fn scrape(exporter: &PrometheusGuard) -> String {
    let text = exporter.render();
    assert_series_accounting(&text, &exporter.report());
    text
}

fn users_of(text: &str, m: &str) -> BTreeSet<String> {
    label_values(text, m, "user")
}

/// (rendered series, label sets, expired) of `m` by the report.
fn figures(exporter: &PrometheusGuard, m: &str) -> (u64, u64, u64) {
    let report = exporter.report();
    let r = report.metric(m).expect("tracked");
    (r.series, r.label_sets, r.expired)
}

#[test]
fn a_series_no_render_has_seen_never_expires() {
    const M: &str = "unseen_total";
    // Fold mode, 2 series: one label set and the overflow series' room.
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 2\nidle_timeout = \"2s\"\n"
    ));
    guard
        .register_counter(&user(M, "a"), &METADATA)
        .increment(3);
    // 100 minutes of manual clock, 6,000 sweeps, no render.
    for _ in 0..6_000 {
        clock.advance(SECOND);
        exporter.run_upkeep();
    }
    assert_eq!(
        figures(&exporter, M),
        (1, 1, 0),
        "unscraped: kept by every sweep"
    );
    // Its budget is still held: another label set folds.
    guard
        .register_counter(&user(M, "b"), &METADATA)
        .increment(1);

    let text = scrape(&exporter);
    assert_eq!(
        value_exact(&text, M, &[("user", "a")]),
        Some(3.0),
        "the render sees the update every sweep kept:\n{text}"
    );
    assert_eq!(value_exact(&text, M, &OVERFLOW), Some(1.0), "{text}");

    // Scraped, and idle for far longer than 2 s: the next sweep expires it
    // (the overflow series, updated just now, stays).
    exporter.run_upkeep();
    assert_eq!(figures(&exporter, M), (1, 0, 1), "a expired at once");
    clock.advance(2 * SECOND);
    exporter.run_upkeep();
    assert_eq!(figures(&exporter, M), (0, 0, 1), "the overflow series too");

    // Its budget was freed: a new label set has a series of its own.
    guard
        .register_counter(&user(M, "c"), &METADATA)
        .increment(5);
    let text = scrape(&exporter);
    assert_eq!(
        users_of(&text, M),
        BTreeSet::from(["c".to_owned()]),
        "{text}"
    );
    assert_eq!(value_exact(&text, M, &[("user", "c")]), Some(5.0), "{text}");
    assert_eq!(value_exact(&text, M, &OVERFLOW), None, "{text}");
}

#[test]
fn a_scraped_series_expires_at_the_first_sweep_past_its_timeout_not_before() {
    const M: &str = "edge_total";
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 2\nidle_timeout = \"2s\"\n"
    ));
    guard
        .register_counter(&user(M, "a"), &METADATA)
        .increment(1);
    let text = scrape(&exporter); // the sweep in it notes the update, then renders it
    assert_eq!(value_exact(&text, M, &[("user", "a")]), Some(1.0));
    clock.advance(1_999 * MS);
    exporter.run_upkeep();
    assert_eq!(figures(&exporter, M), (1, 1, 0), "1.999 s idle: kept");
    clock.advance(MS);
    exporter.run_upkeep();
    assert_eq!(figures(&exporter, M), (0, 0, 1), "2 s idle: expired");
    guard
        .register_counter(&user(M, "b"), &METADATA)
        .increment(1);
    let text = scrape(&exporter);
    assert_eq!(
        users_of(&text, M),
        BTreeSet::from(["b".to_owned()]),
        "{text}"
    );
}

#[test]
fn a_burst_of_single_logins_is_scraped_in_full_then_expires() {
    const M: &str = "logins_total";
    const USERS: usize = 200;
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nidle_timeout = \"2s\"\n"
    ));
    let mut scraped: BTreeSet<String> = BTreeSet::new();
    let mut scrapes = 0;
    let record = |text: &str, scraped: &mut BTreeSet<String>| {
        for u in users_of(text, M) {
            assert_eq!(
                value_exact(text, M, &[("user", &u)]),
                Some(1.0),
                "{u} logged in once"
            );
            scraped.insert(u);
        }
    };
    // One login every 50 ms (10 s in all); the upkeep sweeps every 100 ms;
    // a scrape every 5 s: each login waits up to 5 s, past its 2 s timeout.
    for tick in 1..=200u64 {
        clock.advance(50 * MS);
        let u = (tick - 1) as usize;
        guard.register_counter(&user(M, u), &METADATA).increment(1);
        if tick % 2 == 0 {
            exporter.run_upkeep();
        }
        if tick % 100 == 0 {
            let text = scrape(&exporter);
            scrapes += 1;
            record(&text, &mut scraped);
        }
    }
    assert_eq!(scrapes, 2);
    assert_eq!(scraped.len(), USERS, "every login rendered by some scrape");
    assert_eq!(
        scraped,
        (0..USERS).map(|u| u.to_string()).collect::<BTreeSet<_>>()
    );
    // No more logins: the next scrape 5 s later finds them all expired.
    clock.advance(5 * SECOND);
    let text = scrape(&exporter);
    assert!(users_of(&text, M).is_empty(), "all expired:\n{text}");
    assert_eq!(figures(&exporter, M), (0, 0, USERS as u64));
}

#[test]
fn a_crafted_id_never_hides_or_expires_the_live_series() {
    const M: &str = "app_logins_total";
    const IDLE: &str = "C:\\\\data"; // C:\\data: two backslashes
    const LIVE: &str = "C:\\data"; // C:\data: one backslash
    let (guard, exporter, clock) = expiring("[defaults]\nidle_timeout = \"2s\"\n");
    guard
        .register_counter(&user(M, IDLE), &METADATA)
        .increment(1);
    let mut live = 0u64;
    let mut idle_seen = false;
    let mut idle_gone_at = None;
    // An update of the live id every 200 ms (a fresh registration, as a
    // request handler does), a sweep with it, a scrape every second.
    for tick in 1..=50u64 {
        clock.advance(200 * MS);
        guard
            .register_counter(&user(M, LIVE), &METADATA)
            .increment(1);
        live += 1;
        exporter.run_upkeep();
        if tick % 5 != 0 {
            continue;
        }
        let text = exporter.render();
        let report = exporter.report();
        assert_series_accounting(&text, &report);
        assert_eq!(
            value_exact(&text, M, &[("user", LIVE)]),
            Some(live as f64),
            "t = {} ms: the live id with its every update:\n{text}",
            tick * 200
        );
        assert!(
            text.contains(&format!("{M}{{user=\"C:\\\\data\"}} {live}\n")),
            "the live id, escaped once:\n{text}"
        );
        let lines = rendered_series(&text, M);
        assert_eq!(self_reported_series(&text, M), Some(lines as f64));
        match value_exact(&text, M, &[("user", IDLE)]) {
            Some(v) => {
                assert_eq!(v, 1.0, "{text}");
                assert!(idle_gone_at.is_none(), "the idle id came back:\n{text}");
                assert!(text.contains(&format!("{M}{{user=\"C:\\\\\\\\data\"}} 1\n")));
                assert_eq!(lines, 2);
                idle_seen = true;
            }
            None => {
                idle_gone_at.get_or_insert(tick * 200);
                assert_eq!(lines, 1, "{text}");
            }
        }
    }
    assert!(idle_seen, "the idle id was rendered before it expired");
    let gone = idle_gone_at.expect("the idle id expired");
    // Registered at 0, first scraped at 1 s, idle 2 s: gone by the 4 s scrape.
    assert!(gone <= 4_000, "expired at {gone} ms");
    let report = exporter.report();
    let m = report.metric(M).expect("tracked");
    assert_eq!((m.series, m.label_sets, m.expired), (1, 1, 1));
    assert_eq!(live, 50);
}

#[test]
fn histograms_expire_like_counters_and_free_their_budget() {
    // A bucketed histogram (2 bounds: 5 series a label set) and a summary
    // (7 quantiles: 9 series), each with room for one label set besides the
    // overflow series' room.
    let (guard, exporter, clock) = expiring(
        "[defaults]\nidle_timeout = \"2s\"\n\
         [histograms]\nbuckets = \"summary\"\n\
         [[histograms.per_metric]]\nmatch = \"bucketed_seconds\"\nbuckets = [0.1, 1]\n\
         [[metrics]]\nmatch = \"bucketed_seconds\"\nmax_series = 10\n\
         [[metrics]]\nmatch = \"summary_seconds\"\nmax_series = 18\n",
    );
    for (m, cost) in [("bucketed_seconds", 5u64), ("summary_seconds", 9)] {
        guard
            .register_histogram(&user(m, "a"), &METADATA)
            .record(0.5);
        guard
            .register_histogram(&user(m, "a"), &METADATA)
            .record(2.0);
        // No room for b: folded while a holds the budget.
        guard
            .register_histogram(&user(m, "b"), &METADATA)
            .record(0.05);
        let text = scrape(&exporter);
        let count = format!("{m}_count");
        assert_eq!(
            value_exact(&text, &count, &[("user", "a")]),
            Some(2.0),
            "{text}"
        );
        assert_eq!(value_exact(&text, &count, &OVERFLOW), Some(1.0), "{text}");
        assert_eq!(rendered_series(&text, m) as u64, 2 * cost, "{text}");

        clock.advance(2 * SECOND);
        let text = scrape(&exporter);
        assert_eq!(rendered_series(&text, m), 0, "{m} expired:\n{text}");
        assert_eq!(figures(&exporter, m), (0, 0, 1));

        // The freed budget admits a new label set with series of its own.
        guard
            .register_histogram(&user(m, "c"), &METADATA)
            .record(0.5);
        let text = scrape(&exporter);
        assert_eq!(
            label_sets_of(&text, m),
            BTreeSet::from([[("user".to_owned(), "c".to_owned())].into()]),
            "{text}"
        );
        assert_eq!(value_exact(&text, &count, &[("user", "c")]), Some(1.0));
        assert_eq!(rendered_series(&text, m) as u64, cost, "{text}");
        if m == "bucketed_seconds" {
            assert_eq!(
                value_exact(
                    &text,
                    "bucketed_seconds_bucket",
                    &[("user", "c"), ("le", "1")]
                ),
                Some(1.0),
                "{text}"
            );
        }
        clock.advance(2 * SECOND);
        scrape(&exporter);
    }
}

/// A room-for-one metric of each kind whose held handle expires.
const HELD: &str = "[defaults]\nidle_timeout = \"2s\"\nmax_series = 2\n\
                    [histograms]\nbuckets = [1]\n\
                    [[metrics]]\nmatch = \"held_seconds\"\nmax_series = 8\n";

/// Lets every series of the guard expire (a scrape, then 2 s idle).
fn expire_all(exporter: &PrometheusGuard, clock: &ManualClock) {
    scrape(exporter);
    clock.advance(2 * SECOND);
    let text = scrape(exporter);
    assert!(guarded_samples(&text).is_empty(), "all expired:\n{text}");
}

#[test]
fn a_held_handle_updated_after_expiry_is_back_with_every_update() {
    let (guard, exporter, clock) = expiring(HELD);
    let counter = guard.register_counter(&user("held_total", "k"), &METADATA);
    let gauge = guard.register_gauge(&user("held_gauge", "k"), &METADATA);
    let histogram = guard.register_histogram(&user("held_seconds", "k"), &METADATA);
    counter.increment(5);
    gauge.set(3.0);
    histogram.record(0.5);
    expire_all(&exporter, &clock);
    for m in ["held_total", "held_gauge", "held_seconds"] {
        assert_eq!(figures(&exporter, m), (0, 0, 1), "{m}");
    }

    // Room for them: each is its own series again, with what it held.
    counter.increment(2);
    gauge.set(-7.5);
    histogram.record(2.0);
    let k = [("user", "k")];
    let text = scrape(&exporter);
    assert_eq!(value_exact(&text, "held_total", &k), Some(7.0), "{text}");
    assert_eq!(value_exact(&text, "held_gauge", &k), Some(-7.5), "{text}");
    assert_eq!(value_exact(&text, "held_seconds_count", &k), Some(2.0));
    assert_eq!(value_exact(&text, "held_seconds_sum", &k), Some(2.5));
    let bucket = [("user", "k"), ("le", "1")];
    assert_eq!(
        value_exact(&text, "held_seconds_bucket", &bucket),
        Some(1.0)
    );
    for m in ["held_total", "held_gauge", "held_seconds"] {
        let report = exporter.report();
        let r = report.metric(m).expect("tracked");
        assert_eq!((r.label_sets, r.expired, r.revived), (1, 1, 1), "{m}");
    }
}

#[test]
fn a_held_handle_updated_after_expiry_without_room_folds_every_update() {
    let (guard, exporter, clock) = expiring(HELD);
    let counter = guard.register_counter(&user("held_total", "k"), &METADATA);
    let gauge = guard.register_gauge(&user("held_gauge", "k"), &METADATA);
    let histogram = guard.register_histogram(&user("held_seconds", "k"), &METADATA);
    counter.increment(5);
    gauge.set(3.0);
    histogram.record(0.5);
    expire_all(&exporter, &clock);

    // Others take the room meanwhile.
    guard
        .register_counter(&user("held_total", "x"), &METADATA)
        .increment(1);
    guard
        .register_gauge(&user("held_gauge", "x"), &METADATA)
        .set(1.0);
    guard
        .register_histogram(&user("held_seconds", "x"), &METADATA)
        .record(0.25);

    counter.increment(2);
    gauge.set(-7.5);
    histogram.record(2.0);
    let text = scrape(&exporter);
    let x = [("user", "x")];
    assert_eq!(users_of(&text, "held_total"), BTreeSet::from(["x".into()]));
    assert_eq!(users_of(&text, "held_gauge"), BTreeSet::from(["x".into()]));
    assert_eq!(
        users_of(&text, "held_seconds"),
        BTreeSet::from(["x".into()])
    );
    assert_eq!(value_exact(&text, "held_total", &x), Some(1.0), "{text}");
    assert_eq!(
        value_exact(&text, "held_total", &OVERFLOW),
        Some(2.0),
        "the update after expiry, folded:\n{text}"
    );
    assert_eq!(value_exact(&text, "held_gauge", &OVERFLOW), Some(-7.5));
    assert_eq!(
        value_exact(&text, "held_seconds_count", &OVERFLOW),
        Some(1.0)
    );
    assert_eq!(value_exact(&text, "held_seconds_sum", &OVERFLOW), Some(2.0));
    // Totals since expiry conserved: 1 (x) + 2 (k) counted.
    assert_eq!(sum_of(&text, "held_total"), 3.0);
    assert_eq!(sum_of(&text, "held_seconds_count"), 2.0);

    // And every later update too, for good.
    for _ in 0..10 {
        counter.increment(1);
        histogram.record(0.5);
    }
    gauge.increment(0.5);
    let text = scrape(&exporter);
    assert_eq!(value_exact(&text, "held_total", &OVERFLOW), Some(12.0));
    assert_eq!(value_exact(&text, "held_gauge", &OVERFLOW), Some(-7.0));
    assert_eq!(
        value_exact(&text, "held_seconds_count", &OVERFLOW),
        Some(11.0)
    );
    assert_eq!(sum_of(&text, "held_total"), 13.0);
}

/// Hours of idle expiry (with a warning interval on the same clock) on the
/// manual clock: done in far less real time than the clock moved, and no
/// test of this file sleeps. (The warning rate limit on this clock is
/// fold_warning_is_logged_once_per_interval.rs.)
#[test]
fn expiry_runs_on_the_one_manual_clock_and_nothing_sleeps() {
    const M: &str = "hourly_total";
    let source = include_str!("expiry_waits_for_a_scrape.rs");
    assert!(
        !source.contains(concat!("sle", "ep(")),
        "no test of this file sleeps"
    );
    let started = Instant::now();
    let (guard, exporter, clock) = expiring(&format!(
        "[global]\nwarn_interval = \"1h\"\n\
         [[metrics]]\nmatch = \"{M}\"\nmax_series = 3\nidle_timeout = \"10m\"\n"
    ));
    for hour in 0..24u64 {
        for u in 0..5u64 {
            guard
                .register_counter(&user(M, hour * 10 + u), &METADATA)
                .increment(1);
        }
        let text = scrape(&exporter);
        assert_eq!(rendered_series(&text, M), 3, "hour {hour}:\n{text}");
        assert!(value_exact(&text, M, &OVERFLOW).is_some(), "{text}");
        clock.advance(Duration::from_secs(3_600));
        let text = scrape(&exporter);
        assert_eq!(rendered_series(&text, M), 0, "hour {hour}: expired");
    }
    let report = exporter.report();
    let m = report.metric(M).expect("tracked");
    assert_eq!(m.expired, 48, "two label sets an hour for 24 h");
    assert_eq!(m.overflow.total(), 72, "three folded an hour");
    let real = started.elapsed();
    assert!(real < Duration::from_secs(5), "24 h of clock took {real:?}");
}
