//! Issue 20, end to end: `keep = "consistent"` keeps the same label sets on
//! every replica, with no coordination, so a fleet exports about one budget
//! of distinct label sets; `keep = "first"` exports about one per replica.
//!
//! Two fleets of three instances of the example service, each instance its
//! own process (this test binary started again, serving the example app as
//! `examples/service.rs` does: the guard installed as the global recorder,
//! upkeep on its thread; the cadence shortened from 5 s to 1 s), on
//! 127.0.0.1. The same guard.toml except `keep`: `app_logins_total` gets a
//! budget of 400 series (399 users and the overflow series). One fixed-seed
//! population of 2,000 user ids, sent in 8 rounds (each round every id once,
//! in a shuffled order, each to a random instance), the same schedule to
//! both fleets. A real Prometheus scrapes the six every second; each round
//! is scraped, and upkeeps follow, before the next one (a population that
//! keeps coming: after a burst shorter than a scrape and an upkeep, the
//! label sets folded while the budget was still full of high ranks never
//! come back to be admitted). Once it has
//! scraped every instance after the traffic and the figures have settled
//! (evictions happen at upkeep, once a scrape has shown a series' last
//! update; the next scrape shows the series gone):
//! 1. `count(count by (user) (app_logins_total{user!=""}))` (the overflow
//!    series has no `user`) is at most 1.3 budgets with `consistent` (about
//!    1.05 (the rank slack) x budget / the share of the population each
//!    instance sees: 1.12 here), at least 2 budgets with `first` (about 3:
//!    the test tells them apart);
//! 2. every instance held at most its budget on every scrape, overflow
//!    series included, and (`consistent`) still holds at least 90% of it;
//! 3. `consistent` evicted by rank (`cardinality_guard_evicted_total`),
//!    `first` evicted nothing.
//!
//! `an_instance_of_the_example_service` is the instance: in this test's
//! own run (without `CG_E2E_INSTANCE_CONFIG`) it returns at once.
//!
//! Needs Debian's `prometheus` (`.ci/test` installs it). Without it the test
//! fails when `CI` is set, and otherwise says it skipped.

#[path = "../examples/shared/app.rs"]
mod app;
#[path = "support/prometheus_api.rs"]
mod prometheus_api;
#[path = "support/prometheus_server.rs"]
mod prometheus_server;

use cardinality_guard::axum::serve as server;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cardinality_guard::{Config, PrometheusGuard};
use prometheus_api::{client, eventually, get, query, Http, PATIENCE};
use prometheus_server::{prometheus_installed, start_prometheus_over};

const LOGINS: &str = "app_logins_total";
/// `max_series` of `app_logins_total` on every instance.
const BUDGET: u64 = 400;
const USERS: u64 = 2_000;
/// Each round sends every user id once: each instance sees about
/// 1 - (2/3)^8 = 96% of the population.
const ROUNDS: usize = 8;
const INSTANCES: usize = 3;
/// The traffic's seed: the same schedule on every run.
const SEED: u64 = 20;
/// Requests in flight at once.
const IN_FLIGHT: usize = 8;
/// The instances' upkeep cadence (the example service's is 5 s).
const UPKEEP: Duration = Duration::from_secs(1);
const SCRAPE: Duration = Duration::from_secs(1);
/// Figures are settled when they have not changed over this many scrapes
/// of every instance (and as many upkeeps).
const SETTLED_AFTER: u32 = 5;
const POLL: Duration = Duration::from_millis(500);
/// Where an instance process finds its guard.toml.
const INSTANCE_CONFIG: &str = "CG_E2E_INSTANCE_CONFIG";
/// The test that is an instance, in the processes this test starts.
const INSTANCE_TEST: &str = "an_instance_of_the_example_service";

const KEEPS: [&str; 2] = ["first", "consistent"];

fn guard_toml(keep: &str) -> String {
    format!("[[metrics]]\nmatch = \"{LOGINS}\"\nmax_series = {BUDGET}\nkeep = \"{keep}\"\n")
}

/// One instance of the example service, in a process of this test binary
/// started with `INSTANCE_CONFIG` set: what `examples/service.rs` serves
/// with `--config`, on a free port of 127.0.0.1 (printed as the service
/// prints it). Runs until killed, or until its stdin closes (the test
/// process is gone). Without `INSTANCE_CONFIG` it returns at once.
#[test]
fn an_instance_of_the_example_service() {
    let Some(config) = std::env::var_os(INSTANCE_CONFIG) else {
        return;
    };
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
    let config = Config::from_file(&config).expect("the instance's guard.toml loads");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let exporter = PrometheusGuard::builder(config)
            .upkeep_interval(Some(UPKEEP))
            .install()
            .expect("the guard installs (one per process)");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        println!("listening on http://{addr}");
        let app = app::router(app::Exposition::Guarded(exporter));
        server::serve(
            listener,
            app,
            server::Limits::default(),
            std::future::pending(),
        )
        .await
        .expect("the instance serves");
    });
}

/// An instance process, killed with the test.
struct Instance {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_instance(config: &Path) -> Instance {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([INSTANCE_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSTANCE_CONFIG, config)
        .stdin(Stdio::piped()) // closed when this process ends: the instance ends too
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the instance process starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut instance = Instance {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // After libtest's "test ... " on the same line.
            if let Some((_, addr)) = line.split_once("listening on http://") {
                let _ = tx.send(addr.trim().parse::<SocketAddr>());
            }
        }
    });
    instance.addr = rx
        .recv_timeout(PATIENCE)
        .expect("the instance says where it listens")
        .expect("a socket address");
    instance
}

/// SplitMix64: a fixed-seed sequence, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The logins to send, round by round: (user id, instance index).
fn schedule() -> Vec<Vec<(u64, usize)>> {
    let mut rng = Rng(SEED);
    (0..ROUNDS)
        .map(|_| {
            let mut users: Vec<u64> = (0..USERS).collect();
            for i in (1..users.len()).rev() {
                users.swap(i, rng.below(i + 1));
            }
            users
                .into_iter()
                .map(|u| (u, rng.below(INSTANCES)))
                .collect()
        })
        .collect()
}

async fn login(client: &Http, instance: SocketAddr, user: u64) {
    let answer = get(client, format!("http://{instance}/users/u{user:04}")).await;
    assert_eq!(
        answer.as_ref().map(|(s, _)| *s),
        Some(200),
        "login of u{user} at {instance}: {answer:?}"
    );
}

/// Each login of the schedule to both fleets (the same instance index in
/// each), `IN_FLIGHT` at a time.
async fn send(client: &Http, fleets: &[Vec<SocketAddr>], logins: &[(u64, usize)]) {
    for batch in logins.chunks(IN_FLIGHT) {
        let mut requests = tokio::task::JoinSet::new();
        for &(user, index) in batch {
            for fleet in fleets {
                let (client, instance) = (client.clone(), fleet[index]);
                requests.spawn(async move { login(&client, instance, user).await });
            }
        }
        while let Some(done) = requests.join_next().await {
            done.expect("a login request did not panic");
        }
    }
}

/// An instant query's results by their `instance` label.
async fn by_instance(client: &Http, prometheus: SocketAddr, promql: &str) -> BTreeMap<String, f64> {
    query(client, prometheus, promql)
        .await
        .into_iter()
        .map(|(labels, v)| {
            (
                labels["instance"].as_str().unwrap_or_default().to_owned(),
                v,
            )
        })
        .collect()
}

/// What Prometheus shows of one fleet now.
#[derive(Debug, Clone, PartialEq)]
struct Figures {
    /// Distinct users across the fleet.
    union: u64,
    /// User series per instance.
    users: BTreeMap<String, u64>,
}

async fn figures(client: &Http, prometheus: SocketAddr, job: &str) -> Figures {
    let selector = format!("{LOGINS}{{job=\"{job}\",user!=\"\"}}");
    let union = query(
        client,
        prometheus,
        &format!("count(count by (user) ({selector}))"),
    )
    .await
    .first()
    .map_or(0, |r| r.1 as u64);
    let users = by_instance(
        client,
        prometheus,
        &format!("count by (instance) ({selector})"),
    )
    .await
    .into_iter()
    .map(|(i, v)| (i, v as u64))
    .collect();
    Figures { union, users }
}

/// Waits until Prometheus has scraped every instance of `job` after the
/// traffic: each one's count of `/users/{id}` requests is what was sent to it.
async fn scraped_after_traffic(
    client: &Http,
    prometheus: SocketAddr,
    job: &str,
    sent: &BTreeMap<String, f64>,
) {
    let promql = format!(
        "sum by (instance) (http_server_requests_total{{job=\"{job}\",route=\"/users/{{id}}\"}})"
    );
    let seen = eventually(PATIENCE, POLL, || async {
        let counted = by_instance(client, prometheus, &promql).await;
        (&counted == sent).then_some(())
    })
    .await;
    let last = by_instance(client, prometheus, &promql).await;
    assert!(
        seen.is_some(),
        "{job}: Prometheus counts {last:?} logins per instance, {sent:?} were sent"
    );
}

/// Polls until `job`'s figures have not changed over `SETTLED_AFTER`
/// scrapes of every instance (and as many upkeeps), and `accept` takes
/// them; the last figures either way.
async fn settled(
    client: &Http,
    prometheus: SocketAddr,
    job: &str,
    accept: impl Fn(&Figures) -> bool,
) -> (bool, Figures) {
    let scrapes = format!("timestamp(up{{job=\"{job}\"}})");
    let start = Instant::now();
    // The figures, since when, and when Prometheus had last scraped each
    // instance then.
    let mut stable = (
        figures(client, prometheus, job).await,
        Instant::now(),
        by_instance(client, prometheus, &scrapes).await,
    );
    loop {
        tokio::time::sleep(POLL).await;
        let now = figures(client, prometheus, job).await;
        let scraped_at = by_instance(client, prometheus, &scrapes).await;
        if now != stable.0 {
            stable = (now, Instant::now(), scraped_at);
        } else {
            let (_, since, then) = &stable;
            let scrapes_since = |instance: &String| {
                let seconds = scraped_at.get(instance).copied().unwrap_or(0.0)
                    - then.get(instance).copied().unwrap_or(f64::INFINITY);
                (seconds / SCRAPE.as_secs_f64()).round()
            };
            if then.len() == INSTANCES
                && then
                    .keys()
                    .all(|i| scrapes_since(i) >= f64::from(SETTLED_AFTER))
                && since.elapsed() >= UPKEEP * SETTLED_AFTER
                && accept(&now)
            {
                return (true, now);
            }
        }
        if start.elapsed() >= PATIENCE {
            return (false, stable.0);
        }
    }
}

#[test]
fn consistent_keeps_one_budget_across_three_instances_first_keeps_three() {
    if !prometheus_installed() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(three_instances_per_keep());
}

async fn three_instances_per_keep() {
    let scratch = Scratch(std::env::temp_dir().join(format!("cg-keep-e2e-{}", std::process::id())));
    let dir = &scratch.0;
    std::fs::create_dir_all(dir).expect("scratch dir");
    let mut fleets: Vec<Vec<Instance>> = Vec::new();
    for keep in KEEPS {
        let config = dir.join(format!("guard-{keep}.toml"));
        std::fs::write(&config, guard_toml(keep)).expect("write guard.toml");
        fleets.push((0..INSTANCES).map(|_| start_instance(&config)).collect());
    }
    let addrs: Vec<Vec<SocketAddr>> = fleets
        .iter()
        .map(|fleet| fleet.iter().map(|i| i.addr).collect())
        .collect();

    let client = client();
    let jobs: Vec<(&str, &[SocketAddr])> = KEEPS
        .iter()
        .zip(&addrs)
        .map(|(keep, fleet)| (*keep, fleet.as_slice()))
        .collect();
    let started = Instant::now();
    let prometheus = start_prometheus_over(&client, &jobs, "1s", None).await;
    let p = prometheus.addr;

    // Round after round, each one scraped (and followed by upkeeps) before
    // the next: a population that keeps coming, not a burst that ends
    // before the instances' first upkeep.
    let rounds = schedule();
    let mut sent: BTreeMap<&str, BTreeMap<String, f64>> = BTreeMap::new();
    for round in &rounds {
        send(&client, &addrs, round).await;
        for (keep, fleet) in KEEPS.iter().zip(&addrs) {
            let sent = sent.entry(keep).or_default();
            for &(_, index) in round {
                *sent.entry(fleet[index].to_string()).or_insert(0.0) += 1.0;
            }
            scraped_after_traffic(&client, p, keep, sent).await;
        }
        tokio::time::sleep(2 * UPKEEP).await;
    }
    let logins: usize = rounds.iter().map(Vec::len).sum();
    let traffic = started.elapsed();

    let mut results = BTreeMap::new();
    for keep in KEEPS {
        let limit = if keep == "consistent" {
            13 * BUDGET / 10
        } else {
            u64::MAX
        };
        let (settled, figures) = settled(&client, p, keep, |f| f.union <= limit).await;
        results.insert(keep, (settled, figures));
    }
    let budget_held = |job: &str| {
        format!(
            "max_over_time((count by (instance) ({LOGINS}{{job=\"{job}\"}}))[{}s:1s])",
            started.elapsed().as_secs() + 5
        )
    };
    let mut most_held = BTreeMap::new();
    let mut evicted = BTreeMap::new();
    for keep in KEEPS {
        most_held.insert(keep, by_instance(&client, p, &budget_held(keep)).await);
        let promql = format!(
            "sum by (reason) (cardinality_guard_evicted_total{{job=\"{keep}\",metric=\"{LOGINS}\"}})"
        );
        let reasons: BTreeMap<String, f64> = query(&client, p, &promql)
            .await
            .into_iter()
            .map(|(l, v)| (l["reason"].as_str().unwrap_or_default().to_owned(), v))
            .collect();
        evicted.insert(keep, reasons);
    }
    eprintln!(
        "{logins} logins ({USERS} users x {ROUNDS}) to 2 x {INSTANCES} instances in {traffic:?}; \
         budget {BUDGET}\n\
         figures (settled, union, user series per instance): {results:?}\n\
         most series an instance held on a scrape: {most_held:?}\n\
         evicted: {evicted:?}"
    );

    let (first_settled, first) = &results["first"];
    let (consistent_settled, consistent) = &results["consistent"];
    assert!(
        *first_settled,
        "first: the figures did not settle: {first:?}\n{}",
        prometheus.log()
    );
    assert!(
        *consistent_settled,
        "consistent: the figures did not settle at most 1.3 budgets ({}): {consistent:?}",
        13 * BUDGET / 10
    );
    // 1. About one budget with consistent, about three with first.
    assert!(
        consistent.union * 10 <= 13 * BUDGET,
        "consistent: {} distinct users across the fleet, over 1.3 x {BUDGET}",
        consistent.union
    );
    assert!(
        first.union >= 2 * BUDGET,
        "first: {} distinct users across the fleet, expected about 3 x {BUDGET}",
        first.union
    );
    // 2. Within the budget on every scrape, and using most of it.
    for keep in KEEPS {
        let held = &most_held[keep];
        assert_eq!(held.len(), INSTANCES, "{keep}: {held:?}");
        for (instance, series) in held {
            assert!(
                *series <= BUDGET as f64,
                "{keep}: {instance} held {series} series of {LOGINS} on a scrape, over its budget of {BUDGET}"
            );
        }
    }
    for (instance, users) in &consistent.users {
        assert!(
            *users * 10 >= 9 * (BUDGET - 1),
            "consistent: {instance} keeps {users} users of the {} its budget holds",
            BUDGET - 1
        );
    }
    // 3. Consistent evicted by rank; first evicted nothing.
    assert!(
        evicted["consistent"].get("rank").copied().unwrap_or(0.0) > 0.0,
        "consistent evicts by rank: {evicted:?}"
    );
    assert!(
        evicted["first"].is_empty(),
        "first evicts nothing: {evicted:?}"
    );

    drop(prometheus);
    drop(fleets);
}

/// The instances' guard.toml files, gone with the test.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
