//! The first time a metric folds, the guard logs one `warn!` naming the
//! metric, the reason and the label with the highest demand; after that, at
//! most one reminder per metric per `global.warn_interval`, never one per
//! call. Checked with a captured `tracing` subscriber, on the guard's manual
//! clock (the one clock that times expiry, warnings and upkeep): the counts
//! are exact and nothing sleeps.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cardinality_guard_core::{Config, GuardRecorder, ManualClock, PrometheusGuard, LABEL_OVERFLOW};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::value_exact;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// Everything a `fmt` subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The guard's warnings so far, one line each.
    fn warnings(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| l.contains("cardinality guard"))
            .map(str::to_owned)
            .collect()
    }

    /// Everything written so far.
    fn all(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// Runs `f` with a `fmt` subscriber writing into the returned buffer as this
/// thread's default (the guard logs on the registering thread).
fn captured<T>(f: impl FnOnce(&Captured) -> T) -> (T, Captured) {
    let buffer = Captured::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, || {
        // Callsites first hit by a test thread without a subscriber cache
        // "never": look again now that this thread has one.
        tracing::callsite::rebuild_interest_cache();
        f(&buffer)
    });
    (out, buffer)
}

const INTERVAL: Duration = Duration::from_millis(300);

/// A guard on a manual clock, from TOML text.
fn guarded(toml: &str) -> (GuardRecorder, PrometheusGuard, ManualClock) {
    let clock = ManualClock::new();
    let config = Config::from_toml(toml, "<test>").expect("test config is valid");
    let (guard, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .clock(clock.clone().into())
        .build()
        .expect("guard builds");
    (guard, exporter, clock)
}

fn guard(extra_global: &str) -> (GuardRecorder, PrometheusGuard, ManualClock) {
    guarded(&format!(
        "[global]\nwarn_interval = \"300ms\"\n{extra_global}\n\
         [[metrics]]\nmatch = \"logins_total\"\nlabel_limits = {{ user = 10 }}\n\
         [[metrics]]\nmatch = \"visits_total\"\nmax_series = 5\n\
         [[metrics]]\nmatch = \"orders_total\"\nmax_series = 5\non_overflow = \"drop\"\n"
    ))
}

/// `n` registrations of distinct users of `metric` (3 methods), from `from`.
fn flood(guard: &GuardRecorder, metric: &'static str, from: u64, n: u64) {
    for user in from..from + n {
        let key = Key::from_parts(
            metric,
            vec![
                Label::from_static_parts("method", ["GET", "POST", "PUT"][(user % 3) as usize]),
                Label::new("user", user.to_string()),
            ],
        );
        guard.register_counter(&key, &METADATA).increment(1);
    }
}

fn assert_names(line: &str, metric: &str, reason: &str, label: &str) {
    assert!(line.contains("WARN"), "a warn: {line}");
    assert!(line.contains(metric), "names the metric {metric}: {line}");
    assert!(line.contains(reason), "names the reason {reason}: {line}");
    assert!(
        line.contains(&format!("\"{label}\"")),
        "names the label {label}: {line}"
    );
}

#[test]
fn ten_thousand_folds_log_one_warning_then_one_reminder_per_interval() {
    let ((), log) = captured(|log| {
        let (guard, exporter, clock) = guard("");
        flood(&guard, "logins_total", 0, 10_000);
        let first = log.warnings();
        assert_eq!(first.len(), 1, "exactly one warning:\n{}", log.all());
        assert_names(&first[0], "logins_total", "label_limit", "user");
        assert!(
            !first[0].contains("still"),
            "the first is no reminder: {}",
            first[0]
        );
        let folded = exporter
            .report()
            .metric("logins_total")
            .unwrap()
            .overflow
            .label_limit;
        assert_eq!(folded, 10_000 - 10, "the folds happened");

        // Within the interval: nothing more.
        clock.advance(INTERVAL - Duration::from_millis(10));
        flood(&guard, "logins_total", 10_000, 10_000);
        assert_eq!(log.warnings().len(), 1, "{}", log.all());

        // Past it, more folding brings exactly one reminder.
        clock.advance(Duration::from_millis(20));
        flood(&guard, "logins_total", 20_000, 10_000);
        let reminders = &log.warnings()[1..];
        assert_eq!(reminders.len(), 1, "exactly one reminder:\n{}", log.all());
        assert_names(&reminders[0], "logins_total", "label_limit", "user");
        assert!(
            reminders[0].contains("still"),
            "a reminder: {}",
            reminders[0]
        );
    });
    assert_eq!(log.warnings().len(), 2);
}

#[test]
fn with_the_default_interval_a_long_flood_logs_exactly_one_warning() {
    let ((), log) = captured(|log| {
        let (guard, _exporter, clock) =
            guarded("[[metrics]]\nmatch = \"logins_total\"\nlabel_limits = { user = 10 }\n");
        flood(&guard, "logins_total", 0, 10_000);
        clock.advance(Duration::from_secs(599));
        flood(&guard, "logins_total", 10_000, 10_000);
        let warnings = log.warnings();
        assert_eq!(
            warnings.len(),
            1,
            "10 minutes between reminders:\n{}",
            log.all()
        );
        assert_names(&warnings[0], "logins_total", "label_limit", "user");
        clock.advance(Duration::from_secs(2));
        flood(&guard, "logins_total", 20_000, 100); // checked every 32 folds
        assert_eq!(log.warnings().len(), 2, "{}", log.all());
    });
    assert_eq!(log.warnings().len(), 2);
}

#[test]
fn each_metric_that_folds_gets_its_own_first_warning() {
    let ((), log) = captured(|log| {
        let (guard, _exporter, _clock) = guard("");
        flood(&guard, "logins_total", 0, 1_000);
        let after_first = log.warnings().len();
        assert!(after_first >= 1, "{}", log.all());
        // Another metric, folding at stage 2: its own first warning at once,
        // although logins_total warned within the interval.
        flood(&guard, "visits_total", 0, 1_000);
        let visits: Vec<String> = log
            .warnings()
            .into_iter()
            .filter(|l| l.contains("visits_total"))
            .collect();
        assert!(!visits.is_empty(), "visits_total warns:\n{}", log.all());
        assert_eq!(visits.len(), 1, "not one per call:\n{}", log.all());
        assert_names(&visits[0], "visits_total", "series_limit", "user");
        assert!(!visits[0].contains("still"), "{}", visits[0]);
        // A dropping metric warns too, saying it drops.
        flood(&guard, "orders_total", 0, 1_000);
        let orders: Vec<String> = log
            .warnings()
            .into_iter()
            .filter(|l| l.contains("orders_total"))
            .collect();
        assert_eq!(orders.len(), 1, "{}", log.all());
        assert_names(&orders[0], "orders_total", "series_limit", "user");
        assert!(orders[0].contains("drops"), "{}", orders[0]);
    });
    let per_metric = |m: &str| log.warnings().iter().filter(|l| l.contains(m)).count();
    assert!(per_metric("logins_total") >= 1);
    assert!(per_metric("visits_total") >= 1);
    assert!(per_metric("orders_total") >= 1);
}

#[test]
fn the_warning_blames_the_label_with_the_highest_demand() {
    let ((), log) = captured(|_| {
        let (guard, _exporter, _clock) = guard("");
        // `session` explodes, `region` has 2 values and comes first in the key.
        for i in 0..500_u64 {
            let key = Key::from_parts(
                "visits_total",
                vec![
                    Label::new("region", ["eu", "us"][(i % 2) as usize]),
                    Label::new("session", format!("s{i}")),
                ],
            );
            guard.register_counter(&key, &METADATA).increment(1);
        }
    });
    let warnings = log.warnings();
    assert!(!warnings.is_empty(), "{}", log.all());
    for line in &warnings {
        assert_names(line, "visits_total", "series_limit", "session");
    }
}

#[test]
fn nothing_is_logged_while_nothing_folds() {
    let ((), log) = captured(|_| {
        let (guard, exporter, clock) = guard("");
        for _ in 0..100 {
            // 9 users (limit 10) and 4 label sets of visits (budget 5 with
            // the overflow room): all admitted, again and again.
            flood(&guard, "logins_total", 0, 9);
            flood(&guard, "visits_total", 0, 4);
            flood(&guard, "orders_total", 0, 5);
        }
        clock.advance(INTERVAL + Duration::from_millis(50));
        flood(&guard, "logins_total", 0, 9);
        let report = exporter.report();
        for m in ["logins_total", "visits_total", "orders_total"] {
            assert_eq!(report.metric(m).unwrap().overflow.total(), 0, "{m}");
        }
    });
    assert_eq!(log.warnings(), Vec::<String>::new(), "{}", log.all());
}

/// With `on_overflow = "drop"`, a label-limit fold drops nothing (the label
/// set renders with `user="__overflow__"`), and the warning does not say it does.
#[test]
fn a_label_limit_fold_under_drop_policy_is_not_logged_as_a_drop() {
    let (text, log) = captured(|_| {
        let (guard, exporter, _clock) = guarded(
            "[[metrics]]\nmatch = \"logins_total\"\non_overflow = \"drop\"\n\
             label_limits = { user = 1 }\n",
        );
        metrics::with_local_recorder(&guard, || {
            for user in ["ada", "bob"] {
                metrics::counter!("logins_total", "user" => user).increment(1);
            }
        });
        exporter.render()
    });
    assert_eq!(
        value_exact(&text, "logins_total", &[("user", LABEL_OVERFLOW)]),
        Some(1.0),
        "bob's update renders under __overflow__:\n{text}"
    );
    let log = log.all();
    assert!(log.contains("label_limit"), "a warning was logged: {log}");
    assert!(
        !log.contains("drops new label sets"),
        "the warning says the label set was dropped, but it renders:\n{log}"
    );
}
