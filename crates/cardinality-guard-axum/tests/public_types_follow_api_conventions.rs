//! The crate's public types implement what users of tower and axum expect:
//! `Debug` everywhere, `Clone + Send + Sync` on layers, services and the
//! endpoint (they are cloned per connection and per route), `Default` and
//! `Copy` on the small config values.

use std::fmt::Debug;
use std::future::Ready;

use cardinality_guard_axum::http_metrics::{LabelNames, ResponseFuture};
use cardinality_guard_axum::{HttpMetrics, HttpMetricsLayer, ReportEndpoint};

fn debug<T: Debug>() {}
fn shared<T: Clone + Send + Sync + 'static>() {}

#[test]
fn public_types_are_debug_and_shareable() {
    debug::<HttpMetricsLayer>();
    debug::<HttpMetrics<()>>();
    debug::<ResponseFuture<Ready<()>>>();
    debug::<ReportEndpoint>();
    debug::<LabelNames>();
    shared::<HttpMetricsLayer>();
    shared::<HttpMetrics<()>>();
    shared::<ReportEndpoint>();
    shared::<LabelNames>();
}

#[test]
fn small_config_values_are_copy_with_a_default() {
    fn copy_default<T: Copy + Default + PartialEq + Debug>() -> T {
        T::default()
    }
    assert_eq!(copy_default::<LabelNames>(), LabelNames::Short);
    // The layer's options do not change its default: a plain `new()`.
    let layer = format!("{:?}", HttpMetricsLayer::new());
    assert_eq!(layer, format!("{:?}", HttpMetricsLayer::default()));
}
