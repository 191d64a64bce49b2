//! Escaping of label values and `# HELP` text, and the way back.
//!
//! A label value escapes `\` as `\\`, `"` as `\"` and a line feed as `\n`;
//! `# HELP` text escapes only `\` and the line feed. Both are lossless:
//! distinct texts stay distinct once written.

use std::borrow::Cow;

/// Writes `text` to `out`, each byte for which `special` gives an escape
/// written as that escape, the rest copied in runs.
fn escape_with(out: &mut String, text: &str, special: fn(u8) -> Option<&'static str>) {
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if let Some(escaped) = special(b) {
            out.push_str(&text[start..i]);
            out.push_str(escaped);
            start = i + 1;
        }
    }
    out.push_str(&text[start..]);
}

fn in_label_value(b: u8) -> Option<&'static str> {
    match b {
        b'\\' => Some("\\\\"),
        b'"' => Some("\\\""),
        b'\n' => Some("\\n"),
        _ => None,
    }
}

fn in_help(b: u8) -> Option<&'static str> {
    match b {
        b'\\' => Some("\\\\"),
        b'\n' => Some("\\n"),
        _ => None,
    }
}

/// Writes `value` escaped for a label value (without the quotes).
///
/// ```
/// let mut out = String::new();
/// cardinality_guard_core::text::escape_label_value_into(&mut out, "C:\\ \"x\"\n");
/// assert_eq!(out, r#"C:\\ \"x\"\n"#);
/// ```
pub fn escape_label_value_into(out: &mut String, value: &str) {
    escape_with(out, value, in_label_value);
}

/// `value` escaped for a label value, borrowed when nothing needs escaping.
///
/// ```
/// use cardinality_guard_core::text::escape_label_value;
///
/// assert_eq!(escape_label_value("plain"), "plain");
/// assert_eq!(escape_label_value("a\"b"), r#"a\"b"#);
/// ```
pub fn escape_label_value(value: &str) -> Cow<'_, str> {
    if !value.bytes().any(|b| in_label_value(b).is_some()) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    escape_label_value_into(&mut out, value);
    Cow::Owned(out)
}

/// Writes `text` escaped for a `# HELP` line: `\` as `\\`, a line feed as
/// `\n` (a `"` stays as it is).
///
/// ```
/// let mut out = String::new();
/// cardinality_guard_core::text::escape_help_into(&mut out, "two \"lines\"\nC:\\");
/// assert_eq!(out, r#"two "lines"\nC:\\"#);
/// ```
pub fn escape_help_into(out: &mut String, text: &str) {
    escape_with(out, text, in_help);
}

/// Writes `k="v",k2="v2"` for `labels`, in their order, the values escaped:
/// what goes between the braces of a sample line.
///
/// ```
/// let mut out = String::new();
/// cardinality_guard_core::text::write_labels(&mut out, [("path", "/a\"b"), ("code", "200")]);
/// assert_eq!(out, r#"path="/a\"b",code="200""#);
/// ```
pub fn write_labels<'a>(out: &mut String, labels: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (i, (key, value)) in labels.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        escape_label_value_into(out, value);
        out.push('"');
    }
}

/// Reads a label value after its opening quote: the value unescaped
/// (borrowed when it holds no escape) and the text after the closing quote.
///
/// `\\`, `\"` and `\n` are escapes. Any other `\x` is kept as written when
/// not `strict` (as Prometheus does with its text format), and is an error
/// when `strict` (OpenMetrics). One pass over the value.
pub(crate) fn unescape_quoted(text: &str, strict: bool) -> Result<(Cow<'_, str>, &str), String> {
    let bytes = text.as_bytes();
    let mut owned: Option<String> = None;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    Some(mut s) => {
                        s.push_str(&text[start..i]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&text[..i]),
                };
                return Ok((value, &text[i + 1..]));
            }
            b'\\' => {
                let escaped = match bytes.get(i + 1) {
                    Some(b'\\') => "\\",
                    Some(b'"') => "\"",
                    Some(b'n') => "\n",
                    None => return Err("unterminated value".into()),
                    Some(_) if strict => {
                        let sequence: String = text[i..].chars().take(2).collect();
                        return Err(format!(
                            "invalid escape {sequence:?} (only \\\\, \\\" and \\n)"
                        ));
                    }
                    Some(_) => {
                        i += 1;
                        continue;
                    }
                };
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&text[start..i]);
                s.push_str(escaped);
                i += 2;
                start = i;
            }
            _ => i += 1,
        }
    }
    Err("unterminated value (missing `\"`)".into())
}

/// `# HELP` text as written, unescaped: `\\` and `\n` (and, in OpenMetrics,
/// `\"`); any other `\` is kept as written, as Prometheus keeps it.
/// Borrowed when it holds no escape.
pub(crate) fn unescape_help(text: &str, open_metrics: bool) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if open_metrics => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> String {
        let mut out = String::new();
        write_labels(&mut out, pairs.iter().copied());
        out
    }

    #[test]
    fn escaping_is_lossless() {
        let texts: Vec<String> = ["a\\", "a\\\\", "a\"b", "a\\\"b", "a\nb", "a\\nb"]
            .iter()
            .map(|v| labels(&[("k", v)]))
            .collect();
        let mut unique = texts.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), texts.len(), "{texts:?}");
        assert_eq!(labels(&[("k", "a\"b\\\n")]), r#"k="a\"b\\\n""#);
        assert_eq!(labels(&[]), "");
    }

    #[test]
    fn escaped_values_read_back() {
        for value in ["", "plain", "a\"b\\\nc", "\\n", "ünï\"\\", "\"\"\"", "\\"] {
            let quoted = format!("{}\" rest", escape_label_value(value));
            for strict in [false, true] {
                let (back, rest) = unescape_quoted(&quoted, strict).unwrap();
                assert_eq!((back.as_ref(), rest), (value, " rest"), "{quoted:?}");
            }
        }
        assert!(matches!(
            unescape_quoted("plain\"", true).unwrap().0,
            Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn unknown_escapes_and_unterminated_values() {
        assert_eq!(unescape_quoted(r#"a\tb""#, false).unwrap().0, "a\\tb");
        let strict = unescape_quoted(r#"a\tb""#, true).unwrap_err();
        assert!(strict.contains("invalid escape"), "{strict}");
        assert!(unescape_quoted("abc", false)
            .unwrap_err()
            .contains("missing"));
        assert!(unescape_quoted("abc\\", false)
            .unwrap_err()
            .contains("unterminated"));
    }

    #[test]
    fn help_reads_back() {
        for text in ["", "plain", "a\"b\\c\nd", "\\n", "ünï\\"] {
            let mut out = String::new();
            escape_help_into(&mut out, text);
            for open_metrics in [false, true] {
                assert_eq!(unescape_help(&out, open_metrics), text, "{out:?}");
            }
        }
        assert_eq!(unescape_help(r#"a\"b\t"#, true), "a\"b\\t");
        assert_eq!(unescape_help(r#"a\"b"#, false), r#"a\"b"#);
        assert_eq!(unescape_help("end\\", false), "end\\");
    }

    #[test]
    fn help_keeps_quotes() {
        let mut out = String::new();
        escape_help_into(&mut out, "a\"b\\c\nd");
        assert_eq!(out, "a\"b\\\\c\\nd");
    }
}
