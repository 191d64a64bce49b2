use std::sync::Arc;

use tower_layer::Layer;

use super::placement::{Placement, PlacementCheck};
use super::HttpMetrics;

/// Wraps a service in [`HttpMetrics`]. See the [module docs](super).
///
/// Add it with `Router::layer`, after all routes and the fallback. Wrapped
/// around the whole router instead, it cannot see the matched route: it then
/// logs one `tracing` warning saying so (once per layer, not per request).
#[derive(Debug, Clone, Default)]
pub struct HttpMetricsLayer {
    placement: Arc<PlacementCheck>,
}

impl HttpMetricsLayer {
    /// A layer recording the three HTTP server metrics.
    pub fn new() -> Self {
        HttpMetricsLayer::default()
    }
}

impl<S: 'static> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics::with_check(inner, Placement::of::<S>(), self.placement.clone())
    }
}
