//! For the proxy's tests: a scripted upstream served by the test (a std
//! `TcpListener` thread on 127.0.0.1), the proxy binary in front of it, and
//! reading the proxy's scrapes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use cardinality_guard_core::text::{Format, Line, Parser};

/// What the upstream answers next.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A status, a content type and a body.
    Body(u16, &'static str, Vec<u8>),
    /// `200` and a body that never ends (written until the reader goes,
    /// `limit` bytes at most).
    Endless { limit: usize },
    /// `200` and one byte of a valid line every `every`, `bytes` of them at most.
    Trickle { every: Duration, bytes: usize },
}

/// The content types of the two formats.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
/// OpenMetrics 1.0.0.
pub const OPEN_METRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A scripted upstream: answers every GET with the current [`Reply`].
pub struct Upstream {
    pub addr: SocketAddr,
    reply: Arc<Mutex<Reply>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    requests: Arc<AtomicUsize>,
}

impl Upstream {
    /// Serves `reply` on an ephemeral port of 127.0.0.1.
    pub fn start(reply: Reply) -> Upstream {
        let addr = "127.0.0.1:0".parse().unwrap();
        Upstream::start_at(addr, Arc::new(Mutex::new(reply)), Arc::default())
    }

    fn start_at(
        addr: SocketAddr,
        reply: Arc<Mutex<Reply>>,
        requests: Arc<AtomicUsize>,
    ) -> Upstream {
        let listener = TcpListener::bind(addr).expect("bind the upstream");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (script, stopped, counted) = (reply.clone(), stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let reply = script.lock().unwrap().clone();
                std::thread::spawn(move || answer(stream, &reply));
            }
        });
        Upstream {
            addr,
            reply,
            stop,
            thread: Some(thread),
            requests,
        }
    }

    /// Connections it accepted so far (one per fetch of the proxy).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Its metrics URL.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Answers `reply` from now on.
    pub fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    /// Stops listening: connections are refused until [`Upstream::restart`].
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    /// Listens again, on the same port.
    pub fn restart(&mut self) {
        let again = Upstream::start_at(self.addr, self.reply.clone(), self.requests.clone());
        *self = again;
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn answer(mut stream: TcpStream, reply: &Reply) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    match reply {
        Reply::Body(status, content_type, body) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
        Reply::Endless { limit } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {PROMETHEUS}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let chunk = "endless_total{a=\"b\"} 1\n".repeat(2048);
            let mut written = 0;
            while written < *limit && stream.write_all(chunk.as_bytes()).is_ok() {
                written += chunk.len();
            }
        }
        Reply::Trickle { every, bytes } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {PROMETHEUS}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            for byte in b"# a comment that never ends".iter().cycle().take(*bytes) {
                if stream.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(*every);
            }
        }
    }
}

/// The proxy binary, running; killed with the test.
pub struct ProxyProc {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for ProxyProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ProxyProc {
    /// `cardinality-guard proxy --upstream URL --listen 127.0.0.1:0 ARGS...`,
    /// once it said where it listens.
    pub fn start(upstream: &str, args: &[&str]) -> ProxyProc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cardinality-guard"))
            .args(["proxy", "--upstream", upstream, "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the proxy starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .expect("its stdout");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line {first:?}"))
            .parse()
            .expect("an address");
        ProxyProc { child, addr }
    }

    /// `GET path`: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.get_within(path, Duration::from_secs(60))
    }

    /// `GET path`, its answer read in full within `limit`: status and body.
    pub fn get_within(&self, path: &str, limit: Duration) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(limit))
            .build()
            .into();
        let mut response = agent
            .get(&format!("http://{}{path}", self.addr))
            .call()
            .expect("the proxy answers");
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .expect("a text body");
        (status, body)
    }

    /// A scrape that must succeed.
    pub fn scrape(&self) -> Scrape {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        Scrape::parse(&body)
    }
}

/// A scrape of the proxy: every sample by `name{labels}` (labels in order).
pub struct Scrape {
    pub text: String,
    pub samples: BTreeMap<String, f64>,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut parser = Parser::new(Format::Prometheus);
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if let Line::Sample(s) = parser.line(line).expect("the proxy's exposition parses") {
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{v}\""))
                    .collect();
                let key = format!("{}{{{}}}", s.name, labels.join(","));
                assert!(
                    samples.insert(key.clone(), s.value).is_none(),
                    "twice: {key}"
                );
            }
        }
        Scrape {
            text: text.to_owned(),
            samples,
        }
    }

    /// The samples of `name` exactly.
    pub fn of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a String, f64)> + 'a {
        let prefix = format!("{name}{{");
        self.samples
            .iter()
            .filter(move |(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k, *v))
    }

    /// The sum of the samples of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.of(name).map(|(_, v)| v).sum()
    }

    /// The value of exactly `key` (`name{labels}`).
    pub fn value(&self, key: &str) -> Option<f64> {
        self.samples.get(key).copied()
    }
}

/// Within every budget, by the guard's own self-report.
pub fn within_budgets(scrape: &Scrape) {
    for (key, series) in scrape.of("cardinality_guard_series") {
        let limit = key.replace(
            "cardinality_guard_series{",
            "cardinality_guard_series_limit{",
        );
        let limit = scrape.value(&limit).unwrap_or_else(|| panic!("{limit}"));
        assert!(
            series <= limit,
            "{key} {series} over {limit}\n{}",
            scrape.text
        );
    }
}

/// Feeds `text` to `promtool check metrics` and returns what it said,
/// empty when all is well; says it skipped (and returns empty) when
/// promtool is not installed, outside CI.
pub fn promtool_complaints(text: &str) -> String {
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if std::env::var_os("CI").is_none() => {
            println!("SKIPPED promtool check metrics: cannot run promtool: {e}");
            return String::new();
        }
        Err(e) => panic!("promtool is required in CI: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        said.trim().to_owned()
    } else {
        format!("exit {:?}: {said}", out.status.code())
    }
}
