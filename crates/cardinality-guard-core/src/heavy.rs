//! `keep = "busiest"`: the folded label sets that register most, in
//! bounded memory (a Space-Saving summary), and the ones upkeep promoted.
//!
//! The summary holds [`CAPACITY`] counters keyed by a label set's key hash.
//! A label set it holds counts up; one it does not takes the place of the
//! smallest counter and inherits its count as its possible error, so a
//! counter's `count - error` is a count the label set surely reached. Counts
//! decay by a quarter at every upkeep (as the admitted series' scores do),
//! so what is measured is recent. Observing allocates nothing: a fixed
//! array, scanned.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Counters in the summary (24 bytes each: a few KB per metric).
pub(crate) const CAPACITY: usize = 128;

/// How many upkeeps a promotion waits for its label set's next
/// registration before it lapses.
const PROMOTION_UPKEEPS: u32 = 3;

#[derive(Clone, Copy, Default)]
struct Counter {
    hash: u64,
    count: u32,
    error: u32,
}

/// A promoted label set: admitted at its next registration.
#[derive(Clone, Copy)]
pub(crate) struct Promotion {
    pub(crate) hash: u64,
    /// Its count when promoted: the score its series starts with.
    pub(crate) score: u32,
    upkeeps_left: u32,
}

struct State {
    counters: Box<[Counter; CAPACITY]>,
    used: usize,
    promoted: Vec<Promotion>,
}

/// What a metric under `keep = "busiest"` tracks.
pub(crate) struct Busiest {
    state: Mutex<State>,
    /// Whether any promotion waits (a lock-free check on the fold path).
    promoting: AtomicBool,
}

/// A candidate for promotion, as upkeep sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) hash: u64,
    /// A count it surely reached (recently, decayed).
    pub(crate) guaranteed: u32,
}

impl Busiest {
    pub(crate) fn new() -> Self {
        Busiest {
            state: Mutex::new(State {
                counters: Box::new([Counter::default(); CAPACITY]),
                used: 0,
                promoted: Vec::with_capacity(CAPACITY),
            }),
            promoting: AtomicBool::new(false),
        }
    }

    /// Counts one folded registration of the label set with key `hash`.
    /// Under contention the registration is not counted (a sample: the
    /// busiest label sets are still seen most).
    pub(crate) fn observe(&self, hash: u64) {
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        let state = &mut *state;
        let used = state.used;
        if let Some(c) = state.counters[..used].iter_mut().find(|c| c.hash == hash) {
            c.count = c.count.saturating_add(1);
            return;
        }
        if used < CAPACITY {
            state.counters[used] = Counter {
                hash,
                count: 1,
                error: 0,
            };
            state.used += 1;
            return;
        }
        let smallest = state
            .counters
            .iter_mut()
            .min_by_key(|c| c.count)
            .expect("the summary is full");
        *smallest = Counter {
            hash,
            count: smallest.count.saturating_add(1),
            error: smallest.count,
        };
    }

    /// Whether the label set with key `hash` was promoted; if so, takes the
    /// promotion (the score its series starts with).
    pub(crate) fn take_promotion(&self, hash: u64) -> Option<u32> {
        if !self.promoting.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let at = state.promoted.iter().position(|p| p.hash == hash)?;
        let promotion = state.promoted.swap_remove(at);
        self.promoting
            .store(!state.promoted.is_empty(), Ordering::Release);
        Some(promotion.score)
    }

    /// At upkeep: decays the counts, lapses promotions that waited too
    /// long, and returns the candidates, surest first. The number of
    /// promotions lapsed is returned too (their room was freed for them).
    pub(crate) fn upkeep(&self) -> (Vec<Candidate>, usize) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        let used = state.used;
        for c in &mut state.counters[..used] {
            c.count -= c.count / 4;
            c.error -= c.error / 4;
        }
        let before = state.promoted.len();
        state.promoted.retain_mut(|p| {
            p.upkeeps_left -= 1;
            p.upkeeps_left > 0
        });
        let lapsed = before - state.promoted.len();
        self.promoting
            .store(!state.promoted.is_empty(), Ordering::Release);
        let mut candidates: Vec<Candidate> = state.counters[..used]
            .iter()
            .map(|c| Candidate {
                hash: c.hash,
                guaranteed: c.count - c.error,
            })
            .filter(|c| c.guaranteed > 0)
            .collect();
        candidates.sort_by(|a, b| b.guaranteed.cmp(&a.guaranteed));
        (candidates, lapsed)
    }

    /// Promotes `candidate`: its next registration is admitted. It leaves
    /// the summary (its series will be measured as an admitted one).
    pub(crate) fn promote(&self, candidate: Candidate) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        let used = state.used;
        if let Some(at) = state.counters[..used]
            .iter()
            .position(|c| c.hash == candidate.hash)
        {
            state.counters[at] = state.counters[used - 1];
            state.used -= 1;
        }
        state.promoted.push(Promotion {
            hash: candidate.hash,
            score: candidate.guaranteed,
            upkeeps_left: PROMOTION_UPKEEPS,
        });
        self.promoting.store(true, Ordering::Release);
    }

    /// Promotions waiting for their label set's registration.
    pub(crate) fn waiting(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .promoted
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heaviest_label_sets_surface_with_counts_they_surely_reached() {
        let busiest = Busiest::new();
        // 20 heavy label sets among a stream of 10,000 that come once.
        for i in 0..10_000u64 {
            busiest.observe(1_000_000 + i);
            if i % 10 == 0 {
                busiest.observe(i % 200 / 10);
            }
        }
        let (candidates, _) = busiest.upkeep();
        let top: Vec<u64> = candidates.iter().take(20).map(|c| c.hash).collect();
        for heavy in 0..20 {
            assert!(top.contains(&heavy), "{heavy} missing from {top:?}");
        }
        // Guaranteed counts never exceed the true ones (50, decayed to 38).
        assert!(candidates.iter().all(|c| c.guaranteed <= 38));
    }

    #[test]
    fn a_promotion_is_taken_once_and_lapses_unclaimed() {
        let busiest = Busiest::new();
        busiest.observe(7);
        busiest.observe(8);
        let (candidates, _) = busiest.upkeep();
        for c in candidates {
            busiest.promote(c);
        }
        assert_eq!(busiest.take_promotion(7), Some(1));
        assert_eq!(busiest.take_promotion(7), None);
        assert_eq!(busiest.waiting(), 1);
        let lapsed: usize = (0..PROMOTION_UPKEEPS).map(|_| busiest.upkeep().1).sum();
        assert_eq!(lapsed, 1);
        assert_eq!(busiest.take_promotion(8), None);
    }
}
