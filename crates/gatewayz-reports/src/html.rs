//! The report as one self-contained HTML file: its style inline, its charts inline SVG, no
//! script, no font, no request to anywhere. It opens from a disk, an e-mail or a file share,
//! prints, and passes a strict Content-Security-Policy.

use std::fmt::Write;

use crate::{
    Report,
    document::{Block, Chart, blocks, numeric},
    markup::escape,
    svg,
};

const STYLE: &str = "
:root { color-scheme: light dark; --bg: #f6f8fa; --panel: #fff; --text: #1f2328;
  --muted: #59636e; --border: #d1d9e0; --accent: #0969da; --red: #cf222e;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif;
  font-size: 15px; line-height: 1.45; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --panel: #151b23;
  --text: #e6edf3; --muted: #9198a1; --border: #3d444d; --accent: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 1.25rem 1.5rem 3rem; background: var(--bg);
  color: var(--text); }
h1 { font-size: 1.6rem; margin: 0 0 0.5rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid var(--border);
  padding-bottom: 0.25rem; }
p { margin: 0.5rem 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr));
  gap: 0.75rem; }
.figure { background: var(--panel); border: 1px solid var(--border); border-radius: 0.5rem;
  padding: 0.6rem 0.9rem; }
.figure .label, .figure .note { color: var(--muted); font-size: 0.85rem; }
.figure .value { font-size: 1.5rem; font-weight: 650; font-variant-numeric: tabular-nums; }
table { width: 100%; border-collapse: collapse; background: var(--panel);
  border: 1px solid var(--border); margin: 0.5rem 0; }
th, td { text-align: right; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--border);
  font-variant-numeric: tabular-nums; }
th.text, td.text { text-align: left; overflow-wrap: break-word; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
svg.chart { display: block; width: 100%; height: auto; background: var(--panel);
  border: 1px solid var(--border); border-radius: 0.5rem; margin: 0.5rem 0; }
svg .bar { fill: var(--accent); }
svg .label, svg .value, svg .axis, svg .budget-label { fill: var(--muted); font-size: 12px;
  font-variant-numeric: tabular-nums; }
svg .value { fill: var(--text); }
svg .grid { stroke: var(--border); stroke-width: 1; }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2.5; }
svg .forecast { stroke: var(--accent); stroke-width: 2; stroke-dasharray: 6 4; }
svg .budget { stroke: var(--red); stroke-width: 1.5; stroke-dasharray: 3 3; }
svg .budget-label { fill: var(--red); }
@media print { body { max-width: none; } h2 { break-after: avoid; }
  table, svg.chart { break-inside: avoid; } }
";

/// The report as a self-contained HTML document.
pub fn html(report: &Report) -> String {
    let mut body = String::new();
    let mut title = String::new();
    for block in blocks(report) {
        match block {
            Block::Heading(1, text) => {
                let _ = write!(body, "<h1>{}</h1>", escape(&text));
                title = text;
            }
            Block::Heading(_, text) => {
                let _ = write!(body, "<h2>{}</h2>", escape(&text));
            }
            Block::Paragraph(text) => {
                let _ = write!(body, "<p>{}</p>", escape(&text));
            }
            Block::Figures(figures) => {
                body.push_str(r#"<div class="figures">"#);
                for f in figures {
                    let _ = write!(
                        body,
                        r#"<div class="figure"><div class="label">{}</div><div class="value">{}</div><div class="note">{}</div></div>"#,
                        escape(&f.label),
                        escape(&f.value),
                        escape(&f.note)
                    );
                }
                body.push_str("</div>");
            }
            Block::Table { columns, rows } => {
                let class = |i: usize| {
                    if numeric(&rows, i) {
                        ""
                    } else {
                        r#" class="text""#
                    }
                };
                body.push_str("<table><thead><tr>");
                for (i, column) in columns.iter().enumerate() {
                    let _ = write!(
                        body,
                        r#"<th scope="col"{}>{}</th>"#,
                        class(i),
                        escape(column)
                    );
                }
                body.push_str("</tr></thead><tbody>");
                for row in &rows {
                    body.push_str("<tr>");
                    for (i, cell) in row.iter().enumerate() {
                        let _ = write!(body, "<td{}>{}</td>", class(i), escape(cell));
                    }
                    body.push_str("</tr>");
                }
                body.push_str("</tbody></table>");
            }
            Block::Chart(Chart::Bars { title, bars }) => body.push_str(&svg::bars(&title, &bars)),
            Block::Chart(Chart::Daily {
                title,
                days,
                period_days,
                budget,
                forecast,
            }) => body.push_str(&svg::daily(&title, &days, period_days, budget, forecast)),
        }
        body.push('\n');
    }
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(&title)
    )
}
