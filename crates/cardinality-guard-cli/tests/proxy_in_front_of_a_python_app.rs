//! The proxy in front of a service nobody here wrote: a Python app on the
//! real `prometheus_client` (Debian's `python3-prometheus-client`), its
//! counter and histogram labelled by raw path, new paths at every tick,
//! some removed (`.remove()`), the app restarted once (its unlabelled
//! counter and summary start again from zero). Over 24 scrapes of the
//! proxy: every metric within its budget, no counter, `_bucket` or
//! `_count` series of the proxy goes down (the app's restart included), and
//! the proxy's sums equal what the app counted, exactly; `promtool check
//! metrics` passes.

mod support;

use std::collections::BTreeMap;

use support::get;
use support::python_app::{start as start_app, PROMETHEUS_CLIENT};
use support::upstream::{promtool_complaints, within_budgets, ProxyProc};

const CONFIG: &str = "[[metrics]]\nmatch = \"http_requests_total\"\nmax_series = 6\n\n\
                      [[metrics]]\nmatch = \"http_request_duration_seconds\"\nmax_series = 24\n";

#[test]
fn the_proxy_folds_a_python_app_within_budgets_with_totals_conserved() {
    if !support::needs(PROMETHEUS_CLIENT, "python3-prometheus-client") {
        return;
    }
    let (app, port) = start_app("proxied-app", 0);
    let mut app = Some(app);
    let base = format!("http://127.0.0.1:{port}");
    let dir = support::scratch("proxy-python");
    let config = dir.join("guard.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let proxy = ProxyProc::start(
        &format!("{base}/metrics"),
        &["--config", config.to_str().unwrap()],
    );

    let hit = |path: &str| assert!(get(&format!("{base}{path}")).is_some(), "GET {path}");
    let (mut requests, mut ticks) = (0u64, 0u64);
    let mut alive: Vec<String> = Vec::new();
    let mut next = 0;
    let mut last: BTreeMap<String, f64> = BTreeMap::new();
    let monotonic = [
        "http_requests_total",
        "app_ticks_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_count",
        "http_response_size_bytes_count",
    ];
    for tick in 0..24u64 {
        if tick == 12 {
            // The app restarts on its port: everything it counted starts
            // again from zero; the paths it saw are gone.
            drop(app.take());
            let (status, text) = proxy.get("/metrics");
            assert_eq!(status, 503, "{text}");
            assert!(text.starts_with("upstream failed (connect): "), "{text}");
            app = Some(start_app("proxied-app-again", port).0);
            alive.clear();
        }
        for _ in 0..2 {
            let path = format!("/orders/{next}");
            next += 1;
            alive.push(path);
        }
        for path in alive.iter().rev().take(5) {
            hit(path);
            requests += 1;
        }
        if tick == 6 {
            for path in alive.drain(..2) {
                hit(&format!("/remove?path={path}"));
            }
        }
        let by = if tick < 12 { tick + 1 } else { 1 };
        hit(&format!("/tick?by={by}"));
        ticks += by;

        let scrape = proxy.scrape();
        within_budgets(&scrape);
        assert_eq!(
            scrape.sum("http_requests_total"),
            requests as f64,
            "tick {tick}\n{}",
            scrape.text
        );
        assert_eq!(
            scrape.sum("http_request_duration_seconds_count"),
            requests as f64,
            "tick {tick}"
        );
        assert_eq!(
            scrape.sum("http_response_size_bytes_count"),
            requests as f64,
            "tick {tick}"
        );
        assert_eq!(scrape.sum("app_ticks_total"), ticks as f64, "tick {tick}");
        for name in monotonic {
            for (key, value) in scrape.of(name) {
                if let Some(before) = last.get(key) {
                    assert!(
                        value >= *before,
                        "tick {tick}: {key} went down from {before} to {value}"
                    );
                }
                last.insert(key.clone(), value);
            }
        }
        assert!(!scrape.text.contains("_created"), "{}", scrape.text);
    }
    let scrape = proxy.scrape();
    assert!(scrape
        .of("http_requests_total")
        .any(|(k, _)| k.contains("otel_metric_overflow")));
    assert_eq!(
        scrape.value("cardinality_guard_proxy_upstream_failures_total{reason=\"connect\"}"),
        Some(1.0)
    );
    assert_eq!(
        promtool_complaints(&scrape.text),
        "",
        "promtool check metrics\n{}",
        scrape.text
    );
    drop(app);
}
