//! The audit as a readable table: what `cardinality-guard audit` prints
//! without `--format json`.

use std::fmt::Write as _;

use crate::read_error::human_bytes;
use crate::report::{plural, thousands, Audit};

/// The widest the text table's name column grows, in characters: a longer
/// name runs past its column (and the formatter refuses widths over 65,535).
const NAME_COLUMN: usize = 80;

impl Audit {
    /// As a readable table.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        let watching = self.watch.is_some();
        let _ = writeln!(
            out,
            "{} ({}, {})",
            self.source,
            self.format,
            human_bytes(self.bytes)
        );
        if let Some(asked) = &self.redirected_from {
            let _ = writeln!(out, "redirected from {asked}");
        }
        if let Some(w) = &self.watch {
            let _ = writeln!(
                out,
                "watched: {} scrapes over {}, budget {} series per metric",
                w.scrapes,
                duration_text(w.seconds),
                w.budget
            );
        }
        if let Some(own) = &self.self_report {
            let _ = writeln!(
                out,
                "guarded by cardinality-guard: its self-report ({}, {}) is left out of the table{}",
                plural(own.families.len() as u64, "family", "families"),
                plural(own.series, "series", "series"),
                match (own.global_series, own.global_series_limit) {
                    (Some(s), Some(l)) =>
                        format!("; guarded series {} of {}", thousands(s), thousands(l)),
                    _ => String::new(),
                }
            );
            for m in &own.metrics_folding {
                let _ = writeln!(
                    out,
                    "  {} folds for lack of budget: {} folded, {} series of {}",
                    m.metric,
                    thousands(m.folded),
                    thousands(m.series),
                    m.series_limit.map_or("?".into(), thousands)
                );
            }
        }
        let _ = writeln!(
            out,
            "{} series in {}\n",
            thousands(self.total_series),
            // Every family, as the series count every line (the
            // self-report's too, told apart above).
            plural(
                (self.metrics.len() + self.self_report.as_ref().map_or(0, |o| o.families.len()))
                    as u64,
                "metric family",
                "metric families"
            )
        );
        let name_width = self
            .metrics
            .iter()
            .map(|m| m.name.chars().count())
            .max()
            .unwrap_or(6)
            .clamp(6, NAME_COLUMN);
        let _ = write!(
            out,
            "{:<name_width$}  {:<14}  {:>9}  {:>10}",
            "metric", "kind", "series", "label sets"
        );
        if watching {
            let _ = write!(out, "  {:>10}  {:>13}", "new/hour", "to budget");
        }
        let _ = writeln!(out, "  labels (distinct values)");
        for m in &self.metrics {
            let _ = write!(
                out,
                "{:<name_width$}  {:<14}  {:>9}  {:>10}",
                m.name,
                m.kind.as_str(),
                thousands(m.series),
                thousands(m.label_sets)
            );
            if watching {
                let growth = m.growth_per_hour.map_or("-".into(), rate);
                let eta = match m.hours_to_budget {
                    Some(0.0) => "over now".into(),
                    Some(h) => duration_text(h * 3600.0),
                    None => "never".into(),
                };
                let _ = write!(out, "  {growth:>10}  {eta:>13}");
            }
            let labels: Vec<String> = m
                .labels
                .iter()
                .map(|l| match l.new_values_per_hour {
                    Some(r) if r > 0.0 => {
                        format!("{}={} (+{}/h)", l.name, thousands(l.values), rate(r))
                    }
                    _ => format!("{}={}", l.name, thousands(l.values)),
                })
                .collect();
            let _ = write!(out, "  {}", labels.join(", "));
            if m.folded_values > 0 {
                let _ = write!(
                    out,
                    " (+ __overflow__ in {})",
                    plural(m.folded_values, "label set", "label sets")
                );
            }
            if m.overflow_series > 0 {
                let _ = write!(
                    out,
                    " (+ overflow series: {})",
                    plural(m.overflow_series, "series", "series")
                );
            }
            out.push('\n');
        }
        if !self.top_offenders.is_empty() {
            let _ = writeln!(out, "\ntop offenders");
            for (i, o) in self.top_offenders.iter().enumerate() {
                let _ = write!(
                    out,
                    "  {}. {}: {} series ({:.1}% of all)",
                    i + 1,
                    o.metric,
                    thousands(o.series),
                    o.share * 100.0
                );
                match &o.label {
                    Some(label) => {
                        let _ = writeln!(
                            out,
                            ", label `{label}` has {}",
                            plural(o.values, "distinct value", "distinct values")
                        );
                    }
                    None => out.push('\n'),
                }
            }
        }
        let _ = writeln!(
            out,
            "\nPrometheus memory: about {} in the head block ({} series x ~3 kB per series,\n  Robust Perception's rule of thumb for Prometheus 2.20+; per scraping server and replica)",
            human_bytes(self.prometheus_memory_bytes),
            thousands(self.total_series),
        );
        out
    }
}

fn rate(per_hour: f64) -> String {
    if per_hour >= 100.0 {
        thousands(per_hour.round() as u64)
    } else {
        format!("{per_hour:.1}")
    }
}

fn duration_text(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0}s")
    } else if seconds < 7200.0 {
        format!("{:.0}m", seconds / 60.0)
    } else if seconds < 172_800.0 {
        format!("{:.1}h", seconds / 3600.0)
    } else {
        format!("{:.1}d", seconds / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::read_str;
    use cardinality_guard_core::text::Format;

    #[test]
    fn a_name_wider_than_the_column_runs_past_it() {
        let long = "n".repeat(70_000);
        let text = format!("{long} 1\nshort 2\n");
        let scrape = read_str(&text, Format::Prometheus).unwrap();
        let audit = Audit::new("t", scrape.format, scrape.bytes, &scrape.inventory, None);
        let table = audit.to_text();
        let row = table.lines().find(|l| l.starts_with("short")).unwrap();
        assert_eq!(row.find("untyped"), Some(NAME_COLUMN + 2), "{row}");
        assert!(table
            .lines()
            .any(|l| l.starts_with(&format!("{long}  untyped"))));
    }
}
