//! Debian's `prometheus-node-exporter` (collectors that work in a
//! container: cpu, meminfo, filesystem, loadavg, and textfile with a file
//! of the test's holding an untyped family and a histogram) through the
//! proxy with the embedded default config: far within its budgets, so the
//! proxy changes nothing. Nothing folds (no `otel_metric_overflow` series,
//! no `__overflow__` value, no overflow counted, every metric within its
//! budget); every upstream sample is in the proxy's output with its value
//! (the upstream fetched just before and just after the proxy's scrape: a
//! sample that did not move in between has the same value in the proxy; a
//! counter's, histogram's or summary's that moved lies between its two
//! values; a gauge that moved is there), and nothing else but the
//! `cardinality_guard_*` self-report; every family has its upstream type,
//! but `untyped`, which the guard renders as `gauge`; `promtool check
//! metrics` says of the proxy's output exactly what it says of the node
//! exporter's (lint findings on its camelCase names), nothing more.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use cardinality_guard_core::text::{Format, Kind, Line, Parser};
use support::get;
use support::upstream::{promtool_complaints, within_budgets, ProxyProc};

const TEXTFILE: &str = "# HELP textfile_things Untyped things.\n\
# TYPE textfile_things untyped\n\
textfile_things{kind=\"a\"} 3\n\
textfile_things{kind=\"b\"} 4.5\n\
# HELP textfile_latency_seconds A histogram.\n\
# TYPE textfile_latency_seconds histogram\n\
textfile_latency_seconds_bucket{le=\"0.1\"} 2\n\
textfile_latency_seconds_bucket{le=\"1\"} 5\n\
textfile_latency_seconds_bucket{le=\"+Inf\"} 7\n\
textfile_latency_seconds_sum 4.25\n\
textfile_latency_seconds_count 7\n";

/// An exposition read: its samples by `name{labels sorted}` (empty values
/// left out), the family of each, and the kind of each family.
#[derive(Default)]
struct Exposition {
    samples: BTreeMap<String, f64>,
    family: BTreeMap<String, String>,
    kinds: BTreeMap<String, Kind>,
}

fn read(text: &str) -> Exposition {
    let mut parser = Parser::new(Format::Prometheus);
    let mut out = Exposition::default();
    for line in text.lines() {
        match parser.line(line).expect("a valid exposition") {
            Line::Sample(s) => {
                let mut labels: Vec<String> = s
                    .labels
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| format!("{k}=\"{v}\""))
                    .collect();
                labels.sort();
                let key = format!("{}{{{}}}", s.name, labels.join(","));
                out.family.insert(key.clone(), s.family.to_owned());
                assert!(
                    out.samples.insert(key.clone(), s.value).is_none(),
                    "twice: {key}"
                );
            }
            Line::Type(name, kind) => {
                out.kinds.insert(name.to_owned(), kind);
            }
            _ => {}
        }
    }
    out
}

/// What went wrong in one window (upstream, proxy, upstream); empty if all
/// is well.
fn mismatches(before: &Exposition, proxy: &Exposition, after: &Exposition) -> Vec<String> {
    let mut wrong = Vec::new();
    for (key, &was) in &before.samples {
        let Some(&now) = after.samples.get(key) else {
            continue; // gone in between: no claim
        };
        let family = &before.family[key];
        let Some(&got) = proxy.samples.get(key) else {
            wrong.push(format!("{key} missing from the proxy"));
            continue;
        };
        let cumulative = matches!(
            before.kinds.get(family),
            Some(Kind::Counter | Kind::Histogram | Kind::Summary)
        ) && !key.contains("quantile=");
        if was == now {
            if got != was {
                wrong.push(format!("{key}: upstream {was}, proxy {got}"));
            }
        } else if cumulative && !(was <= got && got <= now) {
            wrong.push(format!(
                "{key}: upstream {was} then {now}, proxy {got} out of it"
            ));
        }
    }
    for key in proxy.samples.keys() {
        let upstream = before.samples.contains_key(key) || after.samples.contains_key(key);
        if !upstream && !key.starts_with("cardinality_guard_") {
            wrong.push(format!("{key} in the proxy, not upstream"));
        }
    }
    wrong
}

#[test]
fn node_exporter_passes_through_the_proxy_unchanged() {
    if !support::needs(
        "/usr/bin/prometheus-node-exporter",
        "prometheus-node-exporter",
    ) {
        return;
    }
    let (_exporter, node) = support::start_node_exporter("node-exporter-proxied", |dir| {
        std::fs::create_dir_all(dir.join("textfile")).unwrap();
        std::fs::write(dir.join("textfile/test.prom"), TEXTFILE).unwrap();
        vec![
            "--collector.textfile".to_owned(),
            format!(
                "--collector.textfile.directory={}",
                dir.join("textfile").display()
            ),
        ]
    });
    let url = format!("http://{node}/metrics");
    let proxy = ProxyProc::start(&url, &[]);
    let fetch = || get(&url).expect("the node exporter answers");

    let mut tries = Vec::new();
    let (upstream_text, before, text, scrape) = loop {
        let upstream_text = fetch();
        let before = read(&upstream_text);
        let scrape = proxy.scrape();
        let proxied = read(&scrape.text);
        let after = read(&fetch());
        let wrong = mismatches(&before, &proxied, &after);
        if wrong.is_empty() {
            break (upstream_text, before, proxied, scrape);
        }
        tries.push(wrong.join("\n"));
        assert!(tries.len() < 5, "{}", tries.join("\n---\n"));
    };
    let upstream_samples = before.samples.len();
    eprintln!(
        "{upstream_samples} upstream samples, {} in the proxy's output; {} windows retried",
        text.samples.len(),
        tries.len()
    );
    assert!(upstream_samples > 50, "{upstream_samples}");
    for family in [
        "node_cpu_seconds_total",
        "textfile_things",
        "textfile_latency_seconds",
    ] {
        assert!(before.kinds.contains_key(family), "{family} upstream");
    }

    // Types: upstream's, untyped as a gauge.
    for (family, kind) in &before.kinds {
        let expected = match kind {
            Kind::Untyped => Kind::Gauge,
            other => *other,
        };
        assert_eq!(text.kinds.get(family), Some(&expected), "# TYPE {family}");
    }
    assert_eq!(before.kinds.get("textfile_things"), Some(&Kind::Untyped));

    // Nothing over budget.
    for key in text.samples.keys() {
        assert!(
            !key.contains("otel_metric_overflow") && !key.contains("__overflow__"),
            "{key}"
        );
    }
    for (key, value) in scrape.of("cardinality_guard_overflow_total") {
        assert_eq!(value, 0.0, "{key}");
    }
    within_budgets(&scrape);
    assert_eq!(
        scrape.value("cardinality_guard_proxy_untracked_samples_total{}"),
        Some(0.0)
    );
    // The self-report: the guard's and the proxy's.
    for family in [
        "cardinality_guard_series",
        "cardinality_guard_series_limit",
        "cardinality_guard_admitted_total",
        "cardinality_guard_global_series",
        "cardinality_guard_global_series_limit",
        "cardinality_guard_metrics",
        "cardinality_guard_proxy_upstream_failures_total",
        "cardinality_guard_proxy_upstream_scrapes_total",
        "cardinality_guard_proxy_inputs",
        "cardinality_guard_proxy_inputs_bytes",
        "cardinality_guard_proxy_untracked_samples_total",
        "cardinality_guard_proxy_unusable_samples_total",
        "cardinality_guard_proxy_forgotten_inputs_total",
    ] {
        assert!(
            text.kinds.contains_key(family),
            "{family} in\n{}",
            scrape.text
        );
    }
    // Every upstream series is one guarded series (a histogram's or a
    // summary's label set counts once per line as the guard counts them).
    let guarded = scrape.value("cardinality_guard_global_series{}").unwrap();
    assert!(
        guarded > 0.0 && guarded <= upstream_samples as f64,
        "{guarded}"
    );

    // promtool finds nothing wrong but what it finds in the upstream's
    // own exposition (the node exporter's `node_memory_MemTotal_bytes` and
    // the like are camelCase, a lint finding, exit 3): the proxy adds none.
    let lines = |text: &str| -> BTreeSet<String> {
        promtool_complaints(text)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let (upstream_said, proxy_said) = (lines(&upstream_text), lines(&scrape.text));
    assert_eq!(
        proxy_said, upstream_said,
        "promtool check metrics\n{}",
        scrape.text
    );
    assert!(
        proxy_said
            .iter()
            .all(|l| l.contains("should be written in")),
        "lint findings only: {proxy_said:?}"
    );
}
