//! Whatever the input, the guard's render is valid text format 0.0.4 (a
//! Prometheus server never refuses the scrape because of one bad metric),
//! checked by a strict validator (tests/support/strict_exposition.rs), and
//! the SPEC's normalization rules hold, against an independent model:
//!
//! - names are sanitized as the exporter does (spellings that render alike
//!   are one metric); an empty name, one in the reserved `cardinality_guard_`
//!   namespace, or one another kind renders already (a gauge `same` beside a
//!   counter `same`, a counter `x_count` beside a histogram `x`) is refused
//!   and counted (`reason="invalid"`, `metric="__invalid__"`);
//! - label keys are sanitized; a key that is empty, starts with `__`, is the
//!   overflow marker, `le` on a histogram or `quantile` on a summary is
//!   removed and counted (`reason="invalid"` under the metric); a key given
//!   twice (or two spellings of one key) keeps its last value; an empty value
//!   is an absent label; a value over `max_label_value_length` becomes
//!   `__overflow__` (`reason="value_too_long"`);
//! - distinct label sets (after those rules) render as distinct lines, their
//!   values losslessly escaped, and every value recorded comes back (counters
//!   to the unit, gauges to the bit, histogram counts); with tight budgets,
//!   totals are conserved through folding;
//! - the self-report can't be spoofed: a user metric named
//!   `cardinality_guard_series` never renders, and the self-report's figures
//!   equal those of a guard that never saw the spoofing registrations.
//!
//! Hostile input: names (empty, unicode, dots, spaces, NUL, digits first,
//! reserved), label keys (empty, `__name__`, `__x`, `le`, `quantile`,
//! unicode, dotted spellings of one key, a key twice, `otel_metric_overflow`),
//! label values (empty, quotes, backslashes incl. `a\` / `a\\` and `a"b` /
//! `a\"b`, newlines, NUL, unicode, 2,000 bytes beyond a configured
//! `max_label_value_length = 100`, multi-byte values on both sides of it),
//! kinds mixed under one name, hostile descriptions.

#[path = "support/strict_exposition.rs"]
mod strict_exposition;
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cardinality_guard_core::GuardRecorder;
use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::formatting::{sanitize_label_key, sanitize_metric_name};
use strict_exposition::{assert_strictly_valid, StrictFamily};
use support::{assert_series_accounting, guarded, overflow_total, Rng};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const ROUNDS: u64 = 100;
const OPS: usize = 300;
const MAX_VALUE_LEN: usize = 100;
const GLOBAL: (&str, &str) = ("region", "eu-global");

/// Raw metric names as user code might spell them.
const NAMES: [&str; 27] = [
    "ok_total",
    "x",
    "x_count",
    "x_sum",
    "x_bucket",
    "same",
    "h",
    "",
    " ",
    "é",
    "🦀",
    "日本",
    "1abc",
    "a.b",
    "a b",
    "a-b",
    "a_b",
    "a\0b",
    ":colon",
    "__dunder",
    "cardinality_guard_series",
    "cardinality_guard_overflow_total",
    "cardinality_guard_metrics",
    "cardinality_guard_",
    "cardinality.guard.series",
    "cardinality_guard_anything_total",
    "Ünïcode_total",
];

const KEYS: [&str; 21] = [
    "",
    "__name__",
    "__x",
    "le",
    "quantile",
    "é",
    "日本",
    "a.b",
    "a_b",
    "a-b",
    "user",
    "otel_metric_overflow",
    "1st",
    "region",
    "ok",
    "_",
    "metric",
    "reason",
    "Z",
    "k\0",
    " ",
];

fn fixed_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "a\\",
        "a\\\\",
        "a\"b",
        "a\\\"b",
        "a\nb",
        "a\\nb",
        "\0",
        "nul\0inside",
        "é",
        "日本語",
        "🦀",
        " ",
        "{}",
        "x=\"y\",z=\"w\"",
        "}",
        "\\",
        "\"",
        "\n",
        "\\n",
        "__overflow__",
        "true",
        "eu",
        "1",
        "+Inf",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(2000));
    v.push("y".repeat(MAX_VALUE_LEN));
    v.push("z".repeat(MAX_VALUE_LEN + 1));
    v.push("日".repeat(33)); // 99 bytes
    v.push("日".repeat(34)); // 102 bytes
    v
}

fn random_value(rng: &mut Rng, fixed: &[String]) -> String {
    if rng.chance(50) {
        return rng.pick(fixed).clone();
    }
    const CHARS: [char; 16] = [
        '\\', '"', '\n', '\0', 'a', 'b', 'é', '日', '🦀', ' ', '{', '}', ',', '=', '\t', 'n',
    ];
    let len = 1 + rng.below(8);
    (0..len).map(|_| *rng.pick(&CHARS)).collect()
}

const DESCRIPTIONS: [&str; 6] = [
    "plain",
    "back\\slash and \\n literal",
    "new\nline",
    "quote \" inside",
    "",
    "日本語 🦀 \\\\ end\\",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Clone, Debug)]
enum Update {
    Increment(u64),
    Absolute(u64),
    Set(f64),
    Add(f64),
    Sub(f64),
    Record(f64, usize),
    None,
}

#[derive(Clone, Debug)]
enum Op {
    Describe(usize, String, String),
    Update(Kind, String, Vec<(String, String)>, Update),
}

struct Round {
    toml: String,
    tight: bool,
    globals: Vec<(String, String)>,
    /// Histograms render with buckets (`le`) rather than as summaries.
    bucketed: Box<dyn Fn(&str) -> bool>,
    ops: Vec<Op>,
}

fn round(seed: u64) -> Round {
    let mut rng = Rng::new(seed);
    let tight = seed.is_multiple_of(4);
    let mut toml = format!("[global]\nmax_label_value_length = {MAX_VALUE_LEN}\n");
    if seed % 4 != 1 {
        // Fewer label-demand sketches (2 KiB each, slow to build in debug).
        toml.push_str("max_labels_per_metric = 2\n");
    }
    let mut globals = Vec::new();
    if rng.chance(50) {
        // (not `metric`, `reason` or `label`: see the report of this test)
        toml.push_str(&format!("labels = {{ {} = \"{}\" }}\n", GLOBAL.0, GLOBAL.1));
        globals.push((GLOBAL.0.to_owned(), GLOBAL.1.to_owned()));
    }
    let max_series = if tight { 30 + rng.below(40) } else { 1_000_000 };
    toml.push_str(&format!("[defaults]\nmax_series = {max_series}\n"));
    let global_buckets = rng.chance(50);
    let h_override = !global_buckets && rng.chance(50);
    toml.push_str("[histograms]\n");
    if global_buckets {
        toml.push_str("buckets = [0.5, 1.0, 5.0]\n");
    } else {
        toml.push_str("buckets = \"summary\"\n");
    }
    if h_override {
        toml.push_str("[[histograms.per_metric]]\nmatch = \"h\"\nbuckets = [2.0]\n");
    }
    let bucketed: Box<dyn Fn(&str) -> bool> =
        Box::new(move |name: &str| global_buckets || (h_override && name == "h"));

    let kinds: Vec<Kind> = NAMES
        .iter()
        .map(|_| *rng.pick(&[Kind::Counter, Kind::Gauge, Kind::Histogram]))
        .collect();
    let fixed = fixed_values();
    let mut ops = Vec::with_capacity(OPS);
    for _ in 0..OPS {
        let i = rng.below(NAMES.len());
        let name = NAMES[i].to_owned();
        if rng.chance(5) {
            let text = rng.pick(&DESCRIPTIONS).to_string();
            ops.push(Op::Describe(rng.below(3), name, text));
            continue;
        }
        let kind = if rng.chance(15) || name == "same" && rng.chance(50) {
            *rng.pick(&[Kind::Counter, Kind::Gauge, Kind::Histogram])
        } else {
            kinds[i]
        };
        let n = rng.below(5);
        let mut labels: Vec<(String, String)> = Vec::new();
        for _ in 0..n {
            let key = rng.pick(&KEYS).to_string();
            labels.push((key, random_value(&mut rng, &fixed)));
        }
        if rng.chance(10) && !labels.is_empty() {
            // A key given twice.
            let key = labels[0].0.clone();
            labels.push((key, random_value(&mut rng, &fixed)));
        }
        let update = match kind {
            Kind::Counter => match rng.below(10) {
                0..=6 => Update::Increment(1 + rng.below(100) as u64),
                7 if !tight => Update::Absolute(rng.below(10_000) as u64),
                8 => Update::None,
                _ => Update::Increment(1),
            },
            Kind::Gauge => match rng.below(4) {
                // Now and then not finite: renders `NaN`, `+Inf`, `-Inf`.
                0 if rng.chance(5) => {
                    Update::Set(*rng.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]))
                }
                0 => Update::Set(rng.below(1000) as f64 / 7.0 - 50.0),
                1 => Update::Add(rng.below(1000) as f64 / 3.0),
                2 => Update::Sub(rng.below(100) as f64 * 0.1),
                _ => Update::None,
            },
            Kind::Histogram => match rng.below(4) {
                0 if rng.chance(3) => {
                    Update::Record(*rng.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]), 1)
                }
                0..=2 => Update::Record(rng.below(80) as f64 / 8.0, 1 + rng.below(3)),
                _ => Update::None,
            },
        };
        ops.push(Op::Update(kind, name, labels, update));
    }
    Round {
        toml,
        tight,
        globals,
        bucketed,
        ops,
    }
}

fn reserved_name(raw: &str) -> bool {
    sanitize_metric_name(raw).starts_with("cardinality_guard_")
}

fn apply(recorder: &GuardRecorder, op: &Op) {
    match op {
        Op::Describe(kind, name, text) => {
            let (name, text) = (
                KeyName::from(name.clone()),
                SharedString::from(text.clone()),
            );
            match kind {
                0 => recorder.describe_counter(name, None, text),
                1 => recorder.describe_gauge(name, None, text),
                _ => recorder.describe_histogram(name, None, text),
            }
        }
        Op::Update(kind, name, labels, update) => {
            let labels: Vec<Label> = labels
                .iter()
                .map(|(k, v)| Label::new(k.clone(), v.clone()))
                .collect();
            let key = Key::from_parts(name.clone(), labels);
            match kind {
                Kind::Counter => {
                    let c = recorder.register_counter(&key, &METADATA);
                    match update {
                        Update::Increment(n) => c.increment(*n),
                        Update::Absolute(n) => c.absolute(*n),
                        _ => {}
                    }
                }
                Kind::Gauge => {
                    let g = recorder.register_gauge(&key, &METADATA);
                    match update {
                        Update::Set(v) => g.set(*v),
                        Update::Add(v) => g.increment(*v),
                        Update::Sub(v) => g.decrement(*v),
                        _ => {}
                    }
                }
                Kind::Histogram => {
                    let h = recorder.register_histogram(&key, &METADATA);
                    if let Update::Record(v, n) = update {
                        h.record_many(*v, *n);
                    }
                }
            }
        }
    }
}

/// What one label set should render.
#[derive(Debug, Clone, Default)]
struct Value {
    counter: u64,
    gauge: f64,
    samples: u64,
}

#[derive(Debug, Default)]
struct ModelMetric {
    kind: Option<Kind>,
    bucketed: bool,
    /// Series by rendered label set (global labels included).
    series: BTreeMap<BTreeMap<String, String>, Value>,
    invalid: u64,
    too_long: u64,
    /// Everything recorded to it (counter increments, histogram samples).
    total: u64,
}

/// The SPEC's rules, written apart from the guard's code.
#[derive(Default)]
struct Model {
    metrics: HashMap<String, ModelMetric>,
    claims: HashMap<String, String>,
    invalid_names: u64,
    descriptions: HashMap<String, String>,
}

impl Model {
    fn apply(&mut self, round: &Round, op: &Op) {
        let (kind, raw, labels, update) = match op {
            Op::Describe(_, raw, text) => {
                let name = sanitize_metric_name(raw);
                if !name.is_empty() && !name.starts_with("cardinality_guard_") {
                    self.descriptions
                        .entry(name)
                        .or_insert_with(|| text.clone());
                }
                return;
            }
            Op::Update(kind, raw, labels, update) => (*kind, raw, labels, update),
        };
        let name = sanitize_metric_name(raw);
        if name.is_empty() || name.starts_with("cardinality_guard_") {
            self.invalid_names += 1;
            return;
        }
        let bucketed = kind == Kind::Histogram && (round.bucketed)(&name);
        match self.metrics.get(&name) {
            Some(m) if m.kind != Some(kind) => {
                self.invalid_names += 1;
                return;
            }
            Some(_) => {}
            None => {
                let samples: Vec<String> = match (kind, bucketed) {
                    (Kind::Histogram, true) => vec!["", "_bucket", "_sum", "_count"],
                    (Kind::Histogram, false) => vec!["", "_sum", "_count"],
                    _ => vec![""],
                }
                .into_iter()
                .map(|s| format!("{name}{s}"))
                .collect();
                if samples.iter().any(|s| self.claims.contains_key(s)) {
                    self.invalid_names += 1;
                    return;
                }
                for s in samples {
                    self.claims.insert(s, name.clone());
                }
                self.metrics.insert(
                    name.clone(),
                    ModelMetric {
                        kind: Some(kind),
                        bucketed,
                        ..ModelMetric::default()
                    },
                );
            }
        }
        let metric = self.metrics.get_mut(&name).expect("just made");
        let own = match (kind, bucketed) {
            (Kind::Histogram, true) => Some("le"),
            (Kind::Histogram, false) => Some("quantile"),
            _ => None,
        };
        let (mut invalid, mut too_long) = (false, false);
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in labels {
            let k = sanitize_label_key(k);
            if k.is_empty()
                || k.starts_with("__")
                || k == "otel_metric_overflow"
                || Some(k.as_str()) == own
            {
                invalid = true;
                continue;
            }
            let v = if v.len() > MAX_VALUE_LEN {
                too_long = true;
                "__overflow__".to_owned()
            } else {
                v.clone()
            };
            match out.iter_mut().find(|(ok, _)| *ok == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        out.retain(|(_, v)| !v.is_empty());
        metric.invalid += u64::from(invalid);
        metric.too_long += u64::from(too_long);
        let mut rendered: BTreeMap<String, String> = round.globals.iter().cloned().collect();
        rendered.extend(out);
        let value = metric.series.entry(rendered).or_default();
        match update {
            Update::Increment(n) => {
                value.counter += n;
                metric.total += n;
            }
            Update::Absolute(n) => value.counter = value.counter.max(*n),
            Update::Set(v) => value.gauge = *v,
            Update::Add(v) => value.gauge += *v,
            Update::Sub(v) => value.gauge += -*v,
            Update::Record(_, n) => {
                value.samples += *n as u64;
                metric.total += *n as u64;
            }
            Update::None => {}
        }
    }
}

/// A sample's label set without the label its family adds (`le` on
/// buckets, `quantile` on summary quantiles).
fn series_labels(
    family: &StrictFamily,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    if family.kind == "histogram" && name.ends_with("_bucket") {
        labels.remove("le");
    }
    if family.kind == "summary" && name == family.name {
        labels.remove("quantile");
    }
    labels
}

/// The self-report families the spoofing registrations must leave as they are.
const SELF_FIGURES: [&str; 6] = [
    "cardinality_guard_series",
    "cardinality_guard_series_limit",
    "cardinality_guard_global_series",
    "cardinality_guard_global_series_limit",
    "cardinality_guard_metrics",
    "cardinality_guard_admitted_total",
];

fn self_figures(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            SELF_FIGURES
                .iter()
                .any(|f| l.strip_prefix(f).is_some_and(|r| r.starts_with(['{', ' '])))
        })
        .collect()
}

/// `assert_series_accounting`, family by family: the shared helper counts
/// `x_bucket`, `x_sum`, `x_count` as `x`'s, which is wrong when `x` is a
/// summary and `x_bucket` a metric of its own (it is then used only when no
/// rendered name is another's with such a suffix). For every guarded
/// metric, the lines of its family equal the report's `series` and
/// `cardinality_guard_series{metric}`; every user family is guarded; the
/// global figure is their sum.
fn assert_accounting(
    text: &str,
    families: &[StrictFamily],
    report: &cardinality_guard_core::Report,
    also_shared_helper: bool,
) {
    let own = |f: &&StrictFamily| f.name.starts_with("cardinality_guard_");
    let reported = |name: &str, metric: Option<&str>| -> Option<f64> {
        let family = families.iter().find(|f| f.name == name)?;
        let s = family
            .samples
            .iter()
            .find(|s| s.labels.get("metric").map(String::as_str) == metric)?;
        Some(s.value)
    };
    let mut total = 0;
    for f in families.iter().filter(|f| !own(f)) {
        let m = report
            .metric(&f.name)
            .unwrap_or_else(|| panic!("{} is rendered but not guarded:\n{text}", f.name));
        let n = f.samples.len() as u64;
        assert_eq!(m.series, n, "report.series of {}:\n{text}", f.name);
        assert_eq!(
            reported("cardinality_guard_series", Some(&f.name)),
            Some(n as f64),
            "cardinality_guard_series of {}:\n{text}",
            f.name
        );
        total += n;
    }
    for m in &report.metrics {
        if !families.iter().any(|f| f.name == m.name) {
            assert_eq!(
                m.series, 0,
                "{} holds series it does not render:\n{text}",
                m.name
            );
        }
    }
    assert_eq!(report.global.series, total, "report.global.series:\n{text}");
    assert_eq!(
        reported("cardinality_guard_global_series", None),
        Some(total as f64),
        "cardinality_guard_global_series:\n{text}"
    );
    let names: BTreeSet<&str> = families.iter().map(|f| f.name.as_str()).collect();
    let ambiguous = names.iter().any(|n| {
        ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            n.strip_suffix(suffix)
                .is_some_and(|base| names.contains(base))
        })
    });
    if also_shared_helper && !ambiguous {
        assert_series_accounting(text, report);
    }
}

/// `cardinality_guard_overflow_total{metric, reason}`; 0 when absent.
fn overflow(families: &[StrictFamily], metric: &str, reason: &str) -> f64 {
    families
        .iter()
        .filter(|f| f.name == "cardinality_guard_overflow_total")
        .flat_map(|f| &f.samples)
        .find(|s| {
            s.labels.get("metric").map(String::as_str) == Some(metric)
                && s.labels.get("reason").map(String::as_str) == Some(reason)
        })
        .map_or(0.0, |s| s.value)
}

fn check_round(seed: u64) {
    let round = round(seed);
    let (recorder, guard) = guarded(&round.toml);
    // The same input without the registrations that spoof the self-report.
    let (control_recorder, control) = guarded(&round.toml);
    let mut model = Model::default();
    for op in &round.ops {
        apply(&recorder, op);
        model.apply(&round, op);
        let spoof = match op {
            Op::Describe(_, name, _) | Op::Update(_, name, _, _) => reserved_name(name),
        };
        if !spoof {
            apply(&control_recorder, op);
        }
    }
    let text = guard.render();
    let ctx = || {
        format!(
            "seed {seed} (tight: {})\n{}\n--- render ---\n{text}",
            round.tight, round.toml
        )
    };
    let families = strict_exposition::validate(&text)
        .unwrap_or_else(|e| panic!("invalid exposition: {e}\n{}", ctx()));
    let report = guard.report();
    // (the shared helper parses the text once per metric: slow in debug)
    assert_accounting(&text, &families, &report, seed % 4 == 1);

    // Spoofing is impossible.
    let control_text = control.render();
    assert_eq!(
        self_figures(&text),
        self_figures(&control_text),
        "the self-report changed with the spoofing registrations: {}",
        ctx()
    );
    let user: Vec<&StrictFamily> = families
        .iter()
        .filter(|f| !f.name.starts_with("cardinality_guard_"))
        .collect();
    for f in &families {
        for s in &f.samples {
            if f.name.starts_with("cardinality_guard_") {
                for k in s.labels.keys() {
                    assert!(
                        ["metric", "reason", "label", "problem", GLOBAL.0].contains(&k.as_str()),
                        "a self-report line with label {k}: {}",
                        ctx()
                    );
                }
                if let Some(m) = s.labels.get("metric") {
                    assert!(
                        model.metrics.contains_key(m)
                            || ["__invalid__", "__untracked__"].contains(&m.as_str()),
                        "the self-report names a metric that is none: {m:?}: {}",
                        ctx()
                    );
                }
            } else {
                assert!(!s.name.starts_with("cardinality_guard_"), "{}", ctx());
            }
        }
    }

    // Refusals and strippings are counted.
    assert_eq!(
        overflow(&families, "__invalid__", "invalid"),
        model.invalid_names as f64,
        "refused names: {}",
        ctx()
    );
    for (name, m) in &model.metrics {
        assert_eq!(
            overflow(&families, name, "invalid"),
            m.invalid as f64,
            "{name}: registrations with keys removed: {}",
            ctx()
        );
        assert_eq!(
            overflow(&families, name, "value_too_long"),
            m.too_long as f64,
            "{name}: registrations with values too long: {}",
            ctx()
        );
    }

    // Exactly the model's families, of the model's kinds.
    let expected: BTreeSet<&String> = model.metrics.keys().collect();
    let rendered: BTreeSet<&String> = user.iter().map(|f| &f.name).collect();
    assert_eq!(rendered, expected, "families: {}", ctx());
    for family in &user {
        let m = &model.metrics[&family.name];
        let kind = match (m.kind, m.bucketed) {
            (Some(Kind::Counter), _) => "counter",
            (Some(Kind::Gauge), _) => "gauge",
            (_, true) => "histogram",
            (_, false) => "summary",
        };
        assert_eq!(family.kind, kind, "# TYPE of {}: {}", family.name, ctx());
        assert_eq!(
            family.help.as_ref(),
            model.descriptions.get(&family.name),
            "# HELP of {} (the first description, losslessly): {}",
            family.name,
            ctx()
        );
        // Totals are conserved (folded or not).
        let total: f64 = match m.kind {
            Some(Kind::Counter) => family.samples.iter().map(|s| s.value).sum(),
            Some(Kind::Histogram) => family
                .samples
                .iter()
                .filter(|s| s.name == format!("{}_count", family.name))
                .map(|s| s.value)
                .sum(),
            _ => 0.0,
        };
        let absolute = m.kind == Some(Kind::Counter)
            && round
                .ops
                .iter()
                .any(|op| matches!(op, Op::Update(Kind::Counter, n, _, Update::Absolute(_)) if sanitize_metric_name(n) == family.name));
        if m.kind != Some(Kind::Gauge) && !absolute {
            assert_eq!(total, m.total as f64, "total of {}: {}", family.name, ctx());
        }
        if round.tight {
            continue;
        }
        // Nothing folds: one series per distinct label set, values lossless.
        let mut got: BTreeMap<BTreeMap<String, String>, Value> = BTreeMap::new();
        let count = format!("{}_count", family.name);
        for s in &family.samples {
            let labels = series_labels(family, &s.name, &s.labels);
            let v = got.entry(labels).or_default();
            match m.kind {
                Some(Kind::Counter) => v.counter = s.value as u64,
                Some(Kind::Gauge) => v.gauge = s.value,
                _ if s.name == count => v.samples = s.value as u64,
                _ => {}
            }
        }
        let want: BTreeSet<_> = m.series.keys().collect();
        let have: BTreeSet<_> = got.keys().collect();
        assert_eq!(have, want, "label sets of {}: {}", family.name, ctx());
        for (labels, want) in &m.series {
            let have = &got[labels];
            match m.kind {
                Some(Kind::Counter) => assert_eq!(
                    have.counter,
                    want.counter,
                    "{} {labels:?}: {}",
                    family.name,
                    ctx()
                ),
                Some(Kind::Gauge) => assert!(
                    have.gauge.to_bits() == want.gauge.to_bits()
                        || have.gauge.is_nan() && want.gauge.is_nan(),
                    "{} {labels:?}: {} != {}: {}",
                    family.name,
                    have.gauge,
                    want.gauge,
                    ctx()
                ),
                _ => assert_eq!(
                    have.samples,
                    want.samples,
                    "{} {labels:?}: {}",
                    family.name,
                    ctx()
                ),
            }
        }
    }
    if !round.tight {
        for m in &report.metrics {
            let o = &m.overflow;
            assert_eq!(
                o.total() - o.invalid - o.value_too_long,
                0,
                "seed {seed}: {} folded with ample budgets: {o:?}",
                m.name
            );
        }
    }
}

#[test]
fn the_strict_validator_refuses_what_it_must() {
    strict_exposition::self_test();
}

#[test]
fn hostile_input_always_renders_valid_text_and_keeps_the_rules() {
    for seed in 1..=ROUNDS {
        if let Err(panic) = std::panic::catch_unwind(|| check_round(seed)) {
            eprintln!("exposition_is_always_valid: failing seed {seed}");
            std::panic::resume_unwind(panic);
        }
    }
}

/// The pairs that naive escaping would merge stay apart, and come back as given.
#[test]
fn escaping_pairs_render_as_distinct_lines_and_come_back_losslessly() {
    let (recorder, guard) = guarded("");
    let values = [
        "a\\", "a\\\\", "a\"b", "a\\\"b", "a\nb", "a\\nb", "\0", "\\", "\"", "\\n",
    ];
    for (i, v) in values.iter().enumerate() {
        recorder
            .register_counter(
                &Key::from_parts("pairs_total", vec![Label::new("v", *v)]),
                &METADATA,
            )
            .increment(i as u64 + 1);
    }
    let text = guard.render();
    let families = assert_strictly_valid(&text);
    let family = families
        .iter()
        .find(|f| f.name == "pairs_total")
        .expect("rendered");
    assert_eq!(family.samples.len(), values.len(), "{text}");
    for (i, v) in values.iter().enumerate() {
        let line = family
            .samples
            .iter()
            .find(|s| s.labels.get("v").map(String::as_str) == Some(*v))
            .unwrap_or_else(|| panic!("{v:?} is not rendered losslessly:\n{text}"));
        assert_eq!(line.value, i as f64 + 1.0, "{v:?}");
    }
}

/// Kinds mixed under one rendered name: the first claims it, the others are
/// refused and counted, whichever order they come in.
#[test]
fn a_second_kind_under_a_rendered_name_is_refused_in_either_order() {
    for histogram_first in [true, false] {
        for buckets in [true, false] {
            let toml = if buckets {
                "[histograms]\nbuckets = [1.0]\n"
            } else {
                "[histograms]\nbuckets = \"summary\"\n"
            };
            let (recorder, guard) = guarded(toml);
            let histogram = || {
                recorder
                    .register_histogram(&Key::from_name("x"), &METADATA)
                    .record(0.5)
            };
            let counters = || {
                for name in ["x_count", "x_sum", "x_bucket", "x"] {
                    recorder
                        .register_counter(&Key::from_name(name), &METADATA)
                        .increment(1);
                }
            };
            if histogram_first {
                histogram();
                counters();
            } else {
                counters();
                histogram();
            }
            recorder
                .register_counter(&Key::from_name("same"), &METADATA)
                .increment(1);
            recorder
                .register_gauge(&Key::from_name("same"), &METADATA)
                .set(5.0);
            let text = guard.render();
            let families = assert_strictly_valid(&text);
            let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
            assert!(names.contains(&"same"), "{text}");
            let same = families.iter().find(|f| f.name == "same").unwrap();
            assert_eq!(same.kind, "counter", "{text}");
            let (expected_names, refused): (&[&str], f64) = match (histogram_first, buckets) {
                // x claims x, x_bucket, x_sum, x_count.
                (true, true) => (&["x"], 5.0),
                // A summary x claims x, x_sum, x_count: x_bucket is free.
                (true, false) => (&["x", "x_bucket"], 4.0),
                // The counters came first: x is a counter, the histogram is refused.
                (false, _) => (&["x", "x_bucket", "x_count", "x_sum"], 2.0),
            };
            for n in expected_names {
                assert!(names.contains(n), "{n} missing:\n{text}");
            }
            assert_eq!(
                overflow_total(&text, "__invalid__", "invalid"),
                refused,
                "histogram first: {histogram_first}, buckets: {buckets}:\n{text}"
            );
            let families = assert_strictly_valid(&text);
            assert_accounting(&text, &families, &guard.report(), true);
        }
    }
}

/// A user metric named like the self-report never renders, and the
/// self-report's lines stay its own.
#[test]
fn the_self_report_cannot_be_spoofed() {
    let (recorder, guard) = guarded("");
    recorder
        .register_counter(&Key::from_name("real_total"), &METADATA)
        .increment(1);
    for name in [
        "cardinality_guard_series",
        "cardinality.guard.series",
        "cardinality_guard_global_series",
    ] {
        let key = Key::from_parts(name, vec![Label::new("metric", "real_total")]);
        recorder.register_gauge(&key, &METADATA).set(1e9);
        recorder
            .register_counter(&key, &METADATA)
            .increment(1_000_000);
        recorder.describe_gauge(KeyName::from(name), None, SharedString::from("spoofed"));
    }
    let text = guard.render();
    assert_strictly_valid(&text);
    assert!(
        !text.contains("1000000000") && !text.contains("1000000\n") && !text.contains("spoofed"),
        "{text}"
    );
    assert_eq!(
        support::self_reported_series(&text, "real_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        overflow_total(&text, "__invalid__", "invalid"),
        6.0,
        "{text}"
    );
    let families = assert_strictly_valid(&text);
    assert_accounting(&text, &families, &guard.report(), true);
}

/// A key label that repeats a global label (same key, same value) is the
/// same label set as the key without it: one line, the updates of both.
#[test]
fn a_key_label_repeating_a_global_label_is_one_series() {
    let (guard, exporter) = guarded("[global]\nlabels = { region = \"eu\" }\n");
    let meta = Metadata::new(module_path!(), Level::INFO, None);
    guard
        .register_counter(&Key::from_name("x_total"), &meta)
        .increment(1);
    let explicit = Key::from_parts("x_total", vec![Label::new("region", "eu")]);
    guard.register_counter(&explicit, &meta).increment(2);
    // Another value of the global key overrides it: a series of its own.
    let other = Key::from_parts("x_total", vec![Label::new("region", "us")]);
    guard.register_counter(&other, &meta).increment(4);
    let text = exporter.render();
    assert_strictly_valid(&text);
    assert!(text.contains("x_total{region=\"eu\"} 3\n"), "{text}");
    assert!(text.contains("x_total{region=\"us\"} 4\n"), "{text}");
    assert_eq!(text.matches("x_total{").count(), 2, "{text}");
    assert_series_accounting(&text, &exporter.report());
}

/// A global label named like one of the self-report's own labels (`metric`,
/// `reason`, `label`) gives way to it there: no key twice in a line.
#[test]
fn a_global_label_named_like_a_self_report_label_gives_way_there() {
    let (guard, exporter) = guarded(
        "[global]\nlabels = { metric = \"svc\", reason = \"r\", label = \"l\" }\n\
         [[metrics]]\nmatch = \"logins_total\"\nmax_series = 2\nlabel_limits = { user = 1 }\n",
    );
    let meta = Metadata::new(module_path!(), Level::INFO, None);
    for user in ["ada", "bob", "cyd"] {
        let key = Key::from_parts("logins_total", vec![Label::new("user", user)]);
        guard.register_counter(&key, &meta).increment(1);
    }
    let text = exporter.render();
    assert_strictly_valid(&text);
    assert!(
        text.contains("logins_total{label=\"l\",metric=\"svc\",reason=\"r\",user=\"ada\"} 1"),
        "user lines keep every global label:\n{text}"
    );
    assert!(
        text.contains(
            "cardinality_guard_series{label=\"l\",reason=\"r\",metric=\"logins_total\"} 2"
        ),
        "{text}"
    );
    // bob and cyd: rewritten by the label limit, then folded by the budget,
    // counted once under the reason that decided (issue 21).
    assert!(
        text.contains(
            "cardinality_guard_overflow_total{label=\"l\",metric=\"logins_total\",reason=\"series_limit\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "cardinality_guard_label_limit{reason=\"r\",metric=\"logins_total\",label=\"user\"} 1"
        ),
        "{text}"
    );
}
