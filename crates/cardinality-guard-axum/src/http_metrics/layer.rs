use tower_layer::Layer;

use super::HttpMetrics;

/// Wraps a service in [`HttpMetrics`]. See the [module docs](super).
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpMetricsLayer {
    _private: (),
}

impl HttpMetricsLayer {
    /// A layer recording the three HTTP server metrics.
    pub fn new() -> Self {
        HttpMetricsLayer::default()
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics::new(inner)
    }
}
