//! The attack of issue 19 on the reload path: the example service's
//! `--config` path is swapped between a regular file and a FIFO while
//! SIGHUPs come. A reload that met the FIFO used to block in `open()` on
//! the runtime's thread, and the service stopped answering HTTP until a
//! writer opened the FIFO. Now the open never waits, the FIFO is refused,
//! and the reload runs off the runtime (`cardinality_guard::axum::reload_on_sighup`,
//! as the example service calls it): every
//! request is answered, and a reload after the storm still works.
//!
//! The service runs on a current-thread runtime of its own thread (one
//! blocked call there stops it all), and this test talks to it with
//! blocking sockets that have timeouts, so a stalled service fails the
//! test instead of hanging it. Its own test binary: the signals go to this
//! process.

#![cfg(unix)]

#[path = "../examples/shared/app.rs"]
mod app;

use cardinality_guard::axum::serve as server;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cardinality_guard::{Config, PrometheusGuard};

/// SIGHUPs sent while the path flips.
const HANGUPS: usize = 150;
/// How long a request may take before the service counts as stalled:
/// generous, as a loaded machine may take its time.
const PATIENCE: Duration = Duration::from_secs(20);

fn hangup() {
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -HUP {}", std::process::id())])
        .status()
        .expect("sh runs");
    assert!(sent.success());
}

/// `GET path`, answered within [`PATIENCE`]: the whole response, or `None`.
fn get(service: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&service, PATIENCE).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    stream.set_write_timeout(Some(PATIENCE)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    Some(reply)
}

/// The example service, on a current-thread runtime of its own thread,
/// reloading `path` on SIGHUP; its address and its guard.
fn start_service(path: PathBuf) -> (SocketAddr, PrometheusGuard) {
    let config = Config::from_file(&path).unwrap();
    let (_recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let guard = exporter.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let _reloads =
                cardinality_guard::axum::reload_on_sighup(path, exporter.guard().clone()).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _ = tx.send(listener.local_addr().unwrap());
            let app = app::router(app::Exposition::Guarded(exporter));
            let limits = server::Limits::default();
            server::serve(listener, app, limits, std::future::pending()).await
        })
    });
    (rx.recv().expect("the service starts"), guard)
}

/// Points `path` at `target`, atomically (a hard link, then a rename).
fn point(path: &Path, target: &Path) {
    let next = path.with_extension("next");
    let _ = std::fs::remove_file(&next);
    std::fs::hard_link(target, &next).unwrap();
    std::fs::rename(&next, path).unwrap();
}

#[test]
fn sighups_while_the_config_path_flips_to_a_fifo_never_stop_http() {
    let dir = std::env::temp_dir().join(format!("cg-sighup-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let regular = dir.join("regular.toml");
    std::fs::write(&regular, "[defaults]\nmax_series = 7\n").unwrap();
    let fifo = dir.join("fifo.toml");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let path = dir.join("guard.toml");
    point(&path, &regular);
    let (service, guard) = start_service(path.clone());

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, path, regular, fifo) =
            (stop.clone(), path.clone(), regular.clone(), fifo.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                point(&path, &fifo);
                point(&path, &regular);
            }
        })
    };
    let mut stalled = None;
    for round in 0..HANGUPS {
        hangup();
        let reply = get(service, "/");
        if !reply.is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            stalled = Some(round);
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    if let Some(round) = stalled {
        // Let a blocked open go (a writer comes), then fail.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
        panic!("no answer within {PATIENCE:?} after SIGHUP {round} (path flipping to a FIFO)");
    }

    // The reloads still work: a new file, reloaded, is in force.
    let fixed = dir.join("fixed.toml");
    std::fs::write(&fixed, "[defaults]\nmax_series = 9\n").unwrap();
    point(&path, &fixed);
    let max_series = || guard.guard().config().defaults.max_series.get();
    for _ in 0..200 {
        hangup();
        std::thread::sleep(Duration::from_millis(100));
        if max_series() == 9 {
            break;
        }
    }
    assert_eq!(max_series(), 9, "a reload after the storm applies");
    assert!(get(service, "/").is_some_and(|r| r.starts_with("HTTP/1.1 200")));
    std::fs::remove_dir_all(&dir).unwrap();
}
