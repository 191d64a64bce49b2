//! Edge cases of label-aware folding (stage 1), each once a bug found in
//! review: dotted label keys, logging while locked, memory of values refused
//! at stage 2, and shadow mode with a repeated label.

#[path = "support/heap.rs"]
mod heap;
mod support;

use std::sync::Arc;

use cardinality_guard_core::{LabelReport, Report};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::{guarded, label_values, parse, samples_of, sum_of};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn label_report<'a>(report: &'a Report, metric: &str, label: &str) -> &'a LabelReport {
    report
        .metric(metric)
        .and_then(|m| m.labels.iter().find(|l| l.name == label))
        .unwrap_or_else(|| panic!("label {label} of {metric} is tracked: {report:?}"))
}

// ---------------------------------------------------------------------------
// 1. A label limit does not apply to a label key the exporter renders under
//    the limited name. Config label names must be rendered names
//    (`[a-zA-Z_][a-zA-Z0-9_]*`), but stage 1 matches the raw key, and the
//    exporter sanitizes label keys (`user.id` renders as `user_id`). Dotted
//    keys are the OpenTelemetry convention (`user.id`, `http.route`), so
//    such a label can never be limited: the leak renders in full.

#[test]
fn a_label_limit_caps_a_dotted_key_that_renders_under_the_limited_name() {
    let (guard, exporter) =
        guarded("[[metrics]]\nmatch = \"logins_total\"\nlabel_limits = { user_id = 2 }\n");
    metrics::with_local_recorder(&guard, || {
        for user in 0..50 {
            metrics::counter!("logins_total", "user.id" => user.to_string()).increment(1);
        }
    });
    let text = exporter.render();
    let users = label_values(&text, "logins_total", "user_id");
    assert!(
        users.len() <= 3,
        "label_limits = {{ user_id = 2 }}, yet {} distinct user_id values render:\n{text}",
        users.len()
    );
}

// ---------------------------------------------------------------------------
// 2. A pinned value is folded (into the series-level overflow series) when
//    earlier junk filled the series budget. README: "Pinned values are always
//    admitted and their room is set aside, so a scanner that arrives first
//    cannot take it." The room is set aside only in the label's value count,
//    not in the series budget that stage 2 applies afterwards.

// ---------------------------------------------------------------------------
// 3. A registration folded at stage 1 allocates on every call (the refused
//    index list, the rewritten key's label vector, owned copies of the name
//    and of the refused label's key). README: "a flood of rejected ones costs
//    the guard nothing (a folded registration allocates nothing and takes no
//    write lock)", "A folded call (O1) takes no write lock and allocates
//    nothing".

// ---------------------------------------------------------------------------
// 4. Stage 1 remembers every value it admits, even when stage 2 then drops
//    or folds the label set: nothing renders, yet the guard holds the values
//    (up to the label limit, each as large as the input). README: "Only
//    admitted label sets are remembered; a flood of rejected ones costs the
//    guard nothing". Here a closed `drop` metric keeps 2,000 × 4 KiB of
//    values that no series shows.

#[test]
fn a_flood_rejected_at_stage_two_costs_no_memory_in_stage_one() {
    const M: &str = "paths_total";
    const FLOOD: usize = 2_000;
    let (guard, exporter) = guarded(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = 1\non_overflow = \"drop\"\n\
         label_limits = {{ path = 5000 }}\n"
    ));
    // The budget (one series) is full from the start; warm up the dropped path.
    guard
        .register_counter(
            &Key::from_parts(M, vec![Label::new("path", "/")]),
            &METADATA,
        )
        .increment(1);
    guard
        .register_counter(
            &Key::from_parts(M, vec![Label::new("path", "/x")]),
            &METADATA,
        )
        .increment(1);

    let before = heap::held();
    for i in 0..FLOOD {
        let path = format!("/{i}/{}", "a".repeat(4096));
        let key = Key::from_parts(M, vec![Label::new("path", path)]);
        guard.register_counter(&key, &METADATA).increment(1);
    }
    let grown = heap::held() - before;

    let text = exporter.render();
    assert_eq!(
        samples_of(&parse(&text), M).len(),
        1,
        "all dropped:\n{text}"
    );
    assert_eq!(sum_of(&text, M), 1.0, "{text}");
    // Each admitted value is kept as a keyed hash and the sweep it was last
    // used at (16 bytes and the map's slack), never as its 4 KiB text.
    assert!(
        grown < (FLOOD * 48) as isize,
        "{grown} bytes held after {FLOOD} registrations that were all dropped"
    );
}

// ---------------------------------------------------------------------------
// 5. Shadow mode diverges from enforce for a label given twice
//    (`{user="a",user="b"}`, rendered `{user="b"}`). Enforce runs stage 1 on
//    the rendered key only. Shadow stores an alias for the raw spelling whose
//    `shadow_over` replays stage 1 on the *raw* key in `Family::lookup`: the
//    unrendered value "a" is observed (demand) and counted as folded too.

fn repeated_label_run(mode: &str) -> Report {
    let (guard, exporter) = guarded(&format!(
        "[[metrics]]\nmatch = \"jobs_total\"\nmode = \"{mode}\"\nlabel_limits = {{ user = 1 }}\n"
    ));
    metrics::with_local_recorder(&guard, || {
        metrics::counter!("jobs_total", "user" => "z").increment(1);
        for _ in 0..3 {
            metrics::counter!("jobs_total", "user" => "a", "user" => "b").increment(1);
        }
    });
    exporter.report()
}

#[test]
fn shadow_mode_counts_a_repeated_label_as_enforce_does() {
    let enforce = repeated_label_run("enforce");
    let shadow = repeated_label_run("shadow");
    let (e, s) = (
        label_report(&enforce, "jobs_total", "user"),
        label_report(&shadow, "jobs_total", "user"),
    );
    assert_eq!(
        (s.folded, s.demand),
        (e.folded, e.demand),
        "shadow {s:?} vs enforce {e:?}"
    );
}

// ---------------------------------------------------------------------------
// 7. Shadow mode logs the fold warning while holding a write lock on a shard
//    of the label-set table (`Family::register_shadow` calls
//    `count_overflow` -> `MetricState::warn` with the table's vacant entry
//    still held; `Family::lookup` does the same under a read guard). A
//    `tracing` subscriber that counts warnings with `metrics` — through the
//    installed recorder, i.e. the guard — then registers a key that lands on
//    that shard and deadlocks the thread (DashMap locks are not reentrant).
//    Enforce drops its entry before rejecting, so only shadow — the mode
//    recommended for the first deploy — hangs.

/// A subscriber that counts WARN events as a metric, as log-to-metrics
/// bridges do.
struct CountsWarnings;

impl tracing::Subscriber for CountsWarnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            metrics::counter!("log_events_total", "level" => "warn").increment(1);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The shard of the guard's label-set table (a `DashMap` keyed by the
/// `Key`'s precomputed hash) that `key` lands on.
fn shard_of(key: &Key) -> usize {
    let parallelism = std::thread::available_parallelism().map_or(1, usize::from);
    let bits = (parallelism * 4).next_power_of_two().trailing_zeros();
    ((key.get_hash() as usize) << 7) >> (usize::BITS - bits)
}

fn user_key(user: u64) -> Key {
    Key::from_parts("jobs_total", vec![Label::new("user", user.to_string())])
}

#[test]
fn a_warning_counted_as_a_metric_does_not_deadlock_shadow_mode() {
    let log_key = Key::from_parts("log_events_total", vec![Label::new("level", "warn")]);
    // A label set beyond the budget on the same shard as the warning counter.
    let over = (1..)
        .map(user_key)
        .find(|k| shard_of(k) == shard_of(&log_key))
        .expect("some key shares the shard");
    let (guard, exporter) =
        guarded("[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 2\nmode = \"shadow\"\n");
    let guard = Arc::new(guard);
    let (done, finished) = std::sync::mpsc::channel();
    let (worker, registered) = (guard.clone(), over.clone());
    std::thread::spawn(move || {
        // The guard is the recorder the subscriber's counter goes through.
        metrics::with_local_recorder(&*worker, || {
            tracing::subscriber::with_default(CountsWarnings, || {
                tracing::callsite::rebuild_interest_cache();
                // One label set fills the budget (beside the overflow series'
                // room); the next is one enforce would fold: shadow warns.
                worker
                    .register_counter(&user_key(0), &METADATA)
                    .increment(1);
                worker.register_counter(&registered, &METADATA).increment(1);
            })
        });
        let _ = done.send(());
    });
    // Two registrations: a minute is generous however loaded the machine.
    let outcome = finished.recv_timeout(std::time::Duration::from_secs(60));
    // (No report here on failure: reading it would wait for the held lock too.)
    assert!(
        outcome.is_ok(),
        "shadow registration of {over:?} hung: the warning's metric waits for the \
         table lock its own thread holds"
    );
    let text = exporter.render();
    assert_eq!(sum_of(&text, "jobs_total"), 2.0, "{text}");
}
