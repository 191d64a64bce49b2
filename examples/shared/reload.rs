//! Reloading the guard's config file on SIGHUP, without a restart. A file
//! that can't load (or a change that needs a restart) leaves the running
//! config in force; the error, with file, line and key, goes to stderr, and
//! the self-report's `cardinality_guard_config_last_reload_successful`
//! turns 0 until a reload succeeds.
//!
//! The file is read, and the reload applied, on a thread of its own: never
//! on one of the runtime's workers, which serve HTTP. A read that waits
//! (a config path on a hung network mount) then stalls only the next
//! reloads, not the requests, nor a shutdown.
#![allow(dead_code)] // each includer uses a part
#![allow(unreachable_pub)] // `pub` for the examples, benches and tests that include this file

use std::path::PathBuf;

use cardinality_guard::{PrometheusGuard, ReloadError};

/// Reloads `path` into `exporter` at every SIGHUP, from now on (the handler
/// is installed before this returns, so a signal sent right after is not
/// lost). Without a file (the embedded config), a SIGHUP is answered with a
/// note, not the default action (which would end the process). One reload
/// at a time: signals that come during one are answered by one more after
/// it. Runs until the runtime stops.
///
/// # Errors
/// When the signal handler can't be installed.
#[cfg(unix)]
pub fn reload_on_sighup(
    exporter: PrometheusGuard,
    path: Option<PathBuf>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};

    let mut hangups = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(path) = &path else {
                eprintln!("SIGHUP: no --config file to reload (the embedded config stays)");
                continue;
            };
            match reload_off_the_runtime(&exporter, path).await {
                Ok(()) => eprintln!("config reloaded from {}", path.display()),
                Err(e) => eprintln!("error: {e}; the running config stays"),
            }
        }
    }))
}

/// `exporter.reload_file(path)` on a thread of its own, awaited. Not
/// `spawn_blocking`: the runtime waits for its blocking tasks when it
/// shuts down, so a read that never returns would hold SIGTERM up; a
/// detached thread doesn't.
async fn reload_off_the_runtime(
    exporter: &PrometheusGuard,
    path: &std::path::Path,
) -> Result<(), String> {
    let (done, outcome) = tokio::sync::oneshot::channel::<Result<(), ReloadError>>();
    let (exporter, path) = (exporter.clone(), path.to_owned());
    std::thread::Builder::new()
        .name("config-reload".into())
        .spawn(move || {
            let _ = done.send(exporter.reload_file(&path));
        })
        .map_err(|e| format!("config not reloaded: no thread to read it on: {e}"))?;
    match outcome.await {
        Ok(reloaded) => reloaded.map_err(|e| e.to_string()),
        Err(_) => Err("config not reloaded: the reload panicked".into()),
    }
}
