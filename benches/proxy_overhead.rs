//! What `cardinality-guard proxy` costs per scrape, and in memory, next to
//! a plain pass-through of the same upstream, in the same run.
//!
//! ```text
//! cargo bench --bench proxy_overhead          # N = 10,000 and 1,000,000, ~2.5 minutes
//! cargo bench --bench proxy_overhead -- 10000 # one N only (a number sets N)
//! ```
//!
//! An upstream in this process (a minimal HTTP/1.1 server on 127.0.0.1)
//! serves a Prometheus text exposition of N series: a counter labelled by a
//! raw path (the leak), a histogram of 10 buckets (13 series per path)
//! labelled by path, gauges; 2% of the series (a gauge and a counter family)
//! change at each scrape, the rest is rendered once. Per N, three arms are
//! timed, each a `GET /metrics` over a new connection, answer read in full:
//!
//! - `upstream`: the upstream itself (its own render: the floor);
//! - `pass-through`: a forwarder that fetches the upstream as the proxy
//!   does (ureq, a new agent per scrape, the same `Accept`), reads the whole
//!   body and answers it unchanged from an axum server on Tokio;
//! - `proxy`: `cardinality-guard proxy` with the embedded default config
//!   (`--timeout 60s` so a loaded box never turns a scrape into a 503).
//!
//! The pass-through and the proxy are child processes (this program started
//! again with `CG_BENCH_ROLE` set), so their peak resident set size
//! (`VmHWM`) is their own; it is printed after the timed scrapes, with the
//! proxy's bytes per tracked input (its `cardinality_guard_proxy_inputs_bytes`
//! over `cardinality_guard_proxy_inputs`). Children are killed when the
//! bench ends, a panic included. `python3 benches/summarize.py` prints the
//! medians and the ratios proxy / pass-through of the last run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};

/// The child's role: `proxy` or `pass-through` (unset: the bench itself).
const ROLE: &str = "CG_BENCH_ROLE";
/// The upstream's URL, for a child.
const UPSTREAM: &str = "CG_BENCH_UPSTREAM";
/// The sizes measured when no number is given.
const SIZES: [usize; 2] = [10_000, 1_000_000];
/// The proxy's `Accept` (`crates/cardinality-guard-cli/src/http.rs`), for the pass-through.
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

fn main() -> ExitCode {
    if let Ok(role) = std::env::var(ROLE) {
        let Ok(upstream) = std::env::var(UPSTREAM) else {
            eprintln!("{ROLE}={role} needs {UPSTREAM}");
            return ExitCode::FAILURE;
        };
        return match role.as_str() {
            "proxy" => cardinality_guard_cli::run([
                "cardinality-guard",
                "proxy",
                "--upstream",
                &upstream,
                "--listen",
                "127.0.0.1:0",
                "--timeout",
                "60s",
            ]),
            "pass-through" => pass_through(upstream),
            _ => {
                eprintln!("{ROLE}={role}: expected proxy or pass-through");
                ExitCode::FAILURE
            }
        };
    }
    // `cargo bench` passes `--bench`; a number (criterion's filter too) sets N.
    let chosen: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if chosen.is_empty() {
        SIZES.to_vec()
    } else {
        chosen
    };
    let mut c = Criterion::default().configure_from_args();
    for n in sizes {
        bench_size(&mut c, n);
    }
    c.final_summary();
    ExitCode::SUCCESS
}

/// The three arms for `n` series, then the children's peak RSS and the
/// proxy's bytes per input.
fn bench_size(c: &mut Criterion, n: usize) {
    let upstream = Upstream::start(n);
    let url = format!("http://{}/metrics", upstream.addr);
    let pass = Server::spawn("pass-through", &url);
    let proxy = Server::spawn("proxy", &url);
    let mut buf = Vec::new();
    let sizes = [upstream.addr, pass.addr, proxy.addr].map(|addr| scrape(addr, &mut buf));
    println!(
        "N={n}: upstream body {:.1} MiB, pass-through answer {:.1} MiB, proxy answer {:.1} MiB",
        mib(sizes[0]),
        mib(sizes[1]),
        mib(sizes[2])
    );

    let mut g = c.benchmark_group(format!("proxy_overhead N={n}"));
    if n >= 100_000 {
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .measurement_time(Duration::from_secs(20));
    } else {
        g.sample_size(30).measurement_time(Duration::from_secs(10));
    }
    for (arm, addr) in [
        ("upstream", upstream.addr),
        ("pass-through", pass.addr),
        ("proxy", proxy.addr),
    ] {
        g.bench_function(arm, |b| b.iter(|| scrape(addr, &mut buf)));
    }
    g.finish();

    let (proxy_peak, pass_peak) = (proxy.peak_rss_kib(), pass.peak_rss_kib());
    println!(
        "proxy N={n} peak RSS = {:.1} MiB; pass-through = {:.1} MiB",
        proxy_peak as f64 / 1024.0,
        pass_peak as f64 / 1024.0
    );
    scrape(proxy.addr, &mut buf);
    let text = String::from_utf8_lossy(&buf);
    match (
        sample(&text, "cardinality_guard_proxy_inputs"),
        sample(&text, "cardinality_guard_proxy_inputs_bytes"),
    ) {
        (Some(inputs), Some(bytes)) if inputs > 0.0 => println!(
            "proxy N={n} inputs = {inputs}; inputs_bytes = {bytes} ({:.1} MiB); bytes per input = {:.1}",
            bytes / 1048576.0,
            bytes / inputs
        ),
        _ => println!("proxy N={n}: no cardinality_guard_proxy_inputs(_bytes) in its answer"),
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1048576.0
}

/// The value of the unlabelled series `name` in an exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// `GET /metrics` of `addr` over a new connection, the answer (head and
/// body) read in full into `buf`; its length. Panics unless 200.
fn scrape(addr: SocketAddr, buf: &mut Vec<u8>) -> usize {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .write_all(
            b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain;version=0.0.4\r\nConnection: close\r\n\r\n",
        )
        .expect("send the request");
    buf.clear();
    stream.read_to_end(buf).expect("read the answer");
    assert!(
        buf.starts_with(b"HTTP/1.1 200"),
        "{addr} answered: {}",
        String::from_utf8_lossy(&buf[..buf.len().min(300)])
    );
    buf.len()
}

/// How the N series divide among the families.
#[derive(Clone, Copy)]
struct Mix {
    /// `app_queue_depth{queue}`: gauges, new values each scrape.
    queues: usize,
    /// `app_jobs_processed_total{worker}`: counters, growing each scrape.
    workers: usize,
    /// `app_cache_entries{shard}`: gauges, fixed.
    shards: usize,
    /// `http_server_request_duration_seconds{method,path}`: 13 series each.
    histogram_paths: usize,
    /// `http_requests_total{method,path,status}`: one raw path each.
    counter_paths: usize,
}

/// The histogram's bucket bounds (`+Inf` aside).
const BUCKETS: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
];
const METHODS: [&str; 3] = ["GET", "POST", "PUT"];
const STATUSES: [&str; 5] = ["200", "200", "200", "404", "500"];
const RESOURCES: [&str; 4] = ["users", "orders", "items", "carts"];

impl Mix {
    fn new(n: usize) -> Mix {
        let queues = (n / 100).max(1);
        let workers = (n / 100).max(1);
        let shards = n / 25;
        let histogram_paths = n / 2 / 13;
        let counter_paths = n.saturating_sub(queues + workers + shards + histogram_paths * 13);
        Mix {
            queues,
            workers,
            shards,
            histogram_paths,
            counter_paths,
        }
    }

    /// The families that change at each scrape (`scrape` numbers them).
    fn changing(self, scrape: u64) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity((self.queues + self.workers) * 48 + 256);
        out.push_str(
            "# HELP app_queue_depth Items waiting, by queue.\n# TYPE app_queue_depth gauge\n",
        );
        for i in 0..self.queues as u64 {
            let _ = writeln!(
                out,
                "app_queue_depth{{queue=\"q-{i}\"}} {}",
                (i * 7 + scrape * 3) % 100
            );
        }
        out.push_str("# HELP app_jobs_processed_total Jobs done, by worker.\n# TYPE app_jobs_processed_total counter\n");
        for i in 0..self.workers as u64 {
            let _ = writeln!(
                out,
                "app_jobs_processed_total{{worker=\"w-{i}\"}} {}",
                1000 + i + scrape * (1 + i % 5)
            );
        }
        out
    }

    /// The families rendered once.
    fn fixed(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.histogram_paths * 13 * 110 + self.counter_paths * 90);
        let w = &mut out;
        let _ = w.write_all(
            b"# HELP app_cache_entries Entries, by cache shard.\n# TYPE app_cache_entries gauge\n",
        );
        for i in 0..self.shards {
            let _ = writeln!(
                w,
                "app_cache_entries{{shard=\"s-{i}\"}} {}",
                (i * 13) % 5000
            );
        }
        let name = "http_server_request_duration_seconds";
        let _ = write!(
            w,
            "# HELP {name} Request latency, by raw path.\n# TYPE {name} histogram\n"
        );
        for i in 0..self.histogram_paths {
            let labels = format!(
                "method=\"{}\",path=\"/api/v1/{}/{}\"",
                METHODS[i % 3],
                RESOURCES[i % 4],
                100_000 + i
            );
            let count = 10 + i % 1000;
            for (k, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    w,
                    "{name}_bucket{{{labels},le=\"{le}\"}} {}",
                    count * (k + 1) / 11
                );
            }
            let _ = writeln!(w, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
            let _ = writeln!(w, "{name}_sum{{{labels}}} {}", count as f64 * 0.042);
            let _ = writeln!(w, "{name}_count{{{labels}}} {count}");
        }
        let _ = w.write_all(b"# HELP http_requests_total Requests, by raw path.\n# TYPE http_requests_total counter\n");
        for i in 0..self.counter_paths {
            let _ = writeln!(
                w,
                "http_requests_total{{method=\"{}\",path=\"/api/v1/{}/{}/details\",status=\"{}\"}} {}",
                METHODS[i % 3],
                RESOURCES[i % 4],
                1_000_000 + i,
                STATUSES[i % 5],
                1 + (i * 37) % 10_000
            );
        }
        out
    }
}

/// The upstream: a minimal HTTP/1.1 server on 127.0.0.1, a thread per
/// connection, one answer per connection (`Connection: close`).
struct Upstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Upstream {
    fn start(n: usize) -> Upstream {
        let mix = Mix::new(n);
        let fixed: Arc<[u8]> = mix.fixed().into();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
        let addr = listener.local_addr().expect("the upstream's address");
        let stop = Arc::new(AtomicBool::new(false));
        let scrapes = Arc::new(AtomicU64::new(0));
        let stopped = stop.clone();
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (fixed, scrape) = (fixed.clone(), scrapes.fetch_add(1, Ordering::SeqCst));
                std::thread::spawn(move || {
                    let _ = answer(stream, &mix.changing(scrape), &fixed);
                });
            }
        });
        Upstream {
            addr,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Reads a request's head, answers `changing` then `fixed`, and closes.
fn answer(mut stream: TcpStream, changing: &str, fixed: &[u8]) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0_u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk)?;
        if read == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let length = changing.len() + fixed.len();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {EXPOSITION}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )?;
    stream.write_all(changing.as_bytes())?;
    stream.write_all(fixed)?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)
}

/// A child process serving HTTP (this program, in a role), killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// Kept open: the child's stdout.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts the child in `role` and waits for its "listening on ADDR".
    fn spawn(role: &str, upstream: &str) -> Server {
        let exe = std::env::current_exe().expect("this program's path");
        let mut child = Command::new(exe)
            .env(ROLE, role)
            .env(UPSTREAM, upstream)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the child");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{role} did not start (its first line: {line:?})");
        };
        Server {
            child,
            addr,
            _stdout: stdout,
        }
    }

    /// The child's peak resident set size (`VmHWM`), in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pass-through child: `GET /metrics` fetches `upstream` (as the proxy
/// does: ureq, a new agent each time, the same `Accept`), reads the whole
/// body, and answers it unchanged.
fn pass_through(upstream: String) -> ExitCode {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;

    let upstream = Arc::new(upstream);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the pass-through");
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let upstream = upstream.clone();
                async move {
                    match tokio::task::spawn_blocking(move || fetch(&upstream)).await {
                        Ok(Ok((content_type, body))) => {
                            ([(header::CONTENT_TYPE, content_type)], body).into_response()
                        }
                        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
                        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
                    }
                }
            }),
        );
        let addr = listener.local_addr().expect("its address");
        println!("listening on {addr}");
        let _ = std::io::stdout().flush();
        axum::serve(listener, app).await.expect("serve");
    });
    ExitCode::SUCCESS
}

/// One GET of `url`: its content type and whole body.
fn fetch(url: &str) -> Result<(String, Vec<u8>), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let response = agent
        .get(url)
        .header("Accept", ACCEPT)
        .call()
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status() != 200 {
        return Err(format!("{url} answered {}", response.status()));
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(EXPOSITION)
        .to_owned();
    let mut body = Vec::new();
    response
        .into_body()
        .into_reader()
        .read_to_end(&mut body)
        .map_err(|e| format!("{url}: {e}"))?;
    Ok((content_type, body))
}
