//! Over real HTTP: the report's JSON carries when it was generated and each
//! metric's history; the page reloads itself only for a `refresh` within
//! bounds, and links to turn that on and off.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use cardinality_guard_axum::ReportEndpoint;
use http::Method;
use support::{guarded, HttpClient, Reply, Server, HTTP_CONFIG};

async fn report(query: &str) -> Reply {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    metrics::counter!("app_things_total", "kind" => "a").increment(1);
    metrics::counter!("app_things_total", "kind" => "b").increment(1);
    let app: Router = ReportEndpoint::new(exporter.guard().clone()).router();
    let server = Server::start(app).await;
    HttpClient::new()
        .call(
            Method::GET,
            &server.url(&format!("/debug/cardinality{query}")),
            &[],
        )
        .await
}

#[tokio::test]
async fn the_json_carries_generated_at_and_history() {
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let reply = report("?format=json").await;
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let at = json["generated_at_unix_ms"]
        .as_u64()
        .expect("generated_at_unix_ms");
    assert!(
        u128::from(at) + 1 >= before.as_millis() && at < before.as_millis() as u64 + 60_000,
        "{at} vs {before:?}"
    );
    let things = json["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "app_things_total")
        .unwrap();
    assert_eq!(things["history"], serde_json::json!([2]), "{things}");
}

#[tokio::test]
async fn refresh_within_bounds_adds_a_meta_refresh() {
    let meta = |seconds: &str| format!("<meta http-equiv=\"refresh\" content=\"{seconds}\">");
    for ok in ["5", "30", "3600"] {
        let page = report(&format!("?format=html&refresh={ok}")).await.body;
        assert!(page.contains(&meta(ok)), "{ok}: {page}");
        assert!(page.contains(">stop refreshing</a>"), "{page}");
    }
    for ignored in ["", "0", "4", "3601", "abc", "-30", "30.5", "1e3"] {
        let page = report(&format!("?format=html&refresh={ignored}"))
            .await
            .body;
        assert!(page.contains("<table id=\"metrics\">"), "{page}");
        assert!(!page.contains("http-equiv"), "{ignored:?}: {page}");
        assert!(
            page.contains("refresh=30\">refresh every 30 s</a>"),
            "{page}"
        );
    }
}
