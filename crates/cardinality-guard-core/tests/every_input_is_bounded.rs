//! Bounded whatever the input (issue 19): on the embedded default config,
//! no flood of hostile keys grows the heap by more than 16 MiB or the
//! render past 4 MiB, and no user name renders a second self-report line.
//!
//! Each flood is one row of the measurements: other spellings of a
//! name or of a label key (the spelling cache, bounded by
//! `max_alias_bytes`), huge label keys (`max_label_key_length`), label sets
//! of hundreds of labels (`max_labels`), huge names
//! (`max_metric_name_length`) and huge descriptions
//! (`max_description_length`). The heap is measured with the per-thread
//! counting allocator: everything runs on the test thread.

#[path = "support/heap.rs"]
mod heap;
mod support;

use std::collections::HashSet;

use cardinality_guard_core::text::{Format, Line, Parser};
use cardinality_guard_core::{Config, GuardRecorder, PrometheusGuard};
use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use support::overflow_total;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// The most the heap may grow under any one flood.
const MAX_GROWTH: isize = 16 * MIB as isize;
/// The largest render any flood may leave.
const MAX_RENDER: usize = 4 * MIB;

/// A guard on the embedded default config (no upkeep thread).
fn embedded() -> (GuardRecorder, PrometheusGuard) {
    PrometheusGuard::builder(Config::default())
        .upkeep_interval(None)
        .build()
        .expect("guard builds")
}

fn counter(guard: &GuardRecorder, name: impl Into<KeyName>, labels: Vec<Label>) {
    let key = Key::from_parts(name, labels);
    guard.register_counter(&key, &METADATA).increment(1);
}

/// The `i`-th of 5^7 spellings that sanitize alike: 7 characters from
/// `. - / ! space`, each rendered as `_`.
fn separators(mut i: usize) -> String {
    (0..7)
        .map(|_| {
            let c = ['.', '-', '/', '!', ' '][i % 5];
            i /= 5;
            c
        })
        .collect()
}

/// Value `i` of a label: distinct, 1,000 bytes (under the 1,024 bound).
fn value(i: usize) -> String {
    format!("{i:04}{}", "v".repeat(996))
}

/// Runs `flood` on a fresh guard; asserts the heap grew by at most
/// `MAX_GROWTH` and the render is at most `MAX_RENDER`; returns the render.
fn bounded(what: &str, flood: impl FnOnce(&GuardRecorder)) -> String {
    let (guard, exporter) = embedded();
    let before = heap::held();
    flood(&guard);
    let grown = heap::held() - before;
    let text = exporter.render();
    eprintln!(
        "{what}: heap +{} KiB, render {} KiB",
        grown / KIB as isize,
        text.len() / KIB
    );
    assert!(
        grown <= MAX_GROWTH,
        "{what}: the heap grew by {} MiB",
        grown / MIB as isize
    );
    assert!(
        text.len() <= MAX_RENDER,
        "{what}: a render of {} KiB",
        text.len() / KIB
    );
    assert_no_sample_twice(&text);
    text
}

/// Reads `text` with the core's parser; panics if a (name, labels) pair
/// appears twice (Prometheus would keep one of them).
fn assert_no_sample_twice(text: &str) {
    let mut parser = Parser::new(Format::Prometheus);
    let mut seen = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let parsed = parser
            .line(line)
            .unwrap_or_else(|e| panic!("line {}: {e:?}", i + 1));
        if let Line::Sample(sample) = parsed {
            let mut labels: Vec<(String, String)> = sample
                .labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_string()))
                .collect();
            labels.sort();
            let id = (sample.name.to_owned(), labels);
            assert!(seen.insert(id), "a second line for {line:?}");
        }
    }
}

#[test]
fn twenty_thousand_spellings_of_a_name_cost_at_most_the_alias_bound() {
    let text = bounded("name spellings", |guard| {
        for spelling in 0..20_000 {
            let name = format!("spell{}", separators(spelling));
            for set in 0..6 {
                counter(guard, name.clone(), vec![Label::new("v", value(set))]);
            }
        }
    });
    // Every spelling went to the same 6 series.
    assert_eq!(support::sum_of(&text, "spell_______"), 120_000.0);
    assert_eq!(support::rendered_series(&text, "spell_______"), 6);
}

#[test]
fn twenty_thousand_spellings_of_a_label_key_cost_at_most_the_alias_bound() {
    let text = bounded("label key spellings", |guard| {
        for spelling in 0..20_000 {
            let key = format!("user{}id", separators(spelling));
            for set in 0..6 {
                counter(
                    guard,
                    "logins_total",
                    vec![Label::new(key.clone(), value(set))],
                );
            }
        }
    });
    assert_eq!(support::sum_of(&text, "logins_total"), 120_000.0);
    assert_eq!(support::rendered_series(&text, "logins_total"), 6);
}

#[test]
fn a_label_key_of_100_kb_is_removed() {
    let huge = "k".repeat(100 * KIB);
    let text = bounded("100 KB label keys", |guard| {
        for i in 0..2_000 {
            let labels = vec![
                Label::new(format!("{huge}{i}"), "1"),
                Label::new("route", "/"),
            ];
            counter(guard, "requests_total", labels);
        }
    });
    // Removed from every label set: one series, every increment in it.
    assert_eq!(support::rendered_series(&text, "requests_total"), 1);
    assert_eq!(support::sum_of(&text, "requests_total"), 2_000.0);
    assert_eq!(overflow_total(&text, "requests_total", "invalid"), 2_000.0);
}

#[test]
fn label_sets_of_500_labels_are_folded() {
    let text = bounded("500 labels", |guard| {
        for i in 0..2_000 {
            let labels = (0..500)
                .map(|l| Label::new(format!("label_{l}"), format!("{i}-{}", "x".repeat(100))))
                .collect();
            counter(guard, "wide_total", labels);
        }
    });
    // The overflow series alone, with every increment.
    assert_eq!(support::rendered_series(&text, "wide_total"), 1);
    assert_eq!(support::sum_of(&text, "wide_total"), 2_000.0);
    assert_eq!(
        overflow_total(&text, "wide_total", "too_many_labels"),
        2_000.0
    );
}

#[test]
fn a_thousand_names_of_64_kb_are_refused() {
    let text = bounded("64 KB names", |guard| {
        for i in 0..1_000 {
            let name = format!("{i:04}_{}", "n".repeat(64 * KIB));
            counter(guard, name.clone(), vec![]);
            guard.describe_counter(KeyName::from(name), None, SharedString::from("help"));
        }
    });
    assert_eq!(overflow_total(&text, "__invalid__", "invalid"), 1_000.0);
}

#[test]
fn three_thousand_descriptions_of_64_kb_are_shortened() {
    let text = bounded("64 KB descriptions", |guard| {
        for i in 0..3_000 {
            let name = format!("described_{i}_total");
            let help = format!("{i} {}", "é".repeat(32 * KIB));
            guard.describe_counter(KeyName::from(name.clone()), None, SharedString::from(help));
            counter(guard, name, vec![]);
        }
    });
    let help = text
        .lines()
        .find(|l| l.starts_with("# HELP described_0_total "))
        .expect("a description renders");
    let kept = help.trim_start_matches("# HELP described_0_total ");
    assert!(kept.len() <= 1024 && kept.len() >= 1020, "{}", kept.len());
    assert!(kept.starts_with("0 éé"));
}

/// A folded label set of 2,000 labels costs nothing at later registrations:
/// one comparison of its length, no allocation, no work per label.
#[test]
fn a_folded_label_set_of_2000_labels_allocates_nothing_again() {
    let (guard, exporter) = embedded();
    let labels: Vec<Label> = (0..2_000)
        .map(|l| Label::new(format!("label_{l}"), "v"))
        .collect();
    let key = Key::from_parts("wide_total", labels);
    guard.register_counter(&key, &METADATA).increment(1);
    let allocations = heap::allocations_in(|| {
        for _ in 0..100 {
            guard.register_counter(&key, &METADATA).increment(1);
        }
    });
    assert_eq!(allocations, 0);
    let text = exporter.render();
    assert_eq!(
        overflow_total(&text, "wide_total", "too_many_labels"),
        101.0
    );
    assert_eq!(support::sum_of(&text, "wide_total"), 101.0);
}

/// No user name can render a second self-report line: the names under
/// which the self-report counts refused and untracked names
/// (`metric="__invalid__"`, `metric="__untracked__"`) are refused as user
/// metrics, however they are spelled.
#[test]
fn no_user_name_renders_a_second_self_report_line() {
    let config = Config::from_toml("[global]\nmax_metrics = 4\n", "<test>").unwrap();
    let (guard, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    for name in [
        "__invalid__",
        "__untracked__",
        "..invalid..",
        "__untracked..",
    ] {
        // A removed label key would count `invalid` under the name itself.
        counter(&guard, name, vec![Label::new("__removed", "1")]);
    }
    counter(&guard, "", vec![]);
    counter(&guard, "cardinality_guard_series", vec![]);
    // Other `__` names are user metrics like any other.
    counter(&guard, "__dunder_total", vec![Label::new("__removed", "1")]);
    for i in 0..5 {
        counter(&guard, format!("user_{i}_total"), vec![]);
    }
    let text = exporter.render();
    assert_no_sample_twice(&text);
    assert_eq!(overflow_total(&text, "__invalid__", "invalid"), 6.0);
    assert_eq!(overflow_total(&text, "__untracked__", "max_metrics"), 2.0);
    assert_eq!(overflow_total(&text, "__dunder_total", "invalid"), 1.0);
    assert!(!text.contains("\n__invalid__"), "{text}");
    assert!(!text.contains("\n__untracked__"), "{text}");
}

/// Shadow mode alters nothing the budgets decide, but the bounds hold
/// there too: a label set of too many labels is folded, not stored.
#[test]
fn shadow_mode_folds_too_many_labels_too() {
    let config = Config::from_toml(
        "[global]\nmax_labels = 3\n[defaults]\nmode = \"shadow\"\n",
        "<test>",
    )
    .unwrap();
    let (guard, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    let labels = |n: usize, v: &str| {
        (0..n)
            .map(|i| Label::new(format!("k{i}"), v.to_owned()))
            .collect()
    };
    counter(&guard, "shadowed_total", labels(3, "kept"));
    for v in ["a", "b", "c"] {
        counter(&guard, "shadowed_total", labels(4, v));
    }
    let text = exporter.render();
    assert_eq!(
        support::rendered_series(&text, "shadowed_total"),
        2,
        "{text}"
    );
    assert_eq!(
        overflow_total(&text, "shadowed_total", "too_many_labels"),
        3.0
    );
    assert_eq!(support::sum_of(&text, "shadowed_total"), 4.0);
}
