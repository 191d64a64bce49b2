//! `cardinality-guard proxy` in front of a scripted upstream (served by the
//! test on 127.0.0.1), Prometheus text and OpenMetrics: new label values at
//! every scrape, some series gone, a restart; every scrape of the proxy is
//! within the budgets, no counter, `_bucket` or `_count` series goes down,
//! and the proxy's sums equal what the upstream counted, exactly.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::upstream::{
    promtool_complaints, ProxyProc, Reply, Scrape, Upstream, OPEN_METRICS, PROMETHEUS,
};

const CONFIG: &str = "[[metrics]]\nmatch = \"http_requests_total\"\nmax_series = 5\n\n\
                      [[metrics]]\nmatch = \"http_latency_seconds\"\nmax_series = 20\n";

/// A histogram with 2 bounds costs 5 series per label set: 20 hold 3 and the overflow.
const HISTOGRAM_LABEL_SETS: usize = 4;

/// The upstream app: a counter and a histogram labelled by raw path.
#[derive(Default)]
struct App {
    /// Per path: the counter, the histogram's cumulative counts (0.1, 1,
    /// +Inf) and its sum.
    paths: BTreeMap<String, (f64, [u64; 3], f64)>,
    /// Every increment counted, every observation made, since the start.
    sent: f64,
    observed: u64,
    next: u64,
}

impl App {
    /// One tick: 3 new paths, the others incremented.
    fn tick(&mut self, tick: u64) {
        for (i, (counter, buckets, sum)) in self.paths.values_mut().enumerate() {
            let add = ((tick + i as u64) % 3) as f64 * 0.5;
            *counter += add;
            self.sent += add;
            observe(buckets, sum, 0.5 * (i % 4) as f64);
            self.observed += 1;
        }
        for _ in 0..3 {
            let n = self.next;
            self.next += 1;
            let first = (n % 5 + 1) as f64;
            let mut entry = (first, [0; 3], 0.0);
            observe(&mut entry.1, &mut entry.2, 0.05);
            observe(&mut entry.1, &mut entry.2, 3.0);
            self.sent += first;
            self.observed += 2;
            self.paths.insert(format!("/p{n}"), entry);
        }
    }

    /// The process restarts: every series starts again from one small step.
    fn restart(&mut self) {
        for (counter, buckets, sum) in self.paths.values_mut() {
            *counter = 0.5;
            self.sent += 0.5;
            *buckets = [0; 3];
            *sum = 0.0;
            observe(buckets, sum, 0.5);
            self.observed += 1;
        }
    }

    fn exposition(&self, open_metrics: bool) -> Vec<u8> {
        let mut out = String::new();
        let counter = if open_metrics {
            "http_requests"
        } else {
            "http_requests_total"
        };
        out.push_str(&format!(
            "# HELP {counter} Requests by raw path.\n# TYPE {counter} counter\n"
        ));
        for (path, (value, _, _)) in &self.paths {
            out.push_str(&format!("http_requests_total{{path=\"{path}\"}} {value}\n"));
            if open_metrics {
                out.push_str(&format!("http_requests_created{{path=\"{path}\"}} 1.7e9\n"));
            }
        }
        out.push_str("# HELP http_latency_seconds Latency by raw path.\n# TYPE http_latency_seconds histogram\n");
        for (path, (_, buckets, sum)) in &self.paths {
            for (le, count) in ["0.1", "1.0", "+Inf"].iter().zip(buckets) {
                out.push_str(&format!(
                    "http_latency_seconds_bucket{{path=\"{path}\",le=\"{le}\"}} {count}\n"
                ));
            }
            out.push_str(&format!(
                "http_latency_seconds_sum{{path=\"{path}\"}} {sum}\n"
            ));
            out.push_str(&format!(
                "http_latency_seconds_count{{path=\"{path}\"}} {}\n",
                buckets[2]
            ));
            if open_metrics {
                out.push_str(&format!(
                    "http_latency_seconds_created{{path=\"{path}\"}} 1.7e9\n"
                ));
            }
        }
        out.push_str("# HELP temperature_celsius A gauge.\n# TYPE temperature_celsius gauge\ntemperature_celsius 21.5\n");
        if open_metrics {
            out.push_str("# EOF\n");
        }
        out.into_bytes()
    }
}

fn observe(buckets: &mut [u64; 3], sum: &mut f64, value: f64) {
    for (bound, bucket) in [0.1, 1.0, f64::INFINITY].iter().zip(buckets.iter_mut()) {
        if value <= *bound {
            *bucket += 1;
        }
    }
    *sum += value;
}

/// The label sets of `name` in a scrape (a histogram's without `le`).
fn label_sets(scrape: &Scrape, name: &str) -> usize {
    let mut sets: Vec<String> = scrape
        .of(name)
        .map(|(k, _)| {
            k.split(',')
                .filter(|l| !l.contains("le=\""))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    sets.sort();
    sets.dedup();
    sets.len()
}

fn scrapes_conserve_totals(open_metrics: bool) {
    let mut app = App::default();
    let content_type = if open_metrics {
        OPEN_METRICS
    } else {
        PROMETHEUS
    };
    let upstream = Upstream::start(Reply::Body(200, content_type, app.exposition(open_metrics)));
    let dir = support::scratch(if open_metrics {
        "proxy-om"
    } else {
        "proxy-prom"
    });
    let config = dir.join("guard.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let proxy = ProxyProc::start(&upstream.url(), &["--config", config.to_str().unwrap()]);
    let monotonic = [
        "http_requests_total",
        "http_latency_seconds_bucket",
        "http_latency_seconds_count",
    ];
    let mut last: BTreeMap<String, f64> = BTreeMap::new();
    for tick in 0..14 {
        if tick == 6 {
            // Two paths are removed from the app: their counts stay in the proxy.
            let gone: Vec<String> = app.paths.keys().take(2).cloned().collect();
            for path in gone {
                app.paths.remove(&path);
            }
        }
        if tick == 9 {
            app.restart();
        } else {
            app.tick(tick);
        }
        upstream.set(Reply::Body(200, content_type, app.exposition(open_metrics)));
        let scrape = proxy.scrape();
        assert!(
            label_sets(&scrape, "http_requests_total") <= 5,
            "tick {tick}: over budget\n{}",
            scrape.text
        );
        assert!(
            label_sets(&scrape, "http_latency_seconds_bucket") <= HISTOGRAM_LABEL_SETS,
            "tick {tick}: over budget\n{}",
            scrape.text
        );
        assert!(
            label_sets(&scrape, "http_requests_total") >= 2,
            "{}",
            scrape.text
        );
        assert_eq!(
            scrape.sum("http_requests_total"),
            app.sent,
            "tick {tick}: the counter's total\n{}",
            scrape.text
        );
        assert_eq!(
            scrape.sum("http_latency_seconds_count"),
            app.observed as f64,
            "tick {tick}: the histogram's count\n{}",
            scrape.text
        );
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
        assert_eq!(scrape.value("temperature_celsius{}"), Some(21.5));
        assert!(!scrape.text.contains("_created"), "{}", scrape.text);
        assert!(
            scrape.text.contains("# HELP http_requests_total Requests by raw path.\n# TYPE http_requests_total counter\n"),
            "named by its _total sample\n{}",
            scrape.text
        );
        assert!(
            tick < 2 || scrape.text.contains("otel_metric_overflow=\"true\""),
            "{}",
            scrape.text
        );
        assert_eq!(
            scrape.value("cardinality_guard_proxy_upstream_scrapes_total{}"),
            Some((tick + 1) as f64)
        );
    }
    let scrape = proxy.scrape();
    assert_eq!(
        promtool_complaints(&scrape.text),
        "",
        "promtool check metrics\n{}",
        scrape.text
    );
    let tracked = scrape.value("cardinality_guard_proxy_inputs{}").unwrap();
    // A counter, a histogram per path (those gone still tracked), one gauge.
    assert_eq!(tracked, (2 * app.next + 1) as f64);
}

#[test]
fn prometheus_text_folds_within_the_budgets_with_totals_conserved() {
    scrapes_conserve_totals(false);
}

#[test]
fn open_metrics_folds_within_the_budgets_with_totals_conserved() {
    scrapes_conserve_totals(true);
}

#[test]
fn an_upstream_that_fails_gets_a_503_with_its_reason_and_applies_nothing() {
    let body = |v: u32| {
        format!("# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total {v}\n").into_bytes()
    };
    let mut upstream = Upstream::start(Reply::Body(200, PROMETHEUS, body(3)));
    let proxy = ProxyProc::start(&upstream.url(), &["--timeout", "5s"]);
    assert_eq!(proxy.scrape().value("jobs_total{}"), Some(3.0));

    upstream.stop();
    let (status, text) = proxy.get("/metrics");
    assert_eq!(status, 503);
    assert!(text.starts_with("upstream failed (connect): "), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");

    upstream.restart();
    upstream.set(Reply::Body(500, "text/plain", body(100)));
    let (status, text) = proxy.get("/metrics");
    assert_eq!((status, text.lines().count()), (503, 1), "{text}");
    assert!(text.starts_with("upstream failed (status): "), "{text}");
    assert!(text.contains("HTTP 500"), "{text}");

    // Half a body (a malformed last line): nothing of it applied.
    let mut half = body(50);
    half.extend_from_slice(b"jobs_total{");
    upstream.set(Reply::Body(200, PROMETHEUS, half));
    let (status, text) = proxy.get("/metrics");
    assert_eq!(status, 503);
    assert!(text.starts_with("upstream failed (parse): "), "{text}");

    upstream.set(Reply::Body(200, PROMETHEUS, body(4)));
    let scrape = proxy.scrape();
    assert_eq!(
        scrape.value("jobs_total{}"),
        Some(4.0),
        "only the increase from 3 to 4"
    );
    let failures = |reason: &str| {
        scrape.value(&format!(
            "cardinality_guard_proxy_upstream_failures_total{{reason=\"{reason}\"}}"
        ))
    };
    assert_eq!(failures("connect"), Some(1.0));
    assert_eq!(failures("status"), Some(1.0));
    assert_eq!(failures("parse"), Some(1.0));
    assert_eq!(failures("timeout"), Some(0.0));
    assert_eq!(failures("too_large"), Some(0.0));
    assert_eq!(promtool_complaints(&scrape.text), "", "{}", scrape.text);
}

#[test]
fn sighup_reloads_the_config_and_the_report_endpoint_answers() {
    let exposition = |paths: u32| {
        let mut out = String::from("# HELP hits_total Hits.\n# TYPE hits_total counter\n");
        for p in 0..paths {
            out.push_str(&format!("hits_total{{path=\"/{p}\"}} 1\n"));
        }
        out.into_bytes()
    };
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, exposition(20)));
    let dir = support::scratch("proxy-sighup");
    let config = dir.join("guard.toml");
    std::fs::write(
        &config,
        "[[metrics]]\nmatch = \"hits_total\"\nmax_series = 5\n",
    )
    .unwrap();
    let proxy = ProxyProc::start(&upstream.url(), &["--config", config.to_str().unwrap()]);
    let limit = "cardinality_guard_series_limit{metric=\"hits_total\"}";
    let scrape = proxy.scrape();
    assert_eq!(scrape.value(limit), Some(5.0), "{}", scrape.text);
    assert_eq!(scrape.sum("hits_total"), 20.0);

    std::fs::write(
        &config,
        "[[metrics]]\nmatch = \"hits_total\"\nmax_series = 9\n",
    )
    .unwrap();
    let hangup = std::process::Command::new("kill")
        .args(["-HUP", &proxy.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(hangup.success());
    let reloaded = support::eventually(Duration::from_secs(10), || {
        (proxy.scrape().value(limit) == Some(9.0)).then_some(())
    });
    assert!(reloaded.is_some(), "the budget after SIGHUP");
    upstream.set(Reply::Body(200, PROMETHEUS, exposition(30)));
    let scrape = proxy.scrape();
    assert!(
        scrape.of("hits_total").count() > 5,
        "new paths admitted under the new budget\n{}",
        scrape.text
    );
    assert!(scrape.of("hits_total").count() <= 9, "{}", scrape.text);
    assert_eq!(scrape.sum("hits_total"), 30.0);

    let (status, json) = proxy.get("/debug/cardinality?format=json");
    assert_eq!(status, 200);
    assert!(json.contains("hits_total"), "{json}");
    let (status, toml) = proxy.get("/debug/cardinality?format=toml");
    assert_eq!(status, 200);
    assert!(toml.contains("hits_total"), "{toml}");
}
