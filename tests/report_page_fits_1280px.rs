//! The report page a person would want, checked in a real headless
//! Chromium at a 1280-px-wide window: a "generated at" time, a sparkline of
//! the last minutes per metric, column headers that say what they count, an
//! optional auto-refresh, a screenshot, and no sideways scrolling.
//!
//! **How "no sideways scrolling" is checked.** The page itself runs no
//! scripts (its CSP forbids them), and `--dump-dom` only serializes the
//! DOM, so the test measures a copy: a test-only route serves the exact
//! HTML of the report (same markup, same style sheet) with one script added
//! at the end of its body, and without the CSP header. Loaded in Chromium
//! at `--window-size=1280,900`, the script writes the viewport width and
//! `document.documentElement.scrollWidth` (the width of the laid-out page,
//! the table included) into the DOM, which `--dump-dom` prints. The page
//! scrolls sideways exactly when that width exceeds the viewport's. The
//! service holds a metric with a 200-character name (no break opportunity
//! but the style sheet's `overflow-wrap: anywhere`) and a label key just
//! as long: without that rule, or with columns too wide, the table is
//! wider than 1280 px and the test fails (tried: removing the rule makes
//! the page 2,000+ px wide).
//!
//! Needs Debian's `chromium` (`.ci/test` installs it). Without it the test
//! fails when `CI` is set, and otherwise says it skipped.

#[path = "../examples/shared/app.rs"]
mod app;
#[path = "support/chromium.rs"]
mod chromium;

use chromium::chromium_or_skip;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use cardinality_guard::{Config, ManualClock, PrometheusGuard, HISTORY_STEP};
use http_body_util::BodyExt;
use tower::ServiceExt;

const CONFIG: &str = r#"
[[metrics]]
match = "app_logins_total"
max_series = 20
"#;

/// Writes the layout's widths into the DOM, for `--dump-dom`.
const MEASURE: &str = "<script>
const page = document.documentElement;
const table = document.getElementById('metrics').getBoundingClientRect();
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = 'viewport=' + page.clientWidth + ' page=' + page.scrollWidth
  + ' table=' + Math.ceil(table.right);
document.body.appendChild(out);
</script>";

/// Runs Chromium on `url` at 1280 × 900 with `extra` arguments.
async fn run_chromium(browser: &str, url: &str, extra: &[&str], profile: &Path) -> Output {
    let run = tokio::process::Command::new(browser)
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
            "--hide-scrollbars",
            "--window-size=1280,900",
            // Console messages (CSP violations among them) on stderr.
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("chromium finishes within 3 minutes")
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The report's HTML as the service serves it, with [`MEASURE`] added.
async fn measured_copy(app: Router) -> impl IntoResponse {
    let request = Request::get("/debug/cardinality?format=html")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(html.matches("</body>").count(), 1);
    Html(html.replace("</body>", &format!("{MEASURE}</body>")))
}

fn is_png(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(format!("{} is not a PNG", path.display()));
    }
    Ok(bytes.len() as u64)
}

#[tokio::test]
async fn the_report_page_fits_1280px_with_time_sparklines_and_refresh() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    // The guard on a manual clock: five minutes of history without sleeping.
    let clock = ManualClock::new();
    let config = Config::from_toml(CONFIG, "<test>").unwrap();
    let (guard, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let _local = metrics::set_default_local_recorder(&guard);
    let app = || app::router(app::Exposition::Guarded(exporter.clone()));

    // Logins grow by 6 users a minute until the budget of 20 is full.
    for minute in 0..5 {
        for user in minute * 6..(minute + 1) * 6 {
            let request = Request::get(format!("/users/{user}"))
                .body(Body::empty())
                .unwrap();
            assert_eq!(app().oneshot(request).await.unwrap().status(), 200);
        }
        exporter.run_upkeep();
        clock.advance(HISTORY_STEP);
    }
    // A name and a label key (shown in the demand row) far wider than any
    // column, without a space to break at.
    let long_name = format!("{}_total", "unbroken_metric_name".repeat(10));
    let long_key = "unbroken_label_key".repeat(10);
    metrics::counter!(long_name.clone(), long_key.clone() => "a").increment(1);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let measured = app();
    let server = app().route("/measured", get(move || measured_copy(measured.clone())));
    tokio::spawn(async move { axum::serve(listener, server).await });

    let report = exporter.report();
    assert!(report.metrics.len() >= 5, "{report:?}");
    assert_eq!(
        report.metric("app_logins_total").unwrap().history,
        [6, 12, 18, 20, 20, 20],
        "five upkeeps a minute apart, then the report"
    );
    let profile = std::env::temp_dir().join(format!("cg-chromium-1280-{}", std::process::id()));
    let base = format!("http://{addr}/debug/cardinality");

    // 1. A screenshot at 1280 × 900, kept for a person to look at.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_page_1280.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &browser,
        &base,
        &[&format!("--screenshot={}", shot.display())],
        &profile,
    )
    .await;
    let size = is_png(&shot).unwrap();
    assert!(
        size > 10_000,
        "a 1280 × 900 screenshot of a table: {size} bytes"
    );

    // 2. The DOM with auto-refresh on, under the page's own CSP.
    let on = run_chromium(
        &browser,
        &format!("{base}?refresh=30"),
        &["--dump-dom"],
        &profile,
    )
    .await;
    let dom = String::from_utf8_lossy(&on.stdout);
    let stderr = String::from_utf8_lossy(&on.stderr);
    assert!(
        !stderr.contains("Content Security Policy"),
        "the page violates its own CSP:\n{stderr}"
    );
    assert!(
        dom.contains("<meta http-equiv=\"refresh\" content=\"30\">"),
        "{dom}"
    );
    assert!(dom.contains(">stop refreshing</a>"), "{dom}");
    let at = dom
        .split("<time datetime=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no <time datetime> in {dom}"));
    let bytes = at.as_bytes();
    assert!(
        at.len() == 20 && bytes[4] == b'-' && bytes[10] == b'T' && at.ends_with('Z'),
        "UTC ISO 8601: {at}"
    );
    for header in [
        ">last hour</th>",
        ">folded registrations</th>",
        ">series limit</th>",
        ">global limit</th>",
        ">label limit</th>",
        ">of limit</th>",
    ] {
        assert!(dom.contains(header), "no {header} in {dom}");
    }
    // One sparkline per metric row, a point per minute of its history (the
    // browser's own requests add series, not minutes: the clock stands still).
    let rows: Vec<&str> = dom
        .split("<tr>")
        .filter(|row| row.contains("class=\"name\""))
        .collect();
    assert_eq!(rows.len(), report.metrics.len(), "{dom}");
    for metric in &report.metrics {
        let row = rows
            .iter()
            .find(|row| row.contains(&format!(">{}</td>", metric.name)))
            .unwrap_or_else(|| panic!("no row for {} in {dom}", metric.name));
        assert_eq!(row.matches("<svg class=\"spark\"").count(), 1, "{row}");
        let points = row
            .split("points=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no polyline in {row}"));
        assert_eq!(
            points.split(' ').count(),
            metric.history.len(),
            "{}: {points}",
            metric.name
        );
    }
    let long = report.metric(&long_name).unwrap();
    assert_eq!(long.history, [1], "registered in the last minute");
    let logins = rows
        .iter()
        .find(|r| r.contains(">app_logins_total<"))
        .unwrap();
    assert!(
        logins.contains("<title>series over the last 6 min: 6 to 20, now 20 (limit 20)</title>"),
        "{logins}"
    );

    // 3. Without `refresh`, no meta refresh, and a link to turn it on.
    let off = run_chromium(&browser, &base, &["--dump-dom"], &profile).await;
    let dom = String::from_utf8_lossy(&off.stdout);
    assert!(dom.contains("<table id=\"metrics\">"), "{dom}");
    assert!(!dom.contains("http-equiv=\"refresh\""), "{dom}");
    assert!(dom.contains("refresh=30\">refresh every 30 s</a>"), "{dom}");

    // 4. No sideways scrolling at 1280 px (see the module docs).
    let measured = run_chromium(
        &browser,
        &format!("http://{addr}/measured"),
        &["--dump-dom"],
        &profile,
    )
    .await;
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&measured.stdout);
    let line = dom
        .split("<pre id=\"measured\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("the measuring script did not run: {dom}"));
    let width = |name: &str| -> u64 {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    assert_eq!(
        width("viewport"),
        1280,
        "the window is 1280 px wide: {line}"
    );
    assert!(
        width("page") <= width("viewport") && width("table") <= width("viewport"),
        "the page scrolls sideways at 1280 px: {line}"
    );
    assert!(
        dom.contains(&long_name) && dom.contains(&long_key),
        "the long texts are on the page"
    );
}
