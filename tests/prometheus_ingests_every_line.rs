//! Every line the guard renders is one a real Prometheus ingests, as its own
//! series, whatever the input; idle expiry never loses an update a scrape
//! has not seen. Each test serves `/metrics` over HTTP on 127.0.0.1:
//! 1. hostile names, keys and values: the target stays `up`, every rendered
//!    sample line is scraped and stored as its own series;
//! 2. label values are escaped losslessly, all the way into the TSDB;
//! 3. the crafted-id attack on the example service (`C:\\data` beside
//!    `C:\data`) merges nothing, and the self-report matches each scrape;
//! 4. an idle timeout shorter than the scrape interval loses no series.
//!
//! Needs Debian's `prometheus` (`.ci/test` installs it). Without it the
//! tests fail when `CI` is set, and otherwise say they skipped.

#[path = "../examples/shared/app.rs"]
mod app;
#[path = "support/prometheus_api.rs"]
mod prometheus_api;
#[path = "support/prometheus_server.rs"]
mod prometheus_server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use cardinality_guard::text::{Format, Line, Parser};
use cardinality_guard::{Clock, Config, ManualClock, PrometheusGuard};
use prometheus_api::{client, eventually, get, query, scalar, PATIENCE};
use prometheus_server::{prometheus_installed, start_prometheus};

/// What a `/metrics` endpoint served: how many scrapes, and every body.
#[derive(Default)]
struct Served {
    scrapes: AtomicU64,
    bodies: Mutex<Vec<String>>,
}

impl Served {
    /// The body of scrape `n` (1-based).
    fn body(&self, n: u64) -> String {
        let bodies = self.bodies.lock().unwrap();
        bodies.get(n as usize - 1).cloned().unwrap_or_default()
    }
}

/// Serves `guard.render()` at `/metrics` on an ephemeral 127.0.0.1 port.
async fn serve_guard(guard: PrometheusGuard) -> (SocketAddr, Arc<Served>) {
    let served = Arc::new(Served::default());
    let state = served.clone();
    let app = Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (guard, state) = (guard.clone(), state.clone());
            async move {
                // Rendered under the lock of `bodies`: a test holding it
                // knows no scrape renders meanwhile.
                let mut bodies = state.bodies.lock().unwrap();
                let text = guard.render();
                bodies.push(text.clone());
                state.scrapes.fetch_add(1, Ordering::SeqCst);
                drop(bodies);
                (
                    [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    text,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, served)
}

/// A guard built from `toml` without installing anything: the tests record
/// into its recorder through `metrics::with_local_recorder`.
fn local_guard(toml: &str) -> (cardinality_guard::GuardRecorder, PrometheusGuard) {
    local_guard_on(toml, Clock::system())
}

/// [`local_guard`] on `clock`.
fn local_guard_on(toml: &str, clock: Clock) -> (cardinality_guard::GuardRecorder, PrometheusGuard) {
    let config = Config::from_toml(toml, "<test>").expect("valid config");
    PrometheusGuard::builder(config)
        .clock(clock)
        .build()
        .expect("the guard builds")
}

/// One sample line of the text format, parsed: name, labels (unescaped),
/// value as written.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: String,
}

/// The sample lines of an exposition (comments and blank lines skipped),
/// read by core's parser with the strict escapes of OpenMetrics
/// (`Format::Auto`). Panics on a line that is not valid text format, or
/// not `name{labels} value` with one space and no timestamp: that is a bug
/// too.
fn samples(text: &str) -> Vec<Sample> {
    let mut parser = Parser::new(Format::Auto);
    let mut samples = Vec::new();
    for line in text.lines() {
        let parsed = parser
            .line(line)
            .unwrap_or_else(|e| panic!("not a valid line: {e}: {line:?}"));
        let Line::Sample(s) = parsed else {
            continue;
        };
        let one_space_before_the_value = line
            .strip_suffix(s.value_text)
            .and_then(|head| head.strip_suffix(' '))
            .is_some_and(|head| !head.ends_with([' ', '\t']));
        assert!(
            s.timestamp.is_none() && one_space_before_the_value,
            "not a valid sample line: {line:?}"
        );
        samples.push(Sample {
            name: s.name.to_owned(),
            labels: s
                .labels
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.into_owned()))
                .collect(),
            value: s.value_text.to_owned(),
        });
    }
    samples
}

const HOSTILE_TOML: &str = r#"
[histograms]
# `bucketed` renders buckets; every other histogram renders as a summary.
buckets = "summary"
[[histograms.per_metric]]
match = "bucketed"
buckets = [0.1, 1]
"#;

/// 1. Hostile input keeps the target up, and every rendered line is
/// ingested as its own series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_keeps_the_target_up_and_every_line_is_a_series() {
    if !prometheus_installed() {
        return;
    }
    let (recorder, guard) = local_guard(HOSTILE_TOML);
    let long = "v".repeat(5_000);
    let values = [
        "plain",
        "quo\"te",
        "back\\slash",
        "new\nline",
        "trailing\\",
        "\\\"\n\\n",
        "ünïcødé ✓ 🚀 中文",
        "tab\tcr\rnul\0end",
        "a},b=\"c\",d=\"",
        " ",
        long.as_str(),
    ];
    metrics::with_local_recorder(&recorder, || {
        for (i, value) in values.iter().enumerate() {
            metrics::counter!("hostile_values_total", "user" => value.to_string())
                .increment(i as u64 + 1);
        }
        // Label keys that can't render.
        metrics::counter!("hostile_keys_total", "" => "empty-key", "kind" => "a").increment(1);
        metrics::counter!("hostile_keys_total", "__name__" => "evil", "kind" => "b").increment(1);
        metrics::counter!("hostile_keys_total", "__meta" => "x", "kind" => "c").increment(1);
        metrics::counter!("hostile_keys_total", "dotted.key" => "d", "kind" => "d").increment(1);
        // Two spellings of one key (the last value wins), a key that
        // sanitizes into the reserved `__` prefix, one that starts with a digit.
        metrics::counter!("hostile_keys_total", "dup.key" => "1", "dup_key" => "2", "kind" => "e")
            .increment(1);
        metrics::counter!("hostile_keys_total", "_.x" => "reserved", "kind" => "f").increment(1);
        metrics::counter!("hostile_keys_total", "9lives" => "cat", "kind" => "g").increment(1);
        metrics::histogram!("bucketed", "le" => "0.5", "path" => "/").record(0.2);
        metrics::histogram!("bucketed", "path" => "/x").record(2.0);
        metrics::histogram!("summarized", "quantile" => "0.5", "path" => "/").record(0.2);
        metrics::histogram!("summarized", "path" => "/x").record(2.0);
        // Names that can't render, or render alike.
        metrics::counter!("").increment(1);
        metrics::counter!("", "user" => "nameless").increment(1);
        metrics::counter!("dotted.name.total").increment(1);
        metrics::describe_counter!(
            "hostile_values_total",
            "Help with a\nnewline, a back\\slash and \"quotes\""
        );
        metrics::describe_gauge!("weird_gauge", "");
        for (i, v) in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -0.0,
            5e-324,
        ]
        .into_iter()
        .enumerate()
        {
            metrics::gauge!("weird_gauge", "i" => i.to_string()).set(v);
        }
        metrics::counter!("huge_total").absolute(u64::MAX);
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
            metrics::histogram!("bucketed", "path" => "/weird").record(v);
            metrics::histogram!("summarized", "path" => "/weird").record(v);
        }
        metrics::counter!("ünï.métrique").increment(1);
        metrics::counter!("9_starts_with_a_digit").increment(1);
        // Another spelling of a name already rendered: the same series.
        metrics::counter!("hostile.values.total", "user" => "plain").increment(100);
        metrics::counter!("same").increment(1);
        metrics::gauge!("same").set(7.0);
        metrics::histogram!("x").record(1.0);
        metrics::counter!("x_count").increment(7);
        metrics::counter!("x_sum").increment(7);
        metrics::gauge!("cardinality_guard_series", "metric" => "x").set(1e6);
        metrics::counter!("cardinality_guard_overflow_total", "metric" => "x").increment(1);
    });
    // The workload is static from here on: every render has the same lines.
    let text = guard.render();
    let rendered = samples(&text);
    assert_eq!(
        samples(&guard.render()).len(),
        rendered.len(),
        "two renders of a static workload"
    );
    // The guard itself: the hostile values are lossless, the long one replaced.
    let users: Vec<&str> = rendered
        .iter()
        .filter(|s| s.name == "hostile_values_total")
        .map(|s| s.labels["user"].as_str())
        .collect();
    let mut expected_users: Vec<&str> = values[..values.len() - 1].to_vec();
    expected_users.push("__overflow__");
    expected_users.sort_unstable();
    let mut sorted_users = users.clone();
    sorted_users.sort_unstable();
    assert_eq!(sorted_users, expected_users, "in the render:\n{text}");
    // The refused: a second kind under a taken name, a name a family
    // renders, the reserved namespace, empty names.
    let value_of = |name: &str, labels: &[(&str, &str)]| -> Vec<&str> {
        rendered
            .iter()
            .filter(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value.as_str())
            .collect()
    };
    assert_eq!(
        value_of("same", &[]),
        ["1"],
        "the counter `same` only:\n{text}"
    );
    assert_eq!(
        value_of("x_count", &[]),
        ["1"],
        "the summary's count only:\n{text}"
    );
    assert_eq!(
        value_of("x_sum", &[]),
        ["1"],
        "the summary's sum only:\n{text}"
    );
    assert_eq!(
        value_of("cardinality_guard_series", &[("metric", "x")]),
        ["9"],
        "the self-report, not the spoof:\n{text}"
    );
    assert_eq!(
        value_of(
            "cardinality_guard_overflow_total",
            &[("metric", "__invalid__"), ("reason", "invalid")]
        ),
        ["7"],
        "refused: two empty names, gauge `same`, `x_count`, `x_sum`, two reserved names:\n{text}"
    );
    eprintln!("hostile render: {} sample lines", rendered.len());
    if std::env::var_os("CG_SHOW_RENDER").is_some() {
        eprintln!("{text}");
    }

    let (target, _served) = serve_guard(guard.clone()).await;
    let client = client();
    let prometheus = start_prometheus(&client, "hostile", target, "1s").await;
    let lines = rendered.len() as f64;
    let scraped = eventually(PATIENCE, Duration::from_millis(100), || async {
        let up = scalar(&client, prometheus.addr, "up{job=\"hostile\"}").await?;
        let n = scalar(
            &client,
            prometheus.addr,
            "scrape_samples_scraped{job=\"hostile\"}",
        )
        .await?;
        Some((up, n))
    })
    .await;
    let (up, n) =
        scraped.unwrap_or_else(|| panic!("no scrape of the target: {}", prometheus.log()));
    assert_eq!(
        up,
        1.0,
        "up{{job=\"hostile\"}}; prometheus log: {}",
        prometheus.log()
    );
    assert_eq!(
        n, lines,
        "scrape_samples_scraped vs sample lines rendered:\n{text}"
    );
    let added = scalar(
        &client,
        prometheus.addr,
        "max_over_time(scrape_series_added{job=\"hostile\"}[1m])",
    )
    .await;
    assert!(
        added.is_some_and(|a| a > 0.0),
        "scrape_series_added: {added:?}"
    );
    // Every line is its own series in the TSDB (the scrape's own synthetic
    // series `up` and `scrape_*` left out).
    let promql = "count({__name__=~\".+\", job=\"hostile\", \
                  __name__!~\"up|scrape_(duration_seconds|samples_scraped|samples_post_metric_relabeling|series_added)\"})";
    let stored = eventually(PATIENCE, Duration::from_millis(100), || async {
        scalar(&client, prometheus.addr, promql)
            .await
            .filter(|c| *c == lines)
    })
    .await;
    let last = scalar(&client, prometheus.addr, promql).await;
    assert_eq!(
        stored,
        Some(lines),
        "series stored for the job (last seen {last:?}) vs sample lines rendered:\n{text}"
    );
    // The TSDB holds the hostile values exactly as they were recorded.
    let held = query(
        &client,
        prometheus.addr,
        "hostile_values_total{job=\"hostile\"}",
    )
    .await;
    let mut held_users: Vec<String> = held
        .iter()
        .map(|(labels, _)| labels["user"].as_str().unwrap_or_default().to_owned())
        .collect();
    held_users.sort_unstable();
    assert_eq!(held_users, expected_users, "label values in Prometheus");
    let same = query(&client, prometheus.addr, "same{job=\"hostile\"}").await;
    assert_eq!(
        same.iter().map(|r| r.1).collect::<Vec<_>>(),
        [1.0],
        "`same` in Prometheus: the counter only"
    );
    eprintln!(
        "hostile: up={up} scrape_samples_scraped={n} lines={lines} series_added(max)={added:?} stored={stored:?}"
    );
}

/// 2. Values that a lossy escaping would merge stay four series in the TSDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossless_escaping_reaches_the_tsdb() {
    if !prometheus_installed() {
        return;
    }
    let (recorder, guard) = local_guard("");
    let logins: [(&str, u64); 4] = [("a\\", 5), ("a\\\\", 6), ("a\"b", 3), ("a\\\"b", 4)];
    metrics::with_local_recorder(&recorder, || {
        for (user, times) in logins {
            for _ in 0..times {
                metrics::counter!("logins_total", "user" => user).increment(1);
            }
        }
    });
    let (target, _served) = serve_guard(guard).await;
    let client = client();
    let prometheus = start_prometheus(&client, "escaping", target, "1s").await;
    let total = eventually(PATIENCE, Duration::from_millis(100), || async {
        scalar(&client, prometheus.addr, "sum(logins_total)").await
    })
    .await;
    assert_eq!(
        total,
        Some(18.0),
        "sum(logins_total); log: {}",
        prometheus.log()
    );
    let count = scalar(&client, prometheus.addr, "count(logins_total)").await;
    assert_eq!(count, Some(4.0), "count(logins_total)");
    let held: BTreeMap<String, f64> = query(&client, prometheus.addr, "logins_total")
        .await
        .into_iter()
        .map(|(labels, v)| (labels["user"].as_str().unwrap_or_default().to_owned(), v))
        .collect();
    let expected: BTreeMap<String, f64> = logins
        .iter()
        .map(|(u, n)| (u.to_string(), *n as f64))
        .collect();
    assert_eq!(
        held, expected,
        "each user's logins, as Prometheus holds them"
    );
    eprintln!("escaping: sum={total:?} count={count:?} held={held:?}");
}

const ATTACK_TOML: &str = r#"
[defaults]
idle_timeout = "2s"
"#;

/// The `app_logins_total` lines of an exposition, by user, and the
/// self-reported series of that metric.
fn logins_in(text: &str) -> (BTreeMap<String, u64>, usize, Option<u64>) {
    let all = samples(text);
    let lines: Vec<&Sample> = all
        .iter()
        .filter(|s| s.name == "app_logins_total")
        .collect();
    let by_user = lines
        .iter()
        .map(|s| {
            (
                s.labels.get("user").cloned().unwrap_or_default(),
                s.value.parse().expect("a counter value"),
            )
        })
        .collect();
    let reported = all
        .iter()
        .find(|s| {
            s.name == "cardinality_guard_series"
                && s.labels.get("metric").map(String::as_str) == Some("app_logins_total")
        })
        .map(|s| s.value.parse().expect("a gauge value"));
    (by_user, lines.len(), reported)
}

/// 3. The crafted-id attack through the real example service over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_ids_do_not_merge_or_expire_a_live_series() {
    let config = Config::from_toml(ATTACK_TOML, "<attack>").expect("valid config");
    // The only test of this file that installs the global recorder: the
    // example app records through the `metrics` macros.
    // Idle time is the guard's manual clock: each login moves it on by
    // `BETWEEN`, so the live series is never idle for its timeout and the
    // crafted one is, however fast or slowly the requests run.
    let clock = ManualClock::new();
    let exporter = PrometheusGuard::builder(config)
        .clock(clock.clone().into())
        .install()
        .expect("the guard installs (one test per process)");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = listener.local_addr().unwrap();
    let app = app::router(app::Exposition::Guarded(exporter.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = client();

    const CRAFTED: &str = "C:\\\\data"; // two backslashes
    const LIVE: &str = "C:\\data"; // one
    let (status, _) = get(&client, format!("http://{service}/users/C:%5C%5Cdata"))
        .await
        .expect("the service answers");
    assert_eq!(status, 200);

    /// Logins of the live user, each `BETWEEN` apart on the guard's clock:
    /// 6 s of it in all, three times the idle timeout.
    const LOGINS: u64 = 30;
    const BETWEEN: Duration = Duration::from_millis(200);
    /// Scrapes: one before the logins, the rest while they run (spread over
    /// them by count); then one more once they are all in.
    const SCRAPES: u64 = 10;
    let started = Arc::new(AtomicU64::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    let scrape = || {
        let (client, started, completed) = (client.clone(), started.clone(), completed.clone());
        async move {
            let before = completed.load(Ordering::SeqCst);
            let (status, text) = get(&client, format!("http://{service}/metrics"))
                .await
                .expect("/metrics answers");
            let after = started.load(Ordering::SeqCst);
            assert_eq!(status, 200);
            (before, after, text)
        }
    };
    // The first scrape before the first login: the crafted series' idle
    // time counts from there, at 0 on the clock.
    let mut scrapes = vec![scrape().await];
    let logins = {
        let (client, started, completed) = (client.clone(), started.clone(), completed.clone());
        tokio::spawn(async move {
            for _ in 0..LOGINS {
                clock.advance(BETWEEN);
                started.fetch_add(1, Ordering::SeqCst);
                let answer = get(&client, format!("http://{service}/users/C:%5Cdata")).await;
                assert_eq!(answer.map(|a| a.0), Some(200), "GET /users/C:%5Cdata");
                completed.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    for i in 1..SCRAPES {
        // Scrape `i` once `i` tenths of the logins are done, while the rest run.
        let due = i * LOGINS / SCRAPES;
        let reached = eventually(PATIENCE, Duration::from_millis(10), || {
            let completed = completed.clone();
            async move { (completed.load(Ordering::SeqCst) >= due).then_some(()) }
        })
        .await;
        assert!(reached.is_some(), "{due} logins within {PATIENCE:?}");
        scrapes.push(scrape().await);
    }
    logins.await.expect("the logins ran");
    let total = completed.load(Ordering::SeqCst);
    assert_eq!(total, LOGINS, "every login answered");
    // One more scrape once every login is in.
    scrapes.push(scrape().await);
    assert_eq!(scrapes.len() as u64, SCRAPES + 1);

    let mut crafted_seen = Vec::new();
    for (i, (before, after, text)) in scrapes.iter().enumerate() {
        let (by_user, lines, reported) = logins_in(text);
        assert_eq!(
            reported,
            Some(lines as u64),
            "scrape {i}: cardinality_guard_series{{metric=\"app_logins_total\"}} vs its lines:\n{text}"
        );
        match by_user.get(LIVE) {
            Some(count) => assert!(
                before <= count && count <= after,
                "scrape {i}: app_logins_total{{user={LIVE:?}}} = {count}, requests done before \
                 the scrape {before}, started by its end {after}:\n{text}"
            ),
            None => assert_eq!(
                *before, 0,
                "scrape {i}: app_logins_total{{user={LIVE:?}}} missing after {before} logins:\n{text}"
            ),
        }
        if let Some(count) = by_user.get(CRAFTED) {
            assert_eq!(
                *count, 1,
                "scrape {i}: the crafted series counts its one request"
            );
        }
        crafted_seen.push(by_user.contains_key(CRAFTED));
        for user in by_user.keys() {
            assert!(
                user == LIVE || user == CRAFTED,
                "scrape {i}: an unexpected user {user:?}:\n{text}"
            );
        }
    }
    assert!(
        crafted_seen[0],
        "the first scrape renders the crafted series (no scrape had seen it yet):\n{}",
        scrapes[0].2
    );
    assert!(
        !crafted_seen.last().copied().unwrap_or(true),
        "the crafted series, idle 6 s of the clock with idle_timeout 2s, expired:\n{}",
        scrapes.last().map(|s| s.2.as_str()).unwrap_or_default()
    );
    let (by_user, _, _) = logins_in(&scrapes.last().unwrap().2);
    assert_eq!(
        by_user.get(LIVE),
        Some(&total),
        "every login of {LIVE:?} counted"
    );
    eprintln!(
        "attack: {total} logins of {LIVE:?}, {} scrapes, crafted series seen in {} of them; final {by_user:?}",
        scrapes.len(),
        crafted_seen.iter().filter(|c| **c).count()
    );
}

const SHORT_IDLE_TOML: &str = r#"
[defaults]
idle_timeout = "1s"
"#;

/// 4. An idle timeout shorter than the scrape interval loses nothing: every
/// series is scraped at least once before it expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_shorter_than_the_scrape_interval_loses_nothing() {
    if !prometheus_installed() {
        return;
    }
    const USERS: usize = 200;
    /// How long the burst's series are idle (by the guard's clock) before
    /// the next scrape: three times their timeout.
    const IDLE_FOR: Duration = Duration::from_secs(3);
    let clock = ManualClock::new();
    let (recorder, guard) = local_guard_on(SHORT_IDLE_TOML, clock.clone().into());
    let (target, served) = serve_guard(guard.clone()).await;
    let client = client();
    let prometheus = start_prometheus(&client, "idle", target, "3s").await;
    let scrapes = |n: u64| {
        let served = served.clone();
        async move {
            eventually(PATIENCE, Duration::from_millis(100), || {
                let served = served.clone();
                async move { (served.scrapes.load(Ordering::SeqCst) >= n).then_some(()) }
            })
            .await
            .is_some()
        }
    };
    assert!(scrapes(1).await, "no first scrape: {}", prometheus.log());
    // The burst, after a scrape: every series is idle for `IDLE_FOR`, three
    // times its timeout, before the next scrape. No scrape renders while
    // `bodies` is held, so the next one sees every login idle that long,
    // however long Prometheus takes to come.
    // User code keeps its handles (as `metrics` users do): they don't keep
    // the series from expiring, and bring them back when used again.
    let (first, handles) = {
        let _no_scrape = served.bodies.lock().unwrap();
        let first = served.scrapes.load(Ordering::SeqCst);
        let handles: Vec<metrics::Counter> = metrics::with_local_recorder(&recorder, || {
            (0..USERS)
                .map(|user| metrics::counter!("logins_total", "user" => format!("u{user}")))
                .collect()
        });
        for handle in &handles {
            handle.increment(1);
        }
        // The upkeep the background thread runs every quarter of the idle
        // timeout: it sees the updates (idleness counts from there).
        guard.run_upkeep();
        clock.advance(IDLE_FOR);
        (first, handles)
    };
    // The next scrape renders every login, though each has been idle for
    // longer than its timeout by then.
    assert!(
        scrapes(first + 1).await,
        "a scrape after the burst: {}",
        prometheus.log()
    );
    let next = served.body(first + 1);
    let count_lines = |text: &str| -> (usize, Option<String>) {
        let all = samples(text);
        let lines = all.iter().filter(|s| s.name == "logins_total").count();
        let reported = all
            .iter()
            .find(|s| {
                s.name == "cardinality_guard_series"
                    && s.labels.get("metric").map(String::as_str) == Some("logins_total")
            })
            .map(|s| s.value.clone());
        (lines, reported)
    };
    assert_eq!(
        count_lines(&next),
        (USERS, Some(USERS.to_string())),
        "the scrape {IDLE_FOR:?} after the burst renders every login:\n{next}"
    );
    assert!(
        scrapes(first + 2).await,
        "two scrapes after the burst: {}",
        prometheus.log()
    );
    let promql = "count(count_over_time(logins_total{job=\"idle\"}[1m]))";
    let counted = eventually(PATIENCE, Duration::from_millis(100), || async {
        scalar(&client, prometheus.addr, promql)
            .await
            .filter(|c| *c == USERS as f64)
    })
    .await;
    let last = scalar(&client, prometheus.addr, promql).await;
    assert_eq!(counted, Some(USERS as f64), "{promql} (last {last:?})");
    let total = scalar(
        &client,
        prometheus.addr,
        "sum(max_over_time(logins_total{job=\"idle\"}[1m]))",
    )
    .await;
    assert_eq!(total, Some(USERS as f64), "every login counted once");
    // Further scrapes: the series have expired, their budget is free.
    let after_two = count_lines(&served.body(first + 2));
    let now = served.scrapes.load(Ordering::SeqCst);
    assert!(scrapes(now + 1).await, "a further scrape");
    let text = served.body(now + 1);
    assert_eq!(
        count_lines(&text),
        (0, Some("0".to_owned())),
        "logins_total lines and self-reported series after expiry:\n{text}"
    );
    assert_eq!(guard.report().global.series, 0, "the budget is free");
    // The kept handles log everyone in again: every series comes back.
    for handle in &handles {
        handle.increment(1);
    }
    let again = served.scrapes.load(Ordering::SeqCst);
    assert!(scrapes(again + 1).await, "a scrape after the second burst");
    let back = served.body(again + 1);
    assert_eq!(
        count_lines(&back),
        (USERS, Some(USERS.to_string())),
        "the kept handles bring their series back:\n{back}"
    );
    let readmitted = samples(&back)
        .into_iter()
        .find(|s| {
            s.name == "cardinality_guard_admitted_total"
                && s.labels.get("metric").map(String::as_str) == Some("logins_total")
        })
        .map(|s| s.value);
    assert_eq!(
        readmitted.as_deref(),
        Some((2 * USERS).to_string().as_str()),
        "admissions: {USERS}, then {USERS} re-admissions"
    );
    eprintln!(
        "idle: scrape {IDLE_FOR:?} after the burst rendered {USERS}; {promql} = {counted:?}; \
         sum = {total:?}; second scrape after the burst (lines, self-report) = {after_two:?}; \
         scrape #{} = (0, 0)",
        now + 1,
    );
}
