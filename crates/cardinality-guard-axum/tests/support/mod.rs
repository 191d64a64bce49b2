//! Shared helpers for the HTTP integration tests: a guarded exporter built
//! from TOML, a real server on 127.0.0.1, an HTTP/1 client, and a parser of
//! the Prometheus text the exporter renders.
//!
//! Every test records through the guard installed as the thread's *local*
//! recorder (`metrics::set_default_local_recorder`) and runs on the
//! current-thread runtime of `#[tokio::test]`, so the server, the client and
//! the test share one thread and the guard sees every request of its test.
#![allow(dead_code)] // each test binary uses a different subset of the helpers
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::Router;
use cardinality_guard_core::{Config, PrometheusGuard};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The HTTP metrics' names, as the layer under test exports them.
#[allow(unused_imports)] // each test binary uses a different subset
pub use cardinality_guard_axum::http_metrics::{
    ACTIVE_REQUESTS as ACTIVE, REQUESTS_TOTAL as REQUESTS, REQUEST_DURATION_SECONDS as DURATION,
};

/// A guard config with room for every HTTP series the tests create.
pub const HTTP_CONFIG: &str = r#"
[defaults]
max_series = 2000

[histograms]
buckets = [0.01, 0.1, 1]
"#;

/// A guard over a real Prometheus recorder, built from TOML text, without the
/// upkeep thread (samples are drained at every render).
pub fn guarded(toml: &str) -> (impl metrics::Recorder + 'static, PrometheusGuard) {
    let config = Config::from_toml(toml, "<test>").expect("test config is valid");
    PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .expect("exporter builds")
}

/// A server running `app` on 127.0.0.1 (a free port) in a spawned task.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds 127.0.0.1:0 and serves `app` there until dropped.
    pub async fn start(app: Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("server runs");
        });
        Server { addr, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the client got back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `Content-Type` header, or "".
    pub fn content_type(&self) -> &str {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// An HTTP/1 client (hyper-util's legacy client, keep-alive pool).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    pub fn new() -> HttpClient {
        HttpClient {
            inner: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends `request` and reads the whole response.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Reply {
        let response = self.inner.request(request).await.expect("request succeeds");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body is read").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).expect("body is UTF-8"),
        }
    }

    /// `method url` with no body and the given headers.
    pub async fn call(&self, method: Method, url: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(request(method, url, headers)).await
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Reply {
        self.call(Method::GET, url, &[]).await
    }

    /// Sends `request` and gives up (dropping the response future, as a
    /// client whose patience ran out does) when `patience_runs_out`
    /// completes first. `None` when it gave up.
    pub async fn send_until(
        &self,
        request: Request<Full<Bytes>>,
        patience_runs_out: impl Future<Output = ()>,
    ) -> Option<Reply> {
        tokio::select! {
            reply = self.send(request) => Some(reply),
            () = patience_runs_out => None,
        }
    }
}

/// A request with an empty body.
pub fn request(method: Method, url: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(Full::new(Bytes::new()))
        .expect("valid request")
}

/// Polls `probe` (yielding to the runtime, so the server makes progress)
/// until it returns `Some`, for at most `limit`. `None` when time ran out.
pub async fn wait_for<T, F, Fut>(limit: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The core tests' seeded generator, so floods are random-looking yet
/// reproducible.
#[path = "../../../cardinality-guard-core/tests/support/rng.rs"]
mod rng;
#[allow(unused_imports)] // each test binary uses a different subset
pub use rng::Rng;

// ---------------------------------------------------------------------------
// A render read back with core's parser: the core crate's test helpers.

#[path = "../../../cardinality-guard-core/tests/support/exposition.rs"]
mod exposition;
pub use exposition::*;

/// `http_server_active_requests{method, route}` in `exporter`'s render,
/// `None` when that series is not rendered.
pub fn active_requests(exporter: &PrometheusGuard, method: &str, route: &str) -> Option<f64> {
    value_exact(
        &exporter.render(),
        "http_server_active_requests",
        &[("method", method), ("route", route)],
    )
}
