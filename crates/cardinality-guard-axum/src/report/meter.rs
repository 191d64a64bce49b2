//! The page's utilization bar: a `<meter>` the browser colours by region,
//! amber above the share of the budget beyond which the guard recommends a
//! change ([`Recommendation::COMFORTABLE_UTILIZATION`]), red when nearly
//! full. The bar shows the series held, a recommendation reads the series
//! demanded: in shadow mode, where every label set is held, a bar turns
//! amber where its metric gets something to do.

use cardinality_guard_core::Recommendation;

/// Red above this share of the budget: nearly full.
const NEARLY_FULL: f64 = 0.95;

/// The bar of `utilization` (`series / limit`) and its percentage.
pub(super) fn bar(utilization: f64) -> String {
    // Green below `low`, amber up to `high`, red above (`optimum` is 0).
    format!(
        "<meter class=\"bar\" min=\"0\" max=\"1\" low=\"{}\" high=\"{NEARLY_FULL}\" optimum=\"0\" \
         value=\"{:.4}\"></meter><span class=\"pct\">{:.1}%</span>",
        Recommendation::COMFORTABLE_UTILIZATION,
        utilization.clamp(0.0, 1.0),
        utilization * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amber_where_the_recommendations_start() {
        assert_eq!(
            bar(0.5),
            "<meter class=\"bar\" min=\"0\" max=\"1\" low=\"0.8\" high=\"0.95\" optimum=\"0\" \
             value=\"0.5000\"></meter><span class=\"pct\">50.0%</span>"
        );
        let low = format!("low=\"{}\"", Recommendation::COMFORTABLE_UTILIZATION);
        assert!(bar(1.2).contains(&low));
        assert!(bar(1.2).contains("value=\"1.0000\""), "clamped");
    }
}
