//! The time the guard measures idleness by: the system's, or a manual clock
//! for tests and simulations.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the guard reads the time for idle expiry.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<ManualClock>,
}

impl Clock {
    /// The system's monotonic clock (the default).
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// Now, by this clock.
    pub fn now(&self) -> Instant {
        match &self.manual {
            Some(manual) => manual.now(),
            None => Instant::now(),
        }
    }
}

/// A clock that only moves when told to: [`ManualClock::advance`]. Clones
/// share the time.
///
/// ```
/// use cardinality_guard_core::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let manual = ManualClock::new();
/// let clock = Clock::from(manual.clone());
/// let before = clock.now();
/// manual.advance(Duration::from_secs(90));
/// assert_eq!(clock.now() - before, Duration::from_secs(90));
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    start: Instant,
    elapsed_ns: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at the present instant.
    pub fn new() -> ManualClock {
        ManualClock {
            start: Instant::now(),
            elapsed_ns: Arc::default(),
        }
    }

    /// Moves the clock (and all its clones) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_ns.fetch_add(ns, Ordering::AcqRel);
    }

    /// Now, by this clock.
    pub fn now(&self) -> Instant {
        self.start + Duration::from_nanos(self.elapsed_ns.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl From<ManualClock> for Clock {
    fn from(manual: ManualClock) -> Clock {
        Clock {
            manual: Some(manual),
        }
    }
}

/// The guard's one time line: milliseconds since it started, by its clock.
/// Expiry, warnings and upkeep all read it, so tests on a [`ManualClock`]
/// never sleep.
#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    clock: Clock,
    start: Instant,
}

impl Timeline {
    pub(crate) fn new(clock: Clock) -> Timeline {
        Timeline {
            start: clock.now(),
            clock,
        }
    }

    /// Now, in ms since the guard started.
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = self.clock.now().saturating_duration_since(self.start);
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    }
}
