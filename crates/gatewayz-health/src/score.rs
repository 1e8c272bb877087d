//! The health score and the status derived from it, as pure functions of the window's totals.

use std::time::Duration;

use gatewayz_catalogue::{CircuitState, HealthStatus};

use crate::{
    config::{LatencyConfig, StatusConfig, Weights},
    recent::Recent,
    window::Totals,
};

/// A provider's health as computed over its window: the score, its inputs and the status.
/// `None` means "not enough data".
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Report {
    pub(crate) status: HealthStatus,
    pub(crate) score: Option<f64>,
    pub(crate) availability: Option<f64>,
    pub(crate) error_rate: Option<f64>,
    pub(crate) latency_score: Option<f64>,
    pub(crate) latency_p95: Option<Duration>,
}

impl Report {
    pub(crate) fn unknown() -> Report {
        Report {
            status: HealthStatus::Unknown,
            score: None,
            availability: None,
            error_rate: None,
            latency_score: None,
            latency_p95: None,
        }
    }
}

/// 1 at or below the target, 0 at or above the maximum, linear between.
pub(crate) fn latency_score(p95: Duration, config: &LatencyConfig) -> f64 {
    if p95 <= config.target {
        return 1.0;
    }
    if p95 >= config.max {
        return 0.0;
    }
    let span = (config.max - config.target).as_secs_f64();
    (1.0 - (p95 - config.target).as_secs_f64() / span).clamp(0.0, 1.0)
}

/// The score and its inputs over `totals`; `status` is left `Unknown` for the caller.
pub(crate) fn assess(
    totals: &Totals,
    weights: &Weights,
    latency: &LatencyConfig,
    status: &StatusConfig,
) -> Report {
    let attempts = totals.demand() + totals.probes;
    let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
    let availability = ratio(totals.available, attempts);
    let error_rate = ratio(totals.failures, totals.calls);
    let latency_p95 = totals.p95();
    let latency_score = match latency_p95 {
        Some(p95) => Some(latency_score(p95, latency)),
        // Requests but not one served: no fast answer is as bad as only slow ones.
        None if totals.demand() > 0 => Some(0.0),
        None => None,
    };
    let score = (totals.demand() >= status.min_calls).then(|| {
        // With enough requests only two inputs can be missing, when every request was
        // refused by the circuit: no calls, so no error rate and no latency. Count them as
        // their worst.
        let score = weights.availability * availability.unwrap_or(0.0)
            + weights.error_rate * (1.0 - error_rate.unwrap_or(1.0))
            + weights.latency * latency_score.unwrap_or(0.0);
        score.clamp(0.0, 1.0)
    });
    Report {
        status: HealthStatus::Unknown,
        score,
        availability,
        error_rate,
        latency_score,
        latency_p95,
    }
}

/// The score of the provider's last calls, with the window's latency: what a provider on
/// probation is also judged on, over its last `status.min_calls` calls and over all the calls
/// kept (twice as many), the worse of the two (see [`Recent`]). Its calls were all attempts (no
/// refusal, no health probe), so availability is the share that did not fail. `None` until
/// `status.min_calls` calls are kept.
pub(crate) fn assess_recent(recent: &Recent, window: &Report, weights: &Weights) -> Option<Report> {
    // The window has calls whenever the record does (it is forgotten with them), so its
    // latency score is known; missing, it would count as its worst.
    let latency_score = window.latency_score.unwrap_or(0.0);
    let report = |(calls, failures): (u32, u32)| {
        let error_rate = f64::from(failures) / f64::from(calls);
        let score = weights.availability * (1.0 - error_rate)
            + weights.error_rate * (1.0 - error_rate)
            + weights.latency * latency_score;
        Report {
            status: HealthStatus::Unknown,
            score: Some(score.clamp(0.0, 1.0)),
            availability: Some(1.0 - error_rate),
            error_rate: Some(error_rate),
            latency_score: Some(latency_score),
            latency_p95: window.latency_p95,
        }
    };
    let latest = report(recent.latest()?);
    Some(worse(latest, Some(report(recent.kept()))))
}

/// The report with the lower score, a known one before an unknown (`a` on a tie): a provider on
/// probation is judged on the worse of its window and its last calls.
pub(crate) fn worse(a: Report, b: Option<Report>) -> Report {
    match (a.score, b) {
        (Some(x), Some(b)) if b.score.is_some_and(|y| y < x) => b,
        (None, Some(b)) if b.score.is_some() => b,
        _ => a,
    }
}

/// Higher is better; `None` for unknown.
fn goodness(status: HealthStatus) -> Option<u8> {
    match status {
        HealthStatus::Healthy => Some(2),
        HealthStatus::Degraded => Some(1),
        HealthStatus::Unavailable => Some(0),
        HealthStatus::Unknown => None,
    }
}

fn plain_status(score: f64, config: &StatusConfig) -> HealthStatus {
    if score >= config.healthy {
        HealthStatus::Healthy
    } else if score >= config.degraded {
        HealthStatus::Degraded
    } else {
        HealthStatus::Unavailable
    }
}

/// The status for `score`, with hysteresis: a worse status is entered as soon as the score
/// falls below its threshold; a better one only once the score is `margin` above it.
pub(crate) fn next_status(
    score: Option<f64>,
    previous: HealthStatus,
    config: &StatusConfig,
) -> HealthStatus {
    let Some(score) = score else {
        return HealthStatus::Unknown;
    };
    let plain = plain_status(score, config);
    let Some(was) = goodness(previous) else {
        return plain;
    };
    if goodness(plain) <= Some(was) {
        return plain;
    }
    let lifted = plain_status(score - config.margin, config);
    if goodness(lifted) > Some(was) {
        lifted
    } else {
        previous
    }
}

/// The score while the circuit is `circuit`: an open or half-open circuit takes no traffic
/// (only probes get through), so the provider scores 0 whatever its window says, and its
/// score can never sit in the healthy band while its status says unavailable.
pub(crate) fn score_with_circuit(score: Option<f64>, circuit: CircuitState) -> Option<f64> {
    match circuit {
        CircuitState::Open | CircuitState::HalfOpen => Some(0.0),
        CircuitState::Closed => score,
    }
}

/// The circuit is the faster signal: while it is open or half-open the provider is out of
/// rotation (only probes reach it), so it is unavailable whatever its score says. Calling the
/// half-open state "degraded" made an outage flap: every cool-down the status rose for the
/// length of a probe, and an alert on the status resolved and fired again.
pub(crate) fn with_circuit(status: HealthStatus, circuit: CircuitState) -> HealthStatus {
    match circuit {
        CircuitState::Open | CircuitState::HalfOpen => HealthStatus::Unavailable,
        CircuitState::Closed => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circuit_that_is_not_closed_makes_any_status_unavailable() {
        use HealthStatus::*;
        for status in [Healthy, Degraded, Unavailable, Unknown] {
            assert_eq!(with_circuit(status, CircuitState::Closed), status);
            assert_eq!(with_circuit(status, CircuitState::Open), Unavailable);
            assert_eq!(with_circuit(status, CircuitState::HalfOpen), Unavailable);
        }
    }

    #[test]
    fn latency_score_is_linear_between_target_and_max() {
        let config = LatencyConfig::default();
        let at = |secs: f64| latency_score(Duration::from_secs_f64(secs), &config);
        assert_eq!(
            [at(0.5), at(2.0), at(16.0), at(30.0), at(90.0)],
            [1.0, 1.0, 0.5, 0.0, 0.0]
        );
    }

    #[test]
    fn status_needs_the_margin_to_improve_but_not_to_worsen() {
        let config = StatusConfig::default();
        let next = |score, previous| next_status(Some(score), previous, &config);
        use HealthStatus::*;
        assert_eq!(next(0.79, Healthy), Degraded);
        assert_eq!(next(0.82, Degraded), Degraded);
        assert_eq!(next(0.86, Degraded), Healthy);
        assert_eq!(next(0.52, Unavailable), Unavailable);
        assert_eq!(next(0.84, Unavailable), Degraded);
        assert_eq!(next(0.9, Unavailable), Healthy);
        assert_eq!(next(0.81, Unknown), Healthy);
        assert_eq!(next_status(None, Healthy, &config), Unknown);
    }
}
