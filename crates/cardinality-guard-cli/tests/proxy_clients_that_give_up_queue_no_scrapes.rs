//! Clients that ask the proxy for `/metrics` and hang up before the answer
//! (a scrape timeout, a `curl` stopped) against a slow upstream. Each
//! request takes one of the 4 permits for answers in flight; a permit
//! released when the request's handler is dropped, while its scrape (a
//! blocking task) still waits for the state or the upstream, let every
//! client that hung up leave one more scrape queued: each a full fetch of
//! the upstream, made one after the other, ahead of the next real scrape.
//! The permit has to be held until the scrape is done.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use support::upstream::{ProxyProc, Reply, Upstream, PROMETHEUS};

/// Clients that hang up.
const CLIENTS: usize = 12;

#[test]
fn clients_that_hang_up_leave_at_most_four_scrapes_queued() {
    // An upstream that answers slowly: the first fetch takes the whole
    // --timeout, and all the scrapes behind it wait. The timeout (the
    // default, 10 s) outlasts the clients' loop (about 2 s) many times
    // over, so that no permit comes back while a client is still there,
    // however busy the machine.
    let upstream = Upstream::start(Reply::Trickle {
        every: Duration::from_millis(10),
        bytes: 1 << 20,
    });
    let proxy = ProxyProc::start(&upstream.url(), &["--timeout", "10s"]);
    for _ in 0..CLIENTS {
        let mut client = TcpStream::connect(proxy.addr).unwrap();
        client
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            .unwrap();
        // Time for its handler to take a permit (or wait for one) and
        // start its scrape; then it hangs up.
        std::thread::sleep(Duration::from_millis(150));
        drop(client);
    }
    upstream.set(Reply::Body(200, PROMETHEUS, b"up 1\n".to_vec()));
    // A real scrape, behind whatever the clients left queued.
    let (status, body) = proxy.get("/metrics");
    assert_eq!(status, 200, "{body}");
    // The slow fetch, at most 3 more scrapes holding the other permits,
    // and this one; without the bound, one fetch per client and this one.
    let fetches = upstream.requests();
    assert!(
        fetches <= 1 + 3 + 1,
        "{fetches} fetches of the upstream for {CLIENTS} clients that hung up and one scrape"
    );
}
