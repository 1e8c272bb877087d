//! What `/health/providers` shows: every provider's last computed health, its live circuit and
//! its anomalies, serialisable with serde.

use std::{fmt::Display, time::Duration};

use gatewayz_metrics::{AnomalyKind, CircuitState, HealthReport, HealthStatus};
use serde::{Serialize, Serializer, ser::SerializeSeq};

use crate::AnomalyEvent;

/// One provider's state.
///
/// The score and its inputs are those of the last [`tick`](crate::HealthTracker::tick);
/// the circuit is live, and so is the status's circuit rule (see the crate docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderSnapshot {
    /// The provider.
    pub provider: String,
    /// Healthy, degraded, unavailable or unknown.
    #[serde(serialize_with = "display")]
    pub status: HealthStatus,
    /// Composite score, 0..1; `None` while the status is unknown.
    pub score: Option<f64>,
    /// Availability input, 0..1.
    pub availability: Option<f64>,
    /// Error-rate input, 0..1.
    pub error_rate: Option<f64>,
    /// Latency input, 0..1.
    pub latency_score: Option<f64>,
    /// p95 latency of the calls that did not fail.
    #[serde(rename = "latency_p95_seconds", serialize_with = "optional_seconds")]
    pub latency_p95: Option<Duration>,
    /// Requests in the window at the last tick (calls made plus calls refused).
    pub requests: u64,
    /// The circuit.
    pub circuit: CircuitSnapshot,
    /// Anomalies active now.
    #[serde(serialize_with = "display_all")]
    pub anomalies: Vec<AnomalyKind>,
    /// Latest anomaly events, oldest first.
    pub recent_events: Vec<AnomalyEvent>,
}

impl ProviderSnapshot {
    /// The health part, as published through `gatewayz-metrics`.
    pub fn report(&self) -> HealthReport {
        HealthReport {
            status: self.status,
            score: self.score,
            availability: self.availability,
            error_rate: self.error_rate,
            latency_score: self.latency_score,
            latency_p95: self.latency_p95,
        }
    }
}

/// A circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CircuitSnapshot {
    /// Closed, open or half-open.
    #[serde(serialize_with = "display")]
    pub state: CircuitState,
    /// Forced open by an operator: it stays open until forced closed or reset.
    pub forced: bool,
    /// Failures in a row while closed.
    pub consecutive_failures: u32,
    /// Trips in a row; the next cool-down is `cool_down × 2^trips`, capped.
    pub trips: u32,
    /// Time until an open circuit lets a probe through; `None` unless open with a cool-down.
    #[serde(rename = "retry_after_seconds", serialize_with = "optional_seconds")]
    pub retry_after: Option<Duration>,
    /// Probe permits out in the current half-open period.
    pub probes_admitted: u32,
}

pub(crate) fn display<S: Serializer, T: Display>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn display_all<S: Serializer, T: Display>(values: &[T], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(values.len()))?;
    for value in values {
        seq.serialize_element(&value.to_string())?;
    }
    seq.end()
}

pub(crate) fn seconds<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(value.as_secs_f64())
}

fn optional_seconds<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.serialize_some(&value.as_secs_f64()),
        None => s.serialize_none(),
    }
}
