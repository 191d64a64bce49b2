//! The example service's server stops promptly and cleanly on SIGTERM:
//! `serve` returns `Ok` (the example's `main` then exits 0) well within the
//! drain time, and stops accepting connections.
//!
//! Its own test binary: the signal goes to this process, whose handler
//! `shutdown_signal` installed.

#[path = "../examples/shared/app.rs"]
mod app;

use cardinality_guard::axum::serve as server;
use std::time::{Duration, Instant};

use cardinality_guard::{Config, PrometheusGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_the_server_promptly_and_cleanly() {
    let (_recorder, exporter) = PrometheusGuard::builder(Config::embedded())
        .upkeep_interval(None)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app::router(app::Exposition::Guarded(exporter));
    let shutdown = server::shutdown_signal();
    let server = tokio::spawn(server::serve(
        listener,
        app,
        server::Limits::default(),
        shutdown,
    ));

    // It serves, and keeps an idle keep-alive connection open.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0_u8; 12];
    tokio::time::timeout(Duration::from_secs(60), idle.read_exact(&mut head))
        .await
        .expect("served within a minute")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    let sent = Instant::now();
    let kill = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", std::process::id())])
        .status()
        .expect("sh runs");
    assert!(kill.success());
    let signalled = Instant::now();
    // Waiting out the drain would take `DRAIN`: the wait is longer, so that
    // the assertion below, not a loaded machine, tells the two apart.
    let stopped = tokio::time::timeout(2 * server::DRAIN, server)
        .await
        .expect("stopped after SIGTERM")
        .expect("the server task did not panic");
    assert!(stopped.is_ok(), "{stopped:?}");
    // Well within the drain time: under half of it once the signal is in.
    assert!(
        signalled.elapsed() < server::DRAIN / 2,
        "stopped {:?} after SIGTERM: an idle connection held it",
        signalled.elapsed()
    );
    assert!(sent.elapsed() < server::DRAIN, "{:?}", sent.elapsed());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
