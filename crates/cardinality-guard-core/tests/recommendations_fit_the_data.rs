//! Issue 21: recommendations that fit the data, through the real
//! `PrometheusGuard`: ids are removed at any multiple of the budget (the
//! measured ratio of values to updates in the text), a label limit that
//! folds most of the updates is reported as the problem, and a suggestion
//! never raises a budget its own label limits cap (the suggested
//! `guard.toml`, applied to the same workload, holds it as advised). Then
//! `Observation` on its own, at edge values.

use cardinality_guard_core::{
    Action, Config, Keep, MetricReport, Observation, ObservedLabel, PrometheusGuard,
    Recommendation, Report,
};

/// Runs `workload` through a guard of `toml` and returns its report.
fn run(toml: &str, workload: impl FnOnce()) -> Report {
    let config = Config::from_toml(toml, "guard.toml").unwrap();
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, workload);
    exporter.report()
}

fn advice_of(report: &Report, name: &str) -> Recommendation {
    let metric = report.metric(name).unwrap();
    metric
        .recommendation
        .clone()
        .unwrap_or_else(|| panic!("no advice for {metric:?}"))
}

/// `users` user ids, each logging in once, against a budget of 500.
fn logins(users: u64) -> impl FnOnce() {
    move || {
        for user in 0..users {
            metrics::counter!("logins_total", "user" => user.to_string()).increment(1);
        }
    }
}

#[test]
fn ids_are_removed_at_any_multiple_of_the_budget() {
    // 6× and 9.65× the budget: under the 10× at which a label "dwarfs
    // everything", so before issue 21 both got a label limit of ~398 ids.
    for users in [3_000u64, 4_827] {
        let report = run("[defaults]\nmax_series = 500\n", logins(users));
        let metric = report.metric("logins_total").unwrap();
        assert_eq!(metric.updates, Some(users), "every increment counted once");
        let advice = advice_of(&report, "logins_total");
        let Action::RemoveLabel {
            label, label_limit, ..
        } = &advice.action
        else {
            panic!("{users}: {advice:?}");
        };
        assert_eq!((label.as_str(), *label_limit), ("user", 1));
        let demand = metric.labels[0].demand;
        let ratio = demand as f64 / users as f64;
        assert!(ratio > Recommendation::ID_VALUES_PER_UPDATE, "{ratio}");
        let measured =
            format!("~{demand} values over {users} updates, {ratio:.2} values per update: an id");
        assert!(advice.text.contains(&measured), "{}", advice.text);
        assert!(advice.text.starts_with("remove the label user"));
        assert_eq!(advice.keep, None, "busiest cannot help ids");
        assert_eq!(advice.label_limits.get("user"), Some(&1));
    }
}

/// `rounds` registrations of each of 100 tenants, interleaved: with
/// `tenant = 20`, the first 20 tenants keep their values.
fn tenants(rounds: u32) -> impl FnOnce() {
    move || {
        for _ in 0..rounds {
            for tenant in 0..100 {
                metrics::histogram!("latency_seconds", "tenant" => format!("t{tenant}"))
                    .record(0.1);
            }
        }
    }
}

const TENANTS: &str = "[[metrics]]\nmatch = \"latency_seconds\"\nmax_series = 2000\n\
                       label_limits = { tenant = 20 }\n";

#[test]
fn a_label_limit_that_folds_most_updates_is_the_problem() {
    let report = run(TENANTS, tenants(20));
    let metric = report.metric("latency_seconds").unwrap();
    // 21 label sets × 14 series of 2000: comfortably within budget, yet
    // 1,600 of the 2,000 registrations (and updates) are folded.
    assert_eq!((metric.label_sets, metric.series), (21, 294));
    assert_eq!(metric.overflow.label_limit, 1600);
    assert_eq!(metric.updates, Some(2000));
    let tenant = &metric.labels[0];
    assert_eq!(
        (tenant.name.as_str(), tenant.folded_updates),
        ("tenant", Some(1600))
    );
    let advice = advice_of(&report, "latency_seconds");
    let Action::LimitLabel {
        label, label_limit, ..
    } = &advice.action
    else {
        panic!("{advice:?}");
    };
    // ~100 tenants × 1.25.
    assert_eq!(label, "tenant");
    assert!((120..=130).contains(label_limit), "{advice:?}");
    assert!(
        advice.text.starts_with(&format!(
            "label_limits.tenant = 20 folds 80% of the updates: raise it to {label_limit}"
        )),
        "{}",
        advice.text
    );
    assert_eq!(advice.max_series, 2000, "the budget already holds them");
    assert_fits(&report, "latency_seconds", TENANTS);

    // Applied, every tenant keeps its own series, and nothing is left to do.
    let suggested = report.suggested_config(&Config::from_toml(TENANTS, "guard.toml").unwrap());
    let after = run(&suggested, tenants(20));
    let metric = after.metric("latency_seconds").unwrap();
    assert_eq!(
        (metric.label_sets, metric.overflow.total()),
        (100, 0),
        "{suggested}"
    );
    assert_eq!(metric.recommendation, None, "{suggested}");
}

const SHADOW: &str = "[defaults]\nmode = \"shadow\"\n\
                      [[metrics]]\nmatch = \"latency_seconds\"\nmax_series = 1000\n\
                      label_limits = { tenant = 20 }\n";

#[test]
fn in_shadow_mode_the_budget_raised_is_not_capped_by_a_running_label_limit() {
    let report = run(SHADOW, tenants(10));
    let metric = report.metric("latency_seconds").unwrap();
    assert_eq!((metric.label_sets, metric.series_per_label_set), (100, 14));
    let advice = advice_of(&report, "latency_seconds");
    // Before issue 21: "raise max_series to 1764: 100 label sets × 14",
    // while the suggested TOML kept tenant = 20 (at most 294 series).
    let Action::LimitLabel {
        label, label_limit, ..
    } = &advice.action
    else {
        panic!("{advice:?}");
    };
    assert_eq!(label, "tenant");
    assert!(*label_limit >= 100, "{advice:?}");
    assert_eq!(advice.max_series, 1764, "{advice:?}");
    let demand = metric.labels[0].demand;
    let folds = format!(
        "label_limits.tenant = 20 would fold ~{} of its ~{demand} values: raise it to {label_limit}",
        demand - 20
    );
    assert!(advice.text.starts_with(&folds), "{}", advice.text);
    assert!(
        advice.text.contains("raise max_series to 1764"),
        "{}",
        advice.text
    );
    let policy = assert_fits(&report, "latency_seconds", SHADOW);
    assert_eq!(policy.label_limits["tenant"].get(), *label_limit);

    // Applied to the same workload: within budget, every tenant kept.
    let suggested = report.suggested_config(&Config::from_toml(SHADOW, "guard.toml").unwrap());
    let after = run(&suggested, tenants(10));
    let metric = after.metric("latency_seconds").unwrap();
    assert!(metric.series <= metric.limit, "{metric:?}");
    assert_eq!(
        (metric.label_sets, metric.overflow.total()),
        (100, 0),
        "{suggested}"
    );
    assert_eq!(metric.recommendation, None, "{suggested}");
}

/// Checks one metric's advice against the suggested `guard.toml` (loaded
/// with `Config::from_toml`): it writes the advised budget and label
/// limits, they let through the label sets the advice expects, and a
/// raised budget is no more than they let the metric hold. Returns the
/// suggested policy.
fn assert_fits(report: &Report, name: &str, running: &str) -> cardinality_guard_core::MetricPolicy {
    let running = Config::from_toml(running, "guard.toml").unwrap();
    let text = report.suggested_config(&running);
    let suggested =
        Config::from_toml(&text, "suggested.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let metric: &MetricReport = report.metric(name).unwrap();
    let advice = metric.recommendation.clone().unwrap();
    let policy = suggested.policy_for(name);
    assert_eq!(policy.max_series.get(), advice.max_series, "{text}");
    for (label, limit) in &advice.label_limits {
        assert_eq!(
            policy.label_limits[label.as_str()].get(),
            *limit,
            "{label}: {text}"
        );
    }
    let cost = metric.series_per_label_set;
    assert!(advice.expected_series <= advice.max_series, "{advice:?}");
    let all_limited = metric
        .labels
        .iter()
        .all(|l| policy.label_limits.contains_key(&l.name));
    if all_limited {
        let cap_sets: u64 = metric
            .labels
            .iter()
            .map(|l| policy.label_limits[&l.name].get() + 1)
            .product();
        let cap = (cap_sets + 1) * cost; // + the overflow series' room
        assert!(
            advice.expected_series <= cap,
            "cap below the advice: {advice:?}\n{text}"
        );
        if advice.max_series > metric.limit {
            assert!(
                advice.max_series <= cap,
                "raised beyond the cap: {advice:?}\n{text}"
            );
        }
    }
    policy
}

#[test]
fn observations_at_edge_values_never_panic_and_claim_no_id_without_updates() {
    let ids = || {
        Observation::new("logins_total", 500, 1)
            .label_sets(499)
            .folded(4_501)
            .label(ObservedLabel::new("user", 4_827))
    };
    // No updates (or 0): no ratio to measure, so no id; the label explodes.
    for observation in [ids(), ids().updates(0)] {
        let advice = observation.recommend().unwrap();
        assert_eq!(advice.action.kind(), "limit_label", "{advice:?}");
        assert!(!advice.text.contains("an id"), "{}", advice.text);
    }
    // Measured: an id; busiest is not advised for it, though the admitted
    // series carry little of the traffic.
    let measured = ids().updates(5_000).keep(Keep::First).admitted_share(0.1);
    let advice = measured.recommend().unwrap();
    assert_eq!((advice.action.kind(), advice.keep), ("remove_label", None));
    assert!(
        advice.text.contains("0.97 values per update"),
        "{}",
        advice.text
    );
    // An id its running limit folds: the limit is named in the removal,
    // unless it already folds the id as the removal would (limit 1).
    let limited = |limit| {
        Observation::new("logins_total", 500, 1)
            .label_sets(101)
            .updates(5_000)
            .label(
                ObservedLabel::new("user", 4_827)
                    .limit(limit)
                    .folded_updates(4_900),
            )
    };
    let advice = limited(100).recommend().unwrap();
    assert_eq!(advice.action.kind(), "remove_label");
    assert!(
        advice
            .text
            .contains("(label_limits.user = 100 folds 98% of the updates)"),
        "{}",
        advice.text
    );
    assert_eq!(limited(1).label_sets(2).recommend(), None);
    // u64::MAX updates: the values are no id.
    let advice = ids().updates(u64::MAX).recommend().unwrap();
    assert_eq!(advice.action.kind(), "limit_label");
    // No labels: only the budget can move.
    let bare = Observation::new("jobs_total", 500, 1)
        .label_sets(600)
        .updates(600);
    assert_eq!(bare.recommend().unwrap().action, Action::RaiseMaxSeries);
    assert_eq!(Observation::new("idle_total", 500, 1).recommend(), None);
    // Extremes everywhere, and folded updates beyond the updates.
    let extreme = Observation::new("x_total", u64::MAX, u64::MAX)
        .label_sets(u64::MAX)
        .folded(u64::MAX)
        .updates(u64::MAX)
        .label(
            ObservedLabel::new("a", u64::MAX)
                .limit(1)
                .folded_updates(u64::MAX),
        )
        .label(ObservedLabel::new("b", 0).limit(u64::MAX));
    let _ = extreme.recommend();
    let tiny = Observation::new("y_total", 0, 0)
        .label_sets(1)
        .updates(1)
        .label(ObservedLabel::new("a", 3).limit(2).folded_updates(7));
    let advice = tiny.recommend().unwrap();
    assert!(
        advice.text.contains("folds 100% of the updates"),
        "{}",
        advice.text
    );
}
