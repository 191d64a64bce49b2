//! Property tests of the parser: random metric families, rendered in
//! Prometheus text or in OpenMetrics (with exemplars and timestamps), parse
//! back to the very same samples, each in its family; the audit counts one
//! series per sample line. Arbitrary text never panics, and an error names a
//! line that exists.

use cardinality_guard_cli::audit_text;
use cardinality_guard_core::text::{escape_label_value, Format, Kind, Line, Parser};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Family {
    name: String,
    kind: Kind,
    /// Label sets, each a list of (name, value); names unique within a set.
    sets: Vec<Vec<(String, String)>>,
    value: f64,
}

/// One rendered sample: (family, sample name, labels).
type Expected = (String, String, Vec<(String, String)>);

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Counter),
        Just(Kind::Gauge),
        Just(Kind::Histogram),
        Just(Kind::Summary),
        Just(Kind::Untyped),
    ]
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9/._-]{0,12}",
        "\\PC{0,8}",
        Just("back\\slash".to_owned()),
        Just("quo\"te".to_owned()),
        Just("new\nline".to_owned()),
        Just("\\n not a newline".to_owned()),
        Just("}{,=# EOF".to_owned()),
    ]
}

fn label_set() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map("[a-k][a-z0-9_]{0,5}", label_value(), 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
    ]
}

fn families() -> impl Strategy<Value = Vec<Family>> {
    proptest::collection::vec(
        (
            "[a-z][a-z0-9_:]{0,10}",
            kind(),
            proptest::collection::vec(label_set(), 1..5),
            value(),
        ),
        1..6,
    )
    .prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (name, kind, sets, value))| Family {
                // Distinct names that no suffix of another family can hit.
                name: format!("f{i}x_{name}"),
                kind,
                sets,
                value,
            })
            .collect()
    })
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:?}")
    }
}

fn line(name: &str, labels: &[(String, String)], value: f64, tail: &str) -> String {
    let mut out = name.to_owned();
    if !labels.is_empty() {
        let inner: Vec<String> = labels
            .iter()
            .map(|(n, v)| format!("{n}=\"{}\"", escape_label_value(v)))
            .collect();
        out.push('{');
        out.push_str(&inner.join(","));
        out.push('}');
    }
    out.push(' ');
    out.push_str(&number(value));
    out.push_str(tail);
    out.push('\n');
    out
}

/// Renders `families`, returning the text and the samples it holds.
fn render(families: &[Family], open_metrics: bool, extras: bool) -> (String, Vec<Expected>) {
    let mut text = String::new();
    let mut expected = Vec::new();
    let tail = |i: usize| -> String {
        if !extras {
            String::new()
        } else if open_metrics {
            match i % 3 {
                0 => " 1700000000.25".into(),
                1 => " # {trace_id=\"t\\\"1\"} 0.5 1700000000.5".into(),
                _ => String::new(),
            }
        } else {
            match i % 2 {
                0 => " 1700000000000".into(),
                _ => String::new(),
            }
        }
    };
    let mut n = 0;
    let mut emit =
        |text: &mut String, family: &str, sample: String, labels: Vec<(String, String)>, v: f64| {
            n += 1;
            text.push_str(&line(&sample, &labels, v, &tail(n)));
            expected.push((family.to_owned(), sample, labels));
        };
    for f in families {
        let type_word = match (f.kind, open_metrics) {
            (Kind::Untyped, true) => "unknown",
            (k, _) => k.as_str(),
        };
        text.push_str(&format!("# HELP {} some \\\\ help\n", f.name));
        text.push_str(&format!("# TYPE {} {type_word}\n", f.name));
        for set in &f.sets {
            let with = |extra: (&str, &str)| {
                let mut labels = set.clone();
                labels.push((extra.0.to_owned(), extra.1.to_owned()));
                labels
            };
            match f.kind {
                Kind::Counter if open_metrics => emit(
                    &mut text,
                    &f.name,
                    format!("{}_total", f.name),
                    set.clone(),
                    f.value.abs(),
                ),
                Kind::Histogram => {
                    for le in ["0.1", "1.0", "+Inf"] {
                        emit(
                            &mut text,
                            &f.name,
                            format!("{}_bucket", f.name),
                            with(("le", le)),
                            1.0,
                        );
                    }
                    emit(
                        &mut text,
                        &f.name,
                        format!("{}_sum", f.name),
                        set.clone(),
                        f.value,
                    );
                    emit(
                        &mut text,
                        &f.name,
                        format!("{}_count", f.name),
                        set.clone(),
                        1.0,
                    );
                }
                Kind::Summary => {
                    for q in ["0.5", "0.99"] {
                        emit(
                            &mut text,
                            &f.name,
                            f.name.clone(),
                            with(("quantile", q)),
                            f.value,
                        );
                    }
                    emit(
                        &mut text,
                        &f.name,
                        format!("{}_sum", f.name),
                        set.clone(),
                        f.value,
                    );
                    emit(
                        &mut text,
                        &f.name,
                        format!("{}_count", f.name),
                        set.clone(),
                        1.0,
                    );
                }
                _ => emit(&mut text, &f.name, f.name.clone(), set.clone(), f.value),
            }
        }
    }
    if open_metrics {
        text.push_str("# EOF\n");
    }
    (text, expected)
}

fn parse(text: &str, format: Format) -> Result<Vec<Expected>, String> {
    let mut parser = Parser::new(format);
    let mut out = Vec::new();
    for l in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        if let Line::Sample(s) = parser.line(l).map_err(|e| e.to_string())? {
            let labels = s
                .labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            out.push((s.family.to_owned(), s.name.to_owned(), labels));
        }
    }
    parser.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rendered_families_parse_back_to_the_same_series(
        families in families(),
        open_metrics in any::<bool>(),
        extras in any::<bool>(),
    ) {
        let (text, expected) = render(&families, open_metrics, extras);
        let format = if open_metrics { Format::OpenMetrics } else { Format::Prometheus };
        let parsed = parse(&text, format).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed, &expected);
        // Unknown format (a file) reads both.
        prop_assert_eq!(&parse(&text, Format::Auto).map_err(TestCaseError::fail)?, &expected);

        let audit = audit_text("random", &text, format).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(audit.total_series, expected.len() as u64);
        for f in &families {
            let family = audit.metric(&f.name).expect("every family is audited");
            let lines = expected.iter().filter(|e| e.0 == f.name).count() as u64;
            prop_assert_eq!(family.series, lines);
            prop_assert_eq!(family.kind, f.kind);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(\\PC|[{}=\",# \\n\\\\])*", open_metrics in any::<bool>()) {
        let format = if open_metrics { Format::OpenMetrics } else { Format::Prometheus };
        let lines = text.split('\n').count();
        if let Err(e) = audit_text("random", &text, format) {
            let message = e.to_string();
            if let Some(line) = message.split("line ").nth(1).and_then(|r| r.split(':').next()).and_then(|n| n.parse::<usize>().ok()) {
                prop_assert!(line >= 1 && line <= lines, "{message} for {lines} lines");
            }
        }
    }

    #[test]
    fn a_broken_line_is_named(families in families(), at in any::<prop::sample::Index>()) {
        let (text, _) = render(&families, false, false);
        let mut lines: Vec<&str> = text.lines().collect();
        let i = at.index(lines.len());
        lines[i] = "broken{ 1";
        let broken = lines.join("\n");
        let err = audit_text("broken", &broken, Format::Prometheus).expect_err("a broken line is refused");
        prop_assert!(err.to_string().contains(&format!("line {}:", i + 1)), "{}", err);
    }
}
