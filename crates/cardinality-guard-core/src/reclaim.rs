//! Series the guard has expired but the exporter still holds, and the render
//! filter that keeps them out of the exposition until the exporter forgets
//! them.
//!
//! The exporter forgets an idle series by itself, during a render, once its
//! own idle timeout (the guard's longest plus a margin) has passed. Until
//! then the guard hides the series' lines, so that what renders is exactly
//! what the self-report counts. A hidden series that no longer shows up in
//! the exporter's render is marked gone: the guard may drop its entry.

use std::collections::HashMap;
use std::sync::Arc;

use metrics::Key;
use metrics_exporter_prometheus::formatting::{sanitize_label_key, sanitize_label_value};

use crate::shape::MetricKind;

/// A series the guard may be hiding.
pub(crate) trait Hidden: Send + Sync {
    /// Whether it is still expired (not brought back since the sweep).
    fn hidden(&self) -> bool;
    /// The exporter has forgotten it.
    fn mark_gone(&self);
}

struct Entry {
    series: Arc<dyn Hidden>,
    /// A histogram's lines carry `_bucket`/`_sum`/`_count` and `le` or
    /// `quantile`; other kinds' lines are matched exactly.
    histogram: bool,
    seen: bool,
}

/// Hidden series by rendered name, then by rendered label string.
#[derive(Default)]
pub(crate) struct HiddenSeries {
    by_name: HashMap<String, HashMap<String, Entry>>,
    len: usize,
}

impl HiddenSeries {
    pub(crate) fn add(&mut self, key: &Key, series: Arc<dyn Hidden>, kind: MetricKind) {
        let labels = rendered_labels(key);
        let by_labels = self.by_name.entry(key.name().to_owned()).or_default();
        if by_labels
            .insert(
                labels,
                Entry {
                    series,
                    histogram: kind == MetricKind::Histogram,
                    seen: false,
                },
            )
            .is_none()
        {
            self.len += 1;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// `text` without the lines of hidden series; hidden series it does not
    /// hold at all are marked gone.
    pub(crate) fn filter(&mut self, text: String) -> String {
        if self.len == 0 {
            return text;
        }
        let mut kept = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            if let Some(entry) = self.entry_of(line) {
                if entry.series.hidden() {
                    entry.seen = true;
                    continue;
                }
            }
            kept.push_str(line);
        }
        for entry in self.by_name.values().flat_map(HashMap::values) {
            if !entry.seen && entry.series.hidden() {
                entry.series.mark_gone();
            }
        }
        kept
    }

    /// The hidden series a sample line belongs to: `name{labels}`, or a
    /// histogram's or summary's `_bucket`/`_sum`/`_count` line, or a line
    /// with its `le`/`quantile` label.
    fn entry_of(&mut self, line: &str) -> Option<&mut Entry> {
        let (name, labels) = sample_parts(line)?;
        let base_labels = strip_label(labels, "le").or_else(|| strip_label(labels, "quantile"));
        let base_name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix));
        let candidates = [
            (Some(name), Some(labels), false),
            (Some(name), base_labels, true),
            (base_name, Some(labels), true),
            (base_name, base_labels, true),
        ];
        let (name, labels) = candidates.into_iter().find_map(|(n, l, variant)| {
            let (n, l) = (n?, l?);
            let entry = self.by_name.get(n)?.get(l)?;
            (!variant || entry.histogram).then_some((n, l))
        })?;
        self.by_name.get_mut(name)?.get_mut(labels)
    }
}

/// `name` and the text between the braces of a sample line; `None` for
/// comments and blank lines.
fn sample_parts(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // The value is last and holds no space; label values are escaped, so
    // the braces are the first `{` and the last `}` before it.
    let (head, _value) = line.rsplit_once(' ')?;
    match head.find('{') {
        Some(open) if head.ends_with('}') => Some((&head[..open], &head[open + 1..head.len() - 1])),
        _ => Some((head, "")),
    }
}

/// `labels` without its last label if that is `name="..."` (the exporter
/// adds `le` and `quantile` last).
fn strip_label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    if labels.starts_with(name) && labels[name.len()..].starts_with("=\"") {
        return Some("");
    }
    let at = labels.rfind(&format!(",{name}=\""))?;
    Some(&labels[..at])
}

/// The label string the exporter writes for `key` (without global labels).
fn rendered_labels(key: &Key) -> String {
    let mut out = String::new();
    for (i, label) in key.labels().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&sanitize_label_key(label.key()));
        out.push_str("=\"");
        out.push_str(&sanitize_label_value(label.value()));
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::Label;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Default)]
    struct Probe {
        revived: AtomicBool,
        gone: AtomicBool,
    }

    impl Hidden for Probe {
        fn hidden(&self) -> bool {
            !self.revived.load(Ordering::SeqCst)
        }
        fn mark_gone(&self) {
            self.gone.store(true, Ordering::SeqCst);
        }
    }

    fn key(name: &str, labels: &[(&str, &str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(k.to_string(), v.to_string()))
            .collect();
        Key::from_parts(name.to_owned(), labels)
    }

    #[test]
    fn hides_every_line_of_a_hidden_series_and_nothing_else() {
        let text = "# TYPE lat histogram\n\
            lat_bucket{path=\"/a\",le=\"0.1\"} 1\n\
            lat_bucket{path=\"/a\",le=\"+Inf\"} 1\n\
            lat_sum{path=\"/a\"} 0.05\n\
            lat_count{path=\"/a\"} 1\n\
            lat_bucket{path=\"/b\",le=\"+Inf\"} 2\n\
            lat_count{path=\"/b\"} 2\n\
            hits{path=\"/a\"} 3\n\
            hits{path=\"/a,le=\\\"x\\\"}\"} 4\n\
            plain 5\n"
            .to_owned();
        let mut hidden = HiddenSeries::default();
        let lat = Arc::new(Probe::default());
        let odd = Arc::new(Probe::default());
        let plain = Arc::new(Probe::default());
        hidden.add(
            &key("lat", &[("path", "/a")]),
            lat.clone(),
            MetricKind::Histogram,
        );
        let odd_key = key("hits", &[("path", "/a,le=\"x\"}")]);
        hidden.add(&odd_key, odd.clone(), MetricKind::Counter);
        hidden.add(&key("plain", &[]), plain.clone(), MetricKind::Counter);
        // A hidden counter never hides another metric's histogram-like lines.
        let count = Arc::new(Probe::default());
        hidden.add(&key("lat", &[("path", "/b")]), count, MetricKind::Counter);
        let kept = hidden.filter(text);
        assert_eq!(
            kept,
            "# TYPE lat histogram\n\
             lat_bucket{path=\"/b\",le=\"+Inf\"} 2\n\
             lat_count{path=\"/b\"} 2\n\
             hits{path=\"/a\"} 3\n"
        );
        assert!(!lat.gone.load(Ordering::SeqCst));
        assert!(!odd.gone.load(Ordering::SeqCst));
    }

    #[test]
    fn a_hidden_series_missing_from_the_render_is_gone_unless_revived() {
        let mut hidden = HiddenSeries::default();
        let missing = Arc::new(Probe::default());
        let revived = Arc::new(Probe::default());
        revived.revived.store(true, Ordering::SeqCst);
        hidden.add(&key("a", &[("u", "1")]), missing.clone(), MetricKind::Gauge);
        hidden.add(&key("a", &[("u", "2")]), revived.clone(), MetricKind::Gauge);
        let kept = hidden.filter("a{u=\"2\"} 1\na{u=\"3\"} 1\n".to_owned());
        assert_eq!(kept, "a{u=\"2\"} 1\na{u=\"3\"} 1\n");
        assert!(missing.gone.load(Ordering::SeqCst));
        assert!(!revived.gone.load(Ordering::SeqCst));
    }
}
