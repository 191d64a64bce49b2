//! Where a guard's series live, chosen once when it is built: in the guard
//! itself, which renders them and its self-report ([`OwnStore`], the
//! Prometheus path), or in the recorder under it, which receives the
//! admitted registrations and the self-report as metrics ([`InnerStore`],
//! [`GuardLayer`](crate::GuardLayer)). One registration path serves both.

use std::sync::Arc;

use metrics::{Counter, Gauge, Key, KeyName, Level, Metadata, Recorder, SharedString};

use crate::series::{Handle, Storage};
use crate::shape::HistogramStore;
use crate::vocabulary::MetricKind;

/// Metadata for the guard's own registrations with an inner recorder.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Where series live, and where the self-report goes.
pub(crate) trait Store: Send + Sync {
    /// Whether the guard stores and renders its series itself: only then
    /// can series expire, and histograms take their shape from the config.
    fn owns_series(&self) -> bool;

    /// The storage of a new series: `key` gives its key as it renders
    /// (built only where needed), `histogram` how it renders when the
    /// guard owns it.
    fn storage(
        &self,
        kind: MetricKind,
        key: &dyn Fn() -> Key,
        histogram: Option<&HistogramStore>,
    ) -> Storage;

    /// A self-report counter: a no-op where the guard renders its
    /// self-report from its own tables.
    fn counter(&self, key: &Key) -> Counter;

    /// A self-report gauge (a no-op where the guard renders it).
    fn gauge(&self, key: &Key) -> Gauge;

    /// Gives a self-report metric its `# HELP` text.
    fn describe(&self, kind: MetricKind, name: &'static str, help: &'static str);
}

/// The Prometheus path: the guard keeps the values.
#[derive(Debug)]
pub(crate) struct OwnStore;

impl Store for OwnStore {
    fn owns_series(&self) -> bool {
        true
    }

    fn storage(
        &self,
        kind: MetricKind,
        _: &dyn Fn() -> Key,
        histogram: Option<&HistogramStore>,
    ) -> Storage {
        match kind {
            MetricKind::Counter => Storage::Counter(0.into()),
            MetricKind::Gauge => Storage::Gauge(0.0_f64.to_bits().into()),
            MetricKind::Histogram => {
                let distribution = histogram.map_or_else(
                    || HistogramStore::summary().distribution(),
                    HistogramStore::distribution,
                );
                Storage::Histogram(Box::new(distribution.into()))
            }
        }
    }

    fn counter(&self, _: &Key) -> Counter {
        Counter::noop()
    }

    fn gauge(&self, _: &Key) -> Gauge {
        Gauge::noop()
    }

    fn describe(&self, _: MetricKind, _: &'static str, _: &'static str) {}
}

/// Over another recorder: it keeps the values and renders the self-report.
pub(crate) struct InnerStore(pub(crate) Arc<dyn Recorder + Send + Sync>);

impl Store for InnerStore {
    fn owns_series(&self) -> bool {
        false
    }

    fn storage(
        &self,
        kind: MetricKind,
        key: &dyn Fn() -> Key,
        _: Option<&HistogramStore>,
    ) -> Storage {
        let key = &key();
        let handle = match kind {
            MetricKind::Counter => Handle::Counter(self.0.register_counter(key, &METADATA)),
            MetricKind::Gauge => Handle::Gauge(self.0.register_gauge(key, &METADATA)),
            MetricKind::Histogram => Handle::Histogram(self.0.register_histogram(key, &METADATA)),
        };
        Storage::Inner(Box::new(handle))
    }

    fn counter(&self, key: &Key) -> Counter {
        self.0.register_counter(key, &METADATA)
    }

    fn gauge(&self, key: &Key) -> Gauge {
        self.0.register_gauge(key, &METADATA)
    }

    fn describe(&self, kind: MetricKind, name: &'static str, help: &'static str) {
        let (name, help) = (KeyName::from_const_str(name), SharedString::const_str(help));
        match kind {
            MetricKind::Counter => self.0.describe_counter(name, None, help),
            MetricKind::Gauge => self.0.describe_gauge(name, None, help),
            MetricKind::Histogram => self.0.describe_histogram(name, None, help),
        }
    }
}
