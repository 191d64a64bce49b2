//! What the page says above the table when the guard noticed a
//! misconfiguration: the `[[metrics]]` rules that matched no metric so far
//! ([`Report::unmatched_rules`]) and the notes ([`Report::notes`]: from
//! loading the config, and problems seen at run time). Nothing when there is
//! nothing to say. Plain paragraphs and a list: no style of their own (the
//! page's style sheet is allowed by its hash).

use std::fmt::Write;

use cardinality_guard_core::Report;

use super::escape::escape;

/// The notices of `report`, as HTML (empty when there are none).
pub(super) fn notices(report: &Report) -> String {
    let mut out = String::new();
    if !report.unmatched_rules.is_empty() {
        let rules: Vec<String> = report
            .unmatched_rules
            .iter()
            .map(|r| format!("<code>{}</code>", escape(r)))
            .collect();
        let _ = writeln!(
            out,
            "<p id=\"unmatched-rules\"><strong>[[metrics]] rules that matched no metric so \
             far</strong> (a typo, or a rule another one always wins over): {}</p>",
            rules.join(", ")
        );
    }
    if !report.notes.is_empty() {
        let items: String = report
            .notes
            .iter()
            .map(|n| format!("<li>{}</li>", escape(n)))
            .collect();
        let _ = writeln!(
            out,
            "<div id=\"notes\"><strong>Notes</strong><ul>{items}</ul></div>"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cardinality_guard_core::{Config, PrometheusGuard};

    fn report(toml: &str, metric: &str) -> Report {
        let config = Config::from_toml(toml, "guard.toml").unwrap();
        let (recorder, exporter) = PrometheusGuard::builder(config)
            .upkeep_interval(None)
            .build()
            .unwrap();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!(metric.to_owned()).increment(1)
        });
        exporter.report()
    }

    #[test]
    fn unmatched_rules_and_notes_are_shown_escaped() {
        let toml = "[[metrics]]\nmatch = \"app_users_*\"\n\n[[metrics]]\nmatch = \"jobs_total\"\n";
        let shown = notices(&report(toml, "jobs_total"));
        assert!(
            shown.contains(
                "<p id=\"unmatched-rules\"><strong>[[metrics]] rules that matched no metric so \
                 far</strong> (a typo, or a rule another one always wins over): \
                 <code>app_users_*</code></p>"
            ),
            "{shown}"
        );
        // The note on the dropped HTTP rule, its quotes escaped.
        assert!(
            shown.contains("<div id=\"notes\"><strong>Notes</strong><ul><li>the [[metrics]] list of guard.toml"),
            "{shown}"
        );
        assert!(!shown.contains(" style="), "{shown}");
    }

    #[test]
    fn nothing_to_say_says_nothing() {
        assert_eq!(notices(&report("", "jobs_total")), "");
    }
}
