//! `--timeout`: one deadline for reading and parsing a source, whatever it
//! is (a URL, a file, a FIFO, stdin).
//!
//! A blocking read cannot be interrupted, so the source is read on a thread
//! of its own ([`Timed`]), in chunks handed over a small bounded channel:
//! the audit waits for the next chunk at most until the deadline, and the
//! parser checks the deadline between lines. Memory in flight is a few
//! chunks, whatever the source sends.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Bytes per chunk read on the reading thread.
const CHUNK: usize = 64 * 1024;

/// Chunks the reading thread may read ahead.
const AHEAD: usize = 4;

/// When an audit of one source gives up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// `None`: a timeout too far away to be an instant.
    at: Option<Instant>,
    timeout: Duration,
}

impl Deadline {
    /// `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(timeout),
            timeout,
        }
    }

    /// The timeout it was set with.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Time left (zero once passed).
    pub(crate) fn remaining(&self) -> Duration {
        self.at.map_or(Duration::MAX, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }

    /// Whether it has passed.
    pub(crate) fn passed(&self) -> bool {
        self.remaining().is_zero()
    }
}

/// A reader whose source is read on a thread of its own: a read waits for
/// the source until the deadline at most, then fails with
/// [`io::ErrorKind::TimedOut`].
#[derive(Debug)]
pub(crate) struct Timed {
    chunks: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
    deadline: Deadline,
}

impl Timed {
    /// Starts reading `source` on a thread. The thread ends with the
    /// source, or at its next chunk once this reader is dropped (a read
    /// blocked forever keeps it until the process ends).
    pub(crate) fn new(mut source: impl Read + Send + 'static, deadline: Deadline) -> Timed {
        let (send, chunks) = sync_channel(AHEAD);
        std::thread::spawn(move || loop {
            let mut chunk = vec![0; CHUNK];
            let read = match source.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    chunk.truncate(n);
                    Ok(chunk)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = read.is_err();
            if send.send(read).is_err() || failed {
                return;
            }
        });
        Timed {
            chunks,
            chunk: Vec::new(),
            at: 0,
            deadline,
        }
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.chunk.len() {
            match self.chunks.recv_timeout(self.deadline.remaining()) {
                Ok(chunk) => {
                    self.chunk = chunk?;
                    self.at = 0;
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// `2s`, `1500ms`: a duration as `--timeout` takes it.
pub(crate) fn duration_text(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that has nothing to say and never ends.
    struct Silent;

    impl Read for Silent {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(0)
        }
    }

    #[test]
    fn reads_through_and_gives_up_at_the_deadline() {
        let text = "x".repeat(3 * CHUNK + 17);
        let mut all = String::new();
        let deadline = Deadline::after(Duration::from_secs(600));
        Timed::new(io::Cursor::new(text.clone()), deadline)
            .read_to_string(&mut all)
            .unwrap();
        assert_eq!(all, text);

        let deadline = Deadline::after(Duration::from_millis(50));
        let error = Timed::new(Silent, deadline).read(&mut [0; 8]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(deadline.passed());
        assert_eq!(Deadline::after(Duration::MAX).remaining(), Duration::MAX);
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration_text(Duration::from_secs(30)), "30s");
    }
}
