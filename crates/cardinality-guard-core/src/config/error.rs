//! Configuration errors that say where the problem is: file, line and key.

use std::fmt;
use std::path::Path;

/// A configuration that could not be loaded.
///
/// It names the file (or `<embedded>`, `<string>`), the line when one is
/// known, and the key in dotted form (`metrics[1].max_series`), followed by
/// what is wrong. Nothing is ever silently defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    line: Option<usize>,
    key: Option<String>,
    kind: ErrorKind,
    message: String,
}

/// What kind of problem a [`ConfigError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The text is not valid TOML, or a value has the wrong type.
    Syntax,
    /// A key that the schema does not know.
    UnknownKey,
    /// A value of the right type that is not allowed (zero budget, unsorted buckets, ...).
    InvalidValue,
}

impl ConfigError {
    pub(crate) fn new(
        origin: &str,
        line: Option<usize>,
        key: Option<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            origin: origin.to_owned(),
            line,
            key,
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, err: &std::io::Error) -> Self {
        ConfigError::new(
            &path.display().to_string(),
            None,
            None,
            ErrorKind::Io,
            format!("cannot read the config file: {err}"),
        )
    }

    /// The file the error is in (`<embedded>` or `<string>` when there is no file).
    pub fn file(&self) -> &str {
        &self.origin
    }

    /// The line (1-based), when one is known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The offending key in dotted form, e.g. `metrics[1].max_series`.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The kind of problem.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}
