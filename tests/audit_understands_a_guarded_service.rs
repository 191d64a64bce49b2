//! `cardinality-guard audit` understands a guarded service: on our own
//! example service over real HTTP, after a flood of unique users on
//! `/users/{id}` (`app_logins_total{user}`, folded past `label_limits = {
//! user = 20 }`), the audit of one scrape of `/metrics`:
//!
//! - says `guarded: true`, and keeps the guard's `cardinality_guard_*`
//!   families out of its metrics and offenders (summed up in `self_report`);
//! - counts `__overflow__` as a fold, not as a value of `user`;
//! - and its `--suggest` reads what the service runs (the user label limit,
//!   the user demand) and advises what the guard's own report advises;
//!   budgets not below the running ones where there is nothing to do (the
//!   HTTP duration metric's included: one new route must not overflow it).

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
label_limits = { user = 20 }

[[metrics]]
match = "http_server_request_duration_seconds"
max_series = 400
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
fn the_audit_of_a_guarded_service_reads_its_self_report() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let running = Config::from_toml(GUARD_TOML, "<test>").expect("valid config");
        let exporter = PrometheusGuard::builder(running.clone())
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
        let url = format!("http://{service}/metrics");
        let _ = get(&client, url.clone()).await;
        let (status, text) = get(&client, url.clone()).await;
        assert_eq!(status, 200);

        // `audit --format json`.
        let audit = audit_text(&url, &text, Format::Prometheus).expect("the exposition parses");
        let json = serde_json::to_value(&audit).expect("JSON");
        assert_eq!(json["guarded"], true);
        let names: Vec<&str> = json["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"app_logins_total"), "{names:?}");
        assert!(
            names.iter().all(|n| !n.starts_with("cardinality_guard_")),
            "{names:?}"
        );
        for offender in json["top_offenders"].as_array().unwrap() {
            let metric = offender["metric"].as_str().unwrap();
            assert!(!metric.starts_with("cardinality_guard_"), "{metric}");
        }
        let own = &json["self_report"];
        let families: Vec<&str> = own["families"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert!(
            families.contains(&"cardinality_guard_series_limit"),
            "{families:?}"
        );
        assert!(families.iter().all(|f| f.starts_with("cardinality_guard_")));
        assert_eq!(own["global_series_limit"], 50_000);

        let logins = audit.metric("app_logins_total").expect("audited");
        let user = logins.labels.iter().find(|l| l.name == "user").unwrap();
        assert_eq!(user.values, 20, "20 users kept; `__overflow__` is no value");
        assert_eq!(logins.folded_values, 1, "the `__overflow__` label set");
        assert_eq!(logins.label_sets, 21);
        assert_eq!(logins.series_limit, Some(50));
        assert!(
            user.demand.is_some_and(|d| d >= 390),
            "the guard's demand estimate: {:?}",
            user.demand
        );

        // `audit --suggest`.
        let toml = suggest_text(&url, &text, Format::Prometheus).expect("a suggestion");
        let suggested =
            Config::from_toml(&toml, "suggested.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let policy = suggested.policy_for("app_logins_total");
        // The audit read the running limit (20 values shown) and the demand
        // (~400 ids, each seen once) from the self-report: the engine's
        // advice is the guard's own, remove the label and fold it meanwhile.
        let report = exporter.report();
        let own = report.metric("app_logins_total").unwrap();
        let advice = own.recommendation.as_ref().expect("the guard advises");
        assert_eq!(advice.action.kind(), "remove_label", "{}", advice.text);
        assert_eq!(
            policy.label_limits.get("user").map(|n| n.get()),
            advice.action.label_limit().map(|(_, n)| n),
            "the audit's advice is the report's\n{toml}"
        );
        assert!(toml.contains("values per update"), "{toml}");
        // Where there is nothing to do, the running budgets stay.
        for name in audit.metrics.iter().map(|m| m.name.as_str()) {
            if report
                .metric(name)
                .is_some_and(|m| m.recommendation.is_some())
            {
                continue;
            }
            let was = running.policy_for(name).max_series.get();
            let now = suggested.policy_for(name).max_series.get();
            assert!(now >= was, "{name}: {now} < the running {was}\n{toml}");
        }
        let http = "http_server_request_duration_seconds";
        assert!(audit.metric(http).is_some());
        assert!(suggested.policy_for(http).max_series.get() >= 400, "{toml}");
        assert!(!toml.contains("\"cardinality_guard_"), "{toml}");
    });
}
