//! The example service's server, in process over real HTTP on 127.0.0.1:
//! a half-sent request's connection is closed after the header-read timeout
//! (and not before), a connection without a request (fresh, or kept alive
//! after a response) after the idle timeout (and not before), and the
//! connection cap holds: with the cap's worth of idle connections open, one
//! more connection is not served until one of them closes.

#[path = "../examples/shared/app.rs"]
mod app;

use cardinality_guard::axum::serve as server;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cardinality_guard::{Config, PrometheusGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for an answer or a close it expects: generous, as
/// a loaded machine may take its time (a test waits this long only when it
/// fails).
const PATIENCE: Duration = Duration::from_secs(60);

/// Starts the example app with `limits` on a free port; runs until the test ends.
async fn start(limits: server::Limits) -> SocketAddr {
    let (_recorder, exporter) = PrometheusGuard::builder(Config::embedded())
        .upkeep_interval(None)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app::router(app::Exposition::Guarded(exporter));
    tokio::spawn(server::serve(listener, app, limits, std::future::pending()));
    addr
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";

/// Reads until the server closes the connection, for at most `limit`:
/// what was read, or `None` when it was still open at the limit.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut got)).await {
        Ok(Ok(_)) => Some(got),
        Ok(Err(_)) => Some(got), // reset: closed too
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_half_sent_request_is_dropped_after_the_header_read_timeout() {
    let timeout = Duration::from_millis(400);
    let addr = start(server::Limits {
        header_read_timeout: timeout,
        ..server::Limits::default()
    })
    .await;

    // A whole request is served.
    let mut whole = TcpStream::connect(addr).await.unwrap();
    whole.write_all(REQUEST).await.unwrap();
    let reply = read_to_close(&mut whole, PATIENCE).await.unwrap();
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );

    // The head without its final empty line: closed after the timeout.
    let started = Instant::now();
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    let closed = read_to_close(&mut half, PATIENCE).await;
    let elapsed = started.elapsed();
    assert!(closed.is_some(), "still open after {PATIENCE:?}");
    assert!(
        !String::from_utf8_lossy(closed.as_deref().unwrap()).contains(" 200 "),
        "a half-sent request is not answered"
    );
    assert!(
        elapsed >= timeout - Duration::from_millis(50),
        "closed after {elapsed:?}, before the {timeout:?} timeout"
    );
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(400);
    let addr = start(server::Limits {
        idle_timeout: idle,
        // Only the idle timeout can close these connections.
        header_read_timeout: Duration::from_secs(600),
        ..server::Limits::default()
    })
    .await;

    // Kept alive after a response: closed, the response delivered whole.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0_u8; 12];
    tokio::time::timeout(PATIENCE, kept.read_exact(&mut head))
        .await
        .expect("served")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let answered = Instant::now();
    let rest = read_to_close(&mut kept, PATIENCE).await;
    let elapsed = answered.elapsed();
    let rest = rest.unwrap_or_else(|| panic!("kept alive and idle for over {PATIENCE:?}"));
    assert!(
        String::from_utf8_lossy(&rest).contains("example service"),
        "the whole response came before the close"
    );
    assert!(
        elapsed >= idle - Duration::from_millis(50),
        "closed after {elapsed:?}, before the {idle:?} idle timeout"
    );

    // Opened, and nothing sent: closed too.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let closed = read_to_close(&mut silent, PATIENCE).await;
    let elapsed = opened.elapsed();
    assert_eq!(closed, Some(Vec::new()), "closed without a word");
    assert!(
        elapsed >= idle - Duration::from_millis(50),
        "closed after {elapsed:?}, before the {idle:?} idle timeout"
    );
}

#[tokio::test]
async fn beyond_the_connection_cap_new_connections_wait() {
    const CAP: usize = 4;
    let addr = start(server::Limits {
        max_connections: CAP,
        // The idle connections below stay until the test closes one.
        idle_timeout: Duration::from_secs(600),
        header_read_timeout: Duration::from_secs(600),
        ..server::Limits::default()
    })
    .await;

    // Each idle connection proves it is served before the next one opens.
    let mut idle = Vec::new();
    for _ in 0..CAP {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0_u8; 12];
        tokio::time::timeout(PATIENCE, stream.read_exact(&mut head))
            .await
            .expect("served")
            .unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        idle.push(stream); // kept alive, idle
    }

    // The cap is reached: one more connection (and a flood behind it) gets
    // no answer, however long it waits here.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    extra.write_all(REQUEST).await.unwrap();
    let mut flood = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(REQUEST).await.unwrap();
        flood.push(stream);
    }
    assert_eq!(
        read_to_close(&mut extra, Duration::from_millis(500)).await,
        None,
        "served beyond the cap of {CAP}"
    );

    // One idle connection closes: the waiting one is served.
    drop(idle.pop());
    let reply = read_to_close(&mut extra, PATIENCE)
        .await
        .expect("served once a slot is free");
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}
