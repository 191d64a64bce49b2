//! Fetching a URL: one GET within the deadline, its redirects followed only
//! to the same scheme, host and port unless `--follow-redirects` says
//! otherwise, and at most [`MAX_REDIRECTS`] of them.

use std::borrow::Cow;

use ureq::http::uri::{Scheme, Uri};

use crate::deadline::Deadline;
use crate::read_error::ReadError;
use cardinality_guard_core::text::Format;

/// The `Accept` header sent: OpenMetrics first, Prometheus text as the
/// fallback (what a Prometheus server sends, without protobuf).
pub(crate) const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The `User-Agent` header sent: what is asking, for the upstream's logs.
const USER_AGENT: &str = concat!("cardinality-guard/", env!("CARGO_PKG_VERSION"));

/// Redirects followed at most.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// A response whose body is the exposition (no `Debug`: its body has none).
pub(crate) struct Fetched {
    /// The URL it came from in the end, its password [`redacted`].
    pub(crate) url: String,
    /// The grammar its `Content-Type` names.
    pub(crate) format: Format,
    /// Its body.
    pub(crate) body: ureq::BodyReader<'static>,
    /// Its `Content-Length`, when it gives one (a claim, not a bound).
    pub(crate) length: Option<u64>,
}

/// GETs `url`, following redirects (any with `follow_redirects`, else the
/// same scheme, host and port only), until `deadline`.
pub(crate) fn get(
    url: &str,
    follow_redirects: bool,
    deadline: Deadline,
) -> Result<Fetched, ReadError> {
    let mut url = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(deadline.remaining()))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let response = agent
            .get(&url)
            .header("Accept", ACCEPT)
            .header("User-Agent", USER_AGENT)
            .call()
            .map_err(|e| match e {
                ureq::Error::Timeout(_) => ReadError::TimedOut(deadline.timeout()),
                // The caller names the URL it asked for.
                e => ReadError::Io(e.to_string()),
            })?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok());
        if let (300..=399, Some(location)) = (status, location) {
            let next = resolve(&url, location)
                .ok_or_else(|| ReadError::Io(format!("a redirect to {:?}", redacted(location))))?;
            if !follow_redirects && !same_origin(&url, &next) {
                return Err(ReadError::Redirect {
                    to: redacted(&next).into_owned(),
                });
            }
            url = next;
            continue;
        }
        if !(200..300).contains(&status) {
            return Err(ReadError::Status(status));
        }
        // No `Accept-Encoding` was sent: a compressed body is not text. Any
        // other value (`identity`, a misconfigured `utf-8`) is read as is, as
        // Prometheus reads it.
        let encoding = response
            .headers()
            .get("content-encoding")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
        if let Some(encoding) = encoding.filter(|e| is_compression(e)) {
            return Err(ReadError::Io(format!(
                "the body is {:?}-encoded (Content-Encoding), which was not asked for",
                crate::read_error::shortened(&encoding)
            )));
        }
        let format = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map_or(Format::Prometheus, Format::from_content_type);
        let length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.trim().parse().ok());
        let body = response.into_body().into_reader();
        return Ok(Fetched {
            url: redacted(&url).into_owned(),
            format,
            body,
            length,
        });
    }
    Err(ReadError::Io(format!(
        "more than {MAX_REDIRECTS} redirects, the last to {}",
        redacted(&url)
    )))
}

/// Whether `text` starts with `http://` or `https://`, in any case.
pub(crate) fn is_http_url(text: &str) -> bool {
    let starts = |prefix: &str| {
        text.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    starts("http://") || starts("https://")
}

/// `url` as it may be shown (in errors, reports, a suggested config, a
/// `503` any scraper reads): a password in it (`http://user:pass@host/`)
/// written `xxxxx`, as Go's `URL.Redacted` does; the user name stays, so
/// which credentials were used can still be told.
pub(crate) fn redacted(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return Cow::Borrowed(url);
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(url);
    };
    let Some(colon) = authority[..at].find(':') else {
        return Cow::Borrowed(url);
    };
    let password = scheme_end + colon + 1..scheme_end + at;
    Cow::Owned(format!(
        "{}xxxxx{}",
        &url[..password.start],
        &url[password.end..]
    ))
}

/// `location` (absolute, `//host/path`, `/path` or a relative path) read
/// against `base`; `None` unless it is an http(s) URL.
fn resolve(base: &str, location: &str) -> Option<String> {
    let base: Uri = base.parse().ok()?;
    let scheme = base.scheme_str()?;
    let authority = base.authority()?.as_str();
    let url = if location.contains("://") {
        location.to_owned()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{scheme}://{authority}{dir}{location}")
    };
    let uri: Uri = url.parse().ok()?;
    let web = uri.scheme() == Some(&Scheme::HTTP) || uri.scheme() == Some(&Scheme::HTTPS);
    (web && uri.host().is_some()).then_some(url)
}

/// Whether `a` and `b` have one scheme, host and port (the scheme's default
/// when none is written).
fn same_origin(a: &str, b: &str) -> bool {
    let origin = |url: &str| {
        let uri: Uri = url.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default = if scheme == "https" { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default);
        Some((scheme, uri.host()?.to_ascii_lowercase(), port))
    };
    matches!((origin(a), origin(b)), (Some(a), Some(b)) if a == b)
}

/// Whether a `Content-Encoding` value names a compression.
fn is_compression(encoding: &str) -> bool {
    [
        "gzip",
        "x-gzip",
        "deflate",
        "br",
        "zstd",
        "compress",
        "x-compress",
    ]
    .iter()
    .any(|c| encoding.eq_ignore_ascii_case(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_url() {
        let base = "http://h:9100/a/metrics?x=1";
        let resolved = |l| resolve(base, l);
        assert_eq!(resolved("/m").as_deref(), Some("http://h:9100/m"));
        assert_eq!(resolved("m2").as_deref(), Some("http://h:9100/a/m2"));
        assert_eq!(resolved("//o:1/m").as_deref(), Some("http://o:1/m"));
        assert_eq!(resolved("https://o/m").as_deref(), Some("https://o/m"));
        assert_eq!(resolved("file:///etc/passwd"), None);
        assert_eq!(resolved("http://"), None);
    }

    #[test]
    fn urls_are_told_by_their_scheme_in_any_case() {
        assert!(is_http_url("HTTP://h/m") && is_http_url("https://h") && is_http_url("Https://h"));
        assert!(!is_http_url("ftp://h") && !is_http_url("http:/h") && !is_http_url("h"));
        assert!(!is_http_url("é") && !is_http_url(""));
    }

    #[test]
    fn only_a_compression_is_refused() {
        assert!(is_compression("gzip") && is_compression("GZIP") && is_compression("br"));
        assert!(!is_compression("identity") && !is_compression("utf-8") && !is_compression(""));
    }

    #[test]
    fn passwords_are_redacted_and_nothing_else() {
        assert_eq!(
            redacted("http://u:secret@h:1/m?x=a:b@c"),
            "http://u:xxxxx@h:1/m?x=a:b@c"
        );
        assert_eq!(redacted("https://u:p:q@h/"), "https://u:xxxxx@h/");
        assert_eq!(redacted("http://u@h/m"), "http://u@h/m");
        assert_eq!(redacted("http://h/m?u=a:b@c"), "http://h/m?u=a:b@c");
        assert_eq!(redacted("http://h:1/a@b:c"), "http://h:1/a@b:c");
        assert_eq!(redacted("http://:p@h"), "http://:xxxxx@h");
        assert_eq!(redacted("not a url"), "not a url");
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert!(same_origin("http://H:80/a", "http://h/b"));
        assert!(same_origin("https://h/a", "https://h:443/b"));
        assert!(!same_origin("http://h:1/a", "http://h:2/a"));
        assert!(!same_origin("http://h/a", "https://h/a"));
        assert!(!same_origin("http://h/a", "http://i/a"));
    }
}
