//! The Python app on the real `prometheus_client` (`tests/python/proxied_app.py`)
//! that the proxy's tests put behind the proxy, and what a scrape of the
//! proxy says of its budgets.

use std::path::Path;
use std::process::Command;

use super::upstream::Scrape;
use super::{eventually, spawn, wait_until_up, Proc, PATIENCE};

/// Where Debian's `python3-prometheus-client` lives (for [`super::needs`]).
pub const PROMETHEUS_CLIENT: &str = "/usr/lib/python3/dist-packages/prometheus_client";

/// Starts the app on `port` (0: any) once it answers; its process and port.
pub fn start(name: &str, port: u16) -> (Proc, u16) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/proxied_app.py");
    let app = spawn(name, |_| {
        let mut command = Command::new("/usr/bin/python3");
        command.arg(script).arg(port.to_string());
        command
    });
    let port = eventually(PATIENCE, || {
        std::fs::read_to_string(app.dir.join("port")).ok()
    })
    .unwrap_or_else(|| panic!("the python app did not start; log:\n{}", app.log()));
    let port: u16 = port.trim().parse().expect("a port");
    wait_until_up(&format!("http://127.0.0.1:{port}/metrics"), &app);
    (app, port)
}

/// Within every budget, by the guard's own self-report.
pub fn within_budgets(scrape: &Scrape) {
    for (key, series) in scrape.of("cardinality_guard_series") {
        let limit = key.replace(
            "cardinality_guard_series{",
            "cardinality_guard_series_limit{",
        );
        let limit = scrape.value(&limit).unwrap_or_else(|| panic!("{limit}"));
        assert!(
            series <= limit,
            "{key} {series} over {limit}\n{}",
            scrape.text
        );
    }
}
