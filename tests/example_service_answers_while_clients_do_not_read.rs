//! The attack of issue 19 on the example service's server: 1,024 clients
//! send `GET /metrics` (3,000 users registered: a response larger than the
//! socket buffers) and never read. Their responses can't be written, and
//! without a write timeout each held its connection, and its slot under the
//! connection cap, forever: a legitimate `GET /` waited in the listen
//! backlog for good. With `write_timeout` (2 s here) their connections
//! close and the legitimate request is answered within seconds. In process,
//! over real TCP on 127.0.0.1.
//!
//! Over loopback the MSS is 64 KiB and Linux sizes each connection's send
//! buffer from it (about 4 MiB: a 180 KB response would just sit in the
//! kernel, and 1,024 such connections would hold 4 GiB of its memory). The
//! attacking clients here advertise a 536-byte MSS and a 4 KiB receive
//! buffer, as a client across a real network might: then about 50 KB fill
//! the buffers, the server's writes wait, and the kernel holds some 70 MB.

#![cfg(unix)] // the attackers' MSS is set with TCP_MAXSEG

#[path = "../examples/shared/app.rs"]
mod app;

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cardinality_guard::axum::serve as server;
use cardinality_guard::{Config, PrometheusGuard};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The attack's size: its clients, and the users behind `/metrics`.
const ATTACKERS: usize = 1024;
const USERS: usize = 3000;
/// The write timeout the server runs with here.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the legitimate request may take: the write timeout, and room
/// for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);
/// `/metrics` must be larger than what the attackers' buffers take.
const LARGER_THAN_BUFFERS: usize = 128 * 1024;

/// The soft limit on open files, from `/proc/self/limits` (`None` elsewhere).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The example app, with 3,000 users logged in, served with `limits` on a
/// free port; its address and the size of its `/metrics` text.
async fn start(limits: server::Limits) -> (SocketAddr, usize) {
    let config = Config::from_toml(
        "[[metrics]]\nmatch = \"app_logins_total\"\nmax_series = 5000\n",
        "test.toml",
    )
    .unwrap();
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        for user in 0..USERS {
            let id = format!("user-{user:06}-of-the-attack");
            metrics::counter!("app_logins_total", "user" => id).increment(1);
        }
    });
    let size = exporter.render().len();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app::router(app::Exposition::Guarded(exporter));
    tokio::spawn(server::serve(listener, app, limits, std::future::pending()));
    (addr, size)
}

/// A client that asks for `/metrics` and will never read: small buffers, a
/// small MSS (see the module docs).
fn non_reading_client(addr: SocketAddr) -> Socket {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_tcp_mss(536).unwrap();
    socket.connect(&addr.into()).unwrap();
    (&socket)
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    socket
}

/// `GET path` with `Connection: close`: the whole reply, or `None` when it
/// did not come within `limit`.
async fn get(addr: SocketAddr, path: &str, limit: Duration) -> Option<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.ok()?;
        Some(reply)
    };
    tokio::time::timeout(limit, exchange).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_answered_while_1024_clients_do_not_read_metrics() {
    // Two descriptors a connection (both ends are in this process), and
    // room for the rest; with fewer, as many attackers as fit, and a cap
    // that they fill all the same.
    let attackers = match open_files_limit() {
        Some(limit) if limit < 2 * ATTACKERS + 64 => {
            let fit = limit.saturating_sub(64) / 2;
            eprintln!("open files limited to {limit}: {fit} attackers, not {ATTACKERS}");
            fit
        }
        _ => ATTACKERS,
    };
    assert!(attackers >= 64, "too few open files for the attack");
    let (addr, size) = start(server::Limits {
        write_timeout: WRITE_TIMEOUT,
        // Only the write timeout can free the attackers' slots.
        header_read_timeout: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(600),
        max_connections: attackers,
    })
    .await;
    assert!(
        size > LARGER_THAN_BUFFERS,
        "/metrics is {size} bytes: too small to fill the buffers"
    );

    // Every slot under the cap taken by a client that does not read.
    let attack = tokio::task::spawn_blocking(move || {
        (0..attackers)
            .map(|_| non_reading_client(addr))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();

    let started = Instant::now();
    let reply = get(addr, "/", PATIENCE).await;
    let waited = started.elapsed();
    eprintln!(
        "{attackers} clients not reading a {size}-byte /metrics: GET / answered after {waited:?}"
    );
    let reply = reply.unwrap_or_else(|| panic!("GET / not answered within {PATIENCE:?}"));
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    drop(attack);
}

#[tokio::test]
async fn a_client_that_reads_gets_the_whole_large_response() {
    let (addr, size) = start(server::Limits {
        write_timeout: WRITE_TIMEOUT,
        ..server::Limits::default()
    })
    .await;
    let reply = get(addr, "/metrics", PATIENCE).await.expect("answered");
    assert!(reply.starts_with(b"HTTP/1.1 200"));
    assert!(reply.len() > size, "{} bytes of {size}", reply.len());
}
