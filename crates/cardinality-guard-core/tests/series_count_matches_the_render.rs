//! `cardinality_guard_series{metric}` equals what the real exporter renders.

mod support;

use support::{guarded, rendered_series, self_reported_series};

#[test]
fn counters_with_overflow() {
    let (guard, exporter) = guarded("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 10\n");
    metrics::with_local_recorder(&guard, || {
        for u in 0..50 {
            metrics::counter!("logins_total", "user" => u.to_string()).increment(1);
        }
    });
    let text = exporter.render();
    assert_eq!(rendered_series(&text, "logins_total"), 10, "{text}");
    assert_eq!(self_reported_series(&text, "logins_total"), Some(10.0));
}
