//! What the tracker publishes, read back by parsing the Prometheus text its recorder renders.

mod support;

use gatewayz_health::{ErrorKind, HealthConfig, RoutingPolicy};
use gatewayz_testkit::exposition::Exposition;
use support::{Fixture, fail, fixture, inference, ms, ok, secs, timeout};

const P: &str = "anthropic";
const PROVIDER: (&str, &str) = ("provider", P);
const BACKUP: &str = "backup";

/// Runs `f` against a tracker publishing to a fresh recorder, then parses the render.
fn published(config: HealthConfig, f: impl FnOnce(&Fixture)) -> Exposition {
    let fixture = fixture(config, &[P, BACKUP]);
    f(&fixture);
    fixture.exposition()
}

fn one_hot(e: &Exposition, name: &str, label: &str) -> Vec<(String, f64)> {
    let mut values: Vec<(String, f64)> = e
        .samples()
        .filter(|s| s.name == name && s.label("provider") == Some(P))
        .map(|s| (s.label(label).unwrap().to_owned(), s.value))
        .collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
}

/// Whether the provider has no sample of `name`.
fn absent(e: &Exposition, name: &str) -> bool {
    !e.samples()
        .any(|s| s.name == name && s.label("provider") == Some(P))
}

fn hot(e: &Exposition, name: &str, label: &str) -> Vec<String> {
    one_hot(e, name, label)
        .into_iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(k, _)| k)
        .collect()
}

#[test]
fn a_tick_publishes_the_score_its_inputs_and_the_status() {
    let e = published(HealthConfig::default(), |f| {
        f.calls(P, 15, ok(secs(9)));
        f.calls(P, 4, timeout());
        f.calls(P, 1, ok(secs(9)));
        f.tracker.tick();
    });
    // 16 answered of 20; 4 failures of 20; p95 9 s: latency score 0.75.
    let availability = e.value("gatewayz_provider_availability_ratio", &[PROVIDER]);
    let error_rate = e.value("provider_error_rate", &[PROVIDER]);
    let latency = e.value("gatewayz_provider_latency_score", &[PROVIDER]);
    assert_eq!((availability, error_rate, latency), (0.8, 0.2, 0.75));
    assert_eq!(
        e.value("gatewayz_provider_latency_p95_seconds", &[PROVIDER]),
        9.0
    );
    let score = e.value("gatewayz_provider_health_score", &[PROVIDER]);
    // 0.4 × 0.8 + 0.3 × 0.8 + 0.3 × 0.75 = 0.785: just below healthy.
    assert!((score - 0.785).abs() < 1e-9, "{score}");
    assert_eq!(hot(&e, "gatewayz_provider_status", "status"), ["degraded"]);
    assert_eq!(one_hot(&e, "gatewayz_provider_status", "status").len(), 4);
    assert_eq!(
        hot(&e, "gatewayz_circuit_breaker_state", "state"),
        ["closed"]
    );
}

#[test]
fn an_unknown_status_is_published_without_a_score() {
    let e = published(HealthConfig::default(), |f| {
        f.calls(P, 3, ok(ms(200)));
        f.tracker.tick();
    });
    // Published as NaN, which the recorder leaves out: unknown is absent, never 0 or NaN.
    assert!(absent(&e, "gatewayz_provider_health_score"));
    assert_eq!(hot(&e, "gatewayz_provider_status", "status"), ["unknown"]);
    assert_eq!(e.value("provider_error_rate", &[PROVIDER]), 0.0);
}

#[test]
fn a_registered_provider_is_published_as_unknown_with_a_closed_circuit() {
    // Never a score of 0 before anything is known: unknown, absent, until the first tick.
    let e = published(HealthConfig::default(), |_| {});
    assert!(absent(&e, "gatewayz_provider_health_score"));
    assert!(absent(&e, "gatewayz_provider_latency_p95_seconds"));
    assert_eq!(hot(&e, "gatewayz_provider_status", "status"), ["unknown"]);
    assert_eq!(
        hot(&e, "gatewayz_circuit_breaker_state", "state"),
        ["closed"]
    );
    assert_eq!(
        e.value("gatewayz_circuit_breaker_rejections_total", &[PROVIDER]),
        0.0
    );
    assert!(e.family("model_inference_requests_total").is_none());
}

#[test]
fn one_report_per_attempt_feeds_the_health_window_and_the_inference_series() {
    let e = published(HealthConfig::default(), |f| {
        f.calls(P, 8, ok(ms(300)));
        f.calls(P, 2, fail(ErrorKind::ServerError));
        f.tracker.tick();
    });
    let status = |s| e.value("model_inference_requests_total", &[PROVIDER, ("status", s)]);
    assert_eq!((status("success"), status("error")), (8.0, 2.0));
    assert_eq!(
        e.value(
            "gatewayz_provider_errors_total",
            &[PROVIDER, ("reason", "server_error")]
        ),
        2.0
    );
    assert_eq!(e.value("provider_error_rate", &[PROVIDER]), 0.2);
    assert_eq!(
        e.value("gatewayz_provider_availability_ratio", &[PROVIDER]),
        0.8
    );
    // The last call was a 5xx: answered, but not available.
    assert_eq!(e.value("provider_availability", &[PROVIDER]), 0.0);
}

fn transitions(e: &Exposition) -> Vec<(String, String, f64)> {
    let mut all: Vec<_> = e
        .samples()
        .filter(|s| s.name == "gatewayz_circuit_breaker_transitions_total")
        .map(|s| {
            (
                s.label("from").unwrap().to_owned(),
                s.label("to").unwrap().to_owned(),
                s.value,
            )
        })
        .collect();
    all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    all
}

#[test]
fn transitions_and_rejections_are_published_when_they_happen() {
    let e = published(HealthConfig::default(), |f| {
        f.calls(P, 5, timeout());
        for _ in 0..7 {
            assert!(f.tracker.try_acquire(P).is_err());
        }
        f.advance(secs(30));
        let probes: Vec<_> = (0..3).map(|_| f.tracker.try_acquire(P).unwrap()).collect();
        assert!(f.tracker.try_acquire(P).is_err());
        for probe in probes {
            probe.finish(&inference(ok(ms(300))));
        }
    });
    let t = |from: &str, to: &str, n: f64| (from.to_owned(), to.to_owned(), n);
    assert_eq!(
        transitions(&e),
        [
            t("closed", "open", 1.0),
            t("half_open", "closed", 1.0),
            t("open", "half_open", 1.0)
        ]
    );
    assert_eq!(
        e.value("gatewayz_circuit_breaker_rejections_total", &[PROVIDER]),
        8.0
    );
    assert_eq!(
        hot(&e, "gatewayz_circuit_breaker_state", "state"),
        ["closed"]
    );
}

#[test]
fn admin_operations_publish_their_transitions() {
    let e = published(HealthConfig::default(), |f| {
        f.tracker.force_open(P).unwrap();
        f.tracker.force_open(P).unwrap();
        f.tracker.force_close(P).unwrap();
        f.tracker.force_open(P).unwrap();
    });
    let t = |from: &str, to: &str, n: f64| (from.to_owned(), to.to_owned(), n);
    assert_eq!(
        transitions(&e),
        [t("closed", "open", 2.0), t("open", "closed", 1.0)]
    );
    assert_eq!(hot(&e, "gatewayz_circuit_breaker_state", "state"), ["open"]);
}

#[test]
fn failovers_are_published_by_reason() {
    let mut config = HealthConfig::default();
    config.routing.policy = RoutingPolicy::Priority;
    let e = published(config, |f| {
        for failure in [
            ErrorKind::Timeout,
            ErrorKind::Timeout,
            ErrorKind::RateLimited,
        ] {
            let mut route = f.tracker.route(&[P, BACKUP]);
            let first = route.next().unwrap();
            assert_eq!(first.provider, P);
            first.admission.unwrap().finish(&inference(fail(failure)));
            let second = route.next().unwrap();
            second.admission.unwrap().finish(&inference(ok(ms(300))));
        }
    });
    let reason = |r| e.value("gatewayz_failovers_total", &[PROVIDER, ("reason", r)]);
    assert_eq!(
        (
            reason("timeout"),
            reason("rate_limited"),
            reason("bad_request")
        ),
        (2.0, 1.0, 0.0)
    );
}

#[test]
fn anomalies_are_published_when_they_start_and_end() {
    let minute = |f: &Fixture, latency| {
        for _ in 0..60 {
            f.calls(P, 1, ok(latency));
            f.advance(secs(1));
        }
        f.tracker.tick();
    };
    let during = published(HealthConfig::default(), |f| {
        (0..6).for_each(|_| minute(f, secs(1)));
        minute(f, secs(20));
    });
    let kind = |e: &Exposition, name, k| e.value(name, &[PROVIDER, ("kind", k)]);
    assert_eq!(
        kind(
            &during,
            "gatewayz_anomalies_detected_total",
            "latency_spike"
        ),
        1.0
    );
    assert_eq!(
        kind(&during, "gatewayz_anomalies_active", "latency_spike"),
        1.0
    );
    assert_eq!(
        kind(&during, "gatewayz_anomalies_active", "error_surge"),
        0.0
    );
    let after = published(HealthConfig::default(), |f| {
        (0..6).for_each(|_| minute(f, secs(1)));
        minute(f, secs(20));
        minute(f, secs(1));
    });
    assert_eq!(
        kind(&after, "gatewayz_anomalies_detected_total", "latency_spike"),
        1.0
    );
    assert_eq!(
        kind(&after, "gatewayz_anomalies_active", "latency_spike"),
        0.0
    );
}

#[test]
fn reset_publishes_an_unknown_status_and_ends_anomalies() {
    let e = published(HealthConfig::default(), |f| {
        for m in 0..7 {
            let latency = if m == 6 { secs(20) } else { secs(1) };
            for _ in 0..60 {
                f.calls(P, 1, ok(latency));
                f.advance(secs(1));
            }
            f.tracker.tick();
        }
        f.tracker.reset(P).unwrap();
    });
    assert_eq!(
        e.value(
            "gatewayz_anomalies_active",
            &[PROVIDER, ("kind", "latency_spike")]
        ),
        0.0
    );
    assert_eq!(hot(&e, "gatewayz_provider_status", "status"), ["unknown"]);
}
