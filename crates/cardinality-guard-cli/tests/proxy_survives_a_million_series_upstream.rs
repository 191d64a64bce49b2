//! A hostile upstream of 1,000,000 counter series in one family (a path
//! label, 44 MB of text), served by the test, behind the proxy with
//! the default bounds (`--max-inputs` 1,000,000, `--max-bytes` 256 MiB) and
//! the embedded default config (2,000 series per metric). As documented,
//! the proxy tracks every input (exactly `--max-inputs` of them: none
//! dropped) and answers a valid exposition within the budgets: the first
//! 1,999 label sets kept, the rest folded into the overflow series, the sum
//! of the family equal to the upstream's, at the first scrape and at the
//! second (the same body: deltas of 0). Its inputs' state costs what
//! `--help` says (47 to 94 bytes each), and its peak RSS stays under that
//! state's bound plus the body read three times over plus 64 MiB for the
//! rest (the binary, the guard's bounded series, allocator slack). Each
//! scrape is answered within 120 s (`--timeout 120s`: in a debug build on a
//! busy machine, reading 1,000,000 lines may take longer than the default
//! 10 s, which would answer 503 `timeout`).

mod support;

use std::time::{Duration, Instant};

use support::upstream::{within_budgets, ProxyProc, Reply, Upstream, PROMETHEUS};

const SERIES: u64 = 1_000_000;

/// The documented bound on one tracked input's state (a counter's).
const INPUT_BYTES_MAX: u64 = 94;
const INPUT_BYTES_MIN: u64 = 47;

/// The deadline of one scrape of the proxy.
const DEADLINE: Duration = Duration::from_secs(120);

/// The default budget of a metric, the overflow series included.
const MAX_SERIES: usize = 2000;

#[test]
fn a_million_series_upstream_is_folded_within_budgets_and_bounded_memory() {
    let mut body = String::with_capacity(45 << 20);
    body.push_str("# HELP hostile_requests_total Requests by raw path.\n");
    body.push_str("# TYPE hostile_requests_total counter\n");
    let mut total = 0u64;
    for i in 0..SERIES {
        let value = i % 5 + 1;
        total += value;
        body.push_str(&format!(
            "hostile_requests_total{{path=\"/u/{i:07}\"}} {value}\n"
        ));
    }
    let body_bytes = body.len() as u64;
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, body.into_bytes()));
    let proxy = ProxyProc::start(&upstream.url(), &["--timeout", "120s"]);

    for scrape_number in 1..=2 {
        let started = Instant::now();
        let (status, text) = proxy.get_within("/metrics", DEADLINE);
        let took = started.elapsed();
        assert_eq!(status, 200, "{text}");
        let scrape = support::upstream::Scrape::parse(&text);
        let peak = support::peak_rss(proxy.child.id());
        eprintln!(
            "scrape {scrape_number}: {took:?}, {} bytes answered, proxy peak RSS {peak} bytes \
             (body {body_bytes} bytes)",
            text.len()
        );
        assert!(took < DEADLINE, "{took:?}");

        within_budgets(&scrape);
        let family: Vec<(&String, f64)> = scrape.of("hostile_requests_total").collect();
        assert_eq!(
            family.len(),
            MAX_SERIES,
            "the budget full, overflow included"
        );
        assert!(family
            .iter()
            .any(|(k, _)| k.as_str() == "hostile_requests_total{otel_metric_overflow=\"true\"}"));
        assert!(text.contains("hostile_requests_total{path=\"/u/0000000\"} 1\n"));
        assert_eq!(scrape.sum("hostile_requests_total"), total as f64);
        assert_eq!(
            scrape.value(
                "cardinality_guard_overflow_total{metric=\"hostile_requests_total\",reason=\"series_limit\"}"
            ),
            Some((SERIES - (MAX_SERIES as u64 - 1)) as f64)
        );

        assert_eq!(
            scrape.value("cardinality_guard_proxy_inputs{}"),
            Some(SERIES as f64)
        );
        assert_eq!(
            scrape.value("cardinality_guard_proxy_untracked_samples_total{}"),
            Some(0.0)
        );
        let state = scrape
            .value("cardinality_guard_proxy_inputs_bytes{}")
            .expect("the state's bytes") as u64;
        eprintln!("inputs state: {state} bytes, {} per input", state / SERIES);
        assert!(
            (INPUT_BYTES_MIN * SERIES..=INPUT_BYTES_MAX * SERIES).contains(&state),
            "{state} bytes for {SERIES} inputs"
        );
        let bound = INPUT_BYTES_MAX * SERIES + 3 * body_bytes + (64 << 20);
        assert!(
            peak < bound,
            "peak RSS {peak} bytes over {bound} (inputs {state}, body {body_bytes})"
        );
    }
}
