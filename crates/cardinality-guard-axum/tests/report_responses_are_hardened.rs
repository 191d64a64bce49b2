//! Over real HTTP: the report endpoint takes the last of repeated `format`
//! parameters (no 400), ignores a media range with an invalid q-value, sends
//! `X-Content-Type-Options: nosniff` (the suggested `guard.toml` of
//! `?format=toml` too), and serves its page under a strict
//! `Content-Security-Policy` that allows exactly the page's one style sheet.

mod support;

use axum::http::StatusCode;
use axum::Router;
use base64::Engine as _;
use cardinality_guard_axum::ReportEndpoint;
use http::Method;
use support::{guarded, HttpClient, Reply, Server, HTTP_CONFIG};

async fn report(accept: Option<&str>, query: &str) -> Reply {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    metrics::counter!("app_things_total", "kind" => "a").increment(1);
    let app: Router = ReportEndpoint::new(exporter.guard().clone()).router();
    let server = Server::start(app).await;
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
    HttpClient::new()
        .call(
            Method::GET,
            &server.url(&format!("/debug/cardinality{query}")),
            &headers,
        )
        .await
}

fn is_json(reply: &Reply) -> bool {
    reply.status == StatusCode::OK
        && reply.content_type() == "application/json"
        && serde_json::from_str::<serde_json::Value>(&reply.body).is_ok()
}

fn is_html(reply: &Reply) -> bool {
    reply.status == StatusCode::OK
        && reply.content_type().starts_with("text/html")
        && reply.body.contains("<table id=\"metrics\">")
}

#[tokio::test]
async fn a_repeated_format_is_no_error_and_the_last_wins() {
    let reply = report(None, "?format=html&format=json").await;
    assert!(is_json(&reply), "{reply:?}");
    let reply = report(None, "?format=json&format=html").await;
    assert!(is_html(&reply), "{reply:?}");
    let reply = report(Some("text/html"), "?format=html&other=1&format=json").await;
    assert!(is_json(&reply), "{reply:?}");
}

#[tokio::test]
async fn an_invalid_q_value_does_not_count_as_one() {
    for bad in ["abc", "2", "0.0001", "inf"] {
        let accept = format!("text/html;q={bad}, application/json;q=0.5");
        let reply = report(Some(&accept), "").await;
        assert!(is_json(&reply), "{accept}: {reply:?}");
    }
    // A valid one still decides.
    let reply = report(Some("text/html;q=0.9, application/json;q=0.5"), "").await;
    assert!(is_html(&reply), "{reply:?}");
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn every_format_says_nosniff() {
    for query in ["?format=json", "?format=html", "?format=toml"] {
        let reply = report(None, query).await;
        assert_eq!(
            header(&reply, "x-content-type-options"),
            Some("nosniff"),
            "{query}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn toml_is_the_suggested_config_whatever_the_accept_header() {
    let reply = report(Some("text/html"), "?format=json&format=toml").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/toml; charset=utf-8");
    assert!(header(&reply, "content-security-policy").is_none());
    let config = cardinality_guard_core::Config::from_toml(&reply.body, "suggested.toml")
        .unwrap_or_else(|e| panic!("{e}\n{}", reply.body));
    assert!(
        reply.body.contains("match = \"app_things_total\""),
        "{}",
        reply.body
    );
    assert_eq!(
        config.policy_for("app_things_total").mode,
        cardinality_guard_core::Mode::Enforce
    );
    // The page links to it, and says what to do per metric.
    let page = report(Some("text/html"), "").await;
    assert!(
        page.body.contains("<a href=\"?format=toml\">"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("what to do: nothing to do"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_page_runs_under_a_strict_csp_allowing_exactly_its_style() {
    let reply = report(Some("text/html"), "").await;
    assert!(is_html(&reply), "{reply:?}");
    let csp = header(&reply, "content-security-policy").expect("a CSP header");
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");

    // No script, no style attribute: the one <style> element is all there is.
    let body = &reply.body;
    assert!(!body.contains("<script"), "{body}");
    assert!(!body.contains(" style="), "{body}");
    assert_eq!(body.matches("<style>").count(), 1, "{body}");
    let style = body
        .split("<style>")
        .nth(1)
        .and_then(|rest| rest.split("</style>").next())
        .expect("a <style> element");
    let digest = ring::digest::digest(&ring::digest::SHA256, style.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    assert!(
        directives.contains(&format!("style-src 'sha256-{hash}'").as_str()),
        "the CSP must allow the page's style sheet (sha256-{hash}): {csp}"
    );
}
