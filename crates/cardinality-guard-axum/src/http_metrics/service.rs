use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use metrics::SharedString;
use tower_service::Service;

use super::future::{InFlight, ResponseFuture};
use super::labels;
use super::placement::{Placement, PlacementCheck};

/// The middleware service built by [`HttpMetricsLayer`](super::HttpMetricsLayer).
#[derive(Debug, Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    placement: Placement,
    check: Arc<PlacementCheck>,
}

impl<S: 'static> HttpMetrics<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        HttpMetrics::with_check(inner, Placement::of::<S>(), Arc::default())
    }
}

impl<S> HttpMetrics<S> {
    pub(crate) fn with_check(inner: S, placement: Placement, check: Arc<PlacementCheck>) -> Self {
        HttpMetrics {
            inner,
            placement,
            check,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        super::describe_once();
        let method = labels::method(request.method());
        let matched = labels::matched_route(&request);
        // Only a request without a matched route, where the type did not
        // already settle the placement, carries the check to its response.
        let check = match (&matched, self.placement) {
            (Some(_), Placement::InsideRouter) | (None, Placement::InsideRouter) => None,
            (Some(_), _) => {
                self.check.matched();
                None
            }
            (None, placement) => Some((placement, self.check.clone())),
        };
        let route = matched.unwrap_or(SharedString::const_str(labels::UNMATCHED_ROUTE));
        let in_flight = InFlight::start(method, route.clone());
        let start = Instant::now();
        ResponseFuture::new(
            self.inner.call(request),
            method,
            route,
            start,
            in_flight,
            check,
        )
    }
}
