//! Provider Health: status cards, availability, errors, latency, circuits, failover, anomalies.

use gatewayz_catalogue::{
    ANOMALIES_ACTIVE, ANOMALIES_DETECTED, CIRCUIT_BREAKER_REJECTIONS, CIRCUIT_BREAKER_STATE,
    CIRCUIT_BREAKER_TRANSITIONS, FAILOVERS, MODEL_INFERENCE_REQUESTS, PROVIDER_AVAILABILITY,
    PROVIDER_AVAILABILITY_RATIO, PROVIDER_ERROR_RATE, PROVIDER_ERRORS, PROVIDER_HEALTH_SCORE,
    PROVIDER_LATENCY_P95, PROVIDER_LATENCY_SCORE, PROVIDER_RESPONSE_TIME, PROVIDER_STATUS,
    ROUTING_DECISIONS,
};

use super::{
    BY_PROVIDER, BY_PROVIDER_MODEL, Board, Context, Dashboard, Layout, RATE, Unit, bargauge, stat,
    state_timeline, target, timeseries,
};
use crate::expr::{Scope, and, attempts, calls, ratio, weighted};

/// A per-replica ratio gauge of the health tracker across the fleet, by provider: each
/// replica's value weighted by its attempts (calls and circuit refusals), never averaged.
pub(super) fn by_attempts(s: &Scope, gauge: &gatewayz_catalogue::MetricDef, p: &str) -> String {
    weighted(s, &s.sel(gauge, p), &attempts(s, p, RATE))
}

/// As [`by_attempts`], weighted by calls made: for inputs computed over calls (error rate,
/// latency score), which refused calls do not enter.
fn by_calls(s: &Scope, gauge: &gatewayz_catalogue::MetricDef, p: &str) -> String {
    weighted(s, &s.sel(gauge, p), &calls(s, p, RATE))
}

/// `max by (provider) (weight × one-hot series or ...)`: the worst state across replicas as a
/// number, for value mappings. `states` lists `(label value, weight)`.
pub(super) fn worst_state(
    s: &Scope,
    metric: &gatewayz_catalogue::MetricDef,
    label: &str,
    matchers: &str,
    states: &[(&str, u32)],
) -> String {
    let parts: Vec<String> = states
        .iter()
        .map(|(state, weight)| {
            format!(
                "{} * {weight}",
                s.sel(metric, &and(&[matchers, &format!("{label}=\"{state}\"")]))
            )
        })
        .collect();
    s.agg(
        "max",
        "provider",
        &format!("\n  {}\n", parts.join("\n  or ")),
    )
}

/// Health status of each provider, worst replica first: 0 unknown, 1 healthy, 2 degraded,
/// 3 unavailable.
pub(super) fn status_expr(s: &Scope, matchers: &str) -> String {
    worst_state(
        s,
        &PROVIDER_STATUS,
        "status",
        matchers,
        &[("healthy", 1), ("degraded", 2), ("unavailable", 3)],
    )
}

/// Value mappings of [`status_expr`].
pub(super) const STATUS_MAPPINGS: &[(i64, &str, &str)] = &[
    (0, "unknown", "text"),
    (1, "healthy", "green"),
    (2, "degraded", "orange"),
    (3, "unavailable", "red"),
];

pub(super) fn dashboard(cx: &Context) -> Dashboard {
    let s = &cx.scope;
    let mut layout = Layout::new();
    let p = BY_PROVIDER;

    layout.row("Status");
    layout.add(
        stat(
            "Health score",
            Unit::PercentUnit,
            "Composite health score per provider: 0.4 × availability + 0.3 × (1 − error rate) + \
             0.3 × latency score, over the health window, across the replicas that have enough \
             calls to judge, each weighted by the attempts it made (sum, then divide: a replica \
             judging on a handful of calls weighs a handful of calls). Colours follow the default \
             status thresholds: green from 0.8 (healthy), orange from 0.5 (degraded), red below \
             (unavailable). No card: too few calls (status unknown, no score published).",
            vec![target(
                by_attempts(s, &PROVIDER_HEALTH_SCORE, p),
                "{{provider}}",
            )],
        )
        .range(0.0, 1.0)
        .thresholds("red", &cx.health_thresholds())
        .size(12, 6),
    );
    layout.add(
        stat(
            "Status",
            Unit::State,
            "Health status per provider as the health tracker publishes it, worst replica first: \
             unavailable if any replica says so, then degraded, then healthy. Unknown means no \
             replica has enough calls in its window to judge.",
            vec![target(status_expr(s, p), "{{provider}}")],
        )
        .mappings(STATUS_MAPPINGS)
        .size(8, 6),
    );
    layout.add(
        stat(
            "Reachable now",
            Unit::State,
            "Whether the provider answered its most recent call or probe, worst replica first \
             (provider_availability, the original Gatewayz gauge). Flips on a single failure: use \
             Availability below for the trend.",
            vec![target(
                format!("min by (provider) ({})", s.sel(&PROVIDER_AVAILABILITY, p)),
                "{{provider}}",
            )],
        )
        .mappings(&[(0, "down", "red"), (1, "up", "green")])
        .size(4, 6),
    );

    layout.row("Availability and errors");
    layout.add(
        timeseries(
            "Availability",
            Unit::PercentUnit,
            "Share of attempts in the health window (calls, probes, calls refused by the circuit) \
             that the provider answered properly, across replicas, each weighted by its \
             attempts. Gaps: too few calls to judge.",
            vec![target(
                by_attempts(s, &PROVIDER_AVAILABILITY_RATIO, p),
                "{{provider}}",
            )],
        )
        .range(0.0, 1.0),
    );
    layout.add(
        timeseries(
            "Inference error rate",
            Unit::PercentUnit,
            "Failed inference attempts over all attempts, per provider, from the request counters \
             of every replica (filtered by the selected models too). Counts every upstream attempt, \
             so a request that failed over and then succeeded shows here as one error. Dashed \
             lines: 5 % (watch) and 25 % (the error-surge alert). No traffic: no line.",
            vec![target(
                ratio(
                    &s.sum_rate(
                        &MODEL_INFERENCE_REQUESTS,
                        "provider",
                        &and(&[BY_PROVIDER_MODEL, r#"status="error""#]),
                        RATE,
                    ),
                    &s.sum_rate(
                        &MODEL_INFERENCE_REQUESTS,
                        "provider",
                        BY_PROVIDER_MODEL,
                        RATE,
                    ),
                ),
                "{{provider}}",
            )],
        )
        .range(0.0, 1.0)
        .thresholds("green", &cx.error_thresholds()),
    );
    layout.add(timeseries(
        "Errors by reason",
        Unit::OpsPerSecond,
        "Failed upstream calls per second by failure class: timeout, connection, server_error \
         (5xx), rate_limited (429), unauthorized (401/403: our key), payment_required (402: our \
         account), not_found, bad_request, circuit_open (not sent).",
        vec![target(
            s.sum_rate(&PROVIDER_ERRORS, "provider, reason", p, RATE),
            "{{provider}} {{reason}}",
        )],
    ));
    layout.add(
        timeseries(
            "Health score over time",
            Unit::PercentUnit,
            "The composite health score per provider over time, across replicas weighted by their \
         attempts; compare with its inputs (availability, error rate, latency score) to see \
         what moved it.",
            vec![target(
                by_attempts(s, &PROVIDER_HEALTH_SCORE, p),
                "{{provider}}",
            )],
        )
        .range(0.0, 1.0)
        .thresholds("red", &cx.health_thresholds()),
    );

    layout.row("Latency");
    layout.add(timeseries(
        "Response time p50 / p95 / p99",
        Unit::Seconds,
        "Upstream call latency percentiles per provider, from the response-time histogram summed \
         across replicas (buckets up to 600 s). Long generations are slow by nature: read p95 \
         against the model mix.",
        [0.5, 0.95, 0.99]
            .iter()
            .map(|&q| {
                target(
                    s.quantile(q, &PROVIDER_RESPONSE_TIME, "provider", p, RATE),
                    &format!("p{} {{{{provider}}}}", (q * 100.0).round()),
                )
            })
            .collect(),
    ));
    layout.add(timeseries(
        "Score inputs: error rate and latency score",
        Unit::PercentUnit,
        "Two inputs of the health score as the tracker computed them over its window: the error \
         rate (0 is good) and the latency score (1 at or below the target p95, 0 at or above the \
         maximum). Across replicas, each weighted by the calls it made; gaps when too few calls.",
        vec![
            target(
                by_calls(s, &PROVIDER_ERROR_RATE, p),
                "{{provider}} error rate",
            ),
            target(
                by_calls(s, &PROVIDER_LATENCY_SCORE, p),
                "{{provider}} latency score",
            ),
        ],
    )
    .range(0.0, 1.0));
    layout.add(timeseries(
        "Health-window p95 latency",
        Unit::Seconds,
        "The 95th percentile latency the health tracker measured over its window, worst replica. \
         It drives the latency score.",
        vec![target(
            format!("max by (provider) ({})", s.sel(&PROVIDER_LATENCY_P95, p)),
            "{{provider}}",
        )],
    ));

    layout.row("Circuit breakers, failover and anomalies");
    layout.add(
        state_timeline(
            "Circuit breaker state",
            "Circuit state per provider, worst replica: open (calls refused), half-open (probing) \
             or closed (normal). An open circuit makes failover skip the provider.",
            vec![target(
                worst_state(
                    s,
                    &CIRCUIT_BREAKER_STATE,
                    "state",
                    p,
                    &[("closed", 0), ("half_open", 1), ("open", 2)],
                ),
                "{{provider}}",
            )],
        )
        .mappings(&[
            (0, "closed", "green"),
            (1, "half-open", "orange"),
            (2, "open", "red"),
        ]),
    );
    layout.add(timeseries(
        "Circuit transitions and rejections",
        Unit::OpsPerSecond,
        "Circuit state changes per second by the state entered, and calls refused without being \
         sent because the circuit was open (or its half-open probes were spent).",
        vec![
            target(
                s.sum_rate(&CIRCUIT_BREAKER_TRANSITIONS, "provider, to", p, RATE),
                "{{provider}} to {{to}}",
            ),
            target(
                s.sum_rate(&CIRCUIT_BREAKER_REJECTIONS, "provider", p, RATE),
                "{{provider}} rejected",
            ),
        ],
    ));
    layout.add(
        timeseries(
            "Failovers",
            Unit::OpsPerSecond,
            "Requests moved on from a provider to the next candidate, per second, by the reason \
             the provider failed. A steady trickle is the system working; a storm means several \
             providers are failing at once.",
            vec![target(
                s.sum_rate(&FAILOVERS, "provider, reason", p, RATE),
                "{{provider}} {{reason}}",
            )],
        )
        .stacked(),
    );
    layout.add(
        state_timeline(
            "Active anomalies",
            "Anomalies active per provider and kind, any replica: latency_spike (p95 far above the \
             provider's own baseline), error_surge, traffic_drop.",
            vec![target(
                format!("max by (provider, kind) ({})", s.sel(&ANOMALIES_ACTIVE, p)),
                "{{provider}} {{kind}}",
            )],
        )
        .mappings(&[(0, "normal", "green"), (1, "anomaly", "red")]),
    );
    layout.add(bargauge(
        "Anomalies detected in the time range",
        Unit::Short,
        "How many anomalies started in the selected time range, per provider and kind.",
        vec![target(
            s.sum_increase(&ANOMALIES_DETECTED, "provider, kind", p, "$__range"),
            "{{provider}} {{kind}}",
        )],
    ));

    layout.row("Routing");
    layout.add(
        timeseries(
            "Routing decisions by policy and provider",
            Unit::RequestsPerSecond,
            "Requests per second by the routing policy in force and the provider it put first \
             (the one tried first; where requests end up after failover is in the error and \
             failover panels). Policies: spread (at random among the healthy), priority (best \
             score), cheapest, fastest (lowest recent p95), weighted. cheapest, fastest and \
             weighted send a small share (exploration, 5 % by default) to the other healthy \
             providers so they stay measured.",
            vec![target(
                s.sum_rate(&ROUTING_DECISIONS, "policy, provider", p, RATE),
                "{{policy}} {{provider}}",
            )],
        )
        .stacked(),
    );
    layout.add(bargauge(
        "Share of requests routed first, in the time range",
        Unit::PercentUnit,
        "Per provider, the share of the routing decisions (all policies) that put it first \
         over the dashboard's time range. A provider that is degraded, unavailable or has an \
         open circuit is only failed over to, so its share falls to zero.",
        vec![target(
            format!(
                "{}\n  / on () group_left ()\n  ({} > 0)",
                s.sum_increase(&ROUTING_DECISIONS, "provider", p, "$__range"),
                s.sum_increase(&ROUTING_DECISIONS, "", p, "$__range")
            ),
            "{{provider}}",
        )],
    ));

    cx.dashboard(
        Board::ProviderHealth,
        vec![cx.provider_variable(), cx.model_variable()],
        cx.detail_links(),
        layout.finish(),
    )
}
