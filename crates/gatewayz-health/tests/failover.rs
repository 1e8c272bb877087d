//! The failover order and the failover table.

mod support;

use std::time::Duration;

use gatewayz_health::{Decision, ErrorKind, HealthConfig, should_fail_over};
use support::{Fixture, fixture, ms, ok, secs, timeout};

/// Providers whose calls take 1 s, 9 s, 16 s and 23 s: latency scores 1, 0.75, 0.5 and 0.25,
/// scores 1.0, 0.925, 0.85 and 0.775.
fn ranked() -> Fixture {
    ranked_with(HealthConfig::default())
}

fn ranked_with(config: HealthConfig) -> Fixture {
    let f = fixture(config, &["a", "b", "c", "d"]);
    for (provider, latency) in [("a", 1), ("b", 9), ("c", 16), ("d", 23)] {
        f.calls(provider, 20, ok(secs(latency)));
    }
    f.advance(secs(1));
    f.tracker.tick();
    f
}

#[test]
fn candidates_are_ordered_by_score() {
    let f = ranked();
    assert_eq!(
        f.tracker.failover_order(&["d", "b", "a", "c"]),
        ["a", "b", "c", "d"]
    );
}

#[test]
fn equal_scores_keep_the_callers_order() {
    let f = fixture(HealthConfig::default(), &["x", "y", "z"]);
    for p in ["x", "y", "z"] {
        f.calls(p, 20, ok(ms(500)));
    }
    f.tracker.tick();
    assert_eq!(f.tracker.failover_order(&["y", "z", "x"]), ["y", "z", "x"]);
    assert_eq!(f.tracker.failover_order(&["z", "x", "y"]), ["z", "x", "y"]);
}

#[test]
fn unknown_providers_rank_at_the_unknown_score() {
    let mut config = HealthConfig::default();
    config.failover.unknown_score = 0.9;
    let f = ranked_with(config);
    f.tracker.register("new", Default::default()).unwrap();
    assert_eq!(
        f.tracker.failover_order(&["new", "a", "b", "c", "d"]),
        ["a", "b", "new", "c", "d"],
        "0.9 sits between b (0.925) and c (0.85)"
    );
}

#[test]
fn open_circuits_are_skipped() {
    let f = ranked();
    f.calls("a", 5, timeout());
    assert_eq!(f.tracker.failover_order(&["a", "b", "c"]), ["b", "c"]);
}

#[test]
fn half_open_circuits_go_first_while_they_have_probe_slots() {
    let f = ranked();
    f.calls("c", 5, timeout());
    f.advance(secs(30));
    assert_eq!(
        f.tracker.failover_order(&["a", "b", "c"]),
        ["c", "a", "b"],
        "cool-down over"
    );
    let probes: Vec<_> = (0..3)
        .map(|_| f.tracker.try_acquire("c").unwrap())
        .collect();
    assert_eq!(
        f.tracker.failover_order(&["a", "b", "c"]),
        ["a", "b"],
        "budget spent"
    );
    drop(probes);
    assert_eq!(f.tracker.failover_order(&["a", "b", "c"]), ["c", "a", "b"]);
}

#[test]
fn half_open_circuits_rank_by_score_without_probe_first() {
    let mut config = HealthConfig::default();
    config.failover.probe_first = false;
    let f = fixture(config, &["a", "b"]);
    f.calls("a", 20, ok(ms(500)));
    f.calls("b", 20, ok(ms(500)));
    f.calls("b", 5, timeout());
    f.advance(secs(30));
    f.tracker.tick();
    // b: 20 good calls and 5 timeouts: availability 0.8, error rate 0.2.
    assert_eq!(f.tracker.failover_order(&["b", "a"]), ["a", "b"]);
}

#[test]
fn when_every_circuit_is_open_the_earliest_cool_down_is_returned() {
    let f = ranked();
    f.calls("a", 5, timeout());
    f.advance(secs(10));
    f.calls("b", 5, timeout());
    f.advance(secs(10));
    f.calls("c", 5, timeout());
    f.tracker.force_open("d").unwrap();
    assert_eq!(f.tracker.failover_order(&["d", "c", "b", "a"]), ["a"]);
    // a's second trip (60 s) now ends after b's first (30 s).
    f.advance(secs(10));
    assert_eq!(
        f.tracker.failover_order(&["a", "b"]),
        ["a"],
        "a's cool-down is over: probe"
    );
    f.call("a", timeout()).unwrap();
    assert_eq!(f.tracker.failover_order(&["a", "b", "c", "d"]), ["b"]);
}

#[test]
fn a_half_open_circuit_out_of_slots_beats_open_ones_when_nothing_is_admissible() {
    let f = ranked();
    f.calls("b", 5, timeout());
    f.advance(secs(10));
    f.calls("a", 5, timeout());
    f.advance(secs(20));
    let probes: Vec<_> = (0..3)
        .map(|_| f.tracker.try_acquire("b").unwrap())
        .collect();
    // a's cool-down ends in 10 s; b's probes are all out, so it counts as ready now.
    assert_eq!(f.tracker.failover_order(&["a", "b"]), ["b"]);
    drop(probes);
}

#[test]
fn only_forced_open_candidates_still_give_one() {
    let f = ranked();
    f.tracker.force_open("b").unwrap();
    f.tracker.force_open("a").unwrap();
    assert_eq!(f.tracker.failover_order(&["b", "a"]), ["b"]);
}

#[test]
fn unregistered_candidates_are_left_out() {
    let f = ranked();
    assert_eq!(f.tracker.failover_order(&["nobody", "b", "a"]), ["a", "b"]);
    assert!(f.tracker.failover_order(&["nobody"]).is_empty());
    assert!(f.tracker.failover_order(&[]).is_empty());
}

#[test]
fn the_failover_table() {
    use Decision::*;
    use ErrorKind::*;
    let table: Vec<(ErrorKind, Decision)> = ErrorKind::ALL
        .iter()
        .map(|&k| (k, should_fail_over(k)))
        .collect();
    assert_eq!(
        table,
        [
            (Timeout, FailOver),
            (Connection, FailOver),
            (ServerError, FailOver),
            (RateLimited, FailOverKeepRetryAfter),
            (Unauthorized, FailOver),
            (PaymentRequired, FailOver),
            (NotFound, FailOver),
            (BadRequest, Stop),
        ]
    );
    assert!(!Stop.fails_over() && FailOverKeepRetryAfter.fails_over());
}

#[test]
fn scores_used_for_ordering_change_only_on_tick() {
    let f = ranked();
    f.calls("a", 100, ok(Duration::from_secs(29)));
    assert_eq!(f.tracker.failover_order(&["b", "a"]), ["a", "b"]);
    f.tracker.tick();
    assert_eq!(f.tracker.failover_order(&["b", "a"]), ["b", "a"]);
}
