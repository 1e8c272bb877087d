//! Publishing hooks for provider health, circuit breakers, failover and anomalies.
//!
//! These series exist only once health is first published for a provider, so a service that
//! does not run a health tracker exposes no misleading zero scores.

use std::time::Duration;

use gatewayz_registry::catalogue::{
    ANOMALIES_ACTIVE, ANOMALIES_DETECTED, ANOMALY_KIND, CIRCUIT_BREAKER_REJECTIONS,
    CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRANSITIONS, CIRCUIT_STATE, FAILOVERS, HEALTH_STATUS,
    PROVIDER_AVAILABILITY_RATIO, PROVIDER_ERROR_RATE, PROVIDER_HEALTH_SCORE, PROVIDER_LATENCY_P95,
    PROVIDER_LATENCY_SCORE, PROVIDER_STATUS, REASON,
};
use metrics::{Counter, Gauge};

use crate::{
    AnomalyKind, CircuitState, HealthStatus,
    handles::{counter, gauge, per_value},
    labels::seconds,
};

/// A provider's health as computed over its window: the score, its inputs and the status.
///
/// `None` means "not enough data"; it is published as `NaN`, which PromQL comparisons treat as
/// false (alerts stay quiet) and `gatewayz_provider_status{status="unknown"}` explains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthReport {
    /// Healthy, degraded, unavailable or unknown.
    pub status: HealthStatus,
    /// Composite score, 0..1.
    pub score: Option<f64>,
    /// Share of the window the provider was reachable, 0..1.
    pub availability: Option<f64>,
    /// Failed calls over calls in the window, 0..1.
    pub error_rate: Option<f64>,
    /// Latency component of the score, 0..1.
    pub latency_score: Option<f64>,
    /// p95 latency over the window.
    pub latency_p95: Option<Duration>,
}

pub(crate) struct HealthHandles {
    score: Gauge,
    availability: Gauge,
    error_rate: Gauge,
    latency_score: Gauge,
    latency_p95: Gauge,
    status: Box<[Gauge]>,
    circuit: Box<[Gauge]>,
    rejections: Counter,
    failovers: Box<[Counter]>,
    anomalies: Box<[Counter]>,
    anomalies_active: Box<[Gauge]>,
}

fn closed(label: &'static gatewayz_registry::catalogue::Label) -> &'static [&'static str] {
    label.values().unwrap_or_default()
}

/// Sets the series of `current` to 1 and the others to 0.
fn one_hot(gauges: &[Gauge], current: usize) {
    for (i, gauge) in gauges.iter().enumerate() {
        gauge.set(if i == current { 1.0 } else { 0.0 });
    }
}

impl HealthHandles {
    pub(crate) fn new(provider: &str) -> Self {
        let p = [provider];
        HealthHandles {
            score: gauge(&PROVIDER_HEALTH_SCORE, &p),
            availability: gauge(&PROVIDER_AVAILABILITY_RATIO, &p),
            error_rate: gauge(&PROVIDER_ERROR_RATE, &p),
            latency_score: gauge(&PROVIDER_LATENCY_SCORE, &p),
            latency_p95: gauge(&PROVIDER_LATENCY_P95, &p),
            status: per_value(closed(&HEALTH_STATUS), &p, |l| gauge(&PROVIDER_STATUS, l)),
            circuit: per_value(closed(&CIRCUIT_STATE), &p, |l| {
                gauge(&CIRCUIT_BREAKER_STATE, l)
            }),
            rejections: counter(&CIRCUIT_BREAKER_REJECTIONS, &p),
            failovers: per_value(closed(&REASON), &p, |l| counter(&FAILOVERS, l)),
            anomalies: per_value(closed(&ANOMALY_KIND), &p, |l| {
                counter(&ANOMALIES_DETECTED, l)
            }),
            anomalies_active: per_value(closed(&ANOMALY_KIND), &p, |l| gauge(&ANOMALIES_ACTIVE, l)),
        }
    }

    pub(crate) fn report(&self, report: &HealthReport) {
        let or_nan = |value: Option<f64>| value.unwrap_or(f64::NAN);
        self.score.set(or_nan(report.score));
        self.availability.set(or_nan(report.availability));
        self.error_rate.set(or_nan(report.error_rate));
        self.latency_score.set(or_nan(report.latency_score));
        self.latency_p95
            .set(or_nan(report.latency_p95.map(seconds)));
        one_hot(&self.status, report.status as usize);
    }

    pub(crate) fn circuit(&self, state: CircuitState) {
        one_hot(&self.circuit, state as usize);
    }

    pub(crate) fn rejected(&self) {
        self.rejections.increment(1);
    }

    pub(crate) fn failed_over(&self, reason: crate::ErrorKind) {
        self.failovers[reason as usize].increment(1);
    }

    pub(crate) fn anomaly(&self, kind: AnomalyKind, active: bool) {
        if active {
            self.anomalies[kind as usize].increment(1);
        }
        self.anomalies_active[kind as usize].set(if active { 1.0 } else { 0.0 });
    }
}

/// Counts one circuit transition; transitions are rare, so the handle is not cached.
pub(crate) fn transition(provider: &str, from: CircuitState, to: CircuitState) {
    counter(
        &CIRCUIT_BREAKER_TRANSITIONS,
        &[provider, from.as_str(), to.as_str()],
    )
    .increment(1);
}
