use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use metrics::SharedString;
use tower_service::Service;

use super::future::{content_length, Recording, ResponseFuture};
use super::labels;
use super::options::Options;
use super::placement::{Placement, PlacementCheck};

/// The middleware service built by [`HttpMetricsLayer`](super::HttpMetricsLayer).
///
/// ```
/// use axum::{routing::get, Router};
/// use cardinality_guard_axum::{HttpMetrics, HttpMetricsLayer};
/// use tower_layer::Layer;
///
/// let route = get(|| async { "hello" });
/// // What `Router::layer` does for each route: wrap it.
/// let service: HttpMetrics<_> = HttpMetricsLayer::new().layer(route);
/// let app: Router = Router::new().route_service("/", service);
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
#[must_use = "a service does nothing until it is called"]
pub struct HttpMetrics<S> {
    inner: S,
    options: Arc<Options>,
    placement: Placement,
    check: Arc<PlacementCheck>,
}

impl<S: 'static> HttpMetrics<S> {
    /// Wraps `inner`, with the default settings of
    /// [`HttpMetricsLayer::new`](super::HttpMetricsLayer::new).
    pub fn new(inner: S) -> Self {
        HttpMetrics::with(inner, Arc::default(), Placement::of::<S>(), Arc::default())
    }
}

impl<S> HttpMetrics<S> {
    pub(crate) fn with(
        inner: S,
        options: Arc<Options>,
        placement: Placement,
        check: Arc<PlacementCheck>,
    ) -> Self {
        HttpMetrics {
            inner,
            options,
            placement,
            check,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// # Errors
///
/// An error of the inner service is passed on unchanged; the request is not
/// counted in `http_server_requests_total` (it has no status), and its
/// in-flight gauge comes back down.
impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        super::describe_once();
        let matched = labels::matched_route(&request);
        // Only a request without a matched route, where the type did not
        // already settle the placement, carries the check to its response.
        let check = match (&matched, self.placement) {
            (_, Placement::InsideRouter) => None,
            (Some(_), _) => {
                self.check.matched();
                None
            }
            (None, placement) => Some((placement, self.check.clone())),
        };
        let options = &*self.options;
        let recording = match matched {
            Some(route) if options.excludes(&route) => None,
            matched => {
                let route = matched.unwrap_or(SharedString::const_str(labels::UNMATCHED_ROUTE));
                let request_size = options
                    .body_sizes
                    .then(|| content_length(request.headers()));
                Some(Recording::start(
                    options.names,
                    labels::method(request.method()),
                    route,
                    request_size,
                ))
            }
        };
        ResponseFuture::new(self.inner.call(request), recording, check)
    }
}
