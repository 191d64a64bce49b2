//! The report as a readable HTML page: no scripts, one inline style sheet
//! allowed by hash in a strict `Content-Security-Policy`, no `style`
//! attributes (the utilization bars are `<meter>` elements).

use std::fmt::Write;

use cardinality_guard_core::MetricReport;

use super::Page;

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn bar(utilization: f64) -> String {
    // The browser colours a meter by region: green below `low`, amber up to
    // `high`, red above (`optimum` is 0).
    format!(
        "<meter class=\"bar\" min=\"0\" max=\"1\" low=\"0.8\" high=\"0.95\" optimum=\"0\" \
         value=\"{:.4}\"></meter><span class=\"pct\">{:.1}%</span>",
        utilization.clamp(0.0, 1.0),
        utilization * 100.0
    )
}

/// The page's one style sheet, inlined; [`CONTENT_SECURITY_POLICY`] allows
/// exactly this text (by its SHA-256).
pub(super) const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .35em .6em; border-bottom: 1px solid #ddd; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.name { font-family: monospace; }
td.util, #global { white-space: nowrap; }
.bar { width: 8em; height: .9em; vertical-align: middle; }
.pct { margin-left: .5em; font-variant-numeric: tabular-nums; }
tr.demand td { color: #555; font-size: .9em; border-bottom: 1px solid #ddd; padding-top: 0; }
tr.demand .label { white-space: nowrap; }
td.blame { color: #c0392b; font-family: monospace; }
";

/// Nothing but [`STYLE`]: no scripts, no other styles, no images, frames,
/// forms or base URL.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
style-src 'sha256-52P0pINxI1bJfLgr0T4AL3jpDIucFay8FzqBPAcw0TM='; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn metric_row(out: &mut String, m: &MetricReport, sample: Option<&Vec<String>>) {
    let o = &m.overflow;
    let _ = write!(
        out,
        "<tr><td class=\"name\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"util\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td>{}</td><td>{}</td><td class=\"blame\">{}</td></tr>",
        escape(&m.name),
        m.kind.as_str(),
        m.series,
        m.limit,
        bar(m.utilization),
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
            "<tr class=\"demand\"><td colspan=\"11\">labels by demand: {}</td></tr>",
            labels.join(" &middot; ")
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
            "<tr class=\"labels\"><td colspan=\"11\"><ul>{items}</ul></td></tr>"
        );
    }
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
    format!("<tr class=\"advice\"><td colspan=\"11\">what to do: {advice}</td></tr>")
}

pub(super) fn render(page: &Page) -> String {
    let g = &page.report.global;
    let mut rows = String::new();
    for (i, m) in page.report.metrics.iter().enumerate() {
        let sample = page.label_sets.as_ref().and_then(|s| s.get(i));
        metric_row(&mut rows, m, sample);
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cardinality-guard report</title>
<style>{style}</style></head><body>
<h1>cardinality-guard</h1>
<p id="global">Guarded series: <strong>{series}</strong> of {limit} {bar} &middot;
metrics tracked: <strong>{metrics}</strong> of {max_metrics} &middot;
registrations of untracked metrics: {untracked} &middot;
<a href="?format=toml">suggested guard.toml</a> (from what was observed)</p>
<table id="metrics">
<thead><tr><th>metric</th><th>kind</th><th>series</th><th>limit</th><th>utilization</th>
<th>overflow: series limit</th><th>global limit</th><th>label limit</th><th>on overflow</th><th>mode</th><th>blame</th></tr></thead>
<tbody>
{rows}</tbody></table>
</body></html>
"#,
        style = STYLE,
        series = g.series,
        limit = g.series_limit,
        bar = bar(g.utilization),
        metrics = g.metrics,
        max_metrics = g.max_metrics,
        untracked = g.untracked_registrations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
                "<tr class=\"advice\"><td colspan=\"11\">what to do: <strong>raise max series</strong>: {}</td></tr>",
                escape(&jobs.recommendation.as_ref().unwrap().text)
            )
        );
        let workers = report.metric("workers").unwrap();
        assert!(advice_row(workers).contains("what to do: nothing to do"));
        let page = render(&Page {
            report: report.clone(),
            label_sets: None,
        });
        assert_eq!(page.matches("<tr class=\"advice\">").count(), 2, "{page}");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
