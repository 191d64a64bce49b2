//! The binary's contract with a CI pipeline: exit 0 when fine, 1 when a
//! `--max-series` / `--max-total` gate is exceeded, 2 when the input cannot be
//! read (missing, malformed with the line named, larger than `--max-bytes`,
//! an endless body, a refused connection, an HTTP error). And the JSON schema.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::{cli, cli_ok, scratch};

const EXPOSITION: &str = "# HELP req Requests.\n# TYPE req histogram\n\
req_bucket{path=\"/a\",le=\"0.5\"} 1\nreq_bucket{path=\"/a\",le=\"+Inf\"} 1\nreq_sum{path=\"/a\"} 0.2\nreq_count{path=\"/a\"} 1\n\
req_bucket{path=\"/b\",le=\"0.5\"} 1\nreq_bucket{path=\"/b\",le=\"+Inf\"} 1\nreq_sum{path=\"/b\"} 0.2\nreq_count{path=\"/b\"} 1\n\
# TYPE up gauge\nup 1\n";

fn file(name: &str, text: &str) -> String {
    let path = scratch(name).join("metrics.txt");
    std::fs::write(&path, text).expect("write the exposition");
    path.display().to_string()
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
    let path = file("ok", EXPOSITION);
    let out = cli_ok(
        &["audit", &path, "--max-series", "8", "--max-total", "9"],
        0,
    );
    assert!(out.contains("9 series in 2 metric families"), "{out}");
}

#[test]
fn exit_1_when_a_metric_or_the_total_is_over() {
    let path = file("over", EXPOSITION);
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
fn exit_2_for_unreadable_input() {
    let missing = cli(&["audit", "/nonexistent/metrics.txt"]);
    assert_eq!(missing.status.code(), Some(2));

    let path = file("malformed", &format!("{EXPOSITION}up{{job=\"x\" 1\n"));
    let out = cli(&["audit", &path]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 13:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let path = file("big", EXPOSITION);
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
}

#[test]
fn an_endless_body_stops_at_the_cap() {
    let url = serve(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\nconnection: close\r\n\r\n");
        let chunk = "endless_total{id=\"0123456789abcdef0123456789abcdef\"} 1\n".repeat(1000);
        let start = Instant::now();
        // Far more than the cap, bounded in time: the client hangs up first.
        while start.elapsed() < Duration::from_secs(20) {
            if s.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let out = cli(&["audit", &url, "--max-bytes", "4MiB"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("larger than 4194304 bytes (4.0 MiB)"),
        "{stderr}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
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
    let path = file("json", EXPOSITION);
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

#[test]
fn watch_reports_growth_of_a_file_that_grows() {
    let path = file("watch", EXPOSITION);
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            let grown =
                format!("{EXPOSITION}req_count{{path=\"/c\"}} 1\nreq_sum{{path=\"/c\"}} 1\n");
            let tmp = format!("{path}.tmp");
            std::fs::write(&tmp, grown).expect("write");
            std::fs::rename(&tmp, &path).expect("rename");
        })
    };
    let json = cli_ok(
        &[
            "audit",
            &path,
            "--watch",
            "2s",
            "--interval",
            "400ms",
            "--budget",
            "20",
            "--format",
            "json",
        ],
        0,
    );
    writer.join().expect("writer");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let req = &v["metrics"][0];
    assert_eq!(req["name"], "req");
    assert_eq!(req["series"], 10);
    // Two new series in about two seconds: ~3,600 per hour.
    let growth = req["growth_per_hour"].as_f64().expect("growth");
    assert!((2_500.0..=8_000.0).contains(&growth), "{growth}");
    let path_label = &req["labels"][0];
    assert!(path_label["new_values_per_hour"].as_f64().unwrap_or(0.0) > 0.0);
    let hours = req["hours_to_budget"].as_f64().expect("eta");
    assert!(hours > 0.0 && hours < 0.01, "{hours}");
    assert_eq!(v["metrics"][1]["growth_per_hour"], 0.0);
    assert!(v["watch"]["scrapes"].as_u64().unwrap_or(0) >= 4);
}
