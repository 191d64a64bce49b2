//! The proxy's server: the guard, the state per input, and the routes
//! (`/metrics`, `/debug/cardinality`), on a Tokio runtime of its own.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cardinality_guard_axum::serve::{self as http_server, shutdown_signal, Limits};
use cardinality_guard_axum::ReportEndpoint;
use cardinality_guard_core::{Clock, Config, Ingest, PrometheusGuard};

use tokio::sync::Semaphore;

use super::answer::{Answer, IN_FLIGHT};
use super::failure::{Failure, Reason};
use super::feed;
use super::fetch::fetch;
use super::inputs::Inputs;
use super::own_lines::{self, Counts};
use super::ProxyArgs;
use crate::deadline::Deadline;

/// The content type of the proxy's `/metrics`.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything a scrape needs, one scrape at a time.
struct Proxy {
    upstream: String,
    timeout: Duration,
    max_bytes: u64,
    exporter: PrometheusGuard,
    ingest: Ingest,
    state: Mutex<(Inputs<Ingest>, Counts)>,
    /// Permits for the answers in memory at once ([`answer`](super::answer)).
    answers: Arc<Semaphore>,
}

impl Proxy {
    /// Fetches, checks and applies the upstream, and renders; or why not.
    fn scrape(&self) -> Result<String, Failure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (inputs, counts) = &mut *state;
        let deadline = Deadline::after(self.timeout);
        let checked = fetch(&self.upstream, self.max_bytes, deadline)
            .and_then(|body| feed::check(&body.text, body.format, deadline).map(|()| body));
        let body = match checked {
            Ok(body) => body,
            Err(failure) => {
                counts.failures[failure.reason.index()] += 1;
                // On stderr too: while the upstream fails, the 503 hides
                // the self-report that counts it.
                tracing::warn!(reason = failure.reason.label(), "{failure}");
                return Err(failure);
            }
        };
        inputs.begin();
        feed::feed(&body.text, body.format, inputs, &self.ingest);
        drop(body);
        counts.forgotten += inputs.forget_stale() as u64;
        counts.scrapes += 1;
        let mut text = self.exporter.render();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let tracked = own_lines::Tracked {
            inputs: inputs.len(),
            bytes: inputs.bytes(),
            untracked: inputs.untracked(),
            duplicates: inputs.duplicates(),
            unusable: inputs.unusable(),
        };
        own_lines::write(&mut text, counts, &tracked);
        Ok(text)
    }
}

async fn metrics(State(proxy): State<Arc<Proxy>>) -> Response {
    let permit = proxy
        .answers
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    // The permit goes with the scrape and comes back with its text: a
    // client that hangs up drops this handler, not the scrape under way,
    // which must keep its permit until it is done (else each client that
    // hangs up would queue one more fetch of the upstream).
    let answer = tokio::task::spawn_blocking(move || (proxy.scrape(), permit)).await;
    match answer {
        Ok((Ok(text), permit)) => (
            [(header::CONTENT_TYPE, EXPOSITION)],
            Body::new(Answer::new(text, permit)),
        )
            .into_response(),
        Ok((Err(failure), _)) => unavailable(&failure),
        Err(_) => unavailable(&Failure::new(Reason::Parse, "the scrape panicked")),
    }
}

fn unavailable(failure: &Failure) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{failure}\n"),
    )
        .into_response()
}

/// Builds the guard and serves until `SIGTERM` or `Ctrl-C`.
pub(super) fn serve(args: &ProxyArgs) -> Result<(), String> {
    if !crate::http::is_http_url(&args.upstream) {
        return Err(format!(
            "--upstream {:?}: expected an http:// or https:// URL",
            crate::http::redacted(&args.upstream)
        ));
    }
    let bare_port = args.listen.strip_prefix(':');
    if let Some(port) = bare_port.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "--listen {}: give a host too: 0.0.0.0:{port} (every interface) or 127.0.0.1:{port}",
            args.listen
        ));
    }
    let config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::embedded(),
    };
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .build()
        .map_err(|e| e.to_string())?;
    let max_inputs = usize::try_from(args.max_inputs).unwrap_or(usize::MAX);
    let inputs = Inputs::new(Clock::system(), args.staleness, max_inputs);
    let proxy = Arc::new(Proxy {
        upstream: args.upstream.clone(),
        timeout: args.timeout,
        max_bytes: args.max_bytes,
        ingest: recorder.ingest(),
        state: Mutex::new((inputs, Counts::default())),
        answers: Arc::new(Semaphore::new(IN_FLIGHT)),
        exporter,
    });
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no runtime: {e}"))?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| format!("--listen {}: {e}", args.listen))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        // SIGHUP reloads --config; without one it is noted (its default
        // action would end the proxy: `kill -HUP $(pidof cardinality-guard)`
        // reaches every proxy on the machine).
        #[cfg(unix)]
        match &args.config {
            Some(path) => cardinality_guard_axum::reload_on_sighup(
                path.clone(),
                proxy.exporter.guard().clone(),
            ),
            None => cardinality_guard_axum::ignore_sighup(),
        }
        .map_err(|e| format!("SIGHUP: {e}"))?;
        let app = Router::new()
            .route("/metrics", get(metrics))
            .with_state(proxy.clone())
            .merge(ReportEndpoint::new(proxy.exporter.guard().clone()).router());
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "listening on {bound}");
        let _ = stdout.flush();
        let limits = Limits {
            header_read_timeout: args.header_read_timeout,
            write_timeout: args.write_timeout,
            idle_timeout: args.idle_timeout,
            max_connections: args.max_connections as usize,
        };
        http_server::serve(listener, app, limits, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}
