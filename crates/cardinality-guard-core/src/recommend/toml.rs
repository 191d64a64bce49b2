//! The one TOML writer of a suggested `guard.toml`: tables of keys, each key
//! or table with an optional comment, written as valid TOML whatever the
//! text they hold (strings escaped, comments kept on comment lines, numbers
//! in TOML's ranges).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// A value of a key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// An integer (written at most `i64::MAX`, TOML's largest).
    Int(u64),
    /// A basic string.
    Str(String),
    /// An array of floats.
    Floats(Vec<f64>),
    /// An inline table of integers: `{ "label" = 100 }`.
    Counts(BTreeMap<String, u64>),
    /// An inline table of string arrays: `{ "label" = ["a", "b"] }`.
    Lists(BTreeMap<String, Vec<String>>),
    /// An inline table of strings: `{ "key" = "value" }`.
    Texts(BTreeMap<String, String>),
}

impl Value {
    /// A duration the config reads back: whole seconds as `"90s"`, else
    /// milliseconds (at least 1).
    pub(crate) fn duration(d: Duration) -> Value {
        let ms = d.as_millis();
        Value::Str(if ms.is_multiple_of(1000) && ms > 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{}ms", ms.max(1))
        })
    }

    fn write(&self, out: &mut String) {
        match self {
            Value::Int(n) => {
                let _ = write!(out, "{}", (*n).min(i64::MAX as u64));
            }
            Value::Str(text) => quote(out, text),
            Value::Floats(values) => {
                out.push('[');
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    float(out, *v);
                }
                out.push(']');
            }
            Value::Counts(map) => inline(out, map, |out, n| Value::Int(*n).write(out)),
            Value::Lists(map) => inline(out, map, |out, values| {
                out.push('[');
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    quote(out, v);
                }
                out.push(']');
            }),
            Value::Texts(map) => inline(out, map, |out, v| quote(out, v)),
        }
    }
}

/// One `key = value` line, or a commented-out one (`# key = value`): a
/// setting shown, not in force.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    key: &'static str,
    value: Value,
    note: Option<String>,
    commented_out: bool,
}

impl Line {
    fn key_text(&self) -> String {
        if self.commented_out {
            format!("# {}", self.key)
        } else {
            self.key.to_owned()
        }
    }
}

/// A table (`[global]`) or an entry of an array of tables (`[[metrics]]`):
/// a comment above it, a note on its header line, its keys in the order
/// they were set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    header: &'static str,
    comment: Option<String>,
    note: Option<String>,
    lines: Vec<Line>,
    /// Where [`Table::note`] goes: the key set last (`None`: the header).
    last: Option<&'static str>,
}

impl Table {
    pub(crate) fn new(header: &'static str) -> Table {
        Table {
            header,
            comment: None,
            note: None,
            lines: Vec::new(),
            last: None,
        }
    }

    /// Makes it the table `header` (`[defaults]`).
    pub(crate) fn retitle(&mut self, header: &'static str) {
        self.header = header;
    }

    /// Sets `key` (in place, if set before).
    pub(crate) fn set(&mut self, key: &'static str, value: Value) {
        self.put(key, value, false);
    }

    /// Shows `key = value` commented out.
    pub(crate) fn show(&mut self, key: &'static str, value: Value) {
        self.put(key, value, true);
    }

    fn put(&mut self, key: &'static str, value: Value, commented_out: bool) {
        self.last = Some(key);
        let line = self.lines.iter_mut().find(|l| l.key == key);
        match line {
            Some(line) => {
                line.value = value;
                line.commented_out = commented_out;
            }
            None => self.lines.push(Line {
                key,
                value,
                note: None,
                commented_out,
            }),
        }
    }

    /// The value of `key`, if set.
    pub(crate) fn get_mut(&mut self, key: &'static str) -> Option<&mut Value> {
        let line = self.lines.iter_mut().find(|l| l.key == key)?;
        Some(&mut line.value)
    }

    /// A note on the line of the key set last, or on the header line when
    /// no key is set yet. One line trails it; more go above it.
    pub(crate) fn note(&mut self, text: String) {
        match self.last {
            Some(key) => {
                if let Some(line) = self.lines.iter_mut().find(|l| l.key == key) {
                    line.note = Some(text);
                }
            }
            None => self.note = Some(text),
        }
    }

    /// A comment above the table.
    pub(crate) fn comment(&mut self, text: String) {
        self.comment = Some(text);
    }

    /// Puts `key = value` first (the `match` of an entry).
    pub(crate) fn lead(&mut self, key: &'static str, value: Value) {
        self.lines.retain(|l| l.key != key);
        self.lines.insert(
            0,
            Line {
                key,
                value,
                note: None,
                commented_out: false,
            },
        );
    }

    fn write(&self, out: &mut String, aligned: bool) {
        if let Some(comment) = &self.comment {
            write_comment(out, comment);
        }
        out.push_str(self.header);
        trailing(out, self.note.as_deref());
        let width = if aligned {
            self.lines
                .iter()
                .map(|l| l.key_text().len())
                .max()
                .unwrap_or(0)
        } else {
            0
        };
        for line in &self.lines {
            let note = line.note.as_deref();
            if let Some(note) = note.filter(|n| n.contains('\n')) {
                write_comment(out, note);
            }
            let _ = write!(out, "{:width$} = ", line.key_text());
            line.value.write(out);
            trailing(out, note.filter(|n| !n.contains('\n')));
        }
    }
}

/// A part of the document: a table, or a comment standing on its own.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Comment(String),
    Table(Table),
}

/// The document: its blocks, one blank line between two; with `aligned`,
/// the `=` of each table's keys line up.
pub(crate) fn write<'a>(blocks: impl IntoIterator<Item = &'a Block>, aligned: bool) -> String {
    let mut out = String::new();
    for (i, block) in blocks.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match block {
            Block::Comment(text) => write_comment(&mut out, text),
            Block::Table(table) => table.write(&mut out, aligned),
        }
    }
    out
}

/// Ends a line, with `note` as a comment after two spaces.
fn trailing(out: &mut String, note: Option<&str>) {
    if let Some(note) = note {
        out.push_str("  ");
        write_comment(out, note);
    } else {
        out.push('\n');
    }
}

/// `text` as comment lines (`# ...`); a character TOML forbids in a
/// comment (a control character other than tab) is written as `\u{..}`,
/// so no text can end a comment early.
fn write_comment(out: &mut String, text: &str) {
    for line in text.split('\n') {
        out.push('#');
        if !line.is_empty() {
            out.push(' ');
        }
        for c in line.chars() {
            if c.is_control() && c != '\t' {
                let _ = write!(out, "\\u{{{:X}}}", c as u32);
            } else {
                out.push(c);
            }
        }
        out.push('\n');
    }
}

fn inline<T>(out: &mut String, map: &BTreeMap<String, T>, value: impl Fn(&mut String, &T)) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{ ");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        quote(out, k);
        out.push_str(" = ");
        value(out, v);
    }
    out.push_str(" }");
}

/// A TOML float (`{:?}` always writes one for a finite number: `1.0`,
/// `1e-7`); TOML spells the others `inf`, `-inf` and `nan`.
fn float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("nan");
    } else {
        let _ = write!(out, "{v:?}");
    }
}

/// A TOML basic string.
fn quote(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(value: &Value) -> String {
        let mut out = String::new();
        value.write(&mut out);
        out
    }

    #[test]
    fn strings_and_durations_read_back() {
        let tricky = "a\"b\\c\nd\u{1}é";
        let text = format!("key = {}\n", line(&Value::Str(tricky.to_owned())));
        let value: ::toml::Table = ::toml::from_str(&text).unwrap();
        assert_eq!(value["key"].as_str(), Some(tricky));
        let duration = |d| line(&Value::duration(d));
        assert_eq!(duration(Duration::from_secs(600)), "\"600s\"");
        assert_eq!(duration(Duration::from_millis(1500)), "\"1500ms\"");
        assert_eq!(
            line(&Value::Floats(vec![0.005, 1.0, 1e-7])),
            "[0.005, 1.0, 1e-7]"
        );
    }

    #[test]
    fn any_text_and_number_stays_valid_toml() {
        let hostile = "a\nb\r\u{0}c\u{7f}\"]\n[evil]";
        let mut table = Table::new("[[metrics]]");
        table.comment(hostile.to_owned());
        table.note(hostile.to_owned());
        table.set("match", Value::Str(hostile.to_owned()));
        table.note("one line\r with a return".to_owned());
        table.set("max_series", Value::Int(u64::MAX));
        table.note(hostile.to_owned());
        table.set(
            "buckets",
            Value::Floats(vec![f64::NAN, f64::INFINITY, -1.5]),
        );
        let labels = BTreeMap::from([(hostile.to_owned(), vec![hostile.to_owned()])]);
        table.show("pinned", Value::Lists(labels));
        let blocks = [Block::Comment(hostile.to_owned()), Block::Table(table)];
        for aligned in [false, true] {
            let text = write(&blocks, aligned);
            let doc: ::toml::Table =
                ::toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(doc.len(), 1, "{text}");
            let entry = &doc["metrics"].as_array().unwrap()[0];
            assert_eq!(entry["match"].as_str(), Some(hostile));
            assert_eq!(entry["max_series"].as_integer(), Some(i64::MAX));
            let buckets = entry["buckets"].as_array().unwrap();
            assert!(buckets[0].as_float().unwrap().is_nan());
            assert_eq!(buckets[1].as_float(), Some(f64::INFINITY));
            assert!(entry.get("pinned").is_none(), "commented out: {text}");
        }
    }

    #[test]
    fn aligned_keys_line_up_and_long_notes_go_above() {
        let mut table = Table::new("[[metrics]]");
        table.set("match", Value::Str("h".to_owned()));
        table.set("max_series", Value::Int(765));
        table.note("two\nlines".to_owned());
        table.set(
            "label_limits",
            Value::Counts(BTreeMap::from([("path".to_owned(), 100)])),
        );
        table.show(
            "pinned",
            Value::Lists(BTreeMap::from([("path".to_owned(), vec![])])),
        );
        table.note("why".to_owned());
        assert_eq!(
            write([&Block::Table(table)], true),
            "[[metrics]]\n\
             match        = \"h\"\n\
             # two\n\
             # lines\n\
             max_series   = 765\n\
             label_limits = { \"path\" = 100 }\n\
             # pinned     = { \"path\" = [] }  # why\n"
        );
    }
}
