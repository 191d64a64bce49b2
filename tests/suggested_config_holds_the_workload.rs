//! Shadow mode is the learning phase: the example service runs with a guard
//! in shadow mode over real HTTP on 127.0.0.1, a workload goes through it,
//! `GET /debug/cardinality?format=toml` answers a suggested `guard.toml`,
//! and a fresh guard enforcing that suggestion holds the same workload:
//! every metric within its new budget, values folded exactly in the labels
//! the recommendations named and nowhere else.
//!
//! The workload: (a) `app_jobs_total{queue, outcome}`, 12 label sets for a
//! budget of 10: bounded and close; (b) `app_tenant_request_seconds{region,
//! tenant}`, a histogram whose `tenant` explodes (50 values) beside 2
//! regions; (c) `app_logins_total{user}`, 1500 user ids for a budget of 100;
//! and the HTTP metrics of the example service, comfortably within budget.

#[path = "../examples/shared/app.rs"]
mod app;

use cardinality_guard::axum::serve as server;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use cardinality_guard::{Config, PrometheusGuard, Recommendation};
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::Value;

const SHADOW: &str = r#"
[defaults]
mode = "shadow"

[[metrics]]
match = "app_jobs_total"
max_series = 10

[[metrics]]
match = "app_tenant_request_seconds"
max_series = 280

[[metrics]]
match = "app_logins_total"
max_series = 100

[[metrics]]
match = "http_server_request_duration_seconds"
max_series = 5000
"#;

const USERS: u32 = 1500;

/// The process' global recorder: whichever guard the test points it at
/// (the app records through the `metrics` macros, on any thread).
#[derive(Default)]
struct Switch(RwLock<Option<Arc<dyn Recorder + Send + Sync>>>);

impl Switch {
    fn current(&self) -> Arc<dyn Recorder + Send + Sync> {
        self.0
            .read()
            .unwrap()
            .clone()
            .expect("a guard is installed")
    }
}

impl Recorder for Switch {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.current().describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.current().describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.current().describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.current().register_counter(key, metadata)
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.current().register_gauge(key, metadata)
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.current().register_histogram(key, metadata)
    }
}

/// Points the global recorder at a new guard of `config`; serves the
/// example app (plus the workload's routes) with it on a free port.
async fn start(switch: &Switch, config: Config) -> (SocketAddr, PrometheusGuard) {
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    *switch.0.write().unwrap() = Some(Arc::new(recorder));
    let workload = Router::new()
        .route(
            "/jobs/{queue}/{outcome}",
            get(|Path((queue, outcome)): Path<(String, String)>| async move {
                metrics::counter!("app_jobs_total", "queue" => queue, "outcome" => outcome)
                    .increment(1);
                "queued\n"
            }),
        )
        .route(
            "/tenants/{region}/{tenant}",
            get(|Path((region, tenant)): Path<(String, String)>| async move {
                metrics::histogram!("app_tenant_request_seconds", "region" => region, "tenant" => tenant)
                    .record(0.02);
                "served\n"
            }),
        );
    let app = app::router(app::Exposition::Guarded(exporter.clone())).merge(workload);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(
        listener,
        app,
        server::Limits::default(),
        std::future::pending(),
    ));
    (addr, exporter)
}

type Http = Client<HttpConnector, Body>;

/// A GET: status, content type, nosniff header, body.
async fn get_url(client: &Http, url: String) -> (u16, String, String, String) {
    let response = client.get(url.parse().unwrap()).await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, nosniff) = (header("content-type"), header("x-content-type-options"));
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        nosniff,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// The same requests in both phases, one after the other, each answered
/// 200 (and one unmatched 404).
async fn workload(client: &Http, addr: SocketAddr) {
    let mut paths: Vec<String> = Vec::new();
    for queue in ["mail", "billing", "export", "search"] {
        for outcome in ["ok", "retry", "failed"] {
            paths.push(format!("/jobs/{queue}/{outcome}"));
        }
    }
    for tenant in 0..50 {
        for region in ["eu", "us"] {
            paths.push(format!("/tenants/{region}/t{tenant}"));
        }
    }
    paths.extend((0..USERS).map(|user| format!("/users/{user}")));
    paths.extend(["/".into(), "/orders/7".into(), "/metrics".into()]);
    for path in &paths {
        let (status, ..) = get_url(client, format!("http://{addr}{path}")).await;
        assert_eq!(status, 200, "{path}");
    }
    let (status, ..) = get_url(client, format!("http://{addr}/no/such/page")).await;
    assert_eq!(status, 404);
}

/// The base metric name of a sample line (`x_bucket{...} 1` is `x`'s).
fn family(line: &str, names: &BTreeSet<String>) -> String {
    let sample = line.split(['{', ' ']).next().unwrap_or_default();
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if names.contains(base) {
                return base.to_owned();
            }
        }
    }
    sample.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suggestion_learned_in_shadow_mode_holds_the_same_workload() {
    let switch: &'static Switch = Box::leak(Box::default());
    metrics::set_global_recorder(switch).expect("the only global recorder of this test binary");
    let client: Http = Client::builder(TokioExecutor::new()).build_http();

    // 1. Shadow: learn.
    let running = Config::from_toml(SHADOW, "shadow.toml").unwrap();
    let (addr, shadow) = start(switch, running.clone()).await;
    workload(&client, addr).await;
    let shadow_text = shadow.render();
    assert!(
        !shadow_text.contains("__overflow__") && !shadow_text.contains("otel_metric_overflow"),
        "shadow mode folds nothing"
    );

    // The JSON report carries a recommendation per metric.
    let (status, content_type, _, json) = get_url(
        &client,
        format!("http://{addr}/debug/cardinality?format=json"),
    )
    .await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let json: Value = serde_json::from_str(&json).unwrap();
    let kinds: BTreeMap<String, Value> = json["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["recommendation"].clone(),
            )
        })
        .collect();
    assert_eq!(kinds["app_jobs_total"]["kind"], "raise_max_series");
    assert_eq!(kinds["app_jobs_total"]["max_series"], 16);
    assert_eq!(kinds["app_tenant_request_seconds"]["kind"], "limit_label");
    assert_eq!(kinds["app_tenant_request_seconds"]["label"], "tenant");
    // 19 label sets fit in 280 series besides the overflow series' room:
    // 2 regions × (6 tenants + `__overflow__`) with headroom.
    assert_eq!(kinds["app_tenant_request_seconds"]["label_limit"], 6);
    assert_eq!(kinds["app_logins_total"]["kind"], "remove_label");
    assert_eq!(kinds["app_logins_total"]["label"], "user");
    assert_eq!(kinds["app_logins_total"]["label_limit"], 1);
    for http in [
        "http_server_requests_total",
        "http_server_request_duration_seconds",
        "http_server_active_requests",
    ] {
        assert_eq!(kinds[http], Value::Null, "{http}: nothing to do");
    }
    for (name, kind) in &kinds {
        if let Some(text) = kind.get("text") {
            assert!(!text.as_str().unwrap().is_empty(), "{name}");
        }
    }

    // The suggestion, over HTTP.
    let (status, content_type, nosniff, suggested) = get_url(
        &client,
        format!("http://{addr}/debug/cardinality?format=toml"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/toml; charset=utf-8");
    assert_eq!(nosniff, "nosniff");
    let config = Config::from_toml(&suggested, "suggested.toml")
        .unwrap_or_else(|e| panic!("the suggestion loads: {e}\n{suggested}"));
    // What the recommendations said, as the shadow guard reports them now.
    let advised: BTreeMap<String, Option<Recommendation>> = shadow
        .report()
        .metrics
        .into_iter()
        .map(|m| (m.name, m.recommendation))
        .collect();
    let folds_in = |name: &str| {
        advised[name]
            .as_ref()
            .and_then(|r| r.action.label_limit())
            .map(|(label, _)| label.to_owned())
    };
    assert_eq!(
        folds_in("app_tenant_request_seconds").as_deref(),
        Some("tenant")
    );
    assert_eq!(folds_in("app_logins_total").as_deref(), Some("user"));
    for (name, advice) in &advised {
        let policy = config.policy_for(name);
        assert_eq!(policy.mode, cardinality_guard::Mode::Enforce, "{name}");
        if let Some(advice) = advice {
            assert_eq!(policy.max_series.get(), advice.max_series, "{name}");
            if let Some((label, limit)) = advice.action.label_limit() {
                assert_eq!(policy.label_limits[label].get(), limit, "{name}");
            }
        }
    }

    // 2. Enforce the suggestion on the same workload.
    let (addr, enforced) = start(switch, config).await;
    workload(&client, addr).await;
    let (status, _, _, text) = get_url(&client, format!("http://{addr}/metrics")).await;
    assert_eq!(status, 200);
    let report = enforced.report();
    let names: BTreeSet<String> = report.metrics.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, advised.keys().cloned().collect(), "the same metrics");

    // Within budget everywhere, nothing folded by a budget, nothing left to do.
    assert!(!text.contains("otel_metric_overflow"), "{text}");
    for m in &report.metrics {
        assert!(
            m.series <= m.limit,
            "{}: {} of {}",
            m.name,
            m.series,
            m.limit
        );
        assert_eq!(
            m.overflow.series_limit + m.overflow.global_limit,
            0,
            "{}",
            m.name
        );
        assert!(!m.overflow_series, "{}", m.name);
        assert_eq!(m.recommendation, None, "{}: {:?}", m.name, m.recommendation);
        // Folded exactly in the label the suggestion named, and no other.
        let folded: Vec<&str> = m
            .labels
            .iter()
            .filter(|l| l.folded > 0)
            .map(|l| l.name.as_str())
            .collect();
        let expected: Vec<String> = folds_in(&m.name).into_iter().collect();
        assert_eq!(folded, expected, "{}", m.name);
        assert_eq!(
            m.overflow.label_limit > 0,
            !expected.is_empty(),
            "{}",
            m.name
        );
        // And the series it said the metric would hold.
        if let Some(advice) = &advised[&m.name] {
            assert_eq!(m.series, advice.expected_series, "{}", m.name);
        }
    }

    // In the exposition: `__overflow__` only in the named labels of the
    // metrics that fold, and every registration still counted.
    let mut overflowing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| l.contains("__overflow__")) {
        let metric = family(line, &names);
        let labels = line.split('{').nth(1).unwrap_or_default();
        for pair in labels.split(',') {
            if let Some((label, _)) = pair.split_once("=\"__overflow__\"") {
                overflowing
                    .entry(metric.clone())
                    .or_default()
                    .insert(label.to_owned());
            }
        }
    }
    let expected: BTreeMap<String, BTreeSet<String>> = names
        .iter()
        .filter_map(|n| folds_in(n).map(|l| (n.clone(), BTreeSet::from([l]))))
        .collect();
    assert_eq!(overflowing, expected, "{text}");
    let logins: f64 = text
        .lines()
        .filter(|l| l.starts_with("app_logins_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(logins, f64::from(USERS), "totals are conserved");
    let tenants = report.metric("app_tenant_request_seconds").unwrap();
    assert_eq!(
        tenants.series,
        2 * 7 * 14,
        "2 regions × (6 tenants + __overflow__)"
    );
}
