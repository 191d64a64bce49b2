//! One GET of the upstream, the audit's way (its `Accept` negotiation and
//! redirect rule, [`crate::http`]; its deadline and reading thread,
//! [`crate::deadline`]), the whole body read into memory: at most
//! `--max-bytes` bytes, valid UTF-8, all before `--timeout`.

use std::io::{self, Read};
use std::time::Duration;

use cardinality_guard_core::text::Format;

use super::failure::{Failure, Reason};
use crate::deadline::{Deadline, Timed};
use crate::http;
use crate::read_error::ReadError;

/// A body read in full.
pub(crate) struct Body {
    /// The grammar its `Content-Type` names.
    pub(crate) format: Format,
    /// The exposition.
    pub(crate) text: String,
}

/// GETs `url` and reads its body, at most `max_bytes` bytes, before `deadline`.
/// Every message names the URL with its password [redacted](http::redacted):
/// a `503`'s body is read by any scraper.
pub(crate) fn fetch(url: &str, max_bytes: u64, deadline: Deadline) -> Result<Body, Failure> {
    let shown = http::redacted(url);
    let fetched = http::get(url, false, deadline).map_err(|e| match e {
        ReadError::TimedOut(_) => timed_out(&shown, deadline),
        ReadError::Status(code) => {
            Failure::new(Reason::Status, format!("{shown} answered HTTP {code}"))
        }
        e @ ReadError::Redirect { .. } => Failure::new(Reason::Status, format!("{shown}: {e}")),
        e => Failure::new(Reason::Connect, format!("{shown}: {e}")),
    })?;
    // Room for the body its length announces, up to the cap: read into a
    // growing buffer, a 44 MB body left a 64 MiB one behind.
    let announced = fetched.length.unwrap_or(0).min(max_bytes.saturating_add(1));
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    let read = Timed::new(fetched.body, deadline)
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut body);
    if let Err(e) = read {
        return Err(
            if e.kind() == io::ErrorKind::TimedOut || deadline.remaining() < SLACK {
                timed_out(&shown, deadline)
            } else {
                Failure::new(Reason::Connect, format!("{shown}: reading the body: {e}"))
            },
        );
    }
    if body.len() as u64 > max_bytes {
        return Err(Failure::new(
            Reason::TooLarge,
            format!("{shown}: the body is larger than --max-bytes {max_bytes} bytes"),
        ));
    }
    let text = String::from_utf8(body).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        Failure::new(
            Reason::Parse,
            format!("{shown}: line {line}: invalid UTF-8 at byte {at}"),
        )
    })?;
    Ok(Body {
        format: fetched.format,
        text,
    })
}

/// A read error this close to the deadline is the deadline's.
const SLACK: Duration = Duration::from_millis(100);

fn timed_out(shown: &str, deadline: Deadline) -> Failure {
    Failure::new(
        Reason::Timeout,
        format!(
            "{shown}: no full answer within --timeout {}",
            crate::deadline::duration_text(deadline.timeout())
        ),
    )
}
