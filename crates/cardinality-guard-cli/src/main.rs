//! `cardinality-guard audit <URL | FILE | ->`: see the crate docs and the README.
//!
//! Exit status: 0 fine, 1 a `--max-series` / `--max-total` gate exceeded,
//! 2 unreadable or malformed input (or a usage error).

use std::process::ExitCode;

fn main() -> ExitCode {
    cardinality_guard_cli::run(std::env::args_os())
}
