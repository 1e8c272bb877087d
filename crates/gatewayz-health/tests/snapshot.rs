//! The snapshot behind `/health/providers`, as JSON.

mod support;

use gatewayz_health::HealthConfig;
use gatewayz_metrics::HealthReport;
use serde_json::json;
use support::{fixture, ms, ok, secs, timeout};

#[test]
fn the_snapshot_serialises_every_provider_with_readable_values() {
    let f = fixture(HealthConfig::default(), &["groq", "anthropic"]);
    f.calls("anthropic", 20, ok(secs(2)));
    f.calls("groq", 5, timeout());
    f.advance(ms(12_500));
    f.tracker.tick();
    let value = serde_json::to_value(f.tracker.snapshot()).unwrap();
    assert_eq!(
        value,
        json!([
            {
                "provider": "anthropic",
                "status": "healthy",
                "score": 1.0,
                "availability": 1.0,
                "error_rate": 0.0,
                "latency_score": 1.0,
                "latency_p95_seconds": 2.0,
                "requests": 20,
                "circuit": {
                    "state": "closed",
                    "forced": false,
                    "consecutive_failures": 0,
                    "trips": 0,
                    "retry_after_seconds": null,
                    "probes_admitted": 0
                },
                "anomalies": [],
                "recent_events": []
            },
            {
                "provider": "groq",
                "status": "unavailable",
                "score": null,
                "availability": 0.0,
                "error_rate": 1.0,
                "latency_score": 0.0,
                "latency_p95_seconds": null,
                "requests": 5,
                "circuit": {
                    "state": "open",
                    "forced": false,
                    "consecutive_failures": 0,
                    "trips": 1,
                    "retry_after_seconds": 17.5,
                    "probes_admitted": 0
                },
                "anomalies": [],
                "recent_events": []
            }
        ])
    );
}

#[test]
fn a_snapshot_gives_the_report_published_for_it() {
    let f = fixture(HealthConfig::default(), &["groq"]);
    f.calls("groq", 12, ok(secs(9)));
    f.tracker.tick();
    let snapshot = f.tracker.provider("groq").unwrap();
    assert_eq!(
        snapshot.report(),
        HealthReport {
            status: snapshot.status,
            score: Some(0.7 + 0.3 * 0.75),
            availability: Some(1.0),
            error_rate: Some(0.0),
            latency_score: Some(0.75),
            latency_p95: Some(secs(9)),
        }
    );
}

#[test]
fn anomaly_events_serialise_with_their_kind_and_time() {
    let f = fixture(HealthConfig::default(), &["groq"]);
    for m in 0..7 {
        let latency = if m == 6 { secs(20) } else { secs(1) };
        for _ in 0..60 {
            f.tracker.record("groq", ok(latency)).unwrap();
            f.advance(secs(1));
        }
        f.tracker.tick();
    }
    let snapshot = f.tracker.provider("groq").unwrap();
    let event = serde_json::to_value(&snapshot.recent_events[0]).unwrap();
    assert_eq!(event["kind"], "latency_spike");
    assert_eq!(event["phase"], "started");
    assert_eq!(event["provider"], "groq");
    assert_eq!(event["at_seconds"], 420.0);
    assert_eq!(event["observed"], 20.0);
    let whole = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(whole["anomalies"], json!(["latency_spike"]));
}

#[test]
fn status_reads_what_the_snapshot_says_without_building_it() {
    use gatewayz_metrics::HealthStatus;
    let f = fixture(HealthConfig::default(), &["groq", "anthropic", "idle"]);
    f.calls("anthropic", 20, ok(secs(2)));
    f.calls("groq", 5, timeout());
    f.advance(ms(12_500));
    f.tracker.tick();
    for provider in ["anthropic", "groq", "idle"] {
        let snapshot = f.tracker.provider(provider).unwrap();
        assert_eq!(
            f.tracker.status(provider),
            Some(snapshot.status),
            "{provider}"
        );
    }
    assert_eq!(f.tracker.status("anthropic"), Some(HealthStatus::Healthy));
    // Five timeouts opened groq's circuit: unavailable whatever its last score.
    assert_eq!(f.tracker.status("groq"), Some(HealthStatus::Unavailable));
    assert_eq!(f.tracker.status("idle"), Some(HealthStatus::Unknown));
    assert_eq!(f.tracker.status("nobody"), None);
}
