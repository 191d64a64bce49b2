use super::*;
use crate::source::read_str;

#[test]
fn families_sorted_by_series_with_label_values() {
    let text = "# TYPE h histogram\n\
        h_bucket{path=\"/a\",le=\"1\"} 1\nh_bucket{path=\"/a\",le=\"+Inf\"} 1\nh_sum{path=\"/a\"} 1\nh_count{path=\"/a\"} 1\n\
        h_bucket{path=\"/b\",le=\"1\"} 1\nh_bucket{path=\"/b\",le=\"+Inf\"} 1\nh_sum{path=\"/b\"} 1\nh_count{path=\"/b\"} 1\n\
        # TYPE c counter\nc{m=\"GET\"} 1\n";
    let scrape = read_str(text, Format::Prometheus).unwrap();
    let audit = Audit::new("t", scrape.format, scrape.bytes, &scrape.inventory, None);
    assert_eq!(audit.total_series, 9);
    let h = &audit.metrics[0];
    assert_eq!(
        (h.name.as_str(), h.kind, h.series, h.label_sets),
        ("h", Kind::Histogram, 8, 2)
    );
    assert_eq!(
        h.labels,
        [LabelAudit {
            name: "path".into(),
            values: 2,
            demand: None,
            label_limit: None,
            new_values_per_hour: None
        }]
    );
    assert_eq!(h.buckets.as_deref(), Some(&[1.0][..]));
    assert_eq!(audit.metrics[1].name, "c");
    assert_eq!(audit.top_offenders[0].label.as_deref(), Some("path"));
    let json: serde_json::Value = serde_json::from_str(&audit.to_json()).unwrap();
    assert_eq!(json["metrics"][0]["labels"][0]["values"], 2);
    assert!(json["metrics"][0]["growth_per_hour"].is_null());
    assert!(audit
        .to_text()
        .contains("label `path` has 2 distinct values"));
}

#[test]
fn thousands_separators() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1234567), "1,234,567");
}

/// A guarded scrape: `a_total` folds (its overflow series, and `user`
/// values beyond its label limit), next to the guard's self-report.
pub(crate) const GUARDED: &str = "# TYPE a_total counter\n\
    a_total{user=\"u1\",method=\"GET\"} 2\n\
    a_total{user=\"u2\",method=\"GET\"} 3\n\
    a_total{user=\"__overflow__\",method=\"GET\"} 10\n\
    a_total{otel_metric_overflow=\"true\"} 7\n\
    # TYPE h histogram\n\
    h_bucket{route=\"/a\",le=\"0.1\"} 1\nh_bucket{route=\"/a\",le=\"1\"} 2\n\
    h_bucket{route=\"/a\",le=\"+Inf\"} 2\nh_sum{route=\"/a\"} 0.3\nh_count{route=\"/a\"} 2\n\
    # TYPE cardinality_guard_series gauge\n\
    cardinality_guard_series{metric=\"a_total\"} 4\n\
    cardinality_guard_series{metric=\"h\"} 5\n\
    # TYPE cardinality_guard_series_limit gauge\n\
    cardinality_guard_series_limit{metric=\"a_total\"} 4\n\
    cardinality_guard_series_limit{metric=\"h\"} 5000\n\
    # TYPE cardinality_guard_overflow_total counter\n\
    cardinality_guard_overflow_total{metric=\"a_total\",reason=\"series_limit\"} 7\n\
    cardinality_guard_overflow_total{metric=\"a_total\",reason=\"label_limit\"} 10\n\
    # TYPE cardinality_guard_label_values gauge\n\
    cardinality_guard_label_values{metric=\"a_total\",label=\"user\"} 400\n\
    cardinality_guard_label_values{metric=\"a_total\",label=\"method\"} 1\n\
    cardinality_guard_label_values{metric=\"h\",label=\"route\"} 1\n\
    # TYPE cardinality_guard_admitted_total counter\n\
    cardinality_guard_admitted_total{metric=\"a_total\"} 3\n\
    cardinality_guard_admitted_total{metric=\"h\"} 1\n\
    # TYPE cardinality_guard_global_series gauge\n\
    cardinality_guard_global_series 9\n\
    # TYPE cardinality_guard_global_series_limit gauge\n\
    cardinality_guard_global_series_limit 50000\n";

#[test]
fn a_guarded_target_leaves_its_self_report_apart_and_reads_folds_as_folds() {
    let scrape = read_str(GUARDED, Format::Prometheus).unwrap();
    let audit = Audit::new("t", scrape.format, scrape.bytes, &scrape.inventory, None);
    assert!(audit.guarded);
    let names: Vec<&str> = audit.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["h", "a_total"]);
    assert!(audit
        .top_offenders
        .iter()
        .all(|o| !o.metric.starts_with("cardinality_guard_")));
    let a = audit.metric("a_total").unwrap();
    // Every line counts in `series`; the overflow series is no label set,
    // `__overflow__` no value.
    assert_eq!((a.series, a.label_sets, a.overflow_series), (4, 3, 1));
    assert_eq!(a.folded_values, 1);
    assert_eq!(a.series_limit, Some(4));
    let user = a.labels.iter().find(|l| l.name == "user").unwrap();
    assert_eq!((user.values, user.demand), (2, Some(400)));
    assert!(a.labels.iter().all(|l| l.name != "otel_metric_overflow"));
    let own = audit.self_report.as_ref().unwrap();
    assert_eq!(own.families.len(), 7);
    assert_eq!(own.series, 13);
    assert_eq!(audit.total_series, 9 + 13);
    assert_eq!(
        (own.global_series, own.global_series_limit),
        (Some(9), Some(50_000))
    );
    assert_eq!(own.metrics_folding.len(), 1);
    assert_eq!(
        (
            own.metrics_folding[0].metric.as_str(),
            own.metrics_folding[0].folded
        ),
        ("a_total", 7)
    );
    let json: serde_json::Value = serde_json::from_str(&audit.to_json()).unwrap();
    assert_eq!(json["guarded"], true);
    assert!(audit
        .to_json()
        .trim_start()
        .starts_with("{\n  \"guarded\": true"));
    assert!(
        audit.to_text().contains("guarded by cardinality-guard"),
        "{}",
        audit.to_text()
    );

    let plain = read_str("x_total{a=\"1\"} 1\n", Format::Prometheus).unwrap();
    let plain = Audit::new("t", plain.format, plain.bytes, &plain.inventory, None);
    assert!(!plain.guarded && plain.self_report.is_none());
}
