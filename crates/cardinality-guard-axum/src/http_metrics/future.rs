use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http::Response;
use metrics::{Gauge, SharedString};
use pin_project_lite::pin_project;

use super::placement::{Placement, PlacementCheck};
use super::{labels, ACTIVE_REQUESTS, REQUESTS_TOTAL, REQUEST_DURATION_SECONDS};

/// One request in flight: the gauge goes up now and down when this is
/// dropped, whichever way the request ends.
#[derive(Debug)]
pub(crate) struct InFlight {
    gauge: Gauge,
}

impl InFlight {
    pub(crate) fn start(method: &'static str, route: SharedString) -> Self {
        let gauge = metrics::gauge!(ACTIVE_REQUESTS, "method" => method, "route" => route);
        gauge.increment(1.0);
        InFlight { gauge }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}

pin_project! {
    /// The response future of [`HttpMetrics`](super::HttpMetrics).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        method: &'static str,
        route: SharedString,
        start: Instant,
        in_flight: Option<InFlight>,
        check: Option<(Placement, Arc<PlacementCheck>)>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        method: &'static str,
        route: SharedString,
        start: Instant,
        in_flight: InFlight,
        check: Option<(Placement, Arc<PlacementCheck>)>,
    ) -> Self {
        ResponseFuture {
            inner,
            method,
            route,
            start,
            in_flight: Some(in_flight),
            check,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            if let Some((placement, check)) = this.check.take() {
                check.unmatched(placement, response.status());
            }
            let elapsed = this.start.elapsed().as_secs_f64();
            let status = labels::status(response.status());
            let method = *this.method;
            let route = this.route.clone();
            metrics::counter!(REQUESTS_TOTAL, "method" => method, "route" => route.clone(), "status" => status.clone())
                .increment(1);
            metrics::histogram!(REQUEST_DURATION_SECONDS, "method" => method, "route" => route, "status" => status)
                .record(elapsed);
        }
        this.in_flight.take();
        Poll::Ready(result)
    }
}
