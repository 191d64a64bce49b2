//! Lines of an exposition, each at most `--max-line-bytes` long: a longer
//! line is refused as soon as the bound is passed, so memory never follows
//! the longest line.

use std::io::{self, BufRead};

/// The default bound on a line: 4 MiB.
pub(crate) const DEFAULT_MAX_LINE_BYTES: u64 = 4 * 1024 * 1024;

/// What [`Lines::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// A line: [`Lines::line`].
    Line,
    /// A line longer than the bound (nothing more of it read).
    TooLong,
    /// The end of the input.
    End,
}

/// Reads lines of at most `max` bytes (the `\n` not counted).
#[derive(Debug)]
pub(crate) struct Lines<R> {
    reader: R,
    line: Vec<u8>,
    max: usize,
    number: usize,
    bytes: u64,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `reader`, each at most `max` bytes.
    pub(crate) fn new(reader: R, max: usize) -> Self {
        Lines {
            reader,
            line: Vec::new(),
            max,
            number: 0,
            bytes: 0,
        }
    }

    /// The number of the line read last (1-based; 0 before the first).
    pub(crate) fn number(&self) -> usize {
        self.number
    }

    /// Bytes read so far, `\n`s included.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The line read last, without its `\n`.
    pub(crate) fn line(&self) -> &[u8] {
        &self.line
    }

    /// Reads the next line.
    pub(crate) fn next_line(&mut self) -> io::Result<Next> {
        self.line.clear();
        let mut started = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !started {
                    return Ok(Next::End);
                }
                break;
            }
            if !started {
                started = true;
                self.number += 1;
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let content = newline.unwrap_or(available.len());
            if self.line.len() + content > self.max {
                return Ok(Next::TooLong);
            }
            self.line.extend_from_slice(&available[..content]);
            let used = newline.map_or(content, |i| i + 1);
            self.reader.consume(used);
            self.bytes += used as u64;
            if newline.is_some() {
                break;
            }
        }
        Ok(Next::Line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_within_the_bound_and_the_first_past_it() {
        let text = "a\n\nbcd\nefgh\nij";
        // A buffer of 2 bytes: lines span several reads.
        let mut lines = Lines::new(io::BufReader::with_capacity(2, text.as_bytes()), 4);
        let mut read = Vec::new();
        while lines.next_line().unwrap() == Next::Line {
            read.push(String::from_utf8(lines.line().to_vec()).unwrap());
        }
        assert_eq!(read, ["a", "", "bcd", "efgh", "ij"]);
        assert_eq!((lines.number(), lines.bytes()), (5, text.len() as u64));

        let mut lines = Lines::new(io::BufReader::with_capacity(2, text.as_bytes()), 3);
        for _ in 0..3 {
            assert_eq!(lines.next_line().unwrap(), Next::Line);
        }
        assert_eq!(lines.next_line().unwrap(), Next::TooLong);
        assert_eq!(lines.number(), 4);
    }

    #[test]
    fn a_long_line_is_refused_without_reading_it() {
        let mut endless = io::BufReader::with_capacity(1024, io::repeat(b'x'));
        let mut lines = Lines::new(&mut endless, 10_000);
        assert_eq!(lines.next_line().unwrap(), Next::TooLong);
        assert!(lines.bytes() <= 10_000, "{}", lines.bytes());
        assert!(lines.line.capacity() <= 2 * 10_000);
    }
}
