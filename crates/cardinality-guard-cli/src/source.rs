//! Where an exposition comes from (a URL, a file, stdin) and reading it, one
//! line at a time, with the body capped.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::Duration;

use crate::inventory::Inventory;
use cardinality_guard_core::text::{Format, Line, ParseError, Parser};

/// The `Accept` header sent: OpenMetrics first, Prometheus text as the
/// fallback (what a Prometheus server sends, without protobuf).
pub(crate) const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

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
        } else if text.starts_with("http://") || text.starts_with("https://") {
            Source::Url(text.to_owned())
        } else {
            Source::File(PathBuf::from(text))
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Url(url) => f.write_str(url),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Stdin => f.write_str("<stdin>"),
        }
    }
}

/// How to read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadOptions {
    /// Refuse a body longer than this.
    pub(crate) max_bytes: u64,
    /// Connect + whole-request timeout for URLs.
    pub(crate) timeout: Duration,
    /// Keep every series' identity (for growth).
    pub(crate) track_series: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_bytes: DEFAULT_MAX_BYTES,
            timeout: Duration::from_secs(30),
            track_series: false,
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
}

/// Why an exposition could not be read: exit status 2.
#[derive(Debug)]
pub enum ReadError {
    /// The file or stdin could not be read, or the request failed.
    Io(String),
    /// The server answered with an error status.
    Status(u16),
    /// The body is longer than the cap.
    TooLarge(u64),
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
            ReadError::Parse(e) => write!(f, "malformed exposition: {e}"),
        }
    }
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

/// Reads `source` and sums it up.
pub(crate) fn read(source: &Source, options: &ReadOptions) -> Result<Scrape, ReadError> {
    match source {
        Source::Url(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(options.timeout))
                .http_status_as_error(false)
                .build()
                .into();
            let response = agent
                .get(url)
                .header("Accept", ACCEPT)
                .call()
                .map_err(|e| ReadError::Io(format!("{url}: {e}")))?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                return Err(ReadError::Status(status));
            }
            let format = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map_or(Format::Prometheus, Format::from_content_type);
            let body = response.into_body().into_reader();
            read_from(body, format, options)
        }
        Source::File(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| ReadError::Io(format!("{}: {e}", path.display())))?;
            read_from(file, Format::Auto, options)
        }
        Source::Stdin => read_from(std::io::stdin().lock(), Format::Auto, options),
    }
}

/// Reads an exposition from `reader`, at most `options.max_bytes` of it.
pub(crate) fn read_from(
    reader: impl Read,
    format: Format,
    options: &ReadOptions,
) -> Result<Scrape, ReadError> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader.take(options.max_bytes + 1));
    let mut parser = Parser::new(format);
    let mut inventory = Inventory::new(options.track_series);
    let mut buf = Vec::new();
    let mut bytes = 0u64;
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| ReadError::Io(format!("reading the body: {e}")))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        if bytes > options.max_bytes {
            return Err(ReadError::TooLarge(options.max_bytes));
        }
        line_no += 1;
        let mut line = buf.as_slice();
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        let text = std::str::from_utf8(line).map_err(|e| {
            ReadError::Parse(ParseError {
                line: line_no,
                message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            })
        })?;
        if let Line::Sample(sample) = parser.line(text).map_err(ReadError::Parse)? {
            inventory.add(&sample);
        }
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
        bytes,
    })
}

/// Reads an exposition held in memory.
pub(crate) fn read_str(text: &str, format: Format) -> Result<Scrape, ReadError> {
    read_from(text.as_bytes(), format, &ReadOptions::default())
}
