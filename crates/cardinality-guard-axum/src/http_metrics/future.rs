use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http::{header, HeaderMap, Response};
use http_body::Body;
use metrics::{Gauge, SharedString};
use pin_project_lite::pin_project;

use super::options::LabelNames;
use super::placement::{Placement, PlacementCheck};
use super::{
    labels, ACTIVE_REQUESTS, REQUESTS_TOTAL, REQUEST_BODY_SIZE_BYTES, REQUEST_DURATION_SECONDS,
    RESPONSE_BODY_SIZE_BYTES,
};

/// One request in flight: the gauge goes up now and down when this is
/// dropped, whichever way the request ends.
#[derive(Debug)]
struct InFlight {
    gauge: Gauge,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}

/// What one recorded request carries from its call to its response.
#[derive(Debug)]
pub(crate) struct Recording {
    names: LabelNames,
    method: &'static str,
    route: SharedString,
    start: Instant,
    /// `None`: body sizes are off; `Some(None)`: on, request size unknown.
    request_size: Option<Option<u64>>,
    _in_flight: InFlight,
}

impl Recording {
    /// Starts recording a request: the in-flight gauge goes up.
    pub(crate) fn start(
        names: LabelNames,
        method: &'static str,
        route: SharedString,
        request_size: Option<Option<u64>>,
    ) -> Self {
        let gauge = metrics::gauge!(ACTIVE_REQUESTS, names.method() => method, names.route() => route.clone());
        gauge.increment(1.0);
        Recording {
            names,
            method,
            route,
            start: Instant::now(),
            request_size,
            _in_flight: InFlight { gauge },
        }
    }

    fn finish<B: Body>(self, response: &Response<B>) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let names = self.names;
        let labels = [
            (names.method(), SharedString::const_str(self.method)),
            (names.route(), self.route.clone()),
            (names.status(), labels::status(response.status())),
        ];
        metrics::counter!(REQUESTS_TOTAL, &labels).increment(1);
        metrics::histogram!(REQUEST_DURATION_SECONDS, &labels).record(elapsed);
        if let Some(request_size) = self.request_size {
            if let Some(size) = request_size {
                metrics::histogram!(REQUEST_BODY_SIZE_BYTES, &labels).record(size as f64);
            }
            let size = content_length(response.headers()).or(response.body().size_hint().exact());
            if let Some(size) = size {
                metrics::histogram!(RESPONSE_BODY_SIZE_BYTES, &labels).record(size as f64);
            }
        }
    }
}

/// The `Content-Length` header, when there is one valid one.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

pin_project! {
    /// The response future of [`HttpMetrics`](super::HttpMetrics).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        recording: Option<Recording>,
        check: Option<(Placement, Arc<PlacementCheck>)>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("recording", &self.recording)
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        recording: Option<Recording>,
        check: Option<(Placement, Arc<PlacementCheck>)>,
    ) -> Self {
        ResponseFuture {
            inner,
            recording,
            check,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            if let Some((placement, check)) = this.check.take() {
                check.unmatched(placement, response.status());
            }
            if let Some(recording) = this.recording.take() {
                recording.finish(response);
            }
        }
        // On an error: dropped unrecorded, the in-flight gauge goes down.
        this.recording.take();
        Poll::Ready(result)
    }
}
