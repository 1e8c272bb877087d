//! `[alerts]`: the runbook URL, and the threshold and `for` of every alert.
//!
//! One table per alert, named after it without the `Gatewayz` prefix, in snake case
//! (`GatewayzProviderErrorSurge` is `[alerts.provider_error_surge]`). The defaults follow the
//! health tracker's own defaults (healthy from 0.8). The service level objectives and their
//! burn-rate alerts are in `[slo]`.

use serde::Deserialize;

use super::{Duration, Problems};

/// Every alert's settings, and where the runbooks are.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// Each alert's `runbook_url`: `{alert}` becomes the alert's name, `{anchor}` its name in
    /// lower case (the anchor of its section in the generated `docs/alerts.md`).
    pub runbook_url: String,
    /// `GatewayzProviderUnavailable`.
    pub provider_unavailable: ProviderUnavailable,
    /// `GatewayzProviderHealthDegraded`.
    pub provider_health_degraded: ProviderHealthDegraded,
    /// `GatewayzProviderErrorSurge`.
    pub provider_error_surge: ProviderErrorSurge,
    /// `GatewayzProviderLatencySpike`.
    pub provider_latency_spike: ProviderLatencySpike,
    /// `GatewayzCircuitOpenTooLong`.
    pub circuit_open_too_long: CircuitOpenTooLong,
    /// `GatewayzCircuitFlapping`.
    pub circuit_flapping: CircuitFlapping,
    /// `GatewayzFailoverStorm`.
    pub failover_storm: FailoverStorm,
    /// `GatewayzTrafficStopped`.
    pub traffic_stopped: TrafficStopped,
    /// `GatewayzRequestsRefusedSurge`.
    pub requests_refused_surge: RequestsRefusedSurge,
    /// `GatewayzCostPerHourHigh`.
    pub cost_per_hour_high: CostPerHourHigh,
    /// `GatewayzSpendAboveLastWeek`.
    pub spend_above_last_week: SpendAboveLastWeek,
    /// `GatewayzSpendAboveBudgetPace` (only with `cost.monthly_budget_usd`).
    pub spend_above_budget_pace: SpendAboveBudgetPace,
    /// `GatewayzTargetDown`.
    pub target_down: TargetDown,
    /// `GatewayzMetricsAbsent`.
    pub metrics_absent: MetricsAbsent,
    /// `GatewayzLabelValuesOverflow`.
    pub label_values_overflow: InstrumentationLoss,
    /// `GatewayzMetricConflicts`.
    pub metric_conflicts: InstrumentationLoss,
}

/// Where the runbooks of this repository are published.
pub const DEFAULT_RUNBOOK_URL: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/docs/alerts.md#{anchor}"
);

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            runbook_url: DEFAULT_RUNBOOK_URL.to_owned(),
            provider_unavailable: ProviderUnavailable::default(),
            provider_health_degraded: ProviderHealthDegraded::default(),
            provider_error_surge: ProviderErrorSurge::default(),
            provider_latency_spike: ProviderLatencySpike::default(),
            circuit_open_too_long: CircuitOpenTooLong::default(),
            circuit_flapping: CircuitFlapping::default(),
            failover_storm: FailoverStorm::default(),
            traffic_stopped: TrafficStopped::default(),
            requests_refused_surge: RequestsRefusedSurge::default(),
            cost_per_hour_high: CostPerHourHigh::default(),
            spend_above_last_week: SpendAboveLastWeek::default(),
            spend_above_budget_pace: SpendAboveBudgetPace::default(),
            target_down: TargetDown::default(),
            metrics_absent: MetricsAbsent::default(),
            label_values_overflow: InstrumentationLoss::default(),
            metric_conflicts: InstrumentationLoss::default(),
        }
    }
}

fn minutes(n: u64) -> Duration {
    Duration::from_millis(n * 60_000)
}

/// A provider judged unavailable by enough of the replicas that can judge it: a page when
/// its clients feel it (a model it serves burns its availability budget at the page rate),
/// a warning when failover hides it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderUnavailable {
    /// Share of the judging replicas that must call the provider unavailable, 0.01 to 1.
    pub replica_share: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
    /// How long it keeps firing once the provider looks available again: a provider that
    /// flaps (down a few minutes, up a few) stays one incident, one notification, instead of
    /// paging anew on every cycle.
    pub keep_firing_for: Duration,
}

impl Default for ProviderUnavailable {
    fn default() -> Self {
        ProviderUnavailable {
            replica_share: 0.5,
            for_: minutes(2),
            keep_firing_for: minutes(10),
        }
    }
}

/// A provider's health score across the replicas that can judge it, each weighted by the
/// attempts it made (calls and circuit refusals), below a level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderHealthDegraded {
    /// The score below which the provider is degraded, above 0.05 and below 1 (the health
    /// tracker's default healthy threshold is 0.8).
    pub score: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for ProviderHealthDegraded {
    fn default() -> Self {
        ProviderHealthDegraded {
            score: 0.8,
            for_: minutes(10),
        }
    }
}

/// The error ratio of a provider's inference attempts above a level, with enough traffic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderErrorSurge {
    /// Share of failed attempts that is a surge, between 0.01 and 1 (both excluded).
    pub ratio: f64,
    /// Attempts per second below which the ratio is not judged (0.05 is three a minute).
    pub min_requests_per_second: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for ProviderErrorSurge {
    fn default() -> Self {
        ProviderErrorSurge {
            ratio: 0.25,
            min_requests_per_second: 0.05,
            for_: minutes(5),
        }
    }
}

/// A provider's p95 time per output token (streams) above a level: slow generation,
/// whatever the answers' length (a whole call's duration mostly tracks how long the answer is).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderLatencySpike {
    /// p95 seconds per output token that is a spike (0.25: four tokens a second); within the
    /// buckets of `gatewayz_time_per_output_token_seconds`.
    pub p95_seconds_per_token: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for ProviderLatencySpike {
    fn default() -> Self {
        ProviderLatencySpike {
            p95_seconds_per_token: 0.25,
            for_: minutes(10),
        }
    }
}

/// A circuit breaker that has not closed for a while.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitOpenTooLong {
    /// How long open or half-open, never closed, before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for CircuitOpenTooLong {
    fn default() -> Self {
        CircuitOpenTooLong { for_: minutes(10) }
    }
}

/// A circuit that keeps reopening: closed again between failures, so it never stays open long
/// enough for `GatewayzCircuitOpenTooLong`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitFlapping {
    /// Times one replica's circuit for the provider opened from closed in the last hour that
    /// are flapping (an outage opens it once, however long it lasts).
    pub reopenings_per_hour: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for CircuitFlapping {
    fn default() -> Self {
        CircuitFlapping {
            reopenings_per_hour: 3.0,
            for_: minutes(1),
        }
    }
}

/// Many upstream attempts failing over to the next provider, fleet-wide.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverStorm {
    /// Share of upstream attempts that fail over, between 0.01 and 1 (both excluded).
    pub share: f64,
    /// Failovers per second below which there is no storm.
    pub min_failovers_per_second: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for FailoverStorm {
    fn default() -> Self {
        FailoverStorm {
            share: 0.1,
            min_failovers_per_second: 0.05,
            for_: minutes(10),
        }
    }
}

/// Client traffic stopped: no request on the client API for a while, after an hour that had
/// some. A broken load balancer, DNS or certificate in front of the gateway looks like this.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficStopped {
    /// Requests in the trailing hour, every replica together, below which the gateway is
    /// merely quiet (at night, say) and a stop is not judged.
    pub min_requests_per_hour: f64,
    /// How long after the last five minutes went silent before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for TrafficStopped {
    fn default() -> Self {
        TrafficStopped {
            min_requests_per_hour: 60.0,
            for_: minutes(5),
        }
    }
}

/// A surge of requests refused before any provider was called, for one reason.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestsRefusedSurge {
    /// Share of the client API's requests refused for one reason, between 0.01 and 1.
    pub share: f64,
    /// Refusals per second below which there is no surge.
    pub min_refusals_per_second: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for RequestsRefusedSurge {
    fn default() -> Self {
        RequestsRefusedSurge {
            share: 0.2,
            min_refusals_per_second: 0.05,
            for_: minutes(10),
        }
    }
}

/// Upstream spend in the trailing hour above a level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostPerHourHigh {
    /// Dollars per hour, the whole deployment together.
    pub usd_per_hour: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for CostPerHourHigh {
    fn default() -> Self {
        CostPerHourHigh {
            usd_per_hour: 100.0,
            for_: minutes(5),
        }
    }
}

/// Upstream spend in the trailing hour well above the same hour a week earlier.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpendAboveLastWeek {
    /// How many times last week's spend is too much, above 1 (1.5: half as much again, so
    /// that spend doubling warns).
    pub ratio: f64,
    /// Dollars in the trailing hour below which the comparison is not judged.
    pub min_usd_per_hour: f64,
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for SpendAboveLastWeek {
    fn default() -> Self {
        SpendAboveLastWeek {
            ratio: 1.5,
            min_usd_per_hour: 1.0,
            for_: minutes(30),
        }
    }
}

/// Upstream spend of the trailing day, at that pace for the whole month, above the monthly
/// budget (`cost.monthly_budget_usd`; without one there is no such alert).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpendAboveBudgetPace {
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for SpendAboveBudgetPace {
    fn default() -> Self {
        SpendAboveBudgetPace { for_: minutes(60) }
    }
}

/// Instrumentation that lost data: label values folded into `other`, or recordings dropped.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstrumentationLoss {
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for InstrumentationLoss {
    fn default() -> Self {
        InstrumentationLoss { for_: minutes(5) }
    }
}

/// A replica whose scrape fails.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetDown {
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for TargetDown {
    fn default() -> Self {
        TargetDown { for_: minutes(5) }
    }
}

/// No metrics from the deployment at all.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsAbsent {
    /// How long before it fires.
    #[serde(rename = "for")]
    pub for_: Duration,
}

impl Default for MetricsAbsent {
    fn default() -> Self {
        MetricsAbsent { for_: minutes(5) }
    }
}

/// The shares the generated promtool cases of an alert use to fire: the first one above the
/// threshold is the firing case, so every valid threshold needs one above it.
pub(crate) const FIRING_SHARES: [f64; 4] = [0.5, 0.75, 0.9, 1.0];
/// The shares the quiet "below the threshold" cases use: the first one below the threshold.
pub(crate) const QUIET_SHARES: [f64; 4] = [0.25, 0.1, 0.05, 0.01];
/// The health scores the firing case of the degraded alert uses: the first one below the
/// threshold (each renders exactly as a percentage).
pub(crate) const DEGRADED_SCORES: [f64; 7] = [0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05];

impl Alerts {
    pub(super) fn validate(&self, problems: &mut Problems) {
        let url = &self.runbook_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problems.add(
                "alerts.runbook_url",
                format!("`{url}` is not an http(s) URL"),
            );
        } else if !url.contains("{alert}") && !url.contains("{anchor}") {
            problems.add(
                "alerts.runbook_url",
                "put {alert} (the alert's name) or {anchor} (its name in lower case) in it, so \
                 that each alert links to its own runbook",
            );
        }
        let fors = [
            ("provider_unavailable", &self.provider_unavailable.for_),
            (
                "provider_health_degraded",
                &self.provider_health_degraded.for_,
            ),
            ("provider_error_surge", &self.provider_error_surge.for_),
            ("provider_latency_spike", &self.provider_latency_spike.for_),
            ("circuit_open_too_long", &self.circuit_open_too_long.for_),
            ("circuit_flapping", &self.circuit_flapping.for_),
            ("failover_storm", &self.failover_storm.for_),
            ("traffic_stopped", &self.traffic_stopped.for_),
            ("requests_refused_surge", &self.requests_refused_surge.for_),
            ("cost_per_hour_high", &self.cost_per_hour_high.for_),
            ("spend_above_last_week", &self.spend_above_last_week.for_),
            (
                "spend_above_budget_pace",
                &self.spend_above_budget_pace.for_,
            ),
            ("target_down", &self.target_down.for_),
            ("metrics_absent", &self.metrics_absent.for_),
            ("label_values_overflow", &self.label_values_overflow.for_),
            ("metric_conflicts", &self.metric_conflicts.for_),
            (
                "provider_unavailable.keep_firing_for",
                &self.provider_unavailable.keep_firing_for,
            ),
        ];
        for (alert, duration) in fors {
            let minutes = duration.millis() / 60_000;
            if duration.millis() % 60_000 != 0 || !(1..=24 * 60).contains(&minutes) {
                let field = if alert.contains('.') {
                    format!("alerts.{alert}")
                } else {
                    format!("alerts.{alert}.for")
                };
                problems.add(
                    field,
                    format!(
                        "{duration} is not a whole number of minutes between 1m and 24h (the \
                         rules are evaluated, and their promtool cases step, once a minute)"
                    ),
                );
            }
        }
        let share = |problems: &mut Problems, field: &str, value: f64, low: f64, high: f64| {
            if !(value > low && value < high) {
                problems.add(
                    field,
                    format!("{value} is not a share between {low} and {high} (both excluded)"),
                );
            }
        };
        let unavailable = self.provider_unavailable.replica_share;
        if !(0.01..=1.0).contains(&unavailable) {
            problems.add(
                "alerts.provider_unavailable.replica_share",
                format!("{unavailable} is not a share of replicas between 0.01 and 1"),
            );
        }
        let score = self.provider_health_degraded.score;
        if !(score > 0.05 && score < 1.0) {
            problems.add(
                "alerts.provider_health_degraded.score",
                format!(
                    "{score} is not a health score above 0.05 and below 1 (at 1, every provider \
                     short of perfect would be degraded)"
                ),
            );
        }
        share(
            problems,
            "alerts.provider_error_surge.ratio",
            self.provider_error_surge.ratio,
            0.01,
            1.0,
        );
        share(
            problems,
            "alerts.failover_storm.share",
            self.failover_storm.share,
            0.01,
            1.0,
        );
        share(
            problems,
            "alerts.requests_refused_surge.share",
            self.requests_refused_surge.share,
            0.01,
            1.0,
        );
        let ratio = self.spend_above_last_week.ratio;
        if !(ratio.is_finite() && ratio > 1.0) {
            problems.add(
                "alerts.spend_above_last_week.ratio",
                format!("{ratio} is not above 1: the alert would fire on last week's own spend"),
            );
        }
        for (field, value) in [
            (
                "alerts.provider_error_surge.min_requests_per_second",
                self.provider_error_surge.min_requests_per_second,
            ),
            (
                "alerts.failover_storm.min_failovers_per_second",
                self.failover_storm.min_failovers_per_second,
            ),
            (
                "alerts.cost_per_hour_high.usd_per_hour",
                self.cost_per_hour_high.usd_per_hour,
            ),
            (
                "alerts.provider_latency_spike.p95_seconds_per_token",
                self.provider_latency_spike.p95_seconds_per_token,
            ),
            (
                "alerts.circuit_flapping.reopenings_per_hour",
                self.circuit_flapping.reopenings_per_hour,
            ),
            (
                "alerts.traffic_stopped.min_requests_per_hour",
                self.traffic_stopped.min_requests_per_hour,
            ),
            (
                "alerts.requests_refused_surge.min_refusals_per_second",
                self.requests_refused_surge.min_refusals_per_second,
            ),
            (
                "alerts.spend_above_last_week.min_usd_per_hour",
                self.spend_above_last_week.min_usd_per_hour,
            ),
        ] {
            if !(value.is_finite() && value > 0.0) {
                problems.add(
                    field,
                    format!(
                        "{value} must be above 0: at 0 the alert would fire on an idle gateway"
                    ),
                );
            }
        }
        let p95 = self.provider_latency_spike.p95_seconds_per_token;
        if p95 > 0.0 && crate::rules::latency_spike_bucket(p95).is_none() {
            let def = &gatewayz_catalogue::TIME_PER_OUTPUT_TOKEN;
            let (low, top) = (
                def.buckets.first().copied().unwrap_or_default(),
                def.buckets.last().copied().unwrap_or_default(),
            );
            problems.add(
                "alerts.provider_latency_spike.p95_seconds_per_token",
                format!(
                    "{p95} s is outside the buckets of {} (from {low} s, below the last one, \
                     {top} s): Prometheus cannot tell a p95 above it",
                    def.name
                ),
            );
        }
    }
}
