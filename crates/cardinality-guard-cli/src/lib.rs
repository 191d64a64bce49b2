//! placeholder
pub mod exposition;
pub mod inventory;
