//! Against real exporters nobody here wrote: Debian's
//! `prometheus-node-exporter` (stable collectors only: cpu, meminfo,
//! filesystem, loadavg) and a real Prometheus' own `/metrics`, both scraped
//! every second by that Prometheus. For each target the audit's series count
//! equals `scrape_samples_scraped`, with no tolerance: two audits around one
//! Prometheus scrape that agree with each other (the exposition held still)
//! must agree with what Prometheus counted in between. A window where the
//! exposition changed (Prometheus' own metrics grow as it is queried) is
//! retried, a bounded number of times.

mod support;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use support::{cli_ok, eventually, query, start_prometheus, PATIENCE};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn audit_total(url: &str) -> u64 {
    let json = cli_ok(&["audit", url, "--format", "json"], 0);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    v["total_series"].as_u64().expect("total_series")
}

/// (audit, scrape_samples_scraped) of one stable window for `job`: two
/// audits that agree, around a scrape of Prometheus (waited for, not slept
/// for, however slowly a loaded machine scrapes).
fn agree(prometheus: SocketAddr, job: &str, url: &str) -> (u64, u64, String) {
    let samples = format!("scrape_samples_scraped{{job=\"{job}\"}}");
    let stamp = format!("timestamp({samples})");
    let scraped_at = || query(prometheus, &stamp).first().map(|r| r.1);
    let mut tries = Vec::new();
    for _ in 0..15 {
        let start = now();
        let before = audit_total(url);
        // The next scrape after `start` (Prometheus scrapes every second).
        let waited = eventually(PATIENCE, || scraped_at().filter(|&at| at >= start));
        assert!(
            waited.is_some(),
            "Prometheus did not scrape {job} within {PATIENCE:?}"
        );
        let after = audit_total(url);
        let end = now();
        // The count and its timestamp, of one scrape (none landed between).
        let at = scraped_at();
        let scraped = query(prometheus, &samples).first().map(|r| r.1);
        let (Some(scraped), Some(at)) = (scraped, at) else {
            continue;
        };
        tries.push(format!(
            "audits {before} / {after}, Prometheus {scraped} at {at:.3} in [{start:.3}, {end:.3}]"
        ));
        if before == after && (start..=end).contains(&at) && scraped_at() == Some(at) {
            eprintln!("{job}: {}", tries.join("; "));
            let text = cli_ok(&["audit", url], 0);
            return (before, scraped as u64, text);
        }
    }
    panic!("no stable window for {job}:\n{}", tries.join("\n"));
}

#[test]
fn node_exporter_and_prometheus_itself() {
    if !support::needs("/usr/bin/prometheus", "prometheus")
        || !support::needs(
            "/usr/bin/prometheus-node-exporter",
            "prometheus-node-exporter",
        )
    {
        return;
    }
    let (_exporter, node) = support::start_node_exporter("node-exporter", |_| Vec::new());
    let node_url = format!("http://{node}/metrics");
    let (_prometheus, prom) = start_prometheus(&[("node", node)]);
    let prom_url = format!("http://{prom}/metrics");
    for job in ["node", "prometheus"] {
        let up = eventually(PATIENCE, || {
            query(prom, &format!("up{{job=\"{job}\"}} == 1"))
                .first()
                .map(|_| ())
        });
        assert!(up.is_some(), "Prometheus scrapes {job}");
    }

    let (audited, scraped, text) = agree(prom, "node", &node_url);
    assert_eq!(
        audited, scraped,
        "node exporter: audit vs scrape_samples_scraped"
    );
    assert!(audited > 50, "{audited}");
    assert!(text.contains("node_cpu_seconds_total"), "{text}");

    let (audited, scraped, text) = agree(prom, "prometheus", &prom_url);
    assert_eq!(
        audited, scraped,
        "prometheus: audit vs scrape_samples_scraped"
    );
    assert!(audited > 200, "{audited}");
    assert!(
        text.contains("prometheus_http_request_duration_seconds"),
        "{text}"
    );
}
