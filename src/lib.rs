#![doc = include_str!("../README.md")]

// Everything of the core crate, including its re-exports of `metrics`,
// `metrics_util` and `prometheus_exporter` (the exporter types in its API).
pub use cardinality_guard_core::*;

#[cfg(feature = "axum")]
#[doc(inline)]
pub use cardinality_guard_axum as axum;
