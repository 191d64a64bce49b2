//! Problems seen at run time that a `tracing` event alone would hide from an
//! app without a subscriber: the guard lists them in its report
//! ([`Report::notes`](crate::Report::notes)) and counts them in the gauge
//! `cardinality_guard_problems{problem}` ([`PROBLEMS`]).
//!
//! Whoever sees a problem (the HTTP layer of `cardinality-guard-axum`, which
//! has no handle on the guard) reports it through the `metrics` facade, as
//! it records everything else: [`Problem::report`] registers the counter
//! `cardinality_guard_problems{problem="..."}`. That name is in the guard's
//! reserved namespace: the guard never stores it as a metric, it counts the
//! problem instead. Only the known problems ([`Problem::ALL`]) are counted
//! (any other `problem` value is refused as a reserved name is, reason
//! `invalid`), so user code can at most raise a known problem, never add a
//! line to the self-report or hide a problem.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::Key;

/// `cardinality_guard_problems{problem}`: how many times each run-time
/// problem ([`Problem`]) was reported; one line per known
/// problem, always rendered, 0 when none. Also named
/// [`self_report::PROBLEMS`](crate::self_report::PROBLEMS), with the guard's
/// other metrics.
pub const PROBLEMS: &str = "cardinality_guard_problems";

/// The label of [`PROBLEMS`] that names the problem.
pub const PROBLEM_LABEL: &str = "problem";

/// A misconfiguration seen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Problem {
    /// An `HttpMetricsLayer` wraps the whole axum `Router` (not added with
    /// `Router::layer`): it can't see the matched route, so it labels every
    /// request `route="unmatched"`. `problem="http_layer_outside_router"`.
    HttpLayerOutsideRouter,
}

impl Problem {
    /// Every problem, in the order the self-report renders them.
    pub const ALL: [Problem; 1] = [Problem::HttpLayerOutsideRouter];

    /// How many there are.
    pub const COUNT: usize = Problem::ALL.len();

    /// The value of its `problem` label.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Problem::HttpLayerOutsideRouter => "http_layer_outside_router",
        }
    }

    /// Tells the guard installed as the current `metrics` recorder (the
    /// global one, or the thread's local one) that this problem happened:
    /// one report. Without a guard, the recorder gets an ordinary counter
    /// `cardinality_guard_problems{problem}`.
    ///
    /// ```
    /// use cardinality_guard_core::{Config, Problem, PrometheusGuard};
    ///
    /// let (recorder, exporter) = PrometheusGuard::builder(Config::default()).build()?;
    /// metrics::with_local_recorder(&recorder, || Problem::HttpLayerOutsideRouter.report());
    /// let render = exporter.render();
    /// assert!(render.contains("cardinality_guard_problems{problem=\"http_layer_outside_router\"} 1"));
    /// assert!(exporter.report().notes[0].contains("route=\"unmatched\""));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report(self) {
        metrics::counter!(PROBLEMS, PROBLEM_LABEL => self.as_str()).increment(1);
    }

    /// The problem a registration of `key` reports, if it is one.
    pub(crate) fn reported_by(key: &Key) -> Option<Problem> {
        if key.name() != PROBLEMS {
            return None;
        }
        let mut labels = key.labels();
        let label = labels.next().filter(|_| labels.next().is_none())?;
        if label.key() != PROBLEM_LABEL {
            return None;
        }
        Problem::ALL
            .into_iter()
            .find(|p| p.as_str() == label.value())
    }

    /// What the report says of it, reported `times`.
    fn note(self, times: u64) -> String {
        let said = match self {
            Problem::HttpLayerOutsideRouter => {
                "an HttpMetricsLayer wraps the whole Router, so it can't see the matched route \
                 and labels every request route=\"unmatched\": add it with Router::layer, after \
                 all routes and the fallback"
            }
        };
        let times = match times {
            1 => "once".to_owned(),
            n => format!("{n} times"),
        };
        format!("{said} (problem=\"{}\", reported {times})", self.as_str())
    }
}

/// How many times each problem was reported.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    counts: [AtomicU64; Problem::COUNT],
}

impl Problems {
    /// Counts one report of `problem`.
    pub(crate) fn count(&self, problem: Problem) {
        self.counts[problem as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Each problem and its reports, in [`Problem::ALL`] order.
    pub(crate) fn counts(&self) -> [(Problem, u64); Problem::COUNT] {
        Problem::ALL.map(|p| (p, self.counts[p as usize].load(Ordering::Relaxed)))
    }

    /// One note per problem reported.
    pub(crate) fn notes(&self) -> impl Iterator<Item = String> {
        self.counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(p, n)| p.note(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::Label;

    #[test]
    fn only_the_known_problems_under_their_one_label_are_reports() {
        let key = |labels: Vec<Label>| Key::from_parts(PROBLEMS, labels);
        let known = key(vec![Label::new("problem", "http_layer_outside_router")]);
        assert_eq!(
            Problem::reported_by(&known),
            Some(Problem::HttpLayerOutsideRouter)
        );
        for other in [
            key(vec![]),
            key(vec![Label::new("problem", "made_up")]),
            key(vec![Label::new("kind", "http_layer_outside_router")]),
            key(vec![
                Label::new("problem", "http_layer_outside_router"),
                Label::new("user", "ada"),
            ]),
            Key::from_parts(
                "cardinality_guard_problem",
                vec![Label::new("problem", "http_layer_outside_router")],
            ),
        ] {
            assert_eq!(Problem::reported_by(&other), None, "{other:?}");
        }
    }
}
