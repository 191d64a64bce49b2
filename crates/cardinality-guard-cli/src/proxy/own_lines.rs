//! The proxy's own lines, after the guard's exposition and its
//! `cardinality_guard_*` self-report: what the upstream's failures, the
//! bound on inputs and the staleness interval did.

use std::fmt::Write;

use super::failure::Reason;

/// What the proxy counts, since it started.
#[derive(Debug, Default, Clone)]
pub(crate) struct Counts {
    /// Failed scrapes of the upstream, by [`Reason::index`].
    pub(crate) failures: [u64; 5],
    /// Scrapes of the upstream applied.
    pub(crate) scrapes: u64,
    /// Inputs forgotten after the staleness interval.
    pub(crate) forgotten: u64,
}

/// What the state per input says of itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tracked {
    /// Inputs tracked now.
    pub(crate) inputs: usize,
    /// Their state's bytes.
    pub(crate) bytes: usize,
    /// Samples dropped so far, beyond `--max-inputs`.
    pub(crate) untracked: u64,
    /// Samples ignored so far, of an input seen already in the same scrape.
    pub(crate) duplicates: u64,
    /// Samples dropped so far, a count in them NaN, infinite or negative.
    pub(crate) unusable: u64,
}

/// Appends the proxy's families to `out` (which ends with a newline or is
/// empty).
pub(crate) fn write(out: &mut String, counts: &Counts, inputs: &Tracked) {
    family(
        out,
        "cardinality_guard_proxy_upstream_failures_total",
        "counter",
        "Scrapes of the proxy answered 503 because the upstream failed, by reason; nothing of them was applied.",
    );
    for reason in Reason::ALL {
        let _ = writeln!(
            out,
            "cardinality_guard_proxy_upstream_failures_total{{reason=\"{}\"}} {}",
            reason.label(),
            counts.failures[reason.index()]
        );
    }
    let mut one = |name: &str, kind: &str, help: &str, value: u64| {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    };
    one(
        "cardinality_guard_proxy_upstream_scrapes_total",
        "counter",
        "Scrapes of the upstream read, parsed and applied in full.",
        counts.scrapes,
    );
    one(
        "cardinality_guard_proxy_inputs",
        "gauge",
        "Upstream input series whose state (last values) the proxy keeps.",
        inputs.inputs as u64,
    );
    one(
        "cardinality_guard_proxy_inputs_bytes",
        "gauge",
        "Bytes the state of the tracked input series holds (the map with its spare room, histograms' values).",
        inputs.bytes as u64,
    );
    one(
        "cardinality_guard_proxy_untracked_samples_total",
        "counter",
        "Upstream samples dropped (neither tracked nor forwarded) because --max-inputs inputs were tracked.",
        inputs.untracked,
    );
    one(
        "cardinality_guard_proxy_duplicate_samples_total",
        "counter",
        "Upstream samples ignored because their series was seen already in the same scrape (the first one counts).",
        inputs.duplicates,
    );
    one(
        "cardinality_guard_proxy_unusable_samples_total",
        "counter",
        "Upstream samples dropped because a count in them (a counter, a histogram's bucket or count, a summary's count) is NaN, infinite or negative.",
        inputs.unusable,
    );
    one(
        "cardinality_guard_proxy_forgotten_inputs_total",
        "counter",
        "Input series forgotten after --staleness unseen; seen again, they count as new.",
        counts.forgotten,
    );
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
