//! Alerts: expressions, thresholds, runbooks and the promtool cases of each.
//!
//! Every alert is built on guarded recording rules or guarded expressions, so no traffic means
//! no sample, and no sample means no alert (never a NaN one).

use gatewayz_registry::catalogue::{
    BUILD_INFO, CIRCUIT_BREAKER_STATE, COST_USD, FAILOVERS, MODEL_INFERENCE_REQUESTS,
    PROVIDER_HEALTH_SCORE, PROVIDER_RESPONSE_TIME,
};

use super::{
    AlertRule, AlertTest, Case, Expected, InputSeries, JOB, Rule, RuleGroup, Runbook, Severity,
    histogram, input, metric, provider_status, recording, repeat,
};
use crate::promql::sum_increase;

/// Alert thresholds. Change them here, adjust the promtool cases of the alert if they straddle
/// the new value, and run `cargo xtask codegen`: rules, tests and docs follow.
pub mod thresholds {
    /// Share of judging replicas that must call a provider unavailable.
    pub const UNAVAILABLE_REPLICA_SHARE: f64 = 0.5;
    /// Health score below which a provider is degraded (the health tracker's default).
    pub const DEGRADED_SCORE: f64 = 0.8;
    /// Error ratio of inference attempts that is a surge.
    pub const ERROR_RATIO: f64 = 0.25;
    /// Attempts per second below which an error ratio is not judged (3 a minute).
    pub const MIN_REQUEST_RATE: f64 = 0.05;
    /// p95 upstream latency in seconds that is a spike (the health tracker's default maximum,
    /// where the latency score reaches 0).
    pub const LATENCY_P95_SECONDS: f64 = 30.0;
    /// Share of upstream attempts that fail over in a storm.
    pub const FAILOVER_SHARE: f64 = 0.1;
    /// Failovers per second below which there is no storm (3 a minute).
    pub const MIN_FAILOVER_RATE: f64 = 0.05;
    /// Dollars per hour of upstream spend, fleet-wide, that needs attention.
    pub const COST_PER_HOUR_USD: f64 = 100.0;
    /// Attempts on a model in 10 minutes below which "none succeeded" is not judged.
    pub const NO_SUCCESS_MIN_ATTEMPTS: f64 = 5.0;
}

use thresholds::*;

const PROVIDER: &str = "{{ $labels.provider }}";
const PERCENT: &str = "{{ $value | humanizePercentage }}";

/// `0.25` as `25%`, for descriptions.
fn percent(ratio: f64) -> String {
    format!("{}%", (ratio * 10_000.0).round() / 100.0)
}

fn provider_labels() -> Vec<(&'static str, String)> {
    vec![("provider", "openrouter".to_owned())]
}

fn fires(
    name: &str,
    series: Vec<InputSeries>,
    eval_time: &'static str,
    expected: Vec<Expected>,
) -> AlertTest {
    AlertTest {
        case: Case::Fires,
        name: name.to_owned(),
        series,
        eval_time,
        expected,
    }
}

fn quiet(case: Case, name: &str, series: Vec<InputSeries>, eval_time: &'static str) -> AlertTest {
    AlertTest {
        case,
        name: name.to_owned(),
        series,
        eval_time,
        expected: Vec::new(),
    }
}

fn expected(labels: Vec<(&'static str, String)>, value: &str) -> Vec<Expected> {
    vec![Expected {
        labels,
        value: value.to_owned(),
    }]
}

/// Inference counters of (openrouter, gpt-4o-mini) on replica 0.
fn attempts(success: &str, error: &str) -> Vec<InputSeries> {
    attempts_on(0, "openrouter", success, error)
}

fn attempts_on(replica: usize, provider: &str, success: &str, error: &str) -> Vec<InputSeries> {
    [("success", success), ("error", error)]
        .into_iter()
        .map(|(status, values)| {
            metric(
                &MODEL_INFERENCE_REQUESTS,
                replica,
                &[
                    ("provider", provider),
                    ("model", "gpt-4o-mini"),
                    ("status", status),
                ],
                values,
            )
        })
        .collect()
}

/// The one-hot status gauges of openrouter on `replica`, `current` being 1.
fn status(replica: usize, current: &str) -> Vec<InputSeries> {
    provider_status(replica, current, 15)
}

/// The one-hot circuit gauges of openrouter on replica 0, from per-state value strings.
fn circuit(closed: &str, open: &str, half_open: &str) -> Vec<InputSeries> {
    [("closed", closed), ("open", open), ("half_open", half_open)]
        .into_iter()
        .map(|(state, values)| {
            metric(
                &CIRCUIT_BREAKER_STATE,
                0,
                &[("provider", "openrouter"), ("state", state)],
                values,
            )
        })
        .collect()
}

fn score(replica: usize, values: String) -> InputSeries {
    metric(
        &PROVIDER_HEALTH_SCORE,
        replica,
        &[("provider", "openrouter")],
        values,
    )
}

fn latency(bucket: f64, per_minute: f64) -> Vec<InputSeries> {
    histogram(
        &PROVIDER_RESPONSE_TIME,
        0,
        &[("provider", "openrouter")],
        bucket,
        per_minute,
        30,
    )
}

fn cost(replica: usize, values: &str) -> InputSeries {
    metric(
        &COST_USD,
        replica,
        &[("provider", "openrouter"), ("model", "gpt-4o-mini")],
        values,
    )
}

fn failovers(values: &str) -> InputSeries {
    metric(
        &FAILOVERS,
        0,
        &[("provider", "openrouter"), ("reason", "timeout")],
        values,
    )
}

fn up(replica: usize, values: &str) -> InputSeries {
    input("up", replica, &[], values)
}

fn build_info(values: &str) -> InputSeries {
    metric(&BUILD_INFO, 0, &[("version", "0.1.0")], values)
}

fn alert(rule: AlertRule) -> Rule {
    Rule::Alert(rule)
}

pub(super) fn groups() -> Vec<RuleGroup> {
    vec![
        RuleGroup {
            name: "gatewayz-providers-alerts",
            rules: vec![
                alert(provider_unavailable()),
                alert(health_degraded()),
                alert(error_surge()),
                alert(latency_spike()),
                alert(circuit_open_too_long()),
                alert(failover_storm()),
            ],
        },
        RuleGroup {
            name: "gatewayz-models-alerts",
            rules: vec![alert(no_successful_inference())],
        },
        RuleGroup {
            name: "gatewayz-cost-alerts",
            rules: vec![alert(cost_per_hour())],
        },
        RuleGroup {
            name: "gatewayz-scrape-alerts",
            rules: vec![alert(target_down()), alert(metrics_absent())],
        },
    ]
}

fn provider_unavailable() -> AlertRule {
    AlertRule {
        alert: "GatewayzProviderUnavailable",
        expr: format!(
            "{} >= {UNAVAILABLE_REPLICA_SHARE}",
            recording::PROVIDER_UNAVAILABLE
        ),
        for_: "2m",
        severity: Severity::Critical,
        summary: format!("Provider {PROVIDER} is unavailable"),
        description: format!(
            "{PERCENT} of the gateway replicas with enough traffic to judge {PROVIDER} report it \
             unavailable (circuit open or half-open, or health score below the degraded \
             threshold). Requests fail over to other providers; models only {PROVIDER} serves \
             are failing."
        ),
        runbook: Runbook {
            meaning: format!(
                "At least {} of the replicas that can judge the provider report it unavailable, \
                 for 2 minutes: their circuit for it is open or half-open (only probes get \
                 through), or its health score is below the degraded threshold (0.5 by \
                 default). Failover skips it.",
                percent(UNAVAILABLE_REPLICA_SHARE)
            ),
            causes: vec![
                "An outage or brownout at the provider (check its status page).",
                "Our account with the provider: an expired or revoked key (errors with reason \
                 `unauthorized`) or exhausted funds (`payment_required`).",
                "Network trouble between the gateway and the provider (`timeout`, `connection`).",
                "Rate limiting (`rate_limited`) after a traffic increase.",
            ],
            actions: vec![
                "Open Provider Health, filter on the provider: read Errors by reason to tell an \
                 outage from a credentials or quota problem.",
                "Credentials or funds: rotate the key or top up the account; the circuit closes \
                 on its own after the next successful half-open probe.",
                "Outage: nothing to fix on our side; check that failover candidates have the \
                 capacity (Failovers, their error rates) and tell customers of models only this \
                 provider serves.",
                "If the provider is healthy but our replicas cannot reach it, check DNS, egress \
                 and TLS from one replica.",
            ],
        },
        dashboard: "gatewayz-provider-health",
        tests: vec![
            fires(
                "both replicas judge it unavailable",
                [status(0, "unavailable"), status(1, "unavailable")].concat(),
                "10m",
                expected(provider_labels(), "100%"),
            ),
            quiet(
                Case::ZeroTraffic,
                "no replica has enough traffic to judge (status unknown)",
                [status(0, "unknown"), status(1, "unknown")].concat(),
                "10m",
            ),
            quiet(
                Case::BelowThreshold,
                "one replica of three judges it unavailable",
                [
                    status(0, "unavailable"),
                    status(1, "healthy"),
                    status(2, "healthy"),
                ]
                .concat(),
                "10m",
            ),
        ],
    }
}

fn health_degraded() -> AlertRule {
    AlertRule {
        alert: "GatewayzProviderHealthDegraded",
        expr: format!("{} < {DEGRADED_SCORE}", recording::PROVIDER_SCORE_AVG),
        for_: "10m",
        severity: Severity::Warning,
        summary: format!("Provider {PROVIDER} health is degraded"),
        description: format!(
            "The health score of {PROVIDER}, averaged across the replicas that can judge it, is \
             {PERCENT}, below {} for 10 minutes. Failover ranks it lower; requests still reach \
             it.",
            percent(DEGRADED_SCORE)
        ),
        runbook: Runbook {
            meaning: format!(
                "The provider's composite health score (0.4 availability + 0.3 (1 − error rate) \
                 + 0.3 latency score), averaged across replicas, has stayed below \
                 {DEGRADED_SCORE} (the healthy threshold) for 10 minutes. Replicas with too few \
                 calls (NaN score) are left out. Inhibited while the provider is unavailable."
            ),
            causes: vec![
                "A raised error rate at the provider, not yet an outage.",
                "Slower responses: p95 above the latency target lowers the latency score.",
                "Intermittent reachability (timeouts) lowering availability.",
            ],
            actions: vec![
                "Open Provider Health: Score inputs tells which component dropped.",
                "Latency: compare Response time p95 with the provider's usual level and with the \
                 model mix (long generations are slow by nature).",
                "Errors: read Errors by reason; rate_limited calls for a quota increase or for \
                 routing less traffic to the provider.",
                "If it persists, lower the provider's routing weight or disable it until it \
                 recovers.",
            ],
        },
        dashboard: "gatewayz-provider-health",
        tests: vec![
            fires(
                "score 0.6 on the replica that can judge, NaN on the other",
                vec![score(0, repeat("NaN", 31)), score(1, "0.6x30".to_owned())],
                "20m",
                expected(provider_labels(), "60%"),
            ),
            quiet(
                Case::ZeroTraffic,
                "every replica publishes NaN (too few calls)",
                vec![score(0, repeat("NaN", 31)), score(1, repeat("NaN", 31))],
                "20m",
            ),
            quiet(
                Case::BelowThreshold,
                "score 0.9 is healthy",
                vec![
                    score(0, "0.9x30".to_owned()),
                    score(1, "0.85x30".to_owned()),
                ],
                "20m",
            ),
        ],
    }
}

fn error_surge() -> AlertRule {
    AlertRule {
        alert: "GatewayzProviderErrorSurge",
        expr: format!(
            "{} > {ERROR_RATIO}\n  and {} >= {MIN_REQUEST_RATE}",
            recording::PROVIDER_ERROR_RATIO,
            recording::PROVIDER_REQUESTS
        ),
        for_: "5m",
        severity: Severity::Warning,
        summary: format!("Provider {PROVIDER} fails {PERCENT} of inference calls"),
        description: format!(
            "{PERCENT} of inference attempts to {PROVIDER} failed over the last 5 minutes, across \
             every replica (threshold {}, judged from {MIN_REQUEST_RATE} attempts per second). \
             Failover hides most failures from clients at the cost of latency.",
            percent(ERROR_RATIO)
        ),
        runbook: Runbook {
            meaning: format!(
                "More than {} of the inference attempts sent to the provider failed over 5 \
                 minutes, with enough traffic to mean it (at least {MIN_REQUEST_RATE} attempts \
                 per second), for 5 minutes. Every attempt counts, including those that failover \
                 then rescued. Inhibited while the provider is unavailable.",
                percent(ERROR_RATIO)
            ),
            causes: vec![
                "Provider-side errors (5xx, `server_error`) or overload (`rate_limited`).",
                "A bad deploy of ours sending malformed requests (`bad_request`), often for one \
                 model only.",
                "A model the provider stopped serving (`not_found`).",
                "Credentials or billing (`unauthorized`, `payment_required`).",
            ],
            actions: vec![
                "Open Provider Health, Errors by reason: the reason decides the fix.",
                "Open Model Performance filtered on the provider: one model failing points at the \
                 model (renamed, withdrawn), all models at the provider.",
                "bad_request after a deploy of ours: roll back.",
                "rate_limited: raise the quota or shift traffic to other providers.",
            ],
        },
        dashboard: "gatewayz-provider-health",
        tests: vec![
            fires(
                "half the attempts fail at 12 a minute",
                attempts("0+6x30", "0+6x30"),
                "15m",
                expected(provider_labels(), "50%"),
            ),
            quiet(
                Case::ZeroTraffic,
                "no attempts at all",
                attempts("0x30", "0x30"),
                "15m",
            ),
            quiet(
                Case::BelowThreshold,
                "one attempt in ten fails",
                attempts("0+9x30", "0+1x30"),
                "15m",
            ),
            quiet(
                Case::BelowThreshold,
                "every attempt fails but there is only one a minute",
                attempts("0x30", "0+1x30"),
                "15m",
            ),
        ],
    }
}

fn latency_spike() -> AlertRule {
    AlertRule {
        alert: "GatewayzProviderLatencySpike",
        expr: format!("{} > {LATENCY_P95_SECONDS}", recording::PROVIDER_P95),
        for_: "10m",
        severity: Severity::Warning,
        summary: format!("Provider {PROVIDER} p95 latency is {{{{ $value | humanizeDuration }}}}"),
        description: format!(
            "The 95th percentile of upstream call latency to {PROVIDER}, from the histogram \
             summed across replicas over 5 minutes, is {{{{ $value | humanizeDuration }}}}: above \
             {LATENCY_P95_SECONDS}s for 10 minutes."
        ),
        runbook: Runbook {
            meaning: format!(
                "The provider's p95 response time, computed from buckets summed across every \
                 replica over 5 minutes, has been above {LATENCY_P95_SECONDS} s (by default the \
                 health score's latency maximum) for 10 minutes. No calls, no sample: it cannot \
                 fire on an idle provider. Inhibited while the provider is unavailable."
            ),
            causes: vec![
                "Provider overload or degradation (queueing before generation starts).",
                "A shift in the model mix towards long generations or large contexts.",
                "Timeouts: calls that end at the client timeout land in the top buckets.",
            ],
            actions: vec![
                "Open Provider Health: compare p50 with p95. Both up: the provider is slow. Only \
                 p95 up: a few long calls; check Model Performance for the models involved.",
                "Check time to first token on Model Performance: a high TTFT means queueing at \
                 the provider.",
                "If it persists, route latency-sensitive models to another provider.",
            ],
        },
        dashboard: "gatewayz-provider-health",
        tests: vec![
            fires(
                "every call takes between 30 and 60 seconds",
                latency(60.0, 10.0),
                "20m",
                expected(provider_labels(), "58.5s"),
            ),
            quiet(Case::ZeroTraffic, "no calls", latency(60.0, 0.0), "20m"),
            quiet(
                Case::BelowThreshold,
                "every call takes under a second",
                latency(1.0, 10.0),
                "20m",
            ),
        ],
    }
}

fn circuit_open_too_long() -> AlertRule {
    let alternate = |first: &str, second: &str| {
        (0..=30)
            .map(|i| if i % 2 == 0 { first } else { second })
            .collect::<Vec<_>>()
            .join(" ")
    };
    AlertRule {
        alert: "GatewayzCircuitOpenTooLong",
        expr: format!("{} > 0", recording::PROVIDER_NOT_CLOSED),
        for_: "10m",
        severity: Severity::Warning,
        summary: format!("Circuit breaker for {PROVIDER} has not closed for 10 minutes"),
        description: format!(
            "{{{{ $value }}}} replica(s) have kept the circuit breaker of {PROVIDER} open or \
             half-open for 10 minutes: the provider keeps failing its half-open probes and gets \
             no regular traffic from them."
        ),
        runbook: Runbook {
            meaning: "On at least one replica the provider's circuit breaker has been open or \
                      half-open, never closed, for 10 minutes. An open circuit refuses calls; \
                      after a cool-down (30 s by default, growing to 5 min) it lets probes \
                      through and closes only if they succeed. Inhibited while the provider is \
                      unavailable."
                .to_owned(),
            causes: vec![
                "The provider is still down or still rejecting our requests.",
                "A credentials or billing problem: every probe fails the same way.",
                "Only one replica affected: that replica's network path to the provider.",
            ],
            actions: vec![
                "Open Provider Health: Circuit breaker state and Circuit transitions show whether \
                 probes are attempted and fail.",
                "Errors by reason for the provider tells why the probes fail.",
                "If the provider has recovered but one replica's circuit stays open, check that \
                 replica's connectivity; an admin reset of the circuit (if your gateway exposes \
                 it) forces a retry.",
            ],
        },
        dashboard: "gatewayz-provider-health",
        tests: vec![
            fires(
                "open and half-open in turn, never closed, for 30 minutes",
                circuit("0x30", &alternate("1", "0"), &alternate("0", "1")),
                "20m",
                expected(provider_labels(), "1"),
            ),
            quiet(
                Case::ZeroTraffic,
                "closed, as without any traffic",
                circuit("1x30", "0x30", "0x30"),
                "20m",
            ),
            quiet(
                Case::BelowThreshold,
                "open for 6 minutes, then closed",
                circuit("0x5 1x24", "1x5 0x24", "0x30"),
                "8m",
            ),
        ],
    }
}

fn failover_storm() -> AlertRule {
    let failovers_rate = format!("sum({})", recording::PROVIDER_FAILOVERS);
    AlertRule {
        alert: "GatewayzFailoverStorm",
        expr: format!(
            "(\n  {failovers_rate}\n    / (sum({}) > 0)\n) > {FAILOVER_SHARE}\nand {failovers_rate} > {MIN_FAILOVER_RATE}",
            recording::PROVIDER_REQUESTS
        ),
        for_: "10m",
        severity: Severity::Warning,
        summary: format!("{PERCENT} of upstream attempts fail over"),
        description: format!(
            "Across the fleet, {PERCENT} of upstream inference attempts ended with the request \
             moving on to another provider, for 10 minutes (threshold {}, judged from \
             {MIN_FAILOVER_RATE} failovers per second). Requests are slower and the remaining \
             providers carry extra load.",
            percent(FAILOVER_SHARE)
        ),
        runbook: Runbook {
            meaning: format!(
                "More than {} of the upstream attempts, fleet-wide, end in a failover to the \
                 next provider, at more than {MIN_FAILOVER_RATE} failovers per second, for 10 \
                 minutes. One failing provider usually shows as its own alerts; a storm means \
                 failover itself is busy, often because several providers fail at once.",
                percent(FAILOVER_SHARE)
            ),
            causes: vec![
                "Several providers degraded together (a shared upstream, a region outage).",
                "One large provider down with its traffic cascading to the next candidates, \
                 which then rate-limit.",
                "A bad request shape of ours that every provider rejects (`bad_request`).",
            ],
            actions: vec![
                "Open Provider Health, Failovers: which providers and which reasons.",
                "If one provider dominates, handle it as GatewayzProviderUnavailable.",
                "If every provider shows bad_request, suspect our own deploy and roll back.",
                "Watch the remaining providers' rate_limited errors and shed or queue load if \
                 they saturate.",
            ],
        },
        dashboard: "gatewayz-provider-health",
        tests: vec![
            fires(
                "one attempt in five fails over, 6 a minute",
                [attempts("0+24x40", "0+6x40"), vec![failovers("0+6x40")]].concat(),
                "20m",
                expected(Vec::new(), "20%"),
            ),
            quiet(
                Case::ZeroTraffic,
                "no attempts, no failovers",
                [attempts("0x40", "0x40"), vec![failovers("0x40")]].concat(),
                "20m",
            ),
            quiet(
                Case::BelowThreshold,
                "one failover a minute out of 60 attempts",
                [attempts("0+59x40", "0+1x40"), vec![failovers("0+1x40")]].concat(),
                "20m",
            ),
        ],
    }
}

fn no_successful_inference() -> AlertRule {
    let requests = MODEL_INFERENCE_REQUESTS.name;
    AlertRule {
        alert: "GatewayzModelNoSuccessfulInference",
        expr: format!(
            "{} >= {NO_SUCCESS_MIN_ATTEMPTS}\nunless {} > 0",
            sum_increase(&MODEL_INFERENCE_REQUESTS, "model", "", "10m"),
            sum_increase(
                &MODEL_INFERENCE_REQUESTS,
                "model",
                r#"status="success""#,
                "10m"
            ),
        ),
        for_: "5m",
        severity: Severity::Critical,
        summary: "No successful inference for model {{ $labels.model }}".to_owned(),
        description: format!(
            "{{{{ $value | humanize }}}} attempts to serve {{{{ $labels.model }}}} in the last 10 \
             minutes, across every provider and replica, and none succeeded ({requests}): clients \
             asking for this model get errors."
        ),
        runbook: Runbook {
            meaning: format!(
                "A model was requested (at least {NO_SUCCESS_MIN_ATTEMPTS} upstream attempts in \
                 10 minutes, all providers and replicas together) and not one attempt succeeded, \
                 for 5 minutes. Unlike the provider alerts this is what clients see: failover \
                 had no provider left that could serve the model."
            ),
            causes: vec![
                "Every provider serving the model is failing or has an open circuit.",
                "The model was renamed or withdrawn upstream (`not_found`).",
                "Our routing table maps the model to providers that do not serve it.",
                "Requests for this model are malformed after a change of ours (`bad_request`).",
            ],
            actions: vec![
                "Open Model Performance filtered on the model: Error rate by model and the \
                 providers involved.",
                "Open Provider Health for those providers: Errors by reason.",
                "not_found: fix the model mapping or announce the withdrawal; bad_request: roll \
                 back.",
                "If one provider could serve it, route the model there.",
            ],
        },
        dashboard: "gatewayz-model-performance",
        tests: vec![
            fires(
                "two providers, every attempt fails",
                [
                    attempts_on(0, "openrouter", "0x40", "0+1x40"),
                    attempts_on(1, "groq", "0x40", "0+1x40"),
                ]
                .concat(),
                "20m",
                expected(vec![("model", "gpt-4o-mini".to_owned())], "20"),
            ),
            quiet(
                Case::ZeroTraffic,
                "no attempts",
                attempts("0x40", "0x40"),
                "20m",
            ),
            quiet(
                Case::BelowThreshold,
                "most attempts fail but some succeed",
                attempts("0+1x40", "0+9x40"),
                "20m",
            ),
            quiet(
                Case::BelowThreshold,
                "every attempt fails but there are only 2 in 10 minutes",
                attempts("0x40", "0+0.2x40"),
                "20m",
            ),
        ],
    }
}

fn cost_per_hour() -> AlertRule {
    AlertRule {
        alert: "GatewayzCostPerHourHigh",
        expr: format!(
            "sum({}) > {COST_PER_HOUR_USD}",
            recording::PROVIDER_COST_HOUR
        ),
        for_: "5m",
        severity: Severity::Warning,
        summary: "Upstream spend is ${{ $value | humanize }} in the last hour".to_owned(),
        description: format!(
            "The gateway fleet spent ${{{{ $value | humanize }}}} on providers in the trailing \
             hour, above the ${COST_PER_HOUR_USD} per hour budget ({} increase over 1h, summed \
             across providers and replicas).",
            COST_USD.name
        ),
        runbook: Runbook {
            meaning: format!(
                "Dollars spent on upstream providers in the last hour (the increase of the cost \
                 counter over 1 h, summed across providers, models and replicas) exceed the \
                 budget of ${COST_PER_HOUR_USD} per hour, for 5 minutes. The unit is dollars per \
                 hour: ${:.2} a minute, sustained, is ${COST_PER_HOUR_USD} an hour.",
                COST_PER_HOUR_USD / 60.0
            ),
            causes: vec![
                "A traffic increase (a new customer, a batch job, a retry loop in a client).",
                "A shift to expensive models, or to a more expensive provider after failover.",
                "A price change not reflected in routing.",
                "Abuse of a leaked API key.",
            ],
            actions: vec![
                "Open Cost Analysis: Spend rate per provider and Top models by spend show where \
                 the money goes.",
                "Compare with Model Performance request rates: more requests, or dearer ones?",
                "Unexpected traffic from one key: check the key's usage and revoke it if leaked.",
                "Expected growth: raise the threshold in xtask/src/rules/alerts.rs and run \
                 `cargo xtask codegen`.",
            ],
        },
        dashboard: "gatewayz-cost-analysis",
        tests: vec![
            fires(
                "$1 a minute on each of two replicas is $120 an hour",
                vec![cost(0, "0+1x100"), cost(1, "0+1x100")],
                "70m",
                expected(Vec::new(), "120"),
            ),
            quiet(
                Case::ZeroTraffic,
                "no spend",
                vec![cost(0, "0x100"), cost(1, "0x100")],
                "70m",
            ),
            quiet(
                Case::BelowThreshold,
                "$0.75 a minute on each of two replicas is $90 an hour",
                vec![cost(0, "0+0.75x100"), cost(1, "0+0.75x100")],
                "70m",
            ),
        ],
    }
}

fn target_down() -> AlertRule {
    AlertRule {
        alert: "GatewayzTargetDown",
        expr: format!("up{{job=\"{JOB}\"}} == 0"),
        for_: "5m",
        severity: Severity::Warning,
        summary: "Gateway replica {{ $labels.instance }} cannot be scraped".to_owned(),
        description: "Prometheus has failed to scrape {{ $labels.instance }} (job \
                      {{ $labels.job }}) for 5 minutes: the replica is down, unreachable, or its \
                      /prometheus/metrics/all endpoint fails. Its metrics are missing from every \
                      dashboard and alert."
            .to_owned(),
        runbook: Runbook {
            meaning: "One gateway replica's scrape has failed for 5 minutes (`up == 0`). The \
                      others still report; the fleet view lacks this replica."
                .to_owned(),
            causes: vec![
                "The replica crashed or is restarting in a loop (Overview: Youngest replica \
                 uptime).",
                "Network or firewall between Prometheus and the replica.",
                "The metrics endpoint answers with an error, a redirect or an invalid body \
                 (authentication added without updating the scrape config, a wrong path).",
                "The scrape takes longer than the scrape timeout (very high cardinality).",
            ],
            actions: vec![
                "Open Prometheus's Targets page: the last scrape error says which.",
                "curl the replica's /prometheus/metrics/all from the Prometheus host.",
                "If it is a crash loop, read the replica's logs.",
            ],
        },
        dashboard: "gatewayz-overview",
        tests: vec![
            fires(
                "one of two replicas down for 10 minutes",
                vec![up(0, "0x15"), up(1, "1x15")],
                "10m",
                expected(
                    vec![
                        ("instance", super::REPLICAS[0].to_owned()),
                        ("job", JOB.to_owned()),
                    ],
                    "0",
                ),
            ),
            quiet(
                Case::ZeroTraffic,
                "replicas up and idle",
                vec![up(0, "1x15"), up(1, "1x15"), build_info("1x15")],
                "10m",
            ),
            quiet(
                Case::BelowThreshold,
                "a replica down for 2 minutes only",
                vec![up(0, "1x5 0x1 1x8"), up(1, "1x15")],
                "8m",
            ),
        ],
    }
}

fn metrics_absent() -> AlertRule {
    AlertRule {
        alert: "GatewayzMetricsAbsent",
        expr: format!("absent({}{{job=\"{JOB}\"}})", BUILD_INFO.name),
        for_: "5m",
        severity: Severity::Critical,
        summary: "No gatewayz metrics at all".to_owned(),
        description: format!(
            "Prometheus has had no {} series from job {{{{ $labels.job }}}} for 5 minutes: every \
             replica is down, service discovery lost them, or the scrape path is wrong. The \
             dashboards and every other gatewayz alert are blind.",
            BUILD_INFO.name
        ),
        runbook: Runbook {
            meaning: format!(
                "No replica of the gateway job has exposed its metrics for 5 minutes. Every \
                 replica always exposes {}, with or without traffic, so its absence means the \
                 metrics are not reaching Prometheus at all. The other alerts cannot fire \
                 meanwhile.",
                BUILD_INFO.name
            ),
            causes: vec![
                "Every replica is down (an outage of the gateway itself).",
                "Service discovery or the static target list no longer lists the replicas, or \
                 the job was renamed (the alerts select job=\"gatewayz\").",
                "The scrape path or authentication changed: every scrape fails \
                 (GatewayzTargetDown fires too, inhibited by this alert).",
            ],
            actions: vec![
                "Check that the gateway serves traffic at all; if not, that is the incident.",
                "Prometheus's Targets page: are the replicas listed, and what is the scrape \
                 error?",
                "If the job was renamed, regenerate the rules with the new JOB in \
                 xtask/src/rules/mod.rs.",
            ],
        },
        dashboard: "gatewayz-overview",
        tests: vec![
            fires(
                "the only target is down",
                vec![up(0, "0x15")],
                "10m",
                expected(vec![("job", JOB.to_owned())], "1"),
            ),
            quiet(
                Case::ZeroTraffic,
                "an idle replica still exposes its build info",
                [
                    vec![up(0, "1x15"), build_info("1x15")],
                    attempts("0x15", "0x15"),
                ]
                .concat(),
                "10m",
            ),
            quiet(
                Case::BelowThreshold,
                "metrics gone for less than 5 minutes",
                vec![up(0, "1x4 0x11"), build_info("1x4")],
                "12m",
            ),
        ],
    }
}
