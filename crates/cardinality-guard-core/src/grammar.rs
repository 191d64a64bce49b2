//! The Prometheus grammar of names and label keys.

/// Whether `name` renders unchanged (`[a-zA-Z_:][a-zA-Z0-9_:]*`, not empty).
pub(crate) fn is_metric_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().enumerate().all(|(i, c)| {
            c.is_ascii_alphabetic() || c == b'_' || c == b':' || (i > 0 && c.is_ascii_digit())
        })
}

/// Whether `key` is a label name that renders unchanged
/// (`[a-zA-Z_][a-zA-Z0-9_]*`, not empty).
pub(crate) fn is_label_name(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}
