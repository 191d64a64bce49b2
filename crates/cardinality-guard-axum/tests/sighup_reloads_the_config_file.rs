//! `reload_on_sighup`: each SIGHUP reloads the config file into the guard
//! and logs the outcome (`info` naming what changed; `warn` with the error,
//! the running config kept, the self-report's
//! `cardinality_guard_config_last_reload_successful` 0).
//!
//! Its own test binary: the signals go to this process. The reload task
//! runs on this test's current-thread runtime, so its log lines go to the
//! thread-local subscriber below. Bounded waits: a deadline, never a sleep
//! that the assertion depends on.

#![cfg(unix)]

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cardinality_guard_axum::reload_on_sighup;
use cardinality_guard_core::PrometheusGuard;
use support::{guarded, wait_for};

/// How long a SIGHUP may take to apply, on a busy machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self, level: &str, containing: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(level) && l.contains(containing))
            .map(str::to_owned)
            .collect()
    }
}

fn hangup() {
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

fn write(path: &Path, max_series: &str) {
    std::fs::write(path, format!("[defaults]\nmax_series = {max_series}\n")).unwrap();
}

fn budget(exporter: &PrometheusGuard) -> u64 {
    exporter.guard().config().defaults.max_series.get()
}

/// Sends one SIGHUP (the handler is installed when `reload_on_sighup`
/// returns, and the file is written before) and waits until `done` holds.
async fn hangup_until(done: impl Fn() -> bool) -> bool {
    hangup();
    wait_for(PATIENCE, || async { done().then_some(()) })
        .await
        .is_some()
}

#[tokio::test]
async fn each_sighup_reloads_the_file_and_logs_the_outcome() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _logs = tracing::subscriber::set_default(subscriber);

    let dir = std::env::temp_dir().join(format!("cg-axum-sighup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("guard.toml");
    write(&path, "100");
    let (_recorder, exporter) = guarded("[defaults]\nmax_series = 100\n");
    let task = reload_on_sighup(&path, exporter.guard().clone()).unwrap();

    // A good file applies, and the log names what changed.
    write(&path, "7");
    assert!(hangup_until(|| budget(&exporter) == 7).await);
    let reloaded = wait_for(PATIENCE, || async {
        let lines = captured.lines("INFO", "config reloaded");
        (!lines.is_empty()).then_some(lines)
    })
    .await
    .expect("the reload is logged");
    assert!(reloaded[0].contains("[defaults] changed"), "{reloaded:?}");
    assert!(reloaded[0].contains("guard.toml"), "{reloaded:?}");

    // A bad one keeps the running config, and says why.
    std::fs::write(&path, "[defaults]\nmax_series = 0\n").unwrap();
    let refused = hangup_until(|| !captured.lines("WARN", "running config stays").is_empty());
    assert!(refused.await, "the refusal is logged");
    let warning = &captured.lines("WARN", "running config stays")[0];
    assert!(warning.contains("guard.toml:2"), "file and line: {warning}");
    assert!(warning.contains("max_series"), "the key: {warning}");
    assert_eq!(
        warning.matches("config not reloaded").count(),
        1,
        "said once: {warning}"
    );
    assert_eq!(budget(&exporter), 7);
    let text = exporter.render();
    assert!(
        text.contains("cardinality_guard_config_last_reload_successful 0"),
        "{text}"
    );

    // Fixed again.
    write(&path, "9");
    assert!(hangup_until(|| budget(&exporter) == 9).await);
    task.abort();
    std::fs::remove_dir_all(&dir).unwrap();
}
