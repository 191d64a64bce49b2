//! The example service's router, shared by `service`, `demo` and the tests
//! (`#[path = "shared/app.rs"] mod app;`).
#![allow(dead_code)] // each includer uses a part
#![allow(unreachable_pub)] // `pub` for the examples, benches and tests that include this file

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use cardinality_guard::axum::{HttpMetricsLayer, ReportEndpoint};
use cardinality_guard::PrometheusGuard;
use metrics_exporter_prometheus::PrometheusHandle;

/// Where `/metrics` gets its text from.
#[derive(Clone)]
pub enum Exposition {
    /// The guarded exporter: `/metrics` and `/debug/cardinality`.
    Guarded(PrometheusGuard),
    /// A bare exporter (the guard switched off): `/metrics` only.
    Unguarded(PrometheusHandle),
}

impl Exposition {
    pub fn render(&self) -> String {
        match self {
            Exposition::Guarded(g) => g.render(),
            Exposition::Unguarded(h) => h.render(),
        }
    }
}

/// `/`, `/users/{id}`, `/orders/{id}`, `/metrics`, `/debug/cardinality`;
/// everything else is a 404 with `route="unmatched"`.
pub fn router(exposition: Exposition) -> Router {
    metrics::describe_counter!(
        "app_logins_total",
        "Logins, by user id: an unbounded label, on purpose."
    );
    let metrics = exposition.clone();
    let mut app = Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(login))
        .route("/orders/{id}", get(order))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        metrics.render(),
                    )
                }
            }),
        );
    if let Exposition::Guarded(guard) = &exposition {
        app = app.merge(ReportEndpoint::new(guard.guard().clone()).router());
    }
    app.fallback(not_found).layer(HttpMetricsLayer::new())
}

async fn index() -> &'static str {
    "cardinality-guard example service\n\
     GET /users/{id}         logs a user in (app_logins_total{user=<id>}: an unbounded label)\n\
     GET /orders/{id}        shows an order\n\
     GET /metrics            Prometheus text exposition\n\
     GET /debug/cardinality  the guard's report (JSON, or HTML in a browser)\n"
}

/// The classic mistake, on purpose: a user id as a label value.
async fn login(Path(id): Path<String>) -> String {
    metrics::counter!("app_logins_total", "user" => id.clone()).increment(1);
    format!("welcome back, user {id}\n")
}

async fn order(Path(id): Path<String>) -> String {
    format!("order {id}\n")
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found\n")
}
