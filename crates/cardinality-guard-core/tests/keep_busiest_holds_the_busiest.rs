//! `keep = "busiest"` re-decides what the budget holds: after a long tail
//! has filled it first (a scanner, a batch job, the first traffic after a
//! deploy), the busiest label sets of the population that follows take its
//! place, without churning the budget once they have.
//!
//! Issue 20's scenario, in counts on a manual clock (no timing): a budget of
//! 500 series; 5,000 events from distinct users seen once each, drawn from
//! the population's tail (none of its busiest); then 1,000,000 events from a Zipf(1.1)
//! population of 50,000 users, with one render and one upkeep every 5,000
//! events (200 upkeeps, 5 s apart on the guard's clock). Every event is a
//! registration (`counter!(..)`) and an increment, as a service that builds
//! its labels per request does. The renders are read as Prometheus reads
//! them (the increase of each series since the render before), and compared
//! with the truth: what each user sent.
//!
//! `keep = "first"` runs the same scenario as the baseline: the tail keeps
//! the budget for the life of the process, which the measure must show.

#[path = "support/scrapes.rs"]
mod scrapes;
mod support;
#[path = "support/zipf.rs"]
mod zipf;

use std::time::Duration;

use scrapes::Scrapes;
use support::{expiring, Rng};
use zipf::Zipf;

const M: &str = "logins_total";
/// The metric's budget: 499 users' series and the overflow series.
const BUDGET: usize = 500;
/// Label sets the issue measures against: the busiest 498 users.
const HEAD: usize = 498;
/// Events from the long tail first: distinct users outside the busiest
/// `HEAD`, each seen once.
const TAIL: usize = 5_000;
/// Then events from the Zipf population.
const EVENTS: usize = 1_000_000;
const POPULATION: usize = 50_000;
const EXPONENT: f64 = 1.1;
/// Events between two render + upkeep cycles.
const CYCLE: usize = 5_000;
/// The upkeep cadence on the guard's clock.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
const SEED: u64 = 20;

/// What a run measured over the last quarter of the Zipf events.
#[derive(Debug)]
struct Figures {
    /// Increase of the users' own series over the renders of the window.
    admitted: f64,
    /// Increase of the overflow series over the same renders.
    overflow: f64,
    /// What the window's busiest `HEAD` users sent in it.
    busiest: u64,
    /// Events in the window.
    events: u64,
    /// User series that appeared in the window's renders.
    created: usize,
    /// The report's `admitted` over the window.
    admitted_label_sets: u64,
    /// The most series of the metric any render showed.
    most_series: usize,
}

impl Figures {
    /// What the admitted series carry, against what the busiest `HEAD` would.
    fn share_of_busiest(&self) -> f64 {
        self.admitted / self.busiest as f64
    }
}

/// Runs the scenario with `keep`, checking on every render that the metric
/// is within its budget and at the end that every increment showed in some
/// render.
fn run(keep: &str) -> Figures {
    let (guard, exporter, clock) = expiring(&format!(
        "[[metrics]]\nmatch = \"{M}\"\nmax_series = {BUDGET}\nkeep = \"{keep}\"\n"
    ));
    let mut scrapes = Scrapes::new(M);
    let mut cycle = || {
        clock.advance(UPKEEP_EVERY);
        let text = exporter.render();
        let scrape = scrapes.read(&text);
        assert!(
            scrape.series <= BUDGET,
            "keep = {keep}, render {}: {} series of {M} > {BUDGET}",
            scrapes.renders,
            scrape.series
        );
        exporter.run_upkeep();
        scrape
    };
    let admitted_so_far = || exporter.report().metric(M).expect("tracked").admitted;

    let ids: Vec<String> = (0..POPULATION).map(|r| format!("user-{r}")).collect();
    let mut rng = Rng::new(SEED);
    // The tail: the first `TAIL` of the ranks past `HEAD`, shuffled.
    let mut tail: Vec<usize> = (HEAD..POPULATION).collect();
    for i in 0..TAIL {
        let j = i + rng.below(tail.len() - i);
        tail.swap(i, j);
    }
    metrics::with_local_recorder(&guard, || {
        for &r in &tail[..TAIL] {
            metrics::counter!(M, "user" => ids[r].clone()).increment(1);
        }
    });
    cycle();

    let zipf = Zipf::new(POPULATION, EXPONENT);
    let cycles = EVENTS / CYCLE;
    let window = cycles - cycles / 4;
    let mut sent_in_window = vec![0_u64; POPULATION];
    let mut figures = Figures {
        admitted: 0.0,
        overflow: 0.0,
        busiest: 0,
        events: 0,
        created: 0,
        admitted_label_sets: 0,
        most_series: 0,
    };
    let mut admitted_before_window = 0;
    for c in 0..cycles {
        if c == window {
            admitted_before_window = admitted_so_far();
        }
        metrics::with_local_recorder(&guard, || {
            for _ in 0..CYCLE {
                let r = zipf.sample(&mut rng);
                metrics::counter!(M, "user" => ids[r].clone()).increment(1);
                if c >= window {
                    sent_in_window[r] += 1;
                }
            }
        });
        let scrape = cycle();
        figures.most_series = figures.most_series.max(scrape.series);
        if c >= window {
            figures.admitted += scrape.admitted_increase;
            figures.overflow += scrape.overflow_increase;
            figures.created += scrape.created.len();
        }
    }
    figures.admitted_label_sets = admitted_so_far() - admitted_before_window;
    figures.events = sent_in_window.iter().sum();
    sent_in_window.sort_unstable_by(|a, b| b.cmp(a));
    figures.busiest = sent_in_window[..HEAD].iter().sum();

    assert_eq!(
        scrapes.total_increase,
        (TAIL + EVENTS) as f64,
        "keep = {keep}: the renders' increase is what was sent"
    );
    assert_eq!(
        figures.admitted + figures.overflow,
        figures.events as f64,
        "keep = {keep}: the window's increase is what was sent in it"
    );
    let report = exporter.report();
    let m = report.metric(M).expect("tracked");
    // The window lasts `cycles / 4` upkeeps on the guard's clock.
    let window_hours = (cycles / 4) as f64 * UPKEEP_EVERY.as_secs_f64() / 3600.0;
    eprintln!(
        "keep = {keep}: last quarter ({} events): admitted series carry {:.1}% \
         ({:.0} increments), the busiest {HEAD} users sent {:.1}% ({}): {:.1}% of the \
         busiest; overflow {:.1}%; user series created {} (report: admitted {}; {:.0} per \
         hour at the 5 s upkeep); at most {} series in a render; at the end the report says \
         admitted_share {:?}, evicted {:?}",
        figures.events,
        100.0 * figures.admitted / figures.events as f64,
        figures.admitted,
        100.0 * figures.busiest as f64 / figures.events as f64,
        figures.busiest,
        100.0 * figures.share_of_busiest(),
        100.0 * figures.overflow / figures.events as f64,
        figures.created,
        figures.admitted_label_sets,
        figures.created as f64 / window_hours,
        figures.most_series,
        m.admitted_share,
        m.evicted,
    );
    // The report's figure is the measured one: the population is stationary,
    // so the recent share is the last quarter's.
    let measured = figures.admitted / figures.events as f64;
    let reported = m.admitted_share.expect("traffic was measured");
    assert!(
        (reported - measured).abs() <= 0.05,
        "keep = {keep}: the report's admitted_share {reported:.3}, measured {measured:.3}"
    );
    figures
}

#[test]
fn busiest_carries_nine_tenths_of_what_the_busiest_would() {
    let busiest = run("busiest");
    assert!(
        busiest.share_of_busiest() >= 0.90,
        "the admitted series carry {:.1}% of what the busiest {HEAD} would: {busiest:?}",
        100.0 * busiest.share_of_busiest()
    );
    // Churn: 5% of the budget over the last 50 upkeeps.
    let churn = BUDGET / 20;
    assert!(
        busiest.created <= churn,
        "{} user series created in the last quarter > {churn}: {busiest:?}",
        busiest.created
    );
    assert!(
        busiest.admitted_label_sets <= churn as u64,
        "the report admitted {} label sets in the last quarter > {churn}: {busiest:?}",
        busiest.admitted_label_sets
    );
}

/// The baseline: with `keep = "first"` the tail holds the budget, and the
/// measure above says so (it can fail).
#[test]
fn first_keeps_the_tail_that_came_first() {
    let first = run("first");
    assert!(
        first.share_of_busiest() < 0.10,
        "keep = first carries {:.1}% of what the busiest would: the measure does not discriminate: {first:?}",
        100.0 * first.share_of_busiest()
    );
    assert_eq!(first.created, 0, "first never re-decides: {first:?}");
}
