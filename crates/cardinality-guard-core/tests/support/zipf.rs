//! A Zipf population for simulations: rank `r` (0-based) is drawn with a
//! weight of `(r + 1)^-s`, by inverse CDF over precomputed cumulative
//! weights, from the tests' seeded [`Rng`](crate::support::Rng).
//!
//! Not part of `support/mod.rs`: only the binaries that include this file with
//! `#[path = "support/zipf.rs"] mod zipf;` use it.
#![allow(dead_code)] // each test binary uses a different subset of the helpers
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use crate::support::Rng;

/// Zipf(`s`) over ranks `0..n`.
#[derive(Debug, Clone)]
pub struct Zipf {
    /// `cumulative[r]`: the weights of ranks `0..=r`.
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        assert!(n > 0, "an empty population");
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|r| {
                total += (r as f64).powf(-s);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    /// How many ranks the population has.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// A rank in `0..len()`.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u = rng.unit() * total;
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }

    /// The share of all draws that ranks `0..k` take.
    pub fn head_share(&self, k: usize) -> f64 {
        if k == 0 {
            return 0.0;
        }
        let total = self.cumulative[self.cumulative.len() - 1];
        self.cumulative[k.min(self.cumulative.len()) - 1] / total
    }
}
