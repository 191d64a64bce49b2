//! Deadlines on a connection's bytes, which hyper's HTTP/1 server does not
//! keep: a response must be taken by the client within the write timeout,
//! and a connection with no request under way closes after the idle
//! timeout. (hyper's header-read timeout covers the request head.)
//!
//! Without them, a client that asks for a large response and never reads it
//! holds its connection, and its slot under the connection cap, for as long
//! as it likes: 1,024 of them stopped the example service (issue 19).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A stream whose writes and idle waits have deadlines: an I/O error of
/// kind [`io::ErrorKind::TimedOut`] when one passes, on which the server
/// closes the connection.
///
/// - **Write timeout**: what the server starts writing (a response, or each
///   part of a streamed body) must be all handed to the kernel by then.
///   The clock starts at its first byte and stops when it is flushed, so a
///   client that reads slowly but steadily is cut off too, as with Go's
///   `WriteTimeout` (whose clock starts earlier, when the request is read).
/// - **Idle timeout**: a read that waits while no request is under way
///   (after the connection opened, or after a response went out) fails
///   after it. A request's first byte stops the clock.
#[derive(Debug)]
pub struct Deadlines<S> {
    stream: S,
    write_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    /// Set for the current phase's deadline (when it has one).
    timer: Pin<Box<Sleep>>,
}

/// Where a connection is, as its bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request under way: reads wait until the idle deadline.
    Idle,
    /// A request is being read or handled: no deadline here.
    Busy,
    /// Bytes are being written: all must be flushed by the write deadline.
    Writing,
}

impl<S> Deadlines<S> {
    /// Wraps a freshly accepted `stream`: idle from now.
    pub fn new(stream: S, write_timeout: Duration, idle_timeout: Duration) -> Self {
        Deadlines {
            stream,
            write_timeout,
            idle_timeout,
            phase: Phase::Idle,
            timer: Box::pin(tokio::time::sleep(idle_timeout)),
        }
    }

    fn enter(&mut self, phase: Phase) {
        let timeout = match phase {
            Phase::Idle => self.idle_timeout,
            Phase::Writing => self.write_timeout,
            Phase::Busy => {
                self.phase = phase;
                return;
            }
        };
        self.phase = phase;
        self.timer.as_mut().reset(Instant::now() + timeout);
    }

    /// `Ready(error)` once the deadline has passed; else `Pending`, with
    /// the task woken at the deadline.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, what: &str) -> Poll<io::Error> {
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, what)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn start_writing(&mut self) {
        if self.phase != Phase::Writing {
            self.enter(Phase::Writing);
        }
    }
}

const WRITE_TIMED_OUT: &str = "write timeout: the client did not take the response";
const IDLE_TIMED_OUT: &str = "idle timeout: no request came";

/// A write's outcome under the write deadline: a pending write past it fails.
fn write_or_time_out<S, T>(
    me: &mut Deadlines<S>,
    cx: &mut Context<'_>,
    polled: Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    match polled {
        Poll::Pending => me.poll_deadline(cx, WRITE_TIMED_OUT).map(Err),
        done => done,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deadlines<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut me.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && me.phase == Phase::Idle {
                    me.enter(Phase::Busy);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if me.phase == Phase::Idle => {
                me.poll_deadline(cx, IDLE_TIMED_OUT).map(Err)
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deadlines<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        me.start_writing();
        let polled = Pin::new(&mut me.stream).poll_write(cx, buf);
        write_or_time_out(me, cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        me.start_writing();
        let polled = Pin::new(&mut me.stream).poll_write_vectored(cx, bufs);
        write_or_time_out(me, cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    /// hyper flushes once everything it had to write is written: the
    /// response is out, and the connection idle until a request comes.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let polled = Pin::new(&mut me.stream).poll_flush(cx);
        match polled {
            Poll::Ready(Ok(())) if me.phase == Phase::Writing => {
                me.enter(Phase::Idle);
                Poll::Ready(Ok(()))
            }
            Poll::Pending if me.phase == Phase::Writing => {
                me.poll_deadline(cx, WRITE_TIMED_OUT).map(Err)
            }
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
