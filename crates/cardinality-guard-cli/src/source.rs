//! Where an exposition comes from (a URL, a file, stdin) and reading it, one
//! line at a time, with the body, each line and the time taken bounded.

use std::fmt;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::time::Duration;

use crate::deadline::{Deadline, Timed};
use crate::http;
use crate::inventory::Inventory;
use crate::lines::{Lines, Next, DEFAULT_MAX_LINE_BYTES};
use crate::read_error::ReadError;
use cardinality_guard_core::text::{Format, Line, ParseError, Parser};

/// The default cap on the body: 256 MiB.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// An exposition to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `http://` or `https://`
    Url(String),
    /// A file.
    File(PathBuf),
    /// `-`
    Stdin,
}

impl Source {
    /// `-` is stdin, `http(s)://` a URL, anything else a file.
    pub(crate) fn parse(text: &str) -> Source {
        if text == "-" {
            Source::Stdin
        } else if http::is_http_url(text) {
            Source::Url(text.to_owned())
        } else {
            Source::File(PathBuf::from(text))
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Url(url) => f.write_str(&http::redacted(url)),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Stdin => f.write_str("<stdin>"),
        }
    }
}

/// Lines read between two looks at the deadline (and at most one line
/// longer than 64 KiB).
const LINES_PER_CHECK: usize = 256;

/// How to read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadOptions {
    /// Refuse a body longer than this.
    pub(crate) max_bytes: u64,
    /// Refuse a line longer than this.
    pub(crate) max_line_bytes: u64,
    /// Reading and parsing one source, the request included, take at most this.
    pub(crate) timeout: Duration,
    /// Keep every series' identity (for growth).
    pub(crate) track_series: bool,
    /// Follow redirects to another scheme, host or port.
    pub(crate) follow_redirects: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_bytes: DEFAULT_MAX_BYTES,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            timeout: Duration::from_secs(30),
            track_series: false,
            follow_redirects: false,
        }
    }
}

/// One exposition read and summed up.
#[derive(Debug, Clone)]
pub(crate) struct Scrape {
    /// What was read.
    pub(crate) inventory: Inventory,
    /// The grammar applied.
    pub(crate) format: Format,
    /// Bytes read.
    pub(crate) bytes: u64,
    /// The URL read in the end (a URL's, after its redirects).
    pub(crate) url: Option<String>,
}

/// Reads `source` and sums it up, within `options.timeout`.
pub(crate) fn read(source: &Source, options: &ReadOptions) -> Result<Scrape, ReadError> {
    let deadline = Deadline::after(options.timeout);
    match source {
        Source::Url(url) => {
            let fetched = http::get(url, options.follow_redirects, deadline)?;
            let body = Timed::new(fetched.body, deadline);
            let mut scrape = read_from(body, fetched.format, options, deadline)?;
            scrape.url = Some(fetched.url);
            Ok(scrape)
        }
        Source::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| ReadError::Io(e.to_string()))?;
            read_from(Timed::new(file, deadline), Format::Auto, options, deadline)
        }
        Source::Stdin => read_from(
            Timed::new(io::stdin(), deadline),
            Format::Auto,
            options,
            deadline,
        ),
    }
}

/// Reads an exposition from `reader`, at most `options.max_bytes` of it,
/// each line at most `options.max_line_bytes`, until `deadline`.
pub(crate) fn read_from(
    reader: impl Read,
    format: Format,
    options: &ReadOptions,
    deadline: Deadline,
) -> Result<Scrape, ReadError> {
    let reader = BufReader::with_capacity(64 * 1024, reader.take(options.max_bytes + 1));
    let max_line = usize::try_from(options.max_line_bytes).unwrap_or(usize::MAX);
    let mut lines = Lines::new(reader, max_line);
    let mut parser = Parser::new(format);
    let mut inventory = Inventory::new(options.track_series);
    let io_error = |e: io::Error| match e.kind() {
        io::ErrorKind::TimedOut => ReadError::TimedOut(deadline.timeout()),
        _ => ReadError::Io(format!("reading the body: {e}")),
    };
    loop {
        let before = lines.bytes();
        match lines.next_line().map_err(io_error)? {
            Next::End => break,
            Next::Line => {}
            Next::TooLong => {
                return Err(ReadError::LineTooLong {
                    line: lines.number(),
                    limit: options.max_line_bytes,
                })
            }
        };
        if lines.bytes() > options.max_bytes {
            return Err(ReadError::TooLarge(options.max_bytes));
        }
        let at = lines.number();
        if (at.is_multiple_of(LINES_PER_CHECK) || lines.bytes() - before > 64 * 1024)
            && deadline.passed()
        {
            return Err(ReadError::TimedOut(deadline.timeout()));
        }
        let text = std::str::from_utf8(lines.line()).map_err(|e| {
            ReadError::Parse(ParseError {
                line: at,
                message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            })
        })?;
        if let Line::Sample(sample) = parser.line(text).map_err(ReadError::Parse)? {
            inventory.add(&sample);
        }
    }
    if lines.bytes() > options.max_bytes {
        return Err(ReadError::TooLarge(options.max_bytes));
    }
    parser.finish().map_err(ReadError::Parse)?;
    let format = match format {
        Format::Auto if parser.saw_eof() => Format::OpenMetrics,
        Format::Auto => Format::Prometheus,
        f => f,
    };
    Ok(Scrape {
        inventory,
        format,
        bytes: lines.bytes(),
        url: None,
    })
}

/// Reads an exposition held in memory.
pub(crate) fn read_str(text: &str, format: Format) -> Result<Scrape, ReadError> {
    let options = ReadOptions::default();
    read_from(
        text.as_bytes(),
        format,
        &options,
        Deadline::after(Duration::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_stops_at_the_deadline() {
        let text = "a{b=\"c\"} 1\n".repeat(10 * LINES_PER_CHECK);
        let passed = Deadline::after(Duration::ZERO);
        let error = read_from(
            text.as_bytes(),
            Format::Auto,
            &ReadOptions::default(),
            passed,
        );
        assert!(matches!(error, Err(ReadError::TimedOut(d)) if d.is_zero()));
    }
}
