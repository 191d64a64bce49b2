//! One default: a config file starts from the embedded default and says
//! only what differs. Each key of `[global]` / `[defaults]` it gives replaces
//! the default's; each table or list it gives replaces the default's whole;
//! what it leaves out stays the default's.

use cardinality_guard_core::config::DEFAULT_BUCKETS;
use cardinality_guard_core::{Config, HistogramConfig, Mode, OnOverflow, PrometheusGuard};

const HTTP: &str = "http_server_request_duration_seconds";

fn parse(text: &str) -> Config {
    Config::from_toml(text, "guard.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_default_is_the_embedded_config() {
    assert_eq!(Config::default(), Config::embedded());
    assert_eq!(parse(""), Config::embedded());
    assert_eq!(
        parse(cardinality_guard_core::config::EMBEDDED_CONFIG),
        Config::default()
    );
}

#[test]
fn a_file_without_histograms_keeps_the_buckets() {
    let config = parse("[defaults]\nmax_series = 100\n");
    assert_eq!(
        config.histograms.buckets.as_ref().map(|b| b.bounds()),
        Some(&DEFAULT_BUCKETS[..])
    );
    // And the guard renders a bucketed histogram (11 bounds: 14 series).
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("db_query_seconds").record(0.2);
    });
    let text = exporter.render();
    assert!(text.contains("# TYPE db_query_seconds histogram"), "{text}");
    assert!(
        text.contains("db_query_seconds_bucket{le=\"0.25\"} 1"),
        "{text}"
    );
    assert_eq!(
        exporter.report().metric("db_query_seconds").unwrap().series,
        14
    );
}

#[test]
fn histograms_with_only_overrides_keep_the_default_buckets() {
    let config = parse("[[histograms.per_metric]]\nmatch = \"db_*\"\nbuckets = [0.001, 0.01]\n");
    assert_eq!(
        config.histograms.buckets,
        Config::default().histograms.buckets
    );
    assert_eq!(
        config
            .histograms
            .buckets_for("db_x")
            .unwrap()
            .bounds()
            .len(),
        2
    );
    assert_eq!(
        config
            .histograms
            .buckets_for("other")
            .unwrap()
            .bounds()
            .len(),
        11
    );
}

#[test]
fn summaries_are_asked_for_by_name() {
    let config = parse("[histograms]\nbuckets = \"summary\"\n");
    assert_eq!(config.histograms, HistogramConfig::summaries());
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("db_query_seconds").record(0.2);
    });
    assert!(exporter
        .render()
        .contains("# TYPE db_query_seconds summary"));
    let err =
        Config::from_toml("[histograms]\nbuckets = \"summaries\"\n", "guard.toml").unwrap_err();
    assert_eq!(err.key(), Some("histograms.buckets"));
    assert!(err.message().contains("\"summary\""), "{err}");
}

#[test]
fn a_file_without_metrics_keeps_the_default_rule_and_a_file_with_them_replaces_it() {
    let kept = parse("[global]\nmax_series = 9000\n");
    assert_eq!(kept.metrics, Config::default().metrics);
    assert_eq!(kept.policy_for(HTTP).max_series.get(), 5000);

    let replaced = parse("[[metrics]]\nmatch = \"app_*\"\nmax_series = 300\n");
    assert_eq!(replaced.metrics.len(), 1);
    assert_eq!(replaced.policy_for("app_x").max_series.get(), 300);
    assert_eq!(replaced.policy_for(HTTP).max_series.get(), 2000);

    let none = parse("metrics = []\n");
    assert!(none.metrics.is_empty());
}

#[test]
fn global_and_defaults_merge_key_by_key() {
    let config = parse(
        "[global]\nmax_metrics = 10\n\n[defaults]\non_overflow = \"drop\"\nmode = \"shadow\"\n",
    );
    let default = Config::default();
    assert_eq!(config.global.max_metrics.get(), 10);
    assert_eq!(config.global.max_series, default.global.max_series);
    assert_eq!(config.global.warn_interval, default.global.warn_interval);
    assert_eq!(config.defaults.on_overflow, OnOverflow::Drop);
    assert_eq!(config.defaults.mode, Mode::Shadow);
    assert_eq!(config.defaults.max_series, default.defaults.max_series);
}

#[test]
fn a_rules_label_entries_go_over_the_defaults_entries() {
    let config = parse(
        "[defaults]\nlabel_limits = { user = 5 }\npinned = { user = [\"admin\"] }\n\
         [[metrics]]\nmatch = \"a\"\nlabel_limits = { tenant = 3 }\n",
    );
    let a = config.policy_for("a");
    // A rule's label entries go over [defaults]' entries of the same label.
    assert_eq!(a.label_limits.len(), 2);
    assert_eq!(a.pinned["user"].len(), 1);
}
