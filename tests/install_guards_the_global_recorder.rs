//! One call builds the exporter and the guard from a config and installs them
//! globally: every thread's macros go through the guard.

use cardinality_guard::{install, Config, InstallError};

const CONFIG: &str = r#"
[[metrics]]
match = "app_logins_total"
max_series = 50
"#;

#[test]
fn installed_guard_bounds_every_thread_and_refuses_a_second_install() {
    let config = Config::from_toml(CONFIG, "guard.toml").unwrap();
    let exporter = install(config.clone()).expect("first install succeeds");

    let threads = 4;
    let per_thread = 500;
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..per_thread {
                    let user = format!("user-{t}-{i}");
                    metrics::counter!("app_logins_total", "user" => user).increment(1);
                }
            });
        }
    });

    let text = exporter.render();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("app_logins_total"))
        .collect();
    assert_eq!(
        lines.len(),
        50,
        "the budget holds, overflow series included"
    );
    let total: f64 = lines
        .iter()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert_eq!(
        total,
        (threads * per_thread) as f64,
        "every login is counted"
    );
    assert!(text.contains("cardinality_guard_series{metric=\"app_logins_total\"} 50"));

    let report = exporter.report();
    let logins = report.metric("app_logins_total").unwrap();
    assert_eq!((logins.series, logins.label_sets), (50, 49));
    assert_eq!(
        logins.overflow.series_limit,
        (threads * per_thread) as u64 - 49
    );

    assert!(matches!(
        install(config),
        Err(InstallError::AlreadyInstalled)
    ));
}
