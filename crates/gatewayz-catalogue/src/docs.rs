//! The Markdown metrics reference, generated from the catalogue.
//!
//! The same text is committed as `docs/metrics.md` (by `cargo xtask codegen`) and served at
//! `/prometheus/metrics/docs`, so the two cannot disagree.

use std::fmt::Write;

use crate::{CATALOGUE, Category, Domain, LABELS, MetricDef, MetricKind, Scale, Unit};

/// A question operators ask, and the PromQL that answers it.
#[derive(Debug, Clone)]
pub struct Question {
    /// The question, in words.
    pub question: &'static str,
    /// The PromQL expression that answers it.
    pub promql: String,
}

/// The questions every reference page answers first.
pub fn common_questions() -> Vec<Question> {
    use crate::*;
    vec![
        Question {
            question: "Error rate per provider (share of failed inference calls, 5 m)",
            promql: format!(
                "sum by (provider) (rate({r}{{status=\"error\"}}[5m]))\n  / (sum by (provider) (rate({r}[5m])) > 0)",
                r = MODEL_INFERENCE_REQUESTS.name
            ),
        },
        Question {
            question: "p95 inference latency per model",
            promql: format!(
                "histogram_quantile(0.95, sum by (le, model) (rate({}_bucket[5m])))",
                MODEL_INFERENCE_DURATION.name
            ),
        },
        Question {
            question: "Cost per hour per provider, in dollars",
            promql: format!("sum by (provider) (increase({}[1h]))", COST_USD.name),
        },
        Question {
            question: "Tokens per second by model and direction",
            promql: format!(
                "sum by (model, token_type) (rate({}[5m]))",
                TOKENS_USED.name
            ),
        },
        Question {
            question: "Cache hit ratio per cache",
            promql: format!(
                "sum by (cache) (rate({h}[5m]))\n  / ((sum by (cache) (rate({h}[5m])) + sum by (cache) (rate({m}[5m]))) > 0)",
                h = CACHE_HITS.name,
                m = CACHE_MISSES.name
            ),
        },
        Question {
            question: "Health score per provider (worst replica)",
            promql: format!("min by (provider) ({})", PROVIDER_HEALTH_SCORE.name),
        },
        Question {
            question: "Providers whose circuit is open",
            promql: format!("{}{{state=\"open\"}} == 1", CIRCUIT_BREAKER_STATE.name),
        },
    ]
}

/// A PromQL expression that shows `def` the way it is usually looked at.
pub fn example_query(def: &MetricDef) -> String {
    let by = def.labels.first().map(|l| l.name);
    match def.kind {
        // Money is read per hour, not per second.
        MetricKind::Counter if def.scale != Scale::One => match by {
            Some(by) => format!("sum by ({by}) (increase({}[1h]))", def.name),
            None => format!("increase({}[1h])", def.name),
        },
        MetricKind::Counter => match by {
            Some(by) => format!("sum by ({by}) (rate({}[5m]))", def.name),
            None => format!("rate({}[5m])", def.name),
        },
        // One-hot gauges: keep only the series of the current state.
        MetricKind::Gauge if def.unit == Unit::Boolean && def.labels.len() > 1 => {
            format!("{} == 1", def.name)
        }
        MetricKind::Gauge => def.name.to_owned(),
        MetricKind::Histogram => match by {
            Some(by) => format!(
                "histogram_quantile(0.95, sum by (le, {by}) (rate({}_bucket[5m])))",
                def.name
            ),
            None => format!(
                "histogram_quantile(0.95, sum by (le) (rate({}_bucket[5m])))",
                def.name
            ),
        },
    }
}

/// The whole reference page.
pub fn reference_markdown() -> String {
    let mut md = String::new();
    md.push_str("<!-- Generated from the catalogue by `cargo xtask codegen`; do not edit. -->\n\n");
    md.push_str("# Metrics reference\n\n");
    md.push_str(
        "Every metric the gatewayz stack emits, from the catalogue in \
         `crates/gatewayz-catalogue/src/table.rs`. Each category is served at \
         `/prometheus/metrics/<category>`; `/prometheus/metrics/all` serves them all.\n\n",
    );
    md.push_str("## Common questions\n\n");
    for q in common_questions() {
        let _ = writeln!(md, "**{}**\n\n```promql\n{}\n```\n", q.question, q.promql);
    }
    for category in Category::ALL {
        let _ = writeln!(md, "## `{category}`\n");
        md.push_str(
            "| metric | type | unit | labels | description |\n| --- | --- | --- | --- | --- |\n",
        );
        for def in category.metrics() {
            let labels: Vec<String> = def.labels.iter().map(|l| format!("`{}`", l.name)).collect();
            let _ = writeln!(
                md,
                "| [`{name}`](#{name}) | {kind} | {unit} | {labels} | {help} |",
                name = def.name,
                kind = def.kind,
                unit = def.unit,
                labels = if labels.is_empty() {
                    "—".to_owned()
                } else {
                    labels.join(", ")
                },
                help = def.help.replace('|', "\\|"),
            );
        }
        md.push('\n');
        for def in category.metrics() {
            metric_section(&mut md, def);
        }
    }
    md.push_str("## Labels\n\n");
    md.push_str(
        "Label values are trimmed and cut to 128 bytes; an empty value is recorded as `unknown`. \
         Values outside a closed set, and new values past a label's cap on distinct values, are \
         recorded as `other` and counted by `gatewayz_label_overflow_total`.\n\n",
    );
    md.push_str("| label | values | description |\n| --- | --- | --- |\n");
    for label in LABELS {
        let values = match label.domain {
            Domain::Closed(values) => values
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", "),
            Domain::Open {
                max_distinct,
                lowercase,
            } => format!(
                "any, at most {max_distinct} distinct{}",
                if lowercase { ", lower-cased" } else { "" }
            ),
        };
        let _ = writeln!(md, "| `{}` | {values} | {} |", label.name, label.help);
    }
    md.push_str("\n## Renamed from the original Gatewayz names\n\n");
    md.push_str(
        "Names that failed `promtool check metrics` were changed; every other original name is \
         kept.\n\n| original | now | why |\n| --- | --- | --- |\n",
    );
    for def in CATALOGUE {
        if let Some(old) = def.renamed_from {
            let why = if old.ends_with("_count") {
                "`_count` is reserved for histograms and summaries"
            } else if def.kind == MetricKind::Counter && !old.ends_with("_total") {
                "counters end in `_total`; the unit is in the name"
            } else {
                "named for what it measures, not the framework that served it"
            };
            let _ = writeln!(md, "| `{old}` | `{}` | {why} |", def.name);
        }
    }
    md
}

fn metric_section(md: &mut String, def: &MetricDef) {
    let _ = writeln!(md, "### `{}`\n", def.name);
    let _ = writeln!(md, "{}\n", def.help);
    let _ = writeln!(
        md,
        "- type: {}, unit: {}, category: `{}`",
        def.kind, def.unit, def.category
    );
    if !def.labels.is_empty() {
        let labels: Vec<String> = def.labels.iter().map(|l| format!("`{}`", l.name)).collect();
        let _ = writeln!(md, "- labels: {}", labels.join(", "));
    }
    if !def.buckets.is_empty() {
        let buckets: Vec<String> = def.buckets.iter().map(|b| b.to_string()).collect();
        let _ = writeln!(md, "- buckets: {}", buckets.join(", "));
    }
    if def.scale != Scale::One {
        let _ = writeln!(
            md,
            "- recorded in units of 10^-{} {}, exposed as an exact decimal in {}",
            def.scale.decimals(),
            def.unit,
            def.unit
        );
    }
    if let Some(old) = def.renamed_from {
        let _ = writeln!(md, "- renamed from `{old}`");
    }
    let _ = writeln!(md, "\n```promql\n{}\n```\n", example_query(def));
}
