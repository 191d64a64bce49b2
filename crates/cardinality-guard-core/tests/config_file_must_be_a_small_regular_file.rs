//! `Config::from_file` reads a regular file of at most 1 MiB. A FIFO, a
//! device or a directory is refused without being read (a FIFO would
//! block, `/dev/zero` would never end), a larger file without being read;
//! the error names the file. What is checked is what was opened, and the
//! open never waits: a path swapped to a FIFO between a check and the open
//! is refused too, at once. An I/O error is the error's `source()`, as
//! is a `BucketsError` or `PatternError` behind an invalid value.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cardinality_guard_core::config::{ErrorKind, MAX_CONFIG_FILE_BYTES};
use cardinality_guard_core::{Config, ConfigError};

/// Makes a named pipe at `path`.
fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// A fresh directory under the system's temp directory.
fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("cg-config-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `from_file(path)`, failing the test if it takes over a minute (a blocked
/// open of a FIFO, an endless read of a device).
fn load(path: &Path) -> Result<Config, ConfigError> {
    let (tx, rx) = mpsc::channel();
    let owned = path.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(Config::from_file(&owned));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("from_file({}) did not return", path.display()))
}

fn assert_refused(path: &Path, fragment: &str) {
    let err = load(path).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(err.file(), path.display().to_string());
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(err.message().contains(fragment), "{err}");
}

#[test]
fn a_device_is_refused_without_reading_it() {
    assert_refused(Path::new("/dev/zero"), "not a regular file");
}

#[test]
fn a_fifo_is_refused_without_reading_it() {
    let dir = temp_dir("fifo");
    let fifo = dir.join("guard.toml");
    mkfifo(&fifo);
    assert_refused(&fifo, "not a regular file");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reload_from_a_fifo_is_refused_and_the_running_config_stays() {
    use cardinality_guard_core::{PrometheusGuard, ReloadError};
    let dir = temp_dir("reload-fifo");
    let fifo = dir.join("guard.toml");
    mkfifo(&fifo);
    let (_recorder, exporter) = PrometheusGuard::builder(Config::default())
        .upkeep_interval(None)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(exporter.reload_file(&path));
    });
    let Ok(outcome) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
        panic!("reload_file({}) blocked for over a minute", fifo.display());
    };
    let err = outcome.expect_err("refused");
    assert!(
        matches!(&err, ReloadError::Config(e) if e.kind() == ErrorKind::Io),
        "{err}"
    );
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert!(
        err.to_string().contains(&fifo.display().to_string()),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The attack of issue 19: the config path swapped between a regular file
/// and a FIFO while it is read, so that a check of the path sees the file
/// and the open meets the FIFO (which blocks until a writer comes, on
/// whatever thread reloads). Every read returns, either the file or a
/// refusal naming the path.
#[test]
fn a_path_swapped_to_a_fifo_while_it_is_read_never_blocks() {
    const READS: usize = 20_000;
    let dir = temp_dir("swap");
    let regular = dir.join("regular.toml");
    std::fs::write(&regular, "[defaults]\nmax_series = 7\n").unwrap();
    let fifo = dir.join("fifo.toml");
    mkfifo(&fifo);
    let path = dir.join("guard.toml");
    std::fs::hard_link(&regular, &path).unwrap();

    // Swaps what `path` names, each swap atomic (a link, then a rename).
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, dir, path) = (stop.clone(), dir.clone(), path.clone());
        let (regular, fifo) = (regular.clone(), fifo.clone());
        std::thread::spawn(move || {
            let next = dir.join("next");
            while !stop.load(Ordering::Relaxed) {
                for target in [&fifo, &regular] {
                    let _ = std::fs::remove_file(&next);
                    std::fs::hard_link(target, &next).unwrap();
                    std::fs::rename(&next, &path).unwrap();
                }
            }
        })
    };
    let (tx, rx) = mpsc::channel();
    {
        let path = path.clone();
        std::thread::spawn(move || {
            let (mut read, mut refused) = (0, 0);
            for _ in 0..READS {
                match Config::from_file(&path) {
                    Ok(config) => {
                        assert_eq!(config.defaults.max_series.get(), 7);
                        read += 1;
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
                        assert!(e.message().contains("not a regular file"), "{e}");
                        assert_eq!(e.file(), path.display().to_string());
                        refused += 1;
                    }
                }
            }
            let _ = tx.send((read, refused));
        });
    }
    let outcome = rx.recv_timeout(Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    let Ok((read, refused)) = outcome else {
        // Let the blocked open go (a writer comes), then fail.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
        panic!("a read of a path swapped to a FIFO blocked for over a minute");
    };
    assert_eq!(read + refused, READS);
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_is_refused() {
    let dir = temp_dir("dir");
    assert_refused(&dir, "a directory");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_over_one_mebibyte_is_refused_and_one_at_the_limit_is_read() {
    let dir = temp_dir("size");
    let big = dir.join("big.toml");
    // Valid TOML (comments), so only the size can refuse it.
    let line = format!("# {}\n", "x".repeat(1021));
    std::fs::write(&big, line.repeat(2 * 1024)).unwrap();
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 2 * 1024 * 1024);
    assert_refused(&big, "larger than 1024 KiB");

    let at_limit = dir.join("at_limit.toml");
    std::fs::write(&at_limit, line.repeat(1024)).unwrap();
    assert_eq!(
        std::fs::metadata(&at_limit).unwrap().len(),
        MAX_CONFIG_FILE_BYTES
    );
    assert_eq!(load(&at_limit).unwrap(), Config::default());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_io_error_is_the_source() {
    let dir = temp_dir("missing");
    let missing = dir.join("nope.toml");
    let err = load(&missing).expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::Io);
    let source = err.source().expect("an io::Error source");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // A refusal without an I/O error has no source; a parse error neither.
    assert!(load(Path::new("/dev/zero")).unwrap_err().source().is_none());
    assert!(Config::from_toml("x = 1", "guard.toml")
        .unwrap_err()
        .source()
        .is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_bucket_list_or_pattern_is_the_source() {
    use cardinality_guard_core::config::{BucketsError, PatternError};
    let err = Config::from_toml("[histograms]\nbuckets = [2, 1]\n", "guard.toml").unwrap_err();
    let buckets = err.source().and_then(|s| s.downcast_ref::<BucketsError>());
    assert_eq!(
        buckets,
        Some(&BucketsError::NotIncreasing {
            before: 2.0,
            after: 1.0
        }),
        "{err}"
    );
    let err = Config::from_toml("[[metrics]]\nmatch = \"a*b\"\n", "guard.toml").unwrap_err();
    assert!(
        err.source()
            .is_some_and(|s| s.downcast_ref::<PatternError>().is_some()),
        "{err}"
    );
}
