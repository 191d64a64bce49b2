//! Over real HTTP: an `HttpMetricsLayer` wrapped around the whole router
//! (where it cannot see `MatchedPath`) logs one `tracing` warning naming the
//! fix, however many requests it serves; added with `Router::layer` it never
//! warns, not for a 404 and not for a fallback that answers 200.
//!
//! The warnings are captured by a thread-local subscriber: `#[tokio::test]`
//! runs the server, the client and the test on one thread.
//!
//! Without any subscriber, the misplacement is visible in the guard's
//! report (`notes`) and its self-report
//! (`cardinality_guard_problems{problem="http_layer_outside_router"}`).

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Router, ServiceExt as _};
use cardinality_guard_axum::HttpMetricsLayer;
use support::{guarded, parse, HttpClient, HTTP_CONFIG};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_layer::Layer;

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The warnings about the placement.
    fn placement_warnings(&self) -> usize {
        self.text()
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("MatchedPath"))
            .count()
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { "home" }))
        .route("/users/{id}", get(|| async { "user" }))
}

/// 60 requests: matched routes (200) and unmatched paths (404).
async fn traffic(addr: std::net::SocketAddr, expect_404: bool) {
    let client = HttpClient::new();
    for i in 0..20 {
        for path in ["/".to_owned(), format!("/users/{i}"), format!("/nope/{i}")] {
            let reply = client.get(&format!("http://{addr}{path}")).await;
            let expected = if path.starts_with("/nope") && expect_404 {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            assert_eq!(reply.status, expected, "{path}");
        }
    }
}

async fn serve<S>(service: S) -> std::net::SocketAddr
where
    S: tower_service::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, service.into_make_service()).await });
    addr
}

#[tokio::test]
async fn a_layer_wrapped_around_the_router_warns_once() {
    let (captured, _subscriber) = capture();
    let addr = serve(HttpMetricsLayer::new().layer(routes())).await;
    traffic(addr, true).await;
    assert_eq!(captured.placement_warnings(), 1, "{}", captured.text());
    let text = captured.text();
    assert!(text.contains("Router::layer"), "names the fix: {text}");
    assert!(
        text.contains("route=\"unmatched\""),
        "says what goes wrong: {text}"
    );
}

#[tokio::test]
async fn a_service_builder_around_the_router_warns_once() {
    let (captured, _subscriber) = capture();
    // Another layer in between: the type no longer tells, the responses do.
    let service = ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(HttpMetricsLayer::new())
        .layer(CatchPanicLayer::new())
        .service(routes());
    let addr = serve(service).await;
    traffic(addr, true).await;
    assert_eq!(captured.placement_warnings(), 1, "{}", captured.text());
}

#[tokio::test]
async fn router_layer_never_warns_not_even_for_404s() {
    let (captured, _subscriber) = capture();
    // 404s first: an unmatched route under the right placement is no sign.
    let app = routes().layer(HttpMetricsLayer::new());
    let addr = serve(app).await;
    let client = HttpClient::new();
    for i in 0..10 {
        let reply = client.get(&format!("http://{addr}/nope/{i}")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
    traffic(addr, true).await;

    // The same with another layer in between (the type does not tell).
    let app = routes().layer(
        ServiceBuilder::new()
            .layer(HttpMetricsLayer::new())
            .layer(CatchPanicLayer::new()),
    );
    let addr = serve(app).await;
    traffic(addr, true).await;
    assert_eq!(captured.placement_warnings(), 0, "{}", captured.text());
}

#[tokio::test]
async fn a_fallback_answering_200_inside_the_router_does_not_warn() {
    let (captured, _subscriber) = capture();
    // A single-page app: the fallback serves index.html for every path.
    let app = routes()
        .fallback(|| async { "index.html" })
        .layer(HttpMetricsLayer::new());
    let addr = serve(app).await;
    traffic(addr, false).await;
    assert_eq!(captured.placement_warnings(), 0, "{}", captured.text());
}

/// `cardinality_guard_problems{problem="http_layer_outside_router"}`, as rendered.
fn outside_router_reports(exporter: &cardinality_guard_core::PrometheusGuard) -> Option<f64> {
    parse(&exporter.render())
        .into_iter()
        .find(|s| {
            s.name == "cardinality_guard_problems"
                && s.labels.get("problem").map(String::as_str) == Some("http_layer_outside_router")
        })
        .map(|s| s.value)
}

#[tokio::test]
async fn without_a_subscriber_a_layer_around_the_router_shows_in_the_report_and_the_gauge() {
    let (recorder, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&recorder);
    assert_eq!(outside_router_reports(&exporter), Some(0.0));
    let addr = serve(HttpMetricsLayer::new().layer(routes())).await;
    traffic(addr, true).await;
    // One layer, one report, however many requests.
    assert_eq!(outside_router_reports(&exporter), Some(1.0));
    let report = exporter.report();
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(
        report.notes[0].contains("Router::layer") && report.notes[0].contains("unmatched"),
        "{:?}",
        report.notes
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["notes"][0], report.notes[0].as_str());
}

#[tokio::test]
async fn without_a_subscriber_a_layer_inside_the_router_reports_nothing() {
    let (recorder, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&recorder);
    let addr = serve(routes().layer(HttpMetricsLayer::new())).await;
    traffic(addr, true).await;
    assert_eq!(outside_router_reports(&exporter), Some(0.0));
    assert!(exporter.report().notes.is_empty());
}
