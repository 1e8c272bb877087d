//! Routing a request: the spread over the healthy front, the priority policy, admission, and
//! failovers counted once, when the caller moves on.

mod support;

use std::collections::BTreeMap;

use gatewayz_health::{
    Candidate, ErrorKind, FailoverReason, HealthConfig, Rejected, RoutingPolicy,
};
use support::{Fixture, fail, fixture, inference, ms, ok, secs, timeout};

/// Walks a route as a gateway does: each admitted candidate ends as `outcome(provider)`; a
/// failure moves on unless the failover table says stop. Returns who served, if anyone.
fn serve<'a>(
    f: &Fixture,
    candidates: &[&'a str],
    outcome: impl Fn(&str) -> gatewayz_health::CallOutcome,
) -> Option<&'a str> {
    for Candidate {
        provider,
        admission,
    } in f.tracker.route(candidates)
    {
        let Ok(permit) = admission else { continue };
        let outcome = outcome(provider);
        permit.finish(&inference(outcome));
        match outcome.result {
            Ok(()) => return Some(provider),
            Err(kind) if !should_move_on(kind) => return None,
            Err(_) => {}
        }
    }
    None
}

fn should_move_on(kind: ErrorKind) -> bool {
    gatewayz_health::should_fail_over(kind).fails_over()
}

fn failovers(f: &Fixture, provider: &str) -> BTreeMap<String, u64> {
    f.exposition()
        .samples()
        .filter(|s| s.name == "gatewayz_failovers_total" && s.label("provider") == Some(provider))
        .filter(|s| s.value > 0.0)
        .map(|s| (s.label("reason").unwrap().to_owned(), s.value as u64))
        .collect()
}

#[test]
fn spread_sends_traffic_to_every_healthy_provider() {
    // Before: the failover order alone sent a model's whole traffic to its best provider, and
    // the others were never measured.
    let f = fixture(HealthConfig::default(), &["a", "b", "c"]);
    let mut served: BTreeMap<&str, u32> = BTreeMap::new();
    for _ in 0..3_000 {
        let provider = serve(&f, &["a", "b", "c"], |_| ok(ms(300))).unwrap();
        *served.entry(provider).or_default() += 1;
    }
    for provider in ["a", "b", "c"] {
        let n = served.get(provider).copied().unwrap_or(0);
        assert!((800..=1_200).contains(&n), "{served:?}");
    }
    assert_eq!(
        failovers(&f, "a").len() + failovers(&f, "b").len(),
        0,
        "nothing failed"
    );
}

#[test]
fn spread_leaves_degraded_providers_to_failover() {
    let f = fixture(HealthConfig::default(), &["fast", "slow"]);
    f.calls("fast", 20, ok(ms(300)));
    // p95 of 25 s: latency score 1 - 23/28, score 0.4 + 0.3 + 0.3 × 0.18 ≈ 0.75: degraded.
    f.calls("slow", 20, ok(secs(25)));
    f.tracker.tick();
    for _ in 0..200 {
        assert_eq!(serve(&f, &["slow", "fast"], |_| ok(ms(300))), Some("fast"));
    }
}

#[test]
fn the_priority_policy_keeps_the_best_score_first() {
    let mut config = HealthConfig::default();
    config.routing.policy = RoutingPolicy::Priority;
    let f = fixture(config, &["a", "b"]);
    for _ in 0..200 {
        assert_eq!(serve(&f, &["a", "b"], |_| ok(ms(300))), Some("a"));
    }
}

#[test]
fn moving_on_counts_one_failover_with_the_reason_of_the_failed_attempt() {
    let mut config = HealthConfig::default();
    config.routing.policy = RoutingPolicy::Priority;
    let f = fixture(config, &["a", "b", "c"]);
    let outcome = |p: &str| match p {
        "a" => fail(ErrorKind::ServerError),
        "b" => fail(ErrorKind::RateLimited),
        _ => ok(ms(300)),
    };
    assert_eq!(serve(&f, &["a", "b", "c"], outcome), Some("c"));
    assert_eq!(
        failovers(&f, "a"),
        BTreeMap::from([("server_error".into(), 1)])
    );
    assert_eq!(
        failovers(&f, "b"),
        BTreeMap::from([("rate_limited".into(), 1)])
    );
    assert!(failovers(&f, "c").is_empty());
    // Three attempts, each reported once on its permit.
    assert_eq!(
        [
            f.health("a").calls,
            f.health("b").calls,
            f.health("c").calls
        ],
        [1, 1, 1]
    );
}

#[test]
fn with_every_circuit_open_the_route_holds_one_refused_candidate_and_counts_no_failover() {
    // The route holds the one whose cool-down ends first, refused.
    let f = fixture(HealthConfig::default(), &["a", "b"]);
    f.calls("a", 5, timeout());
    f.calls("b", 5, timeout());
    let mut route = f.tracker.route(&["a", "b"]);
    let only = route.next().unwrap();
    assert!(matches!(only.admission, Err(Rejected::Open { .. })));
    assert!(route.next().is_none(), "nothing to move on to: no failover");
    let health = f.health(only.provider);
    assert_eq!(
        (health.calls, health.rejections, health.failovers),
        (5, 1, 0)
    );
}

#[test]
fn a_refusal_followed_by_another_candidate_is_a_circuit_open_failover() {
    let mut config = HealthConfig::default();
    config.routing.policy = RoutingPolicy::Priority;
    config.failover.probe_first = true;
    let f = fixture(config, &["a", "b"]);
    f.calls("a", 5, timeout());
    f.advance(secs(30));
    // a is half-open and ranked first; a concurrent request takes its probe slots between
    // our ordering and our admission.
    let mut route = f.tracker.route(&["a", "b"]);
    let probes: Vec<_> = (0..3)
        .map(|_| f.tracker.try_acquire("a").unwrap())
        .collect();
    let first = route.next().unwrap();
    assert_eq!(
        (first.provider, first.admission.unwrap_err()),
        ("a", Rejected::ProbesBusy)
    );
    let second = route.next().unwrap();
    assert_eq!(second.provider, "b");
    second.admission.unwrap().finish(&inference(ok(ms(300))));
    drop(probes);
    assert_eq!(
        failovers(&f, "a"),
        BTreeMap::from([(FailoverReason::CircuitOpen.as_str().into(), 1)])
    );
    assert_eq!(f.health("a").rejections, 1);
}

#[test]
fn a_request_that_stops_or_succeeds_counts_no_failover() {
    let f = fixture(HealthConfig::default(), &["a", "b"]);
    assert_eq!(
        serve(&f, &["a", "b"], |_| fail(ErrorKind::BadRequest)),
        None
    );
    assert!(serve(&f, &["a", "b"], |_| ok(ms(300))).is_some());
    assert!(failovers(&f, "a").is_empty() && failovers(&f, "b").is_empty());
    // The last candidate failing has nowhere to move on to.
    let f = fixture(HealthConfig::default(), &["only"]);
    assert_eq!(serve(&f, &["only"], |_| fail(ErrorKind::ServerError)), None);
    assert!(failovers(&f, "only").is_empty());
}

#[test]
fn unregistered_candidates_are_left_out() {
    let f = fixture(HealthConfig::default(), &["a"]);
    let providers: Vec<&str> = f
        .tracker
        .route(&["ghost", "a"])
        .map(|c| c.provider)
        .collect();
    assert_eq!(providers, ["a"]);
}
