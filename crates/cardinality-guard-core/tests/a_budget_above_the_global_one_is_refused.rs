//! A per-metric budget that a file sets above the `[global] max_series` the
//! same file sets is refused (SPEC, Config), naming the file, the line and
//! the key of the per-metric budget. When one of the two is inherited from
//! the embedded default, the file loads and the report carries a note.

use cardinality_guard_core::config::ErrorKind;
use cardinality_guard_core::{Config, PrometheusGuard};

/// The error of `toml`, which must be refused.
fn refused(toml: &str) -> cardinality_guard_core::ConfigError {
    match Config::from_toml(toml, "guard.toml") {
        Ok(config) => panic!("loaded: {config:?}\n{toml}"),
        Err(err) => err,
    }
}

#[test]
fn a_metrics_rule_above_the_global_budget_names_file_line_and_key() {
    let toml = "[global]\nmax_series = 1000\n\n[[metrics]]\nmatch = \"app_a\"\nmax_series = 10\n\n\
                [[metrics]]\nmatch = \"app_*\"\nmax_series = 9223372036854775807\n";
    let err = refused(toml);
    assert_eq!(
        (err.file(), err.line(), err.key(), err.kind()),
        (
            "guard.toml",
            Some(10),
            Some("metrics[1].max_series"),
            ErrorKind::InvalidValue
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "guard.toml:10: key `metrics[1].max_series`: max_series = 9223372036854775807 is above \
         global.max_series = 1000 (line 2): no metric can hold more series than the global \
         budget; lower it or raise global.max_series"
    );
}

#[test]
fn defaults_above_the_global_budget_name_their_key() {
    // [defaults] before [global]: the line is the budget's, wherever it is.
    let err = refused("[defaults]\nmax_series = 600\n[global]\nmax_series = 500\n");
    assert_eq!(
        (err.line(), err.key()),
        (Some(2), Some("defaults.max_series")),
        "{err}"
    );
    assert!(
        err.message().contains("global.max_series = 500 (line 4)"),
        "{err}"
    );
}

#[test]
fn equal_budgets_load() {
    let toml = "[global]\nmax_series = 500\n[defaults]\nmax_series = 500\n\
                [[metrics]]\nmatch = \"a\"\nmax_series = 500\n";
    let config = Config::from_toml(toml, "guard.toml").unwrap();
    assert_eq!(config.policy_for("a").max_series.get(), 500);
}

#[test]
fn from_file_names_the_real_path() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = std::env::temp_dir().join(format!(
        "cardinality-guard-budget-{}-{nanos}.toml",
        std::process::id()
    ));
    std::fs::write(
        &path,
        "[global]\nmax_series = 10\n[[metrics]]\nmatch = \"a\"\nmax_series = 11\n",
    )
    .unwrap();
    let err = Config::from_file(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(err.file(), path.display().to_string());
    assert_eq!(
        (err.line(), err.key()),
        (Some(5), Some("metrics[0].max_series"))
    );
}

#[test]
fn an_inherited_global_budget_gives_a_note_in_the_report_not_an_error() {
    let toml = "[[metrics]]\nmatch = \"app_*\"\nmax_series = 9223372036854775807\n\n\
                [[metrics]]\nmatch = \"http_server_request_duration_seconds\"\nmax_series = 5000\n";
    let config = Config::from_toml(toml, "guard.toml").expect("the global budget is inherited");
    let (_recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    let report = exporter.report();
    assert_eq!(
        report.notes,
        [
            "metric rule app_* allows 9223372036854775807 series, above global.max_series = 50000 \
          (embedded default)"
        ]
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["notes"][0], report.notes[0].as_str());
}

#[test]
fn a_suggested_config_raises_the_global_budget_over_every_budget_it_writes() {
    // The running config loaded with notes: budgets above an inherited (or
    // lower) global budget. The suggestion writes both: it must still load.
    for running in [
        "[[metrics]]\nmatch = \"app_*\"\nmax_series = 100000\n",
        "[global]\nmax_series = 1000\n",
    ] {
        let running = Config::from_toml(running, "guard.toml").unwrap();
        assert!(!running.notes().is_empty());
        let (recorder, exporter) = PrometheusGuard::builder(running.clone())
            .upkeep_interval(None)
            .build()
            .unwrap();
        metrics::with_local_recorder(&recorder, || metrics::counter!("jobs_total").increment(1));
        let suggested = exporter.report().suggested_config(&running);
        let loaded = Config::from_toml(&suggested, "suggested.toml");
        assert!(loaded.is_ok(), "{loaded:?}\n{suggested}");
    }
}
