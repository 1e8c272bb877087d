//! The shared-circuit contract, on a fleet of three trackers sharing one in-memory store and one
//! manual clock: what one replica's breaker decides the others follow, the fleet sends the
//! configured number of probes, admin actions act everywhere, and a store that goes away costs
//! no call and is rejoined with the stricter circuit winning.

mod support;

use gatewayz_health::{
    CircuitState, HealthConfig, ManualClock, MemoryCircuitStore, Rejected, SharedStatus,
};
use support::{Fixture, fixture, fixture_on, ok, secs, timeout};

const P: &str = "groq";

struct Fleet {
    store: MemoryCircuitStore,
    replicas: [Fixture; 3],
}

fn fleet() -> Fleet {
    let clock = ManualClock::new();
    let store = MemoryCircuitStore::new(clock.clone());
    let replica = || {
        fixture_on(
            HealthConfig::default(),
            &[P],
            clock.clone(),
            Some(store.replica()),
        )
    };
    Fleet {
        replicas: [replica(), replica(), replica()],
        store,
    }
}

impl Fleet {
    fn advance(&self, by: std::time::Duration) {
        self.replicas[0].advance(by);
    }
}

fn refused_open(f: &Fixture) -> Option<std::time::Duration> {
    match f.tracker.try_acquire(P) {
        Err(Rejected::Open { retry_after }) => retry_after,
        other => panic!("expected an open circuit, got {other:?}"),
    }
}

/// Opens the circuit on replica `a` with five timeouts.
fn trip(f: &Fixture) {
    f.calls(P, 5, timeout());
    assert_eq!(f.state(P), CircuitState::Open);
}

#[test]
fn a_circuit_opened_by_one_replica_refuses_calls_on_the_others_at_once() {
    let fleet = fleet();
    let [a, b, c] = &fleet.replicas;
    trip(a);
    fleet.advance(secs(10));
    // The others never saw a failure, and refuse with the cool-down left of a's circuit.
    assert_eq!(refused_open(b), Some(secs(20)));
    assert_eq!(refused_open(c), Some(secs(20)));
    assert_eq!(b.state(P), CircuitState::Open);
    assert_eq!(b.health(P).rejections, 1);
}

#[test]
fn the_fleet_sends_the_configured_number_of_probes_per_cool_down() {
    let fleet = fleet();
    let [a, b, c] = &fleet.replicas;
    trip(a);
    fleet.advance(secs(30));
    // Every replica asks many times while the probes are out: three permits in all.
    let mut permits = Vec::new();
    let mut holders = Vec::new();
    for _ in 0..4 {
        for (i, f) in [a, b, c].into_iter().enumerate() {
            match f.tracker.try_acquire(P) {
                Ok(permit) => {
                    assert!(permit.is_probe());
                    permits.push(permit);
                    holders.push(i);
                }
                Err(rejected) => assert_eq!(rejected, Rejected::ProbesBusy),
            }
        }
    }
    assert_eq!(permits.len(), 3, "probes across the fleet");
    // The first ask of each replica won a slot: one probe per replica.
    assert_eq!(holders, [0, 1, 2]);
    for permit in permits {
        permit.finish(&support::inference(ok(secs(1))));
    }
    // Three successes in the fleet close the circuit everywhere; no replica saw three itself.
    for f in [a, b, c] {
        let permit = f.tracker.try_acquire(P).expect("closed");
        assert!(!permit.is_probe());
        assert_eq!(f.state(P), CircuitState::Closed);
    }
}

#[test]
fn a_failed_probe_reopens_the_circuit_everywhere_with_the_doubled_cool_down() {
    let fleet = fleet();
    let [a, b, c] = &fleet.replicas;
    trip(a);
    fleet.advance(secs(30));
    let probe = b.tracker.try_acquire(P).expect("a probe");
    assert!(probe.is_probe());
    probe.finish(&support::inference(timeout()));
    // Second trip of the fleet: 60 s, on a too, which never probed.
    assert_eq!(refused_open(a), Some(secs(60)));
    assert_eq!(refused_open(c), Some(secs(60)));
}

#[test]
fn a_dropped_probe_gives_its_fleet_slot_back() {
    let fleet = fleet();
    let [a, b, _] = &fleet.replicas;
    trip(a);
    fleet.advance(secs(30));
    let held: Vec<_> = (0..3)
        .map(|_| a.tracker.try_acquire(P).expect("a probe"))
        .collect();
    assert_eq!(b.tracker.try_acquire(P).unwrap_err(), Rejected::ProbesBusy);
    drop(held);
    let probe = b.tracker.try_acquire(P).expect("a slot given back");
    assert!(probe.is_probe());
}

#[test]
fn admin_actions_on_one_replica_act_on_the_whole_fleet() {
    let fleet = fleet();
    let [a, b, c] = &fleet.replicas;
    a.tracker.force_open(P).unwrap();
    assert_eq!(refused_open(b), None, "forced open: no cool-down");
    fleet.advance(secs(600));
    assert_eq!(refused_open(c), None, "a forced circuit never half-opens");
    c.tracker.force_close(P).unwrap();
    for f in [a, b] {
        assert!(!f.tracker.try_acquire(P).expect("closed").is_probe());
    }
    trip(b);
    assert!(refused_open(a).is_some());
    a.tracker.reset(P).unwrap();
    assert!(!c.tracker.try_acquire(P).expect("reset closes").is_probe());
}

#[test]
fn an_unreachable_store_falls_back_to_local_breakers_without_failing_a_call() {
    let fleet = fleet();
    let [a, b, _] = &fleet.replicas;
    let shared = |f: &Fixture| f.exposition().value("gatewayz_circuit_shared_state", &[]);
    let fallbacks = |f: &Fixture| {
        f.exposition()
            .value("gatewayz_circuit_shared_fallbacks_total", &[])
    };
    assert_eq!((shared(a), fallbacks(a)), (1.0, 0.0));

    fleet.store.set_reachable(false);
    // Each breaker acts alone: a's circuit opens, b keeps calling.
    trip(a);
    b.calls(P, 3, ok(secs(1)));
    // Probes are counted here: a sends its own three.
    fleet.advance(secs(30));
    let probes: Vec<_> = (0..3)
        .map(|_| a.tracker.try_acquire(P).expect("a probe"))
        .collect();
    assert!(probes.iter().all(|p| p.is_probe()));
    for probe in probes {
        probe.finish(&support::inference(ok(secs(1))));
    }
    assert!(!a.tracker.try_acquire(P).expect("closed").is_probe());

    a.tracker.tick();
    assert_eq!((shared(a), fallbacks(a)), (0.0, 1.0), "the fallback shows");
    let status = a.tracker.shared_status().expect("a store");
    assert_eq!(
        (status.in_use, status.fallbacks),
        (false, 1),
        "and is readable for /health"
    );
}

#[test]
fn rejoining_the_store_the_stricter_circuit_wins() {
    let fleet = fleet();
    let [a, b, c] = &fleet.replicas;
    fleet.store.set_reachable(false);
    trip(a);
    b.calls(P, 1, ok(secs(1)));
    // The store comes back empty: a's open circuit is stricter than none, so it is shared
    // as soon as a looks (its next call or tick), cool-down and all.
    fleet.store.set_reachable(true);
    fleet.advance(secs(5));
    a.tracker.tick();
    assert_eq!(refused_open(b), Some(secs(25)));
    assert_eq!(refused_open(c), Some(secs(25)));
    b.tracker.tick();
    assert_eq!(
        b.exposition().value("gatewayz_circuit_shared_state", &[]),
        1.0,
        "sharing resumed"
    );
}

#[test]
fn without_a_store_nothing_is_shared_or_published() {
    let f = fixture(HealthConfig::default(), &[P]);
    assert_eq!(f.tracker.shared_status(), None::<SharedStatus>);
    f.tracker.tick();
    assert!(
        f.exposition()
            .family("gatewayz_circuit_shared_state")
            .is_none()
    );
}
