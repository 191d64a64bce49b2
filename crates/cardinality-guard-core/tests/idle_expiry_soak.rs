//! A soak of idle expiry: label values rotate continuously (each used for
//! a short while, then never again), bursts of one-shot values overrun the
//! budgets every few seconds, and a scraper renders every 100–250 ms, while
//! upkeep sweeps: at its interval on the guard's clock, and in real time on
//! the background upkeep thread.
//!
//! Time is the guard's manual clock, moved in ticks of 5 ms: in each tick
//! the rotators (two threads, racing each other and the sweeps) do that
//! tick's work, then the scraper renders if its time has come, then the
//! clock moves on. So every figure below counts what happened in so much
//! of the clock's time, however fast or loaded the machine runs it.
//!
//! After a warm-up, over the rest of the run:
//! - no metric ever renders more series than its budget, and the
//!   self-report (`cardinality_guard_series{metric}`,
//!   `cardinality_guard_global_series`) equals the rendered lines at every
//!   render;
//! - the guard's table and the process's resident memory stay bounded and
//!   flat (first third against last third);
//! - budgets keep reopening: in the last third most new values render as
//!   their own series rather than in the overflow series;
//! - nothing recent is lost: every rendered series holds exactly the updates
//!   made to it, and at the end a fixed set of label values updated within
//!   one idle window renders with its exact values, the folded rest adding
//!   up in the overflow series.
//!
//! `cargo test --test idle_expiry_soak -- --nocapture` prints the figures.
//! By default each third lasts 2 s of the clock; `SOAK_THIRD_SECS=60 cargo
//! test --release --test idle_expiry_soak` runs a long soak on demand.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use cardinality_guard_core::{Config, GuardRecorder, ManualClock, PrometheusGuard};
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use support::{is_overflow, parse, samples_of, Sample};

const COUNTER: &str = "soak_requests_total";
const COUNTER_BUDGET: usize = 1000;
const HISTOGRAM: &str = "soak_latency_seconds";
const HISTOGRAM_BUDGET: usize = 300;
const BUCKETS: [f64; 3] = [0.01, 0.1, 1.0];
/// Rendered lines per histogram label set: the buckets, `+Inf`, `_sum`, `_count`.
const HISTOGRAM_COST: usize = BUCKETS.len() + 3;
/// Label sets of each metric that fit beside its overflow series' room.
const COUNTER_ROOM: usize = COUNTER_BUDGET - 1;
const HISTOGRAM_ROOM: usize = (HISTOGRAM_BUDGET - HISTOGRAM_COST) / HISTOGRAM_COST;
const IDLE: Duration = Duration::from_millis(200);
/// How often upkeep sweeps on the guard's clock: as often as the background
/// thread does for this idle timeout (a quarter of it).
const SWEEP: Duration = Duration::from_millis(50);
const LABEL: &str = "user";

const WARM_UP: Duration = Duration::from_secs(2);

/// How long each third of the run lasts: `SOAK_THIRD_SECS`, else 2 s.
fn third_length() -> Duration {
    let secs = std::env::var("SOAK_THIRD_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}
/// Threads rotating label values.
const ROTATORS: usize = 2;
/// New steady label values per second, all rotators together.
const RATE: f64 = 900.0;
/// How long a steady value is updated (every tick) before it is dropped for good.
const LIFE: Duration = Duration::from_millis(100);
/// The step the clock moves by.
const TICK: Duration = Duration::from_millis(5);
/// One value in this many also records the histogram.
const HISTOGRAM_EVERY: u64 = 10;
/// Every `burst_every()` (from `first_burst()`), `BURST` one-shot values:
/// more than the budgets hold beside the steady ones. Each third sees two.
fn first_burst() -> Duration {
    WARM_UP + third_length() / 4
}
fn burst_every() -> Duration {
    third_length() / 2
}
const BURST: usize = 1000;
/// When the scraper renders after a burst has begun.
const AFTER_BURST: Duration = Duration::from_millis(40);
/// Every value id the run may use (the bookkeeping is preallocated, so that
/// it does not grow the process while its memory is measured).
const MAX_IDS: usize = 100_000;
const SAMPLE: f64 = 0.05;

/// The tracked label sets must stay below this many times the budgets' label sets.
const TRACKED_FACTOR: usize = 3;
/// Mean tracked label sets of the last third: at most this much above the first's.
const TRACKED_TREND: f64 = 1.25;
/// Median resident memory of the last third: at most this much above the first's.
const RSS_TREND: f64 = 1.10;
const RSS_SLACK_KIB: i64 = 4 * 1024;
/// Share of the steady values of the last third that must render on their own.
const ADMITTED_SHARE: f64 = 0.75;

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

fn soak_config() -> Config {
    let toml = format!(
        "[histograms]\nbuckets = {BUCKETS:?}\n\
         [defaults]\nidle_timeout = \"{}ms\"\non_overflow = \"fold\"\n\
         [[metrics]]\nmatch = \"{COUNTER}\"\nmax_series = {COUNTER_BUDGET}\non_overflow = \"fold\"\n\
         [[metrics]]\nmatch = \"{HISTOGRAM}\"\nmax_series = {HISTOGRAM_BUDGET}\n",
        IDLE.as_millis()
    );
    Config::from_toml(&toml, "soak.toml").expect("soak config is valid")
}

fn key(name: &'static str, value: String) -> Key {
    Key::from_parts(name, vec![Label::new(LABEL, value)])
}

/// Resident set size of this process in KiB, from `/proc/self/status`
/// (`None` without procfs).
fn rss_kib() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

const BURST_FLAG: u8 = 1;
const HISTOGRAM_FLAG: u8 = 2;
const SEEN_COUNTER: u8 = 4;
const SEEN_HISTOGRAM: u8 = 8;

/// What the rotators did to each value id, preallocated and indexed by id.
struct Ledger {
    next_id: AtomicU64,
    /// Ms of the clock since the start when the value was first used, plus
    /// one (0: unused).
    born: Vec<AtomicU32>,
    /// Counter increments made (and histogram samples recorded, for values
    /// that record one).
    total: Vec<AtomicU32>,
    flags: Vec<AtomicU8>,
}

impl Ledger {
    fn new() -> Ledger {
        // Written one by one, so every page is resident from the start.
        let words = || (0..MAX_IDS).map(|_| AtomicU32::new(0)).collect();
        Ledger {
            next_id: AtomicU64::new(0),
            born: words(),
            total: words(),
            flags: (0..MAX_IDS).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    /// A new value id, first used `at` after the start.
    fn new_id(&self, at: Duration, burst: bool) -> usize {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) as usize;
        assert!(id < MAX_IDS, "the soak used more than {MAX_IDS} values");
        let born_ms = at.as_millis() as u32 + 1;
        self.born[id].store(born_ms, Ordering::Relaxed);
        let mut flags = if burst { BURST_FLAG } else { 0 };
        if (id as u64).is_multiple_of(HISTOGRAM_EVERY) {
            flags |= HISTOGRAM_FLAG;
        }
        self.flags[id].store(flags, Ordering::Relaxed);
        id
    }

    fn has(&self, id: usize, flag: u8) -> bool {
        self.flags[id].load(Ordering::Relaxed) & flag != 0
    }

    fn mark(&self, id: usize, flag: u8) {
        self.flags[id].fetch_or(flag, Ordering::Relaxed);
    }
}

/// One value a rotator is using.
struct Live {
    id: usize,
    /// When it was first used, after the start.
    born: Duration,
    counter: Counter,
    histogram: Option<Histogram>,
}

fn register(guard: &GuardRecorder, ledger: &Ledger, id: usize, born: Duration) -> Live {
    let counter = guard.register_counter(&key(COUNTER, id.to_string()), &METADATA);
    let histogram = ledger
        .has(id, HISTOGRAM_FLAG)
        .then(|| guard.register_histogram(&key(HISTOGRAM, id.to_string()), &METADATA));
    Live {
        id,
        born,
        counter,
        histogram,
    }
}

fn update(live: &Live, ledger: &Ledger) {
    live.counter.increment(1);
    if let Some(h) = &live.histogram {
        h.record(SAMPLE);
    }
    ledger.total[live.id].fetch_add(1, Ordering::Relaxed);
}

/// Moves the rotators and the scraper through the run one tick at a time:
/// the driver starts a tick, the rotators each do their part of it (while
/// the clock stands still), and the driver waits for all of them before it
/// renders and moves the clock. So every render sees whole updates (a label
/// set registered and updated, or not at all), as the exact accounting
/// checks need.
#[derive(Default)]
struct Lockstep {
    state: Mutex<Steps>,
    changed: Condvar,
}

#[derive(Default)]
struct Steps {
    /// The tick in progress (0: none yet).
    tick: u64,
    /// Rotators done with it.
    done: usize,
    /// The run is over (or the driver failed): rotators leave.
    stop: bool,
    /// A rotator panicked: the driver fails.
    failed: bool,
}

impl Lockstep {
    fn lock(&self) -> std::sync::MutexGuard<'_, Steps> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Driver: starts the next tick.
    fn start_tick(&self) {
        let mut steps = self.lock();
        steps.tick += 1;
        steps.done = 0;
        self.changed.notify_all();
    }

    /// Driver: waits until every rotator is done with the tick.
    fn finish_tick(&self) {
        let mut steps = self.lock();
        while steps.done < ROTATORS && !steps.failed {
            steps = self.changed.wait(steps).unwrap_or_else(|p| p.into_inner());
        }
        assert!(!steps.failed, "a rotator panicked");
    }

    /// Rotator: waits for the tick after `seen`; `None` once the run stops.
    fn next_tick(&self, seen: u64) -> Option<u64> {
        let mut steps = self.lock();
        while steps.tick == seen && !steps.stop {
            steps = self.changed.wait(steps).unwrap_or_else(|p| p.into_inner());
        }
        (!steps.stop).then_some(steps.tick)
    }

    /// Rotator: done with the tick.
    fn tick_done(&self) {
        self.lock().done += 1;
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }

    fn fail(&self) {
        self.lock().failed = true;
        self.changed.notify_all();
    }
}

/// Shared by the rotators and the scraper.
struct Soak<'a> {
    guard: &'a GuardRecorder,
    ledger: &'a Ledger,
    steps: &'a Lockstep,
}

impl Soak<'_> {
    /// Rotator `t`: a steady stream of new values, each updated every tick
    /// for `LIFE`, then dropped; rotator 0 also sends the bursts. Tick `n`
    /// is at `n * TICK` after the start.
    fn rotate(&self, t: usize) {
        /// Fails the driver if this rotator panics.
        struct FailOnPanic<'a>(&'a Lockstep);
        impl Drop for FailOnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.fail();
                }
            }
        }
        let _fail = FailOnPanic(self.steps);
        let mut live = std::collections::VecDeque::with_capacity(4096);
        let mut created = 0u64;
        let mut next_burst = first_burst();
        let mut tick = 0;
        while let Some(next) = self.steps.next_tick(tick) {
            tick = next;
            let now = TICK * tick as u32;
            let due = (now.as_secs_f64() * RATE / ROTATORS as f64) as u64;
            while created < due {
                let id = self.ledger.new_id(now, false);
                live.push_back(register(self.guard, self.ledger, id, now));
                created += 1;
            }
            for value in &live {
                update(value, self.ledger);
            }
            while live.front().is_some_and(|v: &Live| v.born + LIFE <= now) {
                live.pop_front();
            }
            if t == 0 && now >= next_burst {
                self.burst(now);
                next_burst += burst_every();
            }
            self.steps.tick_done();
        }
    }

    /// `BURST` values, each updated once and dropped at once.
    fn burst(&self, now: Duration) {
        for _ in 0..BURST {
            let id = self.ledger.new_id(now, true);
            update(&register(self.guard, self.ledger, id, now), self.ledger);
        }
    }
}

/// What one render showed.
#[derive(Debug, Clone, Copy, Default)]
struct Scrape {
    at: Duration,
    counter_series: usize,
    histogram_series: usize,
    tracked: usize,
    rss_kib: Option<i64>,
    folded: f64,
}

/// The per-render invariants: budgets and the self-report against the
/// rendered lines. Returns the violations.
fn check_render(text: &str, samples: &[Sample]) -> Vec<String> {
    let mut violations = Vec::new();
    let gauge = |name: &str, metric: Option<&str>| {
        samples
            .iter()
            .find(|s| s.name == name && metric.is_none_or(|m| s.label("metric") == m))
            .map(|s| s.value)
    };
    let mut total = 0;
    for (metric, budget) in [(COUNTER, COUNTER_BUDGET), (HISTOGRAM, HISTOGRAM_BUDGET)] {
        let rendered = samples_of(samples, metric).len();
        total += rendered;
        if rendered > budget {
            violations.push(format!("{metric} renders {rendered} series > {budget}"));
        }
        let reported = gauge("cardinality_guard_series", Some(metric));
        // Before anything of a metric is registered, neither renders.
        if reported.unwrap_or(0.0) != rendered as f64 {
            violations.push(format!(
                "cardinality_guard_series{{metric=\"{metric}\"}} = {reported:?}, rendered {rendered}"
            ));
        }
    }
    let histogram_lines = samples_of(samples, HISTOGRAM).len();
    if !histogram_lines.is_multiple_of(HISTOGRAM_COST) {
        violations.push(format!(
            "{HISTOGRAM} renders {histogram_lines} lines, not whole label sets of {HISTOGRAM_COST}"
        ));
    }
    let global = gauge("cardinality_guard_global_series", None);
    if global.unwrap_or(0.0) != total as f64 {
        violations.push(format!(
            "cardinality_guard_global_series = {global:?}, rendered {total}"
        ));
    }
    if !violations.is_empty() && text.len() < 4096 {
        violations.push(text.to_owned());
    }
    violations
}

/// The value id of a rotator's label value (the fixed set's are not numbers).
fn value_id(sample: &Sample) -> Option<usize> {
    sample.label(LABEL).parse().ok()
}

/// Marks the values rendered as their own series in `samples` as seen.
fn note_seen(samples: &[Sample], ledger: &Ledger) {
    for s in samples_of(samples, COUNTER) {
        if let Some(id) = value_id(s) {
            ledger.mark(id, SEEN_COUNTER);
        }
    }
    for s in samples_of(samples, HISTOGRAM) {
        if let Some(id) = value_id(s) {
            ledger.mark(id, SEEN_HISTOGRAM);
        }
    }
}

/// Every rendered series of a rotated value holds exactly the updates made
/// to it (writers are stopped). Returns how many were checked, and the
/// violations.
fn check_exact_totals(samples: &[Sample], ledger: &Ledger) -> (usize, Vec<String>) {
    let count = format!("{HISTOGRAM}_count");
    let mut checked = 0;
    let mut violations = Vec::new();
    for s in samples_of(samples, COUNTER).into_iter().chain(
        samples_of(samples, HISTOGRAM)
            .into_iter()
            .filter(|s| s.name == count),
    ) {
        let Some(id) = value_id(s) else { continue };
        let total = ledger.total[id].load(Ordering::Relaxed);
        if s.value != f64::from(total) {
            violations.push(format!(
                "{}{{{LABEL}=\"{id}\"}} renders {}, but {total} updates were made (born at {} ms)",
                s.name,
                s.value,
                ledger.born[id].load(Ordering::Relaxed).saturating_sub(1)
            ));
        }
        checked += 1;
    }
    (checked, violations)
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n.max(1) as f64
}

fn median(mut xs: Vec<i64>) -> i64 {
    xs.sort_unstable();
    xs.get(xs.len() / 2).copied().unwrap_or(0)
}

fn third_of(at: Duration) -> Option<usize> {
    let after = at.checked_sub(WARM_UP)?;
    let third = (after.as_secs_f64() / third_length().as_secs_f64()) as usize;
    Some(third.min(2))
}

#[test]
fn idle_expiry_keeps_a_rotating_workload_bounded_and_exact() {
    // The background upkeep thread runs too (sweeping in real time, on the
    // manual clock's time), racing the rotators.
    let clock = ManualClock::new();
    let (guard, exporter) = PrometheusGuard::builder(soak_config())
        .clock(clock.clone().into())
        .build()
        .expect("exporter builds");
    let ledger = Ledger::new();
    let steps = Lockstep::default();
    let ticks = ((WARM_UP + 3 * third_length()).as_nanos() / TICK.as_nanos()) as u64;
    let sweep_every = (SWEEP.as_nanos() / TICK.as_nanos()) as u64;
    let soak = Soak {
        guard: &guard,
        ledger: &ledger,
        steps: &steps,
    };
    let mut scrapes: Vec<Scrape> = Vec::with_capacity(1024);
    let mut violations: Vec<String> = Vec::new();

    std::thread::scope(|s| {
        /// Stops the rotators however the driver leaves (a panic included).
        struct StopOnDrop<'a>(&'a Lockstep);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        let _stop = StopOnDrop(&steps);
        for t in 0..ROTATORS {
            let soak = &soak;
            s.spawn(move || soak.rotate(t));
        }
        // A scraper with some jitter: every 100 to 250 ms, and once shortly
        // after each burst has begun, when the budgets are most contended.
        let mut n = 0u64;
        let mut next_burst = first_burst() + AFTER_BURST;
        let mut plan = |from: Duration, n: u64| {
            let mut next = from + Duration::from_millis(100 + (n * 37) % 151);
            if next_burst <= next {
                next = next_burst;
                next_burst += burst_every();
            }
            next
        };
        let mut next_scrape = plan(Duration::ZERO, n);
        for tick in 1..=ticks {
            clock.advance(TICK);
            let at = TICK * tick as u32;
            steps.start_tick();
            if tick % sweep_every == 0 {
                exporter.run_upkeep(); // racing the rotators' registrations
            }
            steps.finish_tick();
            if at < next_scrape {
                continue;
            }
            n += 1;
            next_scrape = plan(at, n);
            let text = exporter.render();
            let tracked = exporter.guard().tracked_label_sets();
            let samples = parse(&text);
            note_seen(&samples, &ledger);
            if at >= WARM_UP {
                violations.extend(
                    check_render(&text, &samples)
                        .into_iter()
                        .map(|v| format!("at {at:?}: {v}")),
                );
            }
            let folded = samples
                .iter()
                .find(|s| {
                    s.name == "cardinality_guard_overflow_total"
                        && s.label("metric") == COUNTER
                        && s.label("reason") == "series_limit"
                })
                .map_or(0.0, |s| s.value);
            scrapes.push(Scrape {
                at,
                counter_series: samples_of(&samples, COUNTER).len(),
                histogram_series: samples_of(&samples, HISTOGRAM).len(),
                tracked,
                rss_kib: rss_kib(),
                folded,
            });
        }
    });
    let stopped = TICK * ticks as u32;

    // Right after the stop: what renders holds exactly the updates made.
    let text = exporter.render();
    let samples = parse(&text);
    note_seen(&samples, &ledger);
    violations.extend(check_render(&text, &samples));
    let (exact, wrong) = check_exact_totals(&samples, &ledger);
    violations.extend(wrong);
    println!(
        "after the stop ({stopped:?} of the clock): {} {COUNTER} and {} {HISTOGRAM} lines; \
         {exact} series of rotated values hold exactly their updates",
        samples_of(&samples, COUNTER).len(),
        samples_of(&samples, HISTOGRAM).len(),
    );

    assert!(
        violations.is_empty(),
        "{} render violations, first ones:\n{}",
        violations.len(),
        violations
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    check_thirds(&scrapes, &ledger);

    let report = exporter.report();
    for m in &report.metrics {
        println!(
            "{}: expired {}, revived {}, folded {} (series_limit)",
            m.name, m.expired, m.revived, m.overflow.series_limit
        );
    }
    let counter = report.metric(COUNTER).expect("counter is tracked");
    // Steady values alone: RATE per second, a tenth of them histograms.
    let steady = RATE * 3.0 * third_length().as_secs_f64();
    assert!(counter.expired as f64 > 0.8 * steady, "{counter:?}");
    let histogram = report.metric(HISTOGRAM).expect("histogram");
    assert!(histogram.expired as f64 > 0.08 * steady, "{histogram:?}");

    final_window(&guard, &exporter, &clock);

    // Once everything is idle, every series expires and its storage goes:
    // the guard keeps nothing of the rotation.
    expire_everything(&exporter, &clock);
    let tracked = exporter.guard().tracked_label_sets();
    println!("after everything went idle: {tracked} tracked label sets");
    assert_eq!(tracked, 0, "every series expired and was deleted");
}

/// The figures of one third.
#[derive(Debug)]
struct Third {
    scrapes: usize,
    max_counter_series: usize,
    mean_tracked: f64,
    max_tracked: usize,
    median_rss: i64,
    folded: f64,
}

/// Whether the counter's budget filled up (some render showed it at least
/// 90% full) and registrations were folded.
fn folded_and_full(third: &Third) -> bool {
    third.max_counter_series >= COUNTER_BUDGET * 9 / 10 && third.folded > 0.0
}

/// Compares the thirds after the warm-up: series within budget, tracked
/// label sets and memory bounded and flat, new values still admitted.
fn check_thirds(scrapes: &[Scrape], ledger: &Ledger) {
    let budget_label_sets = COUNTER_ROOM + 1 + HISTOGRAM_ROOM + 1;
    let mut per_third: [Vec<Scrape>; 3] = Default::default();
    for s in scrapes {
        if let Some(t) = third_of(s.at) {
            per_third[t].push(*s);
        }
    }
    // Steady (and burst) values born in each third, and how many rendered
    // on their own at least once.
    let mut admitted = [[(0u32, 0u32); 2]; 3]; // [third][counter, histogram] = (seen, born)
    let mut burst_admitted = [(0u32, 0u32); 3];
    let used = ledger.next_id.load(Ordering::Relaxed) as usize;
    for id in 0..used {
        let born = ledger.born[id].load(Ordering::Relaxed);
        let Some(t) = third_of(Duration::from_millis(u64::from(born.saturating_sub(1)))) else {
            continue;
        };
        if ledger.has(id, BURST_FLAG) {
            let slot = &mut burst_admitted[t];
            slot.1 += 1;
            slot.0 += u32::from(ledger.has(id, SEEN_COUNTER));
            continue;
        }
        let slot = &mut admitted[t][0];
        slot.1 += 1;
        slot.0 += u32::from(ledger.has(id, SEEN_COUNTER));
        if ledger.has(id, HISTOGRAM_FLAG) {
            let slot = &mut admitted[t][1];
            slot.1 += 1;
            slot.0 += u32::from(ledger.has(id, SEEN_HISTOGRAM));
        }
    }
    let share = |(seen, born): (u32, u32)| f64::from(seen) / f64::from(born.max(1));

    let mut figures = BTreeMap::new();
    for (t, third) in per_third.iter().enumerate() {
        let max = |f: fn(&Scrape) -> usize| third.iter().map(f).max().unwrap_or(0);
        let avg = |f: fn(&Scrape) -> usize| mean(third.iter().map(|s| f(s) as f64));
        let rss: Vec<i64> = third.iter().filter_map(|s| s.rss_kib).collect();
        let folded =
            third.last().map_or(0.0, |s| s.folded) - third.first().map_or(0.0, |s| s.folded);
        println!(
            "third {t}: {} scrapes; {COUNTER} series mean {:.0} max {}; {HISTOGRAM} series mean {:.0} max {}; \
             tracked label sets mean {:.0} max {}; RSS median {} KiB max {} KiB; \
             steady values born {} rendered on their own {:.1}% (histogram {:.1}% of {}); \
             burst values rendered on their own {:.1}% of {}; registrations folded {folded}",
            third.len(),
            avg(|s| s.counter_series),
            max(|s| s.counter_series),
            avg(|s| s.histogram_series),
            max(|s| s.histogram_series),
            avg(|s| s.tracked),
            max(|s| s.tracked),
            median(rss.clone()),
            rss.iter().max().copied().unwrap_or(0),
            admitted[t][0].1,
            100.0 * share(admitted[t][0]),
            100.0 * share(admitted[t][1]),
            admitted[t][1].1,
            100.0 * share(burst_admitted[t]),
            burst_admitted[t].1,
        );
        figures.insert(
            t,
            Third {
                scrapes: third.len(),
                max_counter_series: max(|s| s.counter_series),
                mean_tracked: avg(|s| s.tracked),
                max_tracked: max(|s| s.tracked),
                median_rss: median(rss),
                folded,
            },
        );
    }
    for (t, third) in &figures {
        assert!(
            third.scrapes as f64 >= 3.0 * third_length().as_secs_f64(),
            "third {t}: only {} scrapes",
            third.scrapes
        );
        // Bursts overran the budget: it was really tested.
        assert!(
            folded_and_full(third),
            "third {t}: the budget was never reached: {third:?}"
        );
        assert!(
            third.max_tracked < TRACKED_FACTOR * budget_label_sets,
            "third {t}: {} tracked label sets >= {TRACKED_FACTOR} x {budget_label_sets}",
            third.max_tracked
        );
    }
    let (first_tracked, first_rss) = (figures[&0].mean_tracked, figures[&0].median_rss);
    let (last_tracked, last_rss) = (figures[&2].mean_tracked, figures[&2].median_rss);
    assert!(
        last_tracked <= first_tracked * TRACKED_TREND,
        "tracked label sets trend upward: mean {first_tracked:.0} in the first third, {last_tracked:.0} in the last"
    );
    if first_rss > 0 {
        let allowed = ((first_rss as f64 * RSS_TREND) as i64).max(first_rss + RSS_SLACK_KIB);
        assert!(
            last_rss <= allowed,
            "resident memory grows: median {first_rss} KiB in the first third, {last_rss} KiB in the last (allowed {allowed})"
        );
    }
    for (kind, i) in [("counter", 0), ("histogram", 1)] {
        let s = share(admitted[2][i]);
        assert!(
            s >= ADMITTED_SHARE,
            "last third: only {:.1}% of new {kind} values rendered on their own ({} born)",
            100.0 * s,
            admitted[2][i].1
        );
    }
}

/// After the rotation stops and everything has expired: a fixed set of new
/// label values, more than the budgets hold, updated twice within one idle
/// window (the clock stands still). Admitted values render their exact
/// values, exactly as many as the budgets hold, and the folded rest adds up
/// in the overflow series.
fn final_window(guard: &GuardRecorder, exporter: &PrometheusGuard, clock: &ManualClock) {
    const VALUES: usize = COUNTER_BUDGET + 200;
    const HISTOGRAM_VALUES: usize = HISTOGRAM_ROOM + 30;
    {
        expire_everything(exporter, clock);
        // A render sweeps, and the sweep reopens the emptied budgets.
        let _ = exporter.render();

        let first = |i: usize| (i % 7 + 1) as u64;
        let second = |i: usize| (i % 5 + 1) as u64;
        let handles: Vec<(Counter, Option<Histogram>)> = (0..VALUES)
            .map(|i| {
                let value = format!("final-{i}");
                let counter = guard.register_counter(&key(COUNTER, value.clone()), &METADATA);
                let histogram = (i < HISTOGRAM_VALUES)
                    .then(|| guard.register_histogram(&key(HISTOGRAM, value), &METADATA));
                (counter, histogram)
            })
            .collect();
        for (i, (counter, histogram)) in handles.iter().enumerate() {
            counter.increment(first(i));
            if let Some(h) = histogram {
                h.record_many(SAMPLE, first(i) as usize);
            }
        }
        let before = exporter.render();
        for (i, (counter, histogram)) in handles.iter().enumerate() {
            counter.increment(second(i));
            if let Some(h) = histogram {
                h.record(0.5);
            }
        }
        let after = exporter.render();

        let (before, after) = (parse(&before), parse(&after));
        for samples in [&before, &after] {
            let violations = check_render("", samples);
            assert!(violations.is_empty(), "{violations:?}");
        }
        let own = |samples: &[Sample], name: &str| -> HashMap<usize, f64> {
            samples
                .iter()
                .filter(|s| s.name == name && !is_overflow(s))
                .filter_map(|s| {
                    let i = s.label(LABEL).strip_prefix("final-")?;
                    Some((i.parse().ok()?, s.value))
                })
                .collect()
        };
        let overflow = |samples: &[Sample], name: &str| {
            samples
                .iter()
                .find(|s| s.name == name && is_overflow(s))
                .map_or(0.0, |s| s.value)
        };

        // The counter: exact values for the admitted, the rest in the overflow.
        let (own_before, own_after) = (own(&before, COUNTER), own(&after, COUNTER));
        assert_eq!(own_after.len(), COUNTER_ROOM, "admitted label sets");
        assert_eq!(
            own_before.keys().collect::<std::collections::BTreeSet<_>>(),
            own_after.keys().collect()
        );
        for (&i, &v) in &own_after {
            assert_eq!(own_before[&i], first(i) as f64, "{COUNTER} final {i}");
            assert_eq!(v, (first(i) + second(i)) as f64, "{COUNTER} final {i}");
        }
        let folded_second: u64 = (0..VALUES)
            .filter(|i| !own_after.contains_key(i))
            .map(second)
            .sum();
        let delta = overflow(&after, COUNTER) - overflow(&before, COUNTER);
        assert_eq!(delta, folded_second as f64, "{COUNTER} overflow");
        let own_total: f64 = own_after.values().sum();
        let made: u64 = (0..VALUES).map(|i| first(i) + second(i)).sum();
        println!(
            "final window: {} of {VALUES} {COUNTER} values admitted with exact totals \
             ({own_total} of {made} increments), the overflow series grew by {delta} = the second \
             increments of the {} folded",
            own_after.len(),
            VALUES - own_after.len()
        );

        // The histogram: exact counts and sums, and buckets, likewise.
        let count = format!("{HISTOGRAM}_count");
        let sum = format!("{HISTOGRAM}_sum");
        let (counts_before, counts_after) = (own(&before, &count), own(&after, &count));
        let sums_after = own(&after, &sum);
        assert_eq!(
            counts_after.len(),
            HISTOGRAM_ROOM,
            "admitted histogram label sets"
        );
        for (&i, &c) in &counts_after {
            assert_eq!(counts_before[&i], first(i) as f64, "{count} final {i}");
            assert_eq!(c, (first(i) + 1) as f64, "{count} final {i}");
            let expected = first(i) as f64 * SAMPLE + 0.5;
            assert!((sums_after[&i] - expected).abs() < 1e-9, "{sum} final {i}");
        }
        let bucket = |samples: &[Sample], le: &str| -> HashMap<usize, f64> {
            let name = format!("{HISTOGRAM}_bucket");
            let only_le: Vec<Sample> = samples
                .iter()
                .filter(|s| s.name == name && s.label("le") == le)
                .cloned()
                .collect();
            own(&only_le, &name)
        };
        for (&i, &v) in &bucket(&after, "0.1") {
            assert_eq!(v, first(i) as f64, "{HISTOGRAM}_bucket{{le=0.1}} final {i}");
        }
        let folded = HISTOGRAM_VALUES - counts_after.len();
        let count_delta = overflow(&after, &count) - overflow(&before, &count);
        let sum_delta = overflow(&after, &sum) - overflow(&before, &sum);
        assert_eq!(count_delta, folded as f64, "{count} overflow");
        assert!(
            (sum_delta - 0.5 * folded as f64).abs() < 1e-9,
            "{sum} overflow: {sum_delta}"
        );
        println!(
            "final window: {} of {HISTOGRAM_VALUES} {HISTOGRAM} values admitted with exact \
             counts, sums and buckets; the overflow series' count grew by {count_delta} \
             (the {folded} folded)",
            counts_after.len()
        );
    }
}

/// Scrapes every last update, lets one idle timeout pass and sweeps: then no
/// label set of either metric renders (everything expired).
fn expire_everything(exporter: &PrometheusGuard, clock: &ManualClock) {
    let _ = exporter.render();
    clock.advance(IDLE + TICK);
    exporter.run_upkeep();
    let report = exporter.report();
    let series = |name| report.metric(name).map_or(0, |m| m.series);
    assert_eq!(
        (series(COUNTER), series(HISTOGRAM)),
        (0, 0),
        "label sets still live one idle timeout after their last scraped update: {report:?}"
    );
}
