//! `audit URL` follows a redirect only to the same scheme, host and port,
//! unless `--follow-redirects` says otherwise; the report names the URL it
//! read in the end, and the one asked for.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use support::{cli, cli_ok};

const EXPOSITION: &str = "# TYPE up gauge\nup 1\n";

/// Serves `respond(path)` (status line and headers, body) on an ephemeral
/// port of 127.0.0.1, for at most 16 connections; returns `http://addr`.
fn serve(respond: impl Fn(&str) -> String + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let path = request_path(&mut stream);
            let _ = stream.write_all(respond(&path).as_bytes());
        }
    });
    format!("http://{addr}")
}

fn request_path(stream: &mut TcpStream) -> String {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    text.split(' ').nth(1).unwrap_or("/").to_owned()
}

fn metrics(_: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{EXPOSITION}",
        EXPOSITION.len()
    )
}

fn redirect(location: &str) -> String {
    format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
}

#[test]
fn a_redirect_to_another_port_is_refused_by_default() {
    let target = serve(metrics);
    let location = format!("{target}/metrics");
    let origin = serve(move |_| redirect(&location));
    let asked = format!("{origin}/metrics");

    let out = cli(&["audit", &asked]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("redirects to {target}/metrics")),
        "{stderr}"
    );
    assert!(stderr.contains("--follow-redirects"), "{stderr}");
}

#[test]
fn follow_redirects_follows_it_and_the_report_names_the_final_url() {
    let target = serve(metrics);
    let location = format!("{target}/metrics");
    let origin = serve(move |_| redirect(&location));
    let asked = format!("{origin}/metrics");

    let out = cli_ok(&["audit", &asked, "--follow-redirects"], 0);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{target}/metrics (")),
        "the final URL first: {out}"
    );
    assert!(
        out.contains(&format!("redirected from {asked}")),
        "and the one asked for: {out}"
    );
    let json = cli_ok(
        &["audit", &asked, "--follow-redirects", "--format", "json"],
        0,
    );
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(json["source"], format!("{target}/metrics"));
    assert_eq!(json["redirected_from"], asked);
}

#[test]
fn a_redirect_on_the_same_host_and_port_is_followed() {
    let origin = serve(|path| match path {
        "/old" => redirect("/metrics"),
        _ => metrics(path),
    });
    let asked = format!("{origin}/old");
    let out = cli_ok(&["audit", &asked], 0);
    assert!(
        out.starts_with(&format!("{origin}/metrics (")),
        "the final URL: {out}"
    );
    assert!(out.contains("1 series in 1 metric family"), "{out}");
}
