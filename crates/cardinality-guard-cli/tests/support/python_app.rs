//! The Python app on the real `prometheus_client` (`tests/python/proxied_app.py`)
//! that the proxy's tests put behind the proxy.

use std::path::Path;
use std::process::Command;

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
