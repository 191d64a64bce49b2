//! The README's `--config examples/guard.toml` works: the file loads, and it
//! is the embedded config plus a label limit on the logins' `user` and a
//! 15-minute idle timeout for every metric (histograms included).

use std::path::Path;

use cardinality_guard::Config;

#[test]
fn examples_guard_toml_loads_and_limits_the_user_label() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/guard.toml");
    let config = Config::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let embedded = Config::embedded();
    assert_eq!(config.global, embedded.global);
    assert_eq!(config.histograms, embedded.histograms);
    let logins = config.policy_for("app_logins_total");
    assert_eq!(logins.max_series.get(), 1000);
    assert_eq!(logins.label_limits.get("user").map(|l| l.get()), Some(500));
    let mut requests = embedded.policy_for("http_server_requests_total");
    assert_eq!(requests.idle_timeout, None, "off in the embedded config");
    requests.idle_timeout = Some(std::time::Duration::from_secs(15 * 60));
    assert_eq!(config.policy_for("http_server_requests_total"), requests);
    assert_eq!(
        config.idle_timeout_for("http_server_request_duration_seconds"),
        Some(std::time::Duration::from_secs(15 * 60)),
        "histograms expire like any series"
    );
}
