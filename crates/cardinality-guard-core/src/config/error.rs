//! Configuration errors that say where the problem is: file, line and key.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A configuration that could not be loaded.
///
/// It names the file (or `<embedded>`, `<string>`), the line when one is
/// known, and the key in dotted form (`metrics[1].max_series`), followed by
/// what is wrong. Nothing is ever silently defaulted. An I/O error is its
/// [`source`](std::error::Error::source), as is a [`BucketsError`](super::BucketsError)
/// or a [`PatternError`](super::PatternError) behind an invalid value.
///
/// ```
/// use cardinality_guard_core::{config::ErrorKind, Config};
///
/// let err = Config::from_toml("[[metrics]]\nmatch = \"a\"\nmax_series = 0\n", "guard.toml")
///     .unwrap_err();
/// assert_eq!((err.file(), err.line(), err.key()), ("guard.toml", Some(3), Some("metrics[0].max_series")));
/// assert_eq!(err.kind(), ErrorKind::InvalidValue);
/// assert_eq!(
///     err.to_string(),
///     "guard.toml:3: key `metrics[0].max_series`: a budget must be a positive whole number, got 0"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct ConfigError {
    origin: String,
    line: Option<usize>,
    key: Option<String>,
    kind: ErrorKind,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl PartialEq for ConfigError {
    /// Errors are equal when they say the same (their sources by what they say).
    fn eq(&self, other: &Self) -> bool {
        let source_kind = |e: &Self| e.source.as_ref().map(|s| s.to_string());
        (&self.origin, self.line, &self.key, self.kind, &self.message)
            == (
                &other.origin,
                other.line,
                &other.key,
                other.kind,
                &other.message,
            )
            && source_kind(self) == source_kind(other)
    }
}

impl Eq for ConfigError {}

/// What kind of problem a [`ConfigError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read: missing, unreadable, not a regular
    /// file, or larger than [`MAX_CONFIG_FILE_BYTES`](super::MAX_CONFIG_FILE_BYTES).
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
            source: None,
        }
    }

    /// The file at `path` could not be read: `err` is the source.
    pub(crate) fn io(path: &Path, err: std::io::Error) -> Self {
        let mut error =
            ConfigError::not_readable(path, format!("cannot read the config file: {err}"));
        error.source = Some(Arc::new(err));
        error
    }

    /// Attaches the error behind this one.
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The file at `path` is refused without an I/O error (not a regular
    /// file, too large).
    pub(crate) fn not_readable(path: &Path, message: String) -> Self {
        ConfigError::new(
            &path.display().to_string(),
            None,
            None,
            ErrorKind::Io,
            message,
        )
    }

    /// The file the error is in (`<embedded>` or `<string>` when there is no file).
    #[must_use]
    pub fn file(&self) -> &str {
        &self.origin
    }

    /// The line (1-based), when one is known.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The offending key in dotted form, e.g. `metrics[1].max_series`.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The kind of problem.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What is wrong, without the location.
    #[must_use]
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

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
