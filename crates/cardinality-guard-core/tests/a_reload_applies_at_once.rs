//! A reload applies at once (issue 20): a reload that lowers a budget, or
//! adds or tightens a label limit, evicts at the next upkeep the stored
//! series the new config would not admit, keeping those `keep` prefers
//! (`first`: the earliest admitted). As with idle expiry, a series whose
//! last update no render has shown yet waits for the next render and
//! upkeep. An evicted series' value moves nowhere; its label set is not
//! admitted again before a render has shown it absent; its later updates
//! (new registrations, and handles user code kept) go where the new config
//! sends them. Read as Prometheus reads the renders, every increment sent
//! is counted once. On the real render, on the manual clock: nothing sleeps.

#[path = "support/scrapes.rs"]
mod scrapes;
mod support;

use std::collections::BTreeSet;

use cardinality_guard_core::{Config, GuardRecorder, MetricReport, PrometheusGuard};
use metrics::{Counter, Key, Label, Level, Metadata, Recorder};
use scrapes::Scrapes;
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const M: &str = "logins_total";
/// The value a label limit gives the values it does not admit.
const FOLDED: &str = "__overflow__";
/// The labels of the metric's overflow series.
const OVERFLOW: [(&str, &str); 1] = [("otel_metric_overflow", "true")];
const EVICTED_TOTAL: &str = "cardinality_guard_evicted_total";

fn config(policy: &str) -> Config {
    let toml = format!("[[metrics]]\nmatch = \"{M}\"\n{policy}");
    Config::from_toml(&toml, "<test>").expect("test config is valid")
}

fn key(user: usize) -> Key {
    Key::from_parts(M, vec![Label::new("user", user.to_string())])
}

fn named(users: impl IntoIterator<Item = usize>) -> BTreeSet<String> {
    users.into_iter().map(|u| u.to_string()).collect()
}

/// The users rendered with a series of their own (not `__overflow__`, not
/// the overflow series, which has no `user` label).
fn own_users(text: &str) -> BTreeSet<String> {
    let mut users = label_values(text, M, "user");
    users.remove(FOLDED);
    users
}

fn user_value(text: &str, user: usize) -> Option<f64> {
    value_exact(text, M, &[("user", &user.to_string())])
}

fn evicted_total(text: &str, reason: &str) -> Option<f64> {
    labeled_value(text, EVICTED_TOTAL, &[("metric", M), ("reason", reason)])
}

/// A guard on a manual clock (no upkeep thread), the increments sent to it,
/// and what Prometheus reads from its renders (a series that goes down
/// between two renders, a silent reset, fails the test).
struct Run {
    recorder: GuardRecorder,
    exporter: PrometheusGuard,
    sent: u64,
    scrapes: Scrapes,
}

impl Run {
    fn new(policy: &str) -> Run {
        let (recorder, exporter, _clock) = on_manual_clock(config(policy));
        Run {
            recorder,
            exporter,
            sent: 0,
            scrapes: Scrapes::new(M),
        }
    }

    /// A registration (as `counter!` makes) and `n` increments.
    fn login(&mut self, user: usize, n: u64) {
        self.recorder
            .register_counter(&key(user), &METADATA)
            .increment(n);
        self.sent += n;
    }

    /// A handle user code keeps.
    fn handle(&self, user: usize) -> Counter {
        self.recorder.register_counter(&key(user), &METADATA)
    }

    /// `n` increments through a kept handle.
    fn bump(&mut self, handle: &Counter, n: u64) {
        handle.increment(n);
        self.sent += n;
    }

    fn reload(&self, policy: &str) {
        self.exporter
            .reload(config(policy))
            .expect("reload applies");
    }

    /// A scrape: the render (read into the increase), checked against the
    /// self-report and the report taken just before it (a render that shows
    /// a retiring series' last value ends it: a report after it no longer
    /// counts it).
    fn scrape(&mut self) -> String {
        let report = self.exporter.report();
        let text = self.exporter.render();
        assert_series_accounting(&text, &report);
        self.scrapes.read(&text);
        text
    }

    fn upkeep(&self) {
        self.exporter.run_upkeep();
    }

    fn metric(&self) -> MetricReport {
        self.exporter.report().metric(M).cloned().expect("tracked")
    }

    /// Every increment sent so far is in some render, once.
    fn assert_every_increment_rendered(&mut self) {
        self.scrape();
        assert_eq!(
            self.scrapes.total_increase, self.sent as f64,
            "the increase over the renders is what was sent"
        );
    }
}

/// The issue's scenario: a full metric of 500 (499 user series and the
/// overflow series), no idle timeout, then the report's advice applied by
/// a reload: `label_limits = { user = 100 }`.
#[test]
fn the_issues_new_label_limit_applies_after_a_render_and_an_upkeep() {
    let mut run = Run::new("max_series = 500\n");
    for u in 0..600 {
        run.login(u, 1);
    }
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..499), "full: the first 499");
    assert_eq!(value_exact(&text, M, &OVERFLOW), Some(101.0));

    run.reload("max_series = 500\nlabel_limits = { user = 100 }\n");
    // Nothing is cut before an upkeep.
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..499));
    // Users 300..320 are updated after that render: the first upkeep must
    // keep them (no render has shown their last update).
    for u in 300..320 {
        run.login(u, 2);
    }
    run.upkeep();
    let first_upkeep = run.metric();
    // Evicted users come back in `user="__overflow__"` (and new users go
    // there): none of them is admitted again.
    for u in (200..210).chain(600..610) {
        run.login(u, 1);
    }
    let text = run.scrape();
    let users = own_users(&text);
    let waiting = named(300..320);
    assert!(waiting.is_subset(&users), "kept for a render: {users:?}");
    for u in 300..320 {
        assert_eq!(user_value(&text, u), Some(3.0), "user {u}:\n{text}");
    }
    let kept: BTreeSet<String> = users.difference(&waiting).cloned().collect();
    assert!(
        (90..=100).contains(&kept.len()),
        "{} users kept: {kept:?}",
        kept.len()
    );
    assert!(
        kept.is_subset(&named(0..100)),
        "keep = first keeps the earliest admitted: {kept:?}"
    );
    assert_eq!(
        first_upkeep.evicted.reload,
        499 - kept.len() as u64 - 20,
        "{:?}",
        first_upkeep.evicted
    );
    assert_eq!(
        value_exact(&text, M, &[("user", FOLDED)]),
        Some(20.0),
        "evicted and new users, folded by the label limit:\n{text}"
    );
    assert_eq!(
        value_exact(&text, M, &OVERFLOW),
        Some(101.0),
        "an evicted series' value moves nowhere:\n{text}"
    );

    // The second upkeep evicts what waited for that render.
    run.upkeep();
    let text = run.scrape();
    assert_eq!(own_users(&text), kept, "{text}");
    assert_eq!(run.metric().evicted.reload, 499 - kept.len() as u64);
    run.assert_every_increment_rendered();

    // 2,000 more increments to old and new users, a render and an upkeep
    // every 250, as a scraped service sees them.
    let mut rng = Rng::new(20);
    for i in 1..=2_000 {
        run.login(rng.below(1_000), 1);
        if i % 250 == 0 {
            run.scrape();
            run.upkeep();
        }
    }
    for _ in 0..2 {
        run.scrape();
        run.upkeep();
    }
    let text = run.scrape();
    assert_eq!(own_users(&text), kept, "sticky: the same users:\n{text}");
    assert!(
        value_exact(&text, M, &[("user", FOLDED)]).is_some(),
        "{text}"
    );
    let logins = run.metric();
    assert_eq!(logins.label_sets, kept.len() as u64 + 1, "{logins:?}");
    assert_eq!(logins.evicted.reload, 499 - kept.len() as u64);
    run.assert_every_increment_rendered();
}

/// Traffic never pauses: users the reload no longer admits that are
/// updated both before and after every render (a busy user of a live
/// service, whose upkeep and scrapes interleave with its traffic) are
/// evicted like the others once two renders and two upkeeps have followed
/// the reload, and none of their increments is lost. (An eviction that
/// waits for a moment when no update is unrendered never comes for them.)
#[test]
fn busy_users_are_evicted_too_though_their_updates_never_pause() {
    let mut failures = Vec::new();
    for policy in [
        "max_series = 500\nlabel_limits = { user = 100 }\n",
        "max_series = 101\n",
    ] {
        let mut run = Run::new("max_series = 500\n");
        for u in 0..600 {
            run.login(u, 1);
        }
        run.scrape();
        run.reload(policy);
        // Admitted, and not among the first 100: the reload evicts them.
        let busy = [150, 300, 450];
        for _ in 0..2 {
            busy.iter().for_each(|&u| run.login(u, 1));
            run.scrape();
            busy.iter().for_each(|&u| run.login(u, 1));
            run.upkeep();
        }
        busy.iter().for_each(|&u| run.login(u, 1));
        let text = run.scrape();
        let users = own_users(&text);
        let first = named(0..100);
        let over: BTreeSet<&String> = users.difference(&first).collect();
        assert!(users.len() >= 90, "{policy}: {users:?}");
        if !over.is_empty() {
            failures.push(format!("{policy:?}: {over:?}"));
        }
        run.assert_every_increment_rendered();
    }
    assert!(
        failures.is_empty(),
        "still admitted after two renders and two upkeeps: {failures:?}"
    );
}

/// The issue's operator path, reload after reload: `{ user = 398 }`, then
/// `{ user = 1 }` (each applied by one render and one upkeep).
#[test]
fn a_tightened_label_limit_applies_too() {
    let mut run = Run::new("max_series = 500\n");
    for u in 0..600 {
        run.login(u, 1);
    }
    run.scrape();
    for (limit, kept) in [(398, 0..398), (1, 0..1)] {
        run.reload(&format!(
            "max_series = 500\nlabel_limits = {{ user = {limit} }}\n"
        ));
        run.scrape();
        run.upkeep();
        run.login(599, 1); // folded: `user="__overflow__"`
        let text = run.scrape();
        assert_eq!(own_users(&text), named(kept), "limit {limit}");
        assert!(
            value_exact(&text, M, &[("user", FOLDED)]).is_some(),
            "limit {limit}:\n{text}"
        );
    }
    assert_eq!(run.metric().evicted.reload, 498);
    run.assert_every_increment_rendered();
}

/// `max_series` 500 → 100 with `keep = "first"`: after a render and an
/// upkeep the metric holds at most 100 series, and the users it kept are
/// the earliest admitted (admitted in a shuffled order, so neither the
/// smallest ids nor the first in render order).
#[test]
fn a_lowered_budget_keeps_the_earliest_admitted() {
    let mut rng = Rng::new(500);
    let mut order: Vec<usize> = (0..600).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut run = Run::new("max_series = 500\nkeep = \"first\"\n");
    for &u in &order {
        run.login(u, 1);
    }
    let text = run.scrape();
    assert_eq!(own_users(&text), named(order[..499].iter().copied()));

    run.reload("max_series = 100\nkeep = \"first\"\n");
    let text = run.scrape();
    assert_eq!(
        rendered_series(&text, M),
        500,
        "nothing cut before an upkeep"
    );
    run.upkeep();
    let text = run.scrape();
    let kept = own_users(&text);
    assert!(rendered_series(&text, M) <= 100, "{text}");
    assert!(run.metric().series <= 100);
    assert!(kept.len() >= 90, "the budget is used: {kept:?}");
    assert_eq!(
        kept,
        named(order[..kept.len()].iter().copied()),
        "the earliest admitted stay"
    );
    assert_eq!(run.metric().evicted.reload, 499 - kept.len() as u64);

    // Each user once more: the kept ones in their series, the others folded.
    for &u in &order {
        run.login(u, 1);
    }
    let text = run.scrape();
    assert_eq!(own_users(&text), kept);
    for u in &kept {
        assert_eq!(value_exact(&text, M, &[("user", u)]), Some(2.0), "{u}");
    }
    assert_eq!(
        value_exact(&text, M, &OVERFLOW),
        Some((101 + 600 - kept.len()) as f64),
        "{text}"
    );
    assert!(run.metric().series <= 100);
    run.assert_every_increment_rendered();
}

/// Evicted, then the budget raised again before any render: the label set
/// is not admitted again (its registrations fold) until a render has shown
/// it absent, so Prometheus sees its series end before a new one starts.
#[test]
fn an_evicted_label_set_waits_for_a_render_showing_it_absent() {
    let mut run = Run::new("max_series = 20\n");
    for u in 0..10 {
        run.login(u, 5);
    }
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..10));

    run.reload("max_series = 5\n");
    run.upkeep();
    let logins = run.metric();
    assert_eq!((logins.label_sets, logins.evicted.reload), (4, 6));
    run.reload("max_series = 20\n");
    run.login(9, 1); // evicted, no render since: folded
    run.login(50, 1); // new: the raised budget admits it at once
    let logins = run.metric();
    assert_eq!(logins.label_sets, 5, "{logins:?}");
    assert_eq!(logins.overflow.series_limit, 1, "{:?}", logins.overflow);

    let text = run.scrape();
    assert_eq!(own_users(&text), named([0, 1, 2, 3, 50]), "{text}");
    assert_eq!(user_value(&text, 9), None, "{text}");
    assert_eq!(value_exact(&text, M, &OVERFLOW), Some(1.0), "{text}");
    assert_eq!(overflow_total(&text, M, "series_limit"), 1.0);

    // A render has shown it absent: admitted again, a new series that
    // starts from what it counts now.
    run.login(9, 1);
    let text = run.scrape();
    assert_eq!(own_users(&text), named([0, 1, 2, 3, 9, 50]), "{text}");
    assert_eq!(user_value(&text, 9), Some(1.0), "{text}");
    assert_eq!(value_exact(&text, M, &OVERFLOW), Some(1.0), "{text}");
    assert_eq!(run.metric().label_sets, 6);
    run.assert_every_increment_rendered();
}

/// The same under a label limit: a value evicted by a tightened limit,
/// the limit lifted before any render, goes to `user="__overflow__"`
/// until a render has shown it absent.
#[test]
fn a_value_evicted_by_a_label_limit_waits_for_a_render_too() {
    let mut run = Run::new("max_series = 100\n");
    for u in 0..10 {
        run.login(u, 1);
    }
    run.scrape();
    run.reload("max_series = 100\nlabel_limits = { user = 3 }\n");
    run.upkeep();
    run.reload("max_series = 100\n");
    run.login(7, 4);
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..3), "{text}");
    assert_eq!(
        value_exact(&text, M, &OVERFLOW),
        Some(4.0),
        "no limit any more, but not admitted again before this render:\n{text}"
    );
    run.login(7, 1);
    let text = run.scrape();
    assert_eq!(own_users(&text), named([0, 1, 2, 7]), "{text}");
    assert_eq!(user_value(&text, 7), Some(1.0), "{text}");
    run.assert_every_increment_rendered();
}

/// Handles user code kept for series a lowered budget evicted: their later
/// updates go to the overflow series; none is lost, none counted twice.
#[test]
fn a_kept_handle_of_a_series_evicted_by_a_lowered_budget_folds_its_updates() {
    let mut run = Run::new("max_series = 20\n");
    let handles: Vec<Counter> = (0..15).map(|u| run.handle(u)).collect();
    for h in &handles {
        run.bump(h, 1);
    }
    run.scrape();
    run.reload("max_series = 6\n");
    run.upkeep();
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..5), "{text}");
    assert_eq!(value_exact(&text, M, &OVERFLOW), None, "nothing folded yet");

    run.bump(&handles[12], 3);
    run.bump(&handles[14], 1);
    run.bump(&handles[0], 2); // kept: its own series
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..5), "{text}");
    assert_eq!(value_exact(&text, M, &OVERFLOW), Some(4.0), "{text}");
    assert_eq!(user_value(&text, 0), Some(3.0), "{text}");
    assert_eq!(overflow_total(&text, M, "series_limit"), 2.0, "{text}");

    // And every later update too, through render/upkeep cycles.
    for round in 0..5u64 {
        for (u, h) in handles.iter().enumerate() {
            run.bump(h, u as u64 % 3 + round);
        }
        run.scrape();
        run.upkeep();
    }
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..5), "{text}");
    run.assert_every_increment_rendered();
}

/// A kept handle goes where a registration of its label set goes: once a
/// render has shown an evicted label set absent and a raised budget has
/// room for it, its handle's next update starts the label set's new series
/// (from zero), as a `counter!` call would; it does not fold for good.
#[test]
fn a_kept_handle_of_an_evicted_series_follows_a_raised_budget() {
    let mut run = Run::new("max_series = 20\n");
    let handles: Vec<Counter> = (0..10).map(|u| run.handle(u)).collect();
    for h in &handles {
        run.bump(h, 5);
    }
    run.scrape();
    run.reload("max_series = 5\n");
    run.upkeep();
    let text = run.scrape(); // users 4..9 shown absent
    assert_eq!(own_users(&text), named(0..4), "{text}");

    run.reload("max_series = 20\n");
    run.bump(&handles[9], 1); // through the handle kept since before
    run.login(8, 1); // a registration, for comparison
    let text = run.scrape();
    assert_eq!(user_value(&text, 8), Some(1.0), "registered: {text}");
    assert_eq!(
        user_value(&text, 9),
        Some(1.0),
        "the kept handle: its label set's new series, like a registration:\n{text}"
    );
    assert_eq!(value_exact(&text, M, &OVERFLOW), None, "{text}");
    run.assert_every_increment_rendered();
}

/// Handles kept for series a new label limit evicted: their later updates
/// go to `user="__overflow__"`.
#[test]
fn a_kept_handle_of_a_series_evicted_by_a_label_limit_goes_to_the_overflow_value() {
    let mut run = Run::new("max_series = 100\n");
    let handles: Vec<Counter> = (0..10).map(|u| run.handle(u)).collect();
    for h in &handles {
        run.bump(h, 1);
    }
    run.scrape();
    run.reload("max_series = 100\nlabel_limits = { user = 3 }\n");
    run.scrape();
    run.upkeep();
    run.bump(&handles[7], 4);
    run.bump(&handles[9], 2);
    run.bump(&handles[1], 1);
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..3), "{text}");
    assert_eq!(
        value_exact(&text, M, &[("user", FOLDED)]),
        Some(6.0),
        "{text}"
    );
    assert_eq!(user_value(&text, 1), Some(2.0), "{text}");
    assert_eq!(value_exact(&text, M, &OVERFLOW), None, "{text}");
    for h in &handles {
        run.bump(h, 1);
    }
    let text = run.scrape();
    assert_eq!(
        value_exact(&text, M, &[("user", FOLDED)]),
        Some(13.0),
        "{text}"
    );
    run.assert_every_increment_rendered();
}

/// `cardinality_guard_evicted_total{reason="reload"}` and the report's
/// `evicted.reload` count the series reloads evicted (as many as the
/// renders lost), and the report says what the budget keeps.
#[test]
fn evicted_total_and_the_report_count_what_reloads_evicted() {
    let mut run = Run::new("max_series = 50\n");
    for u in 0..60 {
        run.login(u, 1);
    }
    let before = own_users(&run.scrape());
    assert_eq!(before.len(), 49);
    assert_eq!(evicted_total(&run.scrape(), "reload"), None, "none yet");

    run.reload("max_series = 20\n");
    run.upkeep();
    let text = run.scrape();
    let after = own_users(&text);
    assert_eq!(after, named(0..19), "{text}");
    let gone = before.difference(&after).count();
    assert_eq!(gone, 30);
    assert_eq!(evicted_total(&text, "reload"), Some(gone as f64), "{text}");
    for reason in ["idle", "outranked", "rank"] {
        assert_eq!(evicted_total(&text, reason), None, "{reason}:\n{text}");
    }
    let json = serde_json::to_value(run.exporter.report()).expect("the report serializes");
    let logins = json["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["name"] == M)
        .expect("logins_total reported");
    assert_eq!(logins["keep"], "first", "{logins}");
    assert_eq!(logins["evicted"]["reload"], gone as u64, "{logins}");
    assert_eq!(logins["evicted"]["idle"], 0, "{logins}");
    assert_eq!(logins["expired"], 0, "{logins}");

    // A second reload's evictions add up.
    run.reload("max_series = 20\nlabel_limits = { user = 5 }\n");
    run.upkeep();
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..5), "{text}");
    assert_eq!(evicted_total(&text, "reload"), Some(44.0), "{text}");
    assert_eq!(run.metric().evicted.reload, 44);
    run.assert_every_increment_rendered();
}

/// Raising a budget admits again at once, with no render or upkeep
/// between (label sets evicted and since rendered absent included).
#[test]
fn a_raised_budget_admits_again_at_once() {
    let mut run = Run::new("max_series = 10\n");
    for u in 0..20 {
        run.login(u, 1);
    }
    run.scrape();
    run.reload("max_series = 5\n");
    run.upkeep();
    let text = run.scrape();
    assert_eq!(own_users(&text), named(0..4), "{text}");
    run.login(100, 1);
    assert_eq!(run.metric().label_sets, 4, "full: a new user folds");

    run.reload("max_series = 30\n");
    for u in (4..9).chain(100..120) {
        run.login(u, 1);
    }
    let logins = run.metric();
    assert_eq!((logins.label_sets, logins.limit), (29, 30), "{logins:?}");
    let text = run.scrape();
    let users = own_users(&text);
    assert!(named(4..9).is_subset(&users), "{users:?}");
    assert!(named(100..120).is_subset(&users), "{users:?}");
    assert_eq!(users.len(), 29);
    run.assert_every_increment_rendered();
}
