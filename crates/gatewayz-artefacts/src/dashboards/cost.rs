//! Cost Analysis: spend per provider and model, unit costs, month to date and forecast.

use gatewayz_catalogue::{
    COST_USD, MODEL_INFERENCE_REQUESTS, REQUEST_COST, ROUTING_REFERENCE_COST, TOKENS_USED,
};

use super::{
    BY_PROVIDER, BY_PROVIDER_MODEL, Board, Context, Dashboard, Layout, Panel, RATE, Unit, bargauge,
    stat, target, timeseries,
};
use crate::expr::{Scope, and, ratio};

/// Seconds left until the end of the current month (UTC), as a PromQL vector.
pub(crate) const SECONDS_TO_MONTH_END: &str =
    "(days_in_month() - day_of_month() + 1) * 86400 - time() % 86400";

/// Month-end forecast of spend: month to date, plus the seconds left times the spend rate that
/// the last week's linear trend predicts halfway through them (the mean of a linear trend over
/// the rest of the month). `matchers` filter the cost counter; `range` is the month so far.
pub(crate) fn month_end_forecast(s: &Scope, matchers: &str, range: &str) -> String {
    let cost = s.sel(&COST_USD, matchers);
    format!(
        "sum(increase({cost}[{range}]))\n  + scalar({SECONDS_TO_MONTH_END})\n  * clamp_min(\n      predict_linear(sum(rate({cost}[1h]))[7d:1h], scalar({SECONDS_TO_MONTH_END}) / 2),\n      0\n    )"
    )
}

pub(super) fn dashboard(cx: &Context) -> Dashboard {
    let s = &cx.scope;
    let mut layout = Layout::new();
    let pm = BY_PROVIDER_MODEL;

    let budget = cx.deployment.cost.monthly_budget_usd;
    // Against the budget: orange from 90 %, red above it.
    let budget_colours = |panel: Panel| match budget {
        Some(b) => panel.thresholds("green", &[(0.9 * b, "orange"), (b, "red")]),
        None => panel,
    };
    let month_to_date = s.sum_increase(&COST_USD, "", pm, "$__range");
    let forecast = month_end_forecast(s, pm, "$__range");

    layout.row("Spend");
    layout.add(budget_colours(
        stat(
            "Month-to-date spend",
            Unit::Usd,
            "Upstream cost since the start of the month (UTC; the panel's time range is 'this \
             month so far'), summed over the selected providers and models and every replica. \
             Needs Prometheus (or your long-term store) to keep a month of data.",
            vec![target(month_to_date.clone(), "")],
        )
        .time_from("now/M")
        .instant(),
    ));
    layout.add(budget_colours(
        stat(
            "Month-end forecast",
            Unit::Usd,
            "Projected spend at the end of the month: month to date plus the seconds left times \
             the spend rate (hourly averages) extrapolated with predict_linear over the last 7 \
             days, evaluated halfway through the remaining time: the mean of the linear trend. \
             Rough early in a month or after a traffic change.",
            vec![target(forecast.clone(), "")],
        )
        .time_from("now/M")
        .instant(),
    ));
    if let Some(budget) = budget {
        for (title, what, expr) in [
            (
                "Monthly budget used",
                "Month-to-date spend over the monthly budget",
                &month_to_date,
            ),
            (
                "Forecast against the budget",
                "The month-end forecast over the monthly budget",
                &forecast,
            ),
        ] {
            layout.add(
                stat(
                    title,
                    Unit::PercentUnit,
                    &format!(
                        "{what} (${budget}, `cost.monthly_budget_usd` of the deployment \
                         configuration), for the selected providers and models. Orange from \
                         90 %, red above 100 %."
                    ),
                    vec![target(format!("({expr})\n  / {budget}"), "")],
                )
                .thresholds("green", &[(0.9, "orange"), (1.0, "red")])
                .time_from("now/M")
                .instant(),
            );
        }
    }
    layout.add(
        stat(
            "Spend in the time range",
            Unit::Usd,
            "Upstream cost over the dashboard's time range.",
            vec![target(s.sum_increase(&COST_USD, "", pm, "$__range"), "")],
        )
        .instant(),
    );
    layout.add(stat(
        "Spend rate per hour",
        Unit::Usd,
        "Current spend in dollars per hour (the per-second rate × 3600), the unit of the \
         cost-per-hour alert.",
        vec![target(
            format!("{} * 3600", s.sum_rate(&COST_USD, "", pm, RATE)),
            "",
        )],
    ));
    layout.add(
        timeseries(
            "Spend rate per provider ($/hour)",
            Unit::Usd,
            "Dollars per hour per provider, stacked: the per-second rate of the cost counter × \
             3600.",
            vec![target(
                format!("{} * 3600", s.sum_rate(&COST_USD, "provider", pm, RATE)),
                "{{provider}}",
            )],
        )
        .stacked(),
    );
    layout.add(bargauge(
        "Spend per provider in the time range",
        Unit::Usd,
        "Dollars spent per provider over the dashboard's time range.",
        vec![target(
            s.sum_increase(&COST_USD, "provider", pm, "$__range"),
            "{{provider}}",
        )],
    ));
    layout.add(timeseries(
        "Spend trend: trailing 24 hours",
        Unit::Usd,
        "Dollars spent in the 24 hours before each point, per provider: the daily trend without \
         the hour-of-day swing.",
        vec![target(
            s.sum_increase(&COST_USD, "provider", pm, "1d"),
            "{{provider}}",
        )],
    ));
    layout.add(bargauge(
        "Top models by spend in the time range",
        Unit::Usd,
        "The 15 models that cost the most over the dashboard's time range.",
        vec![target(
            format!(
                "topk(15, {})",
                s.sum_increase(&COST_USD, "model", pm, "$__range")
            ),
            "{{model}}",
        )],
    ));

    layout.row("Unit costs");
    layout.add(timeseries(
        "Cost per request",
        Unit::Usd,
        "Average upstream cost of one successful inference call per provider: cost rate over \
         success rate. Failed attempts usually cost nothing and are not counted.",
        vec![target(
            ratio(
                &s.sum_rate(&COST_USD, "provider", pm, RATE),
                &s.sum_rate(
                    &MODEL_INFERENCE_REQUESTS,
                    "provider",
                    &and(&[pm, r#"status="success""#]),
                    RATE,
                ),
            ),
            "{{provider}}",
        )],
    ));
    layout.add(timeseries(
        "Cost per 1k tokens",
        Unit::Usd,
        "Dollars per thousand tokens (input and output together) per provider: compare \
         providers serving the same models.",
        vec![target(
            format!(
                "1000 * {}",
                ratio(
                    &s.sum_rate(&COST_USD, "provider", pm, RATE),
                    &s.sum_rate(&TOKENS_USED, "provider", pm, RATE),
                )
            ),
            "{{provider}}",
        )],
    ));
    layout.add(timeseries(
        "Cost of one request p50 / p95",
        Unit::Usd,
        "Distribution of the cost of single calls per provider (the histogram has no model \
         label: the model filter does not apply). A rising p95 with a flat p50 means a few \
         expensive requests (long contexts, large models).",
        [0.5, 0.95]
            .iter()
            .map(|&q| {
                target(
                    s.quantile(q, &REQUEST_COST, "provider", BY_PROVIDER, RATE),
                    &format!("p{} {{{{provider}}}}", (q * 100.0).round()),
                )
            })
            .collect(),
    ));
    layout.add(
        timeseries(
            "Tokens by model",
            Unit::Short,
            "Tokens per second by model and direction (input = prompt, output = completion), \
             stacked. Output tokens usually cost several times input tokens.",
            vec![target(
                s.sum_rate(&TOKENS_USED, "model, token_type", pm, RATE),
                "{{model}} {{token_type}}",
            )],
        )
        .stacked(),
    );

    routing(cx, &mut layout);

    cx.dashboard(
        Board::CostAnalysis,
        vec![cx.provider_variable(), cx.model_variable()],
        cx.detail_links(),
        layout.finish(),
    )
    // Months begin at 00:00 UTC here as in Prometheus (`now/M`, `day_of_month()`) and the
    // reports, whatever the browser's time zone.
    .in_utc()
}

/// `by (labels) (f(reference) - f(cost))`: what routing saved per (provider, model) pair, summed.
/// The subtraction matches the two counters series by series (same provider, model and target),
/// so spend routed without prices, which has no reference, is left out of both sides.
fn saved(s: &Scope, labels: &str, matchers: &str, f: &str, window: &str) -> String {
    s.agg(
        "sum",
        labels,
        &format!(
            "\n    {f}({}[{window}])\n  - {f}({}[{window}])\n",
            s.sel(&ROUTING_REFERENCE_COST, matchers),
            s.sel(&COST_USD, matchers)
        ),
    )
}

/// The routing row: what routing saved against the reference cost.
fn routing(cx: &Context, layout: &mut Layout) {
    let s = &cx.scope;
    let pm = BY_PROVIDER_MODEL;
    let reference = "The reference is what the same calls would have cost at the mean price of \
                     the healthy candidates when each request was routed (what the spread policy \
                     pays on average), from gatewayz_routing_reference_cost_usd_total; spend \
                     routed without prices has no reference and is left out.";
    layout.row("Routing");
    layout.add(
        stat(
            "Saved by routing in the time range",
            Unit::Usd,
            &format!(
                "Reference cost minus upstream cost over the dashboard's time range, for the \
                 selected providers and models. {reference} Negative: the routing policies \
                 spent more than the reference (fastest buys speed)."
            ),
            vec![target(saved(s, "", pm, "increase", "$__range"), "")],
        )
        .instant(),
    );
    layout.add(
        stat(
            "Saved by routing, share of the reference",
            Unit::PercentUnit,
            &format!(
                "What routing saved over what the routed calls would have cost at the \
                 reference price, over the time range. {reference}"
            ),
            vec![target(
                ratio(
                    &saved(s, "", pm, "increase", "$__range"),
                    &s.sum_increase(&ROUTING_REFERENCE_COST, "", pm, "$__range"),
                ),
                "",
            )],
        )
        .instant(),
    );
    layout.add(timeseries(
        "Saved by routing per model ($/hour)",
        Unit::Usd,
        &format!(
            "Dollars per hour saved per model: the per-second rates of the reference and the \
             upstream cost, subtracted, × 3600. {reference}"
        ),
        vec![target(
            format!("{} * 3600", saved(s, "model", pm, "rate", RATE)),
            "{{model}}",
        )],
    ));
    layout.add(
        timeseries(
            "Saved by routing per model, share of the reference",
            Unit::PercentUnit,
            &format!(
                "Per model, the saving rate over the reference cost rate: the share of what its \
                 routed calls would have cost that routing saved. {reference}"
            ),
            vec![target(
                ratio(
                    &saved(s, "model", pm, "rate", RATE),
                    &s.sum_rate(&ROUTING_REFERENCE_COST, "model", pm, RATE),
                ),
                "{{model}}",
            )],
        )
        .size(24, 8),
    );
}
