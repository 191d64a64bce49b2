use std::sync::Arc;

use tower_layer::Layer;

use super::options::{LabelNames, Options};
use super::placement::{Placement, PlacementCheck};
use super::HttpMetrics;

/// Wraps a service in [`HttpMetrics`]. See the [module docs](super).
///
/// Add it with `Router::layer`, after all routes and the fallback. Wrapped
/// around the whole router instead, it cannot see the matched route: it then
/// logs one `tracing` warning saying so (once per layer, not per request).
///
/// ```
/// use axum::{routing::get, Router};
/// use cardinality_guard_axum::http_metrics::LabelNames;
/// use cardinality_guard_axum::HttpMetricsLayer;
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "hello" }))
///     .route("/metrics", get(|| async { "# metrics" }))
///     .layer(
///         HttpMetricsLayer::new()
///             .exclude_route("/metrics")
///             .label_names(LabelNames::OpenTelemetry)
///             .body_sizes(true),
///     );
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a layer does nothing until it wraps a service (`Router::layer`)"]
pub struct HttpMetricsLayer {
    options: Arc<Options>,
    placement: Arc<PlacementCheck>,
}

impl HttpMetricsLayer {
    /// A layer recording the three HTTP server metrics (requests, duration,
    /// in flight; the two body-size histograms too with
    /// [`body_sizes`](Self::body_sizes)), with `method`, `route` and `status`
    /// labels, for every route.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use cardinality_guard_axum::HttpMetricsLayer;
    ///
    /// let app: Router = Router::new()
    ///     .route("/", get(|| async { "home" }))
    ///     .fallback(|| async { "not found" })
    ///     .layer(HttpMetricsLayer::new()); // last: after every route and the fallback
    /// # let _ = app;
    /// ```
    pub fn new() -> Self {
        HttpMetricsLayer::default()
    }

    /// Records nothing for requests matched to the route `template` (as
    /// written in `Router::route`, e.g. `"/metrics"` or `"/users/{id}"`):
    /// no count, no duration, no in-flight gauge. Call it once per route.
    /// Default: every route is recorded.
    ///
    /// ```
    /// use cardinality_guard_axum::{HttpMetricsLayer, DEFAULT_REPORT_PATH};
    ///
    /// let layer = HttpMetricsLayer::new()
    ///     .exclude_route("/metrics")
    ///     .exclude_route(DEFAULT_REPORT_PATH);
    /// # let _ = layer;
    /// ```
    pub fn exclude_route(mut self, template: impl Into<String>) -> Self {
        let template = template.into().into_boxed_str();
        Arc::make_mut(&mut self.options).excluded.push(template);
        self
    }

    /// The label keys to write. Default: [`LabelNames::Short`] (`method`,
    /// `route`, `status`); [`LabelNames::OpenTelemetry`] writes
    /// `http_request_method`, `http_route`, `http_response_status_code`.
    ///
    /// ```
    /// use cardinality_guard_axum::http_metrics::LabelNames;
    /// use cardinality_guard_axum::HttpMetricsLayer;
    ///
    /// let layer = HttpMetricsLayer::new().label_names(LabelNames::OpenTelemetry);
    /// # let _ = layer;
    /// ```
    pub fn label_names(mut self, names: LabelNames) -> Self {
        Arc::make_mut(&mut self.options).names = names;
        self
    }

    /// Also records `http_server_request_body_size_bytes` and
    /// `http_server_response_body_size_bytes` (histograms, same labels as the
    /// duration). Sizes are the *declared* ones, not counted bytes: the
    /// request's `Content-Length`; the response's `Content-Length`, or its
    /// body's exact length when known (what the server sends as
    /// `Content-Length`). A body of unknown length (chunked, streamed) is not
    /// recorded. Give these histograms byte-sized buckets in the guard's
    /// config (`[[histograms.per_metric]]`). Default: off.
    ///
    /// ```
    /// use cardinality_guard_axum::HttpMetricsLayer;
    ///
    /// let layer = HttpMetricsLayer::new().body_sizes(true);
    /// # let _ = layer;
    /// ```
    pub fn body_sizes(mut self, on: bool) -> Self {
        Arc::make_mut(&mut self.options).body_sizes = on;
        self
    }
}

impl<S: 'static> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics::with(
            inner,
            self.options.clone(),
            Placement::of::<S>(),
            self.placement.clone(),
        )
    }
}
