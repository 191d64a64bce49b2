//! Over real HTTP: the `route` label is the matched route template (nested
//! routers included), every unmatched path shares the one value `unmatched`,
//! `method` and `status` are the method name and the numeric code, and a
//! flood of random paths adds no series and leaks no raw path into the render.

mod support;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use cardinality_guard_axum::HttpMetricsLayer;
use http::Method;
use support::{
    guarded, label_values, parse, samples_named, sum_of, value_exact, HttpClient, Rng, Server,
    ACTIVE, DURATION, HTTP_CONFIG, REQUESTS,
};

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "home" }))
        .route(
            "/users/{id}",
            get(|| async { "user" }).post(|| async { StatusCode::CREATED }),
        )
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .nest(
            "/api",
            Router::new().route("/items/{id}", get(|| async { "item" })),
        )
        .layer(HttpMetricsLayer::new())
}

fn requests(text: &str, method: &str, route: &str, status: &str) -> Option<f64> {
    value_exact(
        text,
        REQUESTS,
        &[("method", method), ("route", route), ("status", status)],
    )
}

#[tokio::test]
async fn matched_routes_are_labelled_by_their_template() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(app()).await;
    let client = HttpClient::new();

    for path in ["/users/42", "/users/alice", "/users/42"] {
        let reply = client.get(&server.url(path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    let reply = client.get(&server.url("/api/items/7")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = client.get(&server.url("/")).await;
    assert_eq!(reply.status, StatusCode::OK);

    let text = exporter.render();
    assert_eq!(
        requests(&text, "GET", "/users/{id}", "200"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        requests(&text, "GET", "/api/items/{id}", "200"),
        Some(1.0),
        "the nested route is labelled with its full template:\n{text}"
    );
    assert_eq!(requests(&text, "GET", "/", "200"), Some(1.0), "{text}");

    // The duration histogram and the in-flight gauge carry the same templates.
    let durations = [
        ("method", "GET"),
        ("route", "/users/{id}"),
        ("status", "200"),
    ];
    assert_eq!(
        value_exact(&text, &format!("{DURATION}_count"), &durations),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value_exact(
            &text,
            ACTIVE,
            &[("method", "GET"), ("route", "/users/{id}")]
        ),
        Some(0.0),
        "{text}"
    );
    let routes = label_values(&text, REQUESTS, "route");
    let expected: BTreeSet<String> = ["/", "/users/{id}", "/api/items/{id}"]
        .map(String::from)
        .into();
    assert_eq!(routes, expected, "{text}");
    for metric in [DURATION, ACTIVE] {
        assert_eq!(label_values(&text, metric, "route"), expected, "{metric}");
    }

    // Raw paths and path parameters appear nowhere.
    for raw in [
        "/users/42",
        "/users/alice",
        "/api/items/7",
        "alice",
        "\"42\"",
    ] {
        assert!(!text.contains(raw), "{raw} leaked into the render:\n{text}");
    }
}

#[tokio::test]
async fn status_is_the_numeric_code_and_method_the_method_name() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(app()).await;
    let client = HttpClient::new();

    let reply = client
        .call(Method::POST, &server.url("/users/9"), &[])
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let reply = client.get(&server.url("/teapot")).await;
    assert_eq!(reply.status, StatusCode::IM_A_TEAPOT);
    let reply = client.get(&server.url("/no/such/page")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // A known path with a method it does not serve.
    let reply = client
        .call(Method::DELETE, &server.url("/users/9"), &[])
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);

    let text = exporter.render();
    assert_eq!(
        requests(&text, "POST", "/users/{id}", "201"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        requests(&text, "GET", "/teapot", "418"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        requests(&text, "GET", "unmatched", "404"),
        Some(1.0),
        "{text}"
    );
    let samples = parse(&text);
    let deletes: Vec<_> = samples_named(&samples, REQUESTS)
        .into_iter()
        .filter(|s| s.label("method") == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{text}");
    assert_eq!(deletes[0].label("status"), "405", "{text}");
    assert_eq!(
        deletes[0].label("route"),
        "/users/{id}",
        "the path matched a route (only the method did not): {deletes:?}"
    );

    // Every status value is a three-digit code, every sample has exactly the
    // three documented labels.
    for s in samples_named(&samples, REQUESTS) {
        let keys: Vec<&str> = s.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, ["method", "route", "status"], "{s:?}");
        let status = s.label("status");
        assert!(
            status.len() == 3 && status.parse::<u16>().is_ok(),
            "status label {status:?} is not numeric"
        );
    }
    for s in samples_named(&samples, ACTIVE) {
        let keys: Vec<&str> = s.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, ["method", "route"], "{s:?}");
    }
    assert!(!text.contains("/no/such/page"), "{text}");
}

#[tokio::test]
async fn a_flood_of_random_paths_is_one_unmatched_series() {
    const FLOOD: usize = 10_000;
    const WORKERS: usize = 16;
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let server = Server::start(app()).await;
    let client = HttpClient::new();

    // Random paths of one to three segments (none matches a route: every
    // segment is 12 random characters), some with a query string.
    let mut rng = Rng::from_state(0x5eed_cafe);
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789-_.~";
    let paths: Vec<String> = (0..FLOOD)
        .map(|i| {
            let segments = 1 + (rng.next() % 3) as usize;
            let mut path: String = (0..segments)
                .map(|_| format!("/{}", rng.token(alphabet, 12)))
                .collect();
            if i % 10 == 0 {
                path.push_str(&format!("?q={}", rng.token(alphabet, 8)));
            }
            path
        })
        .collect();
    let unique: BTreeSet<&String> = paths.iter().collect();
    assert_eq!(unique.len(), FLOOD, "the flood is made of distinct paths");

    let mut workers = tokio::task::JoinSet::new();
    for chunk in paths.chunks(FLOOD / WORKERS + 1) {
        let urls: Vec<String> = chunk.iter().map(|p| server.url(p)).collect();
        let client = client.clone();
        workers.spawn(async move {
            for url in urls {
                let reply = client.get(&url).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{url}");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("a flood worker failed");
    }

    let text = exporter.render();
    let samples = parse(&text);
    let flood = samples_named(&samples, REQUESTS);
    assert_eq!(
        flood.len(),
        1,
        "exactly one series for the whole flood:\n{text}"
    );
    assert_eq!(flood[0].label("route"), "unmatched");
    assert_eq!(flood[0].label("method"), "GET");
    assert_eq!(flood[0].label("status"), "404");
    assert_eq!(sum_of(&text, REQUESTS), FLOOD as f64);
    assert_eq!(
        sum_of(&text, &format!("{DURATION}_count")),
        FLOOD as f64,
        "{text}"
    );
    let one: BTreeSet<String> = [String::from("unmatched")].into();
    assert_eq!(label_values(&text, DURATION, "route"), one);
    assert_eq!(label_values(&text, ACTIVE, "route"), one);
    assert_eq!(
        value_exact(&text, ACTIVE, &[("method", "GET"), ("route", "unmatched")]),
        Some(0.0)
    );

    // The guard agrees: one label set per HTTP metric, nothing folded.
    let report = exporter.report();
    let total = report.metric(REQUESTS).expect("requests_total is guarded");
    assert_eq!(total.series, 1);
    assert_eq!(total.overflow.total(), 0);

    // Not one raw path (nor its query string) reached the exporter.
    for path in &paths {
        for piece in path.split(['/', '?', '=']).filter(|s| s.len() >= 8) {
            assert!(
                !text.contains(piece),
                "{path} leaked into the render:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn fallbacks_and_nested_services_never_leak_the_path() {
    let (guard, exporter) = guarded(HTTP_CONFIG);
    let _local = metrics::set_default_local_recorder(&guard);
    let files = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::from("file")))
    });
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .nest_service("/static", files)
        .nest(
            "/api",
            Router::new()
                .route("/items/{id}", get(|| async { "item" }))
                .fallback(|| async { (StatusCode::NOT_FOUND, "api fallback") }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "fallback") })
        .layer(HttpMetricsLayer::new());
    let server = Server::start(app).await;
    let client = HttpClient::new();

    let paths = [
        ("/static/css/site-8f3e2a.css", StatusCode::OK),
        ("/static/js/app-d41d8c.js", StatusCode::OK),
        ("/api/nothing-here-5a5a", StatusCode::NOT_FOUND),
        ("/api/items/1/extra-7b7b", StatusCode::NOT_FOUND),
        ("/wp-login-9c9c.php", StatusCode::NOT_FOUND),
        ("/users/1/trailing-6d6d", StatusCode::NOT_FOUND),
    ];
    for (path, status) in paths {
        assert_eq!(client.get(&server.url(path)).await.status, status, "{path}");
    }
    let text = exporter.render();
    // The nested service's requests share one bounded value (axum gives no
    // template below a `nest_service` mount); fallbacks are `unmatched`.
    let routes = label_values(&text, REQUESTS, "route");
    assert!(
        routes
            .iter()
            .all(|r| ["/static", "unmatched"].contains(&r.as_str())),
        "{routes:?}"
    );
    assert_eq!(sum_of(&text, REQUESTS), paths.len() as f64);
    for (path, _) in paths {
        let tail = path.rsplit('/').next().unwrap();
        assert!(!text.contains(tail), "{path} leaked:\n{text}");
    }
}
