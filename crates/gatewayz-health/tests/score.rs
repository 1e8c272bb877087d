//! The health score, its inputs and the status, as seen in snapshots after a tick.

mod support;

use std::time::Duration;

use gatewayz_health::{CallOutcome, HealthConfig, ProviderConfig, ProviderSnapshot};
use gatewayz_metrics::{ErrorKind, HealthStatus};
use support::{Fixture, fail, fixture, ms, ok, secs, timeout};

const P: &str = "openrouter";

/// A configuration whose circuit never opens on its own, to look at the score alone.
fn lenient() -> HealthConfig {
    let mut config = HealthConfig::default();
    config.circuit.consecutive_failures = 1_000_000;
    config.circuit.failure_rate = 1.0;
    config.circuit.min_calls = 1_000_000;
    config
}

fn tick(f: &Fixture) -> ProviderSnapshot {
    f.tracker.tick();
    f.tracker.provider(P).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn below_the_minimum_volume_the_status_is_unknown_without_a_score() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 9, ok(ms(300)));
    let s = tick(&f);
    assert_eq!(
        (s.status, s.score, s.requests),
        (HealthStatus::Unknown, None, 9)
    );
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
    let s = f.tracker.provider(P).unwrap();
    assert_eq!((s.status, s.score), (HealthStatus::Unknown, None));
}

#[test]
fn availability_is_the_share_of_attempts_that_got_an_answer() {
    let f = fixture(lenient(), &[P]);
    f.calls(P, 6, ok(ms(300)));
    f.calls(P, 1, fail(ErrorKind::ServerError));
    f.calls(P, 1, CallOutcome::from_status(400, ms(50)));
    f.calls(P, 1, timeout());
    f.calls(P, 1, fail(ErrorKind::Connection));
    f.tracker.probed(P, true).unwrap();
    f.tracker.probed(P, false).unwrap();
    let s = tick(&f);
    // 8 answered calls + 1 answered probe over 10 calls + 2 probes.
    assert!(close(s.availability.unwrap(), 9.0 / 12.0), "{s:?}");
    // The 5xx, the timeout and the connection error count; the 400 does not.
    assert!(close(s.error_rate.unwrap(), 3.0 / 10.0), "{s:?}");
    assert_eq!(s.requests, 10, "probes are not requests");
}

#[test]
fn calls_refused_by_the_circuit_count_as_unreachable() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 15, ok(ms(300)));
    f.calls(P, 5, timeout());
    for _ in 0..10 {
        assert!(f.tracker.try_acquire(P).is_err());
    }
    let s = tick(&f);
    assert_eq!(s.requests, 30);
    assert!(close(s.availability.unwrap(), 15.0 / 30.0), "{s:?}");
    assert!(close(s.error_rate.unwrap(), 5.0 / 20.0), "{s:?}");
    // 0.4 × 0.5 + 0.3 × 0.75 + 0.3 × 1.
    assert!(close(s.score.unwrap(), 0.725), "{s:?}");
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
    let score = |p| f.tracker.provider(p).unwrap().latency_score.unwrap();
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
    f.calls(P, 9, ok(ms(300)));
    f.calls(P, 1, fail(ErrorKind::ServerError));
    // 1 - 0.3 × 0.1 = 0.97: healthy.
    assert_eq!(tick(&f).status, HealthStatus::Healthy);
    f.calls(P, 10, fail(ErrorKind::ServerError));
    // 11 of 20 failed: 1 - 0.3 × 0.55 = 0.835: below 0.9.
    assert_eq!(tick(&f).status, HealthStatus::Unavailable);
}

/// A fresh window of 100 fast calls, `failed` of them 5xx: score `1 - 0.3 × failed / 100`.
fn window_with(f: &Fixture, failed: usize) -> ProviderSnapshot {
    f.advance(secs(300));
    for i in 0..100 {
        let outcome = if i < failed {
            fail(ErrorKind::ServerError)
        } else {
            ok(ms(300))
        };
        f.tracker.record(P, outcome).unwrap();
    }
    tick(f)
}

#[test]
fn hysteresis_needs_the_margin_to_improve_but_not_to_worsen() {
    let f = fixture(lenient(), &[P]);
    let steps = [
        (0, 1.0, HealthStatus::Healthy),
        (70, 0.79, HealthStatus::Degraded),
        (60, 0.82, HealthStatus::Degraded),
        (40, 0.88, HealthStatus::Healthy),
        (60, 0.82, HealthStatus::Healthy),
        (90, 0.73, HealthStatus::Degraded),
        (100, 0.4, HealthStatus::Unavailable),
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
    // 100 good, 5 timeouts: score 0.4 × 100/105 + 0.3 × 100/105 + 0.3 ≈ 0.967, but open.
    let s = f.tracker.provider(P).unwrap();
    assert_eq!(s.status, HealthStatus::Unavailable, "live in the snapshot");
    assert_eq!(tick(&f).status, HealthStatus::Unavailable);
    f.advance(secs(30));
    let s = tick(&f);
    // Only probes get through: still out of rotation, so no flap to a better status.
    assert_eq!(s.status, HealthStatus::Unavailable, "half-open");
    f.calls(P, 3, ok(ms(300)));
    assert_eq!(tick(&f).status, HealthStatus::Healthy, "closed again");
}

#[test]
fn old_calls_leave_the_window() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 20, ok(ms(300)));
    f.advance(secs(300) - Duration::from_nanos(1));
    assert_eq!(
        tick(&f).requests,
        20,
        "bucket 0 is still one of the last ten"
    );
    f.advance(Duration::from_nanos(1));
    assert_eq!(tick(&f).requests, 0);
}
