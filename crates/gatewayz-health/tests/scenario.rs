//! A provider outage and recovery, replayed second by second and checked minute by minute:
//! statuses, failover order, anomaly events and the metrics published.
//!
//! Three providers each serve their own models at one call per second (pinned traffic), and
//! one shared request per second is routed through `route` (priority policy) as a gateway would
//! (routed traffic goes to the first candidate that admits it and succeeds). Calls take 1 s
//! on alpha, 2.5 s on beta and 3 s on gamma, so the scores are 1.0, 0.9946 and 0.9893 and the
//! order is alpha, beta, gamma. Then:
//!
//! | minutes | what happens |
//! | --- | --- |
//! | 10–14 | alpha times out (30 s): its circuit opens at 10:02 and its probes fail at 10:32, 11:32 and 13:32 (cool-downs 30 s, 60 s, 120 s, then 240 s) |
//! | 15– | alpha answers again, but its circuit stays open until 17:32, when the probes succeed |
//! | 20–24 | beta's calls take 25 s |
//! | 30–34 | gamma gets two calls a minute instead of sixty |
//!
//! Each tick is at the end of its minute; every expectation below is derived in the comments
//! next to it.

mod support;

use std::time::Duration;

use gatewayz_health::{
    AnomalyEvent, AnomalyKind, AnomalyPhase, CallOutcome, CircuitState, ErrorKind, HealthConfig,
    HealthStatus, RoutingPolicy, should_fail_over,
};
use gatewayz_testkit::exposition::Exposition;
use support::{Fixture, fixture, inference, ms, secs};

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];
const MINUTES: u64 = 40;

fn outcome(provider: &str, t: u64) -> CallOutcome {
    match provider {
        "alpha" if (600..900).contains(&t) => CallOutcome::failure(ErrorKind::Timeout, secs(30)),
        "alpha" => CallOutcome::success(secs(1)),
        "beta" if (1200..1500).contains(&t) => CallOutcome::success(secs(25)),
        "beta" => CallOutcome::success(ms(2500)),
        _ => CallOutcome::success(secs(3)),
    }
}

fn pinned(f: &Fixture, provider: &str, t: u64) {
    if provider == "gamma" && (1800..2100).contains(&t) && !t.is_multiple_of(30) {
        return;
    }
    if let Ok(permit) = f.tracker.try_acquire(provider) {
        permit.finish(&inference(outcome(provider, t)));
    }
}

fn routed(f: &Fixture, t: u64) {
    for candidate in f.tracker.route(&NAMES) {
        let Ok(permit) = candidate.admission else {
            continue;
        };
        let result = outcome(candidate.provider, t);
        permit.finish(&inference(result));
        match result.result {
            Err(kind) if should_fail_over(kind).fails_over() => {}
            _ => return,
        }
    }
}

/// Status of each provider at the tick ending minute `m`.
fn expected_status(m: u64) -> [HealthStatus; 3] {
    use HealthStatus::*;
    let alpha = match m {
        // Open from 10:02 to 17:32: unavailable whatever the score says.
        10..=16 => Unavailable,
        // Closed again, but the window still holds the refusals of the outage: 0.633 at
        // 18:00 and 0.731 at 19:00 (degraded); 0.820 at 20:00 is healthy by the score, but
        // coming from degraded it needs 0.85 (hysteresis); 0.908 at 21:00.
        17..=19 => Degraded,
        _ => Healthy,
    };
    let beta = match m {
        // From 21:00 the window's p95 is 25 s (score 0.754) until the last slow call leaves
        // it: at 29:00 30 of its 270 calls are still slow (11% > 5%); at 30:00 none.
        20..=28 => Degraded,
        _ => Healthy,
    };
    let gamma = match m {
        // At 35:00 the window (from 30:30) holds 9 calls, one fewer than the minimum.
        34 => Unknown,
        _ => Healthy,
    };
    [alpha, beta, gamma]
}

fn expected_alpha_circuit(m: u64) -> CircuitState {
    if (10..=16).contains(&m) {
        CircuitState::Open
    } else {
        CircuitState::Closed
    }
}

/// Failover order after the tick ending minute `m`.
fn expected_order(m: u64) -> Vec<&'static str> {
    match m {
        // alpha is open and skipped.
        10..=16 => vec!["beta", "gamma"],
        // alpha is closed but scores 0.633, 0.731, 0.820.
        17..=19 => vec!["beta", "gamma", "alpha"],
        // beta 0.754, alpha 0.908, gamma 0.989.
        20 => vec!["gamma", "alpha", "beta"],
        // alpha back to 0.997 then 1.0, above gamma; beta slow.
        21..=28 => vec!["alpha", "gamma", "beta"],
        _ => vec!["alpha", "beta", "gamma"],
    }
}

fn expected_events(m: u64) -> Vec<(&'static str, AnomalyKind, AnomalyPhase)> {
    use AnomalyKind::*;
    use AnomalyPhase::*;
    match m {
        // Minute 10: 6 timeouts and 56 refusals of 62 requests, against a baseline of 0.
        10 => vec![("alpha", ErrorSurge, Started)],
        // Minute 17 still has 32 refusals of 61 requests; minute 18 none.
        18 => vec![("alpha", ErrorSurge, Ended)],
        20 => vec![("beta", LatencySpike, Started)],
        25 => vec![("beta", LatencySpike, Ended)],
        // 2 requests against a baseline of about 60 per minute.
        30 => vec![("gamma", TrafficDrop, Started)],
        35 => vec![("gamma", TrafficDrop, Ended)],
        _ => vec![],
    }
}

fn hot(e: &Exposition, name: &str, provider: &str, label: &str) -> Vec<String> {
    e.samples()
        .filter(|s| s.name == name && s.label("provider") == Some(provider) && s.value == 1.0)
        .map(|s| s.label(label).unwrap().to_owned())
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn an_outage_and_recovery_minute_by_minute() {
    let mut config = HealthConfig::default();
    config.routing.policy = RoutingPolicy::Priority;
    let f = fixture(config, &NAMES);
    let handle = &f.handle;
    {
        let mut all_events: Vec<AnomalyEvent> = Vec::new();
        for m in 0..MINUTES {
            for s in 0..60 {
                let t = 60 * m + s;
                for provider in NAMES {
                    pinned(&f, provider, t);
                }
                routed(&f, t);
                f.advance(Duration::from_secs(1));
            }
            let events = f.tracker.tick();
            let at = format!("tick ending minute {m}");

            let got: Vec<_> = events
                .iter()
                .map(|e| (e.provider.as_str(), e.kind, e.phase))
                .collect();
            assert_eq!(got, expected_events(m), "{at}: {events:?}");
            assert!(events.iter().all(|e| e.at == secs(60 * (m + 1))), "{at}");

            let health = NAMES.map(|p| f.health(p));
            let statuses: Vec<HealthStatus> = health.iter().map(|h| h.status).collect();
            assert_eq!(statuses, expected_status(m), "{at}");
            assert_eq!(health[0].circuit, expected_alpha_circuit(m), "{at}");
            assert_eq!(f.tracker.failover_order(&NAMES), expected_order(m), "{at}");
            for (h, p) in health.iter().zip(NAMES) {
                // The score agrees with the status: healthy only at or above 0.8, and an open
                // circuit scores 0.
                match h.status {
                    HealthStatus::Healthy => assert!(h.score.unwrap() >= 0.8, "{at}: {p} {h:?}"),
                    HealthStatus::Unknown => assert_eq!(h.score, None, "{at}: {p}"),
                    _ => assert!(h.score.unwrap() < 0.85, "{at}: {p} {h:?}"),
                }
                if h.circuit != CircuitState::Closed {
                    assert_eq!(h.score, Some(0.0), "{at}: {p}");
                }
            }

            let e = f.exposition();
            assert_eq!(
                hot(&e, "gatewayz_circuit_breaker_state", "alpha", "state"),
                [expected_alpha_circuit(m).as_str()],
                "{at}"
            );
            let active = |p: &str, k: &str| {
                e.value("gatewayz_anomalies_active", &[("provider", p), ("kind", k)])
            };
            assert_eq!(
                active("alpha", "error_surge"),
                f64::from((10..18).contains(&m)),
                "{at}"
            );
            assert_eq!(
                active("beta", "latency_spike"),
                f64::from((20..25).contains(&m)),
                "{at}"
            );
            assert_eq!(
                active("gamma", "traffic_drop"),
                f64::from((30..35).contains(&m)),
                "{at}"
            );

            let score = |i: usize| health[i].score.unwrap();
            match m {
                // 29 answers of 271 requests, 1 failure of 30 calls (see expected_status).
                17 => assert!(
                    close(score(0), 0.4 * 29.0 / 271.0 + 0.3 * 29.0 / 30.0 + 0.3),
                    "{at}"
                ),
                18 => assert!(close(score(0), 0.4 * 89.0 / 271.0 + 0.6), "{at}"),
                19 => assert!(close(score(0), 0.4 * 149.0 / 271.0 + 0.6), "{at}"),
                20 => {
                    assert!(close(score(0), 0.4 * 209.0 / 271.0 + 0.6), "{at}");
                    assert!(close(score(1), 0.7 + 0.3 * (1.0 - 23.0 / 28.0)), "{at}");
                }
                10 => {
                    // 603..=631 and 633..=659 refused; the timeouts at 10:00 and 10:01 of
                    // routed requests moved on to beta.
                    let rejected = e.value(
                        "gatewayz_circuit_breaker_rejections_total",
                        &[("provider", "alpha")],
                    );
                    assert_eq!(rejected, 56.0, "{at}");
                    let summary = handle.summary(None).metrics.providers.unwrap();
                    assert_eq!(
                        (
                            summary.healthy_providers,
                            summary.unavailable_providers,
                            summary.open_circuits
                        ),
                        (2, 1, 1),
                        "{at}"
                    );
                    assert_eq!(
                        (summary.active_anomalies, summary.failovers_total),
                        (1, 2),
                        "{at}"
                    );
                }
                _ => {}
            }
            all_events.extend(events);
        }

        let e = f.exposition();
        let transitions = |from: &str, to: &str| {
            e.value(
                "gatewayz_circuit_breaker_transitions_total",
                &[("provider", "alpha"), ("from", from), ("to", to)],
            )
        };
        // Opened once; probes at 10:32, 11:32, 13:32 failed, those at 17:32 succeeded.
        assert_eq!(transitions("closed", "open"), 1.0);
        assert_eq!(transitions("open", "half_open"), 4.0);
        assert_eq!(transitions("half_open", "open"), 3.0);
        assert_eq!(transitions("half_open", "closed"), 1.0);
        // Pinned calls refused: 29 + 59 + 119 + 239.
        assert_eq!(
            e.value(
                "gatewayz_circuit_breaker_rejections_total",
                &[("provider", "alpha")]
            ),
            446.0
        );
        assert_eq!(
            e.value(
                "gatewayz_failovers_total",
                &[("provider", "alpha"), ("reason", "timeout")]
            ),
            2.0
        );
        assert_eq!(e.sum("gatewayz_failovers_total", &[]), 2.0);
        for (p, kind) in [
            ("alpha", "error_surge"),
            ("beta", "latency_spike"),
            ("gamma", "traffic_drop"),
        ] {
            let detected = e.sum("gatewayz_anomalies_detected_total", &[("provider", p)]);
            assert_eq!(detected, 1.0, "{p}");
            assert_eq!(
                e.value(
                    "gatewayz_anomalies_detected_total",
                    &[("provider", p), ("kind", kind)]
                ),
                1.0
            );
        }
        let summary = handle.summary(None).metrics.providers.unwrap();
        assert_eq!(
            (
                summary.healthy_providers,
                summary.open_circuits,
                summary.active_anomalies
            ),
            (3, 0, 0)
        );

        let spike = all_events
            .iter()
            .find(|e| e.kind == AnomalyKind::LatencySpike)
            .unwrap();
        assert_eq!((spike.observed, spike.at), (25.0, secs(1260)));
        let drop = all_events
            .iter()
            .find(|e| e.kind == AnomalyKind::TrafficDrop)
            .unwrap();
        assert_eq!(drop.observed, 2.0);
        assert!((55.0..=70.0).contains(&drop.baseline), "{drop:?}");
        let alpha = all_events.iter().filter(|e| e.provider == "alpha").count();
        assert_eq!(alpha, 2);
    }
}
