use super::*;
use crate::report::tests::GUARDED;
use crate::source::read_str;
use cardinality_guard_core::text::Format;

fn suggested(text: &str) -> (String, Config) {
    let scrape = read_str(text, Format::Prometheus).unwrap();
    let toml = suggest(&scrape.inventory, "http://127.0.0.1:9/metrics", None).unwrap();
    let config =
        Config::from_toml(&toml, "suggested.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    (toml, config)
}

#[test]
fn a_guarded_target_keeps_its_budgets_and_label_limits() {
    // b_total: comfortably within its budget, its label `k` folded by a
    // label limit of 1.
    let text = format!(
        "{GUARDED}b_total{{k=\"x\"}} 1\nb_total{{k=\"__overflow__\"}} 4\n\
         cardinality_guard_series_limit{{metric=\"b_total\"}} 100\n\
         cardinality_guard_overflow_total{{metric=\"b_total\",reason=\"label_limit\"}} 4\n"
    );
    let (toml, config) = suggested(&text);
    assert!(toml.contains("The target runs cardinality-guard"), "{toml}");
    let b = config.policy_for("b_total");
    assert_eq!(b.max_series.get(), 100, "its running budget\n{toml}");
    assert_eq!(
        b.label_limits["k"].get(),
        1,
        "its running label limit\n{toml}"
    );
    // a_total's user (~400 values over 22 updates: ids) is held to the 2
    // values the scrape shows (its running limit, read from the `__overflow__`
    // folds): already folded as a removal would fold it, nothing more to
    // advise; its budget and that limit stay.
    let a = config.policy_for("a_total");
    assert_eq!(a.max_series.get(), 4, "{toml}");
    assert_eq!(a.label_limits["user"].get(), 2, "{toml}");
    // Nothing to do for h: its running budget stays.
    assert_eq!(config.policy_for("h").max_series.get(), 5000, "{toml}");
    assert!(!toml.contains("match = \"cardinality_guard_"), "{toml}");
    assert!(
        !toml.contains("match        = \"cardinality_guard_"),
        "{toml}"
    );
    assert_eq!(
        config
            .histograms
            .buckets_for("h")
            .map(|b| b.bounds().to_vec()),
        Some(vec![0.1, 1.0])
    );
}

#[test]
fn a_target_without_the_guard_gets_a_file_for_the_proxy() {
    let mut text = String::from(
        "# TYPE process_open_fds gauge\nprocess_open_fds 12\n\
         # TYPE python_info gauge\npython_info{implementation=\"CPython\"} 1\n\
         # TYPE lat histogram\n# TYPE lat_created gauge\n\
         # TYPE size summary\nsize_sum 3\nsize_count 1\n",
    );
    for i in 0..1100 {
        text.push_str(&format!(
            "lat_bucket{{path=\"/o/{i}\",method=\"GET\",le=\"0.5\"}} 1\n\
             lat_bucket{{path=\"/o/{i}\",method=\"GET\",le=\"+Inf\"}} 1\n\
             lat_sum{{path=\"/o/{i}\",method=\"GET\"}} 0.1\nlat_count{{path=\"/o/{i}\",method=\"GET\"}} 1\n\
             lat_created{{path=\"/o/{i}\",method=\"GET\"}} 1.7e9\n"
        ));
    }
    let (toml, config) = suggested(&text);
    assert!(toml.contains("does not run cardinality-guard"), "{toml}");
    assert!(
        toml.contains(
            "cardinality-guard proxy --upstream http://127.0.0.1:9/metrics --listen ADDR --config guard.toml"
        ),
        "{toml}"
    );
    assert!(
        toml.contains("lat: the label `path` holds raw paths (1,100 distinct)"),
        "{toml}"
    );
    assert!(toml.contains("route template"), "{toml}");
    let entries: Vec<&str> = toml
        .lines()
        .filter_map(|l| l.strip_prefix("match"))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    // `lat` and its buckets; no process, runtime, summary or _created entry.
    assert_eq!(
        entries,
        ["lat", "lat", "http_server_request_duration_seconds"],
        "{toml}"
    );
    let lat = config.policy_for("lat");
    // 1,100 paths, each seen once (one observation per path): an id, not a
    // dimension. The engine removes the label (folds it meanwhile) at any
    // multiple of the budget, the ratio in its reason.
    assert_eq!(lat.label_limits["path"].get(), 1, "{toml}");
    assert!(toml.contains("1.00 values per update"), "{toml}");
    assert!(!lat.label_limits.contains_key("method"), "{toml}");
    assert!(
        config.histograms.buckets.is_none(),
        "a summary was seen\n{toml}"
    );
    assert_eq!(
        config
            .histograms
            .buckets_for("lat")
            .map(|b| b.bounds().to_vec()),
        Some(vec![0.5])
    );
}

#[test]
fn comments_go_when_the_file_would_not_fit_and_strings_keep_their_hash() {
    let toml = "# header\n[[metrics]]  # entry\nmatch = \"a#b\"  # the name\nx = 'c#d'\ny = \"e\\\"#\"  # f\n";
    assert_eq!(
        without_comments(toml),
        "[[metrics]]\nmatch = \"a#b\"\nx = 'c#d'\ny = \"e\\\"#\"\n"
    );
    assert_eq!(comment_start("a = 1 # x"), Some(6));
}

#[test]
fn a_forged_self_report_still_writes_a_config_that_loads() {
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&format!(
            "m{i}_total{{u=\"1\"}} 1\n\
             cardinality_guard_series_limit{{metric=\"m{i}_total\"}} 1e300\n\
             cardinality_guard_label_values{{metric=\"m{i}_total\",label=\"u\"}} 1e300\n\
             cardinality_guard_overflow_total{{metric=\"m{i}_total\",reason=\"series_limit\"}} 1e300\n"
        ));
    }
    text.push_str("cardinality_guard_global_series_limit 1e300\n");
    let (_, config) = suggested(&text);
    assert!(config.policy_for("m0_total").max_series.get() >= 1);
}

#[test]
fn a_raw_path_note_never_promises_a_label_limit_its_entry_lacks() {
    // 321 raw paths, each requested a few times: within the budget, not an
    // id (0.25 values per update), so the engine leaves the label be; the
    // note must not say a label limit caps it.
    let mut text = String::from("# TYPE http_requests_total counter\n");
    for i in 0..321 {
        let _ = writeln!(
            text,
            "http_requests_total{{path=\"/item/{i}\"}} {}",
            i % 7 + 1
        );
    }
    let (toml, config) = suggested(&text);
    let policy = config.policy_for("http_requests_total");
    assert!(policy.label_limits.is_empty(), "{toml}");
    assert!(toml.contains("holds raw paths (321 distinct)"), "{toml}");
    let prose = toml.replace("\n# ", " ");
    assert!(!prose.contains("label limit below"), "{toml}");
    assert!(prose.contains("its entry below caps it"), "{toml}");
}
