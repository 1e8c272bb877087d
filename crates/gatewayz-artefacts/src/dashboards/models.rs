//! Model Performance: traffic, latency, errors, tokens and time to first token per model.

use gatewayz_catalogue::{
    MODEL_INFERENCE_DURATION, MODEL_INFERENCE_REQUESTS, TIME_PER_OUTPUT_TOKEN, TIME_TO_FIRST_TOKEN,
    TOKEN_EFFICIENCY, TOKENS_PER_REQUEST, TOKENS_USED,
};

use super::{
    BY_PROVIDER, BY_PROVIDER_MODEL, Board, Context, Dashboard, Layout, RATE, Unit, bargauge,
    target, timeseries,
};
use crate::expr::{and, ratio};

pub(super) fn dashboard(cx: &Context) -> Dashboard {
    let s = &cx.scope;
    let mut layout = Layout::new();
    let pm = BY_PROVIDER_MODEL;

    layout.row("Traffic and errors");
    layout.add(
        timeseries(
            "Request rate by model",
            Unit::RequestsPerSecond,
            "Inference attempts per second by model, successful or not, across the selected \
             providers and every replica, stacked.",
            vec![target(
                s.sum_rate(&MODEL_INFERENCE_REQUESTS, "model", pm, RATE),
                "{{model}}",
            )],
        )
        .stacked(),
    );
    layout.add(
        timeseries(
            "Error rate by model",
            Unit::PercentUnit,
            "Failed attempts over all attempts per model. One failing provider shows here even \
             when failover saved the request; the Provider Health dashboard says which.",
            vec![target(
                ratio(
                    &s.sum_rate(
                        &MODEL_INFERENCE_REQUESTS,
                        "model",
                        &and(&[pm, r#"status="error""#]),
                        RATE,
                    ),
                    &s.sum_rate(&MODEL_INFERENCE_REQUESTS, "model", pm, RATE),
                ),
                "{{model}}",
            )],
        )
        .range(0.0, 1.0)
        .thresholds("green", &cx.error_thresholds()),
    );

    layout.row("Latency");
    layout.add(timeseries(
        "Inference latency p50 / p95 / p99",
        Unit::Seconds,
        "Duration of inference calls by model, from sending the request to the last token \
         (histogram to 600 s, summed across providers and replicas).",
        [0.5, 0.95, 0.99]
            .iter()
            .map(|&q| {
                target(
                    s.quantile(q, &MODEL_INFERENCE_DURATION, "model", pm, RATE),
                    &format!("p{} {{{{model}}}}", (q * 100.0).round()),
                )
            })
            .collect(),
    ));
    layout.add(timeseries(
        "Time to first token p50 / p95",
        Unit::Seconds,
        "Time from sending the request to the first token, by model: a stream's first token, a \
         plain completion's whole answer (its first token arrives with it). What a user feels \
         as responsiveness, and what the latency objective counts.",
        [0.5, 0.95]
            .iter()
            .map(|&q| {
                target(
                    s.quantile(q, &TIME_TO_FIRST_TOKEN, "model", pm, RATE),
                    &format!("p{} {{{{model}}}}", (q * 100.0).round()),
                )
            })
            .collect(),
    ));

    layout.add(timeseries(
        "Time per output token p50 / p95",
        Unit::Seconds,
        "Streams only: seconds per output token after the first, by model, (duration - time to \
         first token) / (output tokens - 1). Generation speed whatever the answer's length \
         (0.02 s is 50 tokens a second); the provider latency alert reads its p95.",
        [0.5, 0.95]
            .iter()
            .map(|&q| {
                target(
                    s.quantile(q, &TIME_PER_OUTPUT_TOKEN, "model", pm, RATE),
                    &format!("p{} {{{{model}}}}", (q * 100.0).round()),
                )
            })
            .collect(),
    ));
    layout.add(
        timeseries(
            "Time per output token p95 by provider",
            Unit::Seconds,
            "Streams only: the 95th percentile seconds per output token of each provider, across \
         the selected models and every replica. Above the latency alert's threshold for its \
         `for`, GatewayzProviderLatencySpike fires.",
            vec![target(
                s.quantile(0.95, &TIME_PER_OUTPUT_TOKEN, "provider", pm, RATE),
                "{{provider}}",
            )],
        )
        .thresholds(
            "green",
            &[(
                cx.deployment
                    .alerts
                    .provider_latency_spike
                    .p95_seconds_per_token,
                "red",
            )],
        ),
    );

    layout.row("Tokens");
    layout.add(
        timeseries(
            "Token usage by model",
            Unit::Short,
            "Tokens per second by model and direction (input = prompt, output = completion), \
             stacked.",
            vec![target(
                s.sum_rate(&TOKENS_USED, "model, token_type", pm, RATE),
                "{{model}} {{token_type}}",
            )],
        )
        .stacked(),
    );
    layout.add(timeseries(
        "Token efficiency (output per input token)",
        Unit::Short,
        "Completion tokens per prompt token by model: over the rate window from the token \
         counters, and for the most recent successful call (gatewayz_token_efficiency, labelled \
         'last call'). Not a 0..1 ratio: 2 means twice as many output tokens.",
        vec![
            target(
                ratio(
                    &s.sum_rate(
                        &TOKENS_USED,
                        "model",
                        &and(&[pm, r#"token_type="output""#]),
                        RATE,
                    ),
                    &s.sum_rate(
                        &TOKENS_USED,
                        "model",
                        &and(&[pm, r#"token_type="input""#]),
                        RATE,
                    ),
                ),
                "{{model}}",
            ),
            target(
                format!("avg by (model) ({})", s.sel(&TOKEN_EFFICIENCY, pm)),
                "{{model}} last call",
            ),
        ],
    ));
    layout.add(timeseries(
        "Tokens per request p50 / p95",
        Unit::Short,
        "Size of single calls in tokens, by provider and direction (the histogram has no model \
         label: the model filter does not apply).",
        [0.5, 0.95]
            .iter()
            .map(|&q| {
                target(
                    s.quantile(
                        q,
                        &TOKENS_PER_REQUEST,
                        "provider, token_type",
                        BY_PROVIDER,
                        RATE,
                    ),
                    &format!(
                        "p{} {{{{provider}}}} {{{{token_type}}}}",
                        (q * 100.0).round()
                    ),
                )
            })
            .collect(),
    ));
    layout.add(bargauge(
        "Requests by model in the time range",
        Unit::Short,
        "Inference attempts per model over the dashboard's time range, the 15 busiest.",
        vec![target(
            format!(
                "topk(15, {})",
                s.sum_increase(&MODEL_INFERENCE_REQUESTS, "model", pm, "$__range")
            ),
            "{{model}}",
        )],
    ));

    cx.dashboard(
        Board::ModelPerformance,
        vec![cx.provider_variable(), cx.model_variable()],
        cx.detail_links(),
        layout.finish(),
    )
}
