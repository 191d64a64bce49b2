//! Why a scrape of the upstream failed: the `reason` label of
//! `cardinality_guard_proxy_upstream_failures_total` and the one line the
//! proxy answers with its `503`.

use std::fmt;

/// The kinds of upstream failure, each a `reason` label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The deadline (`--timeout`) passed: connecting, waiting, reading or parsing.
    Timeout,
    /// No connection, or it broke while the body was read.
    Connect,
    /// An answer other than `200`-`299` (a redirect elsewhere included).
    Status,
    /// A body longer than `--max-bytes`.
    TooLarge,
    /// Invalid UTF-8 or a malformed line.
    Parse,
}

impl Reason {
    /// Every reason, in the order the self-report lists them.
    pub(crate) const ALL: [Reason; 5] = [
        Reason::Timeout,
        Reason::Connect,
        Reason::Status,
        Reason::TooLarge,
        Reason::Parse,
    ];

    /// Its `reason` label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Connect => "connect",
            Reason::Status => "status",
            Reason::TooLarge => "too_large",
            Reason::Parse => "parse",
        }
    }

    /// Its place in [`Reason::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A failed scrape of the upstream: its reason and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The kind.
    pub(crate) reason: Reason,
    /// What happened, one line.
    pub(crate) detail: String,
}

impl Failure {
    /// A failure for `reason`; `detail` is made one line.
    pub(crate) fn new(reason: Reason, detail: impl Into<String>) -> Failure {
        let mut detail: String = detail.into();
        if detail.contains(['\n', '\r']) {
            detail = detail.replace(['\n', '\r'], " ");
        }
        Failure { reason, detail }
    }
}

impl fmt::Display for Failure {
    /// `upstream failed (parse): malformed exposition: line 3: ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "upstream failed ({}): {}",
            self.reason.label(),
            self.detail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_one_line_naming_its_reason() {
        let failure = Failure::new(Reason::TooLarge, "a\nb\r\nc");
        assert_eq!(failure.to_string(), "upstream failed (too_large): a b  c");
        for (i, reason) in Reason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
    }
}
