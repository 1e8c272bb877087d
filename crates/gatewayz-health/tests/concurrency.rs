//! The admission check and recording under concurrent callers.

mod support;

use std::{
    sync::{
        Barrier,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
};

use gatewayz_health::{CircuitState, HealthConfig, HealthTracker, ManualClock, Permit, Rejected};
use support::{fixture, inference, ms, ok, secs, timeout};

const P: &str = "openrouter";
const THREADS: usize = 8;

#[test]
fn racing_callers_in_half_open_get_exactly_the_probe_budget() {
    for round in 0..20 {
        let f = fixture(HealthConfig::default(), &[P]);
        f.calls(P, 5, timeout());
        f.advance(secs(30));
        let barrier = Barrier::new(THREADS);
        let busy = AtomicUsize::new(0);
        let permits = thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let mut mine = Vec::new();
                        for _ in 0..50 {
                            match f.tracker.try_acquire(P) {
                                Ok(permit) => mine.push(permit),
                                Err(Rejected::ProbesBusy) => {
                                    busy.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(other) => panic!("unexpected refusal {other}"),
                            }
                        }
                        mine
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(permits.len(), 3, "round {round}");
        assert!(permits.iter().all(|p| p.is_probe()));
        assert_eq!(busy.load(Ordering::Relaxed), THREADS * 50 - 3);
        for permit in permits {
            permit.finish(&inference(ok(ms(400))));
        }
        assert_eq!(f.state(P), CircuitState::Closed, "round {round}");
    }
}

#[test]
fn cancelled_probes_racing_new_callers_never_exceed_the_budget() {
    let f = fixture(HealthConfig::default(), &[P]);
    f.calls(P, 5, timeout());
    f.advance(secs(30));
    let out = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..2_000 {
                    if let Ok(permit) = f.tracker.try_acquire(P) {
                        let now = out.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        out.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                }
            });
        }
    });
    assert!(
        most.load(Ordering::SeqCst) <= 3,
        "{} permits out at once",
        most.load(Ordering::SeqCst)
    );
    assert_eq!(f.state(P), CircuitState::HalfOpen);
    // Every slot came back: the whole budget can be taken again, and no more.
    let again: Vec<_> = (0..3).map(|_| f.tracker.try_acquire(P).unwrap()).collect();
    assert_eq!(f.tracker.try_acquire(P).unwrap_err(), Rejected::ProbesBusy);
    drop(again);
}

#[test]
fn concurrent_recording_loses_no_call() {
    let f = fixture(HealthConfig::default(), &[P, "groq"]);
    thread::scope(|s| {
        for t in 0..THREADS {
            let f = &f;
            s.spawn(move || {
                let provider = if t % 2 == 0 { P } else { "groq" };
                for _ in 0..1_000 {
                    f.call(provider, ok(ms(300))).unwrap();
                }
            });
        }
        s.spawn(|| {
            for _ in 0..100 {
                f.tracker.tick();
                f.tracker.failover_order(&[P, "groq"]);
            }
        });
    });
    for provider in [P, "groq"] {
        assert_eq!(f.health(provider).calls, 4_000, "{provider}");
    }
}

#[test]
fn the_tracker_is_shared_and_permits_move_between_threads() {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<HealthTracker>();
    shared::<ManualClock>();
    sent::<Permit>();
    let f = fixture(HealthConfig::default(), &[P]);
    let permit = f.tracker.try_acquire(P).unwrap();
    thread::spawn(move || permit.finish(&inference(ok(ms(100)))))
        .join()
        .unwrap();
    assert_eq!(f.health(P).calls, 1);
}
