//! Registrations from outside metrics-rs ([`Ingest`](crate::Ingest)):
//! through the same path as `metrics` registrations, and what a folded
//! handle the caller keeps tells `keep = "busiest"`.

use std::sync::Arc;

use metrics::Key;

use super::Registry;
use crate::config::Keep;
use crate::flavor::Flavor;
use crate::normalize::metric_name;
use crate::series::Series;

impl Registry {
    /// The series an ingested registration of `key` goes to, as
    /// [`counter`](Self::counter) decides it (`None`: dropped). `texts`: an
    /// ingested histogram's bounds or summary's quantiles (checked by the
    /// caller), those of a new metric; a metric keeps its first ones, and
    /// the caller maps others onto them (see `Ingest::histogram`).
    pub(crate) fn ingested(
        &self,
        flavor: Flavor,
        texts: &[&str],
        key: &Key,
    ) -> Option<Arc<Series>> {
        self.register((flavor, texts), key, |s| Some(s.clone()), || None)
    }

    /// `weight` updates of the label set `key` of an ingested metric, made
    /// through a folded handle (see `Ingest::folded_updates`): whether
    /// upkeep promoted it. The key is made only for a metric that keeps
    /// `busiest`.
    pub(crate) fn folded_updates(
        &self,
        name: &str,
        key: impl FnOnce() -> Key,
        weight: u32,
    ) -> bool {
        let Some(name) = metric_name(name, self.env.bounds.name_length()) else {
            return false;
        };
        let Some(metric) = self.metrics.get(&*name).map(|m| m.clone()) else {
            return false;
        };
        let ingested = matches!(
            metric.flavor,
            Flavor::FloatCounter | Flavor::Buckets | Flavor::Summary
        );
        ingested && metric.keep() == Keep::Busiest && metric.folded_updates(&key(), weight)
    }
}
