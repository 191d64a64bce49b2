pub use cardinality_guard_core::*;
