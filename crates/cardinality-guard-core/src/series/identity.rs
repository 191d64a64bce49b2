//! How a label set is known: by its labels as they render (`k="v",...`),
//! the one copy of them the guard keeps, and by the hash of its key.
//!
//! The text is written as the exporter writes it: the global labels first
//! (a key label of the same name takes its place), then the key's labels in
//! the order of the registration that created the series. Two label sets
//! are one series when they hold the same labels in any order, and a key
//! label that repeats a global one (same name, same value) is the global
//! label: its *canonical* key leaves it out. `metrics` hashes a key's labels
//! independently of their order, so the canonical key's hash finds the
//! series whatever the spelling's order.

use std::borrow::Cow;

use metrics::{Key, Label};

use crate::text::escape_label_value_into;

/// The `[global] labels` of a guard, and their text.
#[derive(Debug, Default)]
pub(crate) struct GlobalLabels {
    pub(crate) pairs: Vec<(String, String)>,
    /// `k="v",...` of `pairs`, in their order.
    pub(crate) text: String,
}

impl GlobalLabels {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> GlobalLabels {
        let mut text = String::new();
        for (k, v) in &pairs {
            push_label(&mut text, k, v);
        }
        GlobalLabels { pairs, text }
    }

    fn value_of(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A normalized label set about to be placed.
pub(crate) struct Identity {
    /// The hash of its canonical key (as `metrics` hashes keys).
    pub(crate) hash: u64,
    /// Its labels as they render.
    pub(crate) text: String,
    /// Whether `text` is the global labels' text followed by the key's
    /// labels (no key label names a global one): a key then matches the
    /// series by its text alone.
    pub(crate) plain: bool,
    /// Whether the labels of `text` are in the order of their keys: it is
    /// then its own [`sorted`] text, the order series render in.
    pub(crate) in_order: bool,
}

/// Whether `keys` never go down.
fn in_order<'a>(mut keys: impl Iterator<Item = &'a str>) -> bool {
    let Some(mut last) = keys.next() else {
        return true;
    };
    keys.all(|key| {
        let up = last <= key;
        last = key;
        up
    })
}

impl Identity {
    /// The identity of `key` (normalized: its name as rendered), under `global`.
    pub(crate) fn of(key: &Key, global: &GlobalLabels) -> Identity {
        let plain = key.labels().all(|l| global.value_of(l.key()).is_none());
        if plain {
            // Exact, unless a value needs escaping: the text is kept as is.
            let size = key.labels().map(|l| l.key().len() + l.value().len() + 4);
            let mut text = String::with_capacity(global.text.len() + size.sum::<usize>());
            text.push_str(&global.text);
            for label in key.labels() {
                push_label(&mut text, label.key(), label.value());
            }
            let keys = global.pairs.iter().map(|(k, _)| k.as_str());
            return Identity {
                hash: key.get_hash(),
                text,
                plain,
                in_order: in_order(keys.chain(key.labels().map(Label::key))),
            };
        }
        let mut rendered: Vec<(&str, &str)> = global
            .pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut canonical: Vec<Label> = Vec::new();
        // A normalized key repeats no key: only the global labels are
        // searched (a few), so this is linear in the key.
        let globals = rendered.len();
        for label in key.labels() {
            match rendered[..globals]
                .iter_mut()
                .find(|(k, _)| *k == label.key())
            {
                Some(slot) => slot.1 = label.value(),
                None => rendered.push((label.key(), label.value())),
            }
            if global.value_of(label.key()) != Some(label.value()) {
                canonical.push(label.clone());
            }
        }
        let mut text = String::new();
        for (k, v) in &rendered {
            push_label(&mut text, k, v);
        }
        Identity {
            hash: Key::from_parts(key.name().to_owned(), canonical).get_hash(),
            text,
            plain,
            in_order: in_order(rendered.iter().map(|(k, _)| *k)),
        }
    }
}

/// Appends `k="v"` (escaped), after a comma unless `out` is empty.
fn push_label(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(key);
    out.push_str("=\"");
    escape_label_value_into(out, value);
    out.push('"');
}

/// The labels of a label text, in their order, values unescaped.
pub(crate) fn parse(text: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (key, after) = rest.split_once("=\"")?;
        let bytes = after.as_bytes();
        let mut end = 0;
        let mut escaped = false;
        while end < bytes.len() {
            match bytes[end] {
                b'\\' => {
                    escaped = true;
                    end += 2;
                }
                b'"' => break,
                _ => end += 1,
            }
        }
        let raw = after.get(..end)?;
        rest = after.get(end + 1..).unwrap_or("");
        rest = rest.strip_prefix(',').unwrap_or(rest);
        let value = match escaped {
            false => Cow::Borrowed(raw),
            true => Cow::Owned(unescape(raw)),
        };
        Some((key, value))
    })
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// Whether `labels` render as exactly `text`, in order (no allocation;
/// one comparison per label key and per value that needs no escaping).
fn matches_in_order(labels: &[Label], text: &str) -> bool {
    let text = text.as_bytes();
    let mut at = 0;
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            if text.get(at) != Some(&b',') {
                return false;
            }
            at += 1;
        }
        let key = label.key().as_bytes();
        if text.get(at..at + key.len()) != Some(key)
            || text.get(at + key.len()) != Some(&b'=')
            || text.get(at + key.len() + 1) != Some(&b'"')
        {
            return false;
        }
        at += key.len() + 2;
        match escaped_len_at(text, at, label.value().as_bytes()) {
            Some(len) => at += len,
            None => return false,
        }
        if text.get(at) != Some(&b'"') {
            return false;
        }
        at += 1;
    }
    at == text.len()
}

/// The length of `value`, escaped, if `text` holds it escaped at `at`.
#[inline]
fn escaped_len_at(text: &[u8], at: usize, value: &[u8]) -> Option<usize> {
    let plain = !value.iter().any(|b| matches!(b, b'\\' | b'"' | b'\n'));
    if plain {
        return (text.get(at..at + value.len()) == Some(value)).then_some(value.len());
    }
    let mut i = at;
    for &b in value {
        let want: &[u8] = match b {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => std::slice::from_ref(&b),
        };
        if text.get(i..i + want.len()) != Some(want) {
            return None;
        }
        i += want.len();
    }
    Some(i - at)
}

/// Whether `labels` render as the labels of `text`, in any order.
pub(crate) fn matches(labels: &[Label], text: &str) -> bool {
    if matches_in_order(labels, text) {
        return true;
    }
    if labels.len() < 2 {
        return false;
    }
    let mut theirs: Vec<(&str, Cow<'_, str>)> = parse(text).collect();
    if theirs.len() != labels.len() {
        return false;
    }
    let mut ours: Vec<(&str, &str)> = labels.iter().map(|l| (l.key(), l.value())).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    ours.iter()
        .zip(&theirs)
        .all(|((k, v), (tk, tv))| k == tk && *v == tv.as_ref())
}

/// Whether two label texts hold the same labels, in any order.
pub(crate) fn same_labels(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let mut a: Vec<_> = parse(a).collect();
    let mut b: Vec<_> = parse(b).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// The labels of `text` sorted, as text: the order series render in.
pub(crate) fn sorted(text: &str) -> Cow<'_, str> {
    let labels: Vec<_> = parse(text).collect();
    if labels.windows(2).all(|w| w[0].0 <= w[1].0) {
        return Cow::Borrowed(text);
    }
    let mut labels = labels;
    labels.sort_unstable();
    let mut out = String::with_capacity(text.len());
    for (k, v) in labels {
        push_label(&mut out, k, &v);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(labels: &[(&str, &str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(k.to_string(), v.to_string()))
            .collect();
        Key::from_parts("x", labels)
    }

    #[test]
    fn identity_ignores_order_and_render_keeps_it() {
        let none = GlobalLabels::default();
        let (ba, ab) = (
            key(&[("b", "2"), ("a", "1")]),
            key(&[("a", "1"), ("b", "2")]),
        );
        let (t1, t2) = (Identity::of(&ba, &none), Identity::of(&ab, &none));
        assert_eq!(t1.hash, t2.hash);
        assert!(same_labels(&t1.text, &t2.text));
        assert_eq!(t1.text, r#"b="2",a="1""#);
        assert_eq!(sorted(&t1.text), t2.text);
        let global = GlobalLabels::new(vec![("a".into(), "0".into()), ("z".into(), "9".into())]);
        let over = Identity::of(&ba, &global);
        assert_eq!(over.text, r#"a="1",z="9",b="2""#);
        assert!(!over.plain);
        // A key label repeating a global one is the same label set.
        let region = GlobalLabels::new(vec![("region".into(), "eu".into())]);
        let (explicit, implicit) = (key(&[("region", "eu")]), key(&[]));
        let (e, i) = (
            Identity::of(&explicit, &region),
            Identity::of(&implicit, &region),
        );
        assert_eq!((e.hash, &e.text), (i.hash, &i.text));
        assert!(i.plain && !e.plain);
    }

    #[test]
    fn keys_match_their_text_in_any_order_and_nothing_else() {
        let text = r#"a="1",b="x\"y\\z\n""#;
        let exact = key(&[("a", "1"), ("b", "x\"y\\z\n")]);
        let swapped = key(&[("b", "x\"y\\z\n"), ("a", "1")]);
        assert!(matches(&exact.labels().cloned().collect::<Vec<_>>(), text));
        assert!(matches(
            &swapped.labels().cloned().collect::<Vec<_>>(),
            text
        ));
        for other in [
            key(&[("a", "1")]),
            key(&[("a", "1"), ("b", "x\"y\\z")]),
            key(&[("a", "1"), ("c", "x\"y\\z\n")]),
            key(&[("a", "1"), ("b", "x\"y\\z\n"), ("c", "")]),
        ] {
            let labels: Vec<Label> = other.labels().cloned().collect();
            assert!(!matches(&labels, text), "{other:?}");
        }
        let parsed: Vec<_> = parse(text).collect();
        assert_eq!(parsed[1], ("b", Cow::Owned("x\"y\\z\n".to_owned())));
    }
}
