//! The shipped Prometheus files pass `promtool`: the alert rules are valid,
//! their unit tests (`rules_test.yml`: every alert fires when it should and
//! stays silent when it should) pass, the example config is valid, and every
//! dashboard query parses as PromQL.
//!
//! Needs `promtool` (Debian package `prometheus`; `.ci/test` installs it).
//! Without it the tests fail when `CI` is set, and otherwise say they skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The five alerts, each with its exact `for:` line (other tests rewrite
/// `for: <duration>` by text substitution).
const ALERTS: [(&str, &str); 6] = [
    ("CardinalityBudgetNearlyExhausted", "for: 5m"),
    ("CardinalityOverflowing", "for: 1m"),
    ("CardinalityGlobalBudgetNearlyExhausted", "for: 5m"),
    ("CardinalityGrowing", "for: 30m"),
    ("CardinalityGuardNotReporting", "for: 5m"),
    ("CardinalityGuardConfigReloadFailed", "for: 5m"),
];

/// The fleet view's recording rules (group `cardinality-guard-fleet`).
const RECORDING_RULES: [&str; 6] = [
    "cardinality_guard:series:sum_by_metric",
    "cardinality_guard:series_limit:sum_by_metric",
    "cardinality_guard:global_series:sum",
    "cardinality_guard:global_series_limit:sum",
    "cardinality_guard:overflow:rate5m_sum_by_metric_reason",
    "cardinality_guard:admitted:rate1h_sum_by_metric",
];

/// Alerts and recording rules: what `promtool check rules` counts.
const RULES: usize = ALERTS.len() + RECORDING_RULES.len();

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus")
}

/// `Some("promtool")` when it runs; `None` (after saying so) when it is not
/// installed outside CI; a failure when it is not installed in CI.
fn promtool() -> Option<&'static str> {
    match Command::new("promtool").arg("--version").output() {
        Ok(out) if out.status.success() => Some("promtool"),
        result => {
            let why = match result {
                Ok(out) => format!(
                    "`promtool --version` failed: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => format!("cannot run `promtool`: {e}"),
            };
            if std::env::var_os("CI").is_some() {
                panic!("promtool is required in CI; .ci/test installs it ({why})");
            }
            println!(
                "SKIPPED: {why}; install promtool (Debian package `prometheus`) to check \
                 examples/prometheus/"
            );
            None
        }
    }
}

/// Runs `promtool args...` from the workspace root, asserts it succeeded and
/// returns its combined output.
fn run(promtool: &str, args: &[&str]) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(promtool)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {promtool} {args:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    assert!(
        status.success(),
        "`{promtool} {}` failed ({status}):\n{text}",
        args.join(" ")
    );
    text
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[test]
fn alert_rules_are_valid() {
    let Some(promtool) = promtool() else { return };
    let rules = path_arg(&examples().join("rules.yml"));
    let out = run(promtool, &["check", "rules", &rules]);
    assert!(
        out.contains(&format!("SUCCESS: {RULES} rules found")),
        "expected exactly {RULES} rules:\n{out}"
    );
}

#[test]
fn alert_rule_unit_tests_pass() {
    let Some(promtool) = promtool() else { return };
    let tests = path_arg(&examples().join("rules_test.yml"));
    let out = run(promtool, &["test", "rules", &tests]);
    assert!(out.contains("SUCCESS"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
}

#[test]
fn example_prometheus_config_is_valid_and_loads_the_rules() {
    let Some(promtool) = promtool() else { return };
    let config = path_arg(&examples().join("prometheus.yml"));
    let out = run(promtool, &["check", "config", &config]);
    assert!(out.contains("SUCCESS: 1 rule files found"), "{out}");
    assert!(
        out.contains(&format!("SUCCESS: {RULES} rules found")),
        "{out}"
    );
}

/// Not promtool's business, but promtool's tests only mean something if they
/// test these alerts: every alert is there, once, each with its `for:` line
/// written exactly as the end-to-end test rewrites it, and a unit test.
#[test]
fn every_alert_is_defined_once_with_its_for_line_and_unit_tested() {
    let rules = std::fs::read_to_string(examples().join("rules.yml")).unwrap();
    let tests = std::fs::read_to_string(examples().join("rules_test.yml")).unwrap();
    assert!(rules.contains("- name: cardinality-guard\n"));
    for (alert, for_line) in ALERTS {
        let header = format!("- alert: {alert}\n");
        assert_eq!(rules.matches(&header).count(), 1, "{alert} defined once");
        let start = rules.find(&header).unwrap() + header.len();
        let block = match rules[start..].find("- alert: ") {
            Some(end) => &rules[start..start + end],
            None => &rules[start..],
        };
        let for_lines: Vec<&str> = block
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("for:"))
            .collect();
        assert_eq!(for_lines, [for_line], "{alert}'s for: line");
        for key in ["summary:", "description:", "severity:"] {
            assert!(block.contains(key), "{alert} has {key}");
        }
        // Each case: from its alert's name to the next case's `alertname:`.
        let cases = tests
            .split("alertname: ")
            .skip(1)
            .filter(|case| case.starts_with(&format!("{alert}\n")))
            .collect::<Vec<_>>();
        assert!(
            cases.iter().any(|case| case.contains("exp_labels:")),
            "rules_test.yml has a case where {alert} fires"
        );
        assert!(
            cases.iter().any(|case| case.contains("exp_alerts: []")),
            "rules_test.yml has a case where {alert} stays silent"
        );
    }
}

/// Every fleet recording rule is defined once, in its own group, and
/// `rules_test.yml` checks its value.
#[test]
fn every_recording_rule_is_defined_once_and_unit_tested() {
    let rules = std::fs::read_to_string(examples().join("rules.yml")).unwrap();
    let tests = std::fs::read_to_string(examples().join("rules_test.yml")).unwrap();
    let fleet = rules
        .split_once("- name: cardinality-guard-fleet\n")
        .expect("a cardinality-guard-fleet group")
        .1;
    for record in RECORDING_RULES {
        let header = format!("- record: {record}\n");
        assert_eq!(rules.matches(&header).count(), 1, "{record} defined once");
        assert!(fleet.contains(&header), "{record} in the fleet group");
        assert!(
            tests.contains(&format!("- expr: {record}\n")),
            "rules_test.yml checks {record}"
        );
    }
}

/// Every `expr` of dashboard.json, with its Grafana variables replaced.
fn dashboard_exprs() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(examples().join("dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard.json is JSON");
    let mut exprs = Vec::new();
    walk(&dashboard, &mut exprs);
    exprs
        .into_iter()
        .map(|e| {
            e.replace("$__rate_interval", "5m")
                .replace("$__interval", "1m")
                .replace("${instance}", ".*")
                .replace("$instance", ".*")
        })
        .collect()
}

/// Each dashboard query, as the expression of a recording rule, passes
/// `promtool check rules`: they are all valid PromQL.
#[test]
fn dashboard_queries_parse_as_promql() {
    let Some(promtool) = promtool() else { return };
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 5, "the dashboard has queries: {exprs:?}");
    let mut rules = String::from("groups:\n  - name: dashboard-queries\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let quoted = serde_json::to_string(expr).unwrap(); // a valid YAML flow scalar
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {quoted}\n"
        ));
    }
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard_queries.rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = run(promtool, &["check", "rules", &path_arg(&file)]);
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{out}\n{rules}"
    );
}
