//! The same cardinality leak, fed to an unguarded and to a guarded Prometheus
//! exporter in one process; prints what each one renders. `folded` counts
//! registrations sent to the overflow series (or dropped, when the metric's
//! `on_overflow` is `drop`).
//!
//! ```text
//! cargo run --release --example side_by_side
//! cargo run --release --example side_by_side -- --config guard.toml
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;

use cardinality_guard::{prometheus_builder, Config, PrometheusGuard};

const USERS: u32 = 20_000;
const RAW_PATHS: u32 = 500;
const LOGINS: &str = "app_logins_total";
const DURATION: &str = "http_server_request_duration_seconds";
const REQUESTS: &str = "http_server_requests_total";
const OVERFLOW_MARK: &str = "otel_metric_overflow=\"true\"";

/// The leak: an unbounded `user` label, a histogram labelled with raw paths
/// instead of route templates, and one well-behaved counter.
fn workload() {
    for user in 0..USERS {
        metrics::counter!(LOGINS, "user" => format!("u{user:05}")).increment(1);
    }
    for path in 0..RAW_PATHS {
        let route = format!("/users/{}", 1000 + path);
        let duration = metrics::histogram!(DURATION, "route" => route);
        for sample in [0.004, 0.03, 0.2] {
            duration.record(sample);
        }
        let status = if path % 10 == 0 { "404" } else { "200" };
        metrics::counter!(REQUESTS, "route" => "/users/{id}", "status" => status).increment(3);
    }
}

/// Exported series per metric family, counted from the text exposition:
/// `# TYPE` lines name the families; `_bucket`, `_sum` and `_count` samples
/// belong to their histogram or summary.
fn series_per_family(text: &str) -> BTreeMap<String, u64> {
    let mut families = BTreeMap::new();
    for line in text.lines() {
        if let Some(decl) = line.strip_prefix("# TYPE ") {
            if let Some(name) = decl.split_whitespace().next() {
                families.insert(name.to_owned(), 0);
            }
        }
    }
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let family = ["", "_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|base| families.contains_key(*base))
            .unwrap_or(name);
        *families.entry(family.to_owned()).or_insert(0) += 1;
    }
    families
}

fn sample_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// `sum(metric)` over all its series, read from the text.
fn sum_of(text: &str, metric: &str) -> f64 {
    text.lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(metric))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

fn load_config() -> Result<Config, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(Config::embedded()),
        [flag, path] if flag == "--config" => Config::from_file(path).map_err(|e| {
            eprintln!("error: bad config: {e}");
            ExitCode::from(2)
        }),
        _ => {
            eprintln!("usage: side_by_side [--config PATH]");
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Feeding {USERS} user ids to {LOGINS}{{user}}, {RAW_PATHS} raw paths to {DURATION}{{route}},"
    );
    println!("and a bounded {REQUESTS}{{route,status}} into two exporters.\n");

    // (a) The plain exporter, with the same histogram buckets.
    let unguarded = prometheus_builder(&config)?.build_recorder();
    metrics::with_local_recorder(&unguarded, workload);
    let plain_text = unguarded.handle().render();

    // (b) The same exporter behind the guard.
    let (guard, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()?;
    metrics::with_local_recorder(&guard, workload);
    let guarded_text = exporter.render();
    let report = exporter.report();

    let plain = series_per_family(&plain_text);
    let guarded = series_per_family(&guarded_text);
    let count = |map: &BTreeMap<String, u64>, m: &str| map.get(m).copied().unwrap_or(0);

    println!(
        "{:<38} {:>10} {:>10} {:>7} {:>7} {:>7}",
        "metric", "unguarded", "guarded", "limit", "policy", "folded"
    );
    println!("{}", "-".repeat(84));
    for name in [LOGINS, DURATION, REQUESTS] {
        let Some(m) = report.metric(name) else {
            continue;
        };
        let policy = format!("{:?}", m.on_overflow).to_lowercase();
        println!(
            "{:<38} {:>10} {:>10} {:>7} {:>7} {:>7}",
            name,
            count(&plain, name),
            count(&guarded, name),
            m.limit,
            policy,
            m.overflow.total()
        );
    }
    let self_report: u64 = guarded
        .iter()
        .filter(|(name, _)| name.starts_with("cardinality_guard_"))
        .map(|(_, n)| n)
        .sum();
    println!(
        "{:<38} {:>10} {:>10}",
        "cardinality_guard_* (self-report)", 0, self_report
    );
    println!("{}", "-".repeat(84));
    println!(
        "{:<38} {:>10} {:>10}",
        "rendered series (lines)",
        sample_lines(&plain_text),
        sample_lines(&guarded_text)
    );
    println!(
        "{:<38} {:>10} {:>10}",
        "render size (bytes)",
        plain_text.len(),
        guarded_text.len()
    );

    let agrees = report
        .metrics
        .iter()
        .all(|m| m.series == count(&guarded, &m.name));
    println!(
        "\nGuard's self-report matches the render: {}",
        if agrees { "yes" } else { "NO" }
    );
    println!(
        "sum({LOGINS}): {} unguarded, {} guarded (fold conserves totals, drop discards)",
        sum_of(&plain_text, LOGINS),
        sum_of(&guarded_text, LOGINS)
    );

    println!("\nOverflow series in the guarded render (buckets below +Inf omitted):");
    guarded_text
        .lines()
        .filter(|l| l.contains(OVERFLOW_MARK))
        .filter(|l| !l.contains("_bucket{") || l.contains("le=\"+Inf\""))
        .chain(
            guarded_text
                .lines()
                .filter(|l| l.starts_with("cardinality_guard_overflow_total{")),
        )
        .for_each(|l| println!("  {l}"));
    Ok(())
}
