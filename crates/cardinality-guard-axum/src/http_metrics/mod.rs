//! Middleware that records HTTP server metrics with bounded label values.
//!
//! Add [`HttpMetricsLayer`] with `Router::layer`, after every route and the
//! fallback, so it sees the [`MatchedPath`](axum::extract::MatchedPath) of
//! each request. It records through the global `metrics` recorder (the guard,
//! when installed):
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `http_server_requests_total` | counter | `method`, `route`, `status` |
//! | `http_server_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `http_server_active_requests` | gauge | `method`, `route` |
//! | `http_server_request_body_size_bytes` | histogram, with [`body_sizes`](HttpMetricsLayer::body_sizes) | `method`, `route`, `status` |
//! | `http_server_response_body_size_bytes` | histogram, with [`body_sizes`](HttpMetricsLayer::body_sizes) | `method`, `route`, `status` |
//!
//! - `route` is the route template (`/users/{id}`), never the raw path;
//!   requests that match no route get `route="unmatched"`.
//! - `method` is one of the nine standard methods, anything else `_OTHER`.
//! - `status` is the numeric code. The duration runs from the call to the
//!   response head.
//! - The in-flight gauge goes back down however the request ends: a response,
//!   an error (not counted in `requests_total`: there is no status), a panic
//!   unwinding through the middleware, or the response future dropped because
//!   the client went away.
//!
//! ```
//! use axum::{routing::get, Router};
//! use cardinality_guard_axum::HttpMetricsLayer;
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(HttpMetricsLayer::new());
//! ```

mod future;
mod labels;
mod layer;
mod options;
mod placement;
mod service;

pub use self::future::ResponseFuture;
pub use self::labels::{OTHER_METHOD, UNMATCHED_ROUTE};
pub use self::layer::HttpMetricsLayer;
pub use self::options::LabelNames;
pub use self::service::HttpMetrics;

/// `http_server_requests_total{method, route, status}`.
pub const REQUESTS_TOTAL: &str = "http_server_requests_total";
/// `http_server_request_duration_seconds{method, route, status}`.
pub const REQUEST_DURATION_SECONDS: &str = "http_server_request_duration_seconds";
/// `http_server_active_requests{method, route}`.
pub const ACTIVE_REQUESTS: &str = "http_server_active_requests";
/// `http_server_request_body_size_bytes{method, route, status}`, when
/// [`body_sizes`](HttpMetricsLayer::body_sizes) is on.
pub const REQUEST_BODY_SIZE_BYTES: &str = "http_server_request_body_size_bytes";
/// `http_server_response_body_size_bytes{method, route, status}`, when
/// [`body_sizes`](HttpMetricsLayer::body_sizes) is on.
pub const RESPONSE_BODY_SIZE_BYTES: &str = "http_server_response_body_size_bytes";

/// Gives the five metrics (the two body-size histograms are recorded only
/// with [`body_sizes`](HttpMetricsLayer::body_sizes) on) their `# HELP` text,
/// once per process, through the recorder current at the first request (so it
/// reaches the installed one).
pub(crate) fn describe_once() {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    DESCRIBED.call_once(|| {
        metrics::describe_counter!(
            REQUESTS_TOTAL,
            "HTTP requests answered, by route template, method and status."
        );
        metrics::describe_histogram!(
            REQUEST_DURATION_SECONDS,
            metrics::Unit::Seconds,
            "Time from the request to the response head, by route template, method and status."
        );
        metrics::describe_gauge!(
            ACTIVE_REQUESTS,
            "HTTP requests in flight, by route template and method."
        );
        metrics::describe_histogram!(
            REQUEST_BODY_SIZE_BYTES,
            metrics::Unit::Bytes,
            "Declared request body sizes (Content-Length), by route template, method and status."
        );
        metrics::describe_histogram!(
            RESPONSE_BODY_SIZE_BYTES,
            metrics::Unit::Bytes,
            "Declared response body sizes, by route template, method and status."
        );
    });
}
