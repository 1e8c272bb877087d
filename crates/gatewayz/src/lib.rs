//! The gatewayz monitoring stack for LLM API gateways, in one dependency.
//!
//! This crate re-exports the stack's crates, each behind a feature, so a service writes one
//! line in `Cargo.toml` and picks what it needs:
//!
//! | feature | default | brings | crate |
//! | --- | --- | --- | --- |
//! | (always) | yes | the metric catalogue and the instrumentation facade: [`Metrics`], [`Inference`], ... | `gatewayz-catalogue`, `gatewayz-metrics` |
//! | `recorder` | yes | the recorder and Prometheus exposition per category: [`RecorderBuilder`], [`Handle`] | `gatewayz-registry` |
//! | `summary` | yes | the JSON summary (`Handle::summary`), with serde | `gatewayz-registry` |
//! | `health` | yes | health scores, circuit breakers, routing with failover, anomalies: [`HealthTracker`], [`Route`], [`Permit`] | `gatewayz-health` |
//! | `actix` | no | the actix-web endpoints, status page and request middleware: [`configure`], [`Monitoring`], [`HttpMetrics`] | `gatewayz-actix` |
//!
//! A library that only instruments itself uses `default-features = false`: the catalogue, the
//! facade and `metrics`, nothing else.
//!
//! ```
//! # #[cfg(all(feature = "recorder", feature = "health", feature = "summary"))] {
//! use std::{sync::Arc, time::Duration};
//! use gatewayz::{
//!     Category, HealthConfig, HealthTracker, Inference, Metrics, MetricsConfig, Outcome,
//!     ProviderConfig, RecorderBuilder,
//! };
//!
//! // A service installs the recorder once (`RecorderBuilder::new().install()?`) and uses
//! // `Metrics::new()`; this example keeps its recorder local.
//! let recorder = RecorderBuilder::new().build()?;
//! let handle = recorder.handle();
//! let metrics = Metrics::with_recorder(Arc::new(recorder), MetricsConfig::default());
//! let health = HealthTracker::builder(HealthConfig::default()).metrics(metrics).build()?;
//! health.register("openrouter", ProviderConfig::default())?;
//!
//! for candidate in health.route(&["openrouter"]) {
//!     let Ok(permit) = candidate.admission else { continue };
//!     // One call per attempt: the provider's health and the inference metrics at once.
//!     permit.finish(&Inference {
//!         model: "gpt-4o-mini",
//!         outcome: Outcome::Success,
//!         duration: Duration::from_millis(840),
//!         input_tokens: 1200,
//!         output_tokens: 300,
//!         cost_usd: 0.00036,
//!         ..Inference::default()
//!     });
//!     break;
//! }
//! let text = handle.render(Category::Models);
//! assert!(text.contains("tokens_used_total"));
//! assert_eq!(handle.summary(None).metrics.business.unwrap().total_cost_usd, 0.00036);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// The metric catalogue: every metric and label, declared once (`gatewayz-catalogue`).
pub use gatewayz_catalogue as catalogue;
/// The instrumentation facade (`gatewayz-metrics`).
pub use gatewayz_metrics as metrics;

pub use gatewayz_catalogue::Category;
pub use gatewayz_metrics::{
    AnomalyKind, Business, CacheMetrics, CircuitState, CustomerEvent, CustomerTotals, ErrorKind,
    FailoverReason, HealthStatus, InFlight, Inference, InferenceStatus, Metrics, MetricsConfig,
    Outcome, Plan, QueryTimer, TokenType,
};

/// The recorder and exposition engine (`gatewayz-registry`).
#[cfg(feature = "recorder")]
pub use gatewayz_registry as registry;
#[cfg(feature = "summary")]
pub use gatewayz_registry::Summary;
#[cfg(feature = "recorder")]
pub use gatewayz_registry::{GatewayzRecorder, Handle, RecorderBuilder};

/// Provider health, circuit breakers, routing and failover (`gatewayz-health`).
#[cfg(feature = "health")]
pub use gatewayz_health as health;
#[cfg(feature = "health")]
pub use gatewayz_health::{
    CallOutcome, Candidate, HealthConfig, HealthTracker, Offer, Permit, Price, ProviderConfig,
    Rejected, Route, RouteRequest, RoutingConfig, RoutingPolicy, should_fail_over,
};

/// The actix-web endpoints and middleware (`gatewayz-actix`).
#[cfg(feature = "actix")]
pub use gatewayz_actix as actix;
#[cfg(feature = "actix")]
pub use gatewayz_actix::{HttpMetrics, Monitoring, configure};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
