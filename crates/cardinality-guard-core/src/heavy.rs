//! `keep = "busiest"`: how often folded label sets register, in bounded
//! memory, the busiest of them as candidates, and the ones upkeep promoted.
//!
//! A count-min sketch ([`DEPTH`] rows of [`WIDTH`] 16-bit counters, updated
//! conservatively) estimates the registrations of any folded label set by
//! its key hash, never below the truth; the [`CANDIDATES`] label sets with
//! the highest estimates are kept beside it. Counts decay by an eighth at
//! every upkeep (as the admitted series' scores do), so what is measured is
//! the last few upkeeps. Observing allocates nothing: fixed arrays.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Counters per row of the sketch.
pub(crate) const WIDTH: usize = 2048;
/// Rows of the sketch (each indexed by other bits of the hash).
const DEPTH: usize = 2;
/// Label sets with the highest estimates, kept as candidates.
pub(crate) const CANDIDATES: usize = 64;

/// How many upkeeps a promotion waits for its label set's next
/// registration before it lapses.
const PROMOTION_UPKEEPS: u32 = 3;

/// A count decays by `count >> DECAY_SHIFT` at every upkeep.
pub(crate) const DECAY_SHIFT: u32 = 3;

#[derive(Clone, Copy, Default)]
struct Counter {
    hash: u64,
    count: u32,
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
    sketch: Box<[[u16; WIDTH]; DEPTH]>,
    candidates: [Counter; CANDIDATES],
    used: usize,
    promoted: Vec<Promotion>,
}

impl State {
    /// The cells of `hash`, one per row.
    fn cells(hash: u64) -> [usize; DEPTH] {
        let mixed = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        [
            (mixed >> 32) as usize % WIDTH,
            (mixed & 0xffff_ffff) as usize % WIDTH,
        ]
    }

    /// The estimate of `hash`'s count: never below the truth.
    fn estimate(&self, hash: u64) -> u32 {
        let cells = State::cells(hash);
        (0..DEPTH)
            .map(|row| u32::from(self.sketch[row][cells[row]]))
            .min()
            .unwrap_or(0)
    }
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
    /// Its estimated recent registrations (decayed; never below the truth).
    pub(crate) estimate: u32,
}

impl Busiest {
    pub(crate) fn new() -> Self {
        Busiest {
            state: Mutex::new(State {
                sketch: Box::new([[0; WIDTH]; DEPTH]),
                candidates: [Counter::default(); CANDIDATES],
                used: 0,
                promoted: Vec::with_capacity(CANDIDATES),
            }),
            promoting: AtomicBool::new(false),
        }
    }

    /// Counts one folded registration of the label set with key `hash`.
    /// Under contention the registration is not counted (a sample: the
    /// busiest label sets are still seen most).
    pub(crate) fn observe(&self, hash: u64) {
        self.observe_weighted(hash, 1);
    }

    /// Counts `weight` updates of the folded label set with key `hash` (an
    /// ingested input's increments, made through a handle it keeps), as
    /// [`observe`](Self::observe) counts one.
    pub(crate) fn observe_weighted(&self, hash: u64, weight: u32) {
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        let state = &mut *state;
        // Conservative update: only the cells at the estimate go up.
        let cells = State::cells(hash);
        let estimate = state.estimate(hash).saturating_add(weight);
        for (row, &cell) in cells.iter().enumerate() {
            let c = &mut state.sketch[row][cell];
            if u32::from(*c) < estimate {
                *c = u16::try_from(estimate).unwrap_or(u16::MAX);
            }
        }
        let count = estimate.min(u32::from(u16::MAX));
        let used = state.used;
        if let Some(c) = state.candidates[..used].iter_mut().find(|c| c.hash == hash) {
            c.count = count;
            return;
        }
        if used < CANDIDATES {
            state.candidates[used] = Counter { hash, count };
            state.used += 1;
            return;
        }
        let lowest = state
            .candidates
            .iter_mut()
            .min_by_key(|c| c.count)
            .expect("the candidates are full");
        if lowest.count < count {
            *lowest = Counter { hash, count };
        }
    }

    /// Whether the label set with key `hash` was promoted (and waits for a
    /// registration to take it).
    pub(crate) fn is_promoted(&self, hash: u64) -> bool {
        self.promoting.load(Ordering::Acquire)
            && (self.state.lock().unwrap_or_else(|p| p.into_inner()))
                .promoted
                .iter()
                .any(|p| p.hash == hash)
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
    /// long, and returns the candidates, highest estimate first, with the
    /// number of promotions still waiting.
    pub(crate) fn upkeep(&self) -> (Vec<Candidate>, usize) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        for row in state.sketch.iter_mut() {
            for c in row.iter_mut() {
                *c -= *c >> DECAY_SHIFT;
            }
        }
        state.promoted.retain_mut(|p| {
            p.upkeeps_left -= 1;
            p.upkeeps_left > 0
        });
        self.promoting
            .store(!state.promoted.is_empty(), Ordering::Release);
        let used = state.used;
        let mut candidates: Vec<Candidate> = state.candidates[..used]
            .iter()
            .map(|c| Candidate {
                hash: c.hash,
                estimate: state.estimate(c.hash),
            })
            .filter(|c| c.estimate > 0)
            .collect();
        for (slot, c) in state.candidates.iter_mut().zip(&candidates) {
            *slot = Counter {
                hash: c.hash,
                count: c.estimate,
            };
        }
        state.used = candidates.len();
        candidates.sort_by_key(|c| std::cmp::Reverse(c.estimate));
        (candidates, state.promoted.len())
    }

    /// Promotes `candidate`: its next registration is admitted. It leaves
    /// the summary (its series will be measured as an admitted one).
    pub(crate) fn promote(&self, candidate: Candidate) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        let used = state.used;
        if let Some(at) = state.candidates[..used]
            .iter()
            .position(|c| c.hash == candidate.hash)
        {
            state.candidates[at] = state.candidates[used - 1];
            state.used -= 1;
        }
        state.promoted.push(Promotion {
            hash: candidate.hash,
            score: candidate.estimate,
            upkeeps_left: PROMOTION_UPKEEPS,
        });
        self.promoting.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_folded_label_sets_become_candidates_never_underestimated() {
        let busiest = Busiest::new();
        // 20 label sets registering 30 times each among 10,000 that come once.
        for i in 0..10_000u64 {
            busiest.observe(1_000_000 + i);
            if i % 16 == 0 && i < 9_600 {
                busiest.observe(i / 16 % 20);
            }
        }
        let (candidates, _) = busiest.upkeep();
        let top: Vec<u64> = candidates.iter().take(20).map(|c| c.hash).collect();
        for heavy in 0..20 {
            assert!(top.contains(&heavy), "{heavy} missing from {top:?}");
        }
        // Never below the truth (30, decayed by an eighth to 27), and the
        // once-seen stay far below.
        assert!(candidates[..20].iter().all(|c| c.estimate >= 27));
        assert!(candidates[20..].iter().all(|c| c.estimate < 15));
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
        let waiting: Vec<usize> = (0..PROMOTION_UPKEEPS).map(|_| busiest.upkeep().1).collect();
        assert_eq!(waiting, [1, 1, 0]);
        assert_eq!(busiest.take_promotion(8), None);
    }
}
