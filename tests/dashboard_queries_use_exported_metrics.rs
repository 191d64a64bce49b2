//! The Grafana dashboard and the alert rules under examples/prometheus/ only
//! query metrics the guard really exports: a guard over the real exporter,
//! with overflow happening, is rendered, and every metric name the queries
//! use must have a `# TYPE` line in that render, of the right kind (`rate`
//! over counters, never over gauges). And the dashboard has the panels it
//! promises.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cardinality_guard::{Config, PrometheusGuard};
use serde_json::Value;

/// A small budget for one metric, so a few logins overflow it.
const GUARD_TOML: &str = r#"
[global]
max_series = 1000
max_metrics = 20

[[metrics]]
match = "app_logins_total"
max_series = 5
"#;

/// PromQL functions, aggregations and keywords the queries may use.
const PROMQL_WORDS: &[&str] = &[
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "topk",
    "bottomk",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "rate",
    "irate",
    "increase",
    "max_over_time",
    "predict_linear",
    "deriv",
    "min_over_time",
    "avg_over_time",
    "sort",
    "sort_desc",
    "clamp_min",
    "clamp_max",
    "vector",
    "label_values",
];
/// Functions that only make sense over counters.
const COUNTER_FUNCTIONS: &[&str] = &["rate", "irate", "increase"];
/// Labels Prometheus attaches to every scraped series.
const TARGET_LABELS: &[&str] = &["job", "instance"];
/// Labels of the self-report itself (SPEC: Self-report).
const SELF_REPORT_LABELS: &[&str] = &["metric", "reason"];
const METRIC_PREFIX: &str = "cardinality_guard_";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus")
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
}

/// PromQL tokens that matter here: identifiers (metric, function, keyword
/// and label names) and punctuation. String literals, range and subquery
/// brackets, numbers, durations and Grafana `$variables` are skipped.
fn tokens(expr: &str) -> Vec<Tok> {
    let chars: Vec<char> = expr.chars().collect();
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if matches!(c, '"' | '\'' | '`') {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c == '$' {
            i += 1;
            if chars.get(i) == Some(&'{') {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if ident_start(c) {
            let start = i;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// What one query uses.
#[derive(Debug, Default)]
struct Uses {
    /// Metric names, each with whether a counter function is applied to it.
    metrics: BTreeMap<String, bool>,
    /// Recording rules of rules.yml (the fleet view's `cardinality_guard:*`).
    recorded: BTreeSet<String>,
    labels: BTreeSet<String>,
}

/// The names rules.yml records (`- record: NAME`): sums of the self-report,
/// queried like metrics (never through rate: they are gauges).
fn recording_rules() -> BTreeSet<String> {
    let text = std::fs::read_to_string(examples().join("rules.yml")).unwrap();
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("- record:"))
        .map(|name| name.trim().to_owned())
        .collect()
}

/// Classifies every identifier of `expr`; fails on one that is neither a
/// self-report metric, nor a recording rule of rules.yml, nor a PromQL word,
/// nor a known label.
fn uses(expr: &str) -> Uses {
    let toks = tokens(expr);
    let recorded = recording_rules();
    let mut uses = Uses::default();
    for (i, tok) in toks.iter().enumerate() {
        let Tok::Ident(word) = tok else { continue };
        let under_counter_fn = i >= 2
            && toks[i - 1] == Tok::Punct('(')
            && matches!(&toks[i - 2], Tok::Ident(f) if COUNTER_FUNCTIONS.contains(&f.as_str()));
        if word.starts_with(METRIC_PREFIX) {
            *uses.metrics.entry(word.clone()).or_default() |= under_counter_fn;
        } else if recorded.contains(word) {
            assert!(
                !under_counter_fn,
                "`{expr}` applies rate to recording rule {word}, a gauge"
            );
            uses.recorded.insert(word.clone());
        } else if TARGET_LABELS.contains(&word.as_str())
            || SELF_REPORT_LABELS.contains(&word.as_str())
        {
            uses.labels.insert(word.clone());
        } else {
            assert!(
                PROMQL_WORDS.contains(&word.as_str()),
                "`{word}` in `{expr}` is neither a cardinality_guard_* metric, a recording rule \
                 of rules.yml, a PromQL word nor a label the self-report or the scrape attaches"
            );
        }
    }
    uses
}

/// The `expr`s of rules.yml: `expr:` lines, plain, quoted or block scalars.
fn rule_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(examples().join("rules.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut exprs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let rest = rest.trim();
        let expr = if rest.starts_with('|') || rest.starts_with('>') {
            lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            rest.trim_matches(|c| c == '"' || c == '\'').to_owned()
        };
        exprs.push(expr);
    }
    exprs
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(examples().join("dashboard.json")).unwrap();
    serde_json::from_str(&text).expect("dashboard.json is JSON")
}

/// Every PromQL string of the dashboard: each `expr`, and the templating
/// variables' `query` (a string or an object holding one) and `definition`.
fn dashboard_exprs(dashboard: &Value) -> Vec<String> {
    fn walk(v: &Value, promql_keys: &[&str], out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if promql_keys.contains(&k.as_str()) => {
                            out.push(s.clone())
                        }
                        _ => walk(v, promql_keys, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, promql_keys, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, &["expr"], &mut out);
    for variable in templating(dashboard) {
        if variable["type"] == "query" {
            walk(variable, &["query", "definition"], &mut out);
        }
    }
    out
}

fn templating(dashboard: &Value) -> &[Value] {
    dashboard["templating"]["list"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The dashboard's panels, those inside rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in panels.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

fn panel_exprs(panel: &Value) -> Vec<&str> {
    panel["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["expr"].as_str())
        .collect()
}

/// The self-report of a real guard with overflow happening, as rendered.
fn render_with_overflow() -> String {
    let config = Config::from_toml(GUARD_TOML, "guard.toml").unwrap();
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..20 {
            metrics::counter!("app_logins_total", "user" => format!("user-{i}")).increment(1);
        }
        metrics::gauge!("app_queue_depth").set(3.0);
        metrics::histogram!("app_request_seconds").record(0.1);
    });
    let text = exporter.render();
    assert!(
        text.contains(
            "cardinality_guard_overflow_total{metric=\"app_logins_total\",reason=\"series_limit\"} 16"
        ),
        "the fixture overflows: 20 logins, 4 admitted, 16 folded:\n{text}"
    );
    text
}

/// `# TYPE` lines of a render: name -> kind.
fn exported_types(render: &str) -> BTreeMap<String, String> {
    render
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.trim().to_owned()))
        .collect()
}

/// Checks the metrics and labels `exprs` use against the render; returns
/// the metric names used.
fn check_against_render(origin: &str, exprs: &[String], render: &str) -> BTreeSet<String> {
    let types = exported_types(render);
    let mut used = BTreeSet::new();
    for expr in exprs {
        let uses = uses(expr);
        for (metric, under_counter_fn) in &uses.metrics {
            let kind = types.get(metric).unwrap_or_else(|| {
                panic!(
                    "{origin}: `{expr}` uses {metric}, which the guard does not export; \
                     it exports: {:?}",
                    types
                        .keys()
                        .filter(|n| n.starts_with(METRIC_PREFIX))
                        .collect::<Vec<_>>()
                )
            });
            if *under_counter_fn {
                assert_eq!(
                    kind, "counter",
                    "{origin}: `{expr}` applies rate to a {kind}"
                );
            } else {
                assert_ne!(
                    kind, "counter",
                    "{origin}: `{expr}` uses counter {metric} without rate/increase"
                );
            }
            used.insert(metric.clone());
        }
        for label in uses
            .labels
            .iter()
            .filter(|l| !TARGET_LABELS.contains(&l.as_str()))
        {
            let exported = render.lines().filter(|l| !l.starts_with('#')).any(|l| {
                l.contains(&format!("{{{label}=\"")) || l.contains(&format!(",{label}=\""))
            });
            assert!(
                exported,
                "{origin}: `{expr}` uses label `{label}`, which no series has"
            );
        }
    }
    used
}

#[test]
fn tokenizer_skips_strings_ranges_numbers_and_variables() {
    let toks = tokens(
        r#"sum by (metric) (rate(cardinality_guard_overflow_total{instance=~"$instance",x="a b"}[5m])) > 0.8 * $v"#,
    );
    let idents: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Ident(s) => Some(s.as_str()),
            Tok::Punct(_) => None,
        })
        .collect();
    assert_eq!(
        idents,
        [
            "sum",
            "by",
            "metric",
            "rate",
            "cardinality_guard_overflow_total",
            "instance",
            "x"
        ]
    );
    let u = uses(r#"rate(cardinality_guard_overflow_total[5m]) / cardinality_guard_series"#);
    assert!(
        u.metrics["cardinality_guard_overflow_total"],
        "rate over a counter"
    );
    assert!(!u.metrics["cardinality_guard_series"], "a bare gauge");
    let unknown = std::panic::catch_unwind(|| uses("up == 0"));
    assert!(unknown.is_err(), "an unknown identifier is refused");
}

#[test]
fn dashboard_queries_use_only_metrics_the_guard_exports() {
    let render = render_with_overflow();
    let dashboard = dashboard();
    let exprs = dashboard_exprs(&dashboard);
    assert!(exprs.len() >= 6, "the dashboard's queries: {exprs:?}");
    let used = check_against_render("dashboard.json", &exprs, &render);
    for metric in [
        "cardinality_guard_series",
        "cardinality_guard_series_limit",
        "cardinality_guard_overflow_total",
        "cardinality_guard_global_series",
        "cardinality_guard_global_series_limit",
        "cardinality_guard_metrics",
    ] {
        assert!(used.contains(metric), "the dashboard shows {metric}");
    }

    // Names anywhere in the file (titles, descriptions) are real ones too.
    let text = std::fs::read_to_string(examples().join("dashboard.json")).unwrap();
    let types = exported_types(&render);
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with(METRIC_PREFIX) {
            assert!(types.contains_key(word), "dashboard.json mentions {word}");
        }
    }
}

#[test]
fn alert_rules_use_only_metrics_the_guard_exports() {
    let render = render_with_overflow();
    let exprs = rule_exprs();
    let recorded = recording_rules();
    assert_eq!(
        exprs.len(),
        6 + recorded.len(),
        "one expr per alert and per recording rule: {exprs:?}"
    );
    for expr in &exprs {
        let u = uses(expr);
        assert!(
            u.recorded.is_empty(),
            "rules.yml: `{expr}` builds on a recording rule; query the self-report itself"
        );
    }
    let used = check_against_render("rules.yml", &exprs, &render);
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        [
            "cardinality_guard_admitted_total",
            "cardinality_guard_config_last_reload_successful",
            "cardinality_guard_global_series",
            "cardinality_guard_global_series_limit",
            "cardinality_guard_overflow_total",
            "cardinality_guard_series",
            "cardinality_guard_series_limit",
        ]
    );

    // The annotations' queries and advice name real metrics too.
    let text = std::fs::read_to_string(examples().join("rules.yml")).unwrap();
    let types = exported_types(&render);
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with(METRIC_PREFIX) {
            assert!(types.contains_key(word), "rules.yml mentions {word}");
        }
    }
}

/// Whether some target of `panel` uses exactly the metrics `metrics`.
fn has_query(panel: &Value, metrics: &[&str], pred: impl Fn(&Uses, &str) -> bool) -> bool {
    panel_exprs(panel).into_iter().any(|expr| {
        let u = uses(expr);
        u.metrics
            .keys()
            .map(String::as_str)
            .eq(metrics.iter().copied())
            && pred(&u, expr)
    })
}

fn by_metric(u: &Uses, _: &str) -> bool {
    u.labels.contains("metric")
}

fn any(_: &Uses, _: &str) -> bool {
    true
}

#[test]
fn dashboard_has_the_promised_panels() {
    let dashboard = dashboard();
    let panels = panels(&dashboard);
    let of_type = |t: &'static str| panels.iter().filter(move |p| p["type"] == t);

    // Series vs limit per metric: one time series with both, by metric.
    assert!(
        of_type("timeseries").any(|p| {
            has_query(p, &["cardinality_guard_series"], by_metric)
                && has_query(p, &["cardinality_guard_series_limit"], by_metric)
        }),
        "a time series of cardinality_guard_series and its limit by metric"
    );

    // Utilization per metric: a bar gauge of series / limit, thresholds 0.8 and 0.95.
    let utilization = of_type("bargauge")
        .find(|p| {
            has_query(
                p,
                &["cardinality_guard_series", "cardinality_guard_series_limit"],
                |u, expr| by_metric(u, expr) && expr.contains('/'),
            )
        })
        .expect("a bar gauge of cardinality_guard_series / cardinality_guard_series_limit");
    let steps: Vec<f64> = utilization["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["value"].as_f64())
        .collect();
    assert_eq!(steps, [0.8, 0.95], "utilization thresholds");
    assert_eq!(
        utilization["fieldConfig"]["defaults"]["unit"], "percentunit",
        "utilization is a ratio"
    );

    // Overflow rate by metric and reason.
    assert!(
        of_type("timeseries").any(|p| has_query(
            p,
            &["cardinality_guard_overflow_total"],
            |u, _| u.metrics["cardinality_guard_overflow_total"]
                && u.labels.contains("metric")
                && u.labels.contains("reason")
        )),
        "a time series of rate(cardinality_guard_overflow_total) by metric and reason"
    );

    // Global series vs global limit.
    assert!(
        of_type("timeseries").any(|p| {
            has_query(p, &["cardinality_guard_global_series"], any)
                && has_query(p, &["cardinality_guard_global_series_limit"], any)
        }),
        "a time series of the global series and the global limit"
    );

    // Metrics tracked.
    assert!(
        panels
            .iter()
            .any(|p| has_query(p, &["cardinality_guard_metrics"], any)),
        "a panel of cardinality_guard_metrics"
    );

    // Fleet: a row whose panels plot every recording rule of rules.yml, and
    // series growth per hour from the admitted counter.
    assert!(
        panels
            .iter()
            .any(|p| p["type"] == "row" && p["title"] == "Fleet"),
        "a Fleet row"
    );
    let recorded: BTreeSet<String> = panels
        .iter()
        .flat_map(|p| panel_exprs(p))
        .flat_map(|expr| uses(expr).recorded)
        .collect();
    assert_eq!(
        recorded,
        recording_rules(),
        "the dashboard plots every recording rule"
    );
    assert!(
        of_type("timeseries").any(|p| has_query(
            p,
            &["cardinality_guard_admitted_total"],
            |u, expr| u.metrics["cardinality_guard_admitted_total"]
                && by_metric(u, expr)
                && expr.contains("[1h]")
                && expr.contains("* 3600")
        )),
        "a time series of rate(cardinality_guard_admitted_total[1h]) * 3600 by metric"
    );

    // Panels are placed and numbered once each.
    let ids: BTreeSet<i64> = panels.iter().filter_map(|p| p["id"].as_i64()).collect();
    assert_eq!(ids.len(), panels.len(), "every panel has its own id");
    assert!(panels.iter().all(|p| p["gridPos"]["w"].as_i64() > Some(0)));
}

#[test]
fn dashboard_is_importable_with_any_prometheus_datasource() {
    let dashboard = dashboard();
    let schema = dashboard["schemaVersion"].as_i64().expect("schemaVersion");
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));

    // The datasource is an import input or a variable, never a fixed uid.
    let inputs: Vec<&str> = dashboard["__inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["pluginId"] == "prometheus")
        .filter_map(|i| i["name"].as_str())
        .collect();
    let variables: Vec<&str> = templating(&dashboard)
        .iter()
        .filter(|v| v["type"] == "datasource")
        .filter_map(|v| v["name"].as_str())
        .collect();
    let allowed: Vec<String> = inputs
        .iter()
        .chain(&variables)
        .map(|name| format!("${{{name}}}"))
        .collect();
    assert!(
        !allowed.is_empty(),
        "a ${{DS_PROMETHEUS}} input or a datasource variable"
    );
    for panel in panels(&dashboard) {
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().expect("panel targets");
        assert!(!targets.is_empty(), "panel {} has queries", panel["title"]);
        for source in std::iter::once(&panel["datasource"])
            .chain(targets.iter().map(|t| &t["datasource"]))
            .filter(|d| !d.is_null())
        {
            let uid = source["uid"]
                .as_str()
                .or(source.as_str())
                .unwrap_or_default();
            assert!(
                allowed.iter().any(|a| a == uid),
                "panel {} uses datasource {source}, not one of {allowed:?}",
                panel["title"]
            );
        }
    }

    // Filter by instance: a variable from the guard's global series.
    let instance = templating(&dashboard)
        .iter()
        .find(|v| v["name"] == "instance")
        .expect("an `instance` variable");
    let definition = [
        &instance["definition"],
        &instance["query"],
        &instance["query"]["query"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .map(|s| s.split_whitespace().collect::<String>())
    .collect::<Vec<_>>();
    assert!(
        definition
            .iter()
            .any(|d| d == "label_values(cardinality_guard_global_series,instance)"),
        "instance variable: {definition:?}"
    );
}
