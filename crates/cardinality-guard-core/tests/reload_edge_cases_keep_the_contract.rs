//! Hot reload under attack: the edge cases a hurried operator (or a racing
//! thread) hits. Each test here failed before the fix it names:
//!
//! - a label limit changed while new values of that label are admitted
//!   deadlocked the metric (lock order: `LabelState::admits` held the limit's
//!   read lock while waiting for `decide`; a reload held `decide` while
//!   waiting for the limit's write lock);
//! - a label limit removed and re-added counted `__overflow__` (the value
//!   folded label sets carry) as one of the label's admitted values;
//! - shadow → enforce judged the budget closed by shadow's leaked
//!   reservations before giving them back, so a metric holding nothing
//!   admitted nothing;
//! - fold → drop kept the overflow series' room after that series expired,
//!   so the drop metric filled one label set short of its budget (and a
//!   reload of the same file then changed what it admits).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use cardinality_guard_core::{Config, ManualClock, PrometheusGuard};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn config(toml: &str) -> Config {
    Config::from_toml(toml, "<test>").expect("test config is valid")
}

fn count(recorder: &impl Recorder, metric: &'static str, labels: &[(&str, String)]) {
    let labels = labels
        .iter()
        .map(|(k, v)| Label::new(k.to_string(), v.clone()))
        .collect::<Vec<_>>();
    let key = Key::from_parts(metric, labels);
    recorder.register_counter(&key, &METADATA).increment(1);
}

fn login(recorder: &impl Recorder, user: impl ToString) {
    count(recorder, "logins_total", &[("user", user.to_string())]);
}

fn label_sets(exporter: &PrometheusGuard, metric: &str) -> u64 {
    exporter.report().metric(metric).map_or(0, |m| m.label_sets)
}

/// Lets every series of the guard go idle past `timeout` and sweeps them.
fn expire_all(exporter: &PrometheusGuard, clock: &ManualClock, timeout: Duration) {
    let _ = exporter.render(); // their last updates are scraped
    clock.advance(timeout + Duration::from_secs(1));
    exporter.run_upkeep();
}

/// Reloads that change the label limit: a fixed number of them.
const RELOADS: usize = 1_000;
/// New values each registering thread admits while each reload runs.
const VALUES_PER_RELOAD: usize = 8;

#[test]
fn reloading_a_label_limit_while_its_values_are_admitted_never_deadlocks() {
    let limits = |n: u64| {
        config(&format!(
            "[[metrics]]\nmatch = \"logins_total\"\nlabel_limits = {{ user = {n} }}\n"
        ))
    };
    let (recorder, exporter) = PrometheusGuard::builder(limits(10_000_000))
        .upkeep_interval(None)
        .build()
        .unwrap();
    let (recorder, exporter) = (Arc::new(recorder), Arc::new(exporter));
    let (finished, watchdog) = mpsc::channel();
    let reloads = Arc::new(AtomicUsize::new(0));
    let registrations = Arc::new(AtomicUsize::new(0));
    {
        let (reloads, registrations) = (reloads.clone(), registrations.clone());
        // Detached, so a deadlock fails the test instead of hanging it.
        std::thread::spawn(move || {
            // The work is fixed, not a time window: `RELOADS` rounds, each
            // released at once by a barrier, in which the reloader changes
            // the limit while every other thread admits
            // `VALUES_PER_RELOAD` new values (each takes the label's slow
            // path). However slow the machine, every reload races
            // admissions of new values, and the test ends.
            let round = Barrier::new(THREADS + 1);
            std::thread::scope(|s| {
                for t in 0..THREADS {
                    let (recorder, round, registrations) = (&recorder, &round, &registrations);
                    s.spawn(move || {
                        for r in 0..RELOADS {
                            round.wait();
                            for i in 0..VALUES_PER_RELOAD {
                                login(&**recorder, format!("{t}-{r}-{i}"));
                                registrations.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
                for r in 0..RELOADS {
                    round.wait();
                    let n = if r % 2 == 0 { 9_000_000 } else { 10_000_000 };
                    exporter.reload(limits(n)).unwrap();
                    reloads.fetch_add(1, Ordering::Relaxed);
                }
            });
            let _ = finished.send(());
        });
    }
    // Generous: the bounded work above takes seconds, even on a loaded machine.
    let outcome = watchdog.recv_timeout(Duration::from_secs(300));
    let (reloads, registrations) = (
        reloads.load(Ordering::Relaxed),
        registrations.load(Ordering::Relaxed),
    );
    assert!(
        outcome.is_ok(),
        "deadlock: reloads and admissions stopped after {reloads} of {RELOADS} reloads \
         and {registrations} registrations"
    );
    assert_eq!(
        (reloads, registrations),
        (RELOADS, RELOADS * THREADS * VALUES_PER_RELOAD)
    );
}

#[test]
fn a_label_limit_removed_then_restored_does_not_count_the_overflow_value() {
    let limited = "[[metrics]]\nmatch = \"logins_total\"\nlabel_limits = { user = 4 }\n";
    let (recorder, exporter) = guarded(limited);
    (0..6).for_each(|u| login(&recorder, u)); // 0..=3 admitted, 4 and 5 fold
    let values = |exporter: &PrometheusGuard| {
        let report = exporter.report();
        let user = report.metric("logins_total").unwrap().labels[0].clone();
        assert_eq!(user.name, "user");
        user.values
    };
    assert_eq!(values(&exporter), Some(4));
    assert_eq!(label_sets(&exporter, "logins_total"), 5); // + user="__overflow__"

    exporter.reload(config("")).unwrap();
    assert_eq!(values(&exporter), None);
    exporter
        .reload(config(
            "[[metrics]]\nmatch = \"logins_total\"\nlabel_limits = { user = 5 }\n",
        ))
        .unwrap();
    // The values stored label sets hold, 0..=3, are picked again (they fit
    // the room of 5); `__overflow__` is not a value.
    assert_eq!(values(&exporter), Some(4));
    // So an upkeep after a render evicts none of them.
    let _ = exporter.render();
    exporter.run_upkeep();
    assert_eq!(label_sets(&exporter, "logins_total"), 5);
    assert_eq!(
        exporter
            .report()
            .metric("logins_total")
            .unwrap()
            .evicted
            .reload,
        0
    );
    // So one more value fits, and the next folds.
    login(&recorder, 10);
    login(&recorder, 11);
    assert_eq!(values(&exporter), Some(5));
    let text = exporter.render();
    let users = label_values(&text, "logins_total", "user");
    assert!(
        users.contains("10") && !users.contains("11"),
        "user 10 fits the restored limit, 11 does not: {users:?}"
    );
    assert_series_accounting(&text, &exporter.report());
}

#[test]
fn shadow_to_enforce_opens_a_metric_whose_shadow_reservations_expired() {
    // Shadow mode reserves budget for the label sets enforce would have
    // made (`user="__overflow__"` with each path); those reservations
    // outlive the series that made them.
    let shadow = "[[metrics]]\nmatch = \"requests_total\"\nmax_series = 10\nmode = \"shadow\"\n\
                  idle_timeout = \"10s\"\nlabel_limits = { user = 1 }\n";
    let (recorder, exporter, clock) = expiring(shadow);
    let request = |user: &str, path: usize| {
        count(
            &recorder,
            "requests_total",
            &[("user", user.to_owned()), ("path", path.to_string())],
        )
    };
    request("a", 0);
    (0..8).for_each(|path| request("b", path));
    assert_eq!(label_sets(&exporter, "requests_total"), 9);
    expire_all(&exporter, &clock, Duration::from_secs(10));
    assert_eq!(label_sets(&exporter, "requests_total"), 0);

    // Enforce, a smaller budget, nothing expires: the metric holds nothing,
    // so it admits up to its budget (4 label sets + the overflow series).
    exporter
        .reload(config(
            "[[metrics]]\nmatch = \"requests_total\"\nmax_series = 5\n",
        ))
        .unwrap();
    (0..10).for_each(|path| request("c", path));
    let report = exporter.report();
    let requests = report.metric("requests_total").unwrap();
    assert_eq!(
        (requests.label_sets, requests.series),
        (4, 5),
        "{requests:?}"
    );
    assert_series_accounting(&exporter.render(), &report);
}

#[test]
fn fold_to_drop_gives_the_overflow_room_back_once_the_overflow_series_expires() {
    let fold = "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 5\nidle_timeout = \"10s\"\n";
    let drop = "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 5\nidle_timeout = \"10s\"\n\
                on_overflow = \"drop\"\n";
    let (recorder, exporter, clock) = expiring(fold);
    (0..10).for_each(|u| login(&recorder, u));
    assert_eq!(label_sets(&exporter, "logins_total"), 4); // + the overflow series

    // The overflow series renders: drop keeps it (and its room) while it does.
    exporter.reload(config(drop)).unwrap();
    let report = exporter.report();
    assert!(report.metric("logins_total").unwrap().overflow_series);
    assert_series_accounting(&exporter.render(), &report);

    expire_all(&exporter, &clock, Duration::from_secs(10));
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    assert_eq!((logins.series, logins.overflow_series), (0, false));

    // A drop metric fills exactly to its budget: 5 label sets, nothing folded.
    (100..110).for_each(|u| login(&recorder, u));
    assert_eq!(label_sets(&exporter, "logins_total"), 5);
    // And reloading the same file changes nothing.
    exporter.reload(config(drop)).unwrap();
    (200..210).for_each(|u| login(&recorder, u));
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    assert_eq!((logins.label_sets, logins.series), (5, 5));
    assert_series_accounting(&exporter.render(), &report);
}
