//! `http_server_active_requests` is 1 while a request is in flight and back
//! to 0 however it ends: a response, an error of the inner service, a panic
//! caught by a panic layer outside or inside the metrics layer, or a client
//! that goes away (timeout or closed connection) before the handler is done.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use cardinality_guard_axum::{HttpMetrics, HttpMetricsLayer};
use cardinality_guard_core::PrometheusGuard;
use http::{Method, Request, Response};
use support::{
    active_requests, guarded, request, value_exact, wait_for, HttpClient, Server, HTTP_CONFIG,
    REQUESTS,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::{oneshot, Notify};
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;

/// How long the bounded loops wait for the gauge to reach a value:
/// generous, as a loaded machine may take its time (a test waits this long
/// only when it fails).
const PATIENCE: Duration = Duration::from_secs(60);

/// Waits (bounded) until the gauge of (`method`, `route`) reads `value`;
/// panics with what it read last otherwise.
async fn gauge_reaches(exporter: &PrometheusGuard, method: &str, route: &str, value: f64) {
    let reached = wait_for(PATIENCE, || async {
        (active_requests(exporter, method, route) == Some(value)).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "http_server_active_requests{{method={method:?},route={route:?}}} never read {value} \
         within {PATIENCE:?}; it reads {:?}:\n{}",
        active_requests(exporter, method, route),
        exporter.render()
    );
}

fn requests(exporter: &PrometheusGuard, route: &str, status: &str) -> Option<f64> {
    value_exact(
        &exporter.render(),
        REQUESTS,
        &[("method", "GET"), ("route", route), ("status", status)],
    )
}

#[tokio::test]
async fn a_normal_response() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let gate = Arc::new(Notify::new());
    let opened = gate.clone();
    let app = Router::new()
        .route(
            "/gated",
            get(move || async move {
                opened.notified().await;
                "done"
            }),
        )
        .layer(HttpMetricsLayer::new());
    let server = Server::start(app).await;
    let client = HttpClient::new();

    let url = server.url("/gated");
    let call = tokio::spawn(async move { client.get(&url).await });
    gauge_reaches(&exporter, "GET", "/gated", 1.0).await;
    gate.notify_one();
    let reply = call.await.expect("the client task");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "done");
    gauge_reaches(&exporter, "GET", "/gated", 0.0).await;
    assert_eq!(requests(&exporter, "/gated", "200"), Some(1.0));
}

#[tokio::test]
async fn an_error_of_the_inner_service() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let (fail, failed) = oneshot::channel::<()>();
    let failed = std::sync::Mutex::new(Some(failed));
    let inner = tower::service_fn(move |_: Request<()>| {
        let failed = failed.lock().unwrap().take().expect("called once");
        async move {
            let _ = failed.await;
            Err::<Response<String>, _>(std::io::Error::other("backend down"))
        }
    });
    let service = HttpMetrics::new(inner);
    let request = Request::builder().uri("/anything").body(()).unwrap();
    let call = tokio::spawn(service.oneshot(request));

    // No router: no MatchedPath, so the route is `unmatched`.
    gauge_reaches(&exporter, "GET", "unmatched", 1.0).await;
    fail.send(()).unwrap();
    let result = call.await.expect("the call task");
    assert_eq!(
        result
            .expect_err("the inner error comes through")
            .to_string(),
        "backend down"
    );
    assert_eq!(active_requests(&exporter, "GET", "unmatched"), Some(0.0));
    // An error has no status: it is not counted as a request.
    assert_eq!(
        exporter.render().matches(REQUESTS).count(),
        0,
        "{}",
        exporter.render()
    );
}

async fn boom() -> &'static str {
    panic!("handler panics on purpose (the test expects this message)")
}

#[tokio::test]
async fn a_panic_caught_outside_the_metrics_layer() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let app = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }))
        .layer(HttpMetricsLayer::new())
        .layer(CatchPanicLayer::new());
    let server = Server::start(app).await;
    let client = HttpClient::new();

    let reply = client.get(&server.url("/boom")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    gauge_reaches(&exporter, "GET", "/boom", 0.0).await;
    // The server goes on serving, and the gauge keeps working.
    let reply = client.get(&server.url("/fine")).await;
    assert_eq!(reply.status, StatusCode::OK);
    gauge_reaches(&exporter, "GET", "/fine", 0.0).await;
    let reply = client.get(&server.url("/boom")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    gauge_reaches(&exporter, "GET", "/boom", 0.0).await;
}

#[tokio::test]
async fn a_panic_caught_inside_the_metrics_layer() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let app = Router::new()
        .route("/boom", get(boom))
        .layer(CatchPanicLayer::new())
        .layer(HttpMetricsLayer::new());
    let server = Server::start(app).await;
    let client = HttpClient::new();

    for _ in 0..2 {
        let reply = client.get(&server.url("/boom")).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        gauge_reaches(&exporter, "GET", "/boom", 0.0).await;
    }
    // The metrics layer saw the 500 the panic layer made of the panic.
    assert_eq!(requests(&exporter, "/boom", "500"), Some(2.0));
}

fn sleeper() -> Router {
    Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "too late"
            }),
        )
        .layer(HttpMetricsLayer::new())
}

#[tokio::test]
async fn a_client_that_times_out() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(sleeper()).await;
    let client = HttpClient::new();

    let url = server.url("/slow");
    // The client's patience runs out once the request is in flight (not
    // after a fixed time, which a loaded machine may take to get it there).
    let (time_out, timed_out) = oneshot::channel::<()>();
    let call = tokio::spawn(async move {
        let patience = async {
            let _ = timed_out.await;
        };
        client
            .send_until(request(Method::GET, &url, &[]), patience)
            .await
    });
    gauge_reaches(&exporter, "GET", "/slow", 1.0).await;
    let _ = time_out.send(());
    let reply = call.await.expect("the client task");
    assert!(reply.is_none(), "the client gave up: {reply:?}");
    gauge_reaches(&exporter, "GET", "/slow", 0.0).await;
    // No response was sent: nothing is counted.
    assert_eq!(requests(&exporter, "/slow", "200"), None);
}

#[tokio::test]
async fn a_client_that_closes_the_connection() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(sleeper()).await;

    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect to the server");
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send the request");
    gauge_reaches(&exporter, "GET", "/slow", 1.0).await;
    drop(stream);
    gauge_reaches(&exporter, "GET", "/slow", 0.0).await;
}

#[tokio::test]
async fn many_abandoned_requests_leave_nothing_behind() {
    const CLIENTS: usize = 20;
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(sleeper()).await;

    let mut streams = Vec::new();
    for _ in 0..CLIENTS {
        let mut stream = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect to the server");
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .expect("send the request");
        streams.push(stream);
    }
    gauge_reaches(&exporter, "GET", "/slow", CLIENTS as f64).await;
    // Half go away, then the rest.
    streams.truncate(CLIENTS / 2);
    gauge_reaches(&exporter, "GET", "/slow", (CLIENTS / 2) as f64).await;
    streams.clear();
    gauge_reaches(&exporter, "GET", "/slow", 0.0).await;
}
