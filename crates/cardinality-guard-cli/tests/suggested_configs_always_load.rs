//! `audit --suggest` never writes a config that `Config::from_toml` or
//! `Config::from_file` refuses: bucket bounds normalized (`-0.0` and `0.0`
//! are one bound), a file within its 1 MiB cap. The engine's headroom is
//! the only one: `--headroom` and `--label-limit` are gone (usage errors).

mod support;

use cardinality_guard_core::config::MAX_CONFIG_FILE_BYTES;
use cardinality_guard_core::Config;
use support::{cli, cli_ok, scratch, Scratch};

/// Writes `text` as an exposition file: its directory (gone when dropped) and path.
fn exposition(name: &str, text: &str) -> (Scratch, String) {
    let dir = scratch(name);
    let path = dir.join("metrics.txt");
    std::fs::write(&path, text).expect("write the exposition");
    let path = path.display().to_string();
    (dir, path)
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
    let dir = scratch(&format!("{name}-toml"));
    let file = dir.join("guard.toml");
    std::fs::write(&file, &toml).expect("write guard.toml");
    Config::from_file(&file).unwrap_or_else(|e| panic!("{name}: from_file: {e}"));
    config
}

#[test]
fn negative_zero_and_zero_are_one_bound() {
    let (_dir, path) = exposition(
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
fn comments_go_first_when_the_file_would_not_fit() {
    // 6,000 metrics with a label that grows (20 values): with its comments
    // the file would pass 1 MiB, without them it fits.
    let mut text = String::new();
    for i in 0..6_000 {
        text.push_str(&format!("# TYPE family_number_{i:05}_total counter\n"));
        for v in 0..20 {
            text.push_str(&format!("family_number_{i:05}_total{{a=\"{v}\"}} 1\n"));
        }
    }
    let (_dir, path) = exposition("families", &text);
    let toml = cli_ok(&["audit", &path, "--suggest"], 0);
    assert!(!toml.contains('#'), "no comment left");
    let config = suggest("families", &path, &[]);
    let policy = config.policy_for("family_number_05999_total");
    // Nothing to do: 20 series of the embedded default's 2000 kept.
    assert_eq!(policy.max_series.get(), 2000);
    assert_eq!(
        config.metrics.len(),
        6_000 + 1,
        "and the embedded default's rule"
    );
}

#[test]
fn too_many_long_names_for_the_file_cap_is_a_clear_error() {
    // A guarded target: every metric gets an entry.
    let mut text = String::new();
    let long = "x".repeat(200);
    for i in 0..15_000 {
        text.push_str(&format!(
            "family_{long}_{i:05} 1\n\
             cardinality_guard_series_limit{{metric=\"family_{long}_{i:05}\"}} 10\n"
        ));
    }
    let (_dir, path) = exposition("long-families", &text);
    let out = cli(&["audit", &path, "--suggest"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("1 MiB"), "{stderr}");
    assert!(out.stdout.is_empty(), "no config that would not load");
}

#[test]
fn the_headroom_and_label_limit_flags_are_gone() {
    let (_dir, path) = exposition("headroom", "c_total{a=\"1\"} 1\nd_total{a=\"2\"} 1\n");
    for flag in ["--headroom=2", "--label-limit=10"] {
        let out = cli(&["audit", &path, "--suggest", flag]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(flag.split('=').next().unwrap()),
            "{flag}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{flag}");
    }
}
