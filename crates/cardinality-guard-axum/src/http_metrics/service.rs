use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower_service::Service;

use super::future::{InFlight, ResponseFuture};
use super::labels;

/// The middleware service built by [`HttpMetricsLayer`](super::HttpMetricsLayer).
#[derive(Debug, Clone)]
pub struct HttpMetrics<S> {
    inner: S,
}

impl<S> HttpMetrics<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        HttpMetrics { inner }
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
        let route = labels::route(&request);
        let in_flight = InFlight::start(method, route.clone());
        let start = Instant::now();
        ResponseFuture::new(self.inner.call(request), method, route, start, in_flight)
    }
}
