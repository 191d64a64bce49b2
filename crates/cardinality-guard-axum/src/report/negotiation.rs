//! Which format a request gets: `?format=` first, then the `Accept` header.

use axum::http::{header, HeaderMap};

/// What a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Html,
    /// The suggested `guard.toml`: only when asked for by `?format=toml`.
    Toml,
}

/// [`Format::Toml`] when the last `format` query parameter is `toml`, else
/// HTML or JSON as [`wants_html`] decides.
pub(super) fn format(query: &[(String, String)], headers: &HeaderMap) -> Format {
    let last = query.iter().rev().find(|(k, _)| k == "format");
    if last.is_some_and(|(_, f)| f.eq_ignore_ascii_case("toml")) {
        Format::Toml
    } else if wants_html(query, headers) {
        Format::Html
    } else {
        Format::Json
    }
}

/// HTML when the last `format` query parameter is `html`, JSON when it is
/// anything else; without one, HTML when the `Accept` header ranks
/// `text/html` above JSON (q-values honoured; `*/*` alone means JSON).
///
/// The last `format` wins, so a link can override a format its URL already
/// carries (`?format=html&format=json` is JSON). A media range whose q-value
/// is not a valid qvalue (RFC 9110, 12.4.2: `0` to `1`, at most three
/// decimals) is ignored, not read as `q=1`.
pub(super) fn wants_html(query: &[(String, String)], headers: &HeaderMap) -> bool {
    if let Some((_, f)) = query.iter().rev().find(|(k, _)| k == "format") {
        return f.eq_ignore_ascii_case("html");
    }
    let (mut html, mut json) = (0.0_f32, 0.0_f32);
    let ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for range in ranges {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let mut q = Some(1.0);
        for param in parts {
            if let Some((name, value)) = param.split_once('=') {
                if name.trim().eq_ignore_ascii_case("q") {
                    q = qvalue(value.trim());
                }
            }
        }
        let Some(q) = q else { continue };
        match media.as_str() {
            "text/html" => html = html.max(q),
            "application/json" | "application/*" | "*/*" => json = json.max(q),
            _ => {}
        }
    }
    html > 0.0 && html > json
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn qvalue(text: &str) -> Option<f32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match whole {
        "0" if fraction.is_empty() => Some(0.0),
        "0" => fraction
            .parse::<u16>()
            .ok()
            .map(|n| f32::from(n) / 10_f32.powi(fraction.len() as i32)),
        "1" if fraction.bytes().all(|b| b == b'0') => Some(1.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static(v));
        h
    }

    fn format(values: &[&str]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| ("format".to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn browsers_get_html_and_the_rest_json() {
        let browser = accept("text/html,application/xhtml+xml,*/*;q=0.8");
        assert!(wants_html(&[], &browser));
        assert!(!wants_html(&[], &accept("*/*")));
        assert!(!wants_html(&[], &HeaderMap::new()));
        assert!(!wants_html(&format(&["json"]), &browser));
        assert!(wants_html(&format(&["html"]), &HeaderMap::new()));
        assert!(!wants_html(&[], &accept("application/json, text/html;q=0")));
        assert!(!wants_html(
            &[],
            &accept("application/json, text/html;q=0.1")
        ));
        assert!(wants_html(
            &[],
            &accept("text/html;q=0.9, application/json;q=0.5")
        ));
    }

    #[test]
    fn toml_only_when_asked_for() {
        let browser = accept("text/html");
        assert_eq!(super::format(&format(&["toml"]), &browser), Format::Toml);
        assert_eq!(
            super::format(&format(&["TOML"]), &HeaderMap::new()),
            Format::Toml
        );
        assert_eq!(
            super::format(&format(&["toml", "json"]), &browser),
            Format::Json
        );
        assert_eq!(
            super::format(&format(&["json", "toml"]), &browser),
            Format::Toml
        );
        assert_eq!(super::format(&[], &browser), Format::Html);
        assert_eq!(
            super::format(&[], &accept("application/toml")),
            Format::Json
        );
    }

    #[test]
    fn the_last_format_wins() {
        assert!(!wants_html(&format(&["html", "json"]), &HeaderMap::new()));
        assert!(wants_html(&format(&["json", "html"]), &HeaderMap::new()));
    }

    #[test]
    fn an_invalid_qvalue_makes_its_range_unusable() {
        for bad in [
            "abc", "2", "1.5", "0.1234", "-1", "inf", "NaN", "", "1.001", ".5",
        ] {
            assert_eq!(qvalue(bad), None, "{bad:?}");
            let header = format!("text/html;q={bad}, application/json;q=0.5");
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_str(&header).unwrap());
            assert!(!wants_html(&[], &h), "{header}");
        }
        for (good, value) in [
            ("0", 0.0),
            ("0.", 0.0),
            ("0.5", 0.5),
            ("0.125", 0.125),
            ("1", 1.0),
            ("1.000", 1.0),
        ] {
            assert_eq!(qvalue(good), Some(value), "{good:?}");
        }
        assert!(wants_html(
            &[],
            &accept("text/html;Q=0.9, application/json;q=0.5")
        ));
    }
}
