//! Why an exposition could not be read, said in a line that quotes at most
//! a few hundred bytes of what was read.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::deadline::duration_text;
use cardinality_guard_core::text::ParseError;

/// At most this many bytes of a malformed line are quoted in its error.
const QUOTED_BYTES: usize = 300;

/// Why an exposition could not be read: exit status 2.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The file or stdin could not be read, or the request failed.
    Io(String),
    /// The server answered with an error status.
    Status(u16),
    /// The body is longer than the cap.
    TooLarge(u64),
    /// A line is longer than the cap.
    LineTooLong {
        /// Its number (1-based).
        line: usize,
        /// The cap, in bytes.
        limit: u64,
    },
    /// Reading and parsing took longer than the timeout.
    TimedOut(Duration),
    /// The URL redirects to another scheme, host or port (not followed
    /// without `--follow-redirects`).
    Redirect {
        /// Where to.
        to: String,
    },
    /// A malformed line.
    Parse(ParseError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => f.write_str(e),
            ReadError::Status(code) => write!(f, "the server answered HTTP {code}"),
            ReadError::TooLarge(limit) => write!(
                f,
                "the body is larger than {} bytes ({}); refusing to read on (raise --max-bytes)",
                limit,
                human_bytes(*limit)
            ),
            ReadError::LineTooLong { line, limit } => write!(
                f,
                "line {line} is longer than {limit} bytes ({}); refusing to read on (raise --max-line-bytes)",
                human_bytes(*limit)
            ),
            ReadError::TimedOut(timeout) => write!(
                f,
                "reading and parsing took longer than --timeout {}; gave up",
                duration_text(*timeout)
            ),
            ReadError::Redirect { to } => write!(
                f,
                "it redirects to {}, another scheme, host or port: not followed",
                shortened(to)
            ),
            ReadError::Parse(e) => write!(
                f,
                "malformed exposition: line {}: {}",
                e.line,
                shortened(&e.message)
            ),
        }
    }
}

/// `text`, or its first [`QUOTED_BYTES`] (cut on a character boundary) and
/// a word that it was shortened: an error quotes that much of a line.
pub(crate) fn shortened(text: &str) -> Cow<'_, str> {
    if text.len() <= QUOTED_BYTES {
        return Cow::Borrowed(text);
    }
    let mut end = QUOTED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}... (shortened: {} bytes in all)",
        &text[..end],
        text.len()
    ))
}

impl std::error::Error for ReadError {}

/// `1.5 MiB`
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::read_str;
    use cardinality_guard_core::text::Format;

    #[test]
    fn errors_quote_a_few_hundred_bytes() {
        assert_eq!(shortened("short"), "short");
        let long = "é".repeat(1000);
        let short = shortened(&long);
        assert!(short.len() < QUOTED_BYTES + 50, "{short}");
        assert!(
            short.ends_with("... (shortened: 2000 bytes in all)"),
            "{short}"
        );
        let text = format!("m 1 {long}\n");
        let error = read_str(&text, Format::Prometheus).unwrap_err().to_string();
        assert!(
            error.starts_with("malformed exposition: line 1: m: \"éé"),
            "{error}"
        );
        assert!(error.len() < 400, "{error}");
    }
}
