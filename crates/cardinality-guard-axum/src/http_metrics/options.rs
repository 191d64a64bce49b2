//! What the layer records, beyond its defaults: routes left out, the label
//! keys, body sizes.

/// The label keys the layer writes. Default: [`LabelNames::Short`].
///
/// ```
/// use cardinality_guard_axum::http_metrics::LabelNames;
///
/// let otel = LabelNames::OpenTelemetry;
/// assert_eq!(
///     [otel.method(), otel.route(), otel.status()],
///     ["http_request_method", "http_route", "http_response_status_code"]
/// );
/// assert_eq!(LabelNames::default().route(), "route");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LabelNames {
    /// `method`, `route`, `status`.
    #[default]
    Short,
    /// The OpenTelemetry HTTP semantic conventions' attributes, written the
    /// Prometheus way: `http_request_method`, `http_route`,
    /// `http_response_status_code`.
    OpenTelemetry,
}

impl LabelNames {
    /// The key of the method label.
    pub const fn method(self) -> &'static str {
        match self {
            LabelNames::Short => "method",
            LabelNames::OpenTelemetry => "http_request_method",
        }
    }

    /// The key of the route template label.
    pub const fn route(self) -> &'static str {
        match self {
            LabelNames::Short => "route",
            LabelNames::OpenTelemetry => "http_route",
        }
    }

    /// The key of the status code label.
    pub const fn status(self) -> &'static str {
        match self {
            LabelNames::Short => "status",
            LabelNames::OpenTelemetry => "http_response_status_code",
        }
    }
}

/// A layer's settings, shared by every service it builds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub(crate) excluded: Vec<Box<str>>,
    pub(crate) names: LabelNames,
    pub(crate) body_sizes: bool,
}

impl Options {
    /// Whether requests matched to `route` go unrecorded.
    pub(crate) fn excludes(&self, route: &str) -> bool {
        self.excluded.iter().any(|r| &**r == route)
    }
}
