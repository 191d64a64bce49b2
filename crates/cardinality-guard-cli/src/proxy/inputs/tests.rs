//! The delta state, with a recording sink and a manual clock.

use std::cell::RefCell;
use std::rc::Rc;

use cardinality_guard_core::ManualClock;

use super::*;

/// A histogram's totals: non-cumulative buckets (`+Inf` last), sum, count.
#[derive(Debug, Default, Clone, PartialEq)]
struct Totals {
    buckets: Vec<f64>,
    sum: f64,
    count: f64,
    quantiles: Vec<f64>,
}

type Cell = Rc<RefCell<Totals>>;

/// Registers a fresh series per registration (names and labels kept in
/// `registered`); after `fold_after` registrations, every new one is the
/// shared overflow series, as a guard over budget gives.
#[derive(Default)]
struct Recorder {
    registered: RefCell<Vec<(String, Cell)>>,
    described: RefCell<Vec<(String, String)>>,
    fold_after: Option<usize>,
    overflow: Cell,
}

impl Recorder {
    fn register(&self, name: &str, labels: &[(&str, &str)]) -> Cell {
        let mut registered = self.registered.borrow_mut();
        if self.fold_after.is_some_and(|n| registered.len() >= n) {
            return self.overflow.clone();
        }
        let cell = Cell::default();
        registered.push((format!("{name}{labels:?}"), cell.clone()));
        cell
    }

    /// The totals of the `i`th registration.
    fn series(&self, i: usize) -> Totals {
        self.registered.borrow()[i].1.borrow().clone()
    }

    fn registrations(&self) -> usize {
        self.registered.borrow().len()
    }
}

impl Sink for Recorder {
    type Counter = Cell;
    type Gauge = Cell;
    type Histogram = Cell;
    type Summary = Cell;

    fn describe(&self, name: &str, help: &str) {
        self.described
            .borrow_mut()
            .push((name.to_owned(), help.to_owned()));
    }
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Cell {
        self.register(name, labels)
    }
    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Cell {
        self.register(name, labels)
    }
    fn histogram(&self, name: &str, labels: &[(&str, &str)], _: &[&str]) -> Cell {
        self.register(name, labels)
    }
    fn summary(&self, name: &str, labels: &[(&str, &str)], _: &[&str]) -> Cell {
        self.register(name, labels)
    }
    fn add_counter(counter: &Cell, delta: f64) {
        counter.borrow_mut().count += delta;
    }
    fn set_gauge(gauge: &Cell, value: f64) {
        gauge.borrow_mut().count = value;
    }
    fn add_histogram(histogram: &Cell, buckets: &[f64], sum: f64, count: f64) {
        let mut t = histogram.borrow_mut();
        t.buckets.resize(buckets.len(), 0.0);
        for (total, delta) in t.buckets.iter_mut().zip(buckets) {
            assert!(
                *delta >= 0.0,
                "a bucket delta is never negative: {buckets:?}"
            );
            *total += delta;
        }
        assert_eq!(
            buckets.iter().sum::<f64>(),
            count,
            "buckets add up to the count"
        );
        t.sum += sum;
        t.count += count;
    }
    fn set_quantiles(summary: &Cell, values: &[f64]) {
        summary.borrow_mut().quantiles = values.to_vec();
    }
    fn add_summary(summary: &Cell, sum: f64, count: f64) {
        let mut t = summary.borrow_mut();
        t.sum += sum;
        t.count += count;
    }
}

const MINUTE: Duration = Duration::from_secs(60);

fn inputs(clock: &ManualClock, max: usize) -> Inputs<Recorder> {
    Inputs::new(clock.clone().into(), 10 * MINUTE, max)
}

fn count(sink: &Recorder, i: usize) -> f64 {
    sink.series(i).count
}

#[test]
fn counters_add_their_increase_and_a_decrease_is_a_reset() {
    let (clock, sink) = (ManualClock::new(), Recorder::default());
    let mut state = inputs(&clock, 100);
    let a = [("path", "/a")];
    for (value, total) in [(5.0, 5.0), (7.5, 7.5), (7.5, 7.5), (2.0, 9.5), (3.0, 10.5)] {
        state.begin();
        state.counter(&sink, "hits_total", &a, value, Some("Hits."));
        assert_eq!(count(&sink, 0), total, "after {value}");
    }
    assert_eq!(sink.registrations(), 1, "one input, one registration");
    assert_eq!(
        *sink.described.borrow(),
        [("hits_total".to_owned(), "Hits.".to_owned())],
        "described once, when new"
    );
    // Not a count: dropped, and counted.
    assert_eq!(state.unusable(), 0);
    state.counter(&sink, "hits_total", &a, f64::NAN, None);
    state.counter(&sink, "hits_total", &a, -1.0, None);
    state.counter(&sink, "hits_total", &a, f64::INFINITY, None);
    assert_eq!(count(&sink, 0), 10.5);
    assert_eq!(state.unusable(), 3);
    // Another label set is another input.
    state.counter(&sink, "hits_total", &[("path", "/b")], 4.0, None);
    assert_eq!((count(&sink, 1), state.len()), (4.0, 2));
}

#[test]
fn a_vanished_input_keeps_its_contribution_and_is_forgotten_after_the_staleness() {
    let (clock, sink) = (ManualClock::new(), Recorder::default());
    let mut state = inputs(&clock, 100);
    let a = [("path", "/a")];
    state.begin();
    state.counter(&sink, "hits_total", &a, 5.0, None);
    state.counter(&sink, "hits_total", &[("path", "/b")], 1.0, None);
    // `/a` vanishes for 9 minutes: still tracked, its series unchanged.
    for _ in 0..9 {
        clock.advance(MINUTE);
        state.begin();
        state.counter(&sink, "hits_total", &[("path", "/b")], 1.0, None);
        assert_eq!(state.forget_stale(), 0);
    }
    assert_eq!((count(&sink, 0), state.len()), (5.0, 2));
    // Seen again within the staleness: its increase only.
    state.counter(&sink, "hits_total", &a, 6.0, None);
    assert_eq!(count(&sink, 0), 6.0);
    // Unseen for more than 10 minutes: forgotten.
    clock.advance(10 * MINUTE + Duration::from_secs(1));
    state.begin();
    state.counter(&sink, "hits_total", &[("path", "/b")], 1.0, None);
    assert_eq!(state.forget_stale(), 1);
    assert_eq!(state.len(), 1);
    // Seen again after that: new, its full value counted again (documented).
    state.counter(&sink, "hits_total", &a, 6.0, None);
    assert_eq!(sink.registrations(), 3);
    assert_eq!(count(&sink, 2), 6.0);
}

#[test]
fn histograms_add_bucket_increases_and_reset_by_their_count() {
    let (clock, sink) = (ManualClock::new(), Recorder::default());
    let mut state = inputs(&clock, 100);
    let bounds = ["0.1", "1"];
    let mut scrape = |cumulative: [f64; 3], sum: f64| {
        state.begin();
        state.histogram(
            &sink,
            "rpc_seconds",
            &[],
            &bounds,
            &cumulative,
            sum,
            None,
            5,
        );
    };
    scrape([1.0, 3.0, 4.0], 2.0);
    assert_eq!(
        sink.series(0),
        Totals {
            buckets: vec![1.0, 2.0, 1.0],
            sum: 2.0,
            count: 4.0,
            quantiles: vec![]
        }
    );
    // Negative observations: the sum goes down, the counts up.
    scrape([3.0, 5.0, 6.0], 1.5);
    let t = sink.series(0);
    assert_eq!((t.buckets, t.sum, t.count), (vec![3.0, 2.0, 1.0], 1.5, 6.0));
    // The count goes down: the upstream restarted; the current values are added.
    scrape([1.0, 1.0, 2.0], 0.5);
    let t = sink.series(0);
    assert_eq!((t.buckets, t.sum, t.count), (vec![4.0, 2.0, 2.0], 2.0, 8.0));
    // A bucket that goes down while the count goes up (an inconsistent
    // upstream): clamped, the buckets still add up to the count.
    scrape([0.0, 2.0, 3.0], 0.5);
    let t = sink.series(0);
    assert_eq!((t.buckets.iter().sum::<f64>(), t.count), (9.0, 9.0));
    assert!(t.buckets.iter().all(|&b| b >= 0.0), "{:?}", t.buckets);
    // Malformed: wrong length, or a negative count: nothing.
    state.histogram(
        &sink,
        "rpc_seconds",
        &[],
        &bounds,
        &[1.0, 2.0],
        0.0,
        None,
        1,
    );
    state.histogram(
        &sink,
        "rpc_seconds",
        &[],
        &bounds,
        &[1.0, 2.0, -3.0],
        0.0,
        None,
        1,
    );
    assert_eq!(sink.series(0).count, 9.0);
}

#[test]
fn summaries_reset_by_their_count_and_set_their_quantiles() {
    let (clock, sink) = (ManualClock::new(), Recorder::default());
    let mut state = inputs(&clock, 100);
    let quantiles = ["0.5", "0.9"];
    for (values, sum, count, totals) in [
        ([1.0, 2.0], 10.0, 4.0, (10.0, 4.0)),
        ([1.5, 2.5], 8.0, 6.0, (8.0, 6.0)),
        ([0.5, 0.7], 1.0, 1.0, (9.0, 7.0)),
    ] {
        state.begin();
        state.summary(
            &sink,
            "s",
            &[],
            &quantiles,
            &values,
            sum,
            Some(count),
            None,
            4,
        );
        let t = sink.series(0);
        assert_eq!((t.sum, t.count), totals);
        assert_eq!(t.quantiles, values);
    }
}

#[test]
fn a_new_input_folded_from_its_first_sight_counts_its_full_value() {
    let (clock, sink) = (
        ManualClock::new(),
        Recorder {
            fold_after: Some(1),
            ..Recorder::default()
        },
    );
    let mut state = inputs(&clock, 100);
    state.begin();
    state.counter(&sink, "hits_total", &[("path", "/a")], 5.0, None);
    state.counter(&sink, "hits_total", &[("path", "/b")], 7.0, None);
    state.counter(&sink, "hits_total", &[("path", "/c")], 2.0, None);
    assert_eq!(count(&sink, 0), 5.0);
    assert_eq!(
        sink.overflow.borrow().count,
        9.0,
        "the folded inputs' full values"
    );
    state.begin();
    state.counter(&sink, "hits_total", &[("path", "/b")], 8.0, None);
    state.counter(&sink, "hits_total", &[("path", "/c")], 1.0, None); // reset
    assert_eq!(
        sink.overflow.borrow().count,
        11.0,
        "their increases, a reset's value"
    );
}

#[test]
fn beyond_max_inputs_new_samples_are_dropped_and_counted() {
    let (clock, sink) = (ManualClock::new(), Recorder::default());
    let mut state = inputs(&clock, 2);
    state.begin();
    state.counter(&sink, "a_total", &[], 1.0, None);
    state.gauge(&sink, "g", &[], 3.0, None);
    state.counter(&sink, "b_total", &[], 1.0, None);
    state.histogram(&sink, "h", &[], &[], &[2.0], 1.0, None, 3);
    assert_eq!(
        (state.len(), state.untracked(), sink.registrations()),
        (2, 4, 2)
    );
    // Tracked inputs go on.
    state.begin();
    state.counter(&sink, "a_total", &[], 4.0, None);
    assert_eq!(count(&sink, 0), 4.0);
}

#[test]
fn a_series_written_twice_in_one_scrape_counts_once_and_never_reads_as_a_reset() {
    let (clock, sink) = (ManualClock::new(), Recorder::default());
    let mut state = inputs(&clock, 10);
    for _ in 0..3 {
        state.begin();
        state.counter(&sink, "x_total", &[("a", "1")], 5.0, None);
        state.counter(&sink, "x_total", &[("a", "1")], 10.0, None);
        state.histogram(&sink, "h", &[], &["1"], &[1.0, 2.0], 1.0, None, 3);
        state.histogram(&sink, "h", &[], &["1"], &[0.0, 1.0], 0.5, None, 3);
    }
    // The first sample of each scrape counts: 5 and 2, never growing.
    assert_eq!(count(&sink, 0), 5.0);
    assert_eq!(count(&sink, 1), 2.0);
    assert_eq!(state.duplicates(), 3 * (1 + 3));
    assert_eq!(state.len(), 2);
}

#[test]
fn the_state_per_input_is_a_few_dozen_bytes() {
    println!(
        "bytes per input: {ENTRY_BYTES} (map entry), plus a histogram's or summary's state on the heap"
    );
    const { assert!(ENTRY_BYTES <= 40, "more than 40 bytes per input") };
}

#[test]
fn bytes_per_input_with_the_map_s_spare_room_at_scale() {
    let config = cardinality_guard_core::Config::from_toml(
        "[[metrics]]\nmatch = \"hits_total\"\nmax_series = 10\n",
        "guard.toml",
    )
    .unwrap();
    let (recorder, _exporter) = cardinality_guard_core::PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();
    let ingest = recorder.ingest();
    let clock = ManualClock::new();
    let mut state: Inputs<cardinality_guard_core::Ingest> =
        Inputs::new(clock.clone().into(), 10 * MINUTE, 1_000_000);
    let n = 50_000;
    let forget_all = |state: &mut Inputs<cardinality_guard_core::Ingest>| {
        clock.advance(11 * MINUTE);
        state.begin();
        assert_eq!(state.forget_stale(), n + 1);
    };
    state.begin();
    for i in 0..n {
        let path = format!("/{i}");
        state.counter(&ingest, "hits_total", &[("path", &path)], 1.0, None);
    }
    assert_eq!(state.len(), n);
    let per_input = state.bytes() as f64 / n as f64;
    println!(
        "{n} counter inputs: {} bytes, {per_input:.1} per input",
        state.bytes()
    );
    assert!(per_input >= ENTRY_BYTES as f64, "{per_input}");
    assert!(per_input <= 2.5 * (ENTRY_BYTES + 1) as f64, "{per_input}");
    // A histogram with 10 bounds: its 12 values on the heap too.
    let before = state.bytes();
    let bounds: Vec<String> = (1..=10).map(|b| b.to_string()).collect();
    let bounds: Vec<&str> = bounds.iter().map(String::as_str).collect();
    let cumulative = [1.0; 11];
    state.histogram(&ingest, "lat", &[], &bounds, &cumulative, 1.0, None, 13);
    let scratch = state.scratch.capacity() * 8;
    let boxed = std::mem::size_of::<HistogramState<cardinality_guard_core::Ingest>>();
    assert_eq!(
        state.bytes() - before - scratch,
        boxed + 12 * 8,
        "its handle and values on the heap"
    );
    // Forgotten, its heap bytes go.
    forget_all(&mut state);
    assert_eq!(state.heap, 0);
}

#[test]
fn counts_that_cannot_be_counts_drop_their_label_set_s_lines_and_are_counted() {
    let (clock, sink) = (ManualClock::new(), Recorder::default());
    let mut state = inputs(&clock, 10);
    state.begin();
    state.histogram(&sink, "h", &[], &["1"], &[1.0, f64::NAN], 1.0, None, 4);
    state.summary(&sink, "s", &[], &["0.5"], &[1.0], 1.0, Some(-2.0), None, 3);
    state.counter(&sink, "c_total", &[], f64::NEG_INFINITY, None);
    assert_eq!(
        (state.unusable(), state.len(), sink.registrations()),
        (4 + 3 + 1, 0, 0)
    );
    // A NaN sum is not a count: the histogram goes on.
    state.histogram(
        &sink,
        "h",
        &[("a", "1")],
        &["1"],
        &[1.0, 2.0],
        f64::NAN,
        None,
        4,
    );
    assert_eq!((state.unusable(), count(&sink, 0)), (8, 2.0));
}
