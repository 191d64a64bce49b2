//! A strict validator of the Prometheus text format 0.0.4, stricter than a
//! Prometheus server: what it accepts, any scraper accepts.
//!
//! It is a second opinion, kept independent of core on purpose: the render
//! writes with `cardinality_guard_core::text` (grammar, escaping, numbers)
//! and the other tests read it back with that module's parser, so a mistake
//! there would be made on both sides and cancel out. This file shares no
//! code with it: its own name grammar, unescaping and number reading, and
//! rules a parser has no business with (family order, `# HELP` placement,
//! no duplicate series, consistent histograms).
//!
//! Include it with `#[path = "support/strict_exposition.rs"] mod strict_exposition;`
//! (it needs nothing from `support/mod.rs`).
//!
//! Rules checked, line by line and across the text:
//! - every line is `# HELP <name> <text>`, `# TYPE <name> <type>`, a sample
//!   `<name>{<k>="<v>",...} <value>` or `<name> <value>`, or empty;
//! - names match `[a-zA-Z_:][a-zA-Z0-9_:]*`; label keys match
//!   `[a-zA-Z_][a-zA-Z0-9_]*` and do not start with `__`; no key twice in one
//!   line; label values use only the escapes `\\`, `\"`, `\n`; HELP text only
//!   `\\` and `\n`;
//! - the value is a float (`+Inf`, `-Inf`, `NaN` spelled the Prometheus way;
//!   Rust's `inf` is refused); no timestamps;
//! - each `# TYPE` name appears once, a `# HELP` at most once per name and
//!   right before the `# TYPE` of the same name;
//! - every sample follows its family's `# TYPE` line, contiguously, and uses
//!   only that family's names (counter/gauge/untyped: `x`; histogram:
//!   `x_bucket` with a numeric `le`, `x_sum`, `x_count`; summary: `x` with a
//!   `quantile` in [0, 1], `x_sum`, `x_count`);
//! - no two samples with the same name and the same label set (as a set of
//!   pairs) anywhere;
//! - histograms: per label set, cumulative buckets non-decreasing in `le`, a
//!   `+Inf` bucket equal to `_count`; summaries: `_sum` and `_count` present.
#![allow(dead_code)]
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::collections::{BTreeMap, HashMap, HashSet};

/// One sample line, unescaped.
#[derive(Debug, Clone, PartialEq)]
pub struct StrictSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The value as written.
    pub value_text: String,
    pub value: f64,
}

/// One family: its `# TYPE` (and `# HELP`) and its samples in render order.
#[derive(Debug, Clone, PartialEq)]
pub struct StrictFamily {
    pub name: String,
    pub kind: String,
    /// The HELP text, unescaped.
    pub help: Option<String>,
    pub samples: Vec<StrictSample>,
}

/// Validates `text`; the families in render order, or the first violation
/// (with its line number and text).
pub fn validate(text: &str) -> Result<Vec<StrictFamily>, String> {
    let mut families: Vec<StrictFamily> = Vec::new();
    let mut typed: HashSet<String> = HashSet::new();
    let mut helped: HashSet<String> = HashSet::new();
    let mut pending_help: Option<(String, String, usize)> = None;
    let mut series: HashSet<(String, Vec<(String, String)>)> = HashSet::new();
    // The family samples go to (blank lines are allowed anywhere; a family
    // ends at the next HELP or TYPE line).
    let mut current: Option<usize> = None;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text does not end with a line feed".into());
    }
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let err = |what: String| Err(format!("line {n}: {what}: {line:?}"));
        if line.is_empty() {
            continue;
        }
        if let Some((_, _, at)) = &pending_help {
            if !line.starts_with("# TYPE ") {
                return Err(format!(
                    "line {at}: # HELP not followed by its # TYPE (line {n}: {line:?})"
                ));
            }
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let Some((name, help)) = rest.split_once(' ') else {
                return err("# HELP without text".into());
            };
            if !is_metric_name(name) {
                return err(format!("invalid name {name:?} in # HELP"));
            }
            if !helped.insert(name.to_owned()) {
                return err(format!("second # HELP for {name}"));
            }
            let help = match unescape(help, false) {
                Ok(h) => h,
                Err(e) => return err(e),
            };
            pending_help = Some((name.to_owned(), help, n));
            current = None;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let Some((name, kind)) = rest.split_once(' ') else {
                return err("# TYPE without a type".into());
            };
            if !is_metric_name(name) {
                return err(format!("invalid name {name:?} in # TYPE"));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return err(format!("unknown type {kind:?}"));
            }
            if !typed.insert(name.to_owned()) {
                return err(format!("second # TYPE for {name}"));
            }
            let help = match pending_help.take() {
                Some((h_name, help, _)) if h_name == name => Some(help),
                Some((h_name, _, at)) => {
                    return Err(format!(
                        "line {at}: # HELP {h_name} followed by # TYPE {name} (line {n})"
                    ))
                }
                None => None,
            };
            families.push(StrictFamily {
                name: name.to_owned(),
                kind: kind.to_owned(),
                help,
                samples: Vec::new(),
            });
            current = Some(families.len() - 1);
            continue;
        }
        if line.starts_with('#') {
            return err("a comment that is neither # HELP nor # TYPE".into());
        }
        let sample = match parse_sample(line) {
            Ok(s) => s,
            Err(e) => return err(e),
        };
        let Some(f) = current else {
            return err("a sample outside any family (no # TYPE right above it)".into());
        };
        let family = &mut families[f];
        if let Err(e) = belongs(family, &sample) {
            return err(e);
        }
        let identity = (
            sample.name.clone(),
            sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        if !series.insert(identity) {
            return err("the same name and label set twice".into());
        }
        family.samples.push(sample);
    }
    if let Some((name, _, at)) = pending_help {
        return Err(format!("line {at}: # HELP {name} without # TYPE"));
    }
    for family in &families {
        check_distribution(family)?;
    }
    Ok(families)
}

/// Panics with the violation and the whole text.
pub fn assert_strictly_valid(text: &str) -> Vec<StrictFamily> {
    validate(text).unwrap_or_else(|e| panic!("invalid exposition: {e}\n--- text ---\n{text}"))
}

pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn is_label_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with("__")
}

/// Undoes the escapes of a label value (`quotes`: `\"` allowed) or HELP text.
fn unescape(text: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('"') if quotes => out.push('"'),
                other => return Err(format!("invalid escape \\{other:?}")),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A float as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, or a finite number.
pub fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    let numeric = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && text.chars().any(|c| c.is_ascii_digit());
    match text.parse::<f64>() {
        Ok(v) if numeric && v.is_finite() => Ok(v),
        _ => Err(format!("value {text:?} is not a Prometheus float")),
    }
}

fn parse_sample(line: &str) -> Result<StrictSample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut tail = body;
        let mut first = true;
        loop {
            if let Some(after) = tail.strip_prefix('}') {
                rest = after;
                break;
            }
            if !first {
                tail = tail
                    .strip_prefix(',')
                    .ok_or("labels not separated by ','")?;
            }
            first = false;
            let eq = tail.find('=').ok_or("label without '='")?;
            let key = &tail[..eq];
            if !is_label_key(key) {
                return Err(format!("invalid label key {key:?}"));
            }
            let Some(quoted) = tail[eq + 1..].strip_prefix('"') else {
                return Err(format!("value of {key} is not quoted"));
            };
            // The closing quote: the first '"' not escaped.
            let mut end = None;
            let mut escaped = false;
            for (j, c) in quoted.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| format!("value of {key} is not closed"))?;
            let value = unescape(&quoted[..end], true)?;
            if labels.insert(key.to_owned(), value).is_some() {
                return Err(format!("label key {key} twice"));
            }
            tail = &quoted[end + 1..];
        }
    }
    let Some(value_text) = rest.strip_prefix(' ') else {
        return Err("no single space before the value".into());
    };
    if value_text.contains(' ') {
        return Err("more than a value after the labels (a timestamp?)".into());
    }
    let value = parse_value(value_text)?;
    Ok(StrictSample {
        name: name.to_owned(),
        labels,
        value_text: value_text.to_owned(),
        value,
    })
}

/// Whether `sample` may appear in `family`.
fn belongs(family: &StrictFamily, sample: &StrictSample) -> Result<(), String> {
    let f = family.name.as_str();
    let suffix = sample.name.strip_prefix(f);
    let has = |k: &str| sample.labels.contains_key(k);
    let ok = match (family.kind.as_str(), suffix) {
        ("counter" | "gauge" | "untyped", Some("")) => true,
        ("histogram", Some("_bucket")) => match sample.labels.get("le") {
            Some(le) => parse_value(le).is_ok_and(|v| !v.is_nan()),
            None => false,
        },
        ("histogram", Some("_sum" | "_count")) => !has("le"),
        ("summary", Some("")) => match sample.labels.get("quantile") {
            Some(q) => parse_value(q).is_ok_and(|v| (0.0..=1.0).contains(&v)),
            None => false,
        },
        ("summary", Some("_sum" | "_count")) => !has("quantile"),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "sample {} does not belong to {} family {}",
            sample.name, family.kind, family.name
        ))
    }
}

/// Histogram and summary series are complete and consistent.
fn check_distribution(family: &StrictFamily) -> Result<(), String> {
    if family.kind != "histogram" && family.kind != "summary" {
        return Ok(());
    }
    type Parts = (Vec<(f64, f64)>, Option<f64>, Option<f64>);
    let mut by_labels: HashMap<Vec<(String, String)>, Parts> = HashMap::new();
    for s in &family.samples {
        let identity: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(k, _)| {
                !(family.kind == "histogram" && *k == "le"
                    || family.kind == "summary" && *k == "quantile" && s.name == family.name)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let entry = by_labels.entry(identity).or_default();
        let suffix = &s.name[family.name.len()..];
        match suffix {
            "_sum" => entry.1 = Some(s.value),
            "_count" => entry.2 = Some(s.value),
            "_bucket" => {
                let le = parse_value(&s.labels["le"])?;
                entry.0.push((le, s.value));
            }
            _ => {}
        }
    }
    for (labels, (mut buckets, sum, count)) in by_labels {
        let (Some(_), Some(count)) = (sum, count) else {
            return Err(format!(
                "{} {labels:?}: a {} series without _sum or _count",
                family.name, family.kind
            ));
        };
        if family.kind == "histogram" {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
                return Err(format!("{} {labels:?}: no +Inf bucket", family.name));
            }
            if buckets.windows(2).any(|w| w[0].1 > w[1].1) {
                return Err(format!("{} {labels:?}: buckets decrease", family.name));
            }
            if buckets.last().map(|b| b.1) != Some(count) {
                return Err(format!("{} {labels:?}: +Inf bucket != _count", family.name));
            }
        }
    }
    Ok(())
}

/// The validator refuses what it must (run by each test binary that includes it).
pub fn self_test() {
    let good = "# HELP a_total Some \\\\ help\\n text \"quoted\".\n# TYPE a_total counter\na_total{k=\"v\\\"\\\\\\n\",b=\"\"} 1\na_total 2\n\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.25\nh_count 2\n# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum -Inf\ns_count 0\n";
    let families = validate(good).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(families[0].samples[0].labels["k"], "v\"\\\n");
    assert_eq!(
        families[0].help.as_deref(),
        Some("Some \\ help\n text \"quoted\".")
    );
    let bad = [
        "x 1\n",                                          // no TYPE
        "# TYPE x counter\nx inf\n",                      // Rust's inf
        "# TYPE x counter\nx 1 123\n",                    // timestamp
        "# TYPE x counter\nx{a=\"1\",a=\"2\"} 1\n",       // key twice
        "# TYPE x counter\nx{a=\"\\q\"} 1\n",             // bad escape
        "# TYPE x counter\nx{__a=\"1\"} 1\n",             // reserved key
        "# TYPE x counter\nx{1a=\"1\"} 1\n",              // invalid key
        "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n", // duplicate
        "# TYPE x counter\nx{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n",
        "# TYPE x counter\n# TYPE x counter\n",
        "# TYPE x counter\ny 1\n",
        "# TYPE x counter\n# TYPE y gauge\nx 1\n",
        "# TYPE 1x counter\n",
        "# TYPE x.y counter\n",
        "# TYPE x foo\n",
        "# HELP x a\\b\n# TYPE x counter\n",
        "# HELP x a\n# TYPE y counter\n",
        "# HELP x a\n",
        "# comment\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", // no +Inf
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
        "# TYPE h histogram\nh 1\n",
        "# TYPE s summary\ns{quantile=\"2\"} 1\ns_sum 1\ns_count 1\n",
        "# TYPE s summary\ns 1\n",
        "# TYPE x counter\nx{a=\"1\",} 1\n",
        "# TYPE x counter\nx{a=\"1\"}  1\n",
        "# TYPE x counter\nx{a=1} 1\n",
        "# TYPE x counter\nx 1",
    ];
    for text in bad {
        assert!(validate(text).is_err(), "accepted {text:?}");
    }
}
