//! `POST` on the report endpoint: reload the config file, when opted in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::ExtensionRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::Semaphore;

use cardinality_guard_core::GuardHandle;

use super::BearerToken;
use crate::reload::{reload_off_the_runtime, Outcome};

/// A `POST` to the report endpoint that reloads a config file: off unless
/// given to [`ReportEndpoint::with_reload_on_post`](crate::ReportEndpoint::with_reload_on_post).
///
/// **Who can `POST` can put the file in force**: change budgets, label
/// limits and modes (the file's content, not theirs: the request body is
/// ignored). So a `POST` is answered only under one of two access rules:
///
/// - [`loopback_only`](Self::loopback_only): from `127.0.0.0/8` or `::1`
///   (the peer of the TCP connection). The app must be served with the peer
///   address (`into_make_service_with_connect_info::<SocketAddr>()`);
///   without it every `POST` is refused (403), never allowed. Behind a
///   reverse proxy or a sidecar on the same host, *every* request comes from
///   loopback: use a token there. A browser on the same host can be made to
///   send a `POST` by any web page (a form needs no CORS preflight): it can't
///   choose the file's content, but it can apply a file still being edited.
/// - [`with_token`](Self::with_token): `Authorization: Bearer <token>` with
///   the token you set (at least [`BearerToken::MIN_LEN`] characters),
///   compared in constant time, from any peer. Over plain HTTP the token
///   travels in clear: serve it over TLS, or on an internal network only.
///
/// Answers (JSON, `Cache-Control: no-store`, `X-Content-Type-Options:
/// nosniff`): 200 `{"reloaded": true, "path": .., "changed": [..]}` (the
/// `[sections]` that differ from the config it replaced); 401 without a
/// token (with `WWW-Authenticate: Bearer`), 403 with a wrong one or from a
/// peer that is not loopback; 409 while another `POST`'s reload runs; 500
/// `{"reloaded": false, "error": ..}` when the file can't load or the
/// change needs a restart (the error names file, line and key; the running
/// config stays, and the self-report's
/// `cardinality_guard_config_last_reload_successful` turns 0); 503 when the
/// guard layer has not wrapped a recorder yet. Each reload is logged as
/// [`reload_on_sighup`](crate::reload::reload_on_sighup)'s are.
///
/// ```
/// use axum::Router;
/// use cardinality_guard_axum::{BearerToken, ReloadOnPost, ReportEndpoint};
/// use cardinality_guard_core::{Config, GuardLayer};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let guard = GuardLayer::new(Config::embedded()).handle();
/// // In production, read the token from a secret, not from the source.
/// let token: BearerToken = "d1f0c6b0e2a94c5f8e7b3a2c9d4e5f60".parse()?;
/// let app: Router = ReportEndpoint::new(guard)
///     .with_reload_on_post(ReloadOnPost::with_token("guard.toml", token))
///     .router();
/// // curl -X POST -H "Authorization: Bearer $TOKEN" http://host/debug/cardinality
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ReloadOnPost {
    path: PathBuf,
    access: ReloadAccess,
    /// One reload per endpoint at a time; a `POST` meanwhile gets a 409.
    one_at_a_time: Arc<Semaphore>,
}

/// Who may reload the config with a `POST`: see [`ReloadOnPost`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ReloadAccess {
    /// From a loopback peer only (`127.0.0.0/8`, `::1`, and `::ffff:127.x`);
    /// refused when the peer address is unknown.
    LoopbackOnly,
    /// With `Authorization: Bearer <token>`, from any peer.
    Token(BearerToken),
}

impl ReloadOnPost {
    /// Reloads `path` on a `POST` from a loopback peer (see the security
    /// notes on [`ReloadOnPost`]).
    pub fn loopback_only(path: impl Into<PathBuf>) -> Self {
        Self::new(path.into(), ReloadAccess::LoopbackOnly)
    }

    /// Reloads `path` on a `POST` that carries `token` as
    /// `Authorization: Bearer <token>`.
    pub fn with_token(path: impl Into<PathBuf>, token: BearerToken) -> Self {
        Self::new(path.into(), ReloadAccess::Token(token))
    }

    fn new(path: PathBuf, access: ReloadAccess) -> Self {
        ReloadOnPost {
            path,
            access,
            one_at_a_time: Arc::new(Semaphore::new(1)),
        }
    }

    /// The config file a `POST` reloads.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Who may reload.
    pub fn access(&self) -> &ReloadAccess {
        &self.access
    }
}

/// Why a `POST` was refused: its status and what to say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
}

impl ReloadAccess {
    /// Whether a `POST` from `peer` (`None`: unknown) with `headers` may
    /// reload.
    pub(crate) fn admits(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
    ) -> Result<(), Refusal> {
        let refuse = |status, reason| Err(Refusal { status, reason });
        match self {
            ReloadAccess::LoopbackOnly => match peer {
                Some(peer) if peer.ip().to_canonical().is_loopback() => Ok(()),
                Some(_) => refuse(StatusCode::FORBIDDEN, "reload allowed from loopback only"),
                None => refuse(
                    StatusCode::FORBIDDEN,
                    "reload allowed from loopback only, and the peer address is unknown \
                     (serve the app with into_make_service_with_connect_info::<SocketAddr>())",
                ),
            },
            ReloadAccess::Token(token) => match bearer(headers) {
                None => refuse(StatusCode::UNAUTHORIZED, "reload needs a bearer token"),
                Some(presented) if token.matches(presented) => Ok(()),
                Some(_) => refuse(StatusCode::FORBIDDEN, "wrong reload token"),
            },
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| value[7..].trim_ascii())
}

/// What the `POST` handler needs: the guard to reload, and how.
#[derive(Clone)]
pub(super) struct Reloading {
    pub(super) guard: GuardHandle,
    pub(super) post: ReloadOnPost,
}

/// The `POST` handler (mounted only when opted in): checks access, then
/// reloads (the body is never read).
pub(super) async fn reload(
    State(Reloading { guard, post }): State<Reloading>,
    peer: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    headers: HeaderMap,
) -> Response {
    let peer = peer.ok().map(|ConnectInfo(peer)| peer);
    if let Err(refusal) = post.access.admits(peer, &headers) {
        tracing::warn!(
            ?peer,
            reason = refusal.reason,
            "cardinality guard: reload POST refused"
        );
        let mut response = answer(
            refusal.status,
            json!({"reloaded": false, "error": refusal.reason}),
        );
        if refusal.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cardinality-guard\""),
            );
        }
        return response;
    }
    // Held by the reload's thread until it is done: a client that hangs up
    // does not let a second reload start beside a first that waits on its file.
    let Ok(one_at_a_time) = post.one_at_a_time.clone().try_acquire_owned() else {
        return answer(
            StatusCode::CONFLICT,
            json!({"reloaded": false, "error": "a reload is under way; try again"}),
        );
    };
    let outcome = reload_off_the_runtime(&guard, post.path.clone(), one_at_a_time).await;
    outcome.log(&post.path, "POST");
    match outcome {
        Outcome::Reloaded { changed } => answer(
            StatusCode::OK,
            json!({"reloaded": true, "path": post.path.display().to_string(), "changed": changed}),
        ),
        Outcome::Refused(e @ cardinality_guard_core::ReloadError::NotBuilt) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"reloaded": false, "error": e.to_string()}),
        ),
        Outcome::Refused(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"reloaded": false, "error": e.to_string()}),
        ),
        Outcome::Failed(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"reloaded": false, "error": e}),
        ),
    }
}

/// A JSON answer, hardened as the endpoint's `GET` answers, never cached.
fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn loopback_only_admits_loopback_peers_and_nothing_else() {
        let access = ReloadAccess::LoopbackOnly;
        let none = HeaderMap::new();
        for ok in [
            "127.0.0.1:9",
            "127.8.9.10:9",
            "[::1]:9",
            "[::ffff:127.0.0.1]:9",
        ] {
            assert_eq!(
                access.admits(Some(ok.parse().unwrap()), &none),
                Ok(()),
                "{ok}"
            );
        }
        for refused in [
            "10.0.0.1:9",
            "192.168.1.2:9",
            "[::ffff:10.0.0.1]:9",
            "[2001:db8::1]:9",
            "0.0.0.0:9",
        ] {
            let refusal = access
                .admits(Some(refused.parse().unwrap()), &none)
                .unwrap_err();
            assert_eq!(refusal.status, StatusCode::FORBIDDEN, "{refused}");
        }
        // No peer address: refused, never allowed.
        let refusal = access.admits(None, &none).unwrap_err();
        assert_eq!(refusal.status, StatusCode::FORBIDDEN);
        assert!(
            refusal.reason.contains("connect_info"),
            "{}",
            refusal.reason
        );
    }

    #[test]
    fn a_token_is_needed_and_must_match_exactly() {
        let access = ReloadAccess::Token(TOKEN.parse().unwrap());
        let peer = Some("10.0.0.1:9".parse().unwrap());
        let status = |headers: &HeaderMap| access.admits(peer, headers).err().map(|r| r.status);
        assert_eq!(status(&HeaderMap::new()), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(
            status(&with_auth(&format!("Basic {TOKEN}"))),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(status(&with_auth(&format!("Bearer {TOKEN}"))), None);
        assert_eq!(status(&with_auth(&format!("bearer  {TOKEN} "))), None);
        let wrong = [
            &TOKEN[..31],
            &format!("{TOKEN}0"),
            "1123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdeF",
            "",
        ];
        for wrong in wrong {
            assert_eq!(
                status(&with_auth(&format!("Bearer {wrong}"))),
                Some(StatusCode::FORBIDDEN),
                "{wrong:?}"
            );
        }
    }
}
