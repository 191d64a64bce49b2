//! Budgets hold exactly under concurrency: threads released together by a
//! barrier race to register new label sets at the edge of the budget, many
//! rounds over fresh guards. No interleaving lets a metric (or the guard)
//! exceed its budget or leaves it under-filled, no update is lost, and every
//! registration of an admitted label set (or a tracked name) reaches it.

mod support;

use cardinality_guard_core::PrometheusGuard;
use support::{
    assert_series_accounting, guarded, guarded_samples, is_overflow, labeled_value, overflow_total,
    parse, race, samples_of, sum_of, walk, Sample, THREADS,
};

const ROUNDS: usize = 150;

/// Label sets of a fold metric that fit beside its overflow series' room.
fn fold_capacity(max_series: usize, cost: usize) -> usize {
    max_series.saturating_sub(cost) / cost
}

/// One round of one metric racing for its own budget: every thread sends one
/// update to each of `values` label values (more than fit).
struct Round {
    round: usize,
    max_series: usize,
    values: usize,
    text: String,
    exporter: PrometheusGuard,
}

impl Round {
    fn ctx(&self) -> String {
        let (round, max_series, text) = (self.round, self.max_series, &self.text);
        format!("round {round}, max_series {max_series}:\n{text}")
    }

    fn samples(&self, name: &str) -> Vec<Sample> {
        parse(&self.text)
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }
}

const COUNTER: &str = "race_total";
const HISTOGRAM: &str = "race_seconds";
const BUCKETS: [f64; 3] = [1.0, 2.0, 4.0];
const HISTOGRAM_COST: usize = BUCKETS.len() + 3;

fn counter_round(round: usize, on_overflow: &str) -> Round {
    let max_series = 1 + round % 12;
    let values = 2 * max_series + 3;
    let toml = format!(
        "[[metrics]]\nmatch = \"{COUNTER}\"\nmax_series = {max_series}\n\
         on_overflow = \"{on_overflow}\"\n"
    );
    let (guard, exporter) = guarded(&toml);
    race(&guard, |t| {
        for v in walk(t, values) {
            metrics::counter!(COUNTER, "v" => v.to_string()).increment(1);
        }
    });
    let text = exporter.render();
    Round {
        round,
        max_series,
        values,
        text,
        exporter,
    }
}

/// Budgets that are not a multiple of the cost of a label set, too.
fn histogram_round(round: usize) -> Round {
    let max_series = HISTOGRAM_COST + round % (4 * HISTOGRAM_COST);
    let values = max_series / HISTOGRAM_COST + 4;
    let toml = format!(
        "[histograms]\nbuckets = {BUCKETS:?}\n\
         [[metrics]]\nmatch = \"{HISTOGRAM}\"\nmax_series = {max_series}\n"
    );
    let (guard, exporter) = guarded(&toml);
    race(&guard, |t| {
        for v in walk(t, values) {
            metrics::histogram!(HISTOGRAM, "v" => v.to_string()).record(1.5);
        }
    });
    let text = exporter.render();
    Round {
        round,
        max_series,
        values,
        text,
        exporter,
    }
}

#[test]
fn a_fold_counter_fills_its_budget_exactly_and_never_beyond() {
    for round in 0..ROUNDS {
        let r = counter_round(round, "fold");
        let ctx = r.ctx();
        let series = r.samples(COUNTER);
        let admitted = fold_capacity(r.max_series, 1);
        assert_eq!(series.len(), admitted + 1, "budget used fully: {ctx}");
        assert!(series.len() <= r.max_series, "{ctx}");
        assert_eq!(series.iter().filter(|s| is_overflow(s)).count(), 1, "{ctx}");
        let sent = THREADS * r.values;
        assert_eq!(sum_of(&r.text, COUNTER), sent as f64, "conserved: {ctx}");

        let report = r.exporter.report();
        let m = report.metric(COUNTER).expect("tracked");
        assert_eq!(
            (m.series, m.label_sets),
            (series.len() as u64, admitted as u64),
            "{ctx}"
        );
        let folded = series.iter().find(|s| is_overflow(s)).map(|s| s.value);
        assert_eq!(
            Some(m.overflow.series_limit as f64),
            folded,
            "each fold counted: {ctx}"
        );
        assert_series_accounting(&r.text, &report);
    }
}

#[test]
fn a_fold_histogram_fills_its_budget_exactly_and_never_beyond() {
    for round in 0..ROUNDS {
        let r = histogram_round(round);
        let ctx = r.ctx();
        let admitted = fold_capacity(r.max_series, HISTOGRAM_COST);
        let series = samples_of(&parse(&r.text), HISTOGRAM).len();
        assert_eq!(
            series,
            (admitted + 1) * HISTOGRAM_COST,
            "budget used fully: {ctx}"
        );
        assert!(series <= r.max_series, "{ctx}");
        let counts = r.samples("race_seconds_count");
        assert_eq!(counts.len(), admitted + 1, "{ctx}");
        assert_eq!(counts.iter().filter(|s| is_overflow(s)).count(), 1, "{ctx}");
        let sent = (THREADS * r.values) as f64;
        assert_eq!(
            sum_of(&r.text, "race_seconds_count"),
            sent,
            "conserved: {ctx}"
        );
        assert_eq!(
            sum_of(&r.text, "race_seconds_sum"),
            1.5 * sent,
            "conserved: {ctx}"
        );
        assert_series_accounting(&r.text, &r.exporter.report());
    }
}

/// `drop` has no overflow series to make room for: the metric admits exactly
/// `max_series` label sets, and every update it discards is counted.
#[test]
fn a_drop_counter_fills_its_budget_exactly_and_counts_what_it_drops() {
    for round in 0..ROUNDS {
        let r = counter_round(round, "drop");
        let ctx = r.ctx();
        let series = r.samples(COUNTER);
        assert_eq!(series.len(), r.max_series, "budget used fully: {ctx}");
        assert!(series.iter().all(|s| !is_overflow(s)), "{ctx}");
        let rendered = sum_of(&r.text, COUNTER);
        let dropped = overflow_total(&r.text, COUNTER, "series_limit");
        assert_eq!(rendered + dropped, (THREADS * r.values) as f64, "{ctx}");
        let report = r.exporter.report();
        let m = report.metric(COUNTER).expect("tracked");
        assert_eq!(m.overflow.series_limit as f64, dropped, "{ctx}");
        assert_series_accounting(&r.text, &report);
    }
}

/// Decisions are sticky even while threads race: a label set that was
/// admitted gets the update of every thread that registered it, never one
/// folded into the overflow series or dropped in between.
#[test]
fn an_admitted_label_set_gets_every_update_under_contention() {
    for round in 0..ROUNDS {
        for r in [counter_round(round, "fold"), counter_round(round, "drop")] {
            for s in r.samples(COUNTER).iter().filter(|s| !is_overflow(s)) {
                let ctx = r.ctx();
                assert_eq!(s.value, THREADS as f64, "admitted {:?}: {ctx}", s.labels);
            }
        }
        let r = histogram_round(round);
        for s in r
            .samples("race_seconds_count")
            .iter()
            .filter(|s| !is_overflow(s))
        {
            let ctx = r.ctx();
            assert_eq!(s.value, THREADS as f64, "admitted {:?}: {ctx}", s.labels);
        }
    }
}

/// Three counters and a histogram race for one global budget; their own
/// budgets are far above it, so only `[global] max_series` binds.
#[test]
fn the_global_budget_is_filled_exactly_and_never_beyond() {
    const COUNTERS: [&str; 3] = ["race_a_total", "race_b_total", "race_c_total"];
    for round in 0..ROUNDS / 2 {
        // Each thread registers every metric first, so all of them exist (with
        // their overflow room reserved) long before the global budget fills.
        let max_series = THREADS * (COUNTERS.len() + HISTOGRAM_COST) + 10 + round % 40;
        let values = max_series;
        let toml = format!(
            "[global]\nmax_series = {max_series}\n[defaults]\nmax_series = {max_series}\n\
             [histograms]\nbuckets = {BUCKETS:?}\n"
        );
        let (guard, exporter) = guarded(&toml);
        race(&guard, |t| {
            for v in walk(t, values) {
                for name in COUNTERS {
                    metrics::counter!(name, "v" => v.to_string()).increment(1);
                }
                metrics::histogram!(HISTOGRAM, "v" => v.to_string()).record(1.0);
            }
        });

        let text = exporter.render();
        let ctx = format!("round {round}, global max_series {max_series}:\n{text}");
        // The counters take the last free series, so none is left unused.
        assert_eq!(guarded_samples(&text).len(), max_series, "{ctx}");
        let report = exporter.report();
        assert_eq!(report.global.series, max_series as u64, "{ctx}");
        let global = labeled_value(&text, "cardinality_guard_global_series", &[]);
        assert_eq!(global, Some(max_series as f64), "{ctx}");
        for m in &report.metrics {
            assert!(m.overflow_series, "{} folded something: {ctx}", m.name);
            assert!(
                m.overflow.global_limit > 0,
                "{} hit the global limit: {ctx}",
                m.name
            );
        }
        let sent = (THREADS * values) as f64;
        for name in COUNTERS {
            assert_eq!(sum_of(&text, name), sent, "{name} conserved: {ctx}");
        }
        assert_eq!(
            sum_of(&text, "race_seconds_count"),
            sent,
            "conserved: {ctx}"
        );
        assert_series_accounting(&text, &report);
    }
}

/// Many distinct (label-less) counter names race for `[global] max_metrics`.
struct NamesRound {
    max_metrics: usize,
    names: usize,
    text: String,
    exporter: PrometheusGuard,
    ctx: String,
}

fn names_round(round: usize) -> NamesRound {
    let max_metrics = 1 + round % 6;
    let names = 3 * max_metrics + 2;
    let (guard, exporter) = guarded(&format!("[global]\nmax_metrics = {max_metrics}\n"));
    // Half the rounds, all threads walk the names in the same order, so they
    // all race for the same name at the same moment.
    let same_order = round.is_multiple_of(2);
    race(&guard, |t| {
        let order: Vec<usize> = match same_order {
            true => (0..names).collect(),
            false => walk(t, names).collect(),
        };
        for i in order {
            metrics::counter!(format!("race_{i}_total")).increment(1);
        }
    });
    let text = exporter.render();
    let ctx = format!("round {round}, max_metrics {max_metrics}:\n{text}");
    NamesRound {
        max_metrics,
        names,
        text,
        exporter,
        ctx,
    }
}

#[test]
fn max_metrics_is_filled_exactly_and_never_beyond() {
    for round in 0..ROUNDS {
        let NamesRound {
            max_metrics,
            names,
            text,
            exporter,
            ctx,
        } = names_round(round);
        let samples = guarded_samples(&text);
        assert_eq!(samples.len(), max_metrics, "{ctx}");
        let report = exporter.report();
        assert_eq!(report.global.metrics, max_metrics, "{ctx}");
        assert_eq!(report.metrics.len(), max_metrics, "{ctx}");
        let tracked = labeled_value(&text, "cardinality_guard_metrics", &[]);
        assert_eq!(tracked, Some(max_metrics as f64), "{ctx}");
        // Every registration either reached a tracked name or was counted.
        let untracked = overflow_total(&text, "__untracked__", "max_metrics");
        assert_eq!(
            report.global.untracked_registrations as f64, untracked,
            "{ctx}"
        );
        let rendered: f64 = samples.iter().map(|s| s.value).sum();
        assert_eq!(rendered + untracked, (THREADS * names) as f64, "{ctx}");
        assert_series_accounting(&text, &report);
    }
}

/// A name that is tracked gets every registration, even those that raced
/// with the registration that made it tracked.
#[test]
fn a_tracked_name_gets_every_registration_under_contention() {
    for round in 0..ROUNDS {
        let NamesRound {
            max_metrics,
            names,
            text,
            ctx,
            ..
        } = names_round(round);
        for s in guarded_samples(&text) {
            assert_eq!(
                s.value, THREADS as f64,
                "every registration of {}: {ctx}",
                s.name
            );
        }
        let untracked = THREADS * (names - max_metrics);
        let counted = overflow_total(&text, "__untracked__", "max_metrics");
        assert_eq!(counted, untracked as f64, "{ctx}");
    }
}
