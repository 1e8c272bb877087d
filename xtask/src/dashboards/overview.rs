//! Overview: the landing dashboard, fleet-wide headlines linking to the five detailed ones.

use gatewayz_registry::catalogue::{
    ACTIVE_API_KEYS, BUILD_INFO, COST_USD, HTTP_REQUESTS, MODEL_INFERENCE_DURATION,
    MODEL_INFERENCE_REQUESTS, PROCESS_START_TIME, PROVIDER_HEALTH_SCORE,
};

use super::provider_health::status_expr;
use super::{
    Dashboard, ERROR_THRESHOLDS, HEALTH_THRESHOLDS, Layout, Link, RATE, Unit, Variable, stat,
    target, timeseries,
};
use crate::promql::{known, quantile, ratio, sum_rate};

const HEALTH: &str = "gatewayz-provider-health";
const COST: &str = "gatewayz-cost-analysis";
const MODELS: &str = "gatewayz-model-performance";
const BUSINESS: &str = "gatewayz-business";
const PERFORMANCE: &str = "gatewayz-performance";

pub(super) fn dashboard() -> Dashboard {
    let mut layout = Layout::new();
    let inference_errors = ratio(
        &sum_rate(&MODEL_INFERENCE_REQUESTS, "", r#"status="error""#, RATE),
        &sum_rate(&MODEL_INFERENCE_REQUESTS, "", "", RATE),
    );

    layout.row("Fleet");
    layout.add(
        stat(
            "Inference requests",
            Unit::RequestsPerSecond,
            "Upstream inference attempts per second across every provider, model and replica.",
            vec![target(
                sum_rate(&MODEL_INFERENCE_REQUESTS, "", "", RATE),
                "",
            )],
        )
        .link_to(MODELS, "Model Performance"),
    );
    layout.add(
        stat(
            "Inference error rate",
            Unit::PercentUnit,
            "Failed attempts over all attempts, whole fleet. Green below 5 %, orange below 25 %, \
             red above.",
            vec![target(inference_errors.clone(), "")],
        )
        .thresholds("green", ERROR_THRESHOLDS)
        .link_to(HEALTH, "Provider Health"),
    );
    layout.add(
        stat(
            "Inference latency p95",
            Unit::Seconds,
            "95th percentile inference duration across the fleet, to the last token.",
            vec![target(
                quantile(0.95, &MODEL_INFERENCE_DURATION, "", "", RATE),
                "",
            )],
        )
        .link_to(MODELS, "Model Performance"),
    );
    layout.add(
        stat(
            "Spend per hour",
            Unit::Usd,
            "Current upstream spend in dollars per hour (per-second rate × 3600).",
            vec![target(
                format!("{} * 3600", sum_rate(&COST_USD, "", "", RATE)),
                "",
            )],
        )
        .link_to(COST, "Cost Analysis"),
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
                        format!("count(({}) == {value}) or vector(0)", status_expr("")),
                        status,
                    )
                })
                .collect(),
        )
        .size(12, 4)
        .link_to(HEALTH, "Provider Health"),
    );
    layout.add(
        stat(
            "HTTP 5xx ratio",
            Unit::PercentUnit,
            "Share of HTTP responses that were server errors, whole fleet.",
            vec![target(
                ratio(
                    &sum_rate(&HTTP_REQUESTS, "", r#"status_class="5xx""#, RATE),
                    &sum_rate(&HTTP_REQUESTS, "", "", RATE),
                ),
                "",
            )],
        )
        .thresholds("green", ERROR_THRESHOLDS)
        .link_to(PERFORMANCE, "Performance & Latency"),
    );
    layout.add(
        stat(
            "Active API keys",
            Unit::Short,
            "API keys that are active (the same database number on every replica: maximum).",
            vec![target(format!("max({})", ACTIVE_API_KEYS.name), "")],
        )
        .link_to(BUSINESS, "Business Metrics"),
    );
    layout.add(stat(
        "Replicas reporting",
        Unit::Short,
        "Gateway replicas whose metrics Prometheus currently has, by version (from \
         gatewayz_build_info). Fewer than you run means a scrape target is down.",
        vec![target(
            format!("count by (version) ({})", BUILD_INFO.name),
            "{{version}}",
        )],
    ));
    layout.add(stat(
        "Youngest replica uptime",
        Unit::Seconds,
        "Time since the most recent replica start: a small value after no deploy means a crash \
         loop.",
        vec![target(
            format!("time() - max({})", PROCESS_START_TIME.name),
            "",
        )],
    ));

    layout.row("Trends");
    layout.add(
        timeseries(
            "Requests per provider",
            Unit::RequestsPerSecond,
            "Inference attempts per second by provider, stacked.",
            vec![target(
                sum_rate(&MODEL_INFERENCE_REQUESTS, "provider", "", RATE),
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
                    &sum_rate(
                        &MODEL_INFERENCE_REQUESTS,
                        "provider",
                        r#"status="error""#,
                        RATE,
                    ),
                    &sum_rate(&MODEL_INFERENCE_REQUESTS, "provider", "", RATE),
                ),
                "{{provider}}",
            )],
        )
        .range(0.0, 1.0)
        .thresholds("green", ERROR_THRESHOLDS),
    );
    layout.add(
        timeseries(
            "Health score per provider",
            Unit::PercentUnit,
            "Composite health score by provider, averaged across replicas that can judge it.",
            vec![target(
                format!("avg by (provider) ({})", known(PROVIDER_HEALTH_SCORE.name)),
                "{{provider}}",
            )],
        )
        .range(0.0, 1.0)
        .thresholds("red", HEALTH_THRESHOLDS),
    );
    layout.add(
        timeseries(
            "Spend per hour by provider",
            Unit::Usd,
            "Dollars per hour by provider, stacked.",
            vec![target(
                format!("{} * 3600", sum_rate(&COST_USD, "provider", "", RATE)),
                "{{provider}}",
            )],
        )
        .stacked(),
    );

    let targets = [
        (HEALTH, "Provider Health"),
        (COST, "Cost Analysis"),
        (MODELS, "Model Performance"),
        (BUSINESS, "Business Metrics"),
        (PERFORMANCE, "Performance & Latency"),
    ];
    Dashboard {
        uid: super::OVERVIEW_UID,
        title: "Gatewayz / Overview",
        file: "overview.json",
        summary: "The landing page: fleet-wide traffic, errors, latency, spend and provider \
                  status at a glance, with links to the five detailed dashboards.",
        tags: vec![super::TAG, "overview"],
        variables: vec![Variable::Datasource],
        links: targets
            .iter()
            .map(|(uid, title)| Link {
                title: (*title).to_owned(),
                url: format!("/d/{uid}"),
                tooltip: format!("Open the {title} dashboard"),
            })
            .collect(),
        panels: layout.finish(),
    }
}
