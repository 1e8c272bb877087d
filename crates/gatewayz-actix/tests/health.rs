//! `/health` and `/health/providers`, including with no recorder and with a failing one.

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

use actix_web::http::StatusCode;
use gatewayz_actix::{Error, MetricsSource, Monitoring};
use gatewayz_metrics::Metrics;
use gatewayz_registry::{Category, Handle, Summary};
use serde_json::{Value, json};
use support::{app, call, get, record_gateway_activity, recorder};

#[actix_web::test]
async fn health_is_ok_with_a_working_recorder() {
    let app = app(Monitoring::new(recorder().handle())).await;
    let reply = call(&app, get("/health")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

#[actix_web::test]
async fn without_a_recorder_health_is_degraded_and_metrics_are_503() {
    let app = app(Monitoring::without_recorder()).await;
    let reply = call(&app, get("/health")).await;
    assert_eq!(reply.status, StatusCode::OK, "liveness holds");
    let json = reply.json();
    assert_eq!(json["status"], "degraded");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("no metrics recorder is configured"),
        "{json}"
    );
    for path in [
        "/prometheus/metrics/all",
        "/prometheus/metrics/providers",
        "/prometheus/metrics/summary",
        "/health/providers",
    ] {
        let reply = call(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(reply.error_message().contains("RecorderBuilder"), "{path}");
    }
    let reply = call(&app, get("/prometheus/metrics/docs")).await;
    assert_eq!(reply.status, StatusCode::OK, "the docs need no recorder");
}

/// A source that works, fails or panics on demand: the seam for a broken recorder.
struct Flaky {
    handle: Handle,
    mode: AtomicU8,
}

const WORKS: u8 = 0;
const FAILS: u8 = 1;
const PANICS: u8 = 2;

impl Flaky {
    fn check(&self) -> Result<(), Error> {
        match self.mode.load(Ordering::Relaxed) {
            WORKS => Ok(()),
            FAILS => Err(Error::Source {
                reason: "the registry lock is poisoned".to_owned(),
            }),
            _ => panic!("render exploded (a deliberate test panic)"),
        }
    }
}

impl MetricsSource for Flaky {
    fn render(&self, category: Option<Category>) -> Result<String, Error> {
        self.check()?;
        MetricsSource::render(&self.handle, category)
    }

    fn summarise(&self, category: Option<Category>) -> Result<Summary, Error> {
        self.check()?;
        self.handle.summarise(category)
    }
}

async fn health_json(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
) -> Value {
    let reply = call(app, get("/health")).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()
}

#[actix_web::test]
async fn a_failing_render_is_500_and_makes_health_degraded_until_it_recovers() {
    let source = Arc::new(Flaky {
        handle: recorder().handle(),
        mode: AtomicU8::new(FAILS),
    });
    let app = app(Monitoring::from_source(source.clone())).await;
    assert_eq!(
        health_json(&app).await,
        json!({"status": "ok"}),
        "nothing read yet"
    );

    let reply = call(&app, get("/prometheus/metrics/all")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let message = reply.error_message();
    assert!(
        message.contains("the registry lock is poisoned"),
        "{message}"
    );
    let health = health_json(&app).await;
    assert_eq!(health["status"], "degraded");
    assert!(
        health["reason"]
            .as_str()
            .unwrap()
            .contains("the registry lock is poisoned"),
        "{health}"
    );

    let reply = call(&app, get("/prometheus/metrics/summary")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);

    source.mode.store(WORKS, Ordering::Relaxed);
    let reply = call(&app, get("/prometheus/metrics/all")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(health_json(&app).await, json!({"status": "ok"}));
}

#[actix_web::test]
async fn a_panicking_render_is_caught_and_reported() {
    let source = Arc::new(Flaky {
        handle: recorder().handle(),
        mode: AtomicU8::new(PANICS),
    });
    let app = app(Monitoring::from_source(source.clone())).await;
    for path in ["/prometheus/metrics/models", "/health/providers"] {
        let reply = call(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        let message = reply.error_message();
        assert!(message.contains("the metrics source panicked"), "{message}");
        assert!(
            !message.contains("exploded"),
            "echoes the panic payload: {message}"
        );
    }
    let health = health_json(&app).await;
    assert_eq!(health["status"], "degraded");
    assert!(
        health["reason"].as_str().unwrap().contains("panicked"),
        "{health}"
    );

    source.mode.store(WORKS, Ordering::Relaxed);
    assert_eq!(
        call(&app, get("/health/providers")).await.status,
        StatusCode::OK
    );
    assert_eq!(health_json(&app).await["status"], "ok");
}

#[actix_web::test]
async fn health_providers_lists_score_status_circuit_and_anomalies() {
    let recorder = recorder();
    metrics::with_local_recorder(&recorder, || record_gateway_activity(&Metrics::new()));
    let app = app(Monitoring::new(recorder.handle())).await;
    let reply = call(&app, get("/health/providers")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let json = reply.json();
    assert!(json["timestamp"].as_str().unwrap().ends_with('Z'));
    let providers: Vec<Value> = json["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            json!({
                "provider": p["provider"],
                "status": p["status"],
                "health_score": p["health_score"],
                "circuit_state": p["circuit_state"],
                "active_anomalies": p["active_anomalies"],
            })
        })
        .collect();
    assert_eq!(
        providers,
        [
            json!({"provider": "cerebras", "status": "degraded", "health_score": 0.6,
                   "circuit_state": "closed", "active_anomalies": []}),
            json!({"provider": "groq", "status": "unavailable", "health_score": 0.0,
                   "circuit_state": "open", "active_anomalies": ["error_surge"]}),
            json!({"provider": "openrouter", "status": "healthy", "health_score": 0.97,
                   "circuit_state": "closed", "active_anomalies": []}),
        ]
    );
}

#[actix_web::test]
async fn health_providers_is_an_empty_list_before_any_health_is_published() {
    let app = app(Monitoring::new(recorder().handle())).await;
    let reply = call(&app, get("/health/providers")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["providers"], json!([]));
}
