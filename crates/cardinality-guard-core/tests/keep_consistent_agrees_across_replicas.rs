//! `keep = "consistent"` keeps the same label sets on every replica, with no
//! coordination: a fleet behind a load balancer exports about one budget of
//! distinct label sets for a metric, not one budget per replica.
//!
//! Issue 20's fleet, in counts on manual clocks (no timing): 20 replicas
//! (20 guards, each with its own recorder and clock) behind a random load
//! balancer, a budget of 1,000 series each, 600,000 events (a registration,
//! `counter!(..)`, and an increment each). Each replica renders and runs its
//! upkeep every 1,500 of its own events (5 s apart on its clock), and once
//! more at the end. Two populations: 5,000 users that every replica sees
//! (uniform), and a Zipf(1.0) population of 50,000 users whose long tail
//! each replica sees alone. `keep = "first"` runs the same fleet as the
//! baseline.
//!
//! On every replica: within its budget on every render, still using 90% of
//! it at the end, and every increment visible in some render (the renders'
//! increase, read as Prometheus reads them, equals what the load balancer
//! sent to it).

#[path = "support/scrapes.rs"]
mod scrapes;
mod support;
#[path = "support/zipf.rs"]
mod zipf;

use std::collections::BTreeMap;
use std::time::Duration;

use cardinality_guard_core::{GuardRecorder, ManualClock, PrometheusGuard};
use scrapes::Scrapes;
use support::{expiring, Rng};
use zipf::Zipf;

const M: &str = "logins_total";
const REPLICAS: usize = 20;
/// Each replica's budget for the metric (the overflow series included).
const BUDGET: usize = 1_000;
const EVENTS: usize = 600_000;
/// A replica's own events between two of its render + upkeep cycles.
const CYCLE: usize = 1_500;
/// Renders a replica makes on average (besides the last).
const RENDERS: usize = EVENTS / REPLICAS / CYCLE;
/// The upkeep cadence on each replica's clock.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Who sends the events.
#[derive(Debug, Clone, Copy)]
enum Population {
    /// 5,000 users, uniform: every replica sees every one of them.
    Shared,
    /// Zipf(1.0) over 50,000 users: the tail is different on each replica.
    Zipf,
}

impl Population {
    fn size(self) -> usize {
        match self {
            Population::Shared => 5_000,
            Population::Zipf => 50_000,
        }
    }
}

/// One replica: its guard, its clock, and the renders read so far.
struct Replica {
    guard: GuardRecorder,
    exporter: PrometheusGuard,
    clock: ManualClock,
    scrapes: Scrapes,
    /// Events the load balancer sent it.
    sent: u64,
    /// Events since its last render.
    pending: usize,
    /// User series that appeared in its renders after the first, and in
    /// the last quarter of its renders.
    created: usize,
    created_late: usize,
}

impl Replica {
    fn new(keep: &str) -> Replica {
        let (guard, exporter, clock) = expiring(&format!(
            "[[metrics]]\nmatch = \"{M}\"\nmax_series = {BUDGET}\nkeep = \"{keep}\"\n"
        ));
        Replica {
            guard,
            exporter,
            clock,
            scrapes: Scrapes::new(M),
            sent: 0,
            pending: 0,
            created: 0,
            created_late: 0,
        }
    }

    /// A render, checked against the budget; then an upkeep if `upkeep`.
    /// Returns the series of the metric the render showed.
    fn scrape(&mut self, name: &str, upkeep: bool) -> usize {
        self.clock.advance(UPKEEP_EVERY);
        let text = self.exporter.render();
        let scrape = self.scrapes.read(&text);
        assert!(
            scrape.series <= BUDGET,
            "{name}, render {}: {} series of {M} > {BUDGET}",
            self.scrapes.renders,
            scrape.series
        );
        if self.scrapes.renders > 1 {
            self.created += scrape.created.len();
        }
        if self.scrapes.renders > RENDERS * 3 / 4 {
            self.created_late += scrape.created.len();
        }
        if upkeep {
            self.exporter.run_upkeep();
        }
        self.pending = 0;
        scrape.series
    }
}

/// What a fleet exported at its last renders.
#[derive(Debug)]
struct Figures {
    /// Distinct users exported across the replicas.
    union: usize,
    /// Users exported by every replica.
    on_every_replica: usize,
    /// The fewest and the most series of the metric a replica rendered last.
    fewest_series: usize,
    most_series: usize,
    /// Distinct users the fleet saw.
    seen: usize,
    /// User series created after the first render, created in the last
    /// quarter of the renders, and evicted by rank, per replica on average.
    created: f64,
    created_late: f64,
    evicted_by_rank: f64,
}

/// Runs the fleet with `keep` over `population`.
fn run(keep: &str, population: Population, seed: u64) -> Figures {
    let name = format!("keep = {keep}, {population:?}, seed {seed}");
    let mut replicas: Vec<Replica> = (0..REPLICAS).map(|_| Replica::new(keep)).collect();
    let ids: Vec<String> = (0..population.size())
        .map(|r| format!("user-{r}"))
        .collect();
    let zipf = Zipf::new(population.size(), 1.0);
    let mut rng = Rng::new(seed);
    let mut seen = vec![false; population.size()];
    for _ in 0..EVENTS {
        let user = match population {
            Population::Shared => rng.below(ids.len()),
            Population::Zipf => zipf.sample(&mut rng),
        };
        seen[user] = true;
        let (i, replica) = {
            let i = rng.below(REPLICAS);
            (i, &mut replicas[i])
        };
        metrics::with_local_recorder(&replica.guard, || {
            metrics::counter!(M, "user" => ids[user].clone()).increment(1);
        });
        replica.sent += 1;
        replica.pending += 1;
        if replica.pending == CYCLE {
            replica.scrape(&format!("{name}, replica {i}"), true);
        }
    }

    let mut exported: BTreeMap<String, usize> = BTreeMap::new();
    let (mut fewest_series, mut most_series) = (usize::MAX, 0);
    let (mut created, mut created_late, mut evicted_by_rank) = (0, 0, 0);
    for (i, replica) in replicas.iter_mut().enumerate() {
        let series = replica.scrape(&format!("{name}, replica {i}"), false);
        fewest_series = fewest_series.min(series);
        most_series = most_series.max(series);
        assert_eq!(
            replica.scrapes.total_increase, replica.sent as f64,
            "{name}, replica {i}: the renders' increase is what was sent to it"
        );
        created += replica.created;
        created_late += replica.created_late;
        evicted_by_rank += replica
            .exporter
            .report()
            .metric(M)
            .expect("tracked")
            .evicted
            .rank;
        for user in replica.scrapes.values_of("user") {
            *exported.entry(user.to_owned()).or_default() += 1;
        }
    }
    let figures = Figures {
        union: exported.len(),
        on_every_replica: exported.values().filter(|&&n| n == REPLICAS).count(),
        fewest_series,
        most_series,
        seen: seen.iter().filter(|&&s| s).count(),
        created: created as f64 / REPLICAS as f64,
        created_late: created_late as f64 / REPLICAS as f64,
        evicted_by_rank: evicted_by_rank as f64 / REPLICAS as f64,
    };
    eprintln!(
        "{name}: {} distinct users exported across {REPLICAS} replicas ({:.2} budgets; {} \
         users seen), {} of them by every replica; {}..{} series per replica at the end; per \
         replica, {:.0} user series created after its first render ({:.0} in the last quarter of \
         its renders), {:.0} evicted by rank",
        figures.union,
        figures.union as f64 / BUDGET as f64,
        figures.seen,
        figures.on_every_replica,
        figures.fewest_series,
        figures.most_series,
        figures.created,
        figures.created_late,
        figures.evicted_by_rank,
    );
    // Each replica still uses its budget: consistency must not come from
    // admitting less.
    assert!(
        fewest_series * 10 >= BUDGET * 9,
        "{name}: a replica renders {fewest_series} series at the end, < 90% of {BUDGET}: {figures:?}"
    );
    figures
}

/// `consistent` and `first` over the same population (the same seed: the
/// same events to the same replicas), side by side.
fn both(population: Population, seed: u64) -> (Figures, Figures) {
    std::thread::scope(|s| {
        let first = s.spawn(|| run("first", population, seed));
        let consistent = run("consistent", population, seed);
        let first = first
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (consistent, first)
    })
}

#[test]
fn a_population_every_replica_sees_exports_about_one_budget() {
    let (consistent, first) = both(Population::Shared, 20);
    let most = BUDGET * 13 / 10;
    assert!(
        consistent.union <= most,
        "consistent: {} users across the fleet > 1.3 budgets ({most}): {consistent:?}",
        consistent.union
    );
    // The baseline exports a budget per replica or so; the measure discriminates.
    assert!(
        first.union > most,
        "first: {} users, within 1.3 budgets: the fleet does not show the problem: {first:?}",
        first.union
    );
}

#[test]
fn a_long_tail_seen_by_one_replica_each_exports_half_what_first_does() {
    let (consistent, first) = both(Population::Zipf, 21);
    assert!(
        consistent.union * 2 <= first.union,
        "consistent exports {} users across the fleet, more than half of first's {}: \
         {consistent:?} / {first:?}",
        consistent.union,
        first.union
    );
}
