//! `cardinality-guard audit <URL | FILE | ->` and `cardinality-guard proxy
//! --upstream URL --listen ADDR`: see the crate docs and the README.
//!
//! Exit status: 0 fine (the proxy: stopped by `SIGTERM` or `Ctrl-C`), 1 a
//! `--max-series` / `--max-total` gate exceeded, 2 unreadable or malformed
//! input, a usage error, or a proxy that can't start.

use std::process::ExitCode;

fn main() -> ExitCode {
    cardinality_guard_cli::run(std::env::args_os())
}
