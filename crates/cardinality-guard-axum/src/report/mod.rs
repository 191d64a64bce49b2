//! The report endpoint: the guard's [`Report`](cardinality_guard_core::Report) as JSON, or as an HTML page to
//! a browser.
//!
//! ```
//! use axum::Router;
//! use cardinality_guard_axum::ReportEndpoint;
//! use cardinality_guard_core::{Config, GuardLayer};
//!
//! let guard = GuardLayer::new(Config::embedded()).handle();
//! let app: Router = Router::new().merge(ReportEndpoint::new(guard).router());
//! ```
//!
//! `GET /debug/cardinality` answers JSON (`Content-Type: application/json`):
//! the global figures and one entry per metric (name, kind, series, limit,
//! utilization, overflow counts, mode, `keep`, evictions, updates), sorted
//! by series, and at the top the `unmatched_rules` and `notes` (what loads or
//! runs without an error but is likely not meant; the page shows them above
//! its table). A client whose
//! `Accept` header names `text/html` (a browser) gets a page with the same
//! table, a utilization bar and a sparkline of the last hour per metric,
//! and the time it was generated (UTC); `?format=json` or `?format=html`
//! overrides the header (when repeated, the last `format` wins).
//! `?refresh=N` (whole seconds, 5 to 3600; anything else is ignored) makes
//! the page reload itself every `N` seconds (a `<meta http-equiv="refresh">`:
//! the page runs no scripts); the page links to turn it on and off. Each
//! metric carries its `recommendation` (what to do, in one line; `null` when
//! it is comfortably within budget and no label limit folds most of its
//! updates). `?format=toml` answers a complete
//! suggested `guard.toml` built from what the guard observed
//! (`Content-Type: application/toml; charset=utf-8`): deploy in shadow mode,
//! read the recommendations, fetch the suggestion, apply it. A media range
//! with an invalid q-value (`q=abc`) is ignored, as RFC 9110 asks. Every
//! answer carries `X-Content-Type-Options: nosniff`; the page also a strict
//! `Content-Security-Policy` (no scripts; its one inline style sheet allowed
//! by hash). Label values are never shown unless the endpoint
//! was built [`with_label_values`](ReportEndpoint::with_label_values): they may
//! hold personal data.
//!
//! `POST` to the same path reloads the config file when the endpoint was
//! built [`with_reload_on_post`](ReportEndpoint::with_reload_on_post), from
//! loopback only or with a bearer token (see [`ReloadOnPost`] for the
//! security trade-off); otherwise a `POST` is a 405, as any method but `GET`.

mod bearer_token;
mod escape;
mod html;
mod meter;
mod negotiation;
mod notices;
mod page;
mod refresh;
mod reload_on_post;
mod sparkline;
mod utc;

pub use bearer_token::{BearerToken, TokenError};
pub use reload_on_post::{ReloadAccess, ReloadOnPost};

use page::Page;
use reload_on_post::Reloading;

use axum::extract::{Query, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use cardinality_guard_core::GuardHandle;
use serde_json::{json, Value};

/// Where [`ReportEndpoint::router`] serves the report.
pub const DEFAULT_REPORT_PATH: &str = "/debug/cardinality";

/// Serves a guard's report. Cheap to clone.
///
/// Built from the guard's handle ([`PrometheusGuard::guard`], or
/// [`GuardLayer::handle`]); none of its methods fail.
///
/// ```
/// use axum::{routing::get, Router};
/// use cardinality_guard_axum::ReportEndpoint;
/// use cardinality_guard_core::{Config, PrometheusGuard};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (recorder, exporter) = PrometheusGuard::builder(Config::embedded()).build()?;
/// # drop(recorder);
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .merge(ReportEndpoint::new(exporter.guard().clone()).router());
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
///
/// [`PrometheusGuard::guard`]: cardinality_guard_core::PrometheusGuard::guard
/// [`GuardLayer::handle`]: cardinality_guard_core::GuardLayer::handle
#[derive(Clone, Debug)]
#[must_use = "an endpoint does nothing until it is mounted (`router`, `router_at`, `method_router`)"]
pub struct ReportEndpoint {
    guard: GuardHandle,
    label_values: usize,
    /// `POST` reloads: off unless opted in.
    reload: Option<ReloadOnPost>,
}

impl ReportEndpoint {
    /// An endpoint for `guard`'s report, without label values.
    pub fn new(guard: GuardHandle) -> Self {
        ReportEndpoint {
            guard,
            label_values: 0,
            reload: None,
        }
    }

    /// Opts in to reloading the config file on a `POST` to the endpoint's
    /// path, under `reload`'s access rule. Default: off (a `POST` is a
    /// 405). Who can `POST` can put the file in force: read the security
    /// notes on [`ReloadOnPost`] first.
    ///
    /// ```
    /// use axum::Router;
    /// use cardinality_guard_axum::{ReloadOnPost, ReportEndpoint};
    /// use cardinality_guard_core::{Config, GuardLayer};
    /// use std::net::SocketAddr;
    ///
    /// let guard = GuardLayer::new(Config::embedded()).handle();
    /// let app: Router = ReportEndpoint::new(guard)
    ///     .with_reload_on_post(ReloadOnPost::loopback_only("guard.toml"))
    ///     .router();
    /// // Loopback only needs the peer address: serve with
    /// let _service = app.into_make_service_with_connect_info::<SocketAddr>();
    /// // axum::serve(listener, _service).await?;
    /// ```
    pub fn with_reload_on_post(mut self, reload: ReloadOnPost) -> Self {
        self.reload = Some(reload);
        self
    }

    /// Opts in to showing up to `per_metric` admitted label sets of each
    /// metric. Default: 0 (none): label values may hold personal data.
    ///
    /// ```
    /// use cardinality_guard_axum::ReportEndpoint;
    /// use cardinality_guard_core::{Config, GuardLayer};
    ///
    /// let guard = GuardLayer::new(Config::embedded()).handle();
    /// // Behind authentication only: label values may hold personal data.
    /// let endpoint = ReportEndpoint::new(guard).with_label_values(5);
    /// # let _ = endpoint;
    /// ```
    pub fn with_label_values(mut self, per_metric: usize) -> Self {
        self.label_values = per_metric;
        self
    }

    /// A router serving the report at [`DEFAULT_REPORT_PATH`].
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        self.router_at(DEFAULT_REPORT_PATH)
    }

    /// A router serving the report at `path`.
    ///
    /// # Panics
    ///
    /// When axum refuses `path` as a route (it must start with `/`), as
    /// `Router::route` does.
    ///
    /// ```
    /// use axum::Router;
    /// use cardinality_guard_axum::ReportEndpoint;
    /// use cardinality_guard_core::{Config, GuardLayer};
    ///
    /// let guard = GuardLayer::new(Config::embedded()).handle();
    /// let app: Router = ReportEndpoint::new(guard).router_at("/internal/cardinality");
    /// # let _ = app;
    /// ```
    pub fn router_at<S: Clone + Send + Sync + 'static>(self, path: &str) -> Router<S> {
        Router::new().route(path, self.method_router())
    }

    /// The handlers alone (`GET`, and `POST` when
    /// [reloads](Self::with_reload_on_post) are on), to mount with
    /// `Router::route`.
    ///
    /// ```
    /// use axum::Router;
    /// use cardinality_guard_axum::ReportEndpoint;
    /// use cardinality_guard_core::{Config, GuardLayer};
    ///
    /// let guard = GuardLayer::new(Config::embedded()).handle();
    /// let app: Router = Router::new().route("/cardinality", ReportEndpoint::new(guard).method_router());
    /// # let _ = app;
    /// ```
    pub fn method_router<S: Clone + Send + Sync + 'static>(self) -> MethodRouter<S> {
        let reloading = self.reload.clone().map(|post| Reloading {
            guard: self.guard.clone(),
            post,
        });
        let handlers = get(serve).with_state(self);
        match reloading {
            Some(reloading) => handlers.post_service(reload_on_post::reload.with_state(reloading)),
            None => handlers,
        }
    }

    fn page(&self) -> Page {
        let report = self.guard.report();
        let label_sets = (self.label_values > 0).then(|| {
            report
                .metrics
                .iter()
                .map(|m| {
                    self.guard
                        .label_sets(m.kind, &m.name, self.label_values)
                        .into_iter()
                        .map(|labels| {
                            labels
                                .iter()
                                .map(|(k, v)| format!("{k}={v:?}"))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .collect()
                })
                .collect()
        });
        Page { report, label_sets }
    }
}

async fn serve(
    State(endpoint): State<ReportEndpoint>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let format = negotiation::format(&query, &headers);
    if format == negotiation::Format::Toml {
        return toml_response(endpoint.guard.suggested_config());
    }
    let page = endpoint.page();
    let mut response = if format == negotiation::Format::Html {
        let refresh = refresh::refresh_seconds(&query);
        let mut response = html::render(&page, refresh).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(html::CONTENT_SECURITY_POLICY),
        );
        response
    } else {
        let mut response = to_json(&page).to_string().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    };
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The suggested `guard.toml`, as `application/toml`.
fn toml_response(text: String) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/toml; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn to_json(page: &Page) -> Value {
    let mut value = serde_json::to_value(&page.report).unwrap_or_else(|_| json!({}));
    if let (Some(sets), Some(metrics)) = (
        &page.label_sets,
        value.get_mut("metrics").and_then(Value::as_array_mut),
    ) {
        for (metric, sets) in metrics.iter_mut().zip(sets) {
            if let Some(obj) = metric.as_object_mut() {
                obj.insert("label_sets_sample".into(), json!(sets));
            }
        }
    }
    value
}
