//! The bounds on every byte that comes from outside, as they are in force
//! (a reload changes them): name, label key and value lengths, labels per
//! label set, description length, and the bytes spent remembering other
//! spellings of keys.
//!
//! They are read only where a registration misses the lookup (admission)
//! and where a description arrives: a key found in the lookup pays nothing
//! for them. A bound lowered by a reload applies to what comes next; what
//! is stored stays (but remembered spellings over the new size are
//! forgotten at once: they are only a cache).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::GlobalLimits;

pub(crate) struct Bounds {
    name_length: AtomicUsize,
    key_length: AtomicUsize,
    value_length: AtomicUsize,
    labels: AtomicUsize,
    description_length: AtomicUsize,
    alias_max: AtomicUsize,
    /// Bytes the remembered spellings of all kinds cost now.
    alias_used: AtomicUsize,
}

impl Bounds {
    pub(crate) fn new(limits: &GlobalLimits) -> Bounds {
        let bounds = Bounds {
            name_length: AtomicUsize::new(0),
            key_length: AtomicUsize::new(0),
            value_length: AtomicUsize::new(0),
            labels: AtomicUsize::new(0),
            description_length: AtomicUsize::new(0),
            alias_max: AtomicUsize::new(0),
            alias_used: AtomicUsize::new(0),
        };
        bounds.set(limits);
        bounds
    }

    /// Takes the bounds of a (re)loaded config.
    pub(crate) fn set(&self, limits: &GlobalLimits) {
        let set = |slot: &AtomicUsize, n: std::num::NonZeroUsize| {
            slot.store(n.get(), Ordering::Release);
        };
        set(&self.name_length, limits.max_metric_name_length);
        set(&self.key_length, limits.max_label_key_length);
        set(&self.value_length, limits.max_label_value_length);
        set(&self.labels, limits.max_labels);
        set(&self.description_length, limits.max_description_length);
        set(&self.alias_max, limits.max_alias_bytes);
    }

    /// `global.max_metric_name_length`.
    pub(crate) fn name_length(&self) -> usize {
        self.name_length.load(Ordering::Relaxed)
    }

    /// `global.max_label_key_length`.
    pub(crate) fn key_length(&self) -> usize {
        self.key_length.load(Ordering::Relaxed)
    }

    /// `global.max_label_value_length`.
    pub(crate) fn value_length(&self) -> usize {
        self.value_length.load(Ordering::Relaxed)
    }

    /// `global.max_labels`.
    pub(crate) fn labels(&self) -> usize {
        self.labels.load(Ordering::Relaxed)
    }

    /// `description`, shortened to `global.max_description_length` bytes
    /// on a character boundary.
    pub(crate) fn description<'d>(&self, description: &'d str) -> &'d str {
        shorten(description, self.description_length.load(Ordering::Relaxed))
    }

    /// Takes `bytes` for a remembered spelling if they fit, atomically.
    pub(crate) fn take_alias(&self, bytes: usize) -> bool {
        let max = self.alias_max.load(Ordering::Acquire);
        self.alias_used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&n| n <= max)
            })
            .is_ok()
    }

    /// Gives back the bytes of forgotten spellings.
    pub(crate) fn give_alias(&self, bytes: usize) {
        self.alias_used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Whether the remembered spellings cost more than the bound allows
    /// (after a reload lowered it).
    pub(crate) fn aliases_over(&self) -> bool {
        self.alias_used.load(Ordering::Acquire) > self.alias_max.load(Ordering::Acquire)
    }

    /// Bytes the remembered spellings cost now.
    pub(crate) fn alias_bytes(&self) -> usize {
        self.alias_used.load(Ordering::Acquire)
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
pub(crate) fn shorten(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1; // at most 3 steps: a UTF-8 character is at most 4 bytes
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroUsize;

    #[test]
    fn descriptions_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc");
        // "é" is 2 bytes: cutting inside it keeps the character before.
        assert_eq!(shorten("aé", 2), "a");
        assert_eq!(shorten("€€", 4), "€");
        assert_eq!(shorten("€", 1), "");
    }

    #[test]
    fn alias_bytes_are_taken_up_to_the_bound_and_given_back() {
        let limits = GlobalLimits::default().with_max_alias_bytes(NonZeroUsize::new(100).unwrap());
        let bounds = Bounds::new(&limits);
        assert!(bounds.take_alias(60));
        assert!(!bounds.take_alias(41));
        assert!(bounds.take_alias(40));
        assert_eq!(bounds.alias_bytes(), 100);
        bounds.give_alias(50);
        assert!(!bounds.aliases_over());
        bounds.set(&limits.with_max_alias_bytes(NonZeroUsize::new(10).unwrap()));
        assert!(bounds.aliases_over());
    }
}
