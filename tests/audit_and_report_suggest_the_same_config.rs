//! One suggestion engine: on our own example service over real HTTP, flooded
//! with unique users (`app_logins_total{user}`, a budget of 50), with orders
//! and unknown paths besides, the guard's report (`GET
//! /debug/cardinality?format=toml`) and `cardinality-guard audit --suggest`
//! of `/metrics`, taken after the traffic stops, give the same `guard.toml`
//! for every metric of the app (`app_*`, `http_*`): the same `max_series`,
//! `label_limits` and `keep`.

#[path = "../examples/shared/app.rs"]
mod app;

use axum::body::Body;
use cardinality_guard::text::Format;
use cardinality_guard::{Config, PrometheusGuard};
use cardinality_guard_cli::{audit_text, suggest_text};
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

#[test]
fn the_report_and_the_audit_suggest_the_same_budgets() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let running = Config::from_toml(GUARD_TOML, "<test>").expect("valid config");
        let exporter = PrometheusGuard::builder(running)
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
            if user % 10 == 0 {
                let _ = get(&client, format!("http://{service}/orders/{user}")).await;
                let _ = get(&client, format!("http://{service}/nowhere/{user}")).await;
            }
        }
        let metrics = format!("http://{service}/metrics");
        let report = format!("http://{service}/debug/cardinality?format=toml");
        // Both routes have their series before the scrapes that count, and
        // an upkeep has measured the traffic.
        let _ = get(&client, metrics.clone()).await;
        let _ = get(&client, report.clone()).await;
        exporter.run_upkeep();

        let (status, text) = get(&client, metrics.clone()).await;
        assert_eq!(status, 200);
        let (status, from_report) = get(&client, report).await;
        assert_eq!(status, 200);
        let from_audit = suggest_text(&metrics, &text, Format::Prometheus).expect("a suggestion");
        let report_config = Config::from_toml(&from_report, "report.toml")
            .unwrap_or_else(|e| panic!("{e}\n{from_report}"));
        let audit_config = Config::from_toml(&from_audit, "audit.toml")
            .unwrap_or_else(|e| panic!("{e}\n{from_audit}"));

        let audit = audit_text(&metrics, &text, Format::Prometheus).expect("parses");
        let names: Vec<&str> = audit
            .metrics
            .iter()
            .map(|m| m.name.as_str())
            .filter(|n| n.starts_with("app_") || n.starts_with("http_"))
            .collect();
        assert!(names.contains(&"app_logins_total"), "{names:?}");
        assert!(
            names.contains(&"http_server_request_duration_seconds"),
            "{names:?}"
        );
        for name in names {
            let (r, a) = (
                report_config.policy_for(name),
                audit_config.policy_for(name),
            );
            let both = format!("report:\n{from_report}\naudit:\n{from_audit}");
            assert_eq!(r.max_series, a.max_series, "{name}: max_series\n{both}");
            assert_eq!(
                r.label_limits, a.label_limits,
                "{name}: label_limits\n{both}"
            );
            assert_eq!(r.keep, a.keep, "{name}: keep\n{both}");
        }
        println!("{from_audit}");
        // The flood is advised on, the same way: `user` limited.
        let logins = audit_config.policy_for("app_logins_total");
        assert!(logins.label_limits.contains_key("user"), "{from_audit}");
    });
}
