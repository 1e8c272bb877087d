//! Shared test helpers: a local recorder, the app under test, requests and error bodies.

#![allow(dead_code, unreachable_pub)]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{
    App,
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::StatusCode,
    test,
};
use gatewayz_actix::{Admin, AdminActions, Auth, CircuitAction, Error, Monitoring, configure};
use gatewayz_metrics::{CircuitState, HealthStatus, Inference, Metrics, Outcome};
use gatewayz_registry::{GatewayzRecorder, RecorderBuilder};
use serde_json::Value;

pub const ADMIN_KEY: &str = "admin-key-0123456789abcdef";
pub const METRICS_TOKEN: &str = "metrics-token-0123456789";

/// A host that knows two providers and remembers what it was asked to do.
#[derive(Default)]
pub struct Host {
    pub calls: Mutex<Vec<(String, CircuitAction)>>,
}

impl AdminActions for Host {
    fn force_circuit(&self, provider: &str, action: CircuitAction) -> Result<(), Error> {
        match provider {
            "openrouter" | "groq" => {
                self.calls
                    .lock()
                    .unwrap()
                    .push((provider.to_owned(), action));
                Ok(())
            }
            "broken" => Err(Error::AdminAction {
                reason: "the circuit breaker registry is locked for maintenance".to_owned(),
            }),
            _ => Err(Error::UnknownProvider {
                provider: provider.to_owned(),
            }),
        }
    }
}

/// Monitoring with metrics auth and admin endpoints over `host`.
pub fn admin_monitoring(host: &Arc<Host>) -> Monitoring {
    let actions: Arc<dyn AdminActions> = host.clone();
    Monitoring::new(recorder().handle())
        .auth(Auth::default().with_bearer(METRICS_TOKEN).unwrap())
        .admin(Admin::new(ADMIN_KEY, actions).unwrap())
}

/// A POST from a fixed peer address, with `key` as a bearer token.
pub fn admin_post(path: &str, key: Option<&str>) -> test::TestRequest {
    let request = test::TestRequest::post()
        .uri(path)
        .peer_addr("10.1.2.3:4567".parse().unwrap());
    match key {
        Some(key) => request.insert_header(("authorization", format!("Bearer {key}"))),
        None => request,
    }
}

pub fn recorder() -> GatewayzRecorder {
    RecorderBuilder::new().build().unwrap()
}

/// The monitoring endpoints alone, mounted as a service would mount them.
pub async fn app(
    monitoring: Monitoring,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    test::init_service(App::new().configure(configure(monitoring))).await
}

pub async fn call(
    app: &impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
    request: test::TestRequest,
) -> Reply {
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = test::read_body(response).await.to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn get(uri: &str) -> test::TestRequest {
    test::TestRequest::get().uri(uri)
}

/// A finished response, body read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Checks the one error shape and returns its message.
    pub fn error_message(&self) -> String {
        let json = self.json();
        let error = json["error"]
            .as_object()
            .unwrap_or_else(|| panic!("{json}"));
        assert_eq!(error["status"], self.status.as_u16(), "{json}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        error["message"].as_str().unwrap().to_owned()
    }
}

/// Records a little of everything, as a gateway would: traffic, business numbers, and the
/// health gauges a health tracker publishes (set here directly: this crate only reads them).
pub fn record_gateway_activity(metrics: &Metrics) {
    use gatewayz_metrics::catalogue::{
        ANOMALIES_ACTIVE, CIRCUIT_BREAKER_STATE, PROVIDER_HEALTH_SCORE, PROVIDER_STATUS,
    };
    for (provider, status, score, circuit) in [
        (
            "openrouter",
            HealthStatus::Healthy,
            0.97,
            CircuitState::Closed,
        ),
        (
            "cerebras",
            HealthStatus::Degraded,
            0.6,
            CircuitState::Closed,
        ),
        ("groq", HealthStatus::Unavailable, 0.0, CircuitState::Open),
    ] {
        metrics.inference_finished(&Inference {
            provider,
            model: "llama-3.1-8b",
            outcome: Outcome::Success,
            duration: Duration::from_millis(500),
            time_to_first_token: None,
            input_tokens: 100,
            output_tokens: 50,
            cost_usd: 0.001,
            credits: 0.001,
        });
        metrics.in_scope(|| {
            metrics::gauge!(PROVIDER_HEALTH_SCORE.name, "provider" => provider).set(score);
            for s in HealthStatus::ALL {
                let hot = if *s == status { 1.0 } else { 0.0 };
                metrics::gauge!(PROVIDER_STATUS.name, "provider" => provider, "status" => s.as_str())
                    .set(hot);
            }
            for s in CircuitState::ALL {
                let hot = if *s == circuit { 1.0 } else { 0.0 };
                metrics::gauge!(CIRCUIT_BREAKER_STATE.name, "provider" => provider, "state" => s.as_str())
                    .set(hot);
            }
        });
    }
    metrics.in_scope(|| {
        metrics::gauge!(ANOMALIES_ACTIVE.name, "provider" => "groq", "kind" => "error_surge")
            .set(1.0);
    });
    metrics.http_request_finished("GET", "/v1/models", 200, Duration::from_millis(3));
}

/// Collects every `tracing` event of the process from now on, one line each:
/// `LEVEL target field=value ...`. Once per test binary.
pub fn capture_logs_globally() -> Logs {
    let logs = Logs::default();
    tracing::subscriber::set_global_default(Capture(logs.clone()))
        .expect("capture_logs_globally is called once per test binary");
    logs
}

#[derive(Clone, Default, Debug)]
pub struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Capture(Logs);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields<'a>(&'a mut String);
        impl tracing::field::Visit for Fields<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write;
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
        let meta = event.metadata();
        let mut line = format!("{} {}", meta.level(), meta.target());
        event.record(&mut Fields(&mut line));
        (self.0).0.lock().unwrap().push(line);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
