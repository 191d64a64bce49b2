//! Over real HTTP: invented methods all share `method="_OTHER"`, whatever
//! their number, while the standard methods keep their names.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use axum::routing::any;
use axum::Router;
use cardinality_guard_axum::{HttpMetrics, HttpMetricsLayer};
use http::{Method, Request, Response};
use support::{
    guarded, label_values, parse, samples_named, sum_of, HttpClient, Rng, Server, ACTIVE, DURATION,
    HTTP_CONFIG, REQUESTS,
};
use tower::ServiceExt;

/// The standard methods a plain HTTP/1 client can send (CONNECT is checked
/// without HTTP below: it opens a tunnel).
const STANDARD: [Method; 8] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

fn app() -> Router {
    Router::new()
        .route("/things/{id}", any(|| async { "thing" }))
        .layer(HttpMetricsLayer::new())
}

/// `http_server_requests_total` by method label.
fn requests_by_method(text: &str) -> BTreeMap<String, f64> {
    let mut by_method = BTreeMap::new();
    for s in samples_named(&parse(text), REQUESTS) {
        *by_method.entry(s.label("method").to_owned()).or_insert(0.0) += s.value;
    }
    by_method
}

#[tokio::test]
async fn a_flood_of_invented_methods_is_one_other_value() {
    const INVENTED: usize = 200;
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(app()).await;
    let client = HttpClient::new();

    let mut rng = Rng::from_state(0xbad_f00d);
    let mut invented = BTreeSet::new();
    while invented.len() < INVENTED {
        let len = 4 + (rng.next() % 8) as usize;
        let token = rng.token(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", len);
        if STANDARD.iter().all(|m| m.as_str() != token) && token != "CONNECT" {
            invented.insert(token);
        }
    }
    for (i, token) in invented.iter().enumerate() {
        let method = Method::from_bytes(token.as_bytes()).expect("a valid token");
        // Half to a route, half to no route: both fold the method.
        let path = if i % 2 == 0 { "/things/1" } else { "/nowhere" };
        let reply = client.call(method, &server.url(path), &[]).await;
        let expected = if i % 2 == 0 {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(reply.status, expected, "{token} {path}");
    }

    let text = exporter.render();
    let other: BTreeSet<String> = [String::from("_OTHER")].into();
    for metric in [REQUESTS, DURATION, ACTIVE] {
        assert_eq!(
            label_values(&text, metric, "method"),
            other,
            "{metric}:\n{text}"
        );
    }
    assert_eq!(sum_of(&text, REQUESTS), INVENTED as f64, "{text}");
    assert_eq!(
        samples_named(&parse(&text), REQUESTS).len(),
        2,
        "one series per route (the template and `unmatched`):\n{text}"
    );
    for token in &invented {
        assert!(
            !text.contains(&format!("\"{token}\"")),
            "{token} leaked:\n{text}"
        );
    }

    // The standard methods keep their names, next to `_OTHER`.
    for method in STANDARD {
        let reply = client
            .call(method.clone(), &server.url("/things/2"), &[])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{method}");
    }
    let text = exporter.render();
    let by_method = requests_by_method(&text);
    let mut expected: BTreeMap<String, f64> = STANDARD
        .iter()
        .map(|m| (m.as_str().to_owned(), 1.0))
        .collect();
    expected.insert("_OTHER".into(), INVENTED as f64);
    assert_eq!(by_method, expected, "{text}");
    let mut names: BTreeSet<String> = STANDARD.iter().map(|m| m.to_string()).collect();
    names.insert("_OTHER".into());
    assert_eq!(label_values(&text, ACTIVE, "method"), names);
}

#[tokio::test]
async fn methods_are_case_sensitive() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(app()).await;
    let client = HttpClient::new();

    // RFC 9110: method names are case-sensitive; `get` is not GET.
    for token in ["get", "Get", "pOST"] {
        let method = Method::from_bytes(token.as_bytes()).unwrap();
        let reply = client.call(method, &server.url("/things/3"), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{token}");
    }
    let text = exporter.render();
    let expected: BTreeMap<String, f64> = [("_OTHER".to_owned(), 3.0)].into();
    assert_eq!(requests_by_method(&text), expected, "{text}");
}

#[tokio::test]
async fn all_nine_standard_methods_keep_their_names() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let service = HttpMetrics::new(tower::service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(String::new()))
    }));
    let mut nine: Vec<Method> = STANDARD.to_vec();
    nine.push(Method::CONNECT);
    for method in nine.iter().chain([&Method::from_bytes(b"PURGE").unwrap()]) {
        let request = Request::builder()
            .method(method.clone())
            .uri("/")
            .body(())
            .unwrap();
        service.clone().oneshot(request).await.unwrap();
    }
    let text = exporter.render();
    let mut expected: BTreeMap<String, f64> =
        nine.iter().map(|m| (m.as_str().to_owned(), 1.0)).collect();
    expected.insert("_OTHER".into(), 1.0);
    assert_eq!(requests_by_method(&text), expected, "{text}");
}
