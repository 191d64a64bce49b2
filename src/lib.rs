#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub use cardinality_guard_core::*;
