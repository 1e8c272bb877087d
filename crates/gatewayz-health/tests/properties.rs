//! Invariants over arbitrary traffic, read from what the tracker publishes: scores stay in
//! [0, 1], weights are respected, the score agrees with the status, a provider failing every
//! call is never available, a provider with only fast successes is healthy, the probe budget
//! holds, the failover order is sound.

mod support;

use std::time::Duration;

use gatewayz_health::{
    CallOutcome, CircuitState, ErrorKind, HealthConfig, HealthStatus, Offer, Permit, Price,
    RouteRequest, RoutingPolicy,
};
use proptest::prelude::*;
use support::{Fixture, fixture, inference};

const P: &str = "openrouter";

#[derive(Debug, Clone)]
enum Op {
    /// A call through the admission check, ending as given.
    Call(Option<ErrorKind>, u64),
    Probe(bool),
    Advance(u64),
    Tick,
}

fn kind() -> impl Strategy<Value = Option<ErrorKind>> {
    prop_oneof![
        3 => Just(None),
        1 => proptest::sample::select(ErrorKind::ALL).prop_map(Some),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (kind(), 0..120_000u64).prop_map(|(k, ms)| Op::Call(k, ms)),
        1 => any::<bool>().prop_map(Op::Probe),
        2 => (0..90_000u64).prop_map(Op::Advance),
        1 => Just(Op::Tick),
    ]
}

/// Weights in [0, 1] that sum to 1.
fn weights() -> impl Strategy<Value = (f64, f64, f64)> {
    (0.0..=1.0f64, 0.0..=1.0f64).prop_map(|(a, b)| {
        let b = b * (1.0 - a);
        (a, b, 1.0 - a - b)
    })
}

fn outcome(kind: Option<ErrorKind>, ms: u64) -> CallOutcome {
    let duration = Duration::from_millis(ms);
    kind.map_or(CallOutcome::success(duration), |k| {
        CallOutcome::failure(k, duration)
    })
}

fn play(f: &Fixture, ops: &[Op]) {
    for op in ops {
        match *op {
            Op::Call(kind, ms) => {
                if let Ok(permit) = f.tracker.try_acquire(P) {
                    permit.finish(&inference(outcome(kind, ms)));
                }
            }
            Op::Probe(reachable) => f.tracker.probed(P, reachable).unwrap(),
            Op::Advance(ms) => f.advance(Duration::from_millis(ms)),
            Op::Tick => {
                f.tracker.tick();
            }
        }
    }
    f.tracker.tick();
}

fn in_unit(value: Option<f64>) -> bool {
    value.is_none_or(|v| (0.0..=1.0).contains(&v))
}

proptest! {
    #[test]
    fn the_score_and_its_inputs_stay_in_zero_to_one(
        (wa, we, wl) in weights(),
        ops in proptest::collection::vec(op(), 0..300),
    ) {
        let mut config = HealthConfig::default();
        config.weights.availability = wa;
        config.weights.error_rate = we;
        config.weights.latency = wl;
        let f = fixture(config, &[P]);
        play(&f, &ops);
        let s = f.health(P);
        prop_assert!(in_unit(s.score), "{s:?}");
        prop_assert!(in_unit(s.availability) && in_unit(s.error_rate) && in_unit(s.latency_score), "{s:?}");
        prop_assert_eq!(s.score.is_none(), s.status == HealthStatus::Unknown);
    }

    #[test]
    fn the_score_is_the_weighted_sum_of_its_inputs(
        (wa, we, wl) in weights(),
        ops in proptest::collection::vec(op(), 10..300),
    ) {
        let mut config = HealthConfig::default();
        config.weights.availability = wa;
        config.weights.error_rate = we;
        config.weights.latency = wl;
        let f = fixture(config, &[P]);
        play(&f, &ops);
        let s = f.health(P);
        if s.circuit != CircuitState::Closed {
            prop_assert_eq!(s.score, Some(0.0), "{:?}", s);
        } else if let Some(score) = s.score {
            // Missing inputs (every request refused) count as their worst.
            let expected = wa * s.availability.unwrap()
                + we * (1.0 - s.error_rate.unwrap_or(1.0))
                + wl * s.latency_score.unwrap();
            prop_assert!((score - expected).abs() < 1e-9, "{score} != {expected}: {s:?}");
        }
    }

    #[test]
    fn only_fast_successes_make_a_healthy_provider(
        calls in proptest::collection::vec((0..=2_000u64, 0..1_000u64), 10..200),
    ) {
        let f = fixture(HealthConfig::default(), &[P]);
        for (latency, gap) in calls {
            f.call(P, CallOutcome::success(Duration::from_millis(latency))).unwrap();
            f.advance(Duration::from_millis(gap));
        }
        let s = f.tick(P);
        prop_assert_eq!(s.status, HealthStatus::Healthy);
        prop_assert_eq!(s.score, Some(1.0));
        prop_assert_eq!(s.circuit, CircuitState::Closed);
    }

    #[test]
    fn a_half_open_circuit_never_has_more_probes_out_than_its_budget(
        steps in proptest::collection::vec((0..4u8, kind(), 0..40_000u64), 1..400),
    ) {
        let f = fixture(HealthConfig::default(), &[P]);
        let budget = f.tracker.config().circuit.half_open_probes;
        let mut held: Vec<Permit> = Vec::new();
        for (action, kind, value) in steps {
            match action {
                0 => {
                    if let Ok(permit) = f.tracker.try_acquire(P) {
                        held.push(permit);
                    }
                }
                1 if !held.is_empty() => {
                    let permit = held.swap_remove(value as usize % held.len());
                    permit.finish(&inference(outcome(kind, value)));
                }
                2 if !held.is_empty() => {
                    drop(held.swap_remove(value as usize % held.len()));
                }
                _ => f.advance(Duration::from_millis(value)),
            }
            let probes = held.iter().filter(|p| p.is_probe()).count() as u32;
            prop_assert!(probes <= budget, "{probes} probes out");
        }
    }

    #[test]
    fn the_failover_order_is_a_sound_choice_of_candidates(
        states in proptest::collection::vec((0..4u8, 0..100u32), 1..8),
        unregistered in 0..3usize,
    ) {
        let names: Vec<String> = (0..states.len()).map(|i| format!("p{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let f = fixture(HealthConfig::default(), &refs);
        for (name, &(state, good)) in refs.iter().zip(&states) {
            f.calls(name, good as usize, CallOutcome::success(Duration::from_millis(500)));
            match state {
                0 => {}
                1 => f.calls(name, 5, CallOutcome::failure(ErrorKind::Timeout, Duration::from_secs(30))),
                2 => f.tracker.force_open(name).unwrap(),
                _ => {
                    f.calls(name, 5, CallOutcome::failure(ErrorKind::Timeout, Duration::from_secs(30)));
                    f.advance(Duration::from_secs(10));
                }
            }
        }
        f.tracker.tick();
        let mut candidates = refs.clone();
        candidates.extend(["ghost-a", "ghost-b", "ghost-c"].into_iter().take(unregistered));
        let order = f.tracker.failover_order(&candidates);
        prop_assert!(!order.is_empty());
        let mut seen = order.clone();
        seen.sort();
        seen.dedup();
        prop_assert_eq!(seen.len(), order.len(), "duplicates in {:?}", order);
        let open: Vec<&str> = refs
            .iter()
            .copied()
            .filter(|p| f.health(p).circuit == CircuitState::Open)
            .collect();
        prop_assert!(order.iter().all(|p| refs.contains(p)), "{order:?}");
        if open.len() < refs.len() {
            prop_assert!(order.iter().all(|p| !open.contains(p)), "{order:?} has open {open:?}");
        } else {
            prop_assert_eq!(order.len(), 1);
        }
    }

    #[test]
    fn the_score_agrees_with_the_status(ops in proptest::collection::vec(op(), 0..300)) {
        let f = fixture(HealthConfig::default(), &[P]);
        play(&f, &ops);
        let s = f.health(P);
        let (healthy, degraded, margin) = (0.8, 0.5, 0.05);
        // Falling is immediate, rising needs the margin: each status has its band, widened
        // upwards by the margin.
        match s.status {
            HealthStatus::Healthy => prop_assert!(s.score.unwrap() >= healthy, "{s:?}"),
            HealthStatus::Degraded => {
                let score = s.score.unwrap();
                prop_assert!((degraded..healthy + margin).contains(&score), "{s:?}");
            }
            HealthStatus::Unavailable => prop_assert!(s.score.unwrap() < degraded + margin, "{s:?}"),
            HealthStatus::Unknown => prop_assert_eq!(s.score, None, "{:?}", s),
        }
        if s.circuit != CircuitState::Closed {
            prop_assert_eq!(s.status, HealthStatus::Unavailable);
            prop_assert_eq!(s.score, Some(0.0), "an open circuit never scores in a band: {:?}", s);
        }
    }

    #[test]
    fn a_provider_failing_every_call_is_never_available(
        calls in proptest::collection::vec(
            (proptest::sample::select(&[
                ErrorKind::Timeout,
                ErrorKind::Connection,
                ErrorKind::ServerError,
                ErrorKind::RateLimited,
            ][..]), 0..60_000u64, 0..20_000u64),
            10..200,
        ),
    ) {
        let mut config = HealthConfig::default();
        // With the defaults the circuit opens after 5 failures; let the window see them all.
        config.circuit.consecutive_failures = 1_000_000;
        config.circuit.min_calls = 1_000_000;
        let f = fixture(config, &[P]);
        for (kind, ms, gap) in calls {
            f.calls(P, 1, outcome(Some(kind), ms));
            f.advance(Duration::from_millis(gap));
        }
        let s = f.tick(P);
        prop_assert!(s.availability.is_none_or(|a| a == 0.0), "{s:?}");
        prop_assert!(s.score.is_none_or(|score| score == 0.0), "{s:?}");
        prop_assert!(
            matches!(s.status, HealthStatus::Unavailable | HealthStatus::Unknown),
            "{s:?}"
        );
    }
}

/// A provider's state for the routing properties.
#[derive(Debug, Clone, Copy)]
enum State {
    Unknown,
    Healthy,
    Degraded,
    Open,
    HalfOpen,
}

fn state() -> impl Strategy<Value = State> {
    proptest::sample::select(
        &[
            State::Unknown,
            State::Healthy,
            State::Degraded,
            State::Open,
            State::HalfOpen,
        ][..],
    )
}

/// Providers `p0`, `p1`, ... in these states, with these latencies (ms) for their successes.
fn routed(
    states: &[(State, u64)],
    probe_first: bool,
    policy: RoutingPolicy,
    exploration: f64,
) -> (Fixture, Vec<String>) {
    let names: Vec<String> = (0..states.len()).map(|i| format!("p{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut config = HealthConfig::default();
    config.failover.probe_first = probe_first;
    config.routing.policy = policy;
    config.routing.exploration = exploration;
    let f = fixture(config, &refs);
    let timeout = CallOutcome::failure(ErrorKind::Timeout, Duration::from_secs(30));
    for (name, &(state, _)) in refs.iter().zip(states) {
        if let State::HalfOpen = state {
            f.calls(name, 5, timeout);
        }
    }
    f.advance(Duration::from_secs(31));
    for (name, &(state, latency)) in refs.iter().zip(states) {
        let good = CallOutcome::success(Duration::from_millis(latency));
        match state {
            State::Unknown => f.calls(name, 3, good),
            State::Healthy => f.calls(name, 20, good),
            State::Degraded => {
                for i in 0..20 {
                    let outcome = match i % 5 {
                        1 | 3 => CallOutcome::failure(
                            ErrorKind::ServerError,
                            Duration::from_millis(latency),
                        ),
                        _ => good,
                    };
                    f.calls(name, 1, outcome);
                }
            }
            State::Open => f.calls(name, 5, timeout),
            State::HalfOpen => {}
        }
    }
    f.tracker.tick();
    (f, names)
}

fn policy() -> impl Strategy<Value = RoutingPolicy> {
    proptest::sample::select(RoutingPolicy::ALL)
}

proptest! {
    #[test]
    fn an_unhealthy_provider_is_first_only_when_no_healthy_one_is_there(
        states in proptest::collection::vec((state(), 1..3_000u64), 1..7),
        prices in proptest::collection::vec((0.0..10.0f64, 0.0..30.0f64), 7),
        policy in policy(),
        exploration in 0.0..=1.0f64,
        probe_first in any::<bool>(),
        stream in any::<bool>(),
        seed in any::<u64>(),
    ) {
        fastrand::seed(seed);
        let (f, names) = routed(&states, probe_first, policy, exploration);
        let offers: Vec<Offer<'_>> = names
            .iter()
            .zip(&prices)
            .map(|(n, &(i, o))| Offer::new(n, Price::per_million(i, o)))
            .collect();
        let healthy: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| {
                let h = f.health(n);
                h.circuit == CircuitState::Closed
                    && matches!(h.status, HealthStatus::Healthy | HealthStatus::Unknown)
            })
            .collect();
        let probing = probe_first && states.iter().any(|(s, _)| matches!(s, State::HalfOpen));
        let request = RouteRequest { model: "m", stream, offers: &offers };
        for _ in 0..20 {
            let mut route = f.tracker.route_request(&request);
            let first = route.next().expect("a candidate");
            let is_probe = first.admission.as_ref().is_ok_and(|p| p.is_probe());
            let exempt = healthy.is_empty() || (probing && is_probe);
            if !exempt {
                prop_assert!(
                    healthy.contains(&first.provider),
                    "{policy}: {} first, healthy {healthy:?}, states {states:?}",
                    first.provider
                );
            }
        }
    }

    #[test]
    fn a_route_holds_every_admissible_candidate_once(
        states in proptest::collection::vec((state(), 1..3_000u64), 1..7),
        policy in policy(),
        exploration in 0.0..=1.0f64,
    ) {
        let (f, names) = routed(&states, true, policy, exploration);
        let offers: Vec<Offer<'_>> = names
            .iter()
            .map(|n| Offer::new(n, Price::per_million(1.0, 1.0)))
            .collect();
        let request = RouteRequest { model: "m", stream: false, offers: &offers };
        let mut routed: Vec<&str> = f.tracker.route_request(&request).map(|c| c.provider).collect();
        let mut order = f.tracker.failover_order(&names.iter().map(String::as_str).collect::<Vec<_>>());
        routed.sort_unstable();
        order.sort_unstable();
        prop_assert_eq!(routed, order);
    }

    #[test]
    fn cheapest_without_exploration_picks_the_lowest_expected_price(
        states in proptest::collection::vec((state(), 1..3_000u64), 1..7),
        prices in proptest::collection::vec((0.0..10.0f64, 0.0..30.0f64), 7),
    ) {
        let (f, names) = routed(&states, false, RoutingPolicy::Cheapest, 0.0);
        let offers: Vec<Offer<'_>> = names
            .iter()
            .zip(&prices)
            .map(|(n, &(i, o))| Offer::new(n, Price::per_million(i, o)))
            .collect();
        // No call reported tokens: the model's ratio is 1.
        let expected = |o: &Offer<'_>| {
            let p = o.price.unwrap();
            p.input_per_million + p.output_per_million
        };
        let eligible: Vec<&Offer<'_>> = offers
            .iter()
            .filter(|o| {
                let h = f.health(o.provider);
                h.circuit == CircuitState::Closed
                    && matches!(h.status, HealthStatus::Healthy | HealthStatus::Unknown)
            })
            .collect();
        let request = RouteRequest { model: "m", stream: false, offers: &offers };
        let first = f.tracker.route_request(&request).next().expect("a candidate").provider;
        if let Some(least) = eligible.iter().map(|o| expected(o)).min_by(f64::total_cmp) {
            let chosen = offers.iter().find(|o| o.provider == first).unwrap();
            prop_assert_eq!(expected(chosen), least, "{} chosen", first);
        }
    }
}

proptest! {
    /// Probation's invariant: a provider its last calls keep out (degraded or unavailable with
    /// its circuit closed) is first, while another candidate is eligible, only on its trials:
    /// at most one route in `1 / exploration`, whatever the policy, and never without
    /// exploration.
    #[test]
    fn a_provider_kept_out_by_its_last_calls_is_first_only_on_its_trials(
        history in 0..120usize,
        last in proptest::collection::vec(any::<bool>(), 0..40),
        probes in any::<bool>(),
        policy in policy(),
        exploration in prop_oneof![Just(0.0), 0.0..=1.0f64],
        routes in 1..120usize,
        seed in any::<u64>(),
    ) {
        fastrand::seed(seed);
        let mut config = HealthConfig::default();
        config.routing.policy = policy;
        config.routing.exploration = exploration;
        let f = fixture(config, &["p0", "p1", "p2"]);
        let good = CallOutcome::success(Duration::from_millis(400));
        f.calls("p1", 20, good);
        f.calls("p2", 20, good);
        f.calls("p0", history, good);
        for failed in last {
            let outcome = if failed {
                CallOutcome::failure(ErrorKind::ServerError, Duration::from_millis(400))
            } else {
                good
            };
            // Refused once its circuit opens.
            let _ = f.call("p0", outcome);
        }
        if probes {
            // A cool-down later, three good probes close a circuit that opened.
            f.advance(Duration::from_secs(31));
            for _ in 0..3 {
                let _ = f.call("p0", good);
            }
        }
        f.tracker.tick();
        let p0 = f.health("p0");
        let offers: Vec<Offer<'_>> = ["p0", "p1", "p2"]
            .into_iter()
            .map(|n| Offer::new(n, Price::per_million(1.0, 1.0)))
            .collect();
        let request = RouteRequest { model: "m", stream: false, offers: &offers };
        let first = (0..routes)
            .filter(|_| {
                let candidate = f.tracker.route_request(&request).next().expect("a candidate");
                candidate.provider == "p0"
                    && !candidate.admission.as_ref().is_ok_and(|p| p.is_probe())
            })
            .count();
        let kept_out = p0.circuit == CircuitState::Closed
            && matches!(p0.status, HealthStatus::Degraded | HealthStatus::Unavailable);
        if kept_out {
            let trials = if exploration > 0.0 {
                routes.div_ceil((1.0 / exploration).round() as usize)
            } else {
                0
            };
            prop_assert!(first <= trials, "{policy}: p0 first {first} of {routes}, {trials} trials: {p0:?}");
        }
    }
}
