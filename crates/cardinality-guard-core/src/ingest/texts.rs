//! An ingested histogram's `le` texts and an ingested summary's `quantile`
//! texts: which can render, and how another registration's map onto the
//! metric's own (its first registration's).

use crate::text::parse_f64;

/// Longest `le` or `quantile` text kept, in bytes.
const MAX_TEXT: usize = 64;
/// Most bucket bounds or quantiles one ingested metric may have.
pub(crate) const MAX_TEXTS: usize = 1024;

/// A finite number, written in at most [`MAX_TEXT`] bytes (so it renders
/// as a label value as it is).
fn number(text: &str) -> Option<f64> {
    (text.len() <= MAX_TEXT)
        .then(|| parse_f64(text))
        .flatten()
        .filter(|v| v.is_finite())
}

/// Whether `bounds` can be a classic histogram's `le` texts: at most
/// [`MAX_TEXTS`] finite numbers, strictly increasing (`+Inf` is implied).
pub(crate) fn valid_bounds(bounds: &[&str]) -> bool {
    let mut last = f64::NEG_INFINITY;
    bounds.len() <= MAX_TEXTS
        && bounds.iter().all(|b| match number(b) {
            Some(v) if v > last => {
                last = v;
                true
            }
            _ => false,
        })
}

/// Where each bucket of a histogram with `bounds` (then `+Inf`) goes in a
/// metric whose bounds are `metric` (both valid): the metric's bucket of
/// the smallest bound at or above it, `+Inf` when none is. An observation
/// at or below a bound is at or below every larger one, so the counts stay
/// true, only coarser where the bounds differ. `None` when the bounds are
/// the metric's (as numbers: `1` and `1.0` are one bound).
pub(crate) fn remap(bounds: &[&str], metric: &[Box<str>]) -> Option<Box<[u16]>> {
    let metric: Vec<f64> = metric.iter().filter_map(|b| number(b)).collect();
    let bounds: Vec<f64> = bounds.iter().filter_map(|b| number(b)).collect();
    if bounds == metric {
        return None;
    }
    let to = |bound: f64| {
        metric
            .iter()
            .position(|&m| m >= bound)
            .unwrap_or(metric.len())
    };
    let finite = bounds.iter().map(|&b| to(b));
    // At most MAX_TEXTS + 1 buckets: an index fits.
    Some(finite.chain([metric.len()]).map(|i| i as u16).collect())
}

/// Whether `quantiles` are the metric's `quantile` texts, as numbers.
pub(crate) fn same_quantiles(quantiles: &[&str], metric: &[Box<str>]) -> bool {
    quantiles.len() == metric.len()
        && quantiles
            .iter()
            .zip(metric)
            .all(|(q, m)| number(q).is_some() && number(q) == number(m))
}

/// Whether `quantiles` can be a summary's `quantile` texts: at most
/// [`MAX_TEXTS`] numbers in [0, 1], no two equal.
pub(crate) fn valid_quantiles(quantiles: &[&str]) -> bool {
    if quantiles.len() > MAX_TEXTS {
        return false;
    }
    let mut values = Vec::with_capacity(quantiles.len());
    for q in quantiles {
        match number(q) {
            Some(v) if (0.0..=1.0).contains(&v) => values.push(v),
            _ => return false,
        }
    }
    values.sort_by(f64::total_cmp);
    values.windows(2).all(|w| w[0] < w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(texts: &[&str]) -> Vec<Box<str>> {
        texts.iter().map(|&t| Box::from(t)).collect()
    }

    #[test]
    fn other_bounds_go_to_the_metric_s_smallest_bound_at_or_above_theirs() {
        let metric = texts(&["0.1", "1", "10"]);
        assert_eq!(
            remap(&["0.1", "1.0", "1e1"], &metric),
            None,
            "the same numbers"
        );
        assert_eq!(
            remap(&["0.05", "0.1", "0.5", "5", "50"], &metric).as_deref(),
            Some(&[0, 0, 1, 2, 3, 3][..])
        );
        assert_eq!(remap(&[], &metric).as_deref(), Some(&[3][..]));
        assert_eq!(remap(&["1"], &texts(&[])).as_deref(), Some(&[0, 0][..]));
    }

    #[test]
    fn quantiles_are_the_same_as_numbers() {
        let metric = texts(&["0.5", "0.99"]);
        assert!(same_quantiles(&["0.50", "0.99"], &metric));
        assert!(!same_quantiles(&["0.5", "0.9"], &metric));
        assert!(!same_quantiles(&["0.5"], &metric));
    }

    #[test]
    fn bounds_are_finite_increasing_numbers() {
        assert!(valid_bounds(&[]));
        assert!(valid_bounds(&["0.005", "0.1", "1.0", "1e1"]));
        for bad in [
            &["1", "1"][..],
            &["2", "1"],
            &["+Inf"],
            &["NaN"],
            &["1", "x"],
            &["1\"}"],
            &[""],
        ] {
            assert!(!valid_bounds(bad), "{bad:?}");
        }
        let long = "1".repeat(MAX_TEXT + 1);
        assert!(!valid_bounds(&[&long]));
        let many: Vec<String> = (0..=MAX_TEXTS).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(!valid_bounds(&many));
        assert!(valid_bounds(&many[..MAX_TEXTS]));
    }

    #[test]
    fn quantiles_are_distinct_numbers_between_0_and_1() {
        assert!(valid_quantiles(&[]));
        assert!(valid_quantiles(&["0.99", "0.5", "0"]));
        for bad in [&["0.5", "0.50"][..], &["1.5"], &["-0.1"], &["NaN"], &["q"]] {
            assert!(!valid_quantiles(bad), "{bad:?}");
        }
    }
}
