//! What the exporter renders as it is, and bounded slot counting.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether the exporter renders metric name `name` unchanged
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub(crate) fn is_rendered_name(name: &str) -> bool {
    name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    })
}

/// Whether `key` is a label name the exporter renders unchanged
/// (`[a-zA-Z_][a-zA-Z0-9_]*`, not empty).
pub(crate) fn is_label_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Takes one of `max` slots counted by `count`, atomically; false when all
/// are taken. Slots are never given back.
pub(crate) fn take_slot(count: &AtomicUsize, max: usize) -> bool {
    count
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .is_ok()
}
