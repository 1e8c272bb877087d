//! The routing policies through the public API: prices with the learnt token ratio, latency
//! (time to first token for streams), the weighted blend, ties, the exploration share, per-model
//! policies, unhealthy providers only failed over to, and what is published (decisions, the
//! reference cost).

mod support;

use std::{collections::BTreeMap, time::Duration};

use gatewayz_health::{
    ErrorKind, HealthConfig, HealthStatus, Inference, Offer, Outcome, Price, RouteRequest,
    RoutingPolicy,
};
use support::{Fixture, fixture, ms, ok, secs, timeout};

const MODEL: &str = "m";

fn config(policy: RoutingPolicy, exploration: f64) -> HealthConfig {
    let mut config = HealthConfig::default();
    config.routing.policy = policy;
    config.routing.exploration = exploration;
    config
}

fn offers<'a>(prices: &[(&'a str, f64, f64)]) -> Vec<Offer<'a>> {
    prices
        .iter()
        .map(|&(p, input, output)| Offer::new(p, Price::per_million(input, output)))
        .collect()
}

/// The first candidate of a route for `MODEL` over `offers`.
fn first<'a>(f: &Fixture, offers: &[Offer<'a>], stream: bool) -> &'a str {
    let request = RouteRequest {
        model: MODEL,
        stream,
        offers,
    };
    f.tracker.route_request(&request).next().unwrap().provider
}

/// The whole route's order, without calling anyone (refusals aside, nothing is recorded).
fn order<'a>(f: &Fixture, offers: &[Offer<'a>]) -> Vec<&'a str> {
    let request = RouteRequest {
        model: MODEL,
        stream: false,
        offers,
    };
    f.tracker
        .route_request(&request)
        .map(|c| c.provider)
        .collect()
}

/// A successful call of `MODEL` to `provider` with these tokens and latencies.
fn served(
    f: &Fixture,
    provider: &str,
    tokens: (u64, u64),
    duration: Duration,
    ttft: Option<Duration>,
) {
    f.tracker.try_acquire(provider).unwrap().finish(&Inference {
        model: MODEL,
        outcome: Outcome::Success,
        duration,
        time_to_first_token: ttft,
        input_tokens: tokens.0,
        output_tokens: tokens.1,
        ..Inference::default()
    });
}

/// How often each provider comes first in `n` routes.
fn shares<'a>(f: &Fixture, offers: &[Offer<'a>], n: usize) -> BTreeMap<&'a str, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        *seen.entry(first(f, offers, false)).or_default() += 1;
    }
    seen
}

#[test]
fn cheapest_weighs_input_and_output_prices_by_the_models_learnt_token_ratio() {
    let f = fixture(
        config(RoutingPolicy::Cheapest, 0.0),
        &["dear-out", "dear-in"],
    );
    let offers = offers(&[("dear-out", 1.0, 10.0), ("dear-in", 5.0, 5.0)]);
    // Before any call the ratio is 1: 11 against 10.
    assert_eq!(first(&f, &offers, false), "dear-in");
    // Short answers to long prompts (0.1 output per input token): 2 against 5.5.
    for _ in 0..20 {
        served(&f, "dear-in", (1000, 100), ms(300), None);
    }
    assert_eq!(first(&f, &offers, false), "dear-out");
    // Long answers (3 per input token): 31 against 20. The ratio follows recent calls.
    for _ in 0..400 {
        served(&f, "dear-out", (100, 300), ms(300), None);
    }
    assert_eq!(first(&f, &offers, false), "dear-in");
}

#[test]
fn cheapest_breaks_price_ties_by_score_then_by_the_callers_order() {
    let f = fixture(config(RoutingPolicy::Cheapest, 0.0), &["a", "b", "c"]);
    let same = offers(&[("a", 1.0, 1.0), ("b", 1.0, 1.0), ("c", 2.0, 2.0)]);
    assert_eq!(first(&f, &same, false), "a");
    let reversed = offers(&[("b", 1.0, 1.0), ("a", 1.0, 1.0), ("c", 2.0, 2.0)]);
    assert_eq!(first(&f, &reversed, false), "b");
    // b scores higher than a (a's p95 of 10 s lowers its latency score): b first either way.
    f.calls("a", 20, ok(secs(10)));
    f.calls("b", 20, ok(ms(200)));
    f.calls("c", 20, ok(ms(200)));
    f.tracker.tick();
    assert_eq!(f.health("a").status, HealthStatus::Healthy);
    assert_eq!(first(&f, &same, false), "b");
}

#[test]
fn cheapest_explores_the_configured_share_of_requests() {
    // Seeded: the draws are fastrand's, per thread.
    fastrand::seed(16);
    let f = fixture(
        config(RoutingPolicy::Cheapest, 0.1),
        &["cheap", "mid", "dear"],
    );
    let offers = offers(&[("dear", 3.0, 3.0), ("mid", 2.0, 2.0), ("cheap", 1.0, 1.0)]);
    let n = 20_000;
    let seen = shares(&f, &offers, n);
    // 90% by price, 10% drawn among the three: cheap 93.3%, the others 3.3% each. Bounds at
    // five standard deviations of a binomial.
    let expect = |share: f64, got: usize| {
        let sd = (n as f64 * share * (1.0 - share)).sqrt();
        let mean = n as f64 * share;
        assert!(
            (got as f64 - mean).abs() < 5.0 * sd,
            "{got} of {n}, expected {mean:.0} ± {:.0}: {seen:?}",
            5.0 * sd
        );
    };
    expect(0.9 + 0.1 / 3.0, seen["cheap"]);
    expect(0.1 / 3.0, seen["mid"]);
    expect(0.1 / 3.0, seen["dear"]);
    // No exploration: never anyone but the cheapest.
    let f = fixture(
        config(RoutingPolicy::Cheapest, 0.0),
        &["cheap", "mid", "dear"],
    );
    assert_eq!(
        shares(&f, &offers, 2_000).keys().collect::<Vec<_>>(),
        [&"cheap"]
    );
}

#[test]
fn fastest_compares_time_to_first_token_for_streams_and_duration_otherwise() {
    let f = fixture(
        config(RoutingPolicy::Fastest, 0.0),
        &["quick-start", "quick-end"],
    );
    let offers = offers(&[("quick-start", 1.0, 1.0), ("quick-end", 1.0, 1.0)]);
    for _ in 0..20 {
        // Streams: quick-start's first token comes sooner, though its long answers end later.
        served(&f, "quick-start", (10, 10), secs(9), Some(ms(100)));
        served(&f, "quick-end", (10, 10), secs(2), Some(ms(900)));
        // Plain calls: quick-end answers sooner. The streams' durations do not count here.
        served(&f, "quick-start", (10, 10), ms(800), None);
        served(&f, "quick-end", (10, 10), ms(300), None);
    }
    f.tracker.tick();
    for _ in 0..50 {
        assert_eq!(first(&f, &offers, true), "quick-start");
        assert_eq!(first(&f, &offers, false), "quick-end");
    }
}

#[test]
fn fastest_spreads_while_no_latency_is_known_and_explores_the_unmeasured() {
    fastrand::seed(3);
    let f = fixture(config(RoutingPolicy::Fastest, 0.05), &["a", "b"]);
    let offers = offers(&[("a", 1.0, 1.0), ("b", 1.0, 1.0)]);
    let seen = shares(&f, &offers, 2_000);
    assert!(
        seen.values().all(|&n| (800..=1_200).contains(&n)),
        "{seen:?}"
    );
    // Once a's latency is known and b's is not, a is the pick and b gets the exploration.
    f.calls("a", 20, ok(ms(300)));
    f.tracker.tick();
    let seen = shares(&f, &offers, 4_000);
    assert!((50..=150).contains(&seen["b"]), "{seen:?}");
}

#[test]
fn weighted_blends_health_price_and_latency_with_the_configured_weights() {
    let mut cfg = config(RoutingPolicy::Weighted, 0.0);
    let f = fixture(cfg.clone(), &["cheap-slow", "dear-fast"]);
    let offers = offers(&[("cheap-slow", 1.0, 1.0), ("dear-fast", 2.0, 2.0)]);
    for _ in 0..20 {
        served(&f, "cheap-slow", (10, 10), ms(1600), None);
        served(&f, "dear-fast", (10, 10), ms(400), None);
    }
    f.tracker.tick();
    // Both healthy, score 1. cheap-slow: 0.2 + 0.4 × 1 + 0.4 × 0.25 = 0.7; dear-fast:
    // 0.2 + 0.4 × 0.5 + 0.4 × 1 = 0.8.
    assert_eq!(first(&f, &offers, false), "dear-fast");
    cfg.routing.weights.health = 0.0;
    cfg.routing.weights.price = 0.7;
    cfg.routing.weights.latency = 0.3;
    let f2 = fixture(cfg, &["cheap-slow", "dear-fast"]);
    for _ in 0..20 {
        served(&f2, "cheap-slow", (10, 10), ms(1600), None);
        served(&f2, "dear-fast", (10, 10), ms(400), None);
    }
    f2.tracker.tick();
    // 0.7 + 0.3 × 0.25 = 0.775 against 0.35 + 0.3 = 0.65.
    assert_eq!(first(&f2, &offers, false), "cheap-slow");
}

#[test]
fn a_model_can_have_its_own_policy() {
    let mut cfg = config(RoutingPolicy::Priority, 0.0);
    cfg.routing
        .models
        .insert(MODEL.into(), RoutingPolicy::Cheapest);
    let f = fixture(cfg, &["dear", "cheap"]);
    let offers = offers(&[("dear", 2.0, 2.0), ("cheap", 1.0, 1.0)]);
    assert_eq!(first(&f, &offers, false), "cheap");
    let other = RouteRequest {
        model: "another-model",
        stream: false,
        offers: &offers,
    };
    assert_eq!(
        f.tracker.route_request(&other).next().unwrap().provider,
        "dear"
    );
}

#[test]
fn without_prices_cheapest_spreads() {
    let f = fixture(config(RoutingPolicy::Cheapest, 0.0), &["a", "b"]);
    let mut seen = BTreeMap::new();
    for _ in 0..2_000 {
        let provider = f.tracker.route(&["a", "b"]).next().unwrap().provider;
        *seen.entry(provider).or_insert(0) += 1;
    }
    assert!(
        seen.values().all(|&n| (800..=1_200).contains(&n)),
        "{seen:?}"
    );
}

#[test]
fn degraded_and_open_providers_are_only_failed_over_to() {
    for policy in RoutingPolicy::ALL.iter().copied() {
        let f = fixture(config(policy, 0.2), &["degraded", "open", "dear"]);
        // The degraded one is the cheapest and the fastest; the open one too.
        // 8 failures in 20 calls, never two in a row: degraded, circuit closed.
        for i in 0..20 {
            let outcome = match i % 5 {
                1 | 3 => support::fail(ErrorKind::ServerError),
                _ => ok(ms(50)),
            };
            f.calls("degraded", 1, outcome);
        }
        f.calls("open", 5, timeout());
        f.calls("dear", 20, ok(ms(800)));
        f.tracker.tick();
        assert_eq!(
            f.health("degraded").status,
            HealthStatus::Degraded,
            "{policy}"
        );
        let offers = offers(&[
            ("degraded", 0.1, 0.1),
            ("open", 0.1, 0.1),
            ("dear", 5.0, 5.0),
        ]);
        for _ in 0..300 {
            // The open circuit is left out; the degraded one follows, for failover.
            assert_eq!(order(&f, &offers), ["dear", "degraded"], "{policy}");
        }
    }
}

#[test]
fn the_rest_of_a_route_keeps_the_failover_order() {
    let f = fixture(config(RoutingPolicy::Cheapest, 0.0), &["a", "b", "c", "d"]);
    // Scores: a 1.0, b lower (slow), c 1.0, d unknown (0.75).
    f.calls("a", 20, ok(ms(300)));
    f.calls("b", 20, ok(secs(12)));
    f.calls("c", 20, ok(ms(300)));
    f.tracker.tick();
    let offers = offers(&[
        ("a", 3.0, 3.0),
        ("b", 2.0, 2.0),
        ("c", 4.0, 4.0),
        ("d", 1.0, 1.0),
    ]);
    // d is the cheapest (unknown counts as healthy); then a and c (score 1, caller's order),
    // then b.
    assert_eq!(order(&f, &offers), ["d", "a", "c", "b"]);
}

#[test]
fn decisions_are_published_by_policy_and_first_provider() {
    let mut cfg = config(RoutingPolicy::Cheapest, 0.0);
    cfg.routing
        .models
        .insert("fast-model".into(), RoutingPolicy::Fastest);
    let f = fixture(cfg, &["a", "b"]);
    let offers = offers(&[("a", 2.0, 2.0), ("b", 1.0, 1.0)]);
    for _ in 0..3 {
        let mut route = f.tracker.route_request(&RouteRequest {
            model: MODEL,
            stream: false,
            offers: &offers,
        });
        let first = route.next().unwrap();
        // Moving on is a failover, not another decision.
        drop(first);
        let _ = route.next().unwrap();
    }
    let fast = RouteRequest {
        model: "fast-model",
        stream: false,
        offers: &offers,
    };
    let _ = f.tracker.route_request(&fast).next().unwrap();
    // A route never walked decided nothing.
    let _unused = f.tracker.route_request(&fast);
    let e = f.exposition();
    let decided = |provider: &str, policy: &str| {
        e.value(
            "gatewayz_routing_decisions_total",
            &[("provider", provider), ("policy", policy)],
        )
    };
    assert_eq!(decided("b", "cheapest"), 3.0);
    assert_eq!(decided("a", "cheapest"), 0.0);
    assert_eq!(decided("a", "fastest") + decided("b", "fastest"), 1.0);
}

#[test]
fn the_reference_cost_is_the_calls_tokens_at_the_mean_price_of_the_healthy_candidates() {
    let f = fixture(
        config(RoutingPolicy::Cheapest, 0.0),
        &["cheap", "dear", "down"],
    );
    f.calls("down", 5, timeout());
    let offers = offers(&[("dear", 3.0, 6.0), ("cheap", 1.0, 2.0), ("down", 0.0, 0.0)]);
    let request = RouteRequest {
        model: MODEL,
        stream: false,
        offers: &offers,
    };
    let candidate = f.tracker.route_request(&request).next().unwrap();
    assert_eq!(candidate.provider, "cheap");
    let (input, output) = (1_000_000, 500_000);
    let cost = Price::per_million(1.0, 2.0).cost(input, output);
    candidate.admission.unwrap().finish(&Inference {
        model: MODEL,
        outcome: Outcome::Success,
        duration: ms(400),
        input_tokens: input,
        output_tokens: output,
        cost_usd: cost,
        ..Inference::default()
    });
    let e = f.exposition();
    let pair = [("provider", "cheap"), ("model", MODEL)];
    // The open circuit is not a candidate spread draws from: the mean of 3/6 and 1/2 is 2/4,
    // so 2 + 2 dollars against the 1 + 1 paid.
    assert_eq!(
        e.value("gatewayz_routing_reference_cost_usd_total", &pair),
        4.0
    );
    assert_eq!(e.value("gatewayz_cost_usd_total", &pair), 2.0);
    // A route without prices records no reference.
    let f = fixture(HealthConfig::default(), &["a"]);
    f.tracker
        .route(&["a"])
        .next()
        .unwrap()
        .admission
        .unwrap()
        .finish(&Inference {
            model: MODEL,
            outcome: Outcome::Success,
            duration: ms(400),
            input_tokens: 10,
            output_tokens: 10,
            cost_usd: 0.5,
            ..Inference::default()
        });
    assert!(
        f.exposition()
            .samples()
            .all(|s| s.name != "gatewayz_routing_reference_cost_usd_total"),
    );
}

#[test]
fn a_provider_too_little_called_to_judge_is_not_chosen_while_its_calls_fail() {
    let f = fixture(
        config(RoutingPolicy::Cheapest, 0.0),
        &["failing", "flaky", "dear"],
    );
    let server_error = || support::fail(ErrorKind::ServerError);
    // Six calls each, too few to judge (10): failing lost four (never five in a row, so its
    // circuit stays closed), flaky one.
    for outcome in [server_error(), server_error(), ok(ms(100))] {
        f.calls("failing", 2, outcome);
    }
    f.calls("flaky", 1, server_error());
    f.calls("flaky", 5, ok(ms(100)));
    f.calls("dear", 20, ok(ms(100)));
    f.tracker.tick();
    assert_eq!(f.health("failing").status, HealthStatus::Unknown);
    assert_eq!(f.health("flaky").status, HealthStatus::Unknown);
    let offers = offers(&[
        ("failing", 0.1, 0.1),
        ("flaky", 0.5, 0.5),
        ("dear", 5.0, 5.0),
    ]);
    // failing is the cheapest, but 4 failures in 6 is at least the circuit's failure rate.
    assert_eq!(first(&f, &offers, false), "flaky");
    // Once its failures leave the window, it is new again, and chosen.
    f.advance(secs(301));
    f.tracker.tick();
    assert_eq!(first(&f, &offers, false), "failing");
}
