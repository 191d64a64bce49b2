//! The whole chain, nothing of it written here: the Python app on the real
//! `prometheus_client` (raw paths as labels, some `.remove()`d, one of them
//! used again after its removal, two paths longer than the guard's 1024
//! bytes that become `path="__overflow__"`), the proxy in front of it, and a
//! real Prometheus scraping the proxy every second, once after every tick.
//!
//! Prometheus sees `up` = 1; `scrape_samples_scraped` equal to the sample
//! lines of the proxy's exposition (the app frozen, the count taken around
//! one Prometheus scrape); no reset of the proxy's overflow series
//! (`otel_metric_overflow="true"` and `path="__overflow__"`), as it
//! scraped them after every tick; and at its last scrape, the proxy's
//! counters summed equal everything the app counted, removed series
//! included. The proxy documents that a vanished input keeps its last
//! contribution (until `--staleness`, 10m, forgets its state; no
//! `idle_timeout` is configured, so the guard retires nothing): the app's own
//! sum has lost what its removed series held, the proxy's has not. The
//! proxy's peak RSS stays under 64 MB.

mod support;

use std::collections::BTreeMap;

use support::python_app::{start as start_app, PROMETHEUS_CLIENT};
use support::upstream::{within_budgets, ProxyProc, Scrape};
use support::{eventually, get, query, scrape_since, start_prometheus, unix_now, PATIENCE};

const CONFIG: &str = "[[metrics]]\nmatch = \"http_requests_total\"\nmax_series = 6\n\n\
                      [[metrics]]\nmatch = \"http_request_duration_seconds\"\nmax_series = 24\n";

const TICKS: u64 = 12;

/// The proxy's peak RSS bound, for the whole scenario.
const PEAK_RSS: u64 = 64 << 20;

/// The app, driven by the test: what it counts now per path, all the
/// requests it counted, what each removed path held (last removal).
struct Driven {
    base: String,
    counts: BTreeMap<String, u64>,
    sent: u64,
    removed: BTreeMap<String, u64>,
}

impl Driven {
    fn hit(&mut self, path: &str) {
        assert!(get(&format!("{}{path}", self.base)).is_some(), "GET {path}");
        *self.counts.entry(path.to_owned()).or_default() += 1;
        self.sent += 1;
    }

    fn remove(&mut self, path: &str) {
        assert!(get(&format!("{}/remove?path={path}", self.base)).is_some());
        let held = self.counts.remove(path).expect("a path the app counts");
        *self.removed.entry(path.to_owned()).or_default() += held;
    }
}

/// The one value of `promql`, waited for.
fn one(prometheus: std::net::SocketAddr, promql: &str) -> f64 {
    eventually(PATIENCE, || {
        let results = query(prometheus, promql);
        (results.len() == 1).then(|| results[0].1)
    })
    .unwrap_or_else(|| {
        panic!(
            "{promql}: one result expected, got {:?}",
            query(prometheus, promql)
        )
    })
}

#[test]
fn prometheus_scrapes_the_proxy_of_a_python_app_with_totals_conserved_and_no_resets() {
    if !support::needs("/usr/bin/prometheus", "prometheus")
        || !support::needs(PROMETHEUS_CLIENT, "python3-prometheus-client")
    {
        return;
    }
    let (_app, port) = start_app("app-behind-prometheus", 0);
    let base = format!("http://127.0.0.1:{port}");
    let dir = support::scratch("proxy-behind-prometheus");
    let config = dir.join("guard.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let proxy = ProxyProc::start(
        &format!("{base}/metrics"),
        &["--config", config.to_str().unwrap()],
    );
    let (_prometheus, prom) = start_prometheus(&[("proxy", proxy.addr)]);
    assert_eq!(one(prom, "up{job=\"proxy\"} == 1"), 1.0);

    let mut app = Driven {
        base: base.clone(),
        counts: BTreeMap::new(),
        sent: 0,
        removed: BTreeMap::new(),
    };
    let long = |i: u32| format!("/long/{i}/{}", "x".repeat(1100));
    let mut orders: Vec<String> = Vec::new();
    let mut ticks = 0u64;
    for tick in 0..TICKS {
        let start = unix_now();
        if tick == 0 {
            app.hit(&long(0));
        }
        for _ in 0..2 {
            orders.push(format!("/orders/{}", orders.len()));
            app.hit(orders.last().unwrap());
        }
        let recent: Vec<String> = orders
            .iter()
            .rev()
            .filter(|p| app.counts.contains_key(*p))
            .take(4)
            .cloned()
            .collect();
        for path in &recent {
            app.hit(path);
        }
        app.hit(&long(0));
        if (2..7).contains(&tick) || tick >= 9 {
            app.hit(&long(1));
        }
        match tick {
            4 => {
                app.remove("/orders/0");
                app.remove("/orders/1");
            }
            // Both long paths are one series of the proxy: removing one
            // takes nothing from it; used again, the app counts it from 1.
            7 => app.remove(&long(1)),
            // A removed path used again: the app counts it from 1 again,
            // the proxy reads that as a reset and adds the 1.
            8 => app.hit("/orders/1"),
            _ => {}
        }
        assert!(get(&format!("{base}/tick?by={}", tick + 1)).is_some());
        ticks += tick + 1;
        scrape_since(prom, "proxy", start);
    }
    let frozen = unix_now();
    scrape_since(prom, "proxy", frozen);

    // What the app shows itself: it lost what its removed series held.
    let (sent, removed_held): (u64, u64) = (app.sent, app.removed.values().sum());
    let shown = Scrape::parse(&get(&format!("{base}/metrics")).expect("the app answers"))
        .sum("http_requests_total");
    assert_eq!(shown, app.counts.values().sum::<u64>() as f64);
    assert_eq!(shown + removed_held as f64, sent as f64);
    assert!(removed_held > 0);
    eprintln!(
        "the app counted {sent} requests, shows {shown}; its removed series held {removed_held}"
    );

    assert_eq!(one(prom, "up{job=\"proxy\"}"), 1.0);
    // The proxy keeps what removed series held: at the last scrape, its
    // sum is all the app sent.
    assert_eq!(
        one(prom, "sum(http_requests_total{job=\"proxy\"})"),
        sent as f64
    );
    assert_eq!(
        one(
            prom,
            "sum(http_request_duration_seconds_count{job=\"proxy\"})"
        ),
        sent as f64
    );
    assert_eq!(
        one(prom, "sum(app_ticks_total{job=\"proxy\"})"),
        ticks as f64
    );
    // /orders/0, admitted at the first tick and removed at the fifth,
    // still shows what it held then.
    assert_eq!(
        one(
            prom,
            "http_requests_total{job=\"proxy\",path=\"/orders/0\"}"
        ),
        app.removed["/orders/0"] as f64
    );

    // No reset of any overflow series, over the whole run (per name:
    // `resets` drops the name, and two names' series would clash).
    for selector in ["otel_metric_overflow=\"true\"", "path=\"__overflow__\""] {
        for name in [
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "http_request_duration_seconds_count",
        ] {
            let resets = query(
                prom,
                &format!("resets({name}{{job=\"proxy\",{selector}}}[10m])"),
            );
            assert!(!resets.is_empty(), "no {name}{{{selector}}} series");
            for (labels, value) in resets {
                assert_eq!(value, 0.0, "{name} {labels} reset");
            }
        }
    }

    // `scrape_samples_scraped` is the proxy's sample lines: counted around
    // one Prometheus scrape, the exposition held still.
    let mut tries = Vec::new();
    let samples = "scrape_samples_scraped{job=\"proxy\"}";
    for _ in 0..10 {
        let start = unix_now();
        let before = proxy.scrape();
        let at = scrape_since(prom, "proxy", start);
        let after = proxy.scrape();
        let end = unix_now();
        let scraped = one(prom, samples);
        let again = one(prom, &format!("timestamp({samples})"));
        tries.push(format!(
            "{} / {} lines, Prometheus {scraped} at {at:.3} in [{start:.3}, {end:.3}]",
            before.samples.len(),
            after.samples.len()
        ));
        if before.samples.len() == after.samples.len() && at <= end && again == at {
            within_budgets(&after);
            eprintln!("{}", tries.join("; "));
            assert_eq!(scraped, after.samples.len() as f64, "{}", tries.join("\n"));
            break;
        }
        assert!(tries.len() < 10, "no stable window:\n{}", tries.join("\n"));
    }

    let peak = support::peak_rss(proxy.child.id());
    eprintln!("proxy peak RSS: {peak} bytes");
    assert!(peak < PEAK_RSS, "the proxy's peak RSS {peak} bytes");
}
