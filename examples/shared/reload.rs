//! Reloading the guard's config file on SIGHUP, without a restart. A file
//! that can't load (or a change that needs a restart) leaves the running
//! config in force; the error, with file, line and key, goes to stderr, and
//! the self-report's `cardinality_guard_config_last_reload_successful`
//! turns 0 until a reload succeeds.
#![allow(dead_code)] // each includer uses a part
#![allow(unreachable_pub)] // `pub` for the examples, benches and tests that include this file

use std::path::PathBuf;

use cardinality_guard::PrometheusGuard;

/// Reloads `path` into `exporter` at every SIGHUP, from now on (the handler
/// is installed before this returns, so a signal sent right after is not
/// lost). Without a file (the embedded config), a SIGHUP is answered with a
/// note, not the default action (which would end the process). Runs until
/// the runtime stops.
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
            match exporter.reload_file(path) {
                Ok(()) => eprintln!("config reloaded from {}", path.display()),
                Err(e) => eprintln!("error: {e}; the running config stays"),
            }
        }
    }))
}
