//! Resident set size of this process, shared by the demo and the memory
//! flood bench (`#[path = ".../shared/rss.rs"] mod rss;`).
#![allow(unreachable_pub)] // `pub` for the examples, benches and tests that include this file

/// Resident set size of this process, in KiB (0 where /proc is missing).
pub fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
