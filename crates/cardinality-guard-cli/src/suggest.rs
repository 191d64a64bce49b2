//! `--suggest`: a complete `guard.toml` for the service that was audited,
//! written by the one suggestion engine of the core
//! ([`SuggestedConfig::from_observations`], the engine behind the guard's own
//! `?format=toml` too), from one [`Observation`] per metric (`observe.rs`)
//! and the running config as far as the scrape tells it (the embedded
//! default, plus a guarded target's budgets and label limits). Its rules
//! and its headroom (×1.25) are the engine's: there is no second rule set.
//!
//! - **A guarded target** (it exports the guard's self-report): every metric
//!   gets an entry, as in the guard's own suggestion; the self-report gives
//!   each budget, label limit, fold count and label demand, so the two
//!   suggestions agree. The `cardinality_guard_*` families get none.
//! - **A target without the guard**: the file is for the proxy
//!   (`cardinality-guard proxy --upstream URL --listen ADDR --config
//!   guard.toml`) in front of a service that can't link the library
//!   (Python, JVM, Go), or for the library in a Rust service; its header
//!   says so. Only the metrics with a label that grows get an entry: one
//!   scrape shows at least 20 distinct values of it
//!   ([`GROWING_VALUES`](crate::observe::GROWING_VALUES)), or a `--watch`
//!   saw it gain values. Process and runtime metrics (`process_*`,
//!   `python_*`, `go_*`, `jvm_*`) have no such label and fall under
//!   `[defaults]`. A label whose values are mostly raw paths (starting with
//!   `/`) gets a note in the header: the fix is a route template in the code.
//! - `_created` samples and `x_created` gauge families are never entries.
//! - Histograms keep the buckets they were observed with
//!   (`[[histograms.per_metric]]`). When a summary is seen,
//!   `[histograms] buckets = "summary"`, so histograms without an entry
//!   render as summaries as they did.
//!
//! The file always loads with `Config::from_toml` (the core's writer escapes
//! every name and saturates every number at what the config takes) and fits
//! the config's 1 MiB cap ([`MAX_CONFIG_FILE_BYTES`]): when its comments make
//! it larger, it goes without them; when it is still larger, there is no
//! suggestion but an error.

use std::fmt::Write as _;

use cardinality_guard_core::config::MAX_CONFIG_FILE_BYTES;
use cardinality_guard_core::text::Kind;
use cardinality_guard_core::{Config, Observation, SuggestedConfig, SuggestedHistograms};

use crate::growth::Growth;
use crate::inventory::Inventory;
use crate::observe::{observe, Observed, GROWING_VALUES};
use crate::read_error::human_bytes;
use crate::report::{plural, thousands};
use crate::self_report::is_self_report;

/// The guard.toml for what `inventory` holds (read from `source`, watched
/// into `growth`): with its comments if that fits [`MAX_CONFIG_FILE_BYTES`],
/// else without; an error when even that does not fit.
pub(crate) fn suggest(
    inventory: &Inventory,
    source: &str,
    growth: Option<&Growth>,
) -> Result<String, String> {
    let (observed, running) = observe(inventory, growth);
    let observations: Vec<Observation> = observed.iter().map(|o| o.observation.clone()).collect();
    let series = inventory
        .self_report
        .global_series
        .unwrap_or(inventory.total_series);
    let toml = SuggestedConfig::from_observations(series, &observations, &running)
        .align_keys(true)
        .header(header(inventory, source, &observed))
        .histograms(histograms(inventory))
        .to_toml();
    let fits = |toml: &str| toml.len() as u64 <= MAX_CONFIG_FILE_BYTES;
    if fits(&toml) {
        return Ok(toml);
    }
    let bare = without_comments(&toml);
    if fits(&bare) {
        return Ok(bare);
    }
    Err(format!(
        "the suggested guard.toml would be {} ({} [[metrics]] entries), more than the {} a \
         config file may hold (1 MiB); no suggestion written",
        human_bytes(bare.len() as u64),
        thousands(observed.len() as u64),
        human_bytes(MAX_CONFIG_FILE_BYTES),
    ))
}

/// What the file is for, where it comes from, and the raw-path notes.
fn header(inventory: &Inventory, source: &str, observed: &[Observed<'_>]) -> String {
    let mut out = format!(
        "guard.toml suggested by `cardinality-guard audit --suggest` from {source}\n\
         ({} series in {}).\n",
        thousands(inventory.total_series),
        plural(
            inventory.families.len() as u64,
            "metric family",
            "metric families"
        ),
    );
    if inventory.self_report.guarded {
        out.push_str(
            "The target runs cardinality-guard: its self-report gives each metric's budget,\n\
             label limits, folds and label demand, so this is the advice of its own report\n\
             (`/debug/cardinality?format=toml`). Budgets are the engine's (x1.25 headroom).",
        );
    } else {
        let _ = write!(
            out,
            "The target does not run cardinality-guard. This file is for the proxy in front\n\
             of a service that can't link the library (Python, JVM, Go):\n\
             \x20 cardinality-guard proxy --upstream {source} --listen ADDR --config guard.toml\n\
             or for the library in a Rust service. Only the metrics with a label that grows\n\
             ({GROWING_VALUES}+ distinct values in one scrape, or new values during --watch) get an\n\
             entry: {} of {}; the others (process and runtime metrics among them) fall\n\
             under [defaults]. Budgets are the engine's (x1.25 headroom).",
            observed.len(),
            inventory
                .families
                .values()
                .filter(|f| !is_self_report(&f.name))
                .count(),
        );
    }
    for o in observed {
        for (label, stats) in &o.family.labels {
            let values = stats.values.len() as u64;
            if values >= GROWING_VALUES && stats.paths * 2 >= values {
                let _ = write!(
                    out,
                    "\n{}: the label `{label}` holds raw paths ({} distinct): the fix is a\n\
                     route template in the code (`/orders/{{id}}`, not `/orders/42`); meanwhile\n\
                     its entry below caps it (a label limit, or its budget).",
                    o.observation.name,
                    thousands(values)
                );
            }
        }
    }
    out
}

/// `[histograms]`: the buckets each histogram was seen with; summaries for
/// the others when a summary was seen (as they rendered), else the embedded
/// default's buckets.
fn histograms(inventory: &Inventory) -> SuggestedHistograms {
    let families = || {
        inventory
            .families
            .values()
            .filter(|f| !is_self_report(&f.name))
    };
    let mut histograms = if families().any(|f| f.kind == Kind::Summary) {
        SuggestedHistograms::new().summaries().note(
            "A summary was seen, so histograms without an entry below render as\n\
             summaries (7 quantiles, 9 series per label set).",
        )
    } else {
        match Config::embedded().histograms.buckets {
            Some(b) => SuggestedHistograms::new().buckets(b.bounds()),
            None => SuggestedHistograms::new().summaries(),
        }
    };
    for f in families() {
        if matches!(f.kind, Kind::Histogram | Kind::GaugeHistogram) && !f.buckets.is_empty() {
            let bounds: Vec<f64> = f.buckets.iter().map(|b| b.0).collect();
            histograms = histograms.per_metric(f.name.as_str(), &bounds);
        }
    }
    histograms
}

/// `toml` without its comments: comment lines dropped, trailing comments
/// cut (a `#` inside a quoted string is no comment).
fn without_comments(toml: &str) -> String {
    let mut out = String::with_capacity(toml.len());
    for line in toml.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let code = match comment_start(line) {
            Some(i) => line[..i].trim_end(),
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Where the comment of `line` starts, outside its strings.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '#' => return Some(i),
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
