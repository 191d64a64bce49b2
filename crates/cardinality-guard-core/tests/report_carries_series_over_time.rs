//! The report carries each metric's series over the last hour (one point per
//! minute, sampled at upkeep and at report, on the guard's clock) and the
//! wall-clock time it was taken; both reach the JSON.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cardinality_guard_core::{
    Config, ManualClock, PrometheusGuard, Report, HISTORY_POINTS, HISTORY_STEP,
};

const CONFIG: &str = "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 10\n";

fn logins(report: &Report) -> Vec<u64> {
    report.metric("logins_total").unwrap().history.clone()
}

#[test]
fn upkeep_samples_a_point_per_minute_and_an_hour_at_most() {
    let clock = ManualClock::new();
    let config = Config::from_toml(CONFIG, "guard.toml").unwrap();
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let login = |user: u64| {
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("logins_total", "user" => user.to_string()).increment(1);
        });
    };

    // Minute 0: 2 users; minute 1: 5; minute 2: none logs in; minute 3: the
    // budget of 10 is full (9 users and the overflow series).
    login(0);
    login(1);
    exporter.run_upkeep();
    clock.advance(HISTORY_STEP);
    for user in 2..5 {
        login(user);
    }
    exporter.run_upkeep();
    clock.advance(HISTORY_STEP * 2);
    for user in 5..50 {
        login(user);
    }
    assert_eq!(logins(&exporter.report()), [2, 5, 5, 10]);

    // Upkeep every 5 s for two hours: an hour of points, however many
    // samples a minute.
    for _ in 0..(2 * 60 * 12) {
        clock.advance(Duration::from_secs(5));
        exporter.run_upkeep();
    }
    let history = logins(&exporter.report());
    assert_eq!(history.len(), HISTORY_POINTS);
    assert!(history.iter().all(|&p| p == 10), "{history:?}");
}

#[test]
fn a_report_alone_samples_and_gaps_carry_the_last_value() {
    let clock = ManualClock::new();
    let config = Config::from_toml(CONFIG, "guard.toml").unwrap();
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("logins_total", "user" => "ada").increment(1);
    });
    assert_eq!(logins(&exporter.report()), [1]);
    clock.advance(HISTORY_STEP * 3);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("logins_total", "user" => "bob").increment(1);
    });
    // Minutes 1 and 2 saw no sample: they carry minute 0's value.
    assert_eq!(logins(&exporter.report()), [1, 1, 1, 2]);
}

#[test]
fn the_json_carries_history_and_generated_at() {
    let (recorder, exporter) = PrometheusGuard::builder(Config::default())
        .upkeep_interval(None)
        .clock(ManualClock::new().into())
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || metrics::gauge!("workers").set(1.0));
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let report = exporter.report();
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let at = Duration::from_millis(report.generated_at_unix_ms);
    assert!(
        before - Duration::from_millis(1) <= at && at <= after,
        "{at:?}: wall time, not the manual clock"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["generated_at_unix_ms"].as_u64(),
        Some(report.generated_at_unix_ms)
    );
    assert_eq!(json["metrics"][0]["history"], serde_json::json!([1]));
}
