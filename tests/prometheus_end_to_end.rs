//! Proof against a real Prometheus server: the example service, guarded,
//! takes a cardinality flood over HTTP; a `prometheus` process started here
//! scrapes it every second and evaluates the shipped alert rules. Through the
//! Prometheus HTTP API:
//! 1. no guarded metric holds more series than its budget, overflow included;
//! 2. totals survive the real TSDB: every login and every request is counted;
//! 3. `cardinality_guard_series{metric=m}` equals what Prometheus counts for m;
//! 4. the budget alert fires for the flooded metric.
//!
//! Needs Debian's `prometheus` (`.ci/test` installs it). Without it the test
//! fails when `CI` is set, and otherwise says it skipped.

#[path = "../examples/shared/app.rs"]
mod app;
#[path = "support/prometheus_api.rs"]
mod prometheus_api;
#[path = "support/prometheus_server.rs"]
mod prometheus_server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use cardinality_guard::{Config, PrometheusGuard};
use http_body_util::BodyExt;
use prometheus_api::{client, eventually, get, query, scalar, Http, PATIENCE};
use prometheus_server::{prometheus_installed, rules_for_test, start_prometheus_with_rules};

const GUARD_TOML: &str = r#"
[global]
max_series = 20000

[defaults]
max_series = 500

[histograms]
buckets = [0.01, 0.1, 1]

[[metrics]]
match = "app_logins_total"
max_series = 50
"#;

const USERS: usize = 1_000;
const SCANNER_PATHS: usize = 500;
const ODD_METHODS: usize = 20;
const LOGINS_BUDGET: u64 = 50;

async fn send(client: &Http, addr: SocketAddr, method: &str, path: &str) -> u16 {
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Body::empty())
        .expect("request");
    let response = client.request(request).await.expect("the service answers");
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

/// Series per guarded metric as Prometheus holds them (`_bucket`, `_sum` and
/// `_count` count for their histogram).
async fn series_in_prometheus(
    client: &Http,
    prometheus: SocketAddr,
    metrics: &[String],
) -> BTreeMap<String, u64> {
    let counts = query(
        client,
        prometheus,
        "count by (__name__) ({job=\"service\"})",
    )
    .await;
    metrics
        .iter()
        .map(|m| {
            let n: f64 = counts
                .iter()
                .filter(|(labels, _)| {
                    let name = labels["__name__"].as_str().unwrap_or_default();
                    name == m
                        || ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name.strip_suffix(s) == Some(m.as_str()))
                })
                .map(|(_, v)| v)
                .sum();
            (m.clone(), n as u64)
        })
        .collect()
}

async fn self_reported_series(client: &Http, prometheus: SocketAddr) -> BTreeMap<String, u64> {
    query(
        client,
        prometheus,
        "cardinality_guard_series{job=\"service\"}",
    )
    .await
    .into_iter()
    .map(|(labels, v)| {
        (
            labels["metric"].as_str().unwrap_or_default().to_owned(),
            v as u64,
        )
    })
    .collect()
}

#[test]
fn a_real_prometheus_sees_bounded_series_conserved_totals_and_the_budget_alert() {
    if !prometheus_installed() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(end_to_end());
}

async fn end_to_end() {
    let config = Config::from_toml(GUARD_TOML, "<e2e>").expect("valid config");
    let exporter = PrometheusGuard::builder(config)
        .install()
        .expect("the guard installs (one test per process)");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = listener.local_addr().unwrap();
    let app = app::router(app::Exposition::Guarded(exporter.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client: Http = client();
    let rules = rules_for_test();
    let server = start_prometheus_with_rules(&client, "service", service, "1s", Some(&rules)).await;
    let prometheus = server.addr;

    // The flood: unique users (an unbounded label), scanners, odd methods.
    let mut sent = 0_u64;
    for user in 0..USERS {
        assert_eq!(
            send(&client, service, "GET", &format!("/users/u{user}")).await,
            200
        );
        sent += 1;
    }
    for i in 0..SCANNER_PATHS {
        let path = format!(
            "/wp-admin/{:x}.php",
            (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        assert_eq!(send(&client, service, "GET", &path).await, 404);
        sent += 1;
    }
    for i in 0..ODD_METHODS {
        let method = ["PURGE", "BREW", "PROPFIND", "FOO"][i % 4];
        send(&client, service, method, "/orders/7").await;
        sent += 1;
    }

    // 2. Totals, through the real TSDB (the scrapes of /metrics are requests
    //    too: they carry route="/metrics" and are left out).
    let logins = eventually(PATIENCE, Duration::from_millis(250), || {
        let client = client.clone();
        async move {
            scalar(&client, prometheus, "sum(app_logins_total)")
                .await
                .filter(|v| *v == USERS as f64)
        }
    })
    .await;
    assert_eq!(
        logins,
        Some(USERS as f64),
        "sum(app_logins_total) in Prometheus"
    );
    let requests = eventually(PATIENCE, Duration::from_millis(250), || {
        let client = client.clone();
        async move {
            scalar(
                &client,
                prometheus,
                "sum(http_server_requests_total{route!=\"/metrics\"})",
            )
            .await
            .filter(|v| *v == sent as f64)
        }
    })
    .await;
    assert_eq!(
        requests,
        Some(sent as f64),
        "sum(http_server_requests_total)"
    );

    // 1 and 3. Once the label sets have settled (the scrapes add their own
    // once), Prometheus holds what the guard reports, and never more than the budget.
    let report = exporter.report();
    let guarded: Vec<String> = report.metrics.iter().map(|m| m.name.clone()).collect();
    let settled = eventually(PATIENCE, Duration::from_millis(250), || {
        let (client, guarded) = (client.clone(), guarded.clone());
        async move {
            let held = series_in_prometheus(&client, prometheus, &guarded).await;
            let reported = self_reported_series(&client, prometheus).await;
            let same = guarded.iter().all(|m| reported.get(m) == held.get(m));
            same.then_some((held, reported))
        }
    })
    .await;
    let (held, reported) = settled
        .unwrap_or_else(|| panic!("cardinality_guard_series never matched what Prometheus holds"));
    assert_eq!(held, reported);
    let report = exporter.report();
    for m in &report.metrics {
        let in_prometheus = held.get(&m.name).copied().unwrap_or(0);
        assert!(
            in_prometheus <= m.limit,
            "{} holds {in_prometheus} series in Prometheus, budget {}",
            m.name,
            m.limit
        );
    }
    assert_eq!(
        held.get("app_logins_total"),
        Some(&LOGINS_BUDGET),
        "the budget is used fully"
    );
    let unmatched = query(
        &client,
        prometheus,
        "http_server_requests_total{route=\"unmatched\"}",
    )
    .await;
    assert_eq!(
        unmatched.len(),
        1,
        "scanners are one route value: {unmatched:?}"
    );

    // 4. The shipped budget alert fires for the flooded metric.
    let firing = eventually(PATIENCE, Duration::from_millis(250), || {
        let client = client.clone();
        async move {
            let alerts = query(
                &client,
                prometheus,
                "ALERTS{alertname=\"CardinalityBudgetNearlyExhausted\",alertstate=\"firing\"}",
            )
            .await;
            alerts
                .into_iter()
                .find(|(labels, _)| labels["metric"] == "app_logins_total")
        }
    })
    .await;
    assert!(
        firing.is_some(),
        "CardinalityBudgetNearlyExhausted never fired for app_logins_total; prometheus log: {}",
        server.log()
    );
    let quiet = query(
        &client,
        prometheus,
        "ALERTS{alertname=\"CardinalityBudgetNearlyExhausted\",metric=\"http_server_requests_total\"}",
    )
    .await;
    assert!(
        quiet.is_empty(),
        "a metric far from its budget does not alert: {quiet:?}"
    );

    // promtool finds nothing to complain about in the exposition.
    let (_, text) = get(&client, format!("http://{service}/metrics"))
        .await
        .expect("/metrics");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    {
        use std::io::Write;
        let mut stdin = promtool.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("feed promtool");
    }
    let output = promtool.wait_with_output().expect("promtool finishes");
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && complaints.trim().is_empty(),
        "promtool check metrics: {complaints}"
    );
    drop(server);
}
