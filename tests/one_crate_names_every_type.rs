//! `cargo add cardinality-guard` is all a user needs: `metrics` (and its
//! macros), `metrics-util`'s layers and the exporter types in the guard's
//! signatures are re-exported, so the user names one version of each. This
//! file reaches them only through `cardinality_guard::` (no `metrics`,
//! `metrics_util` or `metrics_exporter_prometheus` path of its own).

use cardinality_guard::metrics::{counter, gauge, histogram, with_local_recorder};
use cardinality_guard::metrics_util::layers::{Layer, PrefixLayer, Stack};
use cardinality_guard::prometheus_exporter::{
    BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use cardinality_guard::{prometheus_builder, Config, GuardLayer, Pattern, PrometheusGuard};

#[test]
fn the_metrics_macros_work_through_the_umbrella() {
    let (recorder, exporter) = PrometheusGuard::builder(Config::default())
        .upkeep_interval(None)
        .build()
        .unwrap();
    with_local_recorder(&recorder, || {
        counter!("jobs_total", "queue" => "a").increment(2);
        cardinality_guard::metrics::counter!("jobs_total", "queue" => "b").increment(1);
        gauge!("workers").set(4.0);
        histogram!("job_seconds").record(0.2);
    });
    let text = exporter.render();
    assert!(text.contains("jobs_total{queue=\"a\"} 2"), "{text}");
    assert!(text.contains("workers 4"), "{text}");
    assert!(text.contains("job_seconds_count 1"), "{text}");
}

#[test]
fn the_exporter_types_are_the_ones_the_guard_uses() -> Result<(), BuildError> {
    let config = Config::default();
    let builder: PrometheusBuilder = prometheus_builder(&config)?;
    let recorder: PrometheusRecorder = builder.build_recorder();
    let handle: PrometheusHandle = recorder.handle();
    let layer = GuardLayer::new(config);
    let guard = layer.handle();
    let stack = Stack::new(recorder)
        .push(layer)
        .push(PrefixLayer::new("shop"));
    with_local_recorder(&stack, || counter!("orders_total").increment(1));
    assert!(handle.render().contains("shop_orders_total 1"));
    assert_eq!(
        guard.report().metric("shop_orders_total").unwrap().series,
        1
    );

    let matcher: Matcher = Pattern::parse("db_*").unwrap().to_matcher();
    assert!(matches!(matcher, Matcher::Prefix(p) if p == "db_"));
    Ok(())
}

#[test]
fn the_layer_trait_is_the_one_the_guard_implements() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let guard = GuardLayer::new(Config::default()).layer(recorder);
    with_local_recorder(&guard, || counter!("x_total").increment(1));
    assert_eq!(guard.report().metric("x_total").unwrap().series, 1);
    assert!(guard.inner().handle().render().contains("x_total 1"));
}
