//! Over real HTTP on 127.0.0.1: a `POST` to the report endpoint reloads the
//! config file only when the endpoint opted in, and only under its access
//! rule (a loopback peer, or the bearer token the user set); a file that
//! can't load answers an error naming it, and the running config stays.
//! Every answer is JSON, `nosniff` and never cached.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::connect_info::MockConnectInfo;
use axum::http::StatusCode;
use axum::Router;
use cardinality_guard_axum::{BearerToken, ReloadOnPost, ReportEndpoint};
use cardinality_guard_core::PrometheusGuard;
use http::Method;
use support::{guarded, HttpClient, Reply};

const TOKEN: &str = "test-token-0123456789abcdef-0123456789";
const START: &str = "[defaults]\nmax_series = 100\n";

/// A file of its own for `test`, holding [`START`].
fn config_file(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cg-post-reload-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("guard.toml");
    std::fs::write(&path, START).unwrap();
    path
}

fn budget(exporter: &PrometheusGuard) -> u64 {
    exporter.guard().config().defaults.max_series.get()
}

/// How `app` is served: with the peer address, or without.
enum Peer {
    Known,
    Unknown,
}

async fn serve(app: Router, peer: Peer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        match peer {
            Peer::Known => {
                let service = app.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, service).await
            }
            Peer::Unknown => axum::serve(listener, app).await,
        }
    });
    addr
}

async fn post(addr: SocketAddr, headers: &[(&str, &str)]) -> Reply {
    let url = format!("http://{addr}/debug/cardinality");
    HttpClient::new().call(Method::POST, &url, headers).await
}

fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {reply:?}"))
}

/// JSON, nosniff, no-store: as hardened as the `GET` answers.
fn assert_hardened(reply: &Reply) {
    assert_eq!(reply.content_type(), "application/json", "{reply:?}");
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(
        header("x-content-type-options"),
        Some("nosniff"),
        "{reply:?}"
    );
    assert_eq!(header("cache-control"), Some("no-store"), "{reply:?}");
}

fn write(path: &Path, max_series: u64) {
    std::fs::write(path, format!("[defaults]\nmax_series = {max_series}\n")).unwrap();
}

#[tokio::test]
async fn without_opting_in_a_post_is_405_and_reloads_nothing() {
    let path = config_file("off");
    let (_recorder, exporter) = guarded(START);
    write(&path, 7);
    let app = ReportEndpoint::new(exporter.guard().clone()).router();
    let addr = serve(app, Peer::Known).await;
    let reply = post(addr, &[("authorization", &format!("Bearer {TOKEN}"))]).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{reply:?}");
    assert_eq!(budget(&exporter), 100);
    // GET still answers.
    let report = HttpClient::new()
        .get(&format!("http://{addr}/debug/cardinality"))
        .await;
    assert_eq!(report.status, StatusCode::OK);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn loopback_only_reloads_for_a_loopback_peer() {
    let path = config_file("loopback");
    let (_recorder, exporter) = guarded(START);
    let app = ReportEndpoint::new(exporter.guard().clone())
        .with_reload_on_post(ReloadOnPost::loopback_only(&path))
        .router();
    let addr = serve(app, Peer::Known).await;
    write(&path, 7);
    let reply = post(addr, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_hardened(&reply);
    let body = json(&reply);
    assert_eq!(body["reloaded"], true, "{body}");
    assert_eq!(body["changed"], serde_json::json!(["[defaults]"]), "{body}");
    assert_eq!(budget(&exporter), 7);
    // The same file again: it applies, and nothing changed.
    let body = json(&post(addr, &[]).await);
    assert_eq!(body["changed"], serde_json::json!([]), "{body}");
    // A client that sends its next POST on the answer never meets the
    // reload before (409): it is released before the answer goes out.
    for round in 0..20 {
        let reply = post(addr, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "round {round}: {reply:?}");
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn loopback_only_refuses_an_unknown_peer_and_a_remote_one() {
    let path = config_file("refused");
    let (_recorder, exporter) = guarded(START);
    write(&path, 7);
    let endpoint = ReportEndpoint::new(exporter.guard().clone())
        .with_reload_on_post(ReloadOnPost::loopback_only(&path));

    // Served without the peer address: refused, never allowed.
    let addr = serve(endpoint.clone().router(), Peer::Unknown).await;
    let reply = post(addr, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_hardened(&reply);
    assert!(reply.body.contains("connect_info"), "{}", reply.body);
    assert_eq!(budget(&exporter), 100);

    // A peer that is not loopback (tests can bind loopback only: axum's
    // stand-in for the peer address says 10.0.0.1).
    let remote = SocketAddr::from(([10, 0, 0, 1], 40000));
    let app = endpoint.router().layer(MockConnectInfo(remote));
    let addr = serve(app, Peer::Unknown).await;
    let reply = post(addr, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(budget(&exporter), 100);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn a_token_endpoint_wants_the_exact_token() {
    let path = config_file("token");
    let (_recorder, exporter) = guarded(START);
    write(&path, 7);
    let token: BearerToken = TOKEN.parse().unwrap();
    let app = ReportEndpoint::new(exporter.guard().clone())
        .with_reload_on_post(ReloadOnPost::with_token(&path, token))
        .router();
    // From anywhere: the token decides, not the peer.
    let app = app.layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 1], 1))));
    let addr = serve(app, Peer::Unknown).await;

    let reply = post(addr, &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert_hardened(&reply);
    let challenge = reply
        .headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "{reply:?}"
    );
    assert_eq!(budget(&exporter), 100);

    let wrong = format!("Bearer {}x", &TOKEN[..TOKEN.len() - 1]);
    let reply = post(addr, &[("authorization", &wrong)]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert!(!reply.body.contains(TOKEN), "{}", reply.body);
    assert_eq!(budget(&exporter), 100);

    let right = format!("Bearer {TOKEN}");
    let reply = post(addr, &[("authorization", &right)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(budget(&exporter), 7);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn a_bad_file_answers_its_error_and_keeps_the_running_config() {
    let path = config_file("bad");
    let (_recorder, exporter) = guarded(START);
    let app = ReportEndpoint::new(exporter.guard().clone())
        .with_reload_on_post(ReloadOnPost::loopback_only(&path))
        .router();
    let addr = serve(app, Peer::Known).await;
    std::fs::write(&path, "[defaults]\n\nmax_series = \"lots\"\n").unwrap();
    let reply = post(addr, &[]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{reply:?}");
    assert_hardened(&reply);
    let body = json(&reply);
    assert_eq!(body["reloaded"], false, "{body}");
    let error = body["error"].as_str().unwrap();
    let named = format!("{}:3: key `defaults.max_series`", path.display());
    assert!(error.contains(&named), "file, line and key: {error}");
    assert_eq!(budget(&exporter), 100);
    let text = exporter.render();
    assert!(
        text.contains("cardinality_guard_config_last_reload_successful 0"),
        "{text}"
    );

    // Fixed: it applies, and the self-report says so.
    write(&path, 9);
    let reply = post(addr, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(budget(&exporter), 9);
    let text = exporter.render();
    assert!(
        text.contains("cardinality_guard_config_last_reload_successful 1"),
        "{text}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
