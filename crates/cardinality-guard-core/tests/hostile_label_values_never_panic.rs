//! Label values come from the outside world. Whatever they hold (megabytes,
//! quotes, newlines, NUL, emoji, nothing), and whatever shape the key has
//! (keys that need sanitizing, many labels, labels in any order, dotted
//! names), the guard neither panics nor miscounts: the render stays valid
//! exposition text and its series match the self-report.

mod support;

use std::collections::{BTreeMap, HashSet};

use cardinality_guard_core::{PrometheusGuard, LABEL_OVERFLOW};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::{
    assert_series_accounting, guarded, label_sets_of, overflow_total, parse, samples_of, sum_of,
};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(k.to_string(), v.to_string()))
        .collect();
    Key::from_parts(name.to_owned(), labels)
}

/// Checks what a Prometheus server needs to accept the scrape: every sample
/// line parses, names and label names are valid identifiers, and no series
/// (name and label set) appears twice.
fn assert_valid_exposition(text: &str) {
    let ident = |s: &str, extra: &[char]| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || extra.contains(&c))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
    };
    let mut seen = HashSet::new();
    for s in parse(text) {
        assert!(ident(&s.name, &[':']), "invalid metric name {:?}", s.name);
        for k in s.labels.keys() {
            assert!(ident(k, &[]), "invalid label name {k:?} in {}", s.name);
        }
        let labels: Vec<_> = s.labels.iter().collect();
        assert!(
            seen.insert(format!("{}{labels:?}", s.name)),
            "series rendered twice: {} {:?}",
            s.name,
            s.labels
        );
    }
}

/// The guard's promises hold for this render: valid text, and the series of
/// every metric equal to what the self-report says.
fn assert_render_holds(exporter: &PrometheusGuard) -> String {
    let text = exporter.render();
    assert_valid_exposition(&text);
    assert_series_accounting(&text, &exporter.report());
    text
}

fn increment(guard: &impl Recorder, key: &Key, by: u64) {
    guard.register_counter(key, &METADATA).increment(by);
}

/// Values past `global.max_label_value_length` never render: each becomes
/// `__overflow__` in its label only, counted (reason `value_too_long`), with
/// its updates conserved.
#[test]
fn megabyte_label_values_become_the_overflow_value() {
    let (guard, exporter) = guarded("");
    let values: Vec<String> = ['a', 'b', 'c']
        .iter()
        .map(|c| c.to_string().repeat(1 << 20))
        .collect();
    for (i, v) in values.iter().enumerate() {
        for _ in 0..=i {
            increment(&guard, &key("huge_total", &[("v", v), ("kind", "x")]), 1);
        }
    }
    let text = assert_render_holds(&exporter);
    assert!(text.len() < 8 * 1024, "{} bytes rendered", text.len());
    let samples = parse(&text);
    let series = samples_of(&samples, "huge_total");
    assert_eq!(series.len(), 1, "{text}");
    assert_eq!(series[0].labels["v"], LABEL_OVERFLOW);
    assert_eq!(series[0].labels["kind"], "x", "the other label stays");
    assert_eq!(series[0].value, 6.0, "1 + 2 + 3 updates");
    assert_eq!(overflow_total(&text, "huge_total", "value_too_long"), 6.0);
}

/// Label values to throw at the guard (the empty value is an absent label,
/// tested apart).
const ODD_VALUES: &[&str] = &[
    " ",
    "\"",
    "\"\"",
    "\n",
    "line\nbreak",
    "\r\n",
    "\t",
    "\0",
    "nul\0inside",
    "}",
    "{a=\"b\"}",
    "a,b=c",
    "=",
    "#",
    "# TYPE x counter",
    "\u{FFFD}",
    "\u{FEFF}bom",
    "\u{202E}rtl",
    "e\u{301}",
    "\u{FFFF}",
    "\u{10FFFF}",
    "🦀",
    "👩‍👩‍👧‍👦",
    "日本語",
];

/// Values with backslashes: the exporter's escaping guesses whether a
/// backslash is already an escape, so `\` and `\\` render alike there. The
/// guard escapes losslessly: each comes back as itself.
const BACKSLASH_VALUES: &[&str] = &["\\", "\\\\", "\\n", "\\\"", "trailing\\", "a\\b"];

fn count_each(guard: &impl Recorder, name: &str, values: &[&str]) {
    for (i, v) in values.iter().enumerate() {
        increment(guard, &key(name, &[("v", v)]), i as u64 + 1);
    }
}

#[test]
fn odd_bytes_in_label_values_render_as_valid_text() {
    let (guard, exporter) = guarded("");
    count_each(&guard, "odd_total", ODD_VALUES);
    let text = assert_render_holds(&exporter);
    let samples = parse(&text);
    let series = samples_of(&samples, "odd_total");
    assert_eq!(series.len(), ODD_VALUES.len(), "{text}");
    // Each value comes back exactly, with exactly its own updates.
    for (i, v) in ODD_VALUES.iter().enumerate() {
        let s = series.iter().find(|s| s.labels["v"] == *v);
        let s = s.unwrap_or_else(|| panic!("{v:?} rendered as itself:\n{text}"));
        assert_eq!(s.value, (i + 1) as f64, "{v:?}");
    }
}

#[test]
fn backslashes_in_label_values_render_losslessly() {
    let (guard, exporter) = guarded("");
    count_each(&guard, "odd_total", BACKSLASH_VALUES);
    let text = assert_render_holds(&exporter);
    let samples = parse(&text);
    let series = samples_of(&samples, "odd_total");
    assert_eq!(series.len(), BACKSLASH_VALUES.len());
    for (i, v) in BACKSLASH_VALUES.iter().enumerate() {
        let s = series.iter().find(|s| s.labels["v"] == *v);
        let s = s.unwrap_or_else(|| panic!("{v:?} rendered as itself:\n{text}"));
        assert_eq!(s.value, (i + 1) as f64, "{v:?}");
    }
    let sent: usize = (1..=BACKSLASH_VALUES.len()).sum();
    assert_eq!(sum_of(&text, "odd_total"), sent as f64);
}

#[test]
fn odd_label_values_count_against_the_budget_like_any_other() {
    let budget = ODD_VALUES.len() / 2;
    let (guard, exporter) = guarded(&format!(
        "[[metrics]]\nmatch = \"odd_total\"\nmax_series = {budget}\n"
    ));
    count_each(&guard, "odd_total", ODD_VALUES);
    let text = assert_render_holds(&exporter);
    assert_eq!(samples_of(&parse(&text), "odd_total").len(), budget);
    let sent: usize = (1..=ODD_VALUES.len()).sum();
    assert_eq!(sum_of(&text, "odd_total"), sent as f64);
}

#[test]
fn label_names_that_need_sanitizing_render_as_valid_names() {
    let names = [
        "a-b",
        "1st",
        "with space",
        "dotted.key",
        "ünïcödé",
        "🦀",
        "__x",
    ];
    let (guard, exporter) = guarded("");
    for k in names {
        increment(&guard, &key("keys_total", &[(k, "v")]), 1);
    }
    let text = assert_render_holds(&exporter);
    assert_eq!(samples_of(&parse(&text), "keys_total").len(), names.len());
}

/// `n` labels `l0..l{n-1}`, valued by `value`.
fn labels(n: usize, value: &str) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("l{i}"), format!("{value}{i}")))
        .collect()
}

/// Some orders of the same labels: as given, reversed, rotated, interleaved.
fn permutations(labels: &[(String, String)]) -> Vec<Vec<(String, String)>> {
    let mut reversed = labels.to_vec();
    reversed.reverse();
    let mut rotated = labels.to_vec();
    rotated.rotate_left(labels.len() / 3 + 1);
    let (evens, odds): (Vec<_>, Vec<_>) = labels
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let interleaved = odds.into_iter().chain(evens).map(|(_, l)| l).collect();
    vec![labels.to_vec(), reversed, rotated, interleaved]
}

fn key_of(name: &str, labels: &[(String, String)]) -> Key {
    let pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    key(name, &pairs)
}

/// The same label set in another order is the same series, with any number
/// of labels (the `metrics` crate compares up to 8 labels one way, more
/// another).
#[test]
fn the_same_labels_in_another_order_are_one_series() {
    let (guard, exporter) = guarded("");
    let sizes = [2, 3, 8, 9, 16];
    let mut expected = BTreeMap::new();
    for n in sizes {
        for value in ["x", "y"] {
            let set = labels(n, value);
            let orders = permutations(&set);
            for order in &orders {
                increment(&guard, &key_of("perm_total", order), 1);
            }
            expected.insert(
                set.into_iter().collect::<BTreeMap<_, _>>(),
                orders.len() as f64,
            );
        }
    }
    let text = assert_render_holds(&exporter);
    let samples = parse(&text);
    let series = samples_of(&samples, "perm_total");
    assert_eq!(series.len(), expected.len(), "{text}");
    for s in series {
        assert_eq!(expected.get(&s.labels), Some(&s.value), "{:?}", s.labels);
    }
    let m = exporter
        .report()
        .metric("perm_total")
        .cloned()
        .expect("tracked");
    assert_eq!(m.label_sets as usize, expected.len());
}

#[test]
fn permuted_label_sets_do_not_eat_the_budget() {
    let set = labels(9, "v");
    let orders = permutations(&set);
    let (guard, exporter) = guarded("[[metrics]]\nmatch = \"perm_total\"\nmax_series = 2\n");
    for order in &orders {
        increment(&guard, &key_of("perm_total", order), 1);
    }
    let text = assert_render_holds(&exporter);
    let samples = parse(&text);
    let series = samples_of(&samples, "perm_total");
    assert_eq!(series.len(), 1, "one label set, not folded:\n{text}");
    assert_eq!(series[0].value, orders.len() as f64);
}

/// `http.requests` renders as `http_requests`: both spellings are one metric
/// with one budget, and one label set of either spelling is one series.
#[test]
fn dotted_and_underscored_names_are_one_metric() {
    let (guard, exporter) = guarded("[[metrics]]\nmatch = \"http_requests\"\nmax_series = 4\n");
    let names = ["http.requests", "http_requests"];
    for (i, name) in names.iter().cycle().take(10).enumerate() {
        increment(&guard, &key(name, &[("v", &i.to_string())]), 1);
    }
    let text = assert_render_holds(&exporter);
    let samples = parse(&text);
    assert_eq!(samples_of(&samples, "http_requests").len(), 4, "{text}");
    assert_eq!(sum_of(&text, "http_requests"), 10.0);
    let report = exporter.report();
    assert_eq!(report.metrics.len(), 1);
    assert_eq!(report.global.metrics, 1);
}

#[test]
fn one_label_set_under_both_spellings_is_one_series() {
    let (guard, exporter) = guarded("");
    for name in ["http.requests", "http_requests", "http.requests"] {
        increment(&guard, &key(name, &[("route", "/")]), 1);
    }
    let text = assert_render_holds(&exporter);
    let samples = parse(&text);
    let series = samples_of(&samples, "http_requests");
    assert_eq!(series.len(), 1, "{text}");
    assert_eq!(series[0].value, 3.0, "{text}");
}

/// `metrics` lets a key hold the same label name twice; the exporter keeps
/// the last value. The guard must count what renders.
#[test]
fn a_label_name_given_twice_counts_as_what_renders() {
    let (guard, exporter) = guarded("");
    increment(&guard, &key("twice_total", &[("a", "1"), ("a", "2")]), 1);
    increment(&guard, &key("twice_total", &[("a", "3"), ("a", "2")]), 1);
    increment(&guard, &key("twice_total", &[("a", "4")]), 1);
    let text = assert_render_holds(&exporter);
    assert_eq!(label_sets_of(&text, "twice_total").len(), 2, "{text}");
    assert_eq!(sum_of(&text, "twice_total"), 3.0, "{text}");
}

/// Everything at once, for every kind, against tight budgets: no panic, the
/// render parses, and the budgets and the self-report hold.
#[test]
fn every_hostile_key_of_every_kind_at_once() {
    let (guard, exporter) = guarded(
        "[global]\nmax_series = 60\n[histograms]\nbuckets = [1.0]\n\
         [[metrics]]\nmatch = \"hostile_*\"\nmax_series = 12\n",
    );
    let values = ODD_VALUES.iter().chain(BACKSLASH_VALUES);
    let label_names = ["k", "k-k", "1k", "ü"];
    let mut sent = 0;
    for v in values {
        for k in label_names {
            let labels = [(k, *v), ("z", *v)];
            increment(&guard, &key("hostile.dotted.total", &labels), 1);
            guard
                .register_gauge(&key("0hostile gauge", &labels), &METADATA)
                .set(1.0);
            guard
                .register_histogram(&key("hostile-seconds", &labels), &METADATA)
                .record(0.5);
            sent += 1;
        }
    }
    let text = exporter.render();
    let report = exporter.report();
    assert_series_accounting(&text, &report);
    assert!(report.global.series <= 60, "{text}");
    for m in &report.metrics {
        assert!(m.series <= m.limit, "{} over budget:\n{text}", m.name);
        assert!(m.overflow_series, "{} folded the flood:\n{text}", m.name);
    }
    assert_eq!(sum_of(&text, "hostile_dotted_total"), sent as f64);
    assert_eq!(sum_of(&text, "hostile_seconds_count"), sent as f64);
}
