//! Talking to a real Prometheus (and to the services it scrapes) over HTTP
//! on 127.0.0.1, for the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different subset
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub type Http = Client<HttpConnector, Body>;

pub fn client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A GET: the status and the body, or `None` if nothing answered.
pub async fn get(client: &Http, url: String) -> Option<(u16, String)> {
    let response = client.get(url.parse().ok()?).await.ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query: each result's labels and value.
pub async fn query(client: &Http, prometheus: SocketAddr, promql: &str) -> Vec<(Value, f64)> {
    let url = format!(
        "http://{prometheus}/api/v1/query?query={}",
        percent_encode(promql)
    );
    let Some((200, body)) = get(client, url).await else {
        return Vec::new();
    };
    let json: Value = serde_json::from_str(&body).expect("the API answers JSON");
    json["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let value = r["value"][1]
                .as_str()
                .unwrap_or("NaN")
                .parse()
                .unwrap_or(f64::NAN);
            (r["metric"].clone(), value)
        })
        .collect()
}

/// The first result's value of an instant query.
pub async fn scalar(client: &Http, prometheus: SocketAddr, promql: &str) -> Option<f64> {
    query(client, prometheus, promql).await.first().map(|r| r.1)
}

/// How long a test waits for something to happen (Prometheus to be ready,
/// to scrape, to evaluate a rule) before it fails: generous, as a loaded
/// machine may take its time; a test waits this long only when it fails.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Polls `check` every `every` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, every: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if start.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}
