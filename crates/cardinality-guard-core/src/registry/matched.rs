//! Which `[[metrics]]` rules of the running config decided the policy of a
//! tracked metric so far: the others are listed in the report
//! ([`Report::unmatched_rules`](crate::Report::unmatched_rules)) and counted
//! by `cardinality_guard_config_unmatched_rules`.
//!
//! A rule matches a metric when it is the rule that decides its policy (as
//! [`Config::policy_for`] chooses: an exact match, else the longest
//! pattern, else the first in file order): a rule that another one always
//! shadows counts as unmatched. Marked when a metric is created, computed
//! again over the tracked metrics at a reload: never on the hot path.
//!
//! The embedded default's own rule (`http_server_request_duration_seconds`,
//! 5000 series), inherited or restated as is, is never listed: it serves
//! the HTTP layer, and an app without it has no such metric.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Config;

/// One flag per rule of the config it was made for.
#[derive(Debug)]
pub(crate) struct MatchedRules {
    matched: Vec<AtomicBool>,
}

impl MatchedRules {
    /// The rules of `config` that some metric of `names` matches (and the
    /// embedded default's rule).
    pub(crate) fn new<'n>(config: &Config, names: impl IntoIterator<Item = &'n str>) -> Self {
        let default = Config::embedded().metrics;
        let rules = MatchedRules {
            matched: config
                .metrics
                .iter()
                .map(|r| AtomicBool::new(default.contains(r)))
                .collect(),
        };
        for name in names {
            rules.mark(config.rule_index(name));
        }
        rules
    }

    /// Marks the rule at `index` (`None`: none decided) as matched; whether
    /// it was not before.
    pub(crate) fn mark(&self, index: Option<usize>) -> bool {
        index
            .and_then(|i| self.matched.get(i))
            .is_some_and(|m| !m.swap(true, Ordering::Relaxed))
    }

    /// How many rules matched nothing.
    pub(crate) fn unmatched_count(&self) -> usize {
        self.matched
            .iter()
            .filter(|m| !m.load(Ordering::Relaxed))
            .count()
    }

    /// The `match` texts of the rules of `config` (the config these flags
    /// were made for) that matched nothing, in file order.
    pub(crate) fn unmatched(&self, config: &Config) -> Vec<String> {
        config
            .metrics
            .iter()
            .zip(&self.matched)
            .filter(|(_, m)| !m.load(Ordering::Relaxed))
            .map(|(rule, _)| rule.pattern.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_of(toml: &str) -> Config {
        Config::from_toml(toml, "guard.toml").unwrap()
    }

    #[test]
    fn a_shadowed_rule_counts_as_unmatched() {
        let config = config_of(
            "[[metrics]]\nmatch = \"app_*\"\n\n[[metrics]]\nmatch = \"app_users_*\"\n\n\
             [[metrics]]\nmatch = \"*_total\"\n",
        );
        // `app_users_*` wins for app_users_total (longer than `app_*`).
        let rules = MatchedRules::new(&config, ["app_users_total", "app_hits"]);
        assert_eq!(rules.unmatched(&config), ["*_total"]);
        assert_eq!(rules.unmatched_count(), 1);
        let none = MatchedRules::new(&config, ["db_seconds"]);
        assert_eq!(none.unmatched(&config), ["app_*", "app_users_*", "*_total"]);
    }

    #[test]
    fn the_embedded_defaults_rule_is_never_listed() {
        let config = Config::default();
        assert!(MatchedRules::new(&config, []).unmatched(&config).is_empty());
        // Restated with another budget, it is the user's own rule.
        let own = config_of("[[metrics]]\nmatch = \"http_server_request_duration_seconds\"\n");
        let rules = MatchedRules::new(&own, []);
        assert_eq!(
            rules.unmatched(&own),
            ["http_server_request_duration_seconds"]
        );
    }

    #[test]
    fn marking_says_whether_it_is_new() {
        let config = config_of("[[metrics]]\nmatch = \"a\"\n");
        let rules = MatchedRules::new(&config, []);
        assert!(rules.mark(Some(0)));
        assert!(!rules.mark(Some(0)));
        assert!(!rules.mark(None));
        assert!(!rules.mark(Some(7)));
        assert!(rules.unmatched(&config).is_empty());
    }
}
