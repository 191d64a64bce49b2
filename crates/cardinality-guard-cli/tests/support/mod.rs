//! Shared by the integration tests: running the binary, child processes
//! that die with the test, a real Prometheus, and replaying an exposition's
//! label sets through the guard.

#![allow(dead_code)] // each test binary uses its own part of this module
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

pub mod python_app;
pub mod upstream;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cardinality_guard_core::text::{Format, Kind, Line, Parser};
use cardinality_guard_core::{Config, PrometheusGuard, Report};

/// Runs `cardinality-guard` with `args`.
pub fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cardinality-guard"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// Runs `cardinality-guard` with `args`, expecting exit status `code`; returns stdout.
pub fn cli_ok(args: &[&str], code: i32) -> String {
    let out = cli(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "cardinality-guard {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A child process and its scratch directory, gone with the test.
pub struct Proc {
    pub child: Child,
    pub dir: Scratch,
    pub name: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Its log so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

/// A fresh scratch directory, removed with its value (keep it bound for as
/// long as its files are used: `scratch(name).join(..)` alone is gone at
/// once).
#[must_use = "the directory is removed when this value is dropped"]
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch directory, named after `name` and this process.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("cg-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch dir");
    Scratch(dir)
}

/// Starts the command `build` makes (given its scratch dir, where it may
/// write files) in that dir, its stderr in `dir/log`.
pub fn spawn(name: &str, build: impl FnOnce(&Path) -> Command) -> Proc {
    let dir = scratch(name);
    let mut command = build(&dir);
    let log = std::fs::File::create(dir.join("log")).expect("log file");
    let child = command
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{name} starts: {e}"));
    Proc {
        child,
        dir,
        name: name.to_owned(),
    }
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// GET `url`: the body, or `None` on any failure.
pub fn get(url: &str) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    agent.get(url).call().ok()?.body_mut().read_to_string().ok()
}

/// How long a test waits for something to happen (a process to answer, a
/// scrape to land) before it fails: generous, as a loaded machine may take
/// its time; a test waits this long only when it fails.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
pub fn eventually<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = check() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Waits until `url` answers 200, panicking with `proc`'s log otherwise.
pub fn wait_until_up(url: &str, proc: &Proc) {
    if eventually(PATIENCE, || get(url)).is_none() {
        panic!(
            "{} did not answer on {url}; log:\n{}",
            proc.name,
            proc.log()
        );
    }
}

/// The real node exporter on 127.0.0.1 (a free port), with the collectors
/// that work in a container (cpu, meminfo, filesystem, loadavg) and the
/// `extra` flags made in its scratch dir, once it answers; and its address.
pub fn start_node_exporter(
    name: &str,
    extra: impl FnOnce(&Path) -> Vec<String>,
) -> (Proc, SocketAddr) {
    let node = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let exporter = spawn(name, |dir| {
        let mut command = Command::new("/usr/bin/prometheus-node-exporter");
        command.args([
            &format!("--web.listen-address={node}"),
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.meminfo",
            "--collector.filesystem",
            "--collector.loadavg",
        ]);
        command.args(extra(dir));
        command
    });
    wait_until_up(&format!("http://{node}/metrics"), &exporter);
    (exporter, node)
}

/// Whether a system package's file is there; fails under CI, else says it skips.
pub fn needs(path: &str, package: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{path} is missing: install the Debian package {package} (bash .ci/test does)");
    }
    eprintln!("SKIPPED: {path} is missing (apt-get install {package})");
    false
}

/// A real Prometheus scraping `targets` (job name, address) every second,
/// and itself as job `prometheus`; returns it and its address.
pub fn start_prometheus(targets: &[(&str, SocketAddr)]) -> (Proc, SocketAddr) {
    let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut config =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
    let mut targets = targets.to_vec();
    targets.push(("prometheus", listen));
    for (job, addr) in targets {
        config.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n"
        ));
    }
    let mut proc = spawn("prometheus", |dir| {
        std::fs::write(dir.join("prometheus.yml"), config).expect("write prometheus.yml");
        let mut command = Command::new("/usr/bin/prometheus");
        command
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"));
        command
    });
    proc.name = format!("prometheus on {listen}");
    wait_until_up(&format!("http://{listen}/-/ready"), &proc);
    (proc, listen)
}

/// An instant query's results: (labels, value).
pub fn query(prometheus: SocketAddr, promql: &str) -> Vec<(serde_json::Value, f64)> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let Some(body) = get(&format!("http://{prometheus}/api/v1/query?query={encoded}")) else {
        return Vec::new();
    };
    let json: serde_json::Value = serde_json::from_str(&body).expect("the API answers JSON");
    json["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let value = r["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            (r["metric"].clone(), value)
        })
        .collect()
}

/// One label set of one family, as metrics-rs would register it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Registration {
    pub name: String,
    pub kind: Kind,
    pub labels: Vec<(String, String)>,
}

/// The distinct label sets of `text`, per family, as metrics-rs
/// registrations: counters under their sample name (`x_total`), histograms
/// and summaries without `le`/`quantile`, `_created` lines left out.
pub fn registrations(text: &str) -> Vec<Registration> {
    let mut parser = Parser::new(Format::Auto);
    let mut out = std::collections::BTreeSet::new();
    for line in text.lines() {
        let Ok(Line::Sample(s)) = parser.line(line) else {
            continue;
        };
        if s.name.ends_with("_created") {
            continue;
        }
        let name = match s.kind {
            Kind::Counter => s.name.to_owned(),
            _ => s.family.to_owned(),
        };
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(n, v)| !v.is_empty() && *n != "le" && *n != "quantile")
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        labels.sort();
        out.insert(Registration {
            name,
            kind: s.kind,
            labels,
        });
    }
    out.into_iter().collect()
}

/// Drives a guard built from `config` with `registrations` (each recorded
/// once) and returns its report.
pub fn replay(config: Config, registrations: &[Registration]) -> Report {
    let (guard, exporter) = PrometheusGuard::builder(config)
        .build()
        .expect("the guard builds");
    metrics::with_local_recorder(&guard, || {
        for r in registrations {
            let labels: Vec<metrics::Label> = r
                .labels
                .iter()
                .map(|(n, v)| metrics::Label::new(n.clone(), v.clone()))
                .collect();
            let name = r.name.clone();
            match r.kind {
                Kind::Counter => metrics::counter!(name, labels).increment(1),
                Kind::Histogram | Kind::Summary | Kind::GaugeHistogram => {
                    metrics::histogram!(name, labels).record(0.2)
                }
                _ => metrics::gauge!(name, labels).set(1.0),
            }
        }
    });
    let _ = exporter.render();
    exporter.report()
}

/// Seconds since the Unix epoch, as Prometheus stamps its samples.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Waits for `prometheus`' first scrape of `job` that began at or after
/// `since` (Unix seconds) and returns when it began; panics after
/// [`PATIENCE`].
pub fn scrape_since(prometheus: SocketAddr, job: &str, since: f64) -> f64 {
    let stamp = format!("timestamp(scrape_samples_scraped{{job=\"{job}\"}})");
    eventually(PATIENCE, || {
        query(prometheus, &stamp)
            .first()
            .map(|r| r.1)
            .filter(|&at| at >= since)
    })
    .unwrap_or_else(|| panic!("Prometheus did not scrape {job} within {PATIENCE:?}"))
}

/// The peak resident set size of process `pid` so far (`VmHWM` of
/// `/proc/PID/status`), in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"));
    kib * 1024
}
