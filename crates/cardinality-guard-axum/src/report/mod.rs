//! The report endpoint: the guard's [`Report`] as JSON, or as an HTML page to
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
//! utilization, overflow counts, mode), sorted by series. A client whose
//! `Accept` header names `text/html` (a browser) gets a page with the same
//! table and a utilization bar per metric; `?format=json` or `?format=html`
//! overrides the header. Label values are never shown unless the endpoint
//! was built [`with_label_values`](ReportEndpoint::with_label_values): they may
//! hold personal data.

mod html;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use cardinality_guard_core::{GuardHandle, Report};
use serde_json::{json, Value};

/// Where [`ReportEndpoint::router`] serves the report.
pub const DEFAULT_REPORT_PATH: &str = "/debug/cardinality";

/// Serves a guard's report. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ReportEndpoint {
    guard: GuardHandle,
    label_values: usize,
}

/// A report with, when opted in, some admitted label sets per metric.
pub(crate) struct Page {
    pub(crate) report: Report,
    /// Per metric (same order as `report.metrics`): label sets as `k="v"` lists.
    pub(crate) label_sets: Option<Vec<Vec<String>>>,
}

#[derive(serde::Deserialize)]
struct Format {
    format: Option<String>,
}

impl ReportEndpoint {
    /// An endpoint for `guard`'s report, without label values.
    pub fn new(guard: GuardHandle) -> Self {
        ReportEndpoint {
            guard,
            label_values: 0,
        }
    }

    /// Opts in to showing up to `per_metric` admitted label sets of each
    /// metric. Default: 0 (none): label values may hold personal data.
    pub fn with_label_values(mut self, per_metric: usize) -> Self {
        self.label_values = per_metric;
        self
    }

    /// A router serving the report at [`DEFAULT_REPORT_PATH`].
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        self.router_at(DEFAULT_REPORT_PATH)
    }

    /// A router serving the report at `path`.
    pub fn router_at<S: Clone + Send + Sync + 'static>(self, path: &str) -> Router<S> {
        Router::new().route(path, self.method_router())
    }

    /// The `GET` handler alone, to mount with `Router::route`.
    pub fn method_router<S: Clone + Send + Sync + 'static>(self) -> MethodRouter<S> {
        get(serve).with_state(self)
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
    Query(format): Query<Format>,
    headers: HeaderMap,
) -> Response {
    let page = endpoint.page();
    if wants_html(format.format.as_deref(), &headers) {
        let mut response = html::render(&page).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    } else {
        let mut response = to_json(&page).to_string().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// HTML when `?format=html`, or when the `Accept` header ranks `text/html`
/// above JSON (q-values honoured; `*/*` alone means JSON).
fn wants_html(format: Option<&str>, headers: &HeaderMap) -> bool {
    if let Some(f) = format {
        return f.eq_ignore_ascii_case("html");
    }
    let (mut html, mut json) = (0.0_f32, 0.0_f32);
    let ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for range in ranges {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "text/html" => html = html.max(q),
            "application/json" | "application/*" | "*/*" => json = json.max(q),
            _ => {}
        }
    }
    html > 0.0 && html > json
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn browsers_get_html_and_the_rest_json() {
        let browser = accept("text/html,application/xhtml+xml,*/*;q=0.8");
        assert!(wants_html(None, &browser));
        assert!(!wants_html(None, &accept("*/*")));
        assert!(!wants_html(None, &HeaderMap::new()));
        assert!(!wants_html(Some("json"), &browser));
        assert!(wants_html(Some("html"), &HeaderMap::new()));
        assert!(!wants_html(
            None,
            &accept("application/json, text/html;q=0")
        ));
        assert!(!wants_html(
            None,
            &accept("application/json, text/html;q=0.1")
        ));
        assert!(wants_html(
            None,
            &accept("text/html;q=0.9, application/json;q=0.5")
        ));
    }
}
