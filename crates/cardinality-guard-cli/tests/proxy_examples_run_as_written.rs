//! The deployment examples of `examples/proxy/` run as written: the systemd
//! unit's and the Kubernetes sidecar's command lines start the proxy (their
//! upstream and listen address swapped for the test's, their config file for
//! the one they ship), their budgets apply, and the Prometheus scrape config
//! passes `promtool check config`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::upstream::{ProxyProc, Reply, Upstream, PROMETHEUS};
use support::{needs, scratch};

/// The upstream and listen address every example names.
const UPSTREAM: &str = "http://127.0.0.1:8000/metrics";
const LISTEN: &str = "0.0.0.0:9464";
/// Where both examples mount their config.
const CONFIG: &str = "/etc/cardinality-guard/guard.toml";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/proxy")
}

fn read(name: &str) -> String {
    let path = examples().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The unit's `ExecStart=` arguments after the binary.
fn unit_args() -> Vec<String> {
    let unit = read("cardinality-guard-proxy.service");
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart= line");
    let mut words = line.split_whitespace().map(str::to_owned);
    let binary = words.next().unwrap();
    assert!(binary.ends_with("/cardinality-guard"), "{binary}");
    words.collect()
}

/// The sidecar container's `args:` list, and the ConfigMap's `guard.toml`.
fn sidecar() -> (Vec<String>, String) {
    let yaml = read("kubernetes-sidecar.yaml");
    let mut lines = yaml.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "guard.toml: |")
        .expect("the ConfigMap holds guard.toml");
    let config: String = lines
        .by_ref()
        .take_while(|l| l.starts_with("    ") || l.trim().is_empty())
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or("")))
        .collect();
    let mut lines = yaml.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "- name: cardinality-guard")
        .expect("the sidecar container");
    lines
        .by_ref()
        .find(|l| l.trim() == "args:")
        .expect("its args");
    let args = lines
        .map_while(|l| l.trim().strip_prefix("- "))
        .map(str::to_owned)
        .collect();
    (args, config)
}

/// Checks the example's command line, then starts it with the test's
/// upstream, a local port and `config` for the file it names.
fn start(args: &[String], config: &Path, upstream: &Upstream) -> ProxyProc {
    assert_eq!(args.first().map(String::as_str), Some("proxy"), "{args:?}");
    let value = |flag: &str| {
        let at = args.iter().position(|a| a == flag);
        at.and_then(|i| args.get(i + 1)).map(String::as_str)
    };
    assert_eq!(value("--upstream"), Some(UPSTREAM), "{args:?}");
    assert_eq!(value("--listen"), Some(LISTEN), "{args:?}");
    assert_eq!(value("--config"), Some(CONFIG), "{args:?}");
    let config = config.to_str().unwrap();
    let mut rest: Vec<&str> = Vec::new();
    let mut words = args[1..].iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--upstream" | "--listen" => {
                words.next();
            }
            "--config" => {
                words.next();
                rest.extend(["--config", config]);
            }
            other => rest.push(other),
        }
    }
    ProxyProc::start(&upstream.url(), &rest)
}

/// A body with `paths` label sets of a prometheus_client-style histogram
/// (14 bounds, its default) and counter.
fn leaky_body(paths: usize) -> Vec<u8> {
    let bounds = [
        "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5",
        "5.0", "7.5", "10.0", "+Inf",
    ];
    let mut text = String::from(
        "# HELP http_request_duration_seconds Latency by raw path.\n\
         # TYPE http_request_duration_seconds histogram\n",
    );
    for p in 0..paths {
        for le in bounds {
            text.push_str(&format!(
                "http_request_duration_seconds_bucket{{le=\"{le}\",path=\"/item/{p}\"}} 1.0\n"
            ));
        }
        text.push_str(&format!(
            "http_request_duration_seconds_count{{path=\"/item/{p}\"}} 1.0\n\
             http_request_duration_seconds_sum{{path=\"/item/{p}\"}} 0.003\n"
        ));
    }
    text.push_str("# TYPE http_requests_total counter\n");
    for p in 0..paths {
        text.push_str(&format!("http_requests_total{{path=\"/item/{p}\"}} 2.0\n"));
    }
    text.into_bytes()
}

/// The example's budgets hold on a flood of 150 paths: the histogram keeps
/// 1,700 series (100 paths), the counter 200, the rest folds.
fn budgets_apply(proxy: &ProxyProc, histogram_limit: u64) {
    let scrape = proxy.scrape();
    let limit = |metric: &str| {
        scrape
            .value(&format!(
                "cardinality_guard_series_limit{{metric=\"{metric}\"}}"
            ))
            .unwrap_or_else(|| panic!("no limit for {metric}:\n{}", scrape.text))
    };
    assert_eq!(
        limit("http_request_duration_seconds"),
        histogram_limit as f64
    );
    let series = scrape
        .value("cardinality_guard_series{metric=\"http_request_duration_seconds\"}")
        .expect("the histogram's series");
    assert!(series <= histogram_limit as f64, "{series}");
    // Every observation is somewhere: admitted paths and the overflow series.
    assert_eq!(scrape.sum("http_request_duration_seconds_count"), 150.0);
    assert_eq!(scrape.sum("http_requests_total"), 300.0);
    assert!(
        scrape.text.contains("otel_metric_overflow=\"true\""),
        "150 paths fold beyond the budget:\n{}",
        scrape.text
    );
    let (status, page) = proxy.get("/debug/cardinality?format=toml");
    assert_eq!(status, 200, "{page}");
}

#[test]
fn the_systemd_unit_starts_the_proxy_with_the_shipped_guard_toml() {
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, leaky_body(150)));
    let proxy = start(&unit_args(), &examples().join("guard.toml"), &upstream);
    budgets_apply(&proxy, 1700);
    let scrape = proxy.scrape();
    assert_eq!(
        scrape.value("cardinality_guard_series_limit{metric=\"http_requests_total\"}"),
        Some(200.0),
        "the guard.toml's counter rule names the _total sample"
    );
}

#[test]
fn the_kubernetes_sidecar_starts_the_proxy_with_its_config_map() {
    let (args, config) = sidecar();
    let dir = scratch("sidecar");
    let path = dir.join("guard.toml");
    std::fs::write(&path, &config).unwrap();
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, leaky_body(150)));
    let proxy = start(&args, &path, &upstream);
    budgets_apply(&proxy, 1700);
}

#[test]
fn the_scrape_config_points_at_the_proxy_and_passes_promtool() {
    let config = read("prometheus.yml");
    assert!(config.contains("127.0.0.1:9464"), "{config}");
    if !needs("/usr/bin/promtool", "prometheus") {
        return;
    }
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(examples().join("prometheus.yml"))
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
