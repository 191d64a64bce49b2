//! A bad config is a clear error naming the file, the 1-based line and the
//! dotted key (SPEC, Config): never a panic, never a silent default.
//!
//! Each table row is one bad file. A group collects every mismatching row
//! before failing, so one run shows all of them.

use std::path::PathBuf;

use cardinality_guard_core::config::ErrorKind;
use cardinality_guard_core::{Config, ConfigError, Mode, OnOverflow, Pattern};

/// One bad config and what its error must say.
struct Row {
    toml: String,
    line: usize,
    key: &'static str,
    kind: ErrorKind,
    /// Must appear in `err.message()` (what is wrong, not where).
    fragment: &'static str,
}

fn row(
    toml: impl Into<String>,
    line: usize,
    key: &'static str,
    kind: ErrorKind,
    fragment: &'static str,
) -> Row {
    Row {
        toml: toml.into(),
        line,
        key,
        kind,
        fragment,
    }
}

use ErrorKind::{InvalidValue, Syntax, UnknownKey};

/// Checks one row; returns what is wrong with the error, if anything.
fn check(row: &Row) -> Option<String> {
    let err: ConfigError = match Config::from_toml(&row.toml, "guard.toml") {
        Ok(_) => return Some("parsed without an error".to_owned()),
        Err(err) => err,
    };
    let shown = err.to_string();
    let mut problems = Vec::new();
    if err.file() != "guard.toml" {
        problems.push(format!("file() = {:?}", err.file()));
    }
    if err.line() != Some(row.line) {
        problems.push(format!("line() = {:?}, expected {}", err.line(), row.line));
    }
    if err.key() != Some(row.key) {
        problems.push(format!("key() = {:?}, expected {:?}", err.key(), row.key));
    }
    if err.kind() != row.kind {
        problems.push(format!(
            "kind() = {:?}, expected {:?}",
            err.kind(),
            row.kind
        ));
    }
    if !err.message().contains(row.fragment) {
        problems.push(format!("message lacks {:?}", row.fragment));
    }
    let location = format!("guard.toml:{}", row.line);
    let key = format!("`{}`", row.key);
    if !shown.starts_with(&location) {
        problems.push(format!("Display does not start with {location:?}"));
    }
    if !shown.contains(&key) {
        problems.push(format!("Display lacks {key:?}"));
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!("{}\n      error: {shown}", problems.join("; ")))
    }
}

fn check_all(rows: &[Row]) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| check(row).map(|why| format!("--- input:\n{}  => {why}", row.toml)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows are wrong:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn unknown_keys() {
    check_all(&[
        // top level
        row("bogus = 1\n", 1, "bogus", UnknownKey, "unknown field `bogus`"),
        row(
            "# comment\n\nmax_series = 10\n[global]\nmax_series = 10\n",
            3,
            "max_series",
            UnknownKey,
            "unknown field `max_series`",
        ),
        // a misspelled table is an unknown key of the top level
        row(
            "[global]\nmax_series = 10\n\n[default]\nmax_series = 10\n",
            4,
            "default",
            UnknownKey,
            "unknown field `default`",
        ),
        row(
            "[[metric]]\nmatch = \"a\"\n",
            1,
            "metric",
            UnknownKey,
            "unknown field `metric`",
        ),
        // [global]
        row(
            "[global]\nmax_series = 10\nmax_metricz = 3\n",
            3,
            "global.max_metricz",
            UnknownKey,
            "unknown field `max_metricz`",
        ),
        // [defaults]
        row(
            "[defaults]\nmax_series = 10\n  onoverflow = \"fold\" # typo\n",
            3,
            "defaults.onoverflow",
            UnknownKey,
            "unknown field `onoverflow`",
        ),
        // the same, written as a dotted key at the top level
        row(
            "defaults.max_series = 10\ndefaults.onoverflow = \"fold\"\n",
            2,
            "defaults.onoverflow",
            UnknownKey,
            "unknown field `onoverflow`",
        ),
        // [histograms]
        row(
            "[histograms]\nbucket = [1.0]\n",
            2,
            "histograms.bucket",
            UnknownKey,
            "unknown field `bucket`",
        ),
        // the 2nd [[metrics]] entry
        row(
            "[[metrics]]\nmatch = \"a_*\"\nmax_series = 3\n\n[[metrics]]\nmatch = \"b\"\nmax_seris = 3\n",
            7,
            "metrics[1].max_seris",
            UnknownKey,
            "unknown field `max_seris`",
        ),
        // the same, as an inline array of tables
        row(
            "metrics = [\n  { match = \"a_*\" },\n  { match = \"b\", max_seris = 3 },\n]\n",
            3,
            "metrics[1].max_seris",
            UnknownKey,
            "unknown field `max_seris`",
        ),
        // [[histograms.per_metric]]
        row(
            "[histograms]\nbuckets = [1.0]\n\n[[histograms.per_metric]]\nmatch = \"a\"\nbuckets = [1.0]\nbucket = [2.0]\n",
            7,
            "histograms.per_metric[0].bucket",
            UnknownKey,
            "unknown field `bucket`",
        ),
    ]);
}

#[test]
fn zero_and_negative_budgets() {
    const POSITIVE: &str = "a budget must be a positive whole number";
    check_all(&[
        row(
            "[global]\nmax_series = 0\n",
            2,
            "global.max_series",
            InvalidValue,
            "got 0",
        ),
        row(
            "[global]\nmax_series = -1\n",
            2,
            "global.max_series",
            InvalidValue,
            "got -1",
        ),
        row(
            "[global]\nmax_series = 10\nmax_metrics = 0\n",
            3,
            "global.max_metrics",
            InvalidValue,
            POSITIVE,
        ),
        row(
            "[global]\nmax_metrics = -5\n",
            2,
            "global.max_metrics",
            InvalidValue,
            "got -5",
        ),
        row(
            "# [global] is commented out\n[defaults]\nmax_series = 0\n",
            3,
            "defaults.max_series",
            InvalidValue,
            POSITIVE,
        ),
        row(
            "[defaults]\nmax_series = -2000\n",
            2,
            "defaults.max_series",
            InvalidValue,
            "got -2000",
        ),
        row(
            "[[metrics]]\nmatch = \"a\"\n\n[[metrics]]\nmatch = \"b\"\nmax_series = 0\n",
            6,
            "metrics[1].max_series",
            InvalidValue,
            POSITIVE,
        ),
        row(
            "[[metrics]]\nmatch = \"a\"\nmax_series = -3\n",
            3,
            "metrics[0].max_series",
            InvalidValue,
            "got -3",
        ),
    ]);
}

#[test]
fn values_of_the_wrong_type() {
    check_all(&[
        row(
            "[defaults]\nmax_series = \"100\"\n",
            2,
            "defaults.max_series",
            Syntax,
            "invalid type: string",
        ),
        row(
            "[defaults]\nmax_series = 1.5\n",
            2,
            "defaults.max_series",
            Syntax,
            "invalid type: floating point",
        ),
        row(
            "[global]\nmax_metrics = 10\nmax_series = 2.0\n",
            3,
            "global.max_series",
            Syntax,
            "invalid type: floating point",
        ),
        row(
            "[[metrics]]\nmatch = \"a\"\nmax_series = \"lots\"\n",
            3,
            "metrics[0].max_series",
            Syntax,
            "invalid type: string",
        ),
        row(
            "[[metrics]]\nmatch = 5\n",
            2,
            "metrics[0].match",
            Syntax,
            "invalid type: integer",
        ),
        row(
            "[histograms]\nbuckets = [0.1, \"1\"]\n",
            2,
            "histograms.buckets",
            Syntax,
            "invalid type: string",
        ),
    ]);
}

#[test]
fn bad_on_overflow_and_mode_values() {
    check_all(&[
        row(
            "[defaults]\non_overflow = \"truncate\"\n",
            2,
            "defaults.on_overflow",
            InvalidValue,
            "expected \"fold\" or \"drop\"",
        ),
        row(
            "[defaults]\nmode = \"dry-run\"\n",
            2,
            "defaults.mode",
            InvalidValue,
            "expected \"enforce\" or \"shadow\"",
        ),
        row(
            "[[metrics]]\nmatch = \"a\"\n\n[[metrics]]\nmatch = \"b\"\non_overflow = \"Fold\"\n",
            6,
            "metrics[1].on_overflow",
            InvalidValue,
            "\"Fold\"",
        ),
        row(
            "[[metrics]]\nmatch = \"a\"\nmode = \"\"\n",
            3,
            "metrics[0].mode",
            InvalidValue,
            "expected \"enforce\" or \"shadow\"",
        ),
    ]);
}

#[test]
fn bad_buckets() {
    const INCREASING: &str = "strictly increasing";
    const FINITE: &str = "is not finite";
    check_all(&[
        row(
            "[histograms]\nbuckets = [0.1, 1, 0.5]\n",
            2,
            "histograms.buckets",
            InvalidValue,
            "1 is followed by 0.5",
        ),
        row(
            "[histograms]\nbuckets = [0.1, 1, 1]\n",
            2,
            "histograms.buckets",
            InvalidValue,
            INCREASING,
        ),
        row(
            "[histograms]\nbuckets = [0.1, nan]\n",
            2,
            "histograms.buckets",
            InvalidValue,
            FINITE,
        ),
        row(
            "[histograms]\nbuckets = [0.1, inf]\n",
            2,
            "histograms.buckets",
            InvalidValue,
            FINITE,
        ),
        row(
            "[histograms]\nbuckets = [-inf, 0]\n",
            2,
            "histograms.buckets",
            InvalidValue,
            FINITE,
        ),
        row(
            "[histograms]\nbuckets = []\n",
            2,
            "histograms.buckets",
            InvalidValue,
            "empty",
        ),
        // A multi-line list is reported at the line of its key.
        row(
            "[histograms]\nbuckets = [\n  1,\n  0.5,\n]\n",
            2,
            "histograms.buckets",
            InvalidValue,
            INCREASING,
        ),
        row(
            "[histograms]\nbuckets = [1.0]\n\n[[histograms.per_metric]]\nmatch = \"a\"\nbuckets = [1.0]\n\n[[histograms.per_metric]]\nmatch = \"b\"\nbuckets = [2, 1]\n",
            10,
            "histograms.per_metric[1].buckets",
            InvalidValue,
            INCREASING,
        ),
        row(
            "[[histograms.per_metric]]\nmatch = \"a\"\nbuckets = [1, 1]\n",
            3,
            "histograms.per_metric[0].buckets",
            InvalidValue,
            INCREASING,
        ),
        row(
            "[[histograms.per_metric]]\nmatch = \"a\"\nbuckets = [nan]\n",
            3,
            "histograms.per_metric[0].buckets",
            InvalidValue,
            FINITE,
        ),
        row(
            "[[histograms.per_metric]]\nmatch = \"a\"\nbuckets = [+inf]\n",
            3,
            "histograms.per_metric[0].buckets",
            InvalidValue,
            FINITE,
        ),
        row(
            "[[histograms.per_metric]]\nmatch = \"a\"\nbuckets = []\n",
            3,
            "histograms.per_metric[0].buckets",
            InvalidValue,
            "empty",
        ),
    ]);
}

#[test]
fn malformed_and_duplicate_patterns() {
    const MALFORMED: &str = "malformed pattern";
    let mut rows = Vec::new();
    for (pattern, why) in [
        ("a*b", "one `*`, at the start or at the end"),
        ("*", "a bare `*`"),
        ("http.requests", "http_requests"),
        ("", "empty"),
        ("**", MALFORMED),
        ("9lives_*", "must start with"),
    ] {
        let metrics =
            format!("[[metrics]]\nmatch = \"ok\"\n\n[[metrics]]\nmatch = \"{pattern}\"\n");
        rows.push(row(
            metrics.clone(),
            5,
            "metrics[1].match",
            InvalidValue,
            why,
        ));
        rows.push(row(metrics, 5, "metrics[1].match", InvalidValue, MALFORMED));
        let histograms =
            format!("[[histograms.per_metric]]\nmatch = \"{pattern}\"\nbuckets = [1.0]\n");
        rows.push(row(
            histograms,
            2,
            "histograms.per_metric[0].match",
            InvalidValue,
            why,
        ));
    }
    rows.push(row(
        "[[metrics]]\nmatch = \"app_*\"\nmax_series = 1\n\n[[metrics]]\nmatch = \"app_*\"\nmax_series = 2\n",
        6,
        "metrics[1].match",
        InvalidValue,
        "appears twice",
    ));
    rows.push(row(
        "[[histograms.per_metric]]\nmatch = \"*_seconds\"\nbuckets = [1.0]\n[[histograms.per_metric]]\nmatch = \"*_seconds\"\nbuckets = [2.0]\n",
        5,
        "histograms.per_metric[1].match",
        InvalidValue,
        "appears twice",
    ));
    check_all(&rows);
}

#[test]
fn missing_match() {
    check_all(&[
        row(
            "[[metrics]]\nmatch = \"a\"\n\n[[metrics]]\nmax_series = 3\n",
            4,
            "metrics[1].match",
            Syntax,
            "missing field `match`",
        ),
        row(
            "[[histograms.per_metric]]\nbuckets = [1.0]\n",
            1,
            "histograms.per_metric[0].match",
            Syntax,
            "missing field `match`",
        ),
    ]);
}

#[test]
fn toml_syntax_errors() {
    check_all(&[
        row(
            "[global]\nmax_series = = 3\n",
            2,
            "global.max_series",
            Syntax,
            "extra `=`",
        ),
        row(
            "[global]\nmax_series = 10\n\n[defaults\nmax_series = 3\n",
            4,
            "defaults",
            Syntax,
            "unclosed table",
        ),
        row(
            "[defaults]\nmax_series = 10\n[defaults]\nmode = \"shadow\"\n",
            3,
            "defaults",
            Syntax,
            "duplicate",
        ),
        row(
            "[[metrics]]\nmatch = \"a\nmax_series = 3\n",
            2,
            "metrics[0].match",
            Syntax,
            "invalid basic string",
        ),
    ]);
}

#[test]
fn bad_label_limits_and_pinned_values() {
    const POSITIVE: &str = "a budget must be a positive whole number";
    check_all(&[
        // label limit 0 / negative, in a rule and in [defaults]
        row(
            "[[metrics]]\nmatch = \"a\"\nlabel_limits = { user = 0 }\n",
            3,
            "metrics[0].label_limits.user",
            InvalidValue,
            POSITIVE,
        ),
        row(
            "[[metrics]]\nmatch = \"a\"\n\n[[metrics]]\nmatch = \"b\"\nlabel_limits = { method = 5, user = -1 }\n",
            6,
            "metrics[1].label_limits.user",
            InvalidValue,
            "got -1",
        ),
        row(
            "[defaults]\nmax_series = 10\nlabel_limits = { user = 0 }\n",
            3,
            "defaults.label_limits.user",
            InvalidValue,
            "got 0",
        ),
        // the same as a sub-table
        row(
            "[[metrics]]\nmatch = \"a\"\n[metrics.label_limits]\npath = 50\nuser = -100\n",
            5,
            "metrics[0].label_limits.user",
            InvalidValue,
            "got -100",
        ),
        // not a label name
        row(
            "[[metrics]]\nmatch = \"a\"\nlabel_limits = { \"a-b\" = 5 }\n",
            3,
            "metrics[0].label_limits.a-b",
            InvalidValue,
            "is not a label name",
        ),
        row(
            "[defaults]\nlabel_limits = { \"9user\" = 5 }\n",
            2,
            "defaults.label_limits.9user",
            InvalidValue,
            "is not a label name",
        ),
        row(
            "[defaults]\npinned = { \"a-b\" = [\"x\"] }\n",
            2,
            "defaults.pinned.a-b",
            InvalidValue,
            "is not a label name",
        ),
        // more pinned values than the label limit
        row(
            "[[metrics]]\nmatch = \"a\"\nlabel_limits = { route = 1 }\npinned = { route = [\"/login\", \"/checkout\"] }\n",
            4,
            "metrics[0].pinned.route",
            InvalidValue,
            "2 pinned values do not fit in the label limit of 1",
        ),
        row(
            "[defaults]\nlabel_limits = { route = 2 }\npinned = { route = [\"/a\", \"/b\", \"/c\"] }\n",
            3,
            "defaults.pinned.route",
            InvalidValue,
            "do not fit",
        ),
        // a rule's pins checked against the limit it inherits from [defaults]
        row(
            "[defaults]\nlabel_limits = { route = 1 }\n\n[[metrics]]\nmatch = \"a\"\npinned = { route = [\"/a\", \"/b\"] }\n",
            6,
            "metrics[0].pinned.route",
            InvalidValue,
            "do not fit",
        ),
        // a pinned value listed twice
        row(
            "[[metrics]]\nmatch = \"a\"\nlabel_limits = { route = 5 }\npinned = { route = [\"/login\", \"/login\"] }\n",
            4,
            "metrics[0].pinned.route",
            InvalidValue,
            "listed twice",
        ),
        row(
            "[defaults]\npinned = { route = [\"/x\", \"/y\", \"/x\"] }\n",
            2,
            "defaults.pinned.route",
            InvalidValue,
            "listed twice",
        ),
        // a rule whose limit is smaller than the pinned list of [defaults]
        row(
            "[defaults]\nlabel_limits = { route = 5 }\npinned = { route = [\"/a\", \"/b\", \"/c\"] }\n\n[[metrics]]\nmatch = \"a\"\nlabel_limits = { route = 2 }\n",
            7,
            "metrics[0].label_limits.route",
            InvalidValue,
            "3 values pinned in [defaults] do not fit in a limit of 2",
        ),
    ]);
}

/// A value of the wrong type inside `label_limits` or `pinned` is named by
/// its full key, however the table is written: inline, dotted, or as a
/// sub-table of the `[[metrics]]` entry (which must keep its index).
#[test]
fn label_settings_of_the_wrong_type_name_the_leaf_key() {
    check_all(&[
        // dotted keys
        row(
            "[[metrics]]\nmatch = \"a\"\nlabel_limits.user = \"100\"\n",
            3,
            "metrics[0].label_limits.user",
            Syntax,
            "invalid type: string",
        ),
        // inline tables
        row(
            "[[metrics]]\nmatch = \"a\"\nlabel_limits = { user = \"100\" }\n",
            3,
            "metrics[0].label_limits.user",
            Syntax,
            "invalid type: string",
        ),
        row(
            "[[metrics]]\nmatch = \"a\"\npinned = { route = \"/login\" }\n",
            3,
            "metrics[0].pinned.route",
            Syntax,
            "invalid type",
        ),
        row(
            "[defaults]\nlabel_limits = { user = 1.5 }\n",
            2,
            "defaults.label_limits.user",
            Syntax,
            "invalid type: floating point",
        ),
        // a sub-table of the second [[metrics]] entry
        row(
            "[[metrics]]\nmatch = \"a\"\n\n[[metrics]]\nmatch = \"b\"\n[metrics.pinned]\nroute = \"/x\"\n",
            7,
            "metrics[1].pinned.route",
            Syntax,
            "invalid type",
        ),
        row(
            "[[metrics]]\nmatch = \"a\"\n[metrics.label_limits]\nuser = 3\npath = [1]\n",
            5,
            "metrics[0].label_limits.path",
            Syntax,
            "invalid type: sequence",
        ),
    ]);
}

#[test]
fn bad_warn_interval_and_max_labels_per_metric() {
    const NOT_A_DURATION: &str = "is not a duration";
    let mut rows = Vec::new();
    for bad in [
        "10 minutes",
        "0s",
        "0ms",
        "",
        "10",
        "m",
        "1.5s",
        "-1s",
        "10d",
    ] {
        rows.push(row(
            format!("[global]\nmax_series = 10\nwarn_interval = \"{bad}\"\n"),
            3,
            "global.warn_interval",
            InvalidValue,
            NOT_A_DURATION,
        ));
    }
    rows.push(row(
        "[global]\nwarn_interval = 600\n",
        2,
        "global.warn_interval",
        Syntax,
        "invalid type: integer",
    ));
    rows.push(row(
        "[global]\nmax_labels_per_metric = 0\n",
        2,
        "global.max_labels_per_metric",
        InvalidValue,
        "a budget must be a positive whole number",
    ));
    rows.push(row(
        "[global]\nmax_series = 10\nmax_labels_per_metric = -2\n",
        3,
        "global.max_labels_per_metric",
        InvalidValue,
        "got -2",
    ));
    check_all(&rows);
}

#[test]
fn overflowing_durations_are_too_large() {
    const TOO_LARGE: &str = "is too large";
    let mut rows = Vec::new();
    // More digits than a u64 holds, and a u64 of hours that overflows in ms.
    for bad in [
        "99999999999999999999h",
        "18446744073709551615h",
        "99999999999999999999ms",
    ] {
        rows.push(row(
            format!("[defaults]\nidle_timeout = \"{bad}\"\n"),
            2,
            "defaults.idle_timeout",
            InvalidValue,
            TOO_LARGE,
        ));
        rows.push(row(
            format!("[[metrics]]\nmatch = \"a\"\nidle_timeout = \"{bad}\"\n"),
            3,
            "metrics[0].idle_timeout",
            InvalidValue,
            TOO_LARGE,
        ));
        rows.push(row(
            format!("[global]\nwarn_interval = \"{bad}\"\n"),
            2,
            "global.warn_interval",
            InvalidValue,
            TOO_LARGE,
        ));
    }
    check_all(&rows);
}

#[test]
fn a_suffix_pattern_may_start_with_a_digit() {
    let config = Config::from_toml(
        "[[metrics]]\nmatch = \"*2xx_total\"\nmax_series = 7\n\
         [[histograms.per_metric]]\nmatch = \"*5xx_seconds\"\nbuckets = [1.0]\n",
        "guard.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.policy_for("http_2xx_total").max_series.get(), 7);
    assert_eq!(
        config
            .histograms
            .buckets_for("http_5xx_seconds")
            .map(|b| b.bounds().len()),
        Some(1)
    );
    // A prefix or an exact name is the start of a name: no digit there.
    check_all(&[row(
        "[[metrics]]\nmatch = \"2xx_total\"\n",
        2,
        "metrics[0].match",
        InvalidValue,
        "must start with",
    )]);
}

#[test]
fn good_label_settings_parse() {
    let config = Config::from_toml(
        "[global]\nwarn_interval = \"90s\"\nmax_labels_per_metric = 3\n\
         [defaults]\nlabel_limits = { route = 3 }\npinned = { route = [\"/login\", \"/checkout\"] }\n\
         [[metrics]]\nmatch = \"a\"\nlabel_limits = { route = 1, user = 100 }\npinned = { route = [\"/admin\"] }\n",
        "guard.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.global.warn_interval,
        std::time::Duration::from_secs(90)
    );
    assert_eq!(config.global.max_labels_per_metric.get(), 3);
    let a = config.policy_for("a");
    assert_eq!(a.label_limits["route"].get(), 1);
    assert_eq!(a.label_limits["user"].get(), 100);
    // The rule's list replaces [defaults]' list for `route`.
    assert_eq!(a.pinned["route"].iter().collect::<Vec<_>>(), ["/admin"]);
    let other = config.policy_for("b");
    assert_eq!(other.label_limits["route"].get(), 3);
    assert_eq!(other.pinned["route"].len(), 2);
    for (text, millis) in [
        ("500ms", 500),
        ("10m", 600_000),
        ("1h", 3_600_000),
        ("2s", 2_000),
    ] {
        let config = Config::from_toml(&format!("[global]\nwarn_interval = \"{text}\"\n"), "<s>")
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(config.global.warn_interval.as_millis(), millis, "{text}");
    }
}

/// A unique path in the temp directory.
fn temp_path(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "cardinality-guard-{tag}-{}-{nanos}.toml",
        std::process::id()
    ))
}

#[test]
fn from_file_names_the_real_path() {
    let path = temp_path("bad");
    std::fs::write(
        &path,
        "[global]\nmax_series = 100\n\n[[metrics]]\nmatch = \"a\"\n\n[[metrics]]\nmatch = \"b\"\nmax_series = -1\n",
    )
    .expect("write the temp file");
    let result = Config::from_file(&path);
    let _ = std::fs::remove_file(&path);
    let err = result.expect_err("a negative budget is refused");
    let shown_path = path.display().to_string();
    assert_eq!(err.file(), shown_path);
    assert_eq!(err.line(), Some(9));
    assert_eq!(err.key(), Some("metrics[1].max_series"));
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert!(
        err.to_string()
            .starts_with(&format!("{shown_path}:9: key `metrics[1].max_series`")),
        "{err}"
    );
}

#[test]
fn from_file_of_a_missing_path_is_an_io_error_naming_it() {
    let path = temp_path("missing");
    let err = Config::from_file(&path).expect_err("the file does not exist");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(err.file(), path.display().to_string());
    assert_eq!(err.line(), None);
    assert_eq!(err.key(), None);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

/// The example config of SPEC.md, verbatim.
const SPEC_EXAMPLE: &str = r#"[global]
max_series  = 50000     # all guarded series together
max_metrics = 1000      # distinct metric names

[defaults]              # for every metric that no [[metrics]] entry matches
max_series  = 2000
on_overflow = "fold"    # fold | drop
mode        = "enforce" # enforce | shadow

[histograms]
buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]  # omit: summaries

[[histograms.per_metric]]
match   = "db_query_seconds"
buckets = [0.001, 0.01, 0.1, 1]

[[metrics]]
match       = "http_server_request_duration_seconds"  # exact name
max_series  = 5000

[[metrics]]
match       = "app_*"     # prefix; "*_total" is a suffix
max_series  = 300
on_overflow = "drop"
"#;

#[test]
fn the_spec_example_round_trips_through_a_file() {
    let path = temp_path("spec-example");
    std::fs::write(&path, SPEC_EXAMPLE).expect("write the temp file");
    let result = Config::from_file(&path);
    let _ = std::fs::remove_file(&path);
    let config = result.unwrap_or_else(|e| panic!("the SPEC example is valid: {e}"));
    assert_eq!(config, Config::from_toml(SPEC_EXAMPLE, "<string>").unwrap());

    assert_eq!(config.global.max_series.get(), 50_000);
    assert_eq!(config.global.max_metrics.get(), 1000);
    assert_eq!(config.defaults.max_series.get(), 2000);
    assert_eq!(config.defaults.on_overflow, OnOverflow::Fold);
    assert_eq!(config.defaults.mode, Mode::Enforce);
    let buckets = config.histograms.buckets.as_ref().expect("global buckets");
    assert_eq!(
        buckets.bounds(),
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    );
    assert_eq!(config.histograms.per_metric.len(), 1);
    let (pattern, buckets) = &config.histograms.per_metric[0];
    assert_eq!(pattern, &Pattern::Exact("db_query_seconds".into()));
    assert_eq!(buckets.bounds(), [0.001, 0.01, 0.1, 1.0]);
    assert_eq!(config.metrics.len(), 2);
    assert_eq!(config.metrics[1].pattern, Pattern::Prefix("app_".into()));

    let http = config.policy_for("http_server_request_duration_seconds");
    assert_eq!(
        (http.max_series.get(), http.on_overflow, http.mode),
        (5000, OnOverflow::Fold, Mode::Enforce)
    );
    let app = config.policy_for("app_logins_total");
    assert_eq!(
        (app.max_series.get(), app.on_overflow, app.mode),
        (300, OnOverflow::Drop, Mode::Enforce)
    );
    // Unmatched, and "app" without the underscore: [defaults].
    for name in [
        "db_query_seconds",
        "app",
        "http_server_request_duration_seconds_x",
    ] {
        assert_eq!(config.policy_for(name), config.defaults, "{name}");
    }
}

#[test]
fn exact_match_beats_patterns_and_the_longest_pattern_wins() {
    // Patterns come first in the file so that file order cannot explain the result.
    let text = format!(
        "{SPEC_EXAMPLE}
[[metrics]]
match      = \"http_*\"
max_series = 10

[[metrics]]
match      = \"*_seconds\"
max_series = 20
mode       = \"shadow\"

[[metrics]]
match      = \"*_duration_seconds\"
max_series = 30

[[metrics]]
match      = \"app_logins_*\"
max_series = 40

[[metrics]]
match      = \"app_logins_total\"
max_series = 50
"
    );
    let config = Config::from_toml(&text, "guard.toml").unwrap_or_else(|e| panic!("{e}"));
    let limit = |name: &str| config.policy_for(name).max_series.get();

    // Exact beats every pattern that also matches (http_*, *_seconds, *_duration_seconds).
    assert_eq!(limit("http_server_request_duration_seconds"), 5000);
    // An exact rule that sets only max_series inherits on_overflow from [defaults],
    // not from the patterns it beats.
    assert_eq!(config.policy_for("app_logins_total").max_series.get(), 50);
    assert_eq!(
        config.policy_for("app_logins_total").on_overflow,
        OnOverflow::Fold
    );
    // Longest pattern: "_duration_seconds" (17 chars) over "_seconds" (8) and "http_" (5).
    assert_eq!(limit("http_client_request_duration_seconds"), 30);
    // "_seconds" (8 chars) over "http_" (5).
    assert_eq!(limit("http_client_wait_seconds"), 20);
    assert_eq!(
        config.policy_for("http_client_wait_seconds").mode,
        Mode::Shadow
    );
    assert_eq!(limit("http_client_errors"), 10);
    // "app_logins_*" over "app_*"; the prefix rule sets no on_overflow: [defaults].
    assert_eq!(limit("app_logins_failed"), 40);
    assert_eq!(
        config.policy_for("app_logins_failed").on_overflow,
        OnOverflow::Fold
    );
    assert_eq!(limit("app_orders_total"), 300);
    assert_eq!(
        config.policy_for("app_orders_total").on_overflow,
        OnOverflow::Drop
    );
    assert_eq!(limit("db_query_total"), 2000);
}

#[test]
fn bad_idle_timeouts() {
    const NOT_A_TIMEOUT: &str = "is not an idle timeout";
    let mut rows = Vec::new();
    for bad in ["never", "0s", "", "10", "1.5m", "-1s", "Off"] {
        rows.push(row(
            format!("[defaults]\nmax_series = 10\nidle_timeout = \"{bad}\"\n"),
            3,
            "defaults.idle_timeout",
            InvalidValue,
            NOT_A_TIMEOUT,
        ));
        rows.push(row(
            format!("[[metrics]]\nmatch = \"a\"\n\n[[metrics]]\nmatch = \"b\"\nidle_timeout = \"{bad}\"\n"),
            6,
            "metrics[1].idle_timeout",
            InvalidValue,
            NOT_A_TIMEOUT,
        ));
    }
    rows.push(row(
        "[defaults]\nidle_timeout = 300\n",
        2,
        "defaults.idle_timeout",
        Syntax,
        "invalid type: integer",
    ));
    rows.push(row(
        "[global]\nidle_timeout = \"5m\"\n",
        2,
        "global.idle_timeout",
        UnknownKey,
        "idle_timeout",
    ));
    check_all(&rows);
}

#[test]
fn idle_timeouts_inherit_override_and_turn_off() {
    use std::time::Duration;
    let config = Config::from_toml(
        "[defaults]\nidle_timeout = \"10m\"\n\
         [[metrics]]\nmatch = \"short_*\"\nidle_timeout = \"30s\"\n\
         [[metrics]]\nmatch = \"limited\"\nmax_series = 5\n",
        "guard.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let minutes = |m: u64| Some(Duration::from_secs(60 * m));
    assert_eq!(config.policy_for("other").idle_timeout, minutes(10));
    assert_eq!(config.policy_for("limited").idle_timeout, minutes(10));
    assert_eq!(
        config.policy_for("short_x").idle_timeout,
        Some(Duration::from_secs(30))
    );
    assert_eq!(config.idle_timeout_for("other"), minutes(10));
    assert_eq!(config.sweep_interval(), Some(Duration::from_secs(5)));

    // A rule turns expiry off for its metrics only.
    let off = Config::from_toml(
        "[defaults]\nidle_timeout = \"2s\"\n[[metrics]]\nmatch = \"kept\"\nidle_timeout = \"off\"\n",
        "guard.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(off.policy_for("kept").idle_timeout, None);
    assert_eq!(off.idle_timeout_for("kept"), None);
    assert_eq!(off.idle_timeout_for("other"), Some(Duration::from_secs(2)));
    assert_eq!(off.sweep_interval(), Some(Duration::from_millis(500)));

    // Off by default.
    let embedded = Config::embedded();
    assert!(!embedded.expires());
    assert_eq!(embedded.sweep_interval(), None);
}

#[test]
fn label_value_length_and_global_labels() {
    check_all(&[
        row(
            "[global]\nmax_label_value_length = 0\n",
            2,
            "global.max_label_value_length",
            InvalidValue,
            "a budget must be a positive whole number",
        ),
        row(
            "[global]\nlabels = { region = \"eu\", le = \"1\" }\n",
            2,
            "global.labels.le",
            InvalidValue,
            "reserved",
        ),
        row(
            "[global]\n\nlabels = { __name__ = \"x\" }\n",
            3,
            "global.labels.__name__",
            InvalidValue,
            "reserved",
        ),
        row(
            "[global]\nlabels = { region = \"\" }\n",
            2,
            "global.labels.region",
            InvalidValue,
            "needs a value",
        ),
        row(
            "[global]\nlabels = { \"bad key\" = \"x\" }\n",
            2,
            "global.labels.bad key",
            InvalidValue,
            "not a label name",
        ),
        row(
            "[global]\nmax_label_value_length = 4\nlabels = { region = \"europe\" }\n",
            3,
            "global.labels.region",
            InvalidValue,
            "longer than max_label_value_length",
        ),
        row(
            "[global]\nlabels = { region = 1 }\n",
            2,
            "global.labels.region",
            Syntax,
            "invalid type: integer",
        ),
    ]);
    let config = cardinality_guard_core::Config::from_toml(
        "[global]\nmax_label_value_length = 64\nlabels = { region = \"eu\", zone = \"b\" }\n",
        "guard.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.global.max_label_value_length.get(), 64);
    assert_eq!(
        config.global_labels.get("region").map(String::as_str),
        Some("eu")
    );
    assert_eq!(config.global_labels.len(), 2);
}

#[test]
fn bounds_on_names_labels_descriptions_and_spellings() {
    let keys = [
        ("max_metric_name_length", "a length in bytes"),
        ("max_label_key_length", "a length in bytes"),
        ("max_labels", "a number of labels"),
        ("max_description_length", "a length in bytes"),
        ("max_alias_bytes", "a size in bytes"),
    ];
    let mut rows = Vec::new();
    for (key, what) in keys {
        let dotted = format!("global.{key}").leak();
        let positive = format!("{what} must be a positive whole number").leak();
        rows.push(row(
            format!("[global]\nmax_series = 10\n{key} = 0\n"),
            3,
            dotted,
            InvalidValue,
            positive,
        ));
        rows.push(row(
            format!("[global]\n{key} = -3\n"),
            2,
            dotted,
            InvalidValue,
            "got -3",
        ));
        rows.push(row(
            format!("[global]\n\n{key} = \"64\"\n"),
            3,
            dotted,
            Syntax,
            "invalid type: string",
        ));
    }
    rows.push(row(
        "[global]\nmax_label_key_length = 3\nlabels = { region = \"eu\" }\n",
        3,
        "global.labels.region",
        InvalidValue,
        "longer than max_label_key_length (3)",
    ));
    check_all(&rows);
    let config = Config::from_toml(
        "[global]\nmax_metric_name_length = 100\nmax_label_key_length = 50\nmax_labels = 20\n\
         max_description_length = 300\nmax_alias_bytes = 1048576\n",
        "guard.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let g = config.global;
    assert_eq!(
        (
            g.max_metric_name_length.get(),
            g.max_label_key_length.get(),
            g.max_labels.get(),
            g.max_description_length.get(),
            g.max_alias_bytes.get(),
        ),
        (100, 50, 20, 300, 1_048_576)
    );
    // What a file leaves out is the embedded default's.
    let default = Config::from_toml("", "guard.toml").unwrap().global;
    assert_eq!(default, cardinality_guard_core::GlobalLimits::default());
    assert_eq!(default.max_labels.get(), 64);
}
