//! Over real HTTP: the layer's options. Excluded route templates record
//! nothing; OpenTelemetry label names replace `method`/`route`/`status`;
//! body-size histograms record the declared sizes when switched on, and
//! nothing when off (the default).

mod support;

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::Router;
use cardinality_guard_axum::http_metrics::{
    LabelNames, REQUEST_BODY_SIZE_BYTES, RESPONSE_BODY_SIZE_BYTES,
};
use cardinality_guard_axum::{HttpMetricsLayer, DEFAULT_REPORT_PATH};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use support::{
    guarded, label_values, parse, samples_named, value_exact, HttpClient, Server, ACTIVE, DURATION,
    HTTP_CONFIG, REQUESTS,
};

fn app(layer: HttpMetricsLayer) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/metrics", get(|| async { "# metrics" }))
        .route(DEFAULT_REPORT_PATH, get(|| async { "{}" }))
        .route(
            "/upload",
            post(|body: Bytes| async move { "x".repeat(body.len() / 2) }),
        )
        .layer(layer)
}

#[tokio::test]
async fn excluded_routes_record_nothing() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let layer = HttpMetricsLayer::new()
        .exclude_route("/metrics")
        .exclude_route(DEFAULT_REPORT_PATH);
    let server = Server::start(app(layer)).await;
    let client = HttpClient::new();
    for path in ["/metrics", DEFAULT_REPORT_PATH, "/users/1", "/metrics"] {
        assert_eq!(client.get(&server.url(path)).await.status, StatusCode::OK);
    }
    let text = exporter.render();
    for metric in [REQUESTS, DURATION, ACTIVE] {
        let routes = label_values(&text, metric, "route");
        assert_eq!(
            routes.into_iter().collect::<Vec<_>>(),
            ["/users/{id}"],
            "{metric}:\n{text}"
        );
    }
    let users = [
        ("method", "GET"),
        ("route", "/users/{id}"),
        ("status", "200"),
    ];
    assert_eq!(value_exact(&text, REQUESTS, &users), Some(1.0), "{text}");
}

#[tokio::test]
async fn open_telemetry_label_names_replace_the_short_ones() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let layer = HttpMetricsLayer::new().label_names(LabelNames::OpenTelemetry);
    let server = Server::start(app(layer)).await;
    let client = HttpClient::new();
    client.get(&server.url("/users/7")).await;
    client.get(&server.url("/users/8")).await;

    let text = exporter.render();
    let labels = [
        ("http_request_method", "GET"),
        ("http_route", "/users/{id}"),
        ("http_response_status_code", "200"),
    ];
    assert_eq!(value_exact(&text, REQUESTS, &labels), Some(2.0), "{text}");
    let count = format!("{DURATION}_count");
    assert_eq!(value_exact(&text, &count, &labels), Some(2.0), "{text}");
    assert_eq!(
        value_exact(&text, ACTIVE, &labels[..2]),
        Some(0.0),
        "{text}"
    );
    let samples = parse(&text);
    for metric in [REQUESTS, ACTIVE] {
        for sample in samples_named(&samples, metric) {
            for short in ["method", "route", "status"] {
                assert!(
                    sample.labels.iter().all(|(k, _)| k != short),
                    "{metric} has `{short}`:\n{text}"
                );
            }
        }
    }
}

async fn upload(client: &HttpClient, url: &str, bytes: usize) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .body(Full::new(Bytes::from(vec![b'a'; bytes])))
        .unwrap();
    assert_eq!(client.send(request).await.status, StatusCode::OK);
}

/// `HTTP_CONFIG` with byte-sized buckets for the body sizes, as the README
/// advises.
const BODY_SIZE_CONFIG: &str = r#"
[defaults]
max_series = 2000

[histograms]
buckets = [0.01, 0.1, 1]

[[histograms.per_metric]]
match   = "http_server_request_body_size_bytes"
buckets = [100, 1000, 10000, 100000, 1000000]

[[histograms.per_metric]]
match   = "http_server_response_body_size_bytes"
buckets = [100, 1000, 10000, 100000, 1000000]
"#;

#[tokio::test]
async fn body_sizes_are_recorded_when_switched_on() {
    let (guard, exporter) = guarded(BODY_SIZE_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(app(HttpMetricsLayer::new().body_sizes(true))).await;
    let client = HttpClient::new();
    upload(&client, &server.url("/upload"), 1000).await;
    upload(&client, &server.url("/upload"), 234).await;

    let text = exporter.render();
    let labels = [("method", "POST"), ("route", "/upload"), ("status", "200")];
    let value = |name: &str, suffix: &str| value_exact(&text, &format!("{name}{suffix}"), &labels);
    assert_eq!(
        value(REQUEST_BODY_SIZE_BYTES, "_count"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(REQUEST_BODY_SIZE_BYTES, "_sum"),
        Some(1234.0),
        "{text}"
    );
    // The handler answers half as many bytes as it got: 500 + 117.
    assert_eq!(
        value(RESPONSE_BODY_SIZE_BYTES, "_count"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(RESPONSE_BODY_SIZE_BYTES, "_sum"),
        Some(617.0),
        "{text}"
    );
}

#[tokio::test]
async fn body_sizes_are_off_by_default() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(app(HttpMetricsLayer::new())).await;
    let client = HttpClient::new();
    upload(&client, &server.url("/upload"), 1000).await;
    let text = exporter.render();
    assert!(
        value_exact(
            &text,
            REQUESTS,
            &[("method", "POST"), ("route", "/upload"), ("status", "200")]
        )
        .is_some(),
        "{text}"
    );
    assert!(!text.contains("body_size"), "{text}");
}
