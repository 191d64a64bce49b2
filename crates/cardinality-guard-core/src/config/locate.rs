//! Where a TOML or serde error is: the dotted key (`metrics[1].max_series`)
//! named in the error, found from the parsed document's spans or, when the
//! text does not parse, from the lines before the error.

use super::values::Source;
use super::{ConfigError, ErrorKind};

impl Source<'_> {
    /// Converts a TOML/serde error, finding the key from the line it points at.
    pub(super) fn syntax(&self, err: &toml::de::Error) -> ConfigError {
        let message = err.message().trim().to_owned();
        let kind = if message.starts_with("unknown field") {
            ErrorKind::UnknownKey
        } else {
            ErrorKind::Syntax
        };
        let (line, key) = match err.span() {
            Some(span) => {
                let line = self.line_of(span.start);
                let key = self
                    .key_in_document(span.start, &message)
                    .or_else(|| self.key_at(line, &message));
                (Some(line), key)
            }
            None => (None, None),
        };
        ConfigError::new(self.origin, line, key, kind, message)
    }

    /// The dotted key at byte `offset`, from the spans of the parsed document
    /// (works for dotted keys and inline tables too). `None` when the text
    /// does not parse as TOML at all.
    fn key_in_document(&self, offset: usize, message: &str) -> Option<String> {
        let doc = toml::de::DeTable::parse(self.text).ok()?;
        let mut path = String::new();
        let mut table = doc.get_ref();
        'descend: loop {
            // The entry holding the offset; else an array of tables (whose
            // span covers only its first `[[header]]`) that starts before it.
            let holding = table
                .iter()
                .find(|(k, v)| k.span().contains(&offset) || v.span().contains(&offset))
                .or_else(|| {
                    table
                        .iter()
                        .filter(|(_, v)| {
                            matches!(
                                v.get_ref(),
                                toml::de::DeValue::Array(_) | toml::de::DeValue::Table(_)
                            ) && v.span().start <= offset
                        })
                        .max_by_key(|(_, v)| v.span().start)
                });
            if let Some((key, value)) = holding {
                let on_key = key.span().contains(&offset);
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key.get_ref());
                if on_key {
                    // An error on a table's key may be about one of its
                    // entries (`label_limits = { user = "100" }`).
                    if let toml::de::DeValue::Table(inner) = value.get_ref() {
                        if let Some((leaf, _)) = inner
                            .iter()
                            .find(|(_, v)| value_is_quoted_in(v.get_ref(), message))
                        {
                            path = format!("{path}.{}", leaf.get_ref());
                        }
                    }
                    return Some(path);
                }
                match value.get_ref() {
                    toml::de::DeValue::Table(inner) => {
                        table = inner;
                        continue 'descend;
                    }
                    toml::de::DeValue::Array(items) => {
                        // An array-of-tables entry's span may cover only its
                        // `[[header]]`: the entry is the last one starting
                        // before the offset.
                        let entry = items
                            .iter()
                            .enumerate()
                            .rfind(|(_, item)| item.span().start <= offset);
                        if let Some((i, item)) = entry {
                            if let toml::de::DeValue::Table(inner) = item.get_ref() {
                                path.push_str(&format!("[{i}]"));
                                table = inner;
                                continue 'descend;
                            }
                        }
                    }
                    _ => {}
                }
                break 'descend;
            }
            // The error points at a whole (inline) table: name the entry
            // whose value the message quotes (`invalid type: string "100"`).
            if let Some(leaf) = table
                .iter()
                .find(|(_, v)| value_is_quoted_in(v.get_ref(), message))
                .map(|(k, _)| k.get_ref().to_string())
            {
                path = if path.is_empty() {
                    leaf
                } else {
                    format!("{path}.{leaf}")
                };
            }
            break;
        }
        if path.is_empty() {
            return None;
        }
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            path = format!("{path}.{field}");
        }
        Some(path)
    }

    /// The dotted key an error on `line` is about: `table.key`,
    /// `metrics[2].key`, or a misspelled table's own name.
    fn key_at(&self, line: usize, message: &str) -> Option<String> {
        let lines: Vec<&str> = self.text.lines().collect();
        let here = lines.get(line.checked_sub(1)?)?.trim();
        // Serde names the field in "unknown field `x`" and "missing field `x`".
        let unknown = message.starts_with("unknown field `");
        let field = message
            .strip_prefix("unknown field `")
            .or_else(|| message.strip_prefix("missing field `"))
            .and_then(|r| r.split('`').next());
        let header = table_header(here);
        if let (true, Some((name, _))) = (unknown, &header) {
            // The header itself is the unknown key (`[default]`, `[[metric]]`).
            return Some(name.clone());
        }
        let table = table_path(&lines[..line]);
        let assigned = here
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"'))
            .filter(|k| header.is_none() && !k.is_empty());
        let leaf = match (field, assigned) {
            // A dotted assignment (`defaults.mode = ..`) holds the full path.
            (Some(f), Some(a)) if a.ends_with(f) => Some(a),
            (Some(f), _) => Some(f),
            (None, a) => a,
        };
        match leaf {
            Some(leaf) if table.is_empty() => Some(leaf.to_owned()),
            Some(leaf) => Some(format!("{table}.{leaf}")),
            None => Some(table).filter(|t| !t.is_empty()),
        }
    }
}

/// `[name]` or `[[name]]` on a line: the name, and whether it is an array of tables.
fn table_header(line: &str) -> Option<(String, bool)> {
    if let Some(rest) = line.strip_prefix("[[") {
        return Some((rest.split("]]").next()?.trim().to_owned(), true));
    }
    let rest = line.strip_prefix('[')?;
    Some((rest.split(']').next()?.trim().to_owned(), false))
}

/// The table the last of `lines` is in, with array indices (`metrics[1]`).
fn table_path(lines: &[&str]) -> String {
    let mut table = String::new();
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for (name, array) in lines.iter().filter_map(|l| table_header(l.trim())) {
        table = if array {
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            format!("{name}[{}]", *n - 1)
        } else {
            // `[metrics.pinned]` after `[[metrics]]` is a table of the last entry.
            let parent = counts
                .iter()
                .filter(|(array, _)| name.starts_with(&format!("{array}.")))
                .max_by_key(|(array, _)| array.len());
            match parent {
                Some((array, n)) => format!("{array}[{}]{}", n - 1, &name[array.len()..]),
                None => name,
            }
        };
    }
    table
}

/// Whether a serde type error (`invalid type: string "100", expected i64`)
/// quotes this value.
fn value_is_quoted_in(value: &toml::de::DeValue<'_>, message: &str) -> bool {
    let Some(found) = message.strip_prefix("invalid type: ") else {
        return false;
    };
    match value {
        toml::de::DeValue::String(s) => found.starts_with(&format!("string {:?}", s.as_ref())),
        toml::de::DeValue::Integer(i) => found.starts_with(&format!("integer `{}`", i.as_str())),
        toml::de::DeValue::Float(f) => {
            found.starts_with(&format!("floating point `{}`", f.as_str()))
        }
        toml::de::DeValue::Boolean(b) => found.starts_with(&format!("boolean `{b}`")),
        toml::de::DeValue::Array(_) => found.starts_with("sequence"),
        toml::de::DeValue::Table(_) => found.starts_with("map"),
        _ => false,
    }
}
