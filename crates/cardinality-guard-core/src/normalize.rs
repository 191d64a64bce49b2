//! What a key renders as, decided once per label set.
//!
//! The Prometheus text format has rules a `metrics::Key` knows nothing of:
//! names and label keys have a grammar, some keys are reserved, label values
//! must be escaped. This module turns any key into one that renders validly:
//!
//! - the name and label keys are sanitized as `metrics-exporter-prometheus`
//!   does (invalid characters become `_`), so spellings that render alike are
//!   one series;
//! - an empty name, one longer than `max_metric_name_length`, one in the
//!   guard's own namespace (`cardinality_guard_`), or one of the names under
//!   which the self-report counts refused and untracked names
//!   (`__invalid__`, `__untracked__`) is refused;
//! - label keys that are empty, longer than `max_label_key_length`, start
//!   with `__`, are the overflow marker, or the kind's own (`le` on a
//!   histogram, `quantile` on a summary) are removed;
//! - an empty value is an absent label (Prometheus' identity rule);
//! - a value longer than `max_label_value_length` becomes `__overflow__`;
//! - a key given twice keeps its last value, in the place of its first.
//!
//! Label values are escaped losslessly (`\\`, `\"`, `\n`), so distinct
//! values always render as distinct lines. Every step is linear in the
//! key's size (lengths are checked before anything is copied).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use metrics::{Key, Label};
use metrics_exporter_prometheus::formatting::{sanitize_label_key, sanitize_metric_name};

use crate::text::{is_label_name, is_metric_name};
use crate::vocabulary::{INVALID_METRIC, OVERFLOW_LABEL, RESERVED_PREFIX, UNTRACKED_METRIC};

/// The value that replaces a label value beyond its label's limit, or one
/// longer than `global.max_label_value_length`.
pub const LABEL_OVERFLOW: &str = "__overflow__";

/// The name as it renders, or `None` when it can't be a user metric:
/// empty, longer than `max_length` bytes (as registered), in the guard's
/// reserved namespace, or the self-report's `metric="__invalid__"` or
/// `metric="__untracked__"` (so no user metric renders a second line of
/// theirs).
pub(crate) fn metric_name(raw: &str, max_length: usize) -> Option<Cow<'_, str>> {
    if raw.len() > max_length {
        return None;
    }
    let name = if is_metric_name(raw) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(sanitize_metric_name(raw))
    };
    let refused = name.is_empty()
        || name.starts_with(RESERVED_PREFIX)
        || name == INVALID_METRIC
        || name == UNTRACKED_METRIC;
    (!refused).then_some(name)
}

/// A label key as it renders (`user.id` as `user_id`).
pub(crate) fn label_key(raw: &str) -> Cow<'_, str> {
    if is_label_name(raw) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(sanitize_label_key(raw))
    }
}

/// What normalizing a key's labels removed or replaced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Label keys removed because they can't render.
    pub(crate) invalid: bool,
    /// Values replaced because they were too long.
    pub(crate) too_long: bool,
}

/// The label rules of one metric.
#[derive(Debug, Clone)]
pub(crate) struct LabelRules {
    /// The label key the metric's kind renders itself (`le`, `quantile`).
    pub(crate) own_key: Option<&'static str>,
    pub(crate) max_key_length: usize,
    pub(crate) max_value_length: usize,
}

/// Up to this many labels, a repeated key is found by comparing with the
/// keys before it (no allocation); beyond, by a hash set (linear).
const SCAN: usize = 16;

impl LabelRules {
    fn reserved(&self, key: &str) -> bool {
        key.is_empty()
            || key.starts_with("__")
            || key == OVERFLOW_LABEL
            || self.own_key == Some(key)
    }

    fn clean(&self, label: &Label) -> bool {
        label.key().len() <= self.max_key_length
            && is_label_name(label.key())
            && !self.reserved(label.key())
            && !label.value().is_empty()
            && label.value().len() <= self.max_value_length
    }

    /// `key` with its name as rendered (`name`) and its labels as they
    /// render, and what changed. Borrows when nothing changes. Linear in
    /// the key's size.
    pub(crate) fn apply<'k>(&self, key: &'k Key, name: &str) -> (Cow<'k, Key>, Changes) {
        let labels = key.labels().as_slice();
        let clean = key.name() == name
            && labels.iter().all(|l| self.clean(l))
            && distinct(labels.iter().map(Label::key));
        if clean {
            return (Cow::Borrowed(key), Changes::default());
        }
        let mut changes = Changes::default();
        let mut out: Vec<Label> = Vec::with_capacity(labels.len());
        // Where each key is in `out`, past `SCAN` labels.
        let mut places: HashMap<Cow<'k, str>, usize> = HashMap::new();
        for label in labels {
            if label.key().len() > self.max_key_length {
                changes.invalid = true; // removed before it is copied
                continue;
            }
            let k = label_key(label.key());
            if self.reserved(&k) {
                changes.invalid = true;
                continue;
            }
            let value = if label.value().len() > self.max_value_length {
                changes.too_long = true;
                LABEL_OVERFLOW
            } else {
                label.value()
            };
            let at = match labels.len() <= SCAN {
                true => out.iter().position(|m| m.key() == k),
                false => places.get(&k).copied(),
            };
            match at {
                // A key given twice (or two spellings of one key): the last
                // value, in the place of the first.
                Some(at) => out[at] = Label::new(k.into_owned(), value.to_owned()),
                None => {
                    if labels.len() > SCAN {
                        places.insert(k.clone(), out.len());
                    }
                    out.push(Label::new(k.into_owned(), value.to_owned()));
                }
            }
        }
        // An empty value is an absent label (after the last one won).
        out.retain(|l| !l.value().is_empty());
        (Cow::Owned(Key::from_parts(name.to_owned(), out)), changes)
    }
}

/// Whether no key repeats: compared pairwise up to `SCAN` keys, by a hash
/// set beyond.
fn distinct<'a>(keys: impl ExactSizeIterator<Item = &'a str> + Clone) -> bool {
    if keys.len() <= SCAN {
        let all = keys.clone();
        return all
            .enumerate()
            .all(|(i, k)| keys.clone().take(i).all(|before| before != k));
    }
    let mut seen = HashSet::with_capacity(keys.len());
    keys.into_iter().all(|k| seen.insert(k))
}

/// Takes one of `max` slots counted by `count`, atomically; false when all
/// are taken. Slots are never given back.
pub(crate) fn take_slot(count: &AtomicUsize, max: usize) -> bool {
    count
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(own: Option<&'static str>) -> LabelRules {
        LabelRules {
            own_key: own,
            max_key_length: 6,
            max_value_length: 8,
        }
    }

    fn pairs(key: &Key) -> Vec<(String, String)> {
        key.labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect()
    }

    #[test]
    fn clean_keys_are_borrowed() {
        let key = Key::from_parts("x", vec![Label::new("a", "1")]);
        let (out, changes) = rules(None).apply(&key, "x");
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(changes, Changes::default());
    }

    #[test]
    fn reserved_keys_are_removed_and_long_values_replaced() {
        let key = Key::from_parts(
            "x",
            vec![
                Label::new("", "1"),
                Label::new("__name__", "y"),
                Label::new("le", "0.5"),
                Label::new("otel_metric_overflow", "true"),
                Label::new("user", "a-very-long-value"),
                Label::new("empty", ""),
                Label::new("ok", "1"),
            ],
        );
        let (out, changes) = rules(Some("le")).apply(&key, "x");
        assert_eq!(
            pairs(&out),
            vec![
                ("user".into(), LABEL_OVERFLOW.into()),
                ("ok".into(), "1".into())
            ]
        );
        assert!(changes.invalid && changes.too_long);
    }

    #[test]
    fn spellings_of_one_key_merge_last_value_wins() {
        let key = Key::from_parts(
            "x",
            vec![
                Label::new("a.b", "1"),
                Label::new("c", "2"),
                Label::new("a_b", "3"),
            ],
        );
        let (out, _) = rules(None).apply(&key, "x");
        assert_eq!(
            pairs(&out),
            vec![("a_b".into(), "3".into()), ("c".into(), "2".into())]
        );
    }

    #[test]
    fn reserved_empty_and_over_long_names_are_refused() {
        let name = |raw| metric_name(raw, 16);
        assert!(name("").is_none());
        assert!(name("cardinality_guard_series").is_none());
        // The self-report's buckets: no user name renders as one of them.
        assert!(name("__invalid__").is_none());
        assert!(name("..untracked__").is_none());
        assert_eq!(name("__dunder").as_deref(), Some("__dunder"));
        assert!(name("a_name_of_17_byte").is_none());
        assert_eq!(name("http.requests").as_deref(), Some("http_requests"));
        assert_eq!(name("ok_total").as_deref(), Some("ok_total"));
        assert_eq!(name("_one_underscore").as_deref(), Some("_one_underscore"));
    }

    #[test]
    fn over_long_label_keys_are_removed() {
        let key = Key::from_parts(
            "x",
            vec![Label::new("longer_", "1"), Label::new("short", "2")],
        );
        let (out, changes) = rules(None).apply(&key, "x");
        assert_eq!(pairs(&out), vec![("short".into(), "2".into())]);
        assert!(changes.invalid && !changes.too_long);
    }

    #[test]
    fn many_labels_merge_repeats_as_few_do() {
        // Past `SCAN` labels repeats are found by a map: same outcome.
        let mut labels: Vec<Label> = (0..40)
            .map(|i| Label::new(format!("k_{i}"), i.to_string()))
            .collect();
        labels.push(Label::new("k.3", "last"));
        let key = Key::from_parts("x", labels);
        let (out, _) = rules(None).apply(&key, "x");
        let out = pairs(&out);
        assert_eq!(out.len(), 40);
        assert_eq!(out[3], ("k_3".into(), "last".into()));
        let distinct_key = Key::from_parts(
            "x",
            (0..40)
                .map(|i| Label::new(format!("k{i}"), "v"))
                .collect::<Vec<_>>(),
        );
        assert!(matches!(
            rules(None).apply(&distinct_key, "x").0,
            Cow::Borrowed(_)
        ));
        let repeated = Key::from_parts(
            "x",
            (0..40)
                .map(|i| Label::new(format!("k{}", i % 39), "v"))
                .collect::<Vec<_>>(),
        );
        assert_eq!(pairs(&rules(None).apply(&repeated, "x").0).len(), 39);
    }
}
