//! Recording rules: the fleet-wide view across replicas, and what the alerts are built on.

use gatewayz_catalogue::{
    CIRCUIT_BREAKER_STATE, COST_USD, CREDITS_USED, FAILOVERS, HTTP_REQUEST_DURATION, HTTP_REQUESTS,
    MODEL_INFERENCE_DURATION, MODEL_INFERENCE_REQUESTS, PROVIDER_HEALTH_SCORE,
    PROVIDER_RESPONSE_TIME, PROVIDER_STATUS, TIME_PER_OUTPUT_TOKEN, TOKENS_USED,
};

use super::{ExprTest, Inputs, RecordingRule, Rule, RuleGroup, repeat};
use crate::{
    Deployment,
    expr::{Scope, attempts, known, ratio, weighted},
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
/// Upstream attempts (calls and circuit refusals) per second by replica and provider.
pub(crate) const INSTANCE_PROVIDER_ATTEMPTS: &str =
    "instance_provider:gatewayz_provider_attempts:rate5m";
/// Health score by provider across the replicas that can judge it, weighted by attempts.
pub(crate) const PROVIDER_SCORE: &str =
    "provider:gatewayz_provider_health_score:attempt_weighted_avg";
/// Inference attempts by provider and model in the trailing hour: which provider serves which
/// model.
pub(crate) const PROVIDER_MODEL_ATTEMPTS_HOUR: &str =
    "provider_model:model_inference_requests:increase1h";
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
/// p95 time per output token of streams by provider; no sample without streams.
pub(crate) const PROVIDER_TPOT_P95: &str = "provider:gatewayz_time_per_output_token_seconds:p95_5m";
/// p95 inference duration by model; no sample without traffic.
pub(crate) const MODEL_P95: &str = "model:model_inference_duration_seconds:p95_5m";

fn record(record: &str, help: &str, expr: String) -> Rule {
    Rule::Record(RecordingRule {
        record: record.to_owned(),
        expr,
        labels: Vec::new(),
        help: help.to_owned(),
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
            interval: None,
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
                    INSTANCE_PROVIDER_ATTEMPTS,
                    "Upstream attempts per second by replica and provider: calls made and calls \
                     refused by the circuit, what each replica judges a provider's health on.",
                    attempts(s, "", "5m"),
                ),
                record(
                    PROVIDER_SCORE,
                    "Health score by provider across the replicas that can judge it, each \
                     weighted by its attempts: sum of score × attempts over the attempts. A \
                     replica judging on a handful of calls weighs a handful of calls. No sample \
                     when no replica can judge.",
                    weighted(
                        s,
                        &known(&s.sel(&PROVIDER_HEALTH_SCORE, "")),
                        &s.series(INSTANCE_PROVIDER_ATTEMPTS, "", ""),
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
                record(
                    PROVIDER_MODEL_ATTEMPTS_HOUR,
                    "Inference attempts by provider and model in the trailing hour: which \
                     provider served which model (a provider behind an open circuit still \
                     shows its probes).",
                    s.sum_increase(&MODEL_INFERENCE_REQUESTS, "provider, model", "", "1h"),
                ),
            ],
        },
        RuleGroup {
            interval: None,
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
                    "provider_le:gatewayz_time_per_output_token_seconds_bucket:rate5m",
                    "Time-per-output-token buckets per second by provider, summed across models \
                     and replicas.",
                    bucket_rate(&TIME_PER_OUTPUT_TOKEN, "provider, le"),
                ),
                record(
                    "provider:gatewayz_time_per_output_token_seconds_count:rate5m",
                    "Streams per second by provider, from the time-per-output-token histogram.",
                    count_rate(&TIME_PER_OUTPUT_TOKEN, "provider"),
                ),
                record(
                    PROVIDER_TPOT_P95,
                    "p95 seconds per output token of streams by provider: generation speed, \
                     whatever the answers' length; no sample without streams.",
                    guarded_quantile(
                        s,
                        0.95,
                        "provider_le:gatewayz_time_per_output_token_seconds_bucket:rate5m",
                        "provider:gatewayz_time_per_output_token_seconds_count:rate5m",
                        "provider",
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
            interval: None,
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
            interval: None,
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
    let per_minute = |per_minute: f64| format!("0+{per_minute}x10");
    let calls = |replica: usize, n: f64| {
        inputs.input(
            &format!("{}_count", PROVIDER_RESPONSE_TIME.name),
            replica,
            &[("provider", "openrouter")],
            per_minute(n),
        )
    };
    let refused = |replica: usize, n: f64| {
        inputs.metric(
            &gatewayz_catalogue::CIRCUIT_BREAKER_REJECTIONS,
            replica,
            &[("provider", "openrouter")],
            per_minute(n),
        )
    };
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
            name: "health score weighs each replica by its attempts: 0.5 on 60 calls a minute \
                   and 1 on 180 is 0.875, not the average 0.75"
                .to_owned(),
            series: vec![
                score(0, "0.5x10".to_owned()),
                calls(0, 60.0),
                score(1, "1x10".to_owned()),
                calls(1, 120.0),
                refused(1, 60.0),
            ],
            expr: PROVIDER_SCORE.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![inputs.sample(PROVIDER_SCORE, &openrouter, 0.875)],
        },
        ExprTest {
            name: "health score: a replica scoring 0.3 on a handful of calls barely moves a busy \
                   one at 1"
                .to_owned(),
            series: vec![
                score(0, "0.3x10".to_owned()),
                calls(0, 3.0),
                score(1, "1x10".to_owned()),
                calls(1, 597.0),
            ],
            expr: PROVIDER_SCORE.to_owned(),
            eval_time: "10m".to_owned(),
            // (0.3 × 3 + 1 × 597) / 600 = 0.9965, in Prometheus's float arithmetic: each rate
            // is its 5-minute increase over 300 s.
            samples: vec![inputs.sample(PROVIDER_SCORE, &openrouter, {
                let (quiet, busy) = (15.0 / 300.0, 2985.0 / 300.0);
                (0.3 * quiet + 1.0 * busy) / (quiet + busy)
            })],
        },
        ExprTest {
            name: "health score leaves out a replica without a score (too few calls) and one \
                   showing NaN (another recorder)"
                .to_owned(),
            series: vec![
                score(0, repeat("NaN", 11)),
                calls(0, 60.0),
                score(1, "0.6x10".to_owned()),
                calls(1, 60.0),
                calls(2, 60.0),
            ],
            expr: PROVIDER_SCORE.to_owned(),
            eval_time: "10m".to_owned(),
            samples: vec![inputs.sample(PROVIDER_SCORE, &openrouter, 0.6)],
        },
        ExprTest {
            name: "health score has no sample when no replica can judge".to_owned(),
            series: vec![calls(0, 60.0), calls(1, 60.0)],
            expr: PROVIDER_SCORE.to_owned(),
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
