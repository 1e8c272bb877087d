//! The circuit breaker driven through every transition on a manual clock.

mod support;

use std::time::Duration;

use gatewayz_health::{
    CallOutcome, CircuitConfig, CircuitState, ErrorKind, HealthConfig, HealthStatus, Rejected,
};
use support::{Fixture, fail, fixture, inference, ms, ok, secs, timeout};

const P: &str = "groq";

fn default() -> Fixture {
    fixture(HealthConfig::default(), &[P])
}

/// Opens the circuit with five timeouts; returns the fixture at the moment it opened.
fn opened() -> Fixture {
    let f = default();
    f.calls(P, 5, timeout());
    assert_eq!(f.state(P), CircuitState::Open);
    f
}

#[test]
fn opens_after_exactly_n_consecutive_failures_not_one_fewer() {
    let f = default();
    f.calls(P, 4, timeout());
    assert_eq!(f.state(P), CircuitState::Closed);
    f.calls(P, 1, timeout());
    assert_eq!(f.state(P), CircuitState::Open);
    assert_eq!(
        f.tracker.try_acquire(P).unwrap_err(),
        Rejected::Open {
            retry_after: Some(secs(30))
        }
    );
}

#[test]
fn a_per_provider_override_changes_the_failure_count() {
    let f = fixture(HealthConfig::default(), &[]);
    let overrides = gatewayz_health::ProviderConfig::default().with_consecutive_failures(2);
    f.tracker.register(P, overrides).unwrap();
    f.calls(P, 1, timeout());
    assert_eq!(f.state(P), CircuitState::Closed);
    f.calls(P, 1, timeout());
    assert_eq!(f.state(P), CircuitState::Open);
}

#[test]
fn a_success_ends_a_run_of_failures() {
    let f = default();
    for _ in 0..3 {
        f.calls(P, 4, fail(ErrorKind::ServerError));
        f.calls(P, 1, ok(ms(800)));
    }
    assert_eq!(f.state(P), CircuitState::Closed);
}

#[test]
fn every_failure_class_of_the_provider_counts() {
    for kind in [
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::ServerError,
        ErrorKind::RateLimited,
    ] {
        let f = default();
        f.calls(P, 5, fail(kind));
        assert_eq!(f.state(P), CircuitState::Open, "{kind}");
    }
}

#[test]
fn client_and_account_errors_never_open_the_circuit() {
    for status in [400, 401, 402, 403, 404, 422] {
        let f = default();
        f.calls(P, 50, CallOutcome::from_status(status, ms(200)));
        assert_eq!(f.state(P), CircuitState::Closed, "{status}");
    }
}

#[test]
fn a_failure_rate_at_the_threshold_opens_once_the_volume_is_reached() {
    let f = default();
    // Alternating, so the consecutive rule never fires: 9 failures in 19 calls, then the
    // 20th call is the 10th failure: 50% over the minimum volume.
    for i in 0..19 {
        let outcome = if i % 2 == 0 {
            ok(ms(500))
        } else {
            fail(ErrorKind::ServerError)
        };
        f.calls(P, 1, outcome);
    }
    assert_eq!(f.state(P), CircuitState::Closed);
    f.calls(P, 1, fail(ErrorKind::ServerError));
    assert_eq!(f.state(P), CircuitState::Open);
}

#[test]
fn a_failure_rate_below_the_minimum_volume_does_not_open() {
    let mut config = HealthConfig::default();
    config.circuit.consecutive_failures = 100;
    let f = fixture(config, &[P]);
    f.calls(P, 19, fail(ErrorKind::ServerError));
    assert_eq!(f.state(P), CircuitState::Closed);
    f.calls(P, 1, fail(ErrorKind::ServerError));
    assert_eq!(f.state(P), CircuitState::Open);
}

#[test]
fn failures_outside_the_rate_window_do_not_count() {
    let mut config = HealthConfig::default();
    config.circuit.consecutive_failures = 100;
    let f = fixture(config, &[P]);
    f.calls(P, 10, fail(ErrorKind::ServerError));
    f.advance(secs(61));
    f.calls(P, 10, ok(ms(500)));
    f.calls(P, 9, fail(ErrorKind::ServerError));
    assert_eq!(f.state(P), CircuitState::Closed, "9 of 19 in the window");
    f.calls(P, 1, fail(ErrorKind::ServerError));
    assert_eq!(f.state(P), CircuitState::Open, "10 of 20 in the window");
}

#[test]
fn a_slow_call_rate_at_the_threshold_opens() {
    let f = default();
    f.calls(P, 4, ok(ms(500)));
    f.calls(P, 15, ok(secs(61)));
    assert_eq!(f.state(P), CircuitState::Closed);
    f.calls(P, 1, ok(secs(60)));
    assert_eq!(f.state(P), CircuitState::Open, "16 slow of 20 = 0.8");
}

#[test]
fn open_refuses_until_the_cool_down_ends_then_admits_a_probe() {
    let f = opened();
    f.advance(secs(30) - ms(1));
    assert_eq!(
        f.tracker.try_acquire(P).unwrap_err(),
        Rejected::Open {
            retry_after: Some(ms(1))
        }
    );
    f.advance(ms(1));
    let permit = f.tracker.try_acquire(P).expect("cool-down over");
    assert!(permit.is_probe());
    assert_eq!(f.state(P), CircuitState::HalfOpen);
}

#[test]
fn tick_moves_an_open_circuit_to_half_open_without_traffic() {
    let f = opened();
    f.advance(secs(30));
    assert_eq!(f.state(P), CircuitState::Open);
    f.tracker.tick();
    assert_eq!(f.state(P), CircuitState::HalfOpen);
}

#[test]
fn half_open_admits_exactly_the_probe_budget() {
    let f = opened();
    f.advance(secs(30));
    let permits: Vec<_> = (0..3).map(|_| f.tracker.try_acquire(P).unwrap()).collect();
    assert!(permits.iter().all(|p| p.is_probe()));
    assert_eq!(f.tracker.try_acquire(P).unwrap_err(), Rejected::ProbesBusy);
}

#[test]
fn enough_successful_probes_close_the_circuit() {
    let f = opened();
    f.advance(secs(30));
    for i in 0..2 {
        assert_eq!(f.call(P, ok(ms(700))), Ok(true), "probe {i}");
        assert_eq!(f.state(P), CircuitState::HalfOpen);
    }
    assert_eq!(f.call(P, ok(ms(700))), Ok(true));
    assert_eq!(f.state(P), CircuitState::Closed);
    assert_eq!(
        f.call(P, ok(ms(700))),
        Ok(false),
        "closed: no longer a probe"
    );
}

#[test]
fn one_failed_probe_reopens_with_a_doubled_cool_down() {
    let f = opened();
    f.advance(secs(30));
    assert_eq!(f.call(P, ok(ms(700))), Ok(true));
    assert_eq!(f.call(P, timeout()), Ok(true));
    assert_eq!(f.state(P), CircuitState::Open);
    assert_eq!(
        f.tracker.try_acquire(P).unwrap_err().retry_after(),
        Some(secs(60))
    );
}

#[test]
fn the_cool_down_doubles_on_each_trip_and_caps() {
    let f = opened();
    let mut seen = vec![retry_after(&f).unwrap()];
    for _ in 0..6 {
        f.advance(*seen.last().unwrap());
        assert_eq!(f.call(P, timeout()), Ok(true));
        seen.push(f.tracker.try_acquire(P).unwrap_err().retry_after().unwrap());
    }
    assert_eq!(seen, [30, 60, 120, 240, 300, 300, 300].map(secs));
}

/// The refusal's time to retry, as a caller learns it.
fn retry_after(f: &Fixture) -> Option<Duration> {
    f.tracker.try_acquire(P).unwrap_err().retry_after()
}

fn recovered(f: &Fixture) {
    let cool_down = retry_after(f).unwrap();
    f.advance(cool_down);
    f.calls(P, 3, ok(ms(500)));
    assert_eq!(f.state(P), CircuitState::Closed);
}

#[test]
fn trips_are_forgotten_after_staying_closed_for_the_reset_time() {
    let f = opened();
    recovered(&f);
    f.advance(secs(600));
    f.calls(P, 5, timeout());
    assert_eq!(retry_after(&f), Some(secs(30)));
}

#[test]
fn trips_are_remembered_when_the_circuit_reopens_soon() {
    let f = opened();
    recovered(&f);
    f.advance(secs(599));
    f.calls(P, 5, timeout());
    assert_eq!(retry_after(&f), Some(secs(60)));
}

#[test]
fn a_probe_permit_dropped_without_an_outcome_frees_its_slot() {
    let f = opened();
    f.advance(secs(30));
    let held: Vec<_> = (0..3).map(|_| f.tracker.try_acquire(P).unwrap()).collect();
    assert_eq!(f.tracker.try_acquire(P).unwrap_err(), Rejected::ProbesBusy);
    drop(held);
    f.calls(P, 3, ok(ms(500)));
    assert_eq!(f.state(P), CircuitState::Closed);
}

#[test]
fn a_probe_from_an_earlier_half_open_period_cannot_touch_a_later_one() {
    let f = opened();
    f.advance(secs(30));
    let stale = f.tracker.try_acquire(P).unwrap();
    assert_eq!(f.call(P, timeout()), Ok(true), "reopens");
    f.advance(secs(60));
    let current: Vec<_> = (0..3).map(|_| f.tracker.try_acquire(P).unwrap()).collect();
    drop(stale);
    assert_eq!(
        f.tracker.try_acquire(P).unwrap_err(),
        Rejected::ProbesBusy,
        "the stale permit freed no slot of this period"
    );
    drop(current);
}

#[test]
fn a_call_admitted_before_the_circuit_opened_does_not_affect_it() {
    let f = default();
    let early = f.tracker.try_acquire(P).unwrap();
    f.calls(P, 5, timeout());
    early.finish(&inference(ok(ms(300))));
    assert_eq!(f.state(P), CircuitState::Open);
    f.advance(secs(30));
    let probe = f.tracker.try_acquire(P).unwrap();
    assert!(probe.is_probe());
    drop(probe);
}

#[test]
fn forced_open_stays_open_past_any_cool_down_until_forced_closed() {
    let f = default();
    f.tracker.force_open(P).unwrap();
    f.advance(secs(3600));
    f.tracker.tick();
    assert_eq!(
        f.tracker.try_acquire(P).unwrap_err(),
        Rejected::Open { retry_after: None }
    );
    f.tracker.force_close(P).unwrap();
    assert_eq!(f.call(P, ok(ms(100))), Ok(false));
}

#[test]
fn force_close_forgets_the_trips() {
    let f = opened();
    f.tracker.force_close(P).unwrap();
    f.calls(P, 5, timeout());
    assert_eq!(retry_after(&f), Some(secs(30)));
}

#[test]
fn reset_forgets_the_circuit_and_the_window() {
    let f = opened();
    f.advance(secs(5));
    f.tracker.reset(P).unwrap();
    assert_eq!(f.state(P), CircuitState::Closed);
    f.calls(P, 9, ok(ms(100)));
    let health = f.tick(P);
    assert_eq!(
        (health.status, health.score),
        (HealthStatus::Unknown, None),
        "old failures are gone: 9 calls are too few to judge"
    );
    f.calls(P, 5, timeout());
    assert_eq!(retry_after(&f), Some(secs(30)), "the trips are gone");
}

#[test]
fn admin_operations_on_an_unknown_provider_say_so() {
    let f = default();
    let err = f.tracker.force_open("nobody").unwrap_err();
    assert!(err.to_string().contains("register it"), "{err}");
    assert_eq!(
        f.tracker.try_acquire("nobody").unwrap_err(),
        Rejected::Unregistered
    );
}

#[test]
fn a_smaller_probe_budget_closes_with_fewer_successes() {
    let mut config = HealthConfig::default();
    config.circuit = CircuitConfig::default();
    config.circuit.half_open_probes = 1;
    config.circuit.half_open_successes = 1;
    let f = fixture(config, &[P]);
    f.calls(P, 5, timeout());
    f.advance(secs(30));
    let probe = f.tracker.try_acquire(P).unwrap();
    assert_eq!(f.tracker.try_acquire(P).unwrap_err(), Rejected::ProbesBusy);
    probe.finish(&inference(ok(Duration::from_millis(10))));
    assert_eq!(f.state(P), CircuitState::Closed);
}
