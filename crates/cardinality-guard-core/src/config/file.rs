//! Reading a config file: a regular file of bounded size, or a clear error
//! naming it (never a read that blocks on a FIFO or runs on `/dev/zero`).

use std::io::Read;
use std::path::Path;

use super::{ConfigError, MAX_CONFIG_FILE_BYTES};

/// The text of the config file at `path`.
pub(super) fn read(path: &Path) -> Result<String, ConfigError> {
    // Checked before opening: opening a FIFO blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::io(path, e))?;
    check(path, &meta)?;
    let file = std::fs::File::open(path).map_err(|e| ConfigError::io(path, e))?;
    // Checked again on what was opened, in case the path changed meanwhile.
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
