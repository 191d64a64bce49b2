//! Noticing a layer that wraps the whole router, where it cannot see the
//! [`MatchedPath`](axum::extract::MatchedPath) and so labels every request
//! `route="unmatched"`.
//!
//! The router inserts `MatchedPath` into the request *after* routing, so a
//! layer around the router never sees it, while a layer added with
//! `Router::layer` wraps each route and sees it on every matched request.
//! Two signals, both cheap:
//! - the type the layer wraps: axum's `Route` (added with `Router::layer`,
//!   `route_layer` or `MethodRouter::layer`) is inside a router for sure;
//!   axum's `Router` is around it for sure;
//! - otherwise (other layers in between), a successful (2xx or 3xx) response
//!   to a request without `MatchedPath`, while this layer has never seen a
//!   request with one. A 404 from the fallback is no sign of anything.
//!
//! A misplacement is logged once (a `tracing` warning) and reported once to
//! the guard through the `metrics` facade
//! ([`Problem::HttpLayerOutsideRouter`]), so that an app without a
//! subscriber sees it too: in the report's `notes` and in
//! `cardinality_guard_problems{problem="http_layer_outside_router"}`.

use std::any::TypeId;
use std::sync::atomic::{AtomicBool, Ordering};

use cardinality_guard_core::Problem;
use http::StatusCode;

/// Where a service built by the layer sits, as far as its type tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// It wraps an axum `Route`: inside a router.
    InsideRouter,
    /// It wraps an axum `Router`: around it, a misplacement.
    AroundRouter,
    /// Anything else: the requests will tell.
    Unknown,
}

impl Placement {
    pub(crate) fn of<S: 'static>() -> Placement {
        let wrapped = TypeId::of::<S>();
        if wrapped == TypeId::of::<axum::routing::Route>() {
            Placement::InsideRouter
        } else if wrapped == TypeId::of::<axum::Router>() {
            Placement::AroundRouter
        } else {
            Placement::Unknown
        }
    }
}

/// Shared by a layer and every service it builds: the warning is logged (and
/// the problem reported) once per layer, not per request.
#[derive(Debug, Default)]
pub(crate) struct PlacementCheck {
    matched_seen: AtomicBool,
    warned: AtomicBool,
}

/// The one warning, with the fix.
pub(crate) const MISPLACED: &str = "HttpMetricsLayer does not see the matched route \
(axum's MatchedPath): it wraps the whole Router (`HttpMetricsLayer::new().layer(router)`, or a \
ServiceBuilder around the router), so every request is labelled route=\"unmatched\". \
Add it with `Router::layer`, after all routes and the fallback: \
`Router::new().route(...).fallback(...).layer(HttpMetricsLayer::new())`";

impl PlacementCheck {
    /// A request carrying `MatchedPath` reached the layer: it is inside a router.
    pub(crate) fn matched(&self) {
        if !self.matched_seen.load(Ordering::Relaxed) {
            self.matched_seen.store(true, Ordering::Relaxed);
        }
    }

    /// A request without `MatchedPath` was answered with `status`.
    pub(crate) fn unmatched(&self, placement: Placement, status: StatusCode) {
        let misplaced = match placement {
            Placement::InsideRouter => false,
            Placement::AroundRouter => true,
            Placement::Unknown => {
                (status.is_success() || status.is_redirection())
                    && !self.matched_seen.load(Ordering::Relaxed)
            }
        };
        if misplaced
            && !self.warned.load(Ordering::Relaxed)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("{MISPLACED}");
            Problem::HttpLayerOutsideRouter.report();
        }
    }
}
