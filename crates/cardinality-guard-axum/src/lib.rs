//! HTTP metrics for [axum] that never leak cardinality, and the endpoint that
//! shows the cardinality guard's report.
//!
//! - [`HttpMetricsLayer`]: a tower layer recording request count, duration
//!   and in-flight requests labelled by route *template* (never the raw
//!   path), standard method and status code.
//! - [`ReportEndpoint`]: the guard's report as JSON, or HTML for a browser;
//!   optionally a `POST` that reloads the config file
//!   ([`ReportEndpoint::with_reload_on_post`]).
//! - [`reload_on_sighup`] (Unix): reloads the config file on `SIGHUP`.
//! - [`serve::serve`]: serves an app with the limits `axum::serve` leaves
//!   out (header-read, write and idle timeouts, a connection cap), so a
//!   client that asks for `/metrics` and never reads can't hold the server.
//!
//! ```
//! use axum::{routing::get, Router};
//! use cardinality_guard_axum::{HttpMetricsLayer, ReportEndpoint};
//! use cardinality_guard_core::PrometheusGuard;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (guard, exporter) =
//!     PrometheusGuard::builder(cardinality_guard_core::Config::embedded()).build()?;
//! // metrics::set_global_recorder(guard)?;
//! # drop(guard);
//! let metrics = exporter.clone();
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .route("/metrics", get(move || async move { metrics.render() }))
//!     .merge(ReportEndpoint::new(exporter.guard().clone()).router())
//!     .layer(HttpMetricsLayer::new());
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

pub mod http_metrics;
pub mod reload;
pub mod report;
pub mod serve;

pub use http_metrics::{HttpMetrics, HttpMetricsLayer};
#[cfg(unix)]
pub use reload::{ignore_sighup, reload_on_sighup};
pub use report::{
    BearerToken, ReloadAccess, ReloadOnPost, ReportEndpoint, TokenError, DEFAULT_REPORT_PATH,
};
