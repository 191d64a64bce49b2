//! From the alert to the fix without a restart: the example service,
//! scraped by a real Prometheus evaluating the shipped rules, reloads its
//! `--config` file on SIGHUP (`cardinality_guard::axum::reload_on_sighup`,
//! as `service` does).
//! 1. A raised budget applies at once: new users get their own series, and
//!    Prometheus sees the new limit and the new series.
//! 2. A bad file keeps the running config: the budget holds, the
//!    self-report's `cardinality_guard_config_last_reload_successful` turns
//!    0, and `CardinalityGuardConfigReloadFailed` fires.
//! 3. A good file again: the gauge is back to 1, with a later timestamp.
//! 4. The report's suggested `guard.toml` (`?format=toml`), written to the
//!    file and reloaded: the budget Prometheus sees is the one the report's
//!    recommendation named.
//!
//! Its own test binary: the signals go to this process. Needs Debian's
//! `prometheus` (`.ci/test` installs it); without it the test fails when
//! `CI` is set, and otherwise says it skipped.

#![cfg(unix)]

#[path = "../examples/shared/app.rs"]
mod app;
#[path = "support/prometheus_api.rs"]
mod prometheus_api;
#[path = "support/prometheus_server.rs"]
mod prometheus_server;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use cardinality_guard::{Config, PrometheusGuard};
use prometheus_api::{client, eventually, get, query, scalar, Http};
use prometheus_server::{prometheus_installed, rules_for_test, start_prometheus_with_rules};

const LOGINS: &str = "app_logins_total";
const WAIT: Duration = prometheus_api::PATIENCE;
const POLL: Duration = Duration::from_millis(250);

fn write_budget(path: &Path, max_series: &str) {
    let toml = format!("[[metrics]]\nmatch = \"{LOGINS}\"\nmax_series = {max_series}\n");
    std::fs::write(path, toml).expect("write guard.toml");
}

fn hangup() {
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill -HUP {}", std::process::id())])
        .status()
        .expect("sh runs");
    assert!(sent.success());
}

async fn logins(client: &Http, service: SocketAddr, users: std::ops::Range<u32>) {
    for user in users {
        let answer = get(client, format!("http://{service}/users/{user}")).await;
        assert_eq!(answer.map(|(s, _)| s), Some(200));
    }
}

/// Waits until Prometheus answers `promql` with `want` (after the next scrapes).
async fn prometheus_sees(client: &Http, prometheus: SocketAddr, promql: &str, want: f64) {
    let seen = eventually(WAIT, POLL, || async {
        scalar(client, prometheus, promql)
            .await
            .filter(|v| *v == want)
    })
    .await;
    let last = scalar(client, prometheus, promql).await;
    assert!(
        seen.is_some(),
        "{promql}: wanted {want}, Prometheus says {last:?}"
    );
}

#[tokio::test]
async fn sighup_reloads_the_config_and_a_bad_file_keeps_the_running_one() {
    if !prometheus_installed() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cg-sighup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("guard.toml");
    write_budget(&path, "5");

    let config = Config::from_file(&path).unwrap();
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    // A current-thread runtime: the handlers run on this thread, with the
    // guard as its recorder.
    let _local = metrics::set_default_local_recorder(&recorder);
    let _reloads =
        cardinality_guard::axum::reload_on_sighup(path.clone(), exporter.guard().clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = listener.local_addr().unwrap();
    let app = app::router(app::Exposition::Guarded(exporter.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = client();
    let rules = rules_for_test();
    let prometheus =
        start_prometheus_with_rules(&http, "service", service, "1s", Some(&rules)).await;
    let p = prometheus.addr;
    let series = format!("cardinality_guard_series{{metric=\"{LOGINS}\"}}");
    let limit = format!("cardinality_guard_series_limit{{metric=\"{LOGINS}\"}}");
    let successful = "cardinality_guard_config_last_reload_successful";
    let loaded_at = "cardinality_guard_config_last_reload_success_timestamp_seconds";

    // The leak, capped: 4 users and the overflow series.
    logins(&http, service, 0..20).await;
    prometheus_sees(&http, p, &series, 5.0).await;
    prometheus_sees(&http, p, successful, 1.0).await;
    let first_load = scalar(&http, p, loaded_at)
        .await
        .expect("load time scraped");

    // 1. The fix, without a restart.
    write_budget(&path, "30");
    hangup();
    prometheus_sees(&http, p, &limit, 30.0).await;
    logins(&http, service, 100..120).await;
    prometheus_sees(&http, p, &series, 25.0).await; // 4 + 20 + the overflow series
    let users = query(&http, p, &format!("{LOGINS}{{user=~\"1[0-9][0-9]\"}}")).await;
    assert_eq!(
        users.len(),
        20,
        "each new user has its own series: {users:?}"
    );
    let fixed_at = scalar(&http, p, loaded_at)
        .await
        .expect("load time scraped");
    assert!(fixed_at > first_load, "{fixed_at} after {first_load}");

    // 2. A bad file: the running config stays, and the alert says so.
    write_budget(&path, "\"lots\"");
    hangup();
    prometheus_sees(&http, p, successful, 0.0).await;
    let firing = eventually(WAIT, POLL, || async {
        let alerts = query(
            &http,
            p,
            "ALERTS{alertname=\"CardinalityGuardConfigReloadFailed\",alertstate=\"firing\"}",
        )
        .await;
        (!alerts.is_empty()).then_some(alerts)
    })
    .await;
    assert!(
        firing.is_some(),
        "the reload-failed alert fires: {}",
        prometheus.log()
    );
    assert_eq!(scalar(&http, p, &limit).await, Some(30.0));
    assert_eq!(scalar(&http, p, loaded_at).await, Some(fixed_at));
    logins(&http, service, 200..240).await;
    assert_eq!(
        exporter.report().metric(LOGINS).unwrap().label_sets,
        29,
        "the budget of 30 holds"
    );

    // 3. Fixed again.
    write_budget(&path, "40");
    hangup();
    prometheus_sees(&http, p, successful, 1.0).await;
    prometheus_sees(&http, p, &limit, 40.0).await;
    let reloaded_at = scalar(&http, p, loaded_at).await.unwrap();
    assert!(reloaded_at > fixed_at, "{reloaded_at} after {fixed_at}");

    // 4. The report's own suggestion, applied the same way.
    logins(&http, service, 300..330).await;
    let (status, json) = get(
        &http,
        format!("http://{service}/debug/cardinality?format=json"),
    )
    .await
    .expect("the report answers");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let advice = json["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == LOGINS)
        .map(|m| m["recommendation"].clone())
        .unwrap();
    let suggested_budget = advice["max_series"].as_f64().expect("a recommendation");
    let (status, toml) = get(
        &http,
        format!("http://{service}/debug/cardinality?format=toml"),
    )
    .await
    .expect("the report answers");
    assert_eq!(status, 200);
    std::fs::write(&path, toml).unwrap();
    hangup();
    prometheus_sees(&http, p, &limit, suggested_budget).await;
    prometheus_sees(&http, p, successful, 1.0).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
