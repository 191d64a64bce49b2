//! Reloading on `SIGHUP`, the Unix convention for "read your config again".

use std::io;
use std::path::PathBuf;

use cardinality_guard_core::GuardHandle;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;

use super::reload_off_the_runtime;

/// Reloads the config file at `path` into `guard` at every `SIGHUP`, from
/// now on, and logs each outcome with `tracing` (see the [module
/// docs](crate::reload)). Unix only.
///
/// The signal handler is installed before this returns, so a `SIGHUP` sent
/// right after is not lost; from then on a `SIGHUP` no longer ends the
/// process (the default action). One reload at a time: signals that come
/// during one are answered by one more after it. A file that can't load
/// keeps the running config. The task runs until the runtime stops, or
/// until the returned handle is aborted (which restores nothing: `SIGHUP`
/// is then ignored).
///
/// Call it inside a Tokio runtime with its I/O driver enabled
/// (`#[tokio::main]`, `#[tokio::test]`, or a runtime built with
/// `enable_all`), as `tokio::signal` requires.
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use cardinality_guard_core::{Config, PrometheusGuard};
///
/// let exporter = PrometheusGuard::builder(Config::from_file("guard.toml")?).install()?;
/// cardinality_guard_axum::reload_on_sighup("guard.toml", exporter.guard().clone())?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// When called outside a Tokio runtime, or when the signal handler can't be
/// installed.
///
/// # Panics
/// Inside a runtime built without its I/O driver, as `tokio::signal` does.
pub fn reload_on_sighup(
    path: impl Into<PathBuf>,
    guard: GuardHandle,
) -> io::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let path = path.into();
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(runtime.spawn(async move {
        while hangups.recv().await.is_some() {
            let outcome = reload_off_the_runtime(&guard, path.clone(), ()).await;
            outcome.log(&path, "SIGHUP");
        }
    }))
}

/// For a process that runs without a config file: a `SIGHUP` is noted
/// (`warn`, with `tracing`) instead of ending the process, its default
/// action. A `kill -HUP $(pidof NAME)` meant for a sibling that has a file
/// reaches every process of that name, and a supervisor's "reload" sends
/// `SIGHUP` too: neither should stop a service. Unix only; the same
/// runtime requirements and handle as [`reload_on_sighup`].
///
/// # Errors
/// When called outside a Tokio runtime, or when the signal handler can't be
/// installed.
pub fn ignore_sighup() -> io::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(runtime.spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::warn!("SIGHUP: no config file to reload; the running config stays");
        }
    }))
}
