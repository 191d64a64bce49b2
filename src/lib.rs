#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub use cardinality_guard_core::*;

/// HTTP metrics for axum and the report endpoint (feature `axum`, on by default).
#[cfg(feature = "axum")]
pub use cardinality_guard_axum as axum;
