//! `audit --suggest` never writes a config that `Config::from_toml` or
//! `Config::from_file` refuses: bucket bounds normalized (`-0.0` and `0.0`
//! are one bound), a file within its 1 MiB cap; and a `--headroom` it
//! cannot honor is refused with a clear error.

mod support;

use cardinality_guard_core::config::MAX_CONFIG_FILE_BYTES;
use cardinality_guard_core::Config;
use support::{cli, cli_ok, scratch};

/// Writes `text` as an exposition file; returns its path.
fn exposition(name: &str, text: &str) -> String {
    let path = scratch(name).join("metrics.txt");
    std::fs::write(&path, text).expect("write the exposition");
    path.display().to_string()
}

/// `--suggest` on `path`: the config, checked to load both ways.
fn suggest(name: &str, path: &str, args: &[&str]) -> Config {
    let mut all = vec!["audit", path, "--suggest"];
    all.extend_from_slice(args);
    let toml = cli_ok(&all, 0);
    let config =
        Config::from_toml(&toml, "suggested.toml").unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        toml.len() as u64 <= MAX_CONFIG_FILE_BYTES,
        "{name}: {} bytes",
        toml.len()
    );
    let file = scratch(&format!("{name}-toml")).join("guard.toml");
    std::fs::write(&file, &toml).expect("write guard.toml");
    Config::from_file(&file).unwrap_or_else(|e| panic!("{name}: from_file: {e}"));
    config
}

#[test]
fn negative_zero_and_zero_are_one_bound() {
    let path = exposition(
        "zeros",
        "# TYPE h histogram\n\
         h_bucket{le=\"-0.0\"} 1\nh_bucket{le=\"0.0\"} 1\nh_bucket{le=\"-1\"} 0\n\
         h_bucket{le=\"1e308\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    );
    let config = suggest("zeros", &path, &[]);
    let buckets = config.histograms.buckets_for("h").expect("buckets kept");
    assert_eq!(buckets.bounds(), &[-1.0, 0.0, 1e308]);
}

#[test]
fn fifteen_thousand_families_fit_the_file_cap() {
    let mut text = String::new();
    for i in 0..15_000 {
        text.push_str(&format!(
            "# TYPE family_number_{i:05}_total counter\nfamily_number_{i:05}_total{{a=\"b\"}} 1\n"
        ));
    }
    let path = exposition("families", &text);
    let config = suggest("families", &path, &[]);
    assert_eq!(
        config
            .policy_for("family_number_14999_total")
            .max_series
            .get(),
        3
    );
}

#[test]
fn too_many_long_names_for_the_file_cap_is_a_clear_error() {
    let mut text = String::new();
    let long = "x".repeat(200);
    for i in 0..15_000 {
        text.push_str(&format!("family_{long}_{i:05} 1\n"));
    }
    let path = exposition("long-families", &text);
    let out = cli(&["audit", &path, "--suggest"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("1 MiB"), "{stderr}");
    assert!(out.stdout.is_empty(), "no config that would not load");
}

#[test]
fn a_headroom_out_of_range_is_refused() {
    let path = exposition("headroom", "c_total{a=\"1\"} 1\nd_total{a=\"2\"} 1\n");
    for bad in ["1e30", "NaN", "inf", "0.5", "-1"] {
        let out = cli(&["audit", &path, "--suggest", &format!("--headroom={bad}")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--headroom"), "{bad}: {stderr}");
        assert!(out.stdout.is_empty(), "{bad}");
    }
}
