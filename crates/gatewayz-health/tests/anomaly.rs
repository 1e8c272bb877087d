//! Anomaly detection: latency spikes, error surges and traffic drops against a baseline of
//! earlier buckets, with warm-up, minimum volumes and clearing.

mod support;

use std::time::Duration;

use gatewayz_health::{
    AnomalyEvent, AnomalyKind, AnomalyPhase, CallOutcome, ErrorKind, HealthConfig,
};
use support::{Fixture, fixture, ms, ok, secs};

const P: &str = "anthropic";

fn lenient() -> HealthConfig {
    let mut config = HealthConfig::default();
    config.circuit.consecutive_failures = 1_000_000;
    config.circuit.failure_rate = 1.0;
    config.circuit.min_calls = 1_000_000;
    config
}

/// One minute of traffic: `n` calls spread evenly, the `i`-th with `outcome(i)`; then a tick.
fn minute(f: &Fixture, n: u32, outcome: impl Fn(u32) -> CallOutcome) -> Vec<AnomalyEvent> {
    let step = Duration::from_secs(60) / n.max(1);
    for i in 0..n {
        f.calls(P, 1, outcome(i));
        f.advance(step);
    }
    if n == 0 {
        f.advance(secs(60));
    }
    f.tracker.tick()
}

fn normal(f: &Fixture, minutes: usize) {
    for m in 0..minutes {
        let events = minute(f, 60, |_| ok(secs(1)));
        assert!(events.is_empty(), "minute {m}: {events:?}");
    }
}

fn kinds(events: &[AnomalyEvent]) -> Vec<(AnomalyKind, AnomalyPhase)> {
    events.iter().map(|e| (e.kind, e.phase)).collect()
}

#[test]
fn a_latency_spike_starts_and_clears_by_itself() {
    let f = fixture(lenient(), &[P]);
    normal(&f, 6);
    let events = minute(&f, 60, |_| ok(secs(20)));
    assert_eq!(
        kinds(&events),
        [(AnomalyKind::LatencySpike, AnomalyPhase::Started)]
    );
    let spike = &events[0];
    assert_eq!((spike.provider.as_str(), spike.at), (P, secs(420)));
    // The observed p95 is capped by the slowest call; the baseline's is interpolated in
    // [960, 1024) ms.
    assert_eq!(spike.observed, 20.0, "{spike:?}");
    assert!((spike.baseline - 1.0208).abs() < 1e-6, "{spike:?}");
    assert_eq!(f.health(P).anomalies, [AnomalyKind::LatencySpike]);
    let events = minute(&f, 60, |_| ok(secs(1)));
    assert_eq!(
        kinds(&events),
        [(AnomalyKind::LatencySpike, AnomalyPhase::Ended)]
    );
    assert!(f.health(P).anomalies.is_empty());
}

#[test]
fn nothing_is_detected_during_the_warm_up() {
    let f = fixture(lenient(), &[P]);
    normal(&f, 4);
    // At this tick the baseline has 8 buckets (those before the observed minute) of the 10
    // that 5 minutes of warm-up need.
    assert!(minute(&f, 60, |_| ok(secs(25))).is_empty());
    let events = minute(&f, 2, |_| ok(secs(1)));
    assert_eq!(
        kinds(&events),
        [(AnomalyKind::TrafficDrop, AnomalyPhase::Started)],
        "warm"
    );
}

#[test]
fn a_single_slow_call_at_night_is_not_an_anomaly() {
    let f = fixture(lenient(), &[P]);
    for _ in 0..8 {
        assert!(minute(&f, 6, |_| ok(secs(1))).is_empty());
    }
    assert!(minute(&f, 1, |_| ok(secs(120))).is_empty());
    // One slow call weighs 0.1 against the baseline's 3 per bucket: its p95 stays put, and
    // with volume the same latency is a spike.
    let events = minute(&f, 10, |_| ok(secs(120)));
    assert_eq!(
        kinds(&events),
        [(AnomalyKind::LatencySpike, AnomalyPhase::Started)]
    );
}

#[test]
fn fewer_calls_than_the_minimum_are_no_evidence() {
    let f = fixture(lenient(), &[P]);
    for _ in 0..8 {
        assert!(minute(&f, 6, |_| ok(secs(1))).is_empty());
    }
    assert!(
        minute(&f, 9, |_| ok(secs(120))).is_empty(),
        "9 calls, 10 needed"
    );
}

#[test]
fn a_latency_spike_needs_the_absolute_floor() {
    let f = fixture(lenient(), &[P]);
    for _ in 0..6 {
        minute(&f, 60, |_| ok(ms(500)));
    }
    assert!(
        minute(&f, 60, |_| ok(ms(4000))).is_empty(),
        "8× the baseline but under 5 s"
    );
}

#[test]
fn an_error_surge_starts_and_clears() {
    let f = fixture(lenient(), &[P]);
    let server_error = CallOutcome::failure(ErrorKind::ServerError, secs(1));
    // One failure in each 30 s bucket of 25 calls: a steady 4%.
    let usual = |i| {
        if i % 25 == 0 {
            server_error
        } else {
            ok(secs(1))
        }
    };
    for _ in 0..6 {
        assert!(minute(&f, 50, usual).is_empty());
    }
    let events = minute(&f, 60, |i| {
        if i % 2 == 0 {
            server_error
        } else {
            ok(secs(1))
        }
    });
    assert_eq!(
        kinds(&events),
        [(AnomalyKind::ErrorSurge, AnomalyPhase::Started)]
    );
    assert_eq!(events[0].observed, 0.5);
    assert!((events[0].baseline - 0.04).abs() < 1e-9, "{:?}", events[0]);
    let events = minute(&f, 50, usual);
    assert_eq!(
        kinds(&events),
        [(AnomalyKind::ErrorSurge, AnomalyPhase::Ended)]
    );
}

#[test]
fn an_error_surge_needs_twice_the_baseline_too() {
    let f = fixture(lenient(), &[P]);
    let rate_limited = CallOutcome::failure(ErrorKind::RateLimited, secs(1));
    for _ in 0..6 {
        minute(&f, 100, |i| {
            if i % 10 < 3 {
                rate_limited
            } else {
                ok(secs(1))
            }
        });
    }
    let events = minute(&f, 100, |i| {
        if i % 20 < 11 {
            rate_limited
        } else {
            ok(secs(1))
        }
    });
    assert!(
        events.is_empty(),
        "0.55 is baseline + 0.25 but less than 2 × 0.3: {events:?}"
    );
}

#[test]
fn client_errors_are_not_an_error_surge() {
    let f = fixture(lenient(), &[P]);
    normal(&f, 6);
    let bad_request = CallOutcome::from_status(400, ms(100));
    assert!(minute(&f, 60, |_| bad_request).is_empty());
}

#[test]
fn a_traffic_drop_starts_and_clears() {
    let f = fixture(lenient(), &[P]);
    normal(&f, 6);
    let events = minute(&f, 5, |_| ok(secs(1)));
    assert_eq!(
        kinds(&events),
        [(AnomalyKind::TrafficDrop, AnomalyPhase::Started)]
    );
    assert_eq!(events[0].observed, 5.0);
    assert!((events[0].baseline - 60.0).abs() < 1e-9, "{:?}", events[0]);
    let events = minute(&f, 60, |_| ok(secs(1)));
    assert_eq!(
        kinds(&events),
        [(AnomalyKind::TrafficDrop, AnomalyPhase::Ended)]
    );
}

#[test]
fn a_quiet_provider_cannot_drop() {
    let f = fixture(lenient(), &[P]);
    for _ in 0..8 {
        minute(&f, 15, |_| ok(secs(1)));
    }
    assert!(
        minute(&f, 0, |_| ok(secs(1))).is_empty(),
        "baseline 15 < 20 per window"
    );
}

#[test]
fn the_baseline_is_frozen_while_an_anomaly_lasts() {
    let f = fixture(lenient(), &[P]);
    normal(&f, 6);
    assert_eq!(minute(&f, 60, |_| ok(secs(20))).len(), 1);
    for m in 0..20 {
        let events = minute(&f, 60, |_| ok(secs(20)));
        assert!(
            events.is_empty(),
            "minute {m}: the spike goes on: {events:?}"
        );
    }
}

#[test]
fn a_lasting_change_becomes_the_new_normal_after_adapt_after() {
    let mut config = lenient();
    config.anomaly.adapt_after = secs(300);
    let f = fixture(config, &[P]);
    normal(&f, 6);
    assert_eq!(minute(&f, 60, |_| ok(secs(20))).len(), 1);
    let mut ended_after = None;
    for m in 1..=30 {
        let events = minute(&f, 60, |_| ok(secs(20)));
        if !events.is_empty() {
            assert_eq!(
                kinds(&events),
                [(AnomalyKind::LatencySpike, AnomalyPhase::Ended)]
            );
            ended_after = Some(m);
            break;
        }
    }
    // Frozen for the 5 minutes of adapt_after, then one minute of learning is enough for
    // the baseline's p95 to reach the new latency.
    assert_eq!(ended_after, Some(5));
}

#[test]
fn reset_ends_active_anomalies() {
    let f = fixture(lenient(), &[P]);
    normal(&f, 6);
    minute(&f, 60, |_| ok(secs(20)));
    f.tracker.reset(P).unwrap();
    assert!(f.health(P).anomalies.is_empty());
    assert!(
        minute(&f, 60, |_| ok(secs(20))).is_empty(),
        "warming up again"
    );
}
