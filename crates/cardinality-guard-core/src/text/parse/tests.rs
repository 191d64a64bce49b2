//! The parser over whole texts: families, grammars, and errors that name
//! their line.

use super::*;

/// (family, sample name, labels)
type Parsed = (String, String, Vec<(String, String)>);

fn samples(text: &str, format: Format) -> Result<Vec<Parsed>, ParseError> {
    let mut parser = Parser::new(format);
    let mut out = Vec::new();
    for line in text.split('\n') {
        if let Line::Sample(s) = parser.line(line)? {
            let labels = s
                .labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            out.push((s.family.to_owned(), s.name.to_owned(), labels));
        }
    }
    parser.finish()?;
    Ok(out)
}

fn error(text: &str, format: Format) -> ParseError {
    samples(text, format).expect_err("must be refused")
}

#[test]
fn histogram_lines_belong_to_their_family() {
    let text = "# HELP h help text\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\nother 1\n";
    let got = samples(text, Format::Prometheus).unwrap();
    let families: Vec<_> = got.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(families, ["h", "h", "h", "h", "other"]);
}

#[test]
fn escapes_in_label_values_are_unescaped() {
    let text = r#"m{a="x\\y",b="q\"r",c="l\nm"} 1"#;
    let got = samples(text, Format::Prometheus).unwrap();
    assert_eq!(
        got[0].2,
        [
            ("a".into(), "x\\y".into()),
            ("b".into(), "q\"r".into()),
            ("c".into(), "l\nm".into())
        ]
    );
}

#[test]
fn values_and_timestamps() {
    let text = "a NaN\nb +Inf\nc -Inf 1700000000000\nd 1.5e3\ne{x=\"1\",} 2 -5\n";
    assert_eq!(samples(text, Format::Prometheus).unwrap().len(), 5);
    assert_eq!(error("a 1 1.5", Format::Prometheus).line, 1);
    assert_eq!(error("ok 1\na 0x1p3", Format::Prometheus).line, 2);
}

#[test]
fn open_metrics_with_exemplars_and_eof() {
    let text = "# TYPE c counter\n# UNIT c seconds\n# HELP c h\nc_total{a=\"b\"} 1 # {trace_id=\"abc\"} 1.0 1700000000.5\nc_created{a=\"b\"} 1700000000.0\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF";
    let got = samples(text, Format::OpenMetrics).unwrap();
    let families: Vec<_> = got.iter().map(|s| (s.0.as_str(), s.1.as_str())).collect();
    assert_eq!(
        families,
        [("c", "c_total"), ("c", "c_created"), ("i", "i_info")]
    );
}

#[test]
fn open_metrics_needs_eof_and_no_empty_lines() {
    assert!(error("# TYPE c counter\nc_total 1", Format::OpenMetrics)
        .message
        .contains("# EOF"));
    assert_eq!(error("a 1\n\nb 1\n# EOF", Format::OpenMetrics).line, 2);
    assert_eq!(error("a 1\n# EOF\nb 1", Format::Auto).line, 3);
    assert_eq!(error(r#"a{x="\t"} 1"#, Format::OpenMetrics).line, 1);
    // Prometheus text keeps an unknown escape as written.
    let got = samples(r#"a{x="\t"} 1"#, Format::Prometheus).unwrap();
    assert_eq!(got[0].2[0].1, "\\t");
}

#[test]
fn a_repeated_type_line_that_agrees_is_read_past() {
    let text = "# TYPE x_total counter\nx_total 1\n# TYPE x_total counter\nx_total{a=\"b\"} 2\n";
    let got = samples(text, Format::Prometheus).unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|s| s.0 == "x_total"), "{got:?}");
    // Still the counter it was declared: its family is named by the TYPE.
    let mut parser = Parser::new(Format::Prometheus);
    let kinds: Vec<Kind> = text
        .split('\n')
        .filter_map(|line| match parser.line(line).unwrap() {
            Line::Sample(s) => Some(s.kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [Kind::Counter, Kind::Counter]);
}

#[test]
fn errors_name_the_line() {
    let cases = [
        ("ok 1\nbad{a=\"b\" 1\n", 2, "expected `,`"),
        ("ok 1\nok 2\nbad{a=b} 1\n", 3, "quoted"),
        ("bad{a=\"b} 1\n", 1, "unterminated"),
        ("x\n", 1, "missing value"),
        ("x one\n", 1, "not a number"),
        ("# TYPE x countr\n", 1, "unknown type"),
        (
            "# TYPE x counter\n# TYPE x gauge\n",
            2,
            "says gauge, the first said counter",
        ),
        ("x{a=\"1\",a=\"2\"} 1\n", 1, "twice"),
        ("{a=\"1\"} 1\n", 1, "metric name"),
        ("9x 1\n", 1, "metric name"),
        ("x 1 2 3\n", 1, "unexpected"),
        ("x{1a=\"1\"} 1\n", 1, "label name"),
        ("ok 1\nx 1\r\n", 2, "carriage return"),
    ];
    for (text, line, words) in cases {
        let e = error(text, Format::Prometheus);
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.message.contains(words), "{text:?}: {e}");
    }
}

#[test]
fn comments_and_blank_lines_in_prometheus_text() {
    let text = "# just a comment\n\n#\n# HELP x with spaces   and \\n escapes\nx 1\n";
    assert_eq!(samples(text, Format::Prometheus).unwrap().len(), 1);
}

#[test]
fn suffix_without_declared_family_is_its_own_family() {
    let text = "# TYPE g gauge\ng_sum 1\nh_bucket{le=\"1\"} 1\n";
    let got = samples(text, Format::Prometheus).unwrap();
    assert_eq!(got[0].0, "g_sum");
    assert_eq!(got[1].0, "h_bucket");
}

#[test]
fn a_suffix_names_the_family_whatever_the_underscores() {
    let text = "# TYPE a_b_c summary\n# TYPE a_b gauge\na_b_c_count 1\na_b_c 1\na_b_count 1\n";
    let got = samples(text, Format::Prometheus).unwrap();
    let families: Vec<_> = got.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(families, ["a_b_c", "a_b_c", "a_b_count"]);
    // A long name of underscores costs a few lookups, not one per `_`.
    let long = "_a".repeat(100_000);
    let text = format!("# TYPE x{long} histogram\nx{long}_bucket{{le=\"1\"}} 1\n");
    assert_eq!(
        samples(&text, Format::Prometheus).unwrap()[0].0,
        format!("x{long}")
    );
}

#[test]
fn help_lines_give_their_family_and_text() {
    let mut parser = Parser::new(Format::Prometheus);
    let line = parser
        .line(r"# HELP x  with a\nline and C:\\ and \q")
        .unwrap();
    assert_eq!(
        line,
        Line::Help("x", Cow::Owned("with a\nline and C:\\ and \\q".into()))
    );
    assert_eq!(parser.line("# HELP y").unwrap(), Line::Help("y", "".into()));
    let mut parser = Parser::new(Format::OpenMetrics);
    let line = parser.line(r#"# HELP x say \"hi\""#).unwrap();
    assert_eq!(line, Line::Help("x", Cow::Owned("say \"hi\"".into())));
    assert!(Parser::new(Format::Prometheus).line("# HELP 9x t").is_err());
}
