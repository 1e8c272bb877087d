//! Recording rules: the fleet-wide view across replicas, and what the alerts are built on.

use gatewayz_catalogue::{
    CIRCUIT_BREAKER_STATE, COST_USD, CREDITS_USED, FAILOVERS, HTTP_REQUEST_DURATION, HTTP_REQUESTS,
    MODEL_INFERENCE_DURATION, MODEL_INFERENCE_REQUESTS, PROVIDER_HEALTH_SCORE,
    PROVIDER_RESPONSE_TIME, PROVIDER_STATUS, TOKENS_USED,
};

use super::{ExprTest, Inputs, RecordingRule, Rule, RuleGroup, repeat};
use crate::{
    Deployment,
    expr::{Scope, known, ratio},
};

// The names alerts and dashboards refer to.

/// Inference attempts per second by provider and status.
pub(crate) const PROVIDER_STATUS_REQUESTS: &str = "provider_status:model_inference_requests:rate5m";
/// Inference attempts per second by provider.
pub(crate) const PROVIDER_REQUESTS: &str = "provider:model_inference_requests:rate5m";
/// Failed over all inference attempts by provider; no sample without traffic.
pub(crate) const PROVIDER_ERROR_RATIO: &str = "provider:gatewayz_inference_error_ratio:rate5m";
/// p95 upstream response time by provider; no sample without traffic.
pub(crate) const PROVIDER_P95: &str = "provider:provider_response_time_seconds:p95_5m";
/// Health score by provider, averaged across the replicas that can judge it.
pub(crate) const PROVIDER_SCORE_AVG: &str = "provider:gatewayz_provider_health_score:avg";
/// Share of judging replicas that call the provider unavailable.
pub(crate) const PROVIDER_UNAVAILABLE: &str = "provider:gatewayz_provider_status_unavailable:ratio";
/// Replicas whose circuit for the provider is not closed.
pub(crate) const PROVIDER_NOT_CLOSED: &str = "provider:gatewayz_circuit_breaker_not_closed:count";
/// Failovers per second by provider.
pub(crate) const PROVIDER_FAILOVERS: &str = "provider:gatewayz_failovers:rate5m";
/// Dollars spent in the trailing hour by provider.
pub(crate) const PROVIDER_COST_HOUR: &str = "provider:gatewayz_cost_usd:increase1h";
/// Tokens per second by model and direction.
pub(crate) const MODEL_TOKENS: &str = "model_token_type:tokens_used:rate5m";
/// p95 inference duration by model; no sample without traffic.
pub(crate) const MODEL_P95: &str = "model:model_inference_duration_seconds:p95_5m";

fn record(record: &str, help: &'static str, expr: String) -> Rule {
    Rule::Record(RecordingRule {
        record: record.to_owned(),
        expr,
        help,
    })
}

/// `histogram_quantile(q, buckets and on (by) (count > 0))`: no sample, not NaN, when no
/// observation arrived in the window.
fn guarded_quantile(s: &Scope, q: f64, buckets: &str, count: &str, by: &str) -> String {
    format!(
        "histogram_quantile(\n  {q},\n  {}\n    and on ({}) ({} > 0)\n)",
        s.series(buckets, "", ""),
        s.by(by),
        s.series(count, "", "")
    )
}

pub(super) fn groups(deployment: &Deployment) -> Vec<RuleGroup> {
    let s = &Scope::rules(&deployment.selector);
    let bucket_rate = |def: &gatewayz_catalogue::MetricDef, by: &str| {
        s.agg(
            "sum",
            by,
            &format!("rate({}[5m])", s.series(def.name, "_bucket", "")),
        )
    };
    let count_rate = |def: &gatewayz_catalogue::MetricDef, by: &str| {
        s.agg(
            "sum",
            by,
            &format!("rate({}[5m])", s.series(def.name, "_count", "")),
        )
    };
    vec![
        RuleGroup {
            name: "gatewayz-providers-recording",
            rules: vec![
                record(
                    PROVIDER_STATUS_REQUESTS,
                    "Inference attempts per second by provider and status, summed across replicas.",
                    s.sum_rate(&MODEL_INFERENCE_REQUESTS, "provider, status", "", "5m"),
                ),
                record(
                    PROVIDER_REQUESTS,
                    "Inference attempts per second by provider.",
                    s.agg(
                        "sum",
                        "provider",
                        &s.series(PROVIDER_STATUS_REQUESTS, "", ""),
                    ),
                ),
                record(
                    PROVIDER_ERROR_RATIO,
                    "Failed over all inference attempts by provider (0..1); no sample without traffic.",
                    ratio(
                        &s.agg(
                            "sum",
                            "provider",
                            &s.series(PROVIDER_STATUS_REQUESTS, "", r#"status="error""#),
                        ),
                        &s.series(PROVIDER_REQUESTS, "", ""),
                    ),
                ),
                record(
                    "provider_le:provider_response_time_seconds_bucket:rate5m",
                    "Upstream response-time buckets per second by provider, summed across replicas.",
                    bucket_rate(&PROVIDER_RESPONSE_TIME, "provider, le"),
                ),
                record(
                    "provider:provider_response_time_seconds_count:rate5m",
                    "Upstream calls per second by provider, from the response-time histogram.",
                    count_rate(&PROVIDER_RESPONSE_TIME, "provider"),
                ),
                record(
                    PROVIDER_P95,
                    "p95 upstream response time by provider, from buckets summed across replicas; \
                     no sample without calls.",
                    guarded_quantile(
                        s,
                        0.95,
                        "provider_le:provider_response_time_seconds_bucket:rate5m",
                        "provider:provider_response_time_seconds_count:rate5m",
                        "provider",
                    ),
                ),
                record(
                    PROVIDER_SCORE_AVG,
                    "Health score by provider, averaged across the replicas that have enough calls \
                     to judge (NaN scores are left out).",
                    s.agg(
                        "avg",
                        "provider",
                        &known(&s.sel(&PROVIDER_HEALTH_SCORE, "")),
                    ),
                ),
                record(
                    "provider:gatewayz_provider_health_score:min",
                    "Health score by provider, worst judging replica.",
                    s.agg(
                        "min",
                        "provider",
                        &known(&s.sel(&PROVIDER_HEALTH_SCORE, "")),
                    ),
                ),
                record(
                    PROVIDER_UNAVAILABLE,
                    "Share of the replicas judging a provider (status not unknown) that call it \
                     unavailable; no sample when none can judge.",
                    ratio(
                        &s.agg(
                            "sum",
                            "provider",
                            &s.sel(&PROVIDER_STATUS, r#"status="unavailable""#),
                        ),
                        &s.agg(
                            "sum",
                            "provider",
                            &s.sel(&PROVIDER_STATUS, r#"status!="unknown""#),
                        ),
                    ),
                ),
                record(
                    PROVIDER_NOT_CLOSED,
                    "Replicas whose circuit breaker for the provider is open or half-open.",
                    s.agg(
                        "count",
                        "provider",
                        &format!(
                            "{} == 0",
                            s.sel(&CIRCUIT_BREAKER_STATE, r#"state="closed""#)
                        ),
                    ),
                ),
                record(
                    PROVIDER_FAILOVERS,
                    "Requests moved on from a provider per second, summed across replicas.",
                    s.sum_rate(&FAILOVERS, "provider", "", "5m"),
                ),
            ],
        },
        RuleGroup {
            name: "gatewayz-models-recording",
            rules: vec![
                record(
                    "model_le:model_inference_duration_seconds_bucket:rate5m",
                    "Inference duration buckets per second by model, summed across providers and \
                     replicas.",
                    bucket_rate(&MODEL_INFERENCE_DURATION, "model, le"),
                ),
                record(
                    "model:model_inference_duration_seconds_count:rate5m",
                    "Inference calls per second by model, from the duration histogram.",
                    count_rate(&MODEL_INFERENCE_DURATION, "model"),
                ),
                record(
                    MODEL_P95,
                    "p95 inference duration by model; no sample without calls.",
                    guarded_quantile(
                        s,
                        0.95,
                        "model_le:model_inference_duration_seconds_bucket:rate5m",
                        "model:model_inference_duration_seconds_count:rate5m",
                        "model",
                    ),
                ),
                record(
                    MODEL_TOKENS,
                    "Tokens per second by model and direction, summed across providers and replicas.",
                    s.sum_rate(&TOKENS_USED, "model, token_type", "", "5m"),
                ),
            ],
        },
        RuleGroup {
            name: "gatewayz-cost-recording",
            rules: vec![
                record(
                    "provider:gatewayz_cost_usd:rate5m",
                    "Upstream spend by provider in dollars per second (× 3600 for dollars per hour).",
                    s.sum_rate(&COST_USD, "provider", "", "5m"),
                ),
                record(
                    PROVIDER_COST_HOUR,
                    "Dollars spent by provider in the trailing hour: the cost per hour.",
                    s.sum_increase(&COST_USD, "provider", "", "1h"),
                ),
                record(
                    "provider:credits_used:increase1h",
                    "Credits charged by provider in the trailing hour.",
                    s.sum_increase(&CREDITS_USED, "provider", "", "1h"),
                ),
            ],
        },
        RuleGroup {
            name: "gatewayz-http-recording",
            rules: vec![
                record(
                    "job:http_requests:rate5m",
                    "HTTP requests served per second, summed across the replicas of each job.",
                    s.sum_rate(&HTTP_REQUESTS, "", "", "5m"),
                ),
                record(
                    "job:gatewayz_http_error_ratio:rate5m",
                    "Share of HTTP responses that were 5xx; no sample without traffic.",
                    ratio(
                        &s.sum_rate(&HTTP_REQUESTS, "", r#"status_class="5xx""#, "5m"),
                        &s.series("job:http_requests:rate5m", "", ""),
                    ),
                ),
                record(
                    "job_le:http_request_duration_seconds_bucket:rate5m",
                    "HTTP duration buckets per second, summed across replicas.",
                    bucket_rate(&HTTP_REQUEST_DURATION, "le"),
                ),
                record(
                    "job:http_request_duration_seconds_count:rate5m",
                    "HTTP requests per second, from the duration histogram.",
                    count_rate(&HTTP_REQUEST_DURATION, ""),
                ),
                record(
                    "job:http_request_duration_seconds:p95_5m",
                    "p95 HTTP duration per job; no sample without requests.",
                    guarded_quantile(
                        s,
                        0.95,
                        "job_le:http_request_duration_seconds_bucket:rate5m",
                        "job:http_request_duration_seconds_count:rate5m",
                        "",
                    ),
                ),
            ],
        },
    ]
}

/// `promql_expr_test` cases: values across replicas, no sample (never NaN) at zero traffic, and
/// nothing from a neighbouring deployment that shares the Prometheus.
pub(super) fn tests(deployment: &Deployment) -> Vec<ExprTest> {
    let inputs = Inputs::new(&deployment.selector);
    let neighbour = Inputs::neighbour(&deployment.selector);
    let pair = [("provider", "openrouter"), ("model", "gpt-4o-mini")];
    let requests = |inputs: &Inputs, replica: usize, status: &str, values: &str| {
        let mut labels = pair.to_vec();
        labels.push(("status", status));
        inputs.metric(&MODEL_INFERENCE_REQUESTS, replica, &labels, values)
    };
    let score = |replica: usize, values: String| {
        inputs.metric(
            &PROVIDER_HEALTH_SCORE,
            replica,
            &[("provider", "openrouter")],
            values,
        )
    };
    let status = |replica: usize, current: &str| inputs.provider_status(replica, current, 10);
    let openrouter = [("provider", "openrouter")];
    vec![
        ExprTest {
            name: "error ratio sums attempts across replicas".to_owned(),
            series: vec![
                requests(&inputs, 0, "success", "0+6x10"),
                requests(&inputs, 0, "error", "0+2x10"),
                requests(&inputs, 1, "success", "0+0x10"),
                requests(&inputs, 1, "error", "0+4x10"),
            ],
            expr: PROVIDER_ERROR_RATIO.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![inputs.sample(PROVIDER_ERROR_RATIO, &openrouter, 0.5)],
        },
        ExprTest {
            name: "error ratio leaves out a neighbouring deployment's series".to_owned(),
            series: vec![
                requests(&inputs, 0, "success", "0+6x10"),
                requests(&inputs, 0, "error", "0+6x10"),
                requests(&neighbour, 0, "success", "0+12x10"),
                requests(&neighbour, 0, "error", "0+0x10"),
            ],
            expr: PROVIDER_ERROR_RATIO.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![inputs.sample(PROVIDER_ERROR_RATIO, &openrouter, 0.5)],
        },
        ExprTest {
            name: "error ratio has no sample at zero traffic".to_owned(),
            series: vec![
                requests(&inputs, 0, "success", "0x10"),
                requests(&inputs, 0, "error", "0x10"),
            ],
            expr: PROVIDER_ERROR_RATIO.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![],
        },
        ExprTest {
            name: "p95 latency has no sample at zero traffic".to_owned(),
            series: inputs.histogram(&PROVIDER_RESPONSE_TIME, 0, &openrouter, 1.0, 0.0, 10),
            expr: PROVIDER_P95.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![],
        },
        ExprTest {
            name: "p95 latency interpolates within the summed buckets".to_owned(),
            series: [0, 1]
                .into_iter()
                .flat_map(|replica| {
                    inputs.histogram(&PROVIDER_RESPONSE_TIME, replica, &openrouter, 2.0, 5.0, 10)
                })
                .collect(),
            expr: PROVIDER_P95.to_owned(),
            eval_time: "10m".to_owned(),
            // All observations in (1, 2]: 1 + 0.95 × (2 − 1), which Prometheus's float
            // arithmetic lands one ulp above 1.95 (promtool compares exactly).
            samples: vec![inputs.sample(
                PROVIDER_P95,
                &openrouter,
                f64::from_bits(1.95_f64.to_bits() + 1),
            )],
        },
        ExprTest {
            name: "health score average leaves out replicas without enough traffic (NaN)"
                .to_owned(),
            series: vec![score(0, repeat("NaN", 11)), score(1, "0.6x10".to_owned())],
            expr: PROVIDER_SCORE_AVG.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![inputs.sample(PROVIDER_SCORE_AVG, &openrouter, 0.6)],
        },
        ExprTest {
            name: "health score average has no sample when no replica can judge".to_owned(),
            series: vec![score(0, repeat("NaN", 11)), score(1, repeat("NaN", 11))],
            expr: PROVIDER_SCORE_AVG.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![],
        },
        ExprTest {
            name: "unavailable share counts only replicas that can judge".to_owned(),
            series: [
                status(0, "unavailable"),
                status(1, "healthy"),
                status(2, "unknown"),
            ]
            .concat(),
            expr: PROVIDER_UNAVAILABLE.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![inputs.sample(PROVIDER_UNAVAILABLE, &openrouter, 0.5)],
        },
        ExprTest {
            name: "unavailable share has no sample when every replica is unknown".to_owned(),
            series: [status(0, "unknown"), status(1, "unknown")].concat(),
            expr: PROVIDER_UNAVAILABLE.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![],
        },
        ExprTest {
            name: "cost per hour is dollars in the trailing hour, summed across replicas"
                .to_owned(),
            series: [0, 1]
                .into_iter()
                .map(|replica| inputs.metric(&COST_USD, replica, &pair, "0+0.5x70"))
                .collect(),
            expr: PROVIDER_COST_HOUR.to_owned(),
            eval_time: "70m".to_owned(),
            // $0.50 a minute on each of two replicas: $60 an hour.
            samples: vec![inputs.sample(PROVIDER_COST_HOUR, &openrouter, 60.0)],
        },
        ExprTest {
            name: "cost per hour leaves out a neighbouring deployment's spend".to_owned(),
            series: vec![
                inputs.metric(&COST_USD, 0, &pair, "0+0.5x70"),
                neighbour.metric(&COST_USD, 0, &pair, "0+10x70"),
            ],
            expr: PROVIDER_COST_HOUR.to_owned(),
            eval_time: "70m".to_owned(),
            samples: vec![inputs.sample(PROVIDER_COST_HOUR, &openrouter, 30.0)],
        },
        ExprTest {
            name: "every recorded series is the deployment's, with a neighbouring deployment's \
                   series in the same Prometheus"
                .to_owned(),
            series: vec![
                requests(&inputs, 0, "success", "0+6x10"),
                requests(&inputs, 0, "error", "0+6x10"),
                requests(&neighbour, 0, "success", "0+12x10"),
                requests(&neighbour, 0, "error", "0+1x10"),
                inputs.metric(&COST_USD, 0, &pair, "0+0.5x10"),
                neighbour.metric(&COST_USD, 0, &pair, "0+10x10"),
            ],
            // One group: the deployment's labels, on every series the rules recorded.
            expr: format!(
                "group by ({}) ({{__name__=~\".+:.+\"}})",
                deployment.selector.labels().join(", ")
            ),
            eval_time: "10m".to_owned(),
            samples: vec![inputs.sample("", &[], 1.0)],
        },
    ]
}
