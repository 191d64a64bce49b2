//! A metric's series over the last hour as a small inline SVG: a polyline
//! over [`HISTORY_POINTS`] minute slots, the newest at the right edge, and
//! the budget as a dashed line when the series come near it. Presentation
//! attributes only: the page's CSP allows no `style` attribute.

use std::fmt::Write;

use cardinality_guard_core::HISTORY_POINTS;

/// The drawing's size in CSS pixels.
pub(super) const WIDTH: f64 = 120.0;
/// See [`WIDTH`].
pub(super) const HEIGHT: f64 = 28.0;
/// Room around the line (so a flat line at the top or bottom shows).
const PAD: f64 = 2.0;

/// The value at the top of the drawing: the peak, or the limit too when the
/// peak reaches half of it (so the budget line is drawn when it matters).
fn scale(history: &[u64], limit: u64) -> u64 {
    let peak = history.iter().copied().max().unwrap_or(0);
    if peak.saturating_mul(2) >= limit {
        peak.max(limit).max(1)
    } else {
        peak.max(1)
    }
}

/// The `(x, y)` of point `i` of `n` with `value`, on a scale topped at `top`.
fn at(i: usize, n: usize, value: u64, top: u64) -> (f64, f64) {
    let slot = (HISTORY_POINTS - n.min(HISTORY_POINTS) + i) as f64;
    let x = PAD + slot * (WIDTH - 2.0 * PAD) / (HISTORY_POINTS - 1) as f64;
    (x, y(value, top))
}

fn y(value: u64, top: u64) -> f64 {
    HEIGHT - PAD - (value as f64 / top as f64) * (HEIGHT - 2.0 * PAD)
}

/// The `points` attribute of the polyline of `history` (oldest first).
pub(super) fn points(history: &[u64], limit: u64) -> String {
    let top = scale(history, limit);
    let n = history.len();
    let mut out = String::new();
    for (i, &value) in history.iter().enumerate() {
        let (x, y) = at(i, n, value, top);
        let _ = write!(out, "{}{x:.1},{y:.1}", if i == 0 { "" } else { " " });
    }
    out
}

/// The `<svg>` of `history` (the series of the last minutes, oldest first)
/// against `limit`.
pub(super) fn sparkline(history: &[u64], limit: u64) -> String {
    let title = match (history.iter().min(), history.iter().max(), history.last()) {
        (Some(low), Some(high), Some(now)) => format!(
            "series over the last {} min: {low} to {high}, now {now} (limit {limit})",
            history.len()
        ),
        _ => "no series history yet".to_owned(),
    };
    let mut svg = format!(
        "<svg class=\"spark\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{title}\">\
         <title>{title}</title>"
    );
    // The hour's frame: a faint base line, the newest minute at its right end.
    let base = HEIGHT - PAD + 0.5;
    let _ = write!(
        svg,
        "<line class=\"base\" x1=\"0\" x2=\"{WIDTH}\" y1=\"{base}\" y2=\"{base}\" \
         stroke=\"#ccc\" stroke-width=\"1\"/>"
    );
    let top = scale(history, limit);
    if limit <= top {
        let y = y(limit, top);
        let _ = write!(
            svg,
            "<line class=\"limit\" x1=\"0\" x2=\"{WIDTH}\" y1=\"{y:.1}\" y2=\"{y:.1}\" \
             stroke=\"#c0392b\" stroke-width=\"1\" stroke-dasharray=\"3 2\"/>"
        );
    }
    if let Some(&now) = history.last() {
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"#2c6fbb\" stroke-width=\"1.5\" \
             stroke-linejoin=\"round\" points=\"{}\"/>",
            points(history, limit)
        );
        let (x, y) = at(history.len() - 1, history.len(), now, top);
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2\" fill=\"#2c6fbb\"/>"
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(points: &str) -> Vec<(f64, f64)> {
        points
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn points_follow_the_history_newest_at_the_right_edge() {
        let history = [0, 5, 10, 10, 4];
        let points = parsed(&points(&history, 10));
        assert_eq!(points.len(), history.len());
        // One slot a minute, the newest at the right edge.
        let step = (WIDTH - 2.0 * PAD) / (HISTORY_POINTS - 1) as f64;
        assert!((points[4].0 - (WIDTH - PAD)).abs() < 0.05, "{points:?}");
        for w in points.windows(2) {
            assert!((w[1].0 - w[0].0 - step).abs() < 0.11, "{points:?}");
        }
        // Up is more: 0 at the bottom, the limit (10) at the top.
        let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
        assert_eq!(ys, [HEIGHT - PAD, 14.0, PAD, PAD, 16.4]);
    }

    #[test]
    fn a_full_hour_spans_the_width() {
        let history: Vec<u64> = (0..HISTORY_POINTS as u64).collect();
        let points = parsed(&points(&history, 1000));
        assert_eq!(points.len(), HISTORY_POINTS);
        assert_eq!(points[0].0, PAD);
        assert_eq!(points[HISTORY_POINTS - 1].0, WIDTH - PAD);
        // Far from its limit, the line uses the full height.
        assert_eq!(points[0].1, HEIGHT - PAD);
        assert_eq!(points[HISTORY_POINTS - 1].1, PAD);
    }

    #[test]
    fn the_budget_line_shows_only_near_the_limit() {
        let near = sparkline(&[3, 6, 8], 10);
        assert!(near.contains("<line class=\"limit\""), "{near}");
        assert!(near.contains("y1=\"2.0\""), "the limit is the top: {near}");
        let far = sparkline(&[3, 6, 8], 2000);
        assert!(!far.contains("<line class=\"limit\""), "{far}");
    }

    #[test]
    fn the_title_gives_the_range() {
        let svg = sparkline(&[3, 9, 6], 20);
        assert!(
            svg.contains("<title>series over the last 3 min: 3 to 9, now 6 (limit 20)</title>"),
            "{svg}"
        );
        assert!(svg.contains("<polyline "), "{svg}");
        assert!(
            !svg.contains("style="),
            "the CSP blocks style attributes: {svg}"
        );
        let empty = sparkline(&[], 20);
        assert!(empty.contains("no series history yet") && !empty.contains("<polyline"));
    }
}
