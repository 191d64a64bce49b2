//! The HTML report, loaded from the example service by a real headless
//! Chromium, shows a table of the guarded metrics, and nothing on it breaks
//! its own `Content-Security-Policy`.
//!
//! Needs Debian's `chromium` (`.ci/test` installs it). Without it the test
//! fails when `CI` is set, and otherwise says it skipped.

#[path = "../examples/shared/app.rs"]
mod app;
#[path = "support/chromium.rs"]
mod chromium;

use chromium::chromium_or_skip;
use std::time::Duration;

use cardinality_guard::{Config, PrometheusGuard};

const CONFIG: &str = r#"
[[metrics]]
match = "app_logins_total"
max_series = 20
"#;

#[tokio::test]
async fn the_html_report_lists_every_guarded_metric() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let config = Config::from_toml(CONFIG, "<test>").unwrap();
    let (guard, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    let _local = metrics::set_default_local_recorder(&guard);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app::router(app::Exposition::Guarded(exporter.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });

    // A leak to show: 100 users on a budget of 20, all through the app's handler.
    for user in 0..100 {
        let path = format!("/users/{user}");
        let request = http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(
            app::router(app::Exposition::Guarded(exporter.clone())),
            request,
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
    }

    let report = exporter.report();
    let profile = std::env::temp_dir().join(format!("cg-chromium-{}", std::process::id()));
    let run = tokio::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
            // Console messages (CSP violations among them) on stderr.
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("http://{addr}/debug/cardinality"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("chromium finishes within 3 minutes")
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && dom.contains("<table id=\"metrics\">"),
        "no report table in the DOM; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The page's Content-Security-Policy blocks nothing it needs: its style
    // sheet is allowed by hash, and it has nothing else to block.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("Content Security Policy"),
        "the page violates its own CSP:\n{stderr}"
    );

    // Every metric of the report has a row, with its limit.
    assert!(report.metrics.len() >= 4, "{report:?}");
    for m in &report.metrics {
        let row = dom
            .split("<tr>")
            .find(|row| row.contains(&format!(">{}</td>", m.name)))
            .unwrap_or_else(|| panic!("no row for {} in {dom}", m.name));
        assert!(row.contains(&format!(">{}</td>", m.limit)), "{row}");
    }
    let logins = dom
        .split("<tr>")
        .find(|row| row.contains(">app_logins_total</td>"))
        .unwrap();
    assert!(logins.contains(">20</td>"), "series = limit = 20: {logins}");
    assert!(
        logins.contains(">81</td>"),
        "81 folded registrations: {logins}"
    );
    // Rows are sorted by series, most first (the third cell of each row).
    let series: Vec<u64> = dom
        .split("<tr>")
        .filter(|row| row.contains("class=\"name\""))
        .map(|row| {
            let cell = row.split("<td class=\"num\">").nth(1).unwrap();
            cell.split('<').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(series.len() >= report.metrics.len());
    assert!(series.windows(2).all(|w| w[0] >= w[1]), "{series:?}");
}
