//! Label values with bounded cardinality: method, route template, status.

use axum::extract::MatchedPath;
use http::{Method, Request};
use metrics::SharedString;

/// The `route` value of requests that matched no route (404s, scanners,
/// `nest_service` mounts): one value, whatever the path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `method` value of every non-standard method.
pub const OTHER_METHOD: &str = "_OTHER";

/// One of the nine standard methods, or `_OTHER`.
pub(crate) fn method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => OTHER_METHOD,
    }
}

/// The matched route template (`/users/{id}`), never the raw path; `None`
/// when the request matched no route (or the layer sits outside the router).
pub(crate) fn matched_route<B>(request: &Request<B>) -> Option<SharedString> {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| SharedString::from(path.as_str().to_owned()))
}

/// The numeric status code as a label value.
pub(crate) fn status(status: http::StatusCode) -> SharedString {
    SharedString::from(status.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_keep_their_name_and_others_fold() {
        assert_eq!(method(&Method::PATCH), "PATCH");
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method(&custom), OTHER_METHOD);
    }
}
