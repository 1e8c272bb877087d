//! The health score, its inputs and the status, as published after a tick.

mod support;

use std::time::Duration;

use gatewayz_health::{
    CallOutcome, CircuitState, ErrorKind, HealthConfig, HealthStatus, ProviderConfig,
};
use support::{Fixture, Health, fail, fixture, ms, ok, secs, timeout};

const P: &str = "openrouter";

/// A configuration whose circuit never opens on its own, to look at the score alone.
fn lenient() -> HealthConfig {
    let mut config = HealthConfig::default();
    config.circuit.consecutive_failures = 1_000_000;
    config.circuit.failure_rate = 1.0;
    config.circuit.min_calls = 1_000_000;
    config
}

fn tick(f: &Fixture) -> Health {
    f.tick(P)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn below_the_minimum_volume_the_status_is_unknown_without_a_score() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 9, ok(ms(300)));
    let s = tick(&f);
    assert_eq!((s.status, s.score), (HealthStatus::Unknown, None));
    assert_eq!(
        (s.availability, s.error_rate, s.latency_score),
        (Some(1.0), Some(0.0), Some(1.0))
    );
    f.calls(P, 1, ok(ms(300)));
    let s = tick(&f);
    assert_eq!((s.status, s.score), (HealthStatus::Healthy, Some(1.0)));
}

#[test]
fn before_the_first_tick_every_provider_is_unknown() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 100, ok(ms(300)));
    let s = f.health(P);
    assert_eq!((s.status, s.score), (HealthStatus::Unknown, None));
}

#[test]
fn availability_is_the_share_of_attempts_answered_properly() {
    let f = fixture(lenient(), &[P]);
    f.calls(P, 6, ok(ms(300)));
    f.calls(P, 1, fail(ErrorKind::ServerError));
    f.calls(P, 1, CallOutcome::from_status(400, ms(50)));
    f.calls(P, 1, timeout());
    f.calls(P, 1, fail(ErrorKind::Connection));
    f.tracker.probed(P, true).unwrap();
    f.tracker.probed(P, false).unwrap();
    let s = tick(&f);
    // 6 successes, the 400 (the provider answered properly) and one probe, over 10 calls and
    // 2 probes. The 5xx was an answer, but one that counts against the provider: not available.
    assert!(close(s.availability.unwrap(), 8.0 / 12.0), "{s:?}");
    // The 5xx, the timeout and the connection error count; the 400 does not.
    assert!(close(s.error_rate.unwrap(), 3.0 / 10.0), "{s:?}");
    assert_eq!(s.calls, 10, "probes are not calls");
}

#[test]
fn calls_refused_by_the_circuit_count_as_unavailable_and_an_open_circuit_scores_zero() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 15, ok(ms(300)));
    f.calls(P, 5, timeout());
    for _ in 0..10 {
        assert!(f.tracker.try_acquire(P).is_err());
    }
    let s = tick(&f);
    assert_eq!((s.calls, s.rejections), (20, 10));
    assert!(close(s.availability.unwrap(), 15.0 / 30.0), "{s:?}");
    assert!(close(s.error_rate.unwrap(), 5.0 / 20.0), "{s:?}");
    // The window alone would say 0.4 × 0.5 + 0.3 × 0.75 + 0.3 × 1 = 0.725, but an open
    // circuit takes no traffic: the score agrees with the status.
    assert_eq!(s.score, Some(0.0), "{s:?}");
    assert_eq!(s.status, HealthStatus::Unavailable, "open circuit");
}

#[test]
fn a_provider_that_served_nothing_scores_zero() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.tracker.force_open(P).unwrap();
    for _ in 0..20 {
        assert!(f.tracker.try_acquire(P).is_err());
    }
    let s = tick(&f);
    assert_eq!(
        (s.score, s.availability, s.error_rate),
        (Some(0.0), Some(0.0), None)
    );
    assert_eq!(s.latency_score, Some(0.0));
    assert_eq!(s.status, HealthStatus::Unavailable);
}

#[test]
fn the_latency_score_falls_linearly_from_target_to_max() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 20, ok(secs(8)));
    let s = tick(&f);
    assert_eq!(s.latency_p95, Some(secs(8)), "capped by the slowest call");
    assert!(close(s.latency_score.unwrap(), 1.0 - 6.0 / 28.0));
    assert!(close(
        s.score.unwrap(),
        0.7 + 0.3 * s.latency_score.unwrap()
    ));
}

#[test]
fn the_p95_is_interpolated_within_its_latency_bucket() {
    let f = fixture(HealthConfig::default(), &[P]);
    // 100 calls of 1..=100 × 100 ms: the true p95 is 9.5 s.
    for i in 1..=100 {
        f.calls(P, 1, ok(ms(100 * i)));
    }
    let p95 = tick(&f).latency_p95.unwrap().as_secs_f64();
    assert!((p95 - 9.5).abs() <= 9.5 / 8.0, "{p95}");
}

#[test]
fn failed_calls_do_not_count_in_the_latency() {
    let f = fixture(lenient(), &[P]);
    f.calls(P, 19, ok(ms(500)));
    f.calls(P, 20, CallOutcome::failure(ErrorKind::Timeout, secs(120)));
    let s = tick(&f);
    assert_eq!(s.latency_score, Some(1.0));
}

#[test]
fn latency_thresholds_can_be_set_per_provider() {
    let f = fixture(HealthConfig::default(), &[P]);
    let fast = ProviderConfig::default().with_latency(ms(500), secs(5));
    f.tracker.register("cerebras", fast).unwrap();
    f.calls(P, 20, ok(ms(2500)));
    f.calls("cerebras", 20, ok(ms(2500)));
    f.tracker.tick();
    let score = |p| f.health(p).latency_score.unwrap();
    assert!(close(score(P), 1.0 - 0.5 / 28.0), "{}", score(P));
    assert!(
        close(score("cerebras"), 1.0 - 2.0 / 4.5),
        "{}",
        score("cerebras")
    );
}

#[test]
fn status_thresholds_can_be_set_per_provider() {
    let f = fixture(lenient(), &[]);
    f.tracker
        .register(P, ProviderConfig::default().with_thresholds(0.95, 0.9))
        .unwrap();
    f.calls(P, 19, ok(ms(300)));
    f.calls(P, 1, fail(ErrorKind::ServerError));
    // 1 - 0.7 × 0.05 = 0.965: healthy.
    assert_eq!(tick(&f).status, HealthStatus::Healthy);
    f.calls(P, 5, fail(ErrorKind::ServerError));
    // 6 of 25 failed: 1 - 0.7 × 0.24 = 0.832: below 0.9.
    assert_eq!(tick(&f).status, HealthStatus::Unavailable);
}

/// A fresh window of 100 fast calls, `failed` of them 5xx: score `1 - 0.7 × failed / 100`
/// (0.4 of it availability, 0.3 the error rate).
fn window_with(f: &Fixture, failed: usize) -> Health {
    f.advance(secs(300));
    f.calls(P, failed, fail(ErrorKind::ServerError));
    f.calls(P, 100 - failed, ok(ms(300)));
    tick(f)
}

#[test]
fn hysteresis_needs_the_margin_to_improve_but_not_to_worsen() {
    let f = fixture(lenient(), &[P]);
    let steps = [
        (0, 1.0, HealthStatus::Healthy),
        (30, 0.79, HealthStatus::Degraded),
        (26, 0.818, HealthStatus::Degraded),
        (20, 0.86, HealthStatus::Healthy),
        (26, 0.818, HealthStatus::Healthy),
        (40, 0.72, HealthStatus::Degraded),
        (100, 0.0, HealthStatus::Unavailable),
    ];
    for (i, (failed, score, status)) in steps.into_iter().enumerate() {
        let s = window_with(&f, failed);
        assert!(close(s.score.unwrap(), score), "step {i}: {s:?}");
        assert_eq!(s.status, status, "step {i}");
    }
}

#[test]
fn hysteresis_applies_to_the_degraded_threshold_too() {
    let mut config = lenient();
    config.weights.availability = 0.0;
    config.weights.error_rate = 1.0;
    config.weights.latency = 0.0;
    let f = fixture(config, &[P]);
    let steps = [
        (40, HealthStatus::Degraded),
        (52, HealthStatus::Unavailable),
        (47, HealthStatus::Unavailable),
        (44, HealthStatus::Degraded),
    ];
    for (i, (failed, status)) in steps.into_iter().enumerate() {
        assert_eq!(window_with(&f, failed).status, status, "step {i}");
    }
}

#[test]
fn the_circuit_caps_the_status() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 100, ok(ms(300)));
    assert_eq!(tick(&f).status, HealthStatus::Healthy);
    f.calls(P, 5, timeout());
    // 100 good, 5 timeouts: the window says 0.4 × 100/105 + 0.3 × 100/105 + 0.3 ≈ 0.967, but
    // the circuit is open: published at once, without waiting for a tick.
    let s = f.health(P);
    assert_eq!(
        (s.status, s.score),
        (HealthStatus::Unavailable, Some(0.0)),
        "live"
    );
    assert_eq!(tick(&f).status, HealthStatus::Unavailable);
    f.advance(secs(30));
    let s = tick(&f);
    // Only probes get through: still out of rotation, so no flap to a better status.
    assert_eq!(s.status, HealthStatus::Unavailable, "half-open");
    f.calls(P, 3, ok(ms(300)));
    // Closed again, on probation: its last ten calls (two good, five timeouts, three good
    // probes) say 0.65, and they count, not the 100 good calls from before (0.97).
    let s = tick(&f);
    assert_eq!(s.circuit, CircuitState::Closed);
    assert_eq!(
        (s.status, s.error_rate),
        (HealthStatus::Degraded, Some(0.5)),
        "closed again"
    );
    // Twelve more good calls clear its last ten, but its last twenty (the twelve from before
    // fell out first) still hold the five timeouts: 0.825, not enough coming from below.
    f.calls(P, 12, ok(ms(300)));
    let s = tick(&f);
    assert_eq!(
        (s.status, s.error_rate),
        (HealthStatus::Degraded, Some(0.25))
    );
    // The thirteenth pushes out one: four of twenty, 0.86, healthy coming from below.
    f.calls(P, 1, ok(ms(300)));
    assert_eq!(
        tick(&f).status,
        HealthStatus::Healthy,
        "judged on its last calls"
    );
    // Off probation, the window judges it again.
    f.calls(P, 1, timeout());
    let s = tick(&f);
    assert_eq!(s.status, HealthStatus::Healthy);
    assert!(close(s.error_rate.unwrap(), 6.0 / 122.0), "{s:?}");
}

#[test]
fn old_calls_leave_the_window() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 20, ok(ms(300)));
    f.advance(secs(300) - Duration::from_nanos(1));
    assert_eq!(
        tick(&f).score,
        Some(1.0),
        "bucket 0 is still one of the last ten"
    );
    f.advance(Duration::from_nanos(1));
    let s = tick(&f);
    assert_eq!(
        (s.status, s.score, s.availability),
        (HealthStatus::Unknown, None, None)
    );
}

#[test]
fn a_provider_failing_every_call_is_unavailable_and_scores_zero() {
    // Seen on the example gateway: a simulated provider answering 5xx to every call reported
    // availability 1 and a score of 0.87 while its status said unavailable.
    for kind in [
        ErrorKind::ServerError,
        ErrorKind::RateLimited,
        ErrorKind::Timeout,
    ] {
        let f = fixture(lenient(), &[P]);
        f.calls(P, 50, fail(kind));
        let s = tick(&f);
        assert_eq!(
            (s.status, s.score, s.availability, s.error_rate),
            (HealthStatus::Unavailable, Some(0.0), Some(0.0), Some(1.0)),
            "{kind}"
        );
    }
}
