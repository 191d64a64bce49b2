//! Text made safe to stand in the report page's HTML, as element content or
//! inside a quoted attribute.

/// `text` with the five characters that mean markup written as entities.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn leaves_other_text_as_it_is() {
        assert_eq!(
            escape("naïve_total{path=\"/\u{1F600}\"}"),
            "naïve_total{path=&quot;/\u{1F600}&quot;}"
        );
        assert_eq!(escape(""), "");
    }
}
