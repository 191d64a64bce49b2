//! The Prometheus grammar of names and label keys, as byte classes.

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

/// Whether `name` renders unchanged (`[a-zA-Z_:][a-zA-Z0-9_:]*`, not empty).
pub(crate) fn is_metric_name(name: &str) -> bool {
    follows(name, 0b0001, 0b0010)
}

/// Whether `key` is a label name that renders unchanged
/// (`[a-zA-Z_][a-zA-Z0-9_]*`, not empty).
pub(crate) fn is_label_name(key: &str) -> bool {
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
    }
}
