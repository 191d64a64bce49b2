//! What a file says that loads but is likely not meant: a budget above the
//! global one (refused when the file sets both, a note otherwise), and a
//! `[[metrics]]` list that drops the default's HTTP rule (a note).
//!
//! The notes travel with the [`Config`] ([`Config::notes`]) and the guard's
//! report lists them ([`Report::notes`](crate::Report::notes)): they are
//! visible without a `tracing` subscriber.

use std::num::NonZeroU64;
use std::ops::Range;

use super::values::Source;
use super::{Config, ConfigError};

/// The metric of the embedded default's one `[[metrics]]` rule: the HTTP
/// layer's duration histogram.
pub(super) const HTTP_DURATION: &str = "http_server_request_duration_seconds";

/// Where the file itself set a budget (byte spans), as opposed to what it
/// inherited from the embedded default.
#[derive(Default)]
pub(super) struct SetByFile {
    /// `[global] max_series`.
    pub(super) global: Option<Range<usize>>,
    /// `[defaults] max_series`.
    pub(super) defaults: Option<Range<usize>>,
    /// `metrics[i].max_series`, one entry per rule, when the file has a
    /// `[[metrics]]` list (`None`: the rules are the base's).
    pub(super) rules: Option<Vec<Option<Range<usize>>>>,
}

/// Checks `config` (as parsed from `src`): a budget the file sets above a
/// `[global] max_series` it also sets is an error naming the file, line
/// and key; one of them inherited is a note. `base_http` is the budget the
/// base gave [`HTTP_DURATION`] through a rule (`None`: no rule).
pub(super) fn check(
    src: &Source<'_>,
    config: &Config,
    set: &SetByFile,
    base_http: Option<NonZeroU64>,
) -> Result<Vec<String>, ConfigError> {
    let global = config.global.max_series;
    let mut notes = Vec::new();
    let global_text = match &set.global {
        Some(span) => format!(
            "global.max_series = {global} (line {})",
            src.line_of(span.start)
        ),
        None => format!("global.max_series = {global} (embedded default)"),
    };
    let mut above = |budget: NonZeroU64,
                     span: Option<&Range<usize>>,
                     key: String,
                     what: String|
     -> Result<(), ConfigError> {
        if budget <= global {
            return Ok(());
        }
        match (span, &set.global) {
            (Some(span), Some(_)) => Err(src.invalid(
                span.clone(),
                key,
                format!(
                    "max_series = {budget} is above {global_text}: no metric can hold more \
                     series than the global budget; lower it or raise global.max_series"
                ),
            )),
            (span, _) => {
                let inherited = if span.is_none() {
                    " (embedded default)"
                } else {
                    ""
                };
                notes.push(format!(
                    "{what} allows {budget} series{inherited}, above {global_text}"
                ));
                Ok(())
            }
        }
    };
    above(
        config.defaults.max_series,
        set.defaults.as_ref(),
        "defaults.max_series".into(),
        "[defaults]".into(),
    )?;
    for (i, rule) in config.metrics.iter().enumerate() {
        let Some(budget) = rule.max_series else {
            continue;
        };
        let span = set
            .rules
            .as_ref()
            .and_then(|r| r.get(i))
            .and_then(Option::as_ref);
        above(
            budget,
            span,
            format!("metrics[{i}].max_series"),
            format!("metric rule {}", rule.pattern),
        )?;
    }
    if let (Some(_), Some(was)) = (&set.rules, base_http) {
        if config.rule_index(HTTP_DURATION).is_none() {
            notes.push(format!(
                "the [[metrics]] list of {} replaces the default's, which gave \
                 {HTTP_DURATION} max_series = {was}; it now gets [defaults] max_series = {} \
                 — add the rule back if you use the HTTP layer",
                src.origin, config.defaults.max_series
            ));
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn a_rule_above_an_inherited_global_is_a_note_naming_both() {
        let config = Config::from_toml(
            "[[metrics]]\nmatch = \"app_*\"\nmax_series = 9223372036854775807\n",
            "guard.toml",
        )
        .unwrap();
        assert!(config.notes().contains(
            &"metric rule app_* allows 9223372036854775807 series, above \
              global.max_series = 50000 (embedded default)"
                .to_owned()
        ));
    }

    #[test]
    fn inherited_budgets_above_a_global_the_file_sets_are_notes() {
        let config = Config::from_toml("[global]\nmax_series = 1000\n", "guard.toml").unwrap();
        assert_eq!(
            config.notes(),
            [
                "[defaults] allows 2000 series (embedded default), above global.max_series = \
                 1000 (line 2)",
                "metric rule http_server_request_duration_seconds allows 5000 series \
                 (embedded default), above global.max_series = 1000 (line 2)",
            ]
        );
    }

    #[test]
    fn budgets_within_the_global_one_say_nothing() {
        assert!(Config::from_toml("[defaults]\nmax_series = 50000\n", "g")
            .unwrap()
            .notes()
            .is_empty());
        assert!(Config::embedded().notes().is_empty());
    }

    #[test]
    fn a_list_keeping_the_http_metric_under_a_pattern_is_no_note() {
        let toml = "[[metrics]]\nmatch = \"http_*\"\nmax_series = 100\n";
        assert!(Config::from_toml(toml, "g").unwrap().notes().is_empty());
        let dropped = "[[metrics]]\nmatch = \"app_*\"\nmax_series = 100\n";
        assert_eq!(Config::from_toml(dropped, "g").unwrap().notes().len(), 1);
        // No list: the default's rule stays.
        let kept = "[defaults]\nmax_series = 100\n";
        assert!(Config::from_toml(kept, "g").unwrap().notes().is_empty());
    }
}
