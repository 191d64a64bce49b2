//! Hostile upstreams in front of the proxy (served by the test on
//! 127.0.0.1): an endless body, a trickling one, invalid UTF-8, malformed
//! lines, a truncated OpenMetrics text get a `503` with one line of reason
//! and change nothing; a 1 MB label value and more inputs than
//! `--max-inputs` get a valid exposition. A password in the upstream's URL
//! is never shown (a `503` is read by any scraper).

mod support;

use support::upstream::{
    promtool_complaints, ProxyProc, Reply, Upstream, OPEN_METRICS, PROMETHEUS,
};

fn good(value: u32) -> Reply {
    let body = format!("# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total {value}\n");
    Reply::Body(200, PROMETHEUS, body.into_bytes())
}

/// The proxy's answer is a 503 whose one line names `reason` and holds `detail`.
fn refused(proxy: &ProxyProc, reason: &str, detail: &str) {
    let (status, text) = proxy.get("/metrics");
    assert_eq!(status, 503, "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.len() < 1000, "{text}");
    assert!(
        text.starts_with(&format!("upstream failed ({reason}): ")),
        "{text}"
    );
    assert!(text.contains(detail), "{detail:?} in {text}");
}

#[test]
fn hostile_bodies_get_a_503_with_their_reason_and_change_nothing() {
    let upstream = Upstream::start(good(1));
    let proxy = ProxyProc::start(&upstream.url(), &["--max-bytes", "1MiB", "--timeout", "1s"]);
    assert_eq!(proxy.scrape().value("jobs_total{}"), Some(1.0));

    upstream.set(Reply::Endless { limit: 256 << 20 });
    refused(&proxy, "too_large", "--max-bytes 1048576 bytes");

    upstream.set(Reply::Trickle {
        every: std::time::Duration::from_millis(50),
        bytes: 200,
    });
    refused(&proxy, "timeout", "--timeout 1s");

    let mut invalid = b"# TYPE jobs_total counter\njobs_total 100\nx{a=\"".to_vec();
    invalid.extend_from_slice(&[0xff, 0xfe]);
    invalid.extend_from_slice(b"\"} 1\n");
    upstream.set(Reply::Body(200, PROMETHEUS, invalid));
    refused(&proxy, "parse", "line 3: invalid UTF-8 at byte 46");

    let malformed = b"# TYPE jobs_total counter\njobs_total 100\njobs_total{a=\"b\" 1\n".to_vec();
    upstream.set(Reply::Body(200, PROMETHEUS, malformed));
    refused(&proxy, "parse", "line 3");

    let truncated = b"# TYPE jobs counter\njobs_total 100\n".to_vec();
    upstream.set(Reply::Body(200, OPEN_METRICS, truncated));
    refused(&proxy, "parse", "# EOF");

    // Nothing of the refused bodies was applied: 1 to 2 adds 1.
    upstream.set(good(2));
    let scrape = proxy.scrape();
    assert_eq!(scrape.value("jobs_total{}"), Some(2.0), "{}", scrape.text);
    let failures = |reason: &str| {
        scrape.value(&format!(
            "cardinality_guard_proxy_upstream_failures_total{{reason=\"{reason}\"}}"
        ))
    };
    assert_eq!(failures("too_large"), Some(1.0));
    assert_eq!(failures("timeout"), Some(1.0));
    assert_eq!(failures("parse"), Some(3.0));
    assert_eq!(failures("connect"), Some(0.0));
}

#[test]
fn a_label_value_of_one_megabyte_gets_a_valid_exposition() {
    let huge = "x".repeat(1 << 20);
    let body = format!(
        "# HELP big A big label.\n# TYPE big gauge\nbig{{v=\"{huge}\"}} 1\n\
         # HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 5\n"
    );
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, body.into_bytes()));
    let proxy = ProxyProc::start(&upstream.url(), &[]);
    for _ in 0..2 {
        let scrape = proxy.scrape();
        assert_eq!(scrape.value("jobs_total{}"), Some(5.0));
        assert_eq!(
            promtool_complaints(&scrape.text),
            "",
            "promtool check metrics"
        );
        assert!(
            scrape.text.len() < 64 << 10,
            "the guard caps label values: {} bytes",
            scrape.text.len()
        );
    }
}

#[test]
fn beyond_max_inputs_new_samples_are_dropped_and_counted() {
    let mut body = String::from("# HELP hits_total Hits.\n# TYPE hits_total counter\n");
    for path in 0..5 {
        body.push_str(&format!("hits_total{{path=\"/{path}\"}} 1\n"));
    }
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, body.into_bytes()));
    let proxy = ProxyProc::start(&upstream.url(), &["--max-inputs", "3"]);
    proxy.scrape();
    let scrape = proxy.scrape();
    assert_eq!(scrape.of("hits_total").count(), 3, "{}", scrape.text);
    assert_eq!(scrape.value("cardinality_guard_proxy_inputs{}"), Some(3.0));
    assert_eq!(
        scrape.value("cardinality_guard_proxy_untracked_samples_total{}"),
        Some(4.0),
        "2 samples in each of 2 scrapes"
    );
}

#[test]
fn a_password_in_the_url_is_never_shown() {
    let upstream = Upstream::start(Reply::Body(404, PROMETHEUS, b"no".to_vec()));
    let url = format!("http://alice:s3cret@{}/metrics", upstream.addr);
    let proxy = ProxyProc::start(&url, &[]);
    refused(
        &proxy,
        "status",
        &format!(
            "http://alice:xxxxx@{}/metrics answered HTTP 404",
            upstream.addr
        ),
    );
    let (_, text) = proxy.get("/metrics");
    assert!(!text.contains("s3cret"), "{text}");

    // The audit: its error, its report and its suggested config.
    let out = support::cli(&["audit", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("alice:xxxxx@"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert_eq!(
        stderr.matches("/metrics").count(),
        1,
        "the URL named once: {stderr}"
    );
    upstream.set(good(3));
    for args in [
        &["audit", &url][..],
        &["audit", &url, "--suggest"],
        &["audit", &url, "--format", "json"],
    ] {
        let shown = support::cli_ok(args, 0);
        assert!(shown.contains("alice:xxxxx@"), "{args:?}: {shown}");
        assert!(!shown.contains("s3cret"), "{args:?}: {shown}");
    }
}
