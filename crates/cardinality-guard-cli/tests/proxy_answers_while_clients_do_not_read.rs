//! Clients that ask the proxy for `/metrics` and never read. Each answer
//! here is about 10 MB (47,500 admitted series with long label values);
//! without a bound, every such client kept its own copy in memory until the
//! write timeout closed its connection, and scrapes went on being made for
//! each of them. With the bound, at most 4 answers exist at once: the other
//! requests wait, and the upstream is fetched no more. Once the clients go,
//! a scrape is answered again.
//!
//! `--write-timeout` is set far beyond the test, so nothing but the bound
//! holds the count (it does not depend on how fast this machine is). The
//! clients advertise a 536-byte MSS and a 4 KiB receive buffer, so the
//! kernel can't take an answer off the proxy's hands.

#![cfg(unix)] // TCP_MAXSEG

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use support::eventually;
use support::upstream::{ProxyProc, Reply, Upstream, PROMETHEUS};

/// Metrics of the upstream, and label sets of each (within the embedded
/// default's budgets: 2,000 per metric, 50,000 in all).
const METRICS: usize = 25;
const LABEL_SETS: usize = 1_900;
/// Clients that never read.
const CLIENTS: usize = 12;

fn big_body() -> Vec<u8> {
    let pad = "x".repeat(190);
    let mut text = String::new();
    for m in 0..METRICS {
        text.push_str(&format!("# TYPE big_{m} gauge\n"));
        for i in 0..LABEL_SETS {
            text.push_str(&format!("big_{m}{{id=\"{i:05}{pad}\"}} {i}\n"));
        }
    }
    text.into_bytes()
}

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

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn at_most_four_answers_exist_while_clients_do_not_read() {
    let upstream = Upstream::start(Reply::Body(200, PROMETHEUS, big_body()));
    let proxy = ProxyProc::start(&upstream.url(), &["--write-timeout", "1h"]);
    let first = proxy.scrape();
    let answer_bytes = first.text.len();
    assert!(answer_bytes > 8 << 20, "an answer of {answer_bytes} bytes");
    assert_eq!(first.sum("big_0"), (0..LABEL_SETS).sum::<usize>() as f64);
    assert_eq!(upstream.requests(), 1);
    let rss_after_one = peak_rss_kib(proxy.child.id());

    let clients: Vec<Socket> = (0..CLIENTS)
        .map(|_| non_reading_client(proxy.addr))
        .collect();
    // Four of them get an answer, each made by a fetch of the upstream.
    let fetched = eventually(Duration::from_secs(120), || {
        (upstream.requests() == 5).then_some(())
    });
    assert!(fetched.is_some(), "{} fetches", upstream.requests());
    // The other eight wait: however long, no answer is made for them while
    // the four are not taken (their write timeout is an hour).
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(upstream.requests(), 5, "a fifth answer was made");
    }
    let rss_held = peak_rss_kib(proxy.child.id());
    println!(
        "answers of {:.1} MiB; peak RSS {} MiB after one scrape, {} MiB with {CLIENTS} clients not reading",
        answer_bytes as f64 / (1 << 20) as f64,
        rss_after_one / 1024,
        rss_held / 1024
    );

    // The clients go: their answers are dropped, and a scrape is answered.
    drop(clients);
    let answered = eventually(Duration::from_secs(120), || {
        let (status, text) = proxy.get("/metrics");
        (status == 200).then_some(text)
    });
    let text = answered.expect("a scrape answered once the clients went");
    assert!(text.len() > 8 << 20);
}
