//! The answers to `GET /metrics` in flight, bounded.
//!
//! A scrape's text can be large (tens of MB for an upstream of a million
//! series). A client that asks and never reads would keep it in memory
//! until the server's write timeout closes its connection, and a crowd of
//! them, each with its own copy, could take all the memory there is. So at
//! most [`IN_FLIGHT`] answers exist at once: a request takes a permit before
//! its scrape and gives it back when its body has been taken by the
//! connection (all but hyper's write buffer, a few hundred KB) or dropped
//! (the client went, or the write timeout closed it); a client that goes
//! before its answer exists leaves the permit with its scrape until that
//! is done, so clients that hang up can't queue scrapes. Further requests
//! wait for a permit in arrival order: a Prometheus behind a few
//! non-reading clients waits at most about the write timeout per client
//! ahead of it.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;

/// Answers of `/metrics` in memory at once (two Prometheus servers of an HA
/// pair and a person with `curl` fit).
pub(crate) const IN_FLIGHT: usize = 4;

/// The body is handed over in pieces of this size, so that it is still
/// held (with its permit) while the connection drains it.
const PIECE: usize = 64 * 1024;

/// A scrape's text, in pieces, holding its permit until the last is taken.
pub(crate) struct Answer {
    pieces: std::vec::IntoIter<Bytes>,
    left: u64,
    permit: Option<OwnedSemaphorePermit>,
}

impl Answer {
    /// `text` in pieces of [`PIECE`] bytes, each its own allocation (one
    /// shared buffer would be kept whole by its last piece).
    pub(crate) fn new(text: String, permit: OwnedSemaphorePermit) -> Answer {
        let pieces: Vec<Bytes> = text
            .as_bytes()
            .chunks(PIECE)
            .map(Bytes::copy_from_slice)
            .collect();
        Answer {
            left: text.len() as u64,
            pieces: pieces.into_iter(),
            permit: Some(permit),
        }
    }
}

impl Body for Answer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.pieces.next();
        match &next {
            Some(piece) => self.left -= piece.len() as u64,
            None => self.permit = None,
        }
        Poll::Ready(next.map(|piece| Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use tokio::sync::Semaphore;

    use super::*;

    #[tokio::test]
    async fn the_permit_comes_back_once_the_last_piece_is_taken_or_the_body_dropped() {
        let permits = Arc::new(Semaphore::new(1));
        let text = "x".repeat(3 * PIECE + 5);
        let mut answer = Answer::new(text.clone(), permits.clone().try_acquire_owned().unwrap());
        assert_eq!(answer.size_hint().exact(), Some(text.len() as u64));
        let mut taken = Vec::new();
        for _ in 0..4 {
            let frame = answer.frame().await.unwrap().unwrap();
            assert_eq!(permits.available_permits(), 0, "held while pieces are left");
            taken.extend_from_slice(&frame.into_data().unwrap());
        }
        assert!(answer.is_end_stream());
        assert!(answer.frame().await.is_none());
        assert_eq!(permits.available_permits(), 1);
        assert_eq!(taken, text.as_bytes());

        let answer = Answer::new(text, permits.clone().try_acquire_owned().unwrap());
        assert_eq!(permits.available_permits(), 0);
        drop(answer);
        assert_eq!(
            permits.available_permits(),
            1,
            "a dropped answer gives it back"
        );
    }
}
