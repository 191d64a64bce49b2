//! `keep = "consistent"`: a label set's rank, the same on every replica,
//! and the threshold under which ranks are admitted.
//!
//! A label set's rank is a hash of its labels with a fixed seed: the same
//! whatever order user code wrote them in, and whatever `[global] labels`
//! each replica adds. A metric admits the label sets whose rank is below
//! `threshold ≈ room / demand` (its room in label sets over the distinct
//! label sets it has seen recently), so every replica that sees the same
//! population keeps (about) the same subset, with no coordination.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::sketch::Sketch;

/// The rank of a label set given as `(key, value)` pairs, in any order.
pub(crate) fn rank<K: AsRef<str>, V: AsRef<str>>(labels: impl Iterator<Item = (K, V)>) -> u64 {
    // One well-mixed hash per label, summed: the order does not matter.
    let sum = labels.fold(0u64, |sum, (key, value)| {
        let key = key.as_ref().as_bytes();
        let label = fnv(fnv(OFFSET, key) ^ 0xff, value.as_ref().as_bytes());
        sum.wrapping_add(mix(label))
    });
    mix(sum ^ SEED)
}

/// The fixed seed: ranks are the same in every process and every release
/// (a replica upgraded later still agrees with the others).
const SEED: u64 = 0x6361_7264_696e_616c; // "cardinal"
const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`, from `state`.
fn fnv(state: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(state, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// SplitMix64's finalizer: every input bit reaches every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Upkeeps a demand window lasts: the estimate counts the label sets seen
/// in this window and the one before (about 10 to 20 minutes at the 5 s
/// upkeep), so a population that moves on is forgotten.
const WINDOW: u64 = 120;

/// What a metric under `keep = "consistent"` tracks.
pub(crate) struct Consistent {
    /// Distinct label sets seen, this window and the one before.
    windows: Mutex<Windows>,
    /// Ranks below this are admitted (`u64::MAX`: all).
    threshold: AtomicU64,
}

struct Windows {
    current: Sketch,
    previous: Sketch,
    upkeeps: u64,
}

impl Windows {
    /// Distinct label sets seen in this window and the one before.
    fn demand(&self) -> u64 {
        self.current.estimate().max(self.previous.estimate())
    }
}

impl Consistent {
    pub(crate) fn new() -> Self {
        Consistent {
            windows: Mutex::new(Windows {
                current: Sketch::new(),
                previous: Sketch::new(),
                upkeeps: 0,
            }),
            threshold: AtomicU64::new(u64::MAX),
        }
    }

    /// Counts a label set of `rank` into the demand, and tells whether the
    /// rank is admitted for `room` label sets. The threshold follows the
    /// demand as it grows (the estimate is O(1) to read), so a burst is
    /// ranked before the next upkeep. Lock-free unless a window is turning.
    pub(crate) fn admits(&self, rank: u64, room: u64) -> bool {
        if let Ok(windows) = self.windows.try_lock() {
            if windows.current.insert_hash(rank) {
                let lower = threshold(room, windows.demand());
                self.threshold.fetch_min(lower, Ordering::AcqRel);
            }
        }
        rank < self.threshold.load(Ordering::Acquire)
    }

    /// At upkeep: the threshold for `room` label sets, from the demand.
    /// `held`: the ranks of the label sets the metric holds (counted into
    /// a new window, since they do not come through admission again).
    /// Returns the new threshold.
    pub(crate) fn update(&self, room: u64, held: impl Iterator<Item = u64>) -> u64 {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.upkeeps += 1;
        if windows.upkeeps.is_multiple_of(WINDOW) {
            let windows = &mut *windows;
            std::mem::swap(&mut windows.current, &mut windows.previous);
            windows.current = Sketch::new();
            for rank in held {
                windows.current.insert_hash(rank);
            }
        }
        let threshold = threshold(room, windows.demand());
        self.threshold.store(threshold, Ordering::Release);
        threshold
    }
}

/// `room / demand` as a fraction of the rank space (`u64::MAX`: all).
pub(crate) fn threshold(room: u64, demand: u64) -> u64 {
    if demand <= room {
        return u64::MAX;
    }
    let fraction = room as f64 / demand as f64;
    (fraction * u64::MAX as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_ignores_label_order_and_tells_label_sets_apart() {
        let a = rank([("user", "7"), ("method", "GET")].into_iter());
        let b = rank([("method", "GET"), ("user", "7")].into_iter());
        assert_eq!(a, b);
        assert_ne!(a, rank([("user", "8"), ("method", "GET")].into_iter()));
        // A key and a value do not trade places.
        assert_ne!(
            rank([("a", "b")].into_iter()),
            rank([("b", "a")].into_iter())
        );
    }

    #[test]
    fn ranks_are_fixed_across_releases() {
        // Replicas on different versions must agree: this value may never change.
        assert_eq!(rank([("user", "42")].into_iter()), 0xce50_f41e_86a7_d761);
    }

    #[test]
    fn ranks_spread_evenly() {
        let below = (0..10_000)
            .filter(|i| rank([("user", i.to_string().as_str())].into_iter()) < u64::MAX / 10)
            .count();
        assert!(
            (900..1100).contains(&below),
            "{below} of 10000 below a tenth"
        );
    }

    #[test]
    fn the_threshold_admits_about_room_over_demand() {
        assert_eq!(threshold(100, 50), u64::MAX);
        let t = threshold(1_000, 4_000);
        let share = t as f64 / u64::MAX as f64;
        assert!((share - 0.25).abs() < 1e-9, "{share}");
        let consistent = Consistent::new();
        for i in 0..4_000u64 {
            consistent.admits(mix(i), 1_000);
        }
        // The threshold followed the demand before any upkeep.
        let before = consistent.threshold.load(Ordering::Acquire) as f64 / u64::MAX as f64;
        assert!((0.22..0.28).contains(&before), "{before}");
        let t = consistent.update(1_000, std::iter::empty());
        let share = t as f64 / u64::MAX as f64;
        assert!((0.22..0.28).contains(&share), "{share}");
        assert!(!consistent.admits(u64::MAX - 1, 1_000));
        assert!(consistent.admits(0, 1_000));
    }
}
