//! Overview: the landing dashboard, fleet-wide headlines linking to the five detailed ones.

use gatewayz_catalogue::{
    ACTIVE_API_KEYS, BUILD_INFO, COST_USD, HTTP_REQUESTS, MODEL_INFERENCE_DURATION,
    MODEL_INFERENCE_REQUESTS, PROCESS_START_TIME, PROVIDER_HEALTH_SCORE,
};

use super::provider_health::status_expr;
use super::{Board, Context, Dashboard, Layout, Link, RATE, Unit, stat, target, timeseries};
use crate::{
    expr::ratio,
    rules::slo::{Kind, names, objectives},
};

pub(super) fn dashboard(cx: &Context) -> Dashboard {
    let s = &cx.scope;
    let mut layout = Layout::new();
    let inference_errors = ratio(
        &s.sum_rate(&MODEL_INFERENCE_REQUESTS, "", r#"status="error""#, RATE),
        &s.sum_rate(&MODEL_INFERENCE_REQUESTS, "", "", RATE),
    );

    layout.row("Fleet");
    layout.add(
        stat(
            "Inference requests",
            Unit::RequestsPerSecond,
            "Upstream inference attempts per second across every provider, model and replica.",
            vec![target(
                s.sum_rate(&MODEL_INFERENCE_REQUESTS, "", "", RATE),
                "",
            )],
        )
        .link_to(&cx.uid(Board::ModelPerformance), "Model Performance"),
    );
    layout.add(
        stat(
            "Inference error rate",
            Unit::PercentUnit,
            "Failed attempts over all attempts, whole fleet. Green below 5 %, orange below 25 %, \
             red above.",
            vec![target(inference_errors.clone(), "")],
        )
        .thresholds("green", &cx.error_thresholds())
        .link_to(&cx.uid(Board::ProviderHealth), "Provider Health"),
    );
    layout.add(
        stat(
            "Inference latency p95",
            Unit::Seconds,
            "95th percentile inference duration across the fleet, to the last token.",
            vec![target(
                s.quantile(0.95, &MODEL_INFERENCE_DURATION, "", "", RATE),
                "",
            )],
        )
        .link_to(&cx.uid(Board::ModelPerformance), "Model Performance"),
    );
    layout.add(
        stat(
            "Spend per hour",
            Unit::Usd,
            "Current upstream spend in dollars per hour (per-second rate × 3600).",
            vec![target(
                format!("{} * 3600", s.sum_rate(&COST_USD, "", "", RATE)),
                "",
            )],
        )
        .link_to(&cx.uid(Board::CostAnalysis), "Cost Analysis"),
    );
    layout.add(
        stat(
            "Providers by status",
            Unit::Short,
            "How many providers are healthy, degraded and unavailable, each provider counted \
             once at its worst replica's status (as on Provider Health). Providers too quiet to \
             judge are not counted.",
            [(1, "healthy"), (2, "degraded"), (3, "unavailable")]
                .iter()
                .map(|(value, status)| {
                    target(
                        format!("count(({}) == {value}) or vector(0)", status_expr(s, "")),
                        status,
                    )
                })
                .collect(),
        )
        .size(12, 4)
        .link_to(&cx.uid(Board::ProviderHealth), "Provider Health"),
    );
    layout.add(
        stat(
            "HTTP 5xx ratio",
            Unit::PercentUnit,
            "Share of HTTP responses that were server errors, whole fleet.",
            vec![target(
                ratio(
                    &s.sum_rate(&HTTP_REQUESTS, "", r#"status_class="5xx""#, RATE),
                    &s.sum_rate(&HTTP_REQUESTS, "", "", RATE),
                ),
                "",
            )],
        )
        .thresholds("green", &cx.error_thresholds())
        .link_to(&cx.uid(Board::Performance), "Performance & Latency"),
    );
    layout.add(
        stat(
            "Active API keys",
            Unit::Short,
            "API keys that are active (the same database number on every replica: maximum).",
            vec![target(s.agg("max", "", &s.sel(&ACTIVE_API_KEYS, "")), "")],
        )
        .link_to(&cx.uid(Board::Business), "Business Metrics"),
    );
    layout.add(stat(
        "Replicas reporting",
        Unit::Short,
        "Gateway replicas whose metrics Prometheus currently has, by version (from \
         gatewayz_build_info). Fewer than you run means a scrape target is down.",
        vec![target(
            s.agg("count", "version", &s.sel(&BUILD_INFO, "")),
            "{{version}}",
        )],
    ));
    layout.add(stat(
        "Youngest replica uptime",
        Unit::Seconds,
        "Time since the most recent replica start: a small value after no deploy means a crash \
         loop.",
        vec![target(
            format!(
                "time() - {}",
                s.agg("max", "", &s.sel(&PROCESS_START_TIME, ""))
            ),
            "",
        )],
    ));

    layout.add(
        stat(
            "Error budget remaining",
            Unit::PercentUnit,
            "The share of each service level objective's error budget not yet spent over its \
             window (the worst model for the per-model objective): 100% untouched, 0 spent, \
             below 0 overspent. From the SLO recording rules, the whole fleet.",
            objectives(cx.deployment)
                .iter()
                .map(|o| {
                    let series =
                        cx.fleet
                            .series(&names::budget_remaining(o.kind.level()), "", &o.matcher());
                    let expr = if o.kind == Kind::ModelAvailability {
                        format!("min({series})")
                    } else {
                        series
                    };
                    target(expr, &o.kind.title().to_lowercase())
                })
                .collect(),
        )
        .range(-1.0, 1.0)
        .thresholds("red", &[(0.0, "orange"), (0.25, "green")])
        .size(24, 4)
        .link_to(&cx.uid(Board::Slo), "Service Levels"),
    );

    layout.row("Trends");
    layout.add(
        timeseries(
            "Requests per provider",
            Unit::RequestsPerSecond,
            "Inference attempts per second by provider, stacked.",
            vec![target(
                s.sum_rate(&MODEL_INFERENCE_REQUESTS, "provider", "", RATE),
                "{{provider}}",
            )],
        )
        .stacked(),
    );
    layout.add(
        timeseries(
            "Error rate per provider",
            Unit::PercentUnit,
            "Failed attempts over all attempts by provider. No line without traffic.",
            vec![target(
                ratio(
                    &s.sum_rate(
                        &MODEL_INFERENCE_REQUESTS,
                        "provider",
                        r#"status="error""#,
                        RATE,
                    ),
                    &s.sum_rate(&MODEL_INFERENCE_REQUESTS, "provider", "", RATE),
                ),
                "{{provider}}",
            )],
        )
        .range(0.0, 1.0)
        .thresholds("green", &cx.error_thresholds()),
    );
    layout.add(
        timeseries(
            "Health score per provider",
            Unit::PercentUnit,
            "Composite health score by provider, across the replicas that can judge it, each \
             weighted by the attempts it made.",
            vec![target(
                super::provider_health::by_attempts(s, &PROVIDER_HEALTH_SCORE, ""),
                "{{provider}}",
            )],
        )
        .range(0.0, 1.0)
        .thresholds("red", &cx.health_thresholds()),
    );
    layout.add(
        timeseries(
            "Spend per hour by provider",
            Unit::Usd,
            "Dollars per hour by provider, stacked.",
            vec![target(
                format!("{} * 3600", s.sum_rate(&COST_USD, "provider", "", RATE)),
                "{{provider}}",
            )],
        )
        .stacked(),
    );

    let links = Board::ALL[1..]
        .iter()
        .map(|board| Link {
            title: board.title().to_owned(),
            url: format!("/d/{}", cx.uid(*board)),
            tooltip: format!("Open the {} dashboard", board.title()),
        })
        .collect();
    cx.dashboard(Board::Overview, Vec::new(), links, layout.finish())
}
