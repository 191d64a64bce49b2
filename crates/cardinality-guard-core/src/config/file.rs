//! Reading a config file: a regular file of bounded size, or a clear error
//! naming it (never an open that waits on a FIFO, nor a read that runs on
//! `/dev/zero`).
//!
//! The file is opened first and what was opened is checked (`fstat` on the
//! handle), so a path swapped between a check and the open can't slip a
//! FIFO or a device through. On Unix the open is non-blocking
//! (`O_NONBLOCK`): opening a FIFO without a writer returns at once instead
//! of waiting for one, and the check then refuses it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{ConfigError, MAX_CONFIG_FILE_BYTES};

/// The text of the config file at `path`: at most [`MAX_CONFIG_FILE_BYTES`]
/// are read (one more tells a larger file).
pub(super) fn read(path: &Path) -> Result<String, ConfigError> {
    let file = open(path).map_err(|e| ConfigError::io(path, e))?;
    let meta = file.metadata().map_err(|e| ConfigError::io(path, e))?;
    check(path, &meta)?;
    let mut text = String::new();
    file.take(MAX_CONFIG_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| ConfigError::io(path, e))?;
    if text.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(too_large(path));
    }
    Ok(text)
}

/// Opens `path` for reading without waiting: `O_NONBLOCK` makes opening a
/// FIFO return at once (on a regular file, reads ignore it).
#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Opens `path` for reading (Windows has no FIFOs in the file system).
#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

fn check(path: &Path, meta: &std::fs::Metadata) -> Result<(), ConfigError> {
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device?)"
        };
        return Err(ConfigError::not_readable(
            path,
            format!("cannot read the config file: it is {what}"),
        ));
    }
    if meta.len() > MAX_CONFIG_FILE_BYTES {
        return Err(too_large(path));
    }
    Ok(())
}

fn too_large(path: &Path) -> ConfigError {
    ConfigError::not_readable(
        path,
        format!(
            "cannot read the config file: it is larger than {} KiB (1 MiB)",
            MAX_CONFIG_FILE_BYTES / 1024
        ),
    )
}
