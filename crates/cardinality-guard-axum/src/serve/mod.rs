//! Serving an axum app with the limits a service exposed to a network
//! needs, which `axum::serve` leaves to the caller: a header-read
//! timeout (a half-sent request's connection is closed), a write timeout (a
//! response the client does not take closes its connection), an idle
//! timeout (so does a kept-alive connection without a request), a
//! connection cap (beyond it new connections wait in the listen backlog,
//! unaccepted), and a graceful shutdown on SIGTERM or SIGINT.
//!
//! The example service and `cardinality-guard proxy` serve with it; an app
//! of your own can too:
//!
//! ```no_run
//! # async fn run(app: axum::Router) -> std::io::Result<()> {
//! use cardinality_guard_axum::serve::{serve, shutdown_signal, Limits};
//!
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! serve(listener, app, Limits::default(), shutdown_signal()).await
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

mod deadline;

pub use deadline::Deadlines;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long in-flight requests get to finish after a shutdown signal.
pub const DRAIN: Duration = Duration::from_secs(10);

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A connection whose request head is not complete this long after it
    /// started (or after the previous response) is closed. Default 10 s.
    pub header_read_timeout: Duration,
    /// A response (or each part of a streamed body) that the client has not
    /// taken this long after its first byte was written closes the
    /// connection: a client that does not read can't hold its slot under
    /// the cap. Default 10 s.
    pub write_timeout: Duration,
    /// A connection with no request under way (since it opened, or since
    /// the last response went out) is closed after this. The header-read
    /// timeout also runs from the end of a response, so the shorter of the
    /// two closes an idle kept-alive connection. Default 5 s (Node.js's
    /// keep-alive default).
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog until one
    /// closes. Default 1024.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` (HTTP/1.1) until `shutdown` completes, then
/// stops accepting and gives in-flight requests up to [`DRAIN`] to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        // A permit first: at the cap, connections are not even accepted.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, a connection reset before accept:
                // back off a little and go on, as axum::serve does.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let io = deadline::Deadlines::new(stream, limits.write_timeout, limits.idle_timeout);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
    Ok(())
}

/// Completes at the first SIGTERM or SIGINT (Ctrl-C). The handlers are
/// installed when this is called, not when it is first polled, so a signal
/// that arrives in between is not lost (nor fatal).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    #[cfg(unix)]
    let int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    async move {
        #[cfg(unix)]
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => tokio::signal::ctrl_c().await.unwrap_or(()),
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.unwrap_or(());
    }
}
