//! Pinned label values are always admitted and never folded, and their room
//! under the label limit is reserved: a flood of junk that arrives first
//! cannot take it.

mod support;

use std::collections::BTreeSet;

use cardinality_guard_core::{LabelReport, Report, LABEL_OVERFLOW};
use support::{
    assert_series_accounting, guarded, label_values, overflow_total, race, sum_of, value_exact,
    THREADS,
};

const M: &str = "http_requests_total";
const JUNK: u64 = 500;
const PINNED: [&str; 2] = ["/login", "/checkout"];

fn route_report<'a>(report: &'a Report, metric: &str) -> &'a LabelReport {
    report
        .metric(metric)
        .and_then(|m| m.labels.iter().find(|l| l.name == "route"))
        .unwrap_or_else(|| panic!("route of {metric} is tracked: {report:?}"))
}

fn hit(metric: &'static str, route: String, n: u64) {
    metrics::counter!(metric, "method" => "GET", "route" => route).increment(n);
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// A flood of junk routes first, then the pinned ones (twice each).
fn flood_then_pinned(metric: &'static str) -> u64 {
    let mut total = 0;
    for j in 0..JUNK {
        hit(metric, format!("/junk/{j}"), 1);
        total += 1;
    }
    for (i, route) in PINNED.iter().enumerate() {
        for _ in 0..2 {
            hit(metric, (*route).to_owned(), 10 + i as u64);
            total += 10 + i as u64;
        }
    }
    total
}

#[test]
fn pinned_routes_get_their_series_after_a_flood_filled_the_limit() {
    let toml = format!(
        "[[metrics]]\nmatch = \"{M}\"\nlabel_limits = {{ route = 3 }}\n\
         pinned = {{ route = [\"/login\", \"/checkout\"] }}\n"
    );
    let (guard, exporter) = guarded(&toml);
    let total = metrics::with_local_recorder(&guard, || flood_then_pinned(M));
    let text = exporter.render();

    // Only one junk route (the first) took the one room left beside the pins.
    assert_eq!(
        label_values(&text, M, "route"),
        set(&["/junk/0", "/login", "/checkout", LABEL_OVERFLOW]),
        "{text}"
    );
    let get = |route: &str| value_exact(&text, M, &[("method", "GET"), ("route", route)]);
    assert_eq!(get("/login"), Some(20.0), "{text}");
    assert_eq!(get("/checkout"), Some(22.0), "{text}");
    assert_eq!(get("/junk/0"), Some(1.0), "{text}");
    assert_eq!(get(LABEL_OVERFLOW), Some((JUNK - 1) as f64), "{text}");
    assert_eq!(sum_of(&text, M), total as f64, "{text}");
    assert_eq!(
        overflow_total(&text, M, "label_limit"),
        (JUNK - 1) as f64,
        "pinned values are never folded:\n{text}"
    );

    let report = exporter.report();
    let route = route_report(&report, M);
    assert_eq!(route.limit, Some(3), "{route:?}");
    assert_eq!(route.pinned, 2, "{route:?}");
    assert_eq!(route.values, Some(3), "{route:?}");
    assert_eq!(route.folded, JUNK - 1, "{route:?}");
    let error = route.demand.abs_diff(JUNK + 2) as f64 / (JUNK + 2) as f64;
    assert!(error < 0.05, "{route:?}");
    assert_series_accounting(&text, &report);
}

#[test]
fn a_limit_filled_by_pins_admits_no_junk_at_all() {
    let toml = format!(
        "[[metrics]]\nmatch = \"{M}\"\nlabel_limits = {{ route = 2 }}\n\
         pinned = {{ route = [\"/login\", \"/checkout\"] }}\n"
    );
    let (guard, exporter) = guarded(&toml);
    let total = metrics::with_local_recorder(&guard, || flood_then_pinned(M));
    let text = exporter.render();
    assert_eq!(
        label_values(&text, M, "route"),
        set(&["/login", "/checkout", LABEL_OVERFLOW]),
        "{text}"
    );
    assert_eq!(sum_of(&text, M), total as f64, "{text}");
    assert_eq!(
        overflow_total(&text, M, "label_limit"),
        JUNK as f64,
        "{text}"
    );
    let report = exporter.report();
    let route = route_report(&report, M);
    assert_eq!((route.values, route.folded), (Some(2), JUNK), "{route:?}");
}

#[test]
fn pins_in_defaults_apply_and_a_rule_replaces_them_for_its_label() {
    const INHERITS: &str = "shop_requests_total";
    const REPLACES: &str = "admin_requests_total";
    let toml = format!(
        "[defaults]\nlabel_limits = {{ route = 3 }}\n\
         pinned = {{ route = [\"/login\", \"/checkout\"] }}\n\
         [[metrics]]\nmatch = \"{REPLACES}\"\npinned = {{ route = [\"/admin\"] }}\n"
    );
    let (guard, exporter) = guarded(&toml);
    metrics::with_local_recorder(&guard, || {
        flood_then_pinned(INHERITS);
        // The rule's own pin comes last too; `/login` and `/checkout` are
        // junk to it, like any other route.
        flood_then_pinned(REPLACES);
        hit(REPLACES, "/admin".to_owned(), 5);
    });
    let text = exporter.render();

    // No rule: [defaults]' pins and limit.
    assert_eq!(
        label_values(&text, INHERITS, "route"),
        set(&["/junk/0", "/login", "/checkout", LABEL_OVERFLOW]),
        "{text}"
    );
    // The rule's list replaces [defaults]' list for `route` (the limit of 3
    // is inherited): two rooms left, taken by the first two junk routes;
    // `/login` and `/checkout` fold; `/admin` gets its series.
    assert_eq!(
        label_values(&text, REPLACES, "route"),
        set(&["/junk/0", "/junk/1", "/admin", LABEL_OVERFLOW]),
        "{text}"
    );
    let admin = value_exact(&text, REPLACES, &[("method", "GET"), ("route", "/admin")]);
    assert_eq!(admin, Some(5.0), "{text}");

    let report = exporter.report();
    let inherits = route_report(&report, INHERITS);
    assert_eq!(
        (inherits.limit, inherits.pinned, inherits.values),
        (Some(3), 2, Some(3)),
        "{inherits:?}"
    );
    let replaces = route_report(&report, REPLACES);
    assert_eq!(
        (replaces.limit, replaces.pinned, replaces.values),
        (Some(3), 1, Some(3)),
        "{replaces:?}"
    );
    // 498 junk routes and 4 registrations of /login and /checkout folded.
    assert_eq!(replaces.folded, JUNK - 2 + 4, "{replaces:?}");
    assert_series_accounting(&text, &report);
}

/// Threads racing junk against the pins: the pins always get their series,
/// and junk never takes more than the room left beside them.
#[test]
fn pins_keep_their_room_while_threads_race_junk() {
    for round in 0..50 {
        let toml = format!(
            "[[metrics]]\nmatch = \"{M}\"\nlabel_limits = {{ route = 4 }}\n\
             pinned = {{ route = [\"/login\", \"/checkout\"] }}\n"
        );
        let (guard, exporter) = guarded(&toml);
        race(&guard, |t| {
            for j in 0..20 {
                hit(M, format!("/junk/{}", (t * 20 + j) % 37), 1);
                if j == 10 {
                    hit(M, PINNED[t % 2].to_owned(), 1);
                }
            }
        });
        let text = exporter.render();
        let routes = label_values(&text, M, "route");
        let junk = routes.iter().filter(|r| r.starts_with("/junk/")).count();
        assert_eq!(junk, 2, "round {round}: {routes:?}\n{text}");
        for pin in PINNED {
            let v = value_exact(&text, M, &[("method", "GET"), ("route", pin)]);
            assert_eq!(v, Some((THREADS / 2) as f64), "round {round}:\n{text}");
        }
        assert_eq!(sum_of(&text, M), (THREADS * 21) as f64, "round {round}");
    }
}
