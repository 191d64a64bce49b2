//! An upstream exposition into the guard: checked in full first
//! ([`check`]), then fed sample by sample ([`feed`]) through the state per
//! input series ([`Inputs`]), so a body that fails anywhere applies nothing.
//!
//! Names: a counter is named by its sample (`x_total`, whether the family is
//! OpenMetrics' `x` or Prometheus text's `x_total`); a classic histogram by
//! its family, its `_bucket`/`_sum`/`_count` lines grouped per label set
//! (the labels but `le`); a summary likewise (the labels but `quantile`).
//! Gauges, untyped samples and the samples of OpenMetrics' other types
//! (info, stateset, gaugehistogram) are gauges named by their sample.
//! `_created` samples are dropped: a counter's, histogram's or summary's,
//! and the `X_created` gauge that Prometheus-text clients write for a
//! counter `X_total` or a histogram or summary `X` seen before it. Empty
//! label values are no label, as Prometheus reads them; timestamps and
//! exemplars are left out.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use cardinality_guard_core::text::{parse_f64, Format, Kind, Line, Parser, Sample};

use super::failure::{Failure, Reason};
use super::inputs::Inputs;
use super::sink::Sink;
use crate::deadline::Deadline;

/// Lines parsed between two looks at the deadline.
const LINES_PER_CHECK: usize = 1024;

/// Parses all of `text` in `format`, before `deadline`: the first malformed
/// line (or a missing `# EOF`) is a [`Reason::Parse`] failure.
pub(crate) fn check(text: &str, format: Format, deadline: Deadline) -> Result<(), Failure> {
    let mut parser = Parser::new(format);
    for (i, line) in text.split_terminator('\n').enumerate() {
        if i % LINES_PER_CHECK == LINES_PER_CHECK - 1 && deadline.passed() {
            return Err(Failure::new(
                Reason::Timeout,
                format!(
                    "parsing took longer than --timeout {}",
                    crate::deadline::duration_text(deadline.timeout())
                ),
            ));
        }
        parser.line(line).map_err(parse_failure)?;
    }
    parser.finish().map_err(parse_failure)
}

fn parse_failure(e: cardinality_guard_core::text::ParseError) -> Failure {
    Failure::new(
        Reason::Parse,
        crate::read_error::ReadError::Parse(e).to_string(),
    )
}

/// Feeds `text` (as [`check`] passed it) into `inputs` and `sink`.
pub(crate) fn feed<S: Sink>(text: &str, format: Format, inputs: &mut Inputs<S>, sink: &S) {
    inputs.config_in_force(sink.config());
    let mut parser = Parser::new(format);
    let mut feeder = Feeder {
        inputs,
        sink,
        helps: HashMap::new(),
        bases: HashSet::new(),
        pending: None,
        flushed: HashSet::new(),
        keys: RandomState::new(),
    };
    for line in text.split_terminator('\n') {
        match parser.line(line) {
            Ok(Line::Sample(sample)) => feeder.sample(&sample),
            Ok(Line::Help(name, help)) => {
                feeder.helps.insert(name.to_owned(), help.into_owned());
            }
            Ok(Line::Type(name, kind)) => feeder.declared(name, kind),
            Ok(Line::Other) | Err(_) => {}
        }
    }
    feeder.flush();
}

/// One label set of a histogram or a summary, as its lines come.
struct Group {
    /// Sorted by name, without `le`/`quantile` and empty values.
    labels: Vec<(String, String)>,
    /// `(le or quantile text, its number, value)`.
    points: Vec<(String, f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
    lines: u64,
    /// Lines of a point, `_sum` or `_count` read already in this group (a
    /// label set written twice): the first one counts. Counted as
    /// duplicates, and not among the `lines` the input is told of.
    duplicates: u64,
}

/// The histogram or summary family being read.
struct Pending {
    family: String,
    kind: Kind,
    groups: Vec<Group>,
    index: HashMap<Vec<(String, String)>, usize>,
}

struct Feeder<'a, S: Sink> {
    inputs: &'a mut Inputs<S>,
    sink: &'a S,
    /// `# HELP` texts by family.
    helps: HashMap<String, String>,
    /// Counters' names without `_total`, histograms' and summaries' names:
    /// an untyped or gauge `<base>_created` is theirs, and dropped.
    bases: HashSet<String>,
    pending: Option<Pending>,
    /// The label sets of histograms and summaries applied in this scrape
    /// (hashes of family and labels): one that comes back after another
    /// family interrupted its own (an upstream that splits a family) is a
    /// duplicate, as a series written twice is: the first one counts.
    flushed: HashSet<u64>,
    keys: RandomState,
}

impl<S: Sink> Feeder<'_, S> {
    fn declared(&mut self, name: &str, kind: Kind) {
        let base = match kind {
            Kind::Counter => name.strip_suffix("_total").unwrap_or(name),
            Kind::Histogram | Kind::Summary => name,
            _ => return,
        };
        self.bases.insert(base.to_owned());
    }

    fn sample(&mut self, sample: &Sample<'_>) {
        let grouped = matches!(sample.kind, Kind::Histogram | Kind::Summary);
        if self
            .pending
            .as_ref()
            .is_some_and(|p| !grouped || p.family != sample.family)
        {
            self.flush();
        }
        let suffix = sample
            .name
            .strip_prefix(sample.family)
            .filter(|_| sample.name != sample.family);
        match sample.kind {
            Kind::Counter => {
                if suffix == Some("_created") {
                    return;
                }
                let labels = sorted(sample, None);
                let help = self.helps.get(sample.family).map(String::as_str);
                self.inputs
                    .counter(self.sink, sample.name, &labels, sample.value, help);
            }
            Kind::Histogram | Kind::Summary => self.grouped(sample, suffix),
            _ => {
                let created = sample
                    .name
                    .strip_suffix("_created")
                    .is_some_and(|base| self.bases.contains(base));
                if created {
                    return;
                }
                let labels = sorted(sample, None);
                let help = self.helps.get(sample.family).map(String::as_str);
                self.inputs
                    .gauge(self.sink, sample.name, &labels, sample.value, help);
            }
        }
    }

    /// A line of a histogram or a summary, into its label set's group.
    fn grouped(&mut self, sample: &Sample<'_>, suffix: Option<&str>) {
        let (point_label, point_suffix) = if sample.kind == Kind::Histogram {
            ("le", Some("_bucket"))
        } else {
            ("quantile", None)
        };
        let pending = self.pending.get_or_insert_with(|| Pending {
            family: sample.family.to_owned(),
            kind: sample.kind,
            groups: Vec::new(),
            index: HashMap::new(),
        });
        let labels: Vec<(String, String)> = sorted(sample, Some(point_label))
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let at = *pending.index.entry(labels).or_insert_with_key(|labels| {
            pending.groups.push(Group {
                labels: labels.clone(),
                points: Vec::new(),
                sum: None,
                count: None,
                lines: 0,
                duplicates: 0,
            });
            pending.groups.len() - 1
        });
        let group = &mut pending.groups[at];
        group.lines += 1;
        // A second `_sum`, `_count` or point of the label set is a
        // duplicate: kept, it would make the bounds repeat (an invalid
        // histogram or summary, refused whole) or replace the first.
        let first = |slot: &mut Option<f64>, duplicates: &mut u64| match slot {
            Some(_) => *duplicates += 1,
            None => *slot = Some(sample.value),
        };
        match suffix {
            Some("_sum") => first(&mut group.sum, &mut group.duplicates),
            Some("_count") => first(&mut group.count, &mut group.duplicates),
            s if s == point_suffix => {
                if let Some(text) = sample.label(point_label) {
                    if group.points.iter().any(|p| p.0 == text) {
                        group.duplicates += 1;
                    } else if let Some(number) = parse_f64(text) {
                        group.points.push((text.to_owned(), number, sample.value));
                    }
                }
            }
            _ => {} // `_created`, or a line of no use
        }
    }

    /// Applies the histogram or summary family read so far.
    fn flush(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let help = self.helps.get(&pending.family).map(String::as_str);
        for mut group in pending.groups {
            if !self
                .flushed
                .insert(self.keys.hash_one((&pending.family, &group.labels)))
            {
                self.inputs.duplicated(group.lines);
                continue;
            }
            self.inputs.duplicated(group.duplicates);
            group.points.sort_by(|a, b| a.1.total_cmp(&b.1));
            let labels: Vec<(&str, &str)> = group
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let texts: Vec<&str> = group.points.iter().map(|p| p.0.as_str()).collect();
            let values: Vec<f64> = group.points.iter().map(|p| p.2).collect();
            if pending.kind == Kind::Histogram {
                let finite = group.points.iter().filter(|p| p.1.is_finite()).count();
                let top = group
                    .points
                    .iter()
                    .find(|p| p.1 == f64::INFINITY)
                    .map(|p| p.2)
                    .or(group.count);
                let Some(top) = top else { continue };
                let finite_from = group.points.iter().position(|p| p.1.is_finite());
                let range = finite_from.map_or(0..0, |from| from..from + finite);
                let mut cumulative = values[range.clone()].to_vec();
                cumulative.push(top);
                self.inputs.histogram(
                    self.sink,
                    &pending.family,
                    &labels,
                    &texts[range],
                    &cumulative,
                    group.sum.unwrap_or(0.0),
                    help,
                    group.lines - group.duplicates,
                );
            } else if group.count.is_some() || !group.points.is_empty() {
                self.inputs.summary(
                    self.sink,
                    &pending.family,
                    &labels,
                    &texts,
                    &values,
                    group.sum.unwrap_or(0.0),
                    group.count,
                    help,
                    group.lines - group.duplicates,
                );
            }
        }
    }
}

/// The labels of `sample` but `except` and those with empty values, sorted by name.
fn sorted<'s>(sample: &'s Sample<'_>, except: Option<&str>) -> Vec<(&'s str, &'s str)> {
    let mut labels: Vec<(&str, &str)> = sample
        .labels
        .iter()
        .filter(|(k, v)| !v.is_empty() && Some(*k) != except)
        .map(|(k, v)| (*k, v.as_ref()))
        .collect();
    labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
    labels
}

#[cfg(test)]
mod tests;
