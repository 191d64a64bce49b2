//! The seed story against a service nobody here wrote: a Python app on the
//! real `prometheus_client` (Debian's `python3-prometheus-client`) labels its
//! latency histogram with the raw request path, and is flooded with unique
//! paths. A real Prometheus scrapes it too.
//!
//! 1. The audit names the histogram as the top offender and `path` as its label.
//! 2. It counts the series exactly as Prometheus stores them: the audit's
//!    total equals `scrape_samples_scraped` for the app, and the histogram
//!    holds (14 buckets + `+Inf` + `_sum` + `_count` + `_created`) x paths.
//! 3. `--suggest` loads with `Config::from_toml`, and the same label sets
//!    driven through a `PrometheusGuard` built from it stay within every
//!    budget: the path label is capped (folded at its label limit, so
//!    `method` survives), and no metric folds for lack of budget.
//! 4. The app can't link the guard: the suggestion says it is for the
//!    proxy, names the raw-path label's real fix (a route template), and
//!    has an entry for the path metric only: none for `process_*`,
//!    `python_*` (runtime metrics whose labels never grow) nor `_created`.

mod support;

use std::path::Path;
use std::process::Command;

use cardinality_guard_core::Config;
use support::{
    cli_ok, eventually, get, query, registrations, replay, spawn, start_prometheus, PATIENCE,
};

const PATHS: usize = 400;
/// Python's default buckets: 14 bounds, then `+Inf`, `_count`, `_sum`, `_created`.
const PER_PATH: u64 = 14 + 1 + 3;

fn start_app() -> (support::Proc, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/leaky_app.py");
    let app = spawn("python-app", |_| {
        let mut command = Command::new("/usr/bin/python3");
        command.arg(script);
        command
    });
    let port = eventually(PATIENCE, || {
        std::fs::read_to_string(app.dir.join("port")).ok()
    })
    .unwrap_or_else(|| panic!("the python app did not start; log:\n{}", app.log()));
    let base = format!("http://127.0.0.1:{}", port.trim());
    support::wait_until_up(&format!("{base}/metrics"), &app);
    (app, base)
}

#[test]
fn the_audit_finds_the_path_label_and_the_suggestion_caps_it() {
    if !support::needs(
        "/usr/lib/python3/dist-packages/prometheus_client",
        "python3-prometheus-client",
    ) || !support::needs("/usr/bin/prometheus", "prometheus")
    {
        return;
    }
    let (_app, base) = start_app();
    for i in 0..PATHS {
        assert!(
            get(&format!("{base}/orders/{i}?ref=mail")).is_some(),
            "request {i}"
        );
    }
    let metrics_url = format!("{base}/metrics");
    let addr = base.trim_start_matches("http://").parse().expect("address");
    let (_prometheus, prom) = start_prometheus(&[("python", addr)]);

    // 1 + 2: the audit, and Prometheus' own count of the same exposition.
    let scraped = eventually(PATIENCE, || {
        query(prom, "scrape_samples_scraped{job=\"python\"}")
            .first()
            .map(|r| r.1)
    })
    .expect("Prometheus scraped the app");
    let json = cli_ok(&["audit", &metrics_url, "--format", "json"], 0);
    let audit: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        audit["format"], "openmetrics-1.0.0",
        "the app offers OpenMetrics"
    );
    assert_eq!(
        audit["total_series"].as_f64(),
        Some(scraped),
        "audit vs scrape_samples_scraped"
    );
    let top = &audit["metrics"][0];
    assert_eq!(top["name"], "http_request_duration_seconds");
    assert_eq!(top["kind"], "histogram");
    assert_eq!(top["series"], PATHS as u64 * PER_PATH);
    assert_eq!(top["label_sets"], PATHS as u64);
    assert_eq!(top["labels"][0]["name"], "path");
    assert_eq!(top["labels"][0]["values"], PATHS as u64);
    assert_eq!(top["labels"][1]["name"], "method");
    assert_eq!(top["labels"][1]["values"], 1);
    // What Prometheus holds of it, queried by name.
    let held = query(
        prom,
        "count({__name__=~\"http_request_duration_seconds_.*\"})",
    );
    assert_eq!(
        held.first().map(|r| r.1),
        Some((PATHS as u64 * PER_PATH) as f64)
    );

    let text = cli_ok(&["audit", &metrics_url], 0);
    assert!(
        text.contains("1. http_request_duration_seconds: 7,200 series")
            && text.contains("label `path` has 400 distinct values"),
        "{text}"
    );
    println!("{text}");

    // 3: the suggestion caps it.
    let suggestion = cli_ok(&["audit", &metrics_url, "--suggest"], 0);
    let config = Config::from_toml(&suggestion, "suggested.toml")
        .unwrap_or_else(|e| panic!("{e}\n{suggestion}"));
    let latency = config.policy_for("http_request_duration_seconds");
    // Each raw path requested once: 400 values over 400 observations, an
    // id rather than a dimension. The engine says to remove the label (a
    // route template in the code) and folds it meanwhile, at any multiple
    // of the budget.
    assert_eq!(latency.label_limits.get("path").map(|n| n.get()), Some(1));
    assert!(
        suggestion.contains("remove the label path from the code")
            && suggestion.contains("1.00 values per update"),
        "{suggestion}"
    );
    assert!(!latency.label_limits.contains_key("method"), "{suggestion}");
    // 4: for the proxy, the path metric alone.
    assert!(
        suggestion.contains(&format!(
            "cardinality-guard proxy --upstream {metrics_url} --listen ADDR --config guard.toml"
        )),
        "{suggestion}"
    );
    assert!(suggestion.contains("route template"), "{suggestion}");
    let entries: Vec<&str> = suggestion
        .split("[[metrics]]")
        .skip(1)
        .filter_map(|entry| entry.split('"').nth(1))
        .collect();
    assert_eq!(
        entries,
        [
            "http_request_duration_seconds",
            "http_server_request_duration_seconds"
        ],
        "the path metric, then the embedded default's rule\n{suggestion}"
    );
    for name in ["process_", "python_", "_created"] {
        assert!(!suggestion.contains(name), "{name}\n{suggestion}");
    }
    assert!(
        audit["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"].as_str().unwrap().starts_with("process_")),
        "the audit still lists the runtime metrics"
    );
    assert_eq!(audit["guarded"], false);
    assert!(suggestion.contains("[[histograms.per_metric]]\nmatch   = \"http_request_duration_seconds\"\nbuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]"), "{suggestion}");
    // The summary (no buckets, no quantiles) leaves summaries on.
    assert!(config.histograms.buckets.is_none(), "{suggestion}");

    let exposition = get(&metrics_url).expect("the exposition");
    let workload = registrations(&exposition);
    assert!(workload.len() > PATHS);
    let report = replay(config, &workload);
    for m in &report.metrics {
        assert!(
            m.series <= m.limit,
            "{} holds {} > {}",
            m.name,
            m.series,
            m.limit
        );
        assert_eq!(
            m.overflow.series_limit + m.overflow.global_limit,
            0,
            "{} folded for lack of budget:\n{suggestion}",
            m.name
        );
    }
    let latency = report
        .metric("http_request_duration_seconds")
        .expect("guarded");
    // One path kept + `__overflow__`, each 14 buckets + 3.
    assert_eq!(latency.series_per_label_set, 17);
    assert_eq!(latency.series, 2 * 17);
    assert_eq!(latency.overflow.label_limit, (PATHS - 1) as u64);
    let requests = report
        .metric("http_requests_total")
        .expect("the counter, by its sample name");
    assert_eq!(requests.series, 1);
    let size = report
        .metric("http_response_size_bytes")
        .expect("the summary");
    assert_eq!(
        size.series, 9,
        "rendered as a summary: 7 quantiles + _sum + _count"
    );
}
