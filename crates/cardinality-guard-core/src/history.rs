//! Series over time: per metric, the last hour of its series count, one
//! point per minute, in a fixed-size ring (the sparkline of the report page).
//!
//! Samples are taken off the registration path: at every upkeep (the
//! background thread runs it every few seconds) and at every report. A
//! sample is one comparison of the current minute against the ring's newest
//! minute and one store; a new minute first fills the minutes no sample saw
//! with the last value (**carried forward**), at most a ring's worth.
//! Minutes are counted on the guard's time line (its [`Clock`](crate::Clock)),
//! from the guard's start, so tests on a [`ManualClock`](crate::ManualClock)
//! never sleep.
//!
//! Memory is bounded: one ring of [`HISTORY_POINTS`] values per metric
//! name, and names are capped by `global.max_metrics` (a tracked name is
//! never forgotten, so neither is its ring).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::report::MetricReport;

/// Points of [`MetricReport::history`] at most: one hour.
pub const HISTORY_POINTS: usize = 60;

/// The time one point of [`MetricReport::history`] covers: a minute.
pub const HISTORY_STEP: Duration = Duration::from_secs(60);

const STEP_MS: u64 = HISTORY_STEP.as_millis() as u64;

/// The last [`HISTORY_POINTS`] minutes of one metric.
#[derive(Debug)]
struct Ring {
    /// By minute modulo [`HISTORY_POINTS`].
    values: [u64; HISTORY_POINTS],
    /// The minute of the newest point.
    newest: u64,
    /// Points held, at most [`HISTORY_POINTS`].
    len: usize,
}

impl Ring {
    fn new(minute: u64, value: u64) -> Ring {
        let mut ring = Ring {
            values: [0; HISTORY_POINTS],
            newest: minute,
            len: 1,
        };
        *ring.slot(minute) = value;
        ring
    }

    fn slot(&mut self, minute: u64) -> &mut u64 {
        &mut self.values[(minute % HISTORY_POINTS as u64) as usize]
    }

    /// `value` is the series count in `minute`: the latest sample of a
    /// minute wins; minutes skipped since the newest point carry its value
    /// forward; a sample older than the newest point (a race) is ignored.
    fn record(&mut self, minute: u64, value: u64) {
        if minute < self.newest {
            return;
        }
        let gap = minute - self.newest;
        if gap > 0 {
            let carried = *self.slot(self.newest);
            let skipped = (gap - 1).min(HISTORY_POINTS as u64 - 1);
            for m in minute - skipped..minute {
                *self.slot(m) = carried;
            }
            let held = (self.len as u64).saturating_add(gap);
            self.len = held.min(HISTORY_POINTS as u64) as usize;
            self.newest = minute;
        }
        *self.slot(minute) = value;
    }

    /// Oldest first, the newest minute last.
    fn points(&self) -> Vec<u64> {
        let first = self.newest + 1 - self.len as u64;
        (first..=self.newest)
            .map(|m| self.values[(m % HISTORY_POINTS as u64) as usize])
            .collect()
    }
}

/// The rings of a guard's metrics, by rendered name.
#[derive(Debug, Default)]
pub(crate) struct History {
    rings: Mutex<HashMap<String, Ring>>,
}

impl History {
    /// Records `(name, series)` of each metric at `now_ms` (the guard's
    /// time line).
    pub(crate) fn record<'a>(
        &self,
        now_ms: u64,
        samples: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        let mut rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        for (name, series) in samples {
            record(&mut rings, now_ms / STEP_MS, name, series);
        }
    }

    /// Records every metric of a report at `now_ms` and fills in its
    /// [`MetricReport::history`].
    pub(crate) fn record_report(&self, now_ms: u64, metrics: &mut [MetricReport]) {
        let mut rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        for m in metrics {
            m.history = record(&mut rings, now_ms / STEP_MS, &m.name, m.series).points();
        }
    }
}

fn record<'r>(
    rings: &'r mut HashMap<String, Ring>,
    minute: u64,
    name: &str,
    series: u64,
) -> &'r Ring {
    if rings.contains_key(name) {
        let ring = rings.get_mut(name).expect("present");
        ring.record(minute, series);
        ring
    } else {
        rings
            .entry(name.to_owned())
            .or_insert_with(|| Ring::new(minute, series))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock, Timeline};

    const MINUTE: Duration = HISTORY_STEP;

    fn points(history: &History, name: &str) -> Vec<u64> {
        let rings = history.rings.lock().unwrap();
        rings.get(name).map(Ring::points).unwrap_or_default()
    }

    /// A manual clock, the guard's time line on it, and a history.
    fn setup() -> (ManualClock, Timeline, History) {
        let clock = ManualClock::new();
        let time = Timeline::new(Clock::from(clock.clone()));
        (clock, time, History::default())
    }

    #[test]
    fn one_point_per_minute_the_latest_sample_of_a_minute_wins() {
        let (clock, time, history) = setup();
        for minute in 0..5_u64 {
            // Twelve samples a minute, as an upkeep every 5 s takes them.
            for tick in 0..12 {
                history.record(time.now_ms(), [("jobs_total", minute * 100 + tick)]);
                clock.advance(Duration::from_secs(5));
            }
        }
        assert_eq!(points(&history, "jobs_total"), [11, 111, 211, 311, 411]);
    }

    #[test]
    fn bounded_at_an_hour_however_long_it_runs_old_points_roll_off() {
        let (clock, time, history) = setup();
        for minute in 0..500_u64 {
            for _ in 0..3 {
                history.record(time.now_ms(), [("jobs_total", minute)]);
                clock.advance(Duration::from_secs(20));
            }
        }
        let points = points(&history, "jobs_total");
        assert_eq!(points.len(), HISTORY_POINTS);
        let expected: Vec<u64> = (440..500).collect();
        assert_eq!(points, expected, "the last hour, oldest first");
    }

    #[test]
    fn minutes_without_a_sample_carry_the_last_value_forward() {
        let (clock, time, history) = setup();
        history.record(time.now_ms(), [("jobs_total", 7)]);
        clock.advance(MINUTE * 4);
        history.record(time.now_ms(), [("jobs_total", 9)]);
        assert_eq!(points(&history, "jobs_total"), [7, 7, 7, 7, 9]);
    }

    #[test]
    fn a_gap_longer_than_the_ring_leaves_an_hour_of_the_carried_value() {
        let (clock, time, history) = setup();
        for value in 0..10 {
            history.record(time.now_ms(), [("jobs_total", value)]);
            clock.advance(MINUTE);
        }
        clock.advance(MINUTE * 500);
        history.record(time.now_ms(), [("jobs_total", 42)]);
        let mut expected = vec![9; HISTORY_POINTS - 1];
        expected.push(42);
        assert_eq!(points(&history, "jobs_total"), expected);
    }

    #[test]
    fn a_metric_starts_its_history_when_first_sampled() {
        let (clock, time, history) = setup();
        history.record(time.now_ms(), [("early", 1)]);
        clock.advance(MINUTE * 3);
        history.record(time.now_ms(), [("early", 2), ("late", 5)]);
        assert_eq!(points(&history, "early"), [1, 1, 1, 2]);
        assert_eq!(points(&history, "late"), [5]);
    }

    #[test]
    fn a_sample_older_than_the_newest_point_is_ignored() {
        let (clock, time, history) = setup();
        let before = time.now_ms();
        clock.advance(MINUTE);
        history.record(time.now_ms(), [("jobs_total", 3)]);
        history.record(before, [("jobs_total", 99)]); // raced, arrives late
        assert_eq!(points(&history, "jobs_total"), [3]);
    }
}
