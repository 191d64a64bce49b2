//! Over real HTTP: `/debug/cardinality` tells, for every metric, the series
//! `/metrics` renders for it and the budget the config gives it, sorted by
//! series; JSON by default, HTML for a browser, `?format=` overriding the
//! `Accept` header; and no label value unless the endpoint opted in.

mod support;

use std::collections::BTreeSet;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use cardinality_guard_axum::{HttpMetricsLayer, ReportEndpoint};
use cardinality_guard_core::PrometheusGuard;
use http::Method;
use serde_json::Value;
use support::{declared_metrics, guarded, parse, samples_of, HttpClient, Reply, Server};

const CONFIG: &str = r#"
[global]
max_series  = 10000
max_metrics = 50

[defaults]
max_series = 500

[histograms]
buckets = [0.01, 0.1, 1]

[[metrics]]
match      = "http_server_request_duration_seconds"
max_series = 700

[[metrics]]
match      = "app_*"
max_series = 4
"#;

/// The budget `CONFIG` gives the metric `name`.
fn configured_limit(name: &str) -> u64 {
    match name {
        "http_server_request_duration_seconds" => 700,
        n if n.starts_with("app_") => 4,
        _ => 500,
    }
}

const LOGINS: &str = "app_logins_total";
/// Distinct users logging in: far more than `app_*`'s budget of 4 series.
const USERS: usize = 12;

fn user_id(i: usize) -> String {
    format!("user-{i}-x7q")
}

/// The example service's shape: a route with an unbounded label (the
/// classic mistake), `/metrics`, and the report endpoint(s).
fn app(exporter: &PrometheusGuard, report: Router) -> Router {
    let metrics = exporter.clone();
    Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<String>| async move {
                metrics::counter!(LOGINS, "user" => id).increment(1);
                "welcome"
            }),
        )
        .route("/orders/{id}", get(|| async { "order" }))
        .route("/metrics", get(move || async move { metrics.render() }))
        .merge(report)
        .layer(HttpMetricsLayer::new())
}

/// Traffic: the login leak, an ordinary route, a 404.
async fn drive_traffic(client: &HttpClient, server: &Server) {
    for round in 0..2 {
        for i in 0..USERS {
            let reply = client
                .get(&server.url(&format!("/users/{}", user_id(i))))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "round {round}");
        }
    }
    assert_eq!(
        client.get(&server.url("/orders/17")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        client.get(&server.url("/nope")).await.status,
        StatusCode::NOT_FOUND
    );
}

fn json(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.content_type().starts_with("application/json"),
        "content-type {:?}",
        reply.content_type()
    );
    serde_json::from_str(&reply.body).expect("the report is JSON")
}

fn metrics_of(report: &Value) -> &Vec<Value> {
    report["metrics"].as_array().expect("`metrics` is an array")
}

fn name_of(metric: &Value) -> &str {
    metric["name"].as_str().expect("`name` is a string")
}

fn u64_of(metric: &Value, key: &str) -> u64 {
    metric[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is a number in {metric}"))
}

/// The contents of the first `<table ...>...</table>` of an HTML page.
fn table(html: &str) -> &str {
    let start = html.find("<table").expect("the page has a table");
    let end = html[start..].find("</table>").expect("the table ends") + start;
    &html[start..end]
}

/// Serves the app with `endpoint` mounted, and drives the test traffic.
async fn serve(exporter: &PrometheusGuard, endpoint: ReportEndpoint) -> (Server, HttpClient) {
    let server = Server::start(app(exporter, endpoint.router())).await;
    let client = HttpClient::new();
    drive_traffic(&client, &server).await;
    (server, client)
}

#[tokio::test]
async fn the_json_report_tells_what_metrics_renders() {
    let (guard, exporter) = guarded(CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let (server, client) = serve(&exporter, ReportEndpoint::new(exporter.guard().clone())).await;

    // Warm up: the report and scrape requests register their own HTTP series
    // now, so the snapshot and the render below see the same label sets.
    let report_url = server.url("/debug/cardinality");
    client.get(&report_url).await;
    client.get(&server.url("/metrics")).await;
    client.get(&report_url).await;

    let report = json(&client.get(&report_url).await);
    let scrape = client.get(&server.url("/metrics")).await;
    assert_eq!(scrape.status, StatusCode::OK);
    let text = scrape.body;
    let samples = parse(&text);

    let metrics = metrics_of(&report);
    let names: BTreeSet<&str> = metrics.iter().map(name_of).collect();
    assert_eq!(names.len(), metrics.len(), "one entry per metric: {report}");
    for expected in [
        LOGINS,
        "http_server_requests_total",
        "http_server_request_duration_seconds",
        "http_server_active_requests",
    ] {
        assert!(names.contains(expected), "{expected} missing: {report}");
    }
    // Every guarded metric the render declares has its entry.
    let declared: BTreeSet<String> = declared_metrics(&text)
        .into_iter()
        .filter(|n| !n.starts_with("cardinality_guard_"))
        .collect();
    for name in &declared {
        assert!(names.contains(name.as_str()), "{name} not in {report}");
    }

    let mut global_series = 0;
    for m in metrics {
        let name = name_of(m);
        let series = u64_of(m, "series");
        let limit = u64_of(m, "limit");
        let rendered = samples_of(&samples, name).len() as u64;
        assert_eq!(
            series, rendered,
            "{name}: the report says {series} series, /metrics renders {rendered}:\n{text}"
        );
        assert_eq!(limit, configured_limit(name), "{name}: {m}");
        assert!(series <= limit, "{name} is over budget: {m}");
        let utilization = m["utilization"].as_f64().expect("utilization");
        assert!(
            (utilization - series as f64 / limit as f64).abs() < 1e-9,
            "{name}: {m}"
        );
        assert_eq!(m["mode"], "enforce", "{m}");
        assert!(m["kind"].is_string(), "{m}");
        assert!(m["overflow"].is_object(), "{m}");
        global_series += series;
    }
    assert_eq!(
        report["global"]["series"].as_u64(),
        Some(global_series),
        "{report}"
    );
    assert_eq!(report["global"]["series_limit"].as_u64(), Some(10_000));

    // The leak is contained and visible: at its budget, folding the rest.
    let logins = metrics
        .iter()
        .find(|m| name_of(m) == LOGINS)
        .expect("logins");
    assert_eq!(u64_of(logins, "series"), 4, "{logins}");
    assert_eq!(logins["kind"], "counter");
    assert!(
        u64_of(&logins["overflow"], "series_limit") > 0,
        "folded registrations are counted: {logins}"
    );
    let logins_total: f64 = samples_of(&samples, LOGINS).iter().map(|s| s.value).sum();
    assert_eq!(
        logins_total,
        (2 * USERS) as f64,
        "totals conserved:\n{text}"
    );

    // Sorted by series, most first.
    let series: Vec<u64> = metrics.iter().map(|m| u64_of(m, "series")).collect();
    assert!(
        series.windows(2).all(|w| w[0] >= w[1]),
        "not sorted by series, descending: {series:?}"
    );

    // No label value of any metric: no user id, no route, no status code.
    assert!(report.get("label_sets_sample").is_none());
    for m in metrics {
        assert!(m.get("label_sets_sample").is_none(), "{m}");
    }
    let body = report.to_string();
    for i in 0..USERS {
        assert!(!body.contains(&user_id(i)), "a user id leaked: {body}");
    }
    for value in [
        "/users/{id}",
        "/orders/{id}",
        // (as a JSON string: the report's `unmatched_rules` key is no label value)
        "\"unmatched\"",
        "\"GET\"",
        "\"404\"",
    ] {
        assert!(!body.contains(value), "{value} leaked: {body}");
    }
}

#[tokio::test]
async fn a_browser_gets_html_and_format_overrides_accept() {
    let (guard, exporter) = guarded(CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let (server, client) = serve(&exporter, ReportEndpoint::new(exporter.guard().clone())).await;

    let url = server.url("/debug/cardinality");
    let browser = [(
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )];
    let html = client.call(Method::GET, &url, &browser).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(
        html.content_type().starts_with("text/html"),
        "content-type {:?}",
        html.content_type()
    );
    // Every metric of the JSON report has its row in the page's table.
    let report = json(&client.get(&url).await);
    let rows = table(&html.body);
    for m in metrics_of(&report) {
        let name = name_of(m);
        assert!(rows.contains(name), "{name} is not in the table:\n{rows}");
    }
    for i in 0..USERS {
        assert!(!html.body.contains(&user_id(i)), "a user id leaked");
    }
    assert!(!html.body.contains("/users/{id}"), "a route leaked");

    // `?format=json` wins over the browser's Accept header...
    let forced = client
        .call(Method::GET, &format!("{url}?format=json"), &browser)
        .await;
    let forced = json(&forced);
    assert!(!metrics_of(&forced).is_empty());
    // ... and `?format=html` over its absence.
    let page = client.get(&format!("{url}?format=html")).await;
    assert!(page.content_type().starts_with("text/html"));
    assert!(page.body.contains("<table"));
    // A client asking for anything gets JSON.
    let any = client.call(Method::GET, &url, &[("accept", "*/*")]).await;
    json(&any);
}

#[tokio::test]
async fn a_client_that_refuses_html_gets_json() {
    let (guard, exporter) = guarded(CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let (server, client) = serve(&exporter, ReportEndpoint::new(exporter.guard().clone())).await;

    let url = server.url("/debug/cardinality");
    let reply = client
        .call(Method::GET, &url, &[("accept", "application/json")])
        .await;
    json(&reply);
    // RFC 9110, 12.4.2: a quality value of 0 means "not acceptable". This
    // client names text/html only to refuse it.
    let reply = client
        .call(
            Method::GET,
            &url,
            &[("accept", "application/json, text/html;q=0")],
        )
        .await;
    assert!(
        reply.content_type().starts_with("application/json"),
        "`Accept: application/json, text/html;q=0` refuses HTML, yet the endpoint \
         answered {:?}",
        reply.content_type()
    );
    json(&reply);
}

#[tokio::test]
async fn label_values_appear_only_when_opted_in_and_bounded() {
    const SHOWN: usize = 2;
    let (guard, exporter) = guarded(CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let endpoint = ReportEndpoint::new(exporter.guard().clone()).with_label_values(SHOWN);
    let (server, client) = serve(&exporter, endpoint).await;

    let url = server.url("/debug/cardinality");
    let report = json(&client.get(&url).await);
    let mut users_shown = BTreeSet::new();
    for m in metrics_of(&report) {
        let sample = m["label_sets_sample"]
            .as_array()
            .unwrap_or_else(|| panic!("opted in: label sets shown for {m}"));
        assert!(sample.len() <= SHOWN, "more than {SHOWN} label sets: {m}");
        assert!(!sample.is_empty(), "every metric here has label sets: {m}");
        for set in sample {
            let set = set.as_str().expect("a label set is a string");
            users_shown.extend((0..USERS).filter(|&i| set.contains(&user_id(i))));
        }
    }
    let body = report.to_string();
    let users_in_body = (0..USERS).filter(|&i| body.contains(&user_id(i))).count();
    assert!(
        (1..=SHOWN).contains(&users_in_body),
        "{users_in_body} user ids shown, expected 1..={SHOWN}: {body}"
    );
    assert_eq!(users_shown.len(), users_in_body);
    assert!(body.contains("/users/{id}"), "routes are shown: {body}");

    // The HTML page shows the same bounded sample.
    let html = client
        .call(Method::GET, &url, &[("accept", "text/html")])
        .await;
    assert!(html.content_type().starts_with("text/html"));
    let users_in_page = (0..USERS)
        .filter(|&i| html.body.contains(&user_id(i)))
        .count();
    assert!(
        (1..=SHOWN).contains(&users_in_page),
        "{users_in_page} user ids in the page:\n{}",
        html.body
    );
}
