//! The grammar of metric names and label names, as byte classes.

/// Bit 0: may start a metric name (`[a-zA-Z_:]`); bit 1: may follow in one
/// (`[a-zA-Z0-9_:]`); bit 2: may start a label name (`[a-zA-Z_]`); bit 3:
/// may follow in one (`[a-zA-Z0-9_]`).
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut class = 0;
        if alpha || b == b':' {
            class |= 0b0011;
        }
        if digit {
            class |= 0b0010;
        }
        if alpha {
            class |= 0b0100;
        }
        if alpha || digit {
            class |= 0b1000;
        }
        table[c] = class;
        c += 1;
    }
    table
};

/// Whether `b` may follow in a metric name (`[a-zA-Z0-9_:]`).
pub(crate) fn is_name_byte(b: u8) -> bool {
    CLASSES[b as usize] & 0b0010 != 0
}

fn follows(text: &str, first: u8, rest: u8) -> bool {
    let bytes = text.as_bytes();
    match bytes.split_first() {
        Some((head, tail)) => {
            CLASSES[*head as usize] & first != 0
                && tail.iter().all(|b| CLASSES[*b as usize] & rest != 0)
        }
        None => false,
    }
}

/// Whether `name` is a metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, not empty
/// (what the text format writes unquoted, and so what renders unchanged).
///
/// ```
/// use cardinality_guard_core::text::is_metric_name;
///
/// assert!(is_metric_name("http:requests_total"));
/// assert!(!is_metric_name("http.requests") && !is_metric_name("9lives"));
/// ```
pub fn is_metric_name(name: &str) -> bool {
    follows(name, 0b0001, 0b0010)
}

/// Whether `key` is a label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not empty (no
/// `:`, unlike a metric name). Names starting with `__` are valid but
/// reserved to Prometheus; this does not refuse them.
///
/// ```
/// use cardinality_guard_core::text::is_label_name;
///
/// assert!(is_label_name("user_id") && is_label_name("__name__"));
/// assert!(!is_label_name("user.id") && !is_label_name("a:b"));
/// ```
pub fn is_label_name(key: &str) -> bool {
    follows(key, 0b0100, 0b1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_of_names_and_keys() {
        for ok in ["a", "_", ":x", "a:b_9", "Z09"] {
            assert!(is_metric_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a.b", "ü", "a b"] {
            assert!(!is_metric_name(bad), "{bad}");
        }
        for ok in ["a", "_", "_9", "aZ_0"] {
            assert!(is_label_name(ok), "{ok}");
        }
        for bad in ["", "9", ":a", "a:b", "a-b", "é"] {
            assert!(!is_label_name(bad), "{bad}");
        }
        let name: Vec<bool> = (0..=255u8).map(is_name_byte).collect();
        let expected: Vec<bool> = (0..=255u8)
            .map(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
            .collect();
        assert_eq!(name, expected);
    }
}
