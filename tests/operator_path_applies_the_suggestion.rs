//! The operator path, end to end over HTTP with the example app
//! (`examples/shared/app.rs`) on 127.0.0.1: `app_logins_total` has a small
//! budget and no `idle_timeout`; a flood of users fills it and folds; the
//! operator fetches the report's suggestion (`/debug/cardinality?format=toml`),
//! writes it to the config file and sends SIGHUP (to
//! `cardinality_guard::axum::reload_on_sighup`, as an app of their own
//! would call it); after a few scrapes of `/metrics`, upkeeps in between
//! (a reload evicts at upkeep; a series with an update no render has shown
//! waits for one) and more traffic, the metric holds what the suggestion
//! says: no more series than its `max_series`, and for every label limit no
//! more distinct values than the limit, the rest folded into
//! `__overflow__`.
//!
//! Its own test binary: the signal goes to this process. The guard runs
//! without its upkeep thread: the test calls `run_upkeep` between scrapes,
//! as the thread would every 5 s. Bounded waits only.

#![cfg(unix)]

#[path = "../examples/shared/app.rs"]
mod app;
#[path = "support/prometheus_api.rs"]
mod prometheus_api;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use cardinality_guard::text::{Format, Line, Parser};
use cardinality_guard::{Config, MetricPolicy, PrometheusGuard};
use prometheus_api::{client, eventually, get, Http};

const LOGINS: &str = "app_logins_total";
const OVERFLOW: &str = "__overflow__";
const START: &str = r#"
[[metrics]]
match = "app_logins_total"
max_series = 20
"#;
/// Users of the flood before the suggestion, and after it.
const FLOOD: u32 = 300;
const MORE: u32 = 200;
/// Scrape, upkeep, traffic: rounds until the metric must hold the
/// suggestion (one render and one upkeep suffice; a few for slack).
const ROUNDS: usize = 4;
const PATIENCE: Duration = Duration::from_secs(30);

fn hangup() {
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

async fn logins(http: &Http, service: SocketAddr, users: std::ops::Range<u32>) {
    for user in users {
        let answer = get(http, format!("http://{service}/users/{user}")).await;
        assert_eq!(answer.map(|(status, _)| status), Some(200), "user {user}");
    }
}

async fn scrape(http: &Http, service: SocketAddr) -> String {
    let (status, text) = get(http, format!("http://{service}/metrics"))
        .await
        .expect("/metrics answers");
    assert_eq!(status, 200);
    text
}

/// The label sets of `app_logins_total` in a scrape (comments skipped).
fn login_series(text: &str) -> Vec<Vec<(String, String)>> {
    let mut parser = Parser::new(Format::Prometheus);
    let mut series = Vec::new();
    for line in text.lines() {
        match parser.line(line) {
            Ok(Line::Sample(s)) if s.name == LOGINS => series.push(
                s.labels
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.into_owned()))
                    .collect(),
            ),
            Ok(_) => {}
            Err(e) => panic!("not Prometheus text: {e}\n{text}"),
        }
    }
    series
}

/// What the scrape breaks of `policy`, if anything.
fn breaches(text: &str, policy: &MetricPolicy, users: u32) -> Vec<String> {
    let series = login_series(text);
    let mut broken = Vec::new();
    if series.len() as u64 > policy.max_series.get() {
        broken.push(format!(
            "{} series over max_series = {}",
            series.len(),
            policy.max_series
        ));
    }
    for (label, limit) in &policy.label_limits {
        let values: BTreeSet<&str> = series
            .iter()
            .flat_map(|labels| labels.iter().filter(|(k, _)| k == label))
            .map(|(_, v)| v.as_str())
            .collect();
        let own = values.iter().filter(|v| **v != OVERFLOW).count() as u64;
        if own > limit.get() {
            broken.push(format!("{own} values of `{label}` over its limit {limit}"));
        }
        if u64::from(users) > limit.get() && !values.contains(OVERFLOW) {
            broken.push(format!("`{label}` folded, yet no `{OVERFLOW}` value"));
        }
    }
    broken
}

#[tokio::test]
async fn the_reports_suggestion_applied_by_sighup_holds_the_metric() {
    let dir = std::env::temp_dir().join(format!("cg-operator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("guard.toml");
    std::fs::write(&path, START).unwrap();
    let config = Config::from_file(&path).unwrap();
    assert_eq!(config.policy_for(LOGINS).idle_timeout, None);
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    // A current-thread runtime: the handlers run on this thread, with the
    // guard as its recorder.
    let _local = cardinality_guard::metrics::set_default_local_recorder(&recorder);
    let _reloads =
        cardinality_guard::axum::reload_on_sighup(&path, exporter.guard().clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = listener.local_addr().unwrap();
    let app = app::router(app::Exposition::Guarded(exporter.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = client();

    // The flood: the budget fills, the rest folds.
    logins(&http, service, 0..FLOOD).await;
    let before = scrape(&http, service).await;
    assert_eq!(login_series(&before).len(), 20, "{before}");
    assert!(before.contains("otel_metric_overflow=\"true\""), "{before}");

    // The report's suggestion, written to the file and reloaded.
    let (status, suggestion) = get(
        &http,
        format!("http://{service}/debug/cardinality?format=toml"),
    )
    .await
    .expect("the report answers");
    assert_eq!(status, 200);
    let suggested = Config::from_toml(&suggestion, "suggested.toml")
        .unwrap_or_else(|e| panic!("{e}\n{suggestion}"));
    let policy = suggested.policy_for(LOGINS);
    assert_ne!(
        policy,
        exporter.guard().config().policy_for(LOGINS),
        "the suggestion changes the metric:\n{suggestion}"
    );
    std::fs::write(&path, &suggestion).unwrap();
    hangup();
    let applied = eventually(PATIENCE, Duration::from_millis(20), || async {
        (exporter.guard().config().policy_for(LOGINS) == policy).then_some(())
    })
    .await;
    assert!(
        applied.is_some(),
        "SIGHUP applied the suggestion:\n{suggestion}"
    );

    // Scrapes, upkeeps and more traffic (new users and returning ones).
    let mut users = FLOOD;
    let mut held = None;
    for round in 0..ROUNDS {
        let text = scrape(&http, service).await;
        exporter.run_upkeep();
        let next = users + MORE / ROUNDS as u32;
        logins(&http, service, users..next).await;
        logins(&http, service, 0..10).await;
        users = next;
        if round > 0 && breaches(&text, &policy, users).is_empty() {
            held = Some(round);
        }
    }
    let last = scrape(&http, service).await;
    let broken = breaches(&last, &policy, users);
    assert!(
        broken.is_empty() && held.is_some(),
        "the metric holds the suggestion after {ROUNDS} rounds: {broken:?}\n\
         suggestion:\n{suggestion}\nscrape:\n{last}"
    );
    assert!(
        last.contains("cardinality_guard_config_last_reload_successful 1"),
        "{last}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
