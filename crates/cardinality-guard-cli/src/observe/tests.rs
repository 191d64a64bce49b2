use super::*;
use crate::report::tests::GUARDED;
use crate::source::read_str;
use cardinality_guard_core::text::Format;

fn inventory(text: &str) -> Inventory {
    read_str(text, Format::Prometheus).unwrap().inventory
}

fn find<'a>(observed: &'a [Observed<'_>], name: &str) -> &'a Observation {
    &observed
        .iter()
        .find(|o| o.observation.name == name)
        .unwrap_or_else(|| panic!("{name} observed"))
        .observation
}

fn label<'a>(o: &'a Observation, name: &str) -> &'a ObservedLabel {
    o.labels.iter().find(|l| l.name == name).unwrap()
}

#[test]
fn a_guarded_metric_is_observed_as_its_guard_reports_it() {
    let inventory = inventory(GUARDED);
    let (observed, running) = observe(&inventory, None);
    assert_eq!(observed.len(), 2, "the self-report families are no metrics");
    let a = find(&observed, "a_total");
    // The budget and the folds are the self-report's; the overflow series
    // is no label set.
    assert_eq!((a.limit, a.series_per_label_set, a.label_sets), (4, 1, 3));
    assert_eq!(a.folded, 7);
    // Every series' updates, the overflow series' included; it carries 7 of 22.
    assert_eq!(a.updates, Some(22));
    assert_eq!(a.admitted_share, Some(15.0 / 22.0));
    let user = label(a, "user");
    assert_eq!(
        user.demand, 400,
        "the guard's demand, not the 2 values seen"
    );
    assert_eq!(user.folded_updates, Some(10));
    assert_eq!(user.limit, Some(2), "the values its label limit kept");
    let method = label(a, "method");
    assert_eq!((method.demand, method.limit), (1, None));
    assert!(a.labels.iter().all(|l| l.name != "otel_metric_overflow"));

    let h = find(&observed, "h");
    assert_eq!(
        (h.limit, h.series_per_label_set, h.updates),
        (5000, 2 + 3, Some(2))
    );
    assert_eq!(h.folded, 0);

    // The running config carries what the self-report tells.
    let policy = running.policy_for("a_total");
    assert_eq!(policy.max_series.get(), 4);
    assert_eq!(policy.label_limits["user"].get(), 2);
    assert_eq!(running.global.max_series.get(), 50_000);
    // The embedded default's rule stays for the metrics not seen.
    assert_eq!(
        running
            .policy_for("http_server_request_duration_seconds")
            .max_series
            .get(),
        5000
    );
}

#[test]
fn an_exported_label_limit_wins_over_the_values_kept() {
    let text = format!(
        "{GUARDED}# TYPE cardinality_guard_label_limit gauge\n\
         cardinality_guard_label_limit{{metric=\"a_total\",label=\"user\"}} 5\n"
    );
    let inventory = inventory(&text);
    let (observed, running) = observe(&inventory, None);
    assert_eq!(label(find(&observed, "a_total"), "user").limit, Some(5));
    assert_eq!(running.policy_for("a_total").label_limits["user"].get(), 5);
}

#[test]
fn without_the_guard_only_growing_metrics_are_observed_under_the_embedded_default() {
    let mut text = String::from(
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n\
         # TYPE python_gc_objects_collected_total counter\n\
         python_gc_objects_collected_total{generation=\"0\"} 10\n\
         python_gc_objects_collected_total{generation=\"1\"} 3\n\
         # TYPE python_info gauge\npython_info{implementation=\"CPython\",major=\"3\"} 1\n\
         # TYPE req_total counter\n# TYPE req_created gauge\n\
         # TYPE lat histogram\n",
    );
    for i in 0..GROWING_VALUES {
        text.push_str(&format!(
            "lat_bucket{{path=\"/o/{i}\",le=\"1\"}} 1\nlat_bucket{{path=\"/o/{i}\",le=\"+Inf\"}} 1\n\
             lat_sum{{path=\"/o/{i}\"}} 0.1\nlat_count{{path=\"/o/{i}\"}} 3\n\
             req_total{{id=\"{i}\"}} 1\nreq_created{{id=\"{i}\"}} 1.7e9\n"
        ));
    }
    let inventory = inventory(&text);
    let (observed, running) = observe(&inventory, None);
    let names: Vec<&str> = observed
        .iter()
        .map(|o| o.observation.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["lat", "req_total"],
        "no process, runtime or _created metric"
    );
    let lat = find(&observed, "lat");
    assert_eq!((lat.limit, lat.series_per_label_set), (2000, 1 + 3));
    assert_eq!((lat.label_sets, lat.folded), (GROWING_VALUES, 0));
    assert_eq!(lat.updates, Some(3 * GROWING_VALUES));
    let path = label(lat, "path");
    assert_eq!((path.demand, path.limit), (GROWING_VALUES, None));
    assert_eq!(running, Config::embedded());
    // One value fewer and nothing grows.
    let fewer: String = text
        .lines()
        .filter(|l| !l.contains(&format!("\"/o/{}\"", GROWING_VALUES - 1)))
        .filter(|l| !l.contains(&format!("id=\"{}\"", GROWING_VALUES - 1)))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(observe(&self::inventory(&fewer), None).0.is_empty());
}

#[test]
fn an_openmetrics_counter_is_its_total_and_its_created_sample_no_update() {
    let text = "# TYPE req counter\nreq_total{id=\"1\"} 2\nreq_created{id=\"1\"} 1.7e9\n\
                req_total{id=\"2\"} 3\nreq_created{id=\"2\"} 1.7e9\n# EOF\n";
    let inventory = read_str(text, Format::OpenMetrics).unwrap().inventory;
    let family = &inventory.families["req"];
    assert_eq!(guard_name(family).as_deref(), Some("req_total"));
    assert_eq!(family.updates, Some(5.0));
    assert_eq!(family.label_sets.len(), 2);
}
