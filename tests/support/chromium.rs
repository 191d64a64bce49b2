//! Finding a headless Chromium for the report-page tests.
#![allow(dead_code)] // each test binary uses a different subset
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

/// The Chromium binary to run, if one is installed. Without one, panics
/// when `CI` is set (`.ci/test` installs it) and otherwise says the test
/// skipped.
pub fn chromium_or_skip() -> Option<String> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|bin| {
            std::process::Command::new(bin)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_owned);
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required in CI (.ci/test installs it)"
        );
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
    }
    found
}
