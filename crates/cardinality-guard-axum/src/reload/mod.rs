//! Reloading the guard's config file in a running app, without a restart:
//! on `SIGHUP` ([`reload_on_sighup`], Unix) or, when opted in, on a `POST`
//! to the report endpoint
//! ([`ReportEndpoint::with_reload_on_post`](crate::ReportEndpoint::with_reload_on_post)).
//!
//! ```no_run
//! # #[cfg(unix)]
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use cardinality_guard_core::{Config, PrometheusGuard};
//!
//! let exporter = PrometheusGuard::builder(Config::from_file("guard.toml")?).install()?;
//! cardinality_guard_axum::reload_on_sighup("guard.toml", exporter.guard().clone())?;
//! // ... serve the app; `kill -HUP <pid>` reloads guard.toml.
//! # Ok(())
//! # }
//! # #[cfg(not(unix))]
//! # fn main() {}
//! ```
//!
//! Both read the file, and apply it, on a thread of their own, never on one
//! of the runtime's workers (which serve HTTP): a read that waits (a config
//! path on a hung network mount) stalls only the reloads, not the requests.
//! Not `spawn_blocking`: a runtime waits for its blocking tasks when it shuts
//! down, so a read that never returns would hold a graceful shutdown up; a
//! thread of its own is left behind. The core's
//! [`reload_file`](cardinality_guard_core::GuardHandle::reload_file) never
//! waits on a FIFO and refuses anything but a small regular file.
//!
//! A file that can't load (or a change that needs a restart) leaves the
//! running config in force: the outcome is logged with `tracing` (`info` when
//! it applied, naming the sections that changed; `warn` with the error, which
//! names file, line and key, when it did not), and the self-report's
//! `cardinality_guard_config_last_reload_successful` says 1 or 0.

#[cfg(unix)]
mod sighup;

#[cfg(unix)]
pub use sighup::{ignore_sighup, reload_on_sighup};

use std::path::{Path, PathBuf};

use cardinality_guard_core::{Config, GuardHandle, ReloadError};

/// How one reload went.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The file applied; the `[sections]` that differ from the config it
    /// replaced (none: the same config again).
    Reloaded { changed: Vec<&'static str> },
    /// The guard refused it (a bad file, a change that needs a restart, no
    /// guard yet): the running config stays.
    Refused(ReloadError),
    /// The reload could not run (no thread to run it on, or it panicked):
    /// the running config stays.
    Failed(String),
}

impl Outcome {
    /// Logs the outcome of reloading `path` on `trigger` (`SIGHUP`, `POST`).
    pub(crate) fn log(&self, path: &Path, trigger: &str) {
        let file = path.display();
        match self {
            Outcome::Reloaded { changed } if changed.is_empty() => tracing::info!(
                trigger,
                "cardinality guard: config reloaded from {file}: unchanged"
            ),
            Outcome::Reloaded { changed } => tracing::info!(
                trigger,
                "cardinality guard: config reloaded from {file}: {} changed",
                changed.join(", ")
            ),
            // The guard warned already (a file's error names file, line and key).
            Outcome::Refused(e) => tracing::debug!(
                trigger,
                "cardinality guard: reloading {file}: {e}; the running config stays"
            ),
            Outcome::Failed(e) => tracing::error!(
                trigger,
                "cardinality guard: reloading {file}: {e}; the running config stays"
            ),
        }
    }
}

/// `guard.reload_file(path)` on a thread of its own (see the module docs),
/// awaited; with the sections it changed. `held` (a permit) is dropped once the
/// reload is done, before its answer is sent (and even if the caller
/// stopped waiting).
pub(crate) async fn reload_off_the_runtime(
    guard: &GuardHandle,
    path: PathBuf,
    held: impl Send + 'static,
) -> Outcome {
    let (done, outcome) = tokio::sync::oneshot::channel();
    let guard = guard.clone();
    // The guard's own warnings (a refused file) go where the caller's go,
    // a subscriber set for this thread only included.
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let spawned = std::thread::Builder::new()
        .name("config-reload".into())
        .spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let before = guard.config();
                let reloaded = guard.reload_file(&path);
                let outcome = reloaded.map(|()| changed_sections(&before, &guard.config()));
                // Released before the answer goes out: a client that sends its
                // next request on the answer never finds this reload still held.
                drop(held);
                let _ = done.send(outcome);
            });
        });
    if let Err(e) = spawned {
        return Outcome::Failed(format!("config not reloaded: no thread to read it on: {e}"));
    }
    match outcome.await {
        Ok(Ok(changed)) => Outcome::Reloaded { changed },
        Ok(Err(e)) => Outcome::Refused(e),
        Err(_) => Outcome::Failed("config not reloaded: the reload panicked".into()),
    }
}

/// The sections of `after` that differ from `before`, in file order.
fn changed_sections(before: &Config, after: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if before.global != after.global || before.global_labels != after.global_labels {
        changed.push("[global]");
    }
    if before.defaults != after.defaults {
        changed.push("[defaults]");
    }
    if before.histograms != after.histograms {
        changed.push("[histograms]");
    }
    if before.metrics != after.metrics {
        changed.push("[[metrics]]");
    }
    changed
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::{changed_sections, reload_off_the_runtime, Outcome};
    use cardinality_guard_core::{Config, GuardLayer, PrometheusGuard, ReloadError};

    /// What `log` writes at `WARN` and above, with the guard's own warnings.
    fn warnings(log: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
        text
    }

    /// A scratch dir named after `tag` holding `guard.toml` with `text`:
    /// the dir and the file's path.
    fn config_file(tag: &str, text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cg-reload-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("guard.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn every_refusal_is_said_once_at_warn() {
        let (dir, path) = config_file("warn", "[defaults]\nmax_series = 0\n");
        let runtime = runtime();
        // A guard layer that wraps no recorder yet: refused before any
        // config is read, and said all the same.
        let unbuilt = GuardLayer::new(Config::embedded()).handle();
        let said = warnings(|| {
            let outcome = runtime.block_on(reload_off_the_runtime(&unbuilt, path.clone(), ()));
            assert!(matches!(outcome, Outcome::Refused(ReloadError::NotBuilt)));
            outcome.log(&path, "SIGHUP");
        });
        assert_eq!(said.matches("WARN").count(), 1, "{said}");
        assert!(said.contains("has not wrapped a recorder"), "{said}");
        // A file that can't load: the guard says it, naming file and line.
        let (_recorder, exporter) = PrometheusGuard::builder(Config::embedded())
            .upkeep_interval(None)
            .build()
            .unwrap();
        let said = warnings(|| {
            let outcome =
                runtime.block_on(reload_off_the_runtime(exporter.guard(), path.clone(), ()));
            assert!(matches!(outcome, Outcome::Refused(ReloadError::Config(_))));
            outcome.log(&path, "SIGHUP");
        });
        assert_eq!(said.matches("WARN").count(), 1, "{said}");
        assert!(said.contains("guard.toml:2"), "{said}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn changed_sections_name_what_differs() {
        let base = Config::embedded();
        assert!(changed_sections(&base, &base.clone()).is_empty());
        let other = Config::from_toml(
            "[defaults]\nmax_series = 7\n[[metrics]]\nmatch = \"a_total\"\nmax_series = 3\n",
            "guard.toml",
        )
        .unwrap();
        assert_eq!(
            changed_sections(&base, &other),
            ["[defaults]", "[[metrics]]"]
        );
        let global = Config::from_toml("[global]\nmax_metrics = 9\n", "guard.toml").unwrap();
        assert_eq!(changed_sections(&base, &global), ["[global]"]);
    }

    /// Sets its flag when dropped, slowly: a release after the answer
    /// would not have happened yet when the answer is read.
    struct SlowRelease(Arc<AtomicBool>);

    impl Drop for SlowRelease {
        fn drop(&mut self) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn what_a_reload_holds_is_released_before_its_answer() {
        let (_recorder, exporter) = PrometheusGuard::builder(Config::embedded())
            .upkeep_interval(None)
            .build()
            .unwrap();
        let (dir, path) = config_file("release", "[defaults]\nmax_series = 7\n");
        let runtime = runtime();
        let released = Arc::new(AtomicBool::new(false));
        let held = SlowRelease(released.clone());
        let outcome = runtime.block_on(reload_off_the_runtime(exporter.guard(), path, held));
        assert!(matches!(outcome, Outcome::Reloaded { .. }));
        // The next request sent on this answer finds the permit free.
        assert!(released.load(Ordering::SeqCst));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
