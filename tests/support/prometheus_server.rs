//! Starting a real `prometheus` process on 127.0.0.1 with a temporary data
//! directory, for the end-to-end tests (include beside `prometheus_api.rs`).
#![allow(dead_code)] // each test binary uses a different subset
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::prometheus_api::{eventually, free_port, get, Http, PATIENCE};

/// A `prometheus` process and its scratch directory, gone with the test.
pub struct Prometheus {
    child: Child,
    pub dir: PathBuf,
    pub addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

/// Whether the tests can run; panics in CI when Prometheus is missing.
pub fn prometheus_installed() -> bool {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is required in CI (.ci/test installs it)"
        );
        eprintln!("SKIPPED: prometheus is not installed (apt-get install prometheus)");
    }
    found
}

/// Starts Prometheus scraping `target` as `job` every `interval`, and waits
/// until it is ready.
pub async fn start_prometheus(
    client: &Http,
    job: &str,
    target: SocketAddr,
    interval: &str,
) -> Prometheus {
    start_prometheus_with_rules(client, job, target, interval, None).await
}

/// The shipped rules (`examples/prometheus/rules.yml`), with every `for:`
/// shortened to 2 s so a test needs seconds, not minutes.
pub fn rules_for_test() -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus/rules.yml");
    let rules = std::fs::read_to_string(&path).expect("examples/prometheus/rules.yml exists");
    rules
        .lines()
        .map(|line| match line.trim_start().strip_prefix("for:") {
            Some(_) => format!("{}for: 2s", &line[..line.len() - line.trim_start().len()]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// [`start_prometheus`], evaluating `rules` (a rules file's text) every
/// `interval` too.
pub async fn start_prometheus_with_rules(
    client: &Http,
    job: &str,
    target: SocketAddr,
    interval: &str,
    rules: Option<&str>,
) -> Prometheus {
    start_prometheus_over(client, &[(job, &[target])], interval, rules).await
}

/// Starts Prometheus scraping each job's targets every `interval` (and
/// evaluating `rules`, if any), and waits until it is ready.
pub async fn start_prometheus_over(
    client: &Http,
    jobs: &[(&str, &[SocketAddr])],
    interval: &str,
    rules: Option<&str>,
) -> Prometheus {
    let job = jobs.first().map_or("none", |(job, _)| *job);
    let dir = std::env::temp_dir().join(format!(
        "cg-ingests-{job}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).expect("create the scratch dir");
    let rule_files = match rules {
        Some(rules) => {
            std::fs::write(dir.join("rules.yml"), rules).expect("write rules");
            "rule_files: [rules.yml]\n"
        }
        None => "",
    };
    let scrape_configs: String = jobs
        .iter()
        .map(|(job, targets)| {
            let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
            format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            )
        })
        .collect();
    let config = format!(
        "global:\n  scrape_interval: {interval}\n  scrape_timeout: 1s\n  evaluation_interval: {interval}\n\
         {rule_files}scrape_configs:\n{scrape_configs}"
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("write config");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
    let child = Command::new("prometheus")
        .current_dir(&dir)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    let prometheus = Prometheus { child, dir, addr };
    let ready = eventually(PATIENCE, Duration::from_millis(100), || async {
        get(client, format!("http://{addr}/-/ready"))
            .await
            .filter(|(s, _)| *s == 200)
    })
    .await;
    assert!(
        ready.is_some(),
        "prometheus did not become ready: {}",
        prometheus.log()
    );
    prometheus
}
