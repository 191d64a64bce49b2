//! The audit (`cardinality-guard audit`'s library) and the guard agree on
//! our own example service: after a flood of unique users on `/users/{id}`
//! (`app_logins_total{user}`, the intentionally unbounded label), each
//! guarded metric's series counted by the audit in one scrape of `/metrics`
//! equal the guard's `cardinality_guard_series{metric=...}` line in that very
//! scrape, and the audit names `app_logins_total` and `user`.

#[path = "../examples/shared/app.rs"]
mod app;

use std::collections::BTreeMap;

use axum::body::Body;
use cardinality_guard::text::{Format, Line, Parser};
use cardinality_guard::{Config, PrometheusGuard};
use cardinality_guard_cli::audit_text;
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

const GUARD_TOML: &str = r#"
[defaults]
max_series = 500

[histograms]
buckets = [0.01, 0.1, 1]

[[metrics]]
match = "app_logins_total"
max_series = 50
"#;

const USERS: usize = 400;

async fn get(client: &Client<HttpConnector, Body>, url: String) -> (u16, String) {
    let response = client
        .get(url.parse().expect("url"))
        .await
        .expect("the service answers");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// `cardinality_guard_series{metric="m"} v` lines of a scrape.
fn self_report(text: &str) -> BTreeMap<String, u64> {
    let mut parser = Parser::new(Format::Prometheus);
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Ok(Line::Sample(s)) = parser.line(line) {
            if s.name == "cardinality_guard_series" {
                let metric = s.labels.iter().find(|(n, _)| *n == "metric");
                if let Some((_, m)) = metric {
                    out.insert(m.to_string(), s.value as u64);
                }
            }
        }
    }
    out
}

#[test]
fn audit_series_equal_the_guard_self_report_in_the_same_scrape() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let config = Config::from_toml(GUARD_TOML, "<test>").expect("valid config");
        let exporter = PrometheusGuard::builder(config)
            .install()
            .expect("the guard installs (one test per process)");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let service = listener.local_addr().unwrap();
        let app = app::router(app::Exposition::Guarded(exporter.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client: Client<HttpConnector, Body> =
            Client::builder(TokioExecutor::new()).build_http();

        for user in 0..USERS {
            let (status, _) = get(&client, format!("http://{service}/users/u{user}")).await;
            assert_eq!(status, 200);
        }
        // The first scrape creates the /metrics route's own series; audit the second.
        let _ = get(&client, format!("http://{service}/metrics")).await;
        let (status, text) = get(&client, format!("http://{service}/metrics")).await;
        assert_eq!(status, 200);

        let audit =
            audit_text("service", &text, Format::Prometheus).expect("the exposition parses");
        let reported = self_report(&text);
        assert!(reported.len() >= 4, "{reported:?}");
        for (metric, series) in &reported {
            let audited = audit.metric(metric).map_or(0, |m| m.series);
            assert_eq!(
                audited, *series,
                "{metric}: audit vs cardinality_guard_series"
            );
        }
        assert_eq!(reported["app_logins_total"], 50);

        let logins = audit.metric("app_logins_total").expect("audited");
        assert_eq!(logins.labels[0].name, "user");
        assert_eq!(
            logins.labels[0].values, 49,
            "49 users; the overflow series has no user"
        );
        assert!(audit
            .top_offenders
            .iter()
            .any(|o| o.metric == "app_logins_total" && o.label.as_deref() == Some("user")));
        // Every line counts: the guard's total plus the self-report's lines.
        assert_eq!(
            audit.total_series,
            text.lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .count() as u64
        );
    });
}
