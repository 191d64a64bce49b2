//! The main job: a cardinality leak over real HTTP, with and without the guard.
//!
//! ```text
//! cargo run --release --example demo
//! ```
//!
//! In this process it starts the guarded example service on an ephemeral
//! 127.0.0.1 port and floods it: tens of thousands of unique user ids on
//! `/users/{id}` (an unbounded `user` label), scanner paths that match no
//! route, a few odd methods. Then it runs the same flood against the same
//! service with the guard switched off, in a child process (a process has one
//! global recorder, and that keeps the memory figures apart), and prints both.

#[path = "shared/app.rs"]
mod app;

#[path = "shared/rss.rs"]
mod rss;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use cardinality_guard::{Config, PrometheusGuard, Report};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const USERS: usize = 30_000;
const SCANNER_PATHS: usize = 5_000;
const ODD_METHODS: [&str; 4] = ["PURGE", "PROPFIND", "BREW", "FOO"];
const ODD_REQUESTS: usize = 200;
const WORKERS: usize = 16;
const UNGUARDED_FLAG: &str = "--unguarded-child";

/// What one run measured.
struct Outcome {
    /// The guard's report, taken just before the scrape (guarded run only).
    report: Option<Report>,
    series: BTreeMap<String, usize>,
    rss_growth_kb: i64,
    elapsed: Duration,
    requests: usize,
}

fn main() -> ExitCode {
    let unguarded = std::env::args().any(|a| a == UNGUARDED_FLAG);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if unguarded {
        runtime.block_on(run_unguarded_child())
    } else {
        runtime.block_on(run_demo())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

async fn run_demo() -> Result<(), AnyError> {
    let config = Config::embedded();
    let exporter = PrometheusGuard::builder(config).install()?;
    println!("Guarded service, embedded config: flooding it over HTTP on 127.0.0.1 ...");
    let guarded = flood_service(app::Exposition::Guarded(exporter.clone()), true).await?;
    if let Some(report) = &guarded.report {
        print_guarded(report, &guarded);
    }

    println!("\nThe same flood with the guard switched off (child process) ...");
    let child = Command::new(std::env::current_exe()?)
        .arg(UNGUARDED_FLAG)
        .output()?;
    if !child.status.success() {
        return Err(format!(
            "the unguarded run failed: {}",
            String::from_utf8_lossy(&child.stderr)
        )
        .into());
    }
    let unguarded = parse_outcome(&String::from_utf8_lossy(&child.stdout))?;
    print_comparison(&guarded, &unguarded);
    Ok(())
}

async fn run_unguarded_child() -> Result<(), AnyError> {
    let recorder = cardinality_guard::prometheus_builder(&Config::embedded())?.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| "a recorder is already installed")?;
    let outcome = flood_service(app::Exposition::Unguarded(handle), false).await?;
    // One line per metric, then the totals: read back by the parent.
    for (metric, series) in &outcome.series {
        println!("series {metric} {series}");
    }
    println!("rss_growth_kb {}", outcome.rss_growth_kb);
    println!("elapsed_ms {}", outcome.elapsed.as_millis());
    println!("requests {}", outcome.requests);
    Ok(())
}

/// Serves the example app on an ephemeral port, sends the flood, scrapes /metrics.
async fn flood_service(exposition: app::Exposition, progress: bool) -> Result<Outcome, AnyError> {
    let exposition_report = match &exposition {
        app::Exposition::Guarded(guard) => Some(guard.clone()),
        app::Exposition::Unguarded(_) => None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app::router(exposition)).await });
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();

    let rss_before = rss::rss_kib();
    let started = Instant::now();
    let plan = Arc::new(requests());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (plan, next, client) = (plan.clone(), next.clone(), client.clone());
        workers.push(tokio::spawn(async move {
            while let Some((method, path)) = plan.get(next.fetch_add(1, Ordering::Relaxed)) {
                send(&client, addr, method, path).await?;
            }
            Ok::<(), AnyError>(())
        }));
    }
    if progress {
        while !workers.iter().all(|w| w.is_finished()) {
            draw_progress(next.load(Ordering::Relaxed).min(plan.len()), plan.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        draw_progress(plan.len(), plan.len());
        println!();
    }
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    let report = exposition_report.as_ref().map(PrometheusGuard::report);
    let text = get(&client, addr, "/metrics").await?;
    let rss_growth_kb = rss::rss_kib() - rss_before;
    server.abort();
    Ok(Outcome {
        report,
        series: series_per_metric(&text),
        rss_growth_kb,
        elapsed,
        requests: plan.len(),
    })
}

/// The flood: unique user ids, scanner paths, odd methods.
fn requests() -> Vec<(&'static str, String)> {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut plan: Vec<(&'static str, String)> = (0..USERS)
        .map(|i| ("GET", format!("/users/{}", 100_000 + i)))
        .collect();
    let scanners = [
        "/wp-admin/",
        "/.env.",
        "/cgi-bin/",
        "/phpmyadmin/",
        "/.git/",
    ];
    plan.extend((0..SCANNER_PATHS).map(|i| {
        let prefix = scanners[i % scanners.len()];
        ("GET", format!("{prefix}{:x}", random()))
    }));
    plan.extend((0..ODD_REQUESTS).map(|i| (ODD_METHODS[i % ODD_METHODS.len()], "/users/1".into())));
    plan
}

async fn send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Body>,
    addr: SocketAddr,
    method: &str,
    path: &str,
) -> Result<Bytes, AnyError> {
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Body::empty())?;
    let response = client.request(request).await?;
    Ok(response.into_body().collect().await?.to_bytes())
}

async fn get(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Body>,
    addr: SocketAddr,
    path: &str,
) -> Result<String, AnyError> {
    Ok(String::from_utf8(
        send(client, addr, "GET", path).await?.to_vec(),
    )?)
}

fn draw_progress(done: usize, total: usize) {
    let width = 40;
    let filled = done * width / total.max(1);
    print!(
        "\r  [{}{}] {done:>6}/{total} requests",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    let _ = std::io::stdout().flush();
}

/// Series per metric family in a text exposition (`_bucket`, `_sum` and
/// `_count` lines count for their histogram).
fn series_per_metric(text: &str) -> BTreeMap<String, usize> {
    let mut names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut counts = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        if let Some(family) = names.iter().find(|n| name.starts_with(**n)) {
            *counts.entry(family.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

fn parse_outcome(text: &str) -> Result<Outcome, AnyError> {
    let mut outcome = Outcome {
        report: None,
        series: BTreeMap::new(),
        rss_growth_kb: 0,
        elapsed: Duration::ZERO,
        requests: 0,
    };
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["series", metric, n] => {
                outcome.series.insert(metric.to_string(), n.parse()?);
            }
            ["rss_growth_kb", n] => outcome.rss_growth_kb = n.parse()?,
            ["elapsed_ms", n] => outcome.elapsed = Duration::from_millis(n.parse()?),
            ["requests", n] => outcome.requests = n.parse()?,
            _ => {}
        }
    }
    Ok(outcome)
}

fn print_guarded(report: &Report, outcome: &Outcome) {
    println!(
        "  {} requests in {:.1} s\n",
        outcome.requests,
        outcome.elapsed.as_secs_f64()
    );
    println!(
        "  {:<40} {:>8} {:>8} {:>12}",
        "metric", "series", "limit", "overflowed"
    );
    for m in &report.metrics {
        println!(
            "  {:<40} {:>8} {:>8} {:>12}",
            m.name,
            m.series,
            m.limit,
            m.overflow.total()
        );
    }
    let g = &report.global;
    println!(
        "  {:<40} {:>8} {:>8}",
        "all guarded metrics", g.series, g.series_limit
    );
}

fn print_comparison(guarded: &Outcome, unguarded: &Outcome) {
    let app_metrics: Vec<&String> = unguarded
        .series
        .keys()
        .chain(guarded.series.keys())
        .filter(|m| !m.starts_with("cardinality_guard_"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    println!(
        "\n  {:<40} {:>10} {:>10}",
        "series rendered on /metrics", "unguarded", "guarded"
    );
    for metric in app_metrics {
        let get = |o: &Outcome| o.series.get(metric).copied().unwrap_or(0);
        println!(
            "  {:<40} {:>10} {:>10}",
            metric,
            get(unguarded),
            get(guarded)
        );
    }
    let total = |o: &Outcome| o.series.values().sum::<usize>();
    println!(
        "  {:<40} {:>10} {:>10}",
        "all lines (guarded: with its self-report)",
        total(unguarded),
        total(guarded)
    );
    println!(
        "  {:<40} {:>9.1}M {:>9.1}M",
        "process memory growth (RSS)",
        unguarded.rss_growth_kb as f64 / 1024.0,
        guarded.rss_growth_kb as f64 / 1024.0
    );
    println!(
        "\nThe guard held every metric to its budget; users beyond it were summed into \
         app_logins_total{{otel_metric_overflow=\"true\"}}, scanners into route=\"unmatched\"."
    );
}
