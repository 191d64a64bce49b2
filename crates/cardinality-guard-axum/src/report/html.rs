//! The report as a readable HTML page: no scripts, one inline style sheet
//! allowed by hash in a strict `Content-Security-Policy`, no `style`
//! attributes (the utilization bars are `<meter>` elements, the sparklines
//! SVG with presentation attributes). Readable at 1280 px without sideways
//! scrolling: long names wrap anywhere, the columns are compact.

use std::fmt::Write;

use cardinality_guard_core::{EvictionReason, Keep, MetricReport};

use super::escape::escape;
use super::meter::bar;
use super::notices::notices;
use super::page::Page;
use super::refresh::SUGGESTED_REFRESH;
use super::sparkline::sparkline;
use super::utc::iso8601;

/// Columns of the metrics table.
const COLUMNS: usize = 12;

/// The page's one style sheet, inlined; [`CONTENT_SECURITY_POLICY`] allows
/// exactly this text (by its SHA-256).
pub(super) const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .3em .45em; border-bottom: 1px solid #ddd; text-align: left; }
th { background: #f4f4f4; font-size: .9em; vertical-align: bottom; }
th[colspan] { text-align: center; border-bottom: 1px solid #ccc; }
th[title] { text-decoration: underline dotted; cursor: help; }
td { white-space: nowrap; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.name { font-family: monospace; width: 30%; }
td.name, td.blame, tr.demand td, tr.advice td, tr.labels td { white-space: normal; overflow-wrap: anywhere; }
.bar { width: 4em; height: .9em; vertical-align: middle; }
.pct { margin-left: .3em; font-variant-numeric: tabular-nums; }
svg.spark { display: block; }
tr.demand td { color: #555; font-size: .9em; border-bottom: 1px solid #ddd; padding-top: 0; }
td.blame { color: #c0392b; font-family: monospace; }
#generated { color: #555; }
";

/// Nothing but [`STYLE`]: no scripts, no other styles, no images, frames,
/// forms or base URL.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
style-src 'sha256-IjdMPhXGCGxf2VkJovDohmOqH+dTRIXVYNyRvTxtEoA='; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn metric_row(out: &mut String, m: &MetricReport, sample: Option<&Vec<String>>) {
    let o = &m.overflow;
    let _ = write!(
        out,
        "<tr><td class=\"name\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"util\">{}</td><td class=\"spark\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"blame\">{}</td></tr>",
        escape(&m.name),
        m.kind.as_str(),
        m.series,
        m.limit,
        bar(m.utilization),
        sparkline(&m.history, m.limit),
        o.series_limit,
        o.global_limit,
        o.label_limit,
        m.on_overflow.as_str(),
        m.mode.as_str(),
        m.blame.as_deref().map(escape).unwrap_or_default(),
    );
    if !m.labels.is_empty() {
        let labels: Vec<String> = m
            .labels
            .iter()
            .map(|l| {
                let limit = l.limit.map(|n| format!(", limit {n}")).unwrap_or_default();
                let folded = if l.folded > 0 {
                    format!(", {} folded", l.folded)
                } else {
                    String::new()
                };
                format!(
                    "<span class=\"label\"><code>{}</code> ~{} values{limit}{folded}</span>",
                    escape(&l.name),
                    l.demand
                )
            })
            .collect();
        let _ = write!(
            out,
            "<tr class=\"demand\"><td colspan=\"{COLUMNS}\">labels by demand: {}</td></tr>",
            labels.join(" &middot; ")
        );
    }
    if let Some(kept) = keep_row(m) {
        let _ = write!(
            out,
            "<tr class=\"demand\"><td colspan=\"{COLUMNS}\">{kept}</td></tr>"
        );
    }
    out.push_str(&advice_row(m));
    if let Some(sample) = sample.filter(|s| !s.is_empty()) {
        let items: String = sample
            .iter()
            .map(|s| format!("<li><code>{{{}}}</code></li>", escape(s)))
            .collect();
        let _ = write!(
            out,
            "<tr class=\"labels\"><td colspan=\"{COLUMNS}\"><ul>{items}</ul></td></tr>"
        );
    }
}

/// What the budget keeps, the share of the traffic it carries, and what
/// was evicted: `None` when there is nothing to tell (it keeps the first
/// label sets, carries all the traffic, evicted nothing).
fn keep_row(m: &MetricReport) -> Option<String> {
    let mut parts = Vec::new();
    if m.keep != Keep::First {
        parts.push(format!(
            "keeps the <code>{}</code> label sets",
            m.keep.as_str()
        ));
    }
    if let Some(share) = m.admitted_share.filter(|s| *s < 0.995) {
        parts.push(format!(
            "admitted series carry {:.0}% of the recent traffic",
            100.0 * share
        ));
    }
    let evicted: Vec<String> = EvictionReason::ALL
        .iter()
        .filter(|r| m.evicted.get(**r) > 0)
        .map(|r| format!("{} {}", m.evicted.get(*r), r.as_str()))
        .collect();
    if !evicted.is_empty() {
        parts.push(format!("evicted: {}", evicted.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join(" &middot; "))
}

/// The table's two header rows: what each column counts, with a tooltip.
const HEADER: &str = r#"<thead><tr><th rowspan="2" title="The metric name, as exported">metric</th>
<th rowspan="2" title="counter, gauge or histogram">kind</th>
<th colspan="4" title="Exported series: lines of the exposition, so a histogram counts every bucket, its sum and its count">series</th>
<th colspan="3" title="Registrations of a new label set that met a limit since the start: folded into the overflow series otel_metric_overflow=&quot;true&quot; (dropped, when full means drop)">folded registrations</th>
<th rowspan="2" title="What a new label set gets once the budget is full: fold (into the overflow series) or drop">when full</th>
<th rowspan="2" title="enforce: the limits apply; shadow: only counted, nothing altered">mode</th>
<th rowspan="2" title="Once something was folded: the label with the most distinct values">likely culprit</th></tr>
<tr><th class="num" title="Series the metric exports now, its overflow series included">now</th>
<th class="num" title="Its budget in series (max_series)">of limit</th>
<th title="now / limit">used</th>
<th title="One point per minute, oldest left, now right; dashed: the limit (when near)">last hour</th>
<th class="num" title="The metric's own budget (max_series) was full">series limit</th>
<th class="num" title="All guarded series together (global.max_series) were at their limit">global limit</th>
<th class="num" title="A label's label_limits entry was full: its value became __overflow__ in that label only">label limit</th></tr></thead>"#;

/// The "generated at" line, with the auto-refresh state and the link that
/// turns it on or off.
fn generated(unix_ms: u64, refresh: Option<u32>) -> String {
    let at = iso8601(unix_ms);
    let shown = at.replacen('T', " ", 1).replace('Z', " UTC");
    let toggle = match refresh {
        Some(seconds) => format!(
            "refreshes every {seconds} s &middot; <a id=\"refresh\" href=\"?format=html\">stop refreshing</a>"
        ),
        None => format!(
            "<a id=\"refresh\" href=\"?format=html&amp;refresh={SUGGESTED_REFRESH}\">refresh every {SUGGESTED_REFRESH} s</a>"
        ),
    };
    format!("<p id=\"generated\">Generated at <time datetime=\"{at}\">{shown}</time> &middot; {toggle}</p>")
}

/// The metric's "what to do" line: its recommendation, or nothing to do.
fn advice_row(m: &MetricReport) -> String {
    let advice = match &m.recommendation {
        Some(r) => format!(
            "<strong>{}</strong>: {}",
            r.action.kind().replace('_', " "),
            escape(&r.text)
        ),
        None => "nothing to do: comfortably within budget".to_owned(),
    };
    format!("<tr class=\"advice\"><td colspan=\"{COLUMNS}\">what to do: {advice}</td></tr>")
}

/// The page; with `refresh` (seconds), it reloads itself that often.
pub(super) fn render(page: &Page, refresh: Option<u32>) -> String {
    let g = &page.report.global;
    let mut rows = String::new();
    for (i, m) in page.report.metrics.iter().enumerate() {
        let sample = page.label_sets.as_ref().and_then(|s| s.get(i));
        metric_row(&mut rows, m, sample);
    }
    let meta_refresh = refresh
        .map(|seconds| format!("<meta http-equiv=\"refresh\" content=\"{seconds}\">"))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">{meta_refresh}<title>cardinality-guard report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style></head><body>
<h1>cardinality-guard</h1>
{generated}
<p id="global">Guarded series: <strong>{series}</strong> of {limit} {bar} &middot;
metrics tracked: <strong>{metrics}</strong> of {max_metrics} &middot;
registrations of untracked metrics: {untracked} &middot;
<a href="?format=toml">suggested guard.toml</a> (from what was observed)</p>
{notices}<table id="metrics">
{HEADER}
<tbody>
{rows}</tbody></table>
</body></html>
"#,
        style = STYLE,
        generated = generated(page.report.generated_at_unix_ms, refresh),
        series = g.series,
        limit = g.series_limit,
        bar = bar(g.utilization),
        metrics = g.metrics,
        max_metrics = g.max_metrics,
        untracked = g.untracked_registrations,
        notices = notices(&page.report),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cardinality_guard_core::{Config, ManualClock, PrometheusGuard, HISTORY_STEP};

    /// A page of two metrics, `logins_total` over 3 minutes (2, 4, then
    /// folding at its limit of 6), `workers` for the last one.
    fn page() -> Page {
        let config = Config::from_toml(
            "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 6\n",
            "t",
        )
        .unwrap();
        let clock = ManualClock::new();
        let (recorder, exporter) = PrometheusGuard::builder(config)
            .upkeep_interval(None)
            .clock(clock.clone().into())
            .build()
            .unwrap();
        let login = |users: std::ops::Range<u32>| {
            metrics::with_local_recorder(&recorder, || {
                for user in users {
                    metrics::counter!("logins_total", "user" => user.to_string()).increment(1);
                }
            });
        };
        login(0..2);
        exporter.run_upkeep();
        clock.advance(HISTORY_STEP);
        login(2..4);
        exporter.run_upkeep();
        clock.advance(HISTORY_STEP);
        login(4..20);
        metrics::with_local_recorder(&recorder, || metrics::gauge!("workers").set(2.0));
        Page {
            report: exporter.report(),
            label_sets: None,
        }
    }

    #[test]
    fn headers_say_what_they_count() {
        let html = render(&page(), None);
        for header in [
            ">metric</th>",
            ">kind</th>",
            "colspan=\"4\" title=\"Exported series",
            ">series</th>",
            ">now</th>",
            ">of limit</th>",
            ">used</th>",
            ">last hour</th>",
            "colspan=\"3\" title=\"Registrations of a new label set that met a limit",
            ">folded registrations</th>",
            ">series limit</th>",
            ">global limit</th>",
            ">label limit</th>",
            ">when full</th>",
            ">likely culprit</th>",
        ] {
            assert!(html.contains(header), "no {header} in {html}");
        }
        assert!(!html.contains("overflow: series limit"), "{html}");
        // Every header cell explains itself.
        let (thead, _) = html.split_once("</thead>").unwrap();
        assert_eq!(thead.matches("<th ").count(), 14, "{thead}");
        assert_eq!(
            thead.matches("<th ").count(),
            thead.matches(" title=\"").count()
        );
        // The columns add up: 12 per row, as the header spans.
        let row = html
            .split("<tr>")
            .find(|r| r.contains(">logins_total<"))
            .and_then(|r| r.split("</tr>").next())
            .unwrap();
        assert_eq!(row.matches("<td").count(), COLUMNS, "{row}");
    }

    #[test]
    fn generated_at_is_a_utc_time_element() {
        let page = page();
        let at = iso8601(page.report.generated_at_unix_ms);
        let html = render(&page, None);
        assert!(
            html.contains(&format!("Generated at <time datetime=\"{at}\">")),
            "{html}"
        );
        assert!(at.ends_with('Z') && at.len() == 20, "{at}");
    }

    #[test]
    fn refresh_adds_the_meta_and_a_link_to_stop() {
        let page = page();
        let on = render(&page, Some(30));
        assert!(
            on.contains("<meta http-equiv=\"refresh\" content=\"30\">"),
            "{on}"
        );
        assert!(
            on.contains("href=\"?format=html\">stop refreshing</a>"),
            "{on}"
        );
        let off = render(&page, None);
        assert!(!off.contains("http-equiv"), "{off}");
        assert!(
            off.contains("href=\"?format=html&amp;refresh=30\">refresh every 30 s</a>"),
            "{off}"
        );
    }

    #[test]
    fn one_sparkline_per_metric_drawn_from_its_history() {
        let page = page();
        let logins = page.report.metric("logins_total").unwrap();
        assert_eq!(logins.history, [2, 4, 6]);
        let html = render(&page, None);
        assert_eq!(html.matches("<svg class=\"spark\"").count(), 2, "{html}");
        let row = html
            .split("<tr>")
            .find(|r| r.contains(">logins_total<"))
            .unwrap();
        let expected = format!(
            "points=\"{}\"",
            super::super::sparkline::points(&logins.history, logins.limit)
        );
        assert!(row.contains(&expected), "{expected} not in {row}");
        // Three points, rising to the limit (the top of the drawing, 2.0).
        let points = row
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let ys: Vec<&str> = points
            .split(' ')
            .map(|p| p.split(',').nth(1).unwrap())
            .collect();
        assert_eq!(ys, ["18.0", "10.0", "2.0"], "{points}");
        assert!(row.contains("now 6 (limit 6)</title>"), "{row}");
        assert!(!html.contains(" style="), "the CSP blocks style attributes");
    }

    #[test]
    fn a_metric_says_what_its_budget_keeps_and_evicted() {
        use cardinality_guard_core::{Config, PrometheusGuard};
        let config = Config::from_toml(
            "[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 5\nkeep = \"busiest\"\n",
            "guard.toml",
        )
        .unwrap();
        let (recorder, exporter) = PrometheusGuard::builder(config)
            .upkeep_interval(None)
            .build()
            .unwrap();
        let count = |first: u64, last: u64| {
            metrics::with_local_recorder(&recorder, || {
                for job in first..last {
                    metrics::counter!("jobs_total", "job" => job.to_string()).increment(1);
                }
            });
        };
        count(0, 12);
        exporter.run_upkeep();
        let report = exporter.report();
        let row = keep_row(report.metric("jobs_total").unwrap()).unwrap();
        assert_eq!(
            row,
            "keeps the <code>busiest</code> label sets &middot; admitted series carry 33% of \
             the recent traffic"
        );
        let lower = "[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 3\n";
        exporter
            .reload(Config::from_toml(lower, "guard.toml").unwrap())
            .unwrap();
        let _ = exporter.render();
        exporter.run_upkeep();
        let report = exporter.report();
        let row = keep_row(report.metric("jobs_total").unwrap()).unwrap();
        assert!(row.ends_with("evicted: 2 reload"), "{row}");
        assert!(!row.contains("keeps the"), "{row}");
        let page = Page {
            report,
            label_sets: None,
        };
        assert!(render(&page, None).contains(&row));
    }

    #[test]
    fn each_metric_says_what_to_do() {
        use cardinality_guard_core::{Config, PrometheusGuard};
        let config = Config::from_toml(
            "[defaults]\nmode = \"shadow\"\nmax_series = 10\n",
            "guard.toml",
        )
        .unwrap();
        let (recorder, exporter) = PrometheusGuard::builder(config)
            .upkeep_interval(None)
            .build()
            .unwrap();
        metrics::with_local_recorder(&recorder, || {
            for job in 0..12 {
                metrics::counter!("jobs_total", "job" => job.to_string()).increment(1);
            }
            metrics::gauge!("workers").set(1.0);
        });
        let report = exporter.report();
        let jobs = report.metric("jobs_total").unwrap();
        assert_eq!(
            advice_row(jobs),
            format!(
                "<tr class=\"advice\"><td colspan=\"{COLUMNS}\">what to do: <strong>remove label</strong>: {}</td></tr>",
                escape(&jobs.recommendation.as_ref().unwrap().text)
            )
        );
        let workers = report.metric("workers").unwrap();
        assert!(advice_row(workers).contains("what to do: nothing to do"));
        let page = render(
            &Page {
                report: report.clone(),
                label_sets: None,
            },
            None,
        );
        assert_eq!(page.matches("<tr class=\"advice\">").count(), 2, "{page}");
    }
}
