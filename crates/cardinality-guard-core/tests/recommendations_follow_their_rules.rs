//! Each rule of the recommendations (`cardinality_guard_core::recommend`)
//! on a workload that calls for it: nothing to do within budget, raise a
//! bounded demand (with or without the overflow series' room), limit the
//! label that explodes (and the suggested `guard.toml` then holds the same
//! workload), remove the label that dwarfs everything; and the JSON of a
//! recommendation.

use cardinality_guard_core::{Action, Config, PrometheusGuard, Recommendation, Report};

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

fn advice(report: &Report, name: &str) -> Option<Recommendation> {
    report.metric(name).unwrap().recommendation.clone()
}

/// 4 queues × 3 outcomes: 12 label sets.
fn jobs() {
    for queue in 0..4 {
        for outcome in ["ok", "retry", "failed"] {
            metrics::counter!("jobs_total", "queue" => queue.to_string(), "outcome" => outcome)
                .increment(1);
        }
    }
}

/// 2 regions × 50 tenants: 100 label sets of a histogram (14 series each).
fn tenants() {
    for tenant in 0..50 {
        for region in ["eu", "us"] {
            metrics::histogram!("latency_seconds", "region" => region, "tenant" => format!("t{tenant}"))
                .record(0.1);
        }
    }
}

#[test]
fn nothing_to_do_within_budget() {
    let report = run("[defaults]\nmode = \"shadow\"\nmax_series = 15\n", jobs);
    // 12 of 15 series is 80%: comfortable, just.
    assert_eq!(report.metric("jobs_total").unwrap().series, 12);
    assert_eq!(advice(&report, "jobs_total"), None);
}

#[test]
fn bounded_and_close_raises_max_series() {
    for mode in ["shadow", "enforce"] {
        let toml = format!("[defaults]\nmode = \"{mode}\"\nmax_series = 10\n");
        let report = run(&toml, jobs);
        let advice = advice(&report, "jobs_total").unwrap();
        assert_eq!(advice.action, Action::RaiseMaxSeries, "{mode}");
        // 12 label sets × 1.25 = 15, + 1 for the overflow series.
        assert_eq!(
            (advice.max_series, advice.expected_series),
            (16, 12),
            "{mode}"
        );
        assert!(
            advice
                .text
                .starts_with("raise max_series to 16: 12 label sets"),
            "{}",
            advice.text
        );
    }
}

#[test]
fn with_drop_no_room_is_kept_for_an_overflow_series() {
    let report = run(
        "[defaults]\nmode = \"shadow\"\nmax_series = 10\non_overflow = \"drop\"\n",
        jobs,
    );
    assert_eq!(advice(&report, "jobs_total").unwrap().max_series, 15);
}

#[test]
fn bounded_but_far_over_budget_still_raises() {
    // 20 routes × 5 statuses: no label explodes, 5× the budget.
    let report = run("[defaults]\nmode = \"shadow\"\nmax_series = 20\n", || {
        for route in 0..20 {
            for status in [200, 201, 404, 500, 503] {
                metrics::counter!("requests_total", "route" => format!("/r{route}"), "status" => status.to_string())
                    .increment(1);
            }
        }
    });
    let advice = advice(&report, "requests_total").unwrap();
    assert_eq!(advice.action, Action::RaiseMaxSeries);
    assert_eq!(advice.max_series, 126);
}

#[test]
fn one_exploding_label_gets_a_label_limit_that_holds() {
    let toml = "[defaults]\nmode = \"shadow\"\nmax_series = 280\n";
    let report = run(toml, tenants);
    let metric = report.metric("latency_seconds").unwrap();
    assert_eq!((metric.label_sets, metric.series_per_label_set), (100, 14));
    let advice = advice(&report, "latency_seconds").unwrap();
    // The budget holds 19 label sets besides the overflow series' room;
    // with 2 regions and headroom, 6 tenants + `__overflow__`.
    let Action::LimitLabel {
        label, label_limit, ..
    } = &advice.action
    else {
        panic!("{advice:?}");
    };
    assert_eq!((label.as_str(), *label_limit), ("tenant", 6));
    assert_eq!(
        (advice.expected_series, advice.max_series),
        (2 * 7 * 14, 280)
    );
    assert!(
        advice
            .text
            .contains("would hold 196 series instead of 1400"),
        "{}",
        advice.text
    );

    // Applied to the same workload: within budget, folded in `tenant` only.
    let suggested = report.suggested_config(&Config::from_toml(toml, "guard.toml").unwrap());
    let after = run(&suggested, tenants);
    let metric = after.metric("latency_seconds").unwrap();
    assert_eq!(metric.series, 196, "{suggested}");
    assert!(metric.series <= metric.limit);
    assert_eq!(metric.overflow.series_limit, 0);
    assert!(!metric.overflow_series);
    let folded: Vec<_> = metric
        .labels
        .iter()
        .filter(|l| l.folded > 0)
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(folded, ["tenant"]);
    assert_eq!(metric.recommendation, None);
}

#[test]
fn a_label_that_dwarfs_everything_is_to_be_removed() {
    let report = run("[defaults]\nmode = \"shadow\"\nmax_series = 100\n", || {
        for user in 0..2000 {
            let method = if user % 2 == 0 { "password" } else { "sso" };
            metrics::counter!("logins_total", "user" => user.to_string(), "method" => method)
                .increment(1);
        }
    });
    let advice = advice(&report, "logins_total").unwrap();
    let Action::RemoveLabel {
        label,
        demand,
        label_limit,
    } = &advice.action
    else {
        panic!("{advice:?}");
    };
    assert_eq!((label.as_str(), *label_limit), ("user", 1));
    assert!((1900..=2100).contains(demand), "{demand}");
    // 2 methods × (1 user + `__overflow__`); the budget is kept.
    assert_eq!((advice.expected_series, advice.max_series), (4, 100));
    assert!(
        advice
            .text
            .starts_with("remove the label user from the code"),
        "{}",
        advice.text
    );
}

#[test]
fn it_serializes_flat_with_its_text() {
    let report = run("[defaults]\nmode = \"shadow\"\nmax_series = 10\n", jobs);
    let json = serde_json::to_value(advice(&report, "jobs_total").unwrap()).unwrap();
    assert_eq!(json["kind"], "raise_max_series");
    assert_eq!(json["max_series"], 16);
    assert!(json["text"]
        .as_str()
        .unwrap()
        .starts_with("raise max_series to 16"));
}
