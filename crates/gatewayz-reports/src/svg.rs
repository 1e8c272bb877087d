//! Inline SVG charts for the HTML report: drawn on the server, styled by the page's CSS
//! classes, readable without a script, a font download or a network.

use std::fmt::Write;

use chrono::NaiveDate;

use crate::markup::escape;

const WIDTH: f64 = 760.0;

/// A round number at or above `value`, for an axis's top: 1, 2, 2.5 or 5 times a power of ten.
pub(crate) fn nice_ceiling(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if value <= step * power * (1.0 + 1e-9) {
            return step * power;
        }
    }
    10.0 * power
}

/// A short dollar label for an axis.
fn axis_dollars(value: f64) -> String {
    if value >= 1000.0 {
        format!("${:.0}", value)
    } else if value >= 1.0 {
        format!("${value:.2}")
    } else if value > 0.0 {
        format!("${value:.4}")
    } else {
        "$0".into()
    }
}

/// Horizontal bars, one per name, longest first as given.
pub(crate) fn bars(title: &str, bars: &[(String, f64, String)]) -> String {
    let row = 26.0;
    let label_width = 220.0;
    let value_width = 110.0;
    let height = row * bars.len() as f64 + 8.0;
    let plot = WIDTH - label_width - value_width;
    let top = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="t-{id}"><title id="t-{id}">{title}</title>"#,
        id = slug(title),
        title = escape(title),
    );
    for (i, (name, value, shown)) in bars.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let length = if top > 0.0 { value / top * plot } else { 0.0 };
        let short: String = if name.chars().count() > 30 {
            name.chars().take(29).chain(['…']).collect()
        } else {
            name.clone()
        };
        let _ = write!(
            svg,
            r#"<text class="label" x="{x}" y="{ty}" text-anchor="end">{short}<title>{name}</title></text><rect class="bar" x="{label_width}" y="{y}" width="{length:.2}" height="{h}"/><text class="value" x="{vx:.2}" y="{ty}">{shown}</text>"#,
            x = label_width - 8.0,
            ty = y + row * 0.62,
            short = escape(&short),
            name = escape(name),
            h = row - 8.0,
            vx = label_width + length + 6.0,
            shown = escape(shown),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Spend per day (columns), and spend so far (a line) against the budget and the forecast.
pub(crate) fn daily(
    title: &str,
    days: &[(NaiveDate, f64)],
    period_days: usize,
    budget: Option<f64>,
    forecast: Option<f64>,
) -> String {
    let (left, right, top, bottom) = (64.0, 12.0, 12.0, 24.0);
    let height = 180.0;
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let slot = plot_w / period_days.max(1) as f64;
    let label_every = period_days.div_ceil(10).max(1);
    let mut out = String::new();
    let id = slug(title);

    // Spend per day.
    let highest = nice_ceiling(days.iter().map(|d| d.1).fold(0.0, f64::max));
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="t-{id}-a"><title id="t-{id}-a">{title}: spend per day</title>"#,
        title = escape(title),
    );
    axes(&mut out, left, top, plot_w, plot_h, highest);
    for (i, (date, value)) in days.iter().enumerate() {
        let h = value / highest * plot_h;
        let _ = write!(
            out,
            r#"<rect class="bar" x="{x:.2}" y="{y:.2}" width="{w:.2}" height="{h:.2}"><title>{date}: {v}</title></rect>"#,
            x = left + i as f64 * slot + slot * 0.15,
            y = top + plot_h - h,
            w = (slot * 0.7).max(1.0),
            v = axis_dollars(*value),
        );
    }
    day_labels(&mut out, days, left, slot, height, label_every);
    out.push_str("</svg>");

    // Spend so far, and where it is heading.
    let mut cumulative = Vec::with_capacity(days.len());
    let mut sum = 0.0;
    for (_, value) in days {
        sum += value;
        cumulative.push(sum);
    }
    let highest = nice_ceiling(
        [sum, budget.unwrap_or(0.0), forecast.unwrap_or(0.0)]
            .into_iter()
            .fold(0.0, f64::max),
    );
    let y = |value: f64| top + plot_h - value / highest * plot_h;
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="t-{id}-b"><title id="t-{id}-b">{title}: spend so far</title>"#,
        title = escape(title),
    );
    axes(&mut out, left, top, plot_w, plot_h, highest);
    if !cumulative.is_empty() {
        let mut points = format!("{left:.2},{:.2}", y(0.0));
        for (i, value) in cumulative.iter().enumerate() {
            let _ = write!(
                points,
                " {:.2},{:.2}",
                left + (i + 1) as f64 * slot,
                y(*value)
            );
        }
        let _ = write!(out, r#"<polyline class="line" points="{points}"/>"#);
        if let Some(forecast) = forecast {
            let _ = write!(
                out,
                r#"<line class="forecast" x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}"><title>Forecast at period end: {}</title></line>"#,
                left + cumulative.len() as f64 * slot,
                y(sum),
                left + plot_w,
                y(forecast),
                axis_dollars(forecast),
            );
        }
    }
    if let Some(budget) = budget {
        let _ = write!(
            out,
            r#"<line class="budget" x1="{left}" y1="{by:.2}" x2="{x2:.2}" y2="{by:.2}"/><text class="budget-label" x="{x2:.2}" y="{ty:.2}" text-anchor="end">budget {b}</text>"#,
            by = y(budget),
            x2 = left + plot_w,
            ty = y(budget) - 4.0,
            b = axis_dollars(budget),
        );
    }
    day_labels(&mut out, days, left, slot, height, label_every);
    out.push_str("</svg>");
    out
}

/// Horizontal grid lines at 0, half and the top, with dollar labels.
fn axes(out: &mut String, left: f64, top: f64, width: f64, height: f64, highest: f64) {
    for fraction in [0.0, 0.5, 1.0] {
        let y = top + height * (1.0 - fraction);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{left}" x2="{x2:.2}" y1="{y:.2}" y2="{y:.2}"/><text class="axis" x="{lx}" y="{ty:.2}" text-anchor="end">{label}</text>"#,
            x2 = left + width,
            lx = left - 6.0,
            ty = y + 4.0,
            label = axis_dollars(highest * fraction),
        );
    }
}

/// Day-of-month labels under the columns, every `every` days.
fn day_labels(
    out: &mut String,
    days: &[(NaiveDate, f64)],
    left: f64,
    slot: f64,
    height: f64,
    every: usize,
) {
    for (i, (date, _)) in days.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text class="axis" x="{x:.2}" y="{y}" text-anchor="middle">{d}</text>"#,
                x = left + (i as f64 + 0.5) * slot,
                y = height - 6.0,
                d = date.format("%m-%d"),
            );
        }
    }
}

/// An id fragment from a title.
fn slug(title: &str) -> String {
    title
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round_numbers_at_or_above_the_highest_value() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        assert_eq!(nice_ceiling(100.0), 100.0);
        assert_eq!(nice_ceiling(0.0031), 0.005);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
    }

    #[test]
    fn names_in_charts_are_text_not_markup() {
        let svg = bars("t", &[("<script>".into(), 1.0, "$1.00".into())]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
    }
}
