//! The binary's contract with a CI pipeline: exit 0 when fine, 1 when a
//! `--max-series` / `--max-total` gate is exceeded, 2 when the input cannot be
//! read (missing, malformed with the line named, larger than `--max-bytes`,
//! an endless body, a refused connection, an HTTP error). And the JSON schema.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::{cli, cli_ok, scratch, Scratch, PATIENCE};

const EXPOSITION: &str = "# HELP req Requests.\n# TYPE req histogram\n\
req_bucket{path=\"/a\",le=\"0.5\"} 1\nreq_bucket{path=\"/a\",le=\"+Inf\"} 1\nreq_sum{path=\"/a\"} 0.2\nreq_count{path=\"/a\"} 1\n\
req_bucket{path=\"/b\",le=\"0.5\"} 1\nreq_bucket{path=\"/b\",le=\"+Inf\"} 1\nreq_sum{path=\"/b\"} 0.2\nreq_count{path=\"/b\"} 1\n\
# TYPE up gauge\nup 1\n";

/// Writes `text` as an exposition file: its directory (gone when dropped) and path.
fn file(name: &str, text: &str) -> (Scratch, String) {
    let dir = scratch(name);
    let path = dir.join("metrics.txt");
    std::fs::write(&path, text).expect("write the exposition");
    let path = path.display().to_string();
    (dir, path)
}

/// Serves `respond(request)` to every connection on an ephemeral port, on a thread.
fn serve(respond: impl Fn(&str, &mut std::net::TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            respond(&String::from_utf8_lossy(&request[..n]), &mut stream);
        }
    });
    format!("http://{addr}/metrics")
}

#[test]
fn exit_0_when_within_the_gates() {
    let (_dir, path) = file("ok", EXPOSITION);
    let out = cli_ok(
        &["audit", &path, "--max-series", "8", "--max-total", "9"],
        0,
    );
    assert!(out.contains("9 series in 2 metric families"), "{out}");
}

#[test]
fn exit_1_when_a_metric_or_the_total_is_over() {
    let (_dir, path) = file("over", EXPOSITION);
    let out = cli(&["audit", &path, "--max-series", "7"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("req holds 8 series, more than --max-series 7"),
        "{stderr}"
    );
    // The report is still printed.
    assert!(String::from_utf8_lossy(&out.stdout).contains("top offenders"));

    let out = cli(&["audit", &path, "--max-total", "8"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("9 series in all"));
}

#[test]
fn the_gates_count_a_guarded_target_s_self_report_too() {
    // The app metric holds 1 series; the guard's label_values family 3.
    let text = "a_total{u=\"1\"} 1\n\
        cardinality_guard_series_limit{metric=\"a_total\"} 10\n\
        cardinality_guard_label_values{metric=\"a_total\",label=\"u\"} 1\n\
        cardinality_guard_label_values{metric=\"b_total\",label=\"u\"} 1\n\
        cardinality_guard_label_values{metric=\"c_total\",label=\"u\"} 1\n";
    let (_dir, path) = file("guarded", text);
    let out = cli(&["audit", &path, "--max-series", "2", "--max-total", "4"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cardinality_guard_label_values holds 3 series, more than --max-series 2"),
        "{stderr}"
    );
    assert!(stderr.contains("5 series in all"), "{stderr}");
    assert!(!stderr.contains("a_total holds"), "{stderr}");
    // The report's total counts the families as the series: all of them.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("5 series in 3 metric families"), "{stdout}");
    assert!(
        stdout.contains("its self-report (2 families, 4 series)"),
        "{stdout}"
    );
}

#[test]
fn exit_2_for_unreadable_input() {
    let missing = cli(&["audit", "/nonexistent/metrics.txt"]);
    assert_eq!(missing.status.code(), Some(2));

    let (_dir, path) = file("malformed", &format!("{EXPOSITION}up{{job=\"x\" 1\n"));
    let out = cli(&["audit", &path]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 13:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let (_dir, path) = file("big", EXPOSITION);
    let out = cli(&["audit", &path, "--max-bytes", "100"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("larger than 100 bytes") && stderr.contains("--max-bytes"),
        "{stderr}"
    );

    let port = support::free_port();
    let refused = cli(&["audit", &format!("http://127.0.0.1:{port}/metrics")]);
    assert_eq!(refused.status.code(), Some(2));

    let not_found = serve(|_, s| {
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    });
    let out = cli(&["audit", &not_found]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 404"));

    // Compressed though nothing asked for it: named, not read as bad UTF-8.
    let gzipped = serve(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\nconnection: close\r\n\r\n\x1f\x8b\x08\x00");
    });
    let out = cli(&["audit", &gzipped]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the body is \"gzip\"-encoded (Content-Encoding)"),
        "{stderr}"
    );
}

/// The "endless" body's length: 2 GiB, hundreds of times the cap.
const ENDLESS: usize = 2 << 30;

#[test]
fn an_endless_body_stops_at_the_cap() {
    let (sent, written) = std::sync::mpsc::channel();
    let url = serve(move |_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\nconnection: close\r\n\r\n");
        let chunk = "endless_total{id=\"0123456789abcdef0123456789abcdef\"} 1\n".repeat(1000);
        // Far more than the cap (bounded, so that the test ends whatever
        // the binary does): the client hangs up first.
        let mut written = 0;
        while written < ENDLESS {
            if s.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            written += chunk.len();
        }
        let _ = sent.send(written);
    });
    let out = cli(&["audit", &url, "--max-bytes", "4MiB"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("larger than 4194304 bytes (4.0 MiB)"),
        "{stderr}"
    );
    // It hung up at the cap: what the server got to write is the cap and
    // what the sockets' buffers hold, far from the endless body.
    let written = written.recv_timeout(PATIENCE).expect("the server stopped");
    assert!(written < 256 * 1024 * 1024, "{written} bytes written");
}

#[test]
fn open_metrics_is_asked_for_and_parsed() {
    let url = serve(|request, s| {
        let open_metrics = request.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("accept: application/openmetrics-text;version=1.0.0")
        });
        let body = if open_metrics {
            "# TYPE jobs counter\njobs_total{q=\"a\"} 1 # {trace_id=\"x\"} 1\njobs_created{q=\"a\"} 1.7e9\n# EOF\n"
        } else {
            "wrong 1\n"
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
    });
    let json = cli_ok(&["audit", &url, "--format", "json"], 0);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["format"], "openmetrics-1.0.0");
    assert_eq!(v["total_series"], 2);
    assert_eq!(v["metrics"][0]["name"], "jobs");
    assert_eq!(v["metrics"][0]["kind"], "counter");
}

#[test]
fn json_follows_the_documented_schema() {
    let (_dir, path) = file("json", EXPOSITION);
    let json = cli_ok(&["audit", &path, "--format", "json"], 0);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["total_series"], 9);
    let metrics = v["metrics"].as_array().expect("metrics");
    assert_eq!(metrics.len(), 2);
    let req = &metrics[0];
    assert_eq!(req["name"], "req");
    assert_eq!(req["kind"], "histogram");
    assert_eq!(req["series"], 8);
    assert_eq!(req["label_sets"], 2);
    assert_eq!(req["labels"][0]["name"], "path");
    assert_eq!(req["labels"][0]["values"], 2);
    assert!(req["growth_per_hour"].is_null());
    assert_eq!(metrics[1]["name"], "up");
    assert_eq!(metrics[1]["series"], 1);
    assert_eq!(v["prometheus_bytes_per_series"], 3000);
}

/// A file the test writes whenever the binary opens it: a named pipe, so
/// that what each read sees depends on how many reads came before, not on
/// when they happen.
#[cfg(target_os = "linux")]
struct Fifo {
    path: std::path::PathBuf,
    /// The pipe's directory, gone with it.
    _dir: Scratch,
    /// Set once the reader is gone for good.
    stop: std::sync::atomic::AtomicBool,
}

#[cfg(target_os = "linux")]
impl Fifo {
    fn new(name: &str) -> Fifo {
        let dir = scratch(name);
        let path = dir.join("metrics.txt");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo runs");
        assert!(made.success(), "mkfifo {}", path.display());
        Fifo {
            path: path.canonicalize().expect("the FIFO's path"),
            stop: Default::default(),
            _dir: dir,
        }
    }

    /// Serves process `pid` its reads of the pipe, read `n` (from 1)
    /// getting `content(n)`, until [`Fifo::stop`]; returns how many reads
    /// it served.
    fn serve(&self, pid: u32, content: impl Fn(usize) -> String) -> usize {
        let mut reads = 0;
        loop {
            // Blocks until a reader opens the pipe.
            let mut pipe = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .expect("open the FIFO");
            if self.stop.load(std::sync::atomic::Ordering::Acquire) {
                return reads;
            }
            reads += 1;
            pipe.write_all(content(reads).as_bytes())
                .unwrap_or_else(|e| panic!("write {reads}: {e}"));
            // The reader can't see the end while the pipe is open here:
            // once it holds the pipe, closing it ends this read, and once it
            // let go, its next open waits for this loop's next one.
            self.wait_until(pid, reads, true);
            drop(pipe);
            self.wait_until(pid, reads, false);
        }
    }

    /// Waits until process `pid` holds the pipe open (or not), or is gone.
    fn wait_until(&self, pid: u32, read: usize, held: bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                return; // gone
            };
            let holds = fds
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == self.path));
            if holds == held {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "read {read}: the pipe not {} within {PATIENCE:?}",
                if held { "opened" } else { "closed" }
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Ends [`Fifo::serve`] once the reader is gone: returns a handle to keep
    /// until `serve` returned (opening read-write never blocks on Linux, and
    /// lets the writer's open return).
    fn stop(&self) -> std::fs::File {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .expect("open the FIFO read-write")
    }
}

/// The file grows between the first read (the baseline) and the second:
/// every read after the first sees two more series and one more `path`
/// value. So the growth is counted from what was read, and the rates are
/// checked against the time the watch itself reports, however slowly a
/// loaded machine runs it.
#[cfg(target_os = "linux")]
#[test]
fn watch_reports_growth_of_a_file_that_grows() {
    let fifo = Fifo::new("watch");
    let path = fifo.path.display().to_string();
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_cardinality-guard"))
        .args([
            "audit",
            &path,
            "--watch",
            "2s",
            "--interval",
            "200ms",
            "--budget",
            "20",
            "--format",
            "json",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = cli.id();
    let (out, reads) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            fifo.serve(pid, |read| {
                if read == 1 {
                    EXPOSITION.to_owned()
                } else {
                    format!("{EXPOSITION}req_count{{path=\"/c\"}} 1\nreq_sum{{path=\"/c\"}} 1\n")
                }
            })
        });
        let out = cli.wait_with_output().expect("the binary ends");
        let _unblock = fifo.stop();
        (out, writer.join().expect("the writer"))
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    // Every read was a scrape (the baseline included), and the watch took
    // its two seconds at least.
    let scrapes = v["watch"]["scrapes"].as_u64().expect("scrapes");
    assert_eq!(scrapes, reads as u64, "{v}");
    assert!(scrapes >= 4, "{v}");
    let seconds = v["watch"]["seconds"].as_f64().expect("seconds");
    assert!(seconds >= 2.0, "{v}");
    let hours = seconds / 3600.0;
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();

    let req = &v["metrics"][0];
    assert_eq!(req["name"], "req");
    assert_eq!(req["series"], 10);
    // Two new series over the watch.
    let growth = req["growth_per_hour"].as_f64().expect("growth");
    assert!(same(growth, 2.0 / hours), "{growth} over {seconds} s");
    let path_label = &req["labels"][0];
    assert_eq!(path_label["name"], "path");
    let new_values = path_label["new_values_per_hour"].as_f64().unwrap_or(0.0);
    assert!(
        same(new_values, 1.0 / hours),
        "{new_values} over {seconds} s"
    );
    // 10 series from the budget of 20, at that rate.
    let eta = req["hours_to_budget"].as_f64().expect("eta");
    assert!(same(eta, 10.0 / growth), "{eta}");
    assert_eq!(v["metrics"][1]["growth_per_hour"], 0.0);
}
