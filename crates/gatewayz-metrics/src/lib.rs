//! Typed instrumentation helpers for LLM API gateways, over the [`metrics`] facade.
//!
//! Every helper is named for what happened (an inference finished, a request was served, a
//! circuit opened) and takes typed arguments; metric names and label names come from the
//! `gatewayz-registry` catalogue. It works with whichever `metrics` recorder is installed:
//! `gatewayz-registry`'s, `metrics-exporter-prometheus`, or none (then every call is a no-op).
//!
//! ```
//! use std::time::Duration;
//! use gatewayz_metrics::{Inference, Metrics, Outcome};
//!
//! let recorder = gatewayz_registry::RecorderBuilder::new().build()?;
//! metrics::with_local_recorder(&recorder, || {
//!     let metrics = Metrics::new();
//!     metrics.inference_finished(&Inference {
//!         provider: "openrouter",
//!         model: "gpt-4o-mini",
//!         outcome: Outcome::Success,
//!         duration: Duration::from_millis(840),
//!         time_to_first_token: Some(Duration::from_millis(210)),
//!         input_tokens: 1200,
//!         output_tokens: 300,
//!         cost_usd: 0.00036,
//!         credits: 0.00036,
//!     });
//! });
//! let summary = recorder.handle().summary(None);
//! assert_eq!(summary.metrics.models.unwrap().tokens_used_total, 1500);
//! # Ok::<(), gatewayz_registry::Error>(())
//! ```
//!
//! # Behaviour
//!
//! - **Handles are resolved once.** The first call for a provider, a (provider, model) pair, a
//!   route or a database operation registers its handles with the recorder that is current at
//!   that moment; later calls find them in a small concurrent map and cost a few atomic
//!   operations. Create [`Metrics`] after installing the recorder, and one per recorder.
//! - **Bounded.** Label values are normalised as the catalogue says (trimmed, lower-cased
//!   identifiers, cut to 128 bytes). The cap on distinct values is the recorder's job
//!   (`gatewayz-registry` folds the excess into `other`); this crate's maps stop growing at
//!   [`MetricsConfig::cache_capacity`] entries each and resolve uncached keys per call.
//! - **Nothing personal.** No helper takes an API key, user id, e-mail or prompt: there is no
//!   way to make one a label.
//! - **Money.** Dollars and credits are recorded in nano-units on `u64` counters; with our
//!   recorder they are exposed as exact decimals in dollars. Other recorders expose the raw
//!   nano-unit integer.

mod cache;
mod handles;
mod health;
mod http;
mod inference;
mod labels;
mod storage;

use std::{sync::Arc, time::Duration};

use gatewayz_registry::catalogue::{
    ACTIVE_API_KEYS, ACTIVE_SUBSCRIPTIONS, GATEWAY_OVERHEAD, HTTP_REQUESTS_IN_FLIGHT, TRIALS_ACTIVE,
};
use metrics::{Gauge, Histogram};

pub use health::HealthReport;
pub use http::InFlight;
pub use inference::Inference;
pub use labels::{
    AnomalyKind, CircuitState, ErrorKind, HealthStatus, Outcome, TokenType, status_class,
};
pub use storage::{CacheMetrics, QueryTimer};

use crate::{
    cache::Cache,
    health::HealthHandles,
    http::{HttpHandles, HttpKey, HttpRef},
    inference::{InferenceHandles, Pair, PairKey, ProviderHandles},
    labels::seconds,
    storage::QueryHandles,
};

/// Tuning of the handle caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Most entries each handle map keeps (providers, pairs, routes, operations).
    pub cache_capacity: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            cache_capacity: 8192,
        }
    }
}

impl MetricsConfig {
    /// A configuration with this cache capacity.
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }
}

/// Business numbers, as collected periodically from the service's database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Business {
    /// API keys that are active.
    pub active_api_keys: u64,
    /// Paid subscriptions that are active.
    pub active_subscriptions: u64,
    /// Trials that are active.
    pub active_trials: u64,
}

/// The instrumentation facade. Cheap to clone; clones share their handle caches.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    providers: Cache<Box<str>, Arc<ProviderHandles>>,
    inferences: Cache<PairKey, InferenceHandles>,
    health: Cache<Box<str>, HealthHandles>,
    http: Cache<HttpKey, HttpHandles>,
    queries: Cache<Box<str>, QueryHandles>,
    overhead: Histogram,
    in_flight: Gauge,
    business: [Gauge; 3],
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("providers", &self.inner.providers.len())
            .field("inferences", &self.inner.inferences.len())
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A facade over the current recorder, with default cache sizes.
    pub fn new() -> Self {
        Metrics::with_config(MetricsConfig::default())
    }

    /// A facade over the current recorder. Also describes the catalogue to it, so recorders
    /// that take help text from `describe_*` show the catalogue's.
    pub fn with_config(config: MetricsConfig) -> Self {
        gatewayz_registry::describe_catalogue();
        let capacity = config.cache_capacity;
        Metrics {
            inner: Arc::new(Inner {
                providers: Cache::new(capacity),
                inferences: Cache::new(capacity),
                health: Cache::new(capacity),
                http: Cache::new(capacity),
                queries: Cache::new(capacity),
                overhead: handles::histogram(&GATEWAY_OVERHEAD, &[]),
                in_flight: handles::gauge(&HTTP_REQUESTS_IN_FLIGHT, &[]),
                business: [&ACTIVE_API_KEYS, &ACTIVE_SUBSCRIPTIONS, &TRIALS_ACTIVE]
                    .map(|def| handles::gauge(def, &[])),
            }),
        }
    }

    /// Handle sets held in the caches, across providers, pairs, routes and operations; bounded
    /// by [`MetricsConfig::cache_capacity`] per map.
    pub fn cached_entries(&self) -> usize {
        let inner = &self.inner;
        inner.providers.len()
            + inner.inferences.len()
            + inner.health.len()
            + inner.http.len()
            + inner.queries.len()
    }

    fn provider(&self, provider: &str) -> Arc<ProviderHandles> {
        self.inner.providers.with(
            provider,
            || (provider.into(), Arc::new(ProviderHandles::new(provider))),
            Arc::clone,
        )
    }

    fn with_health<R>(&self, provider: &str, f: impl FnOnce(&HealthHandles) -> R) -> R {
        self.inner.health.with(
            provider,
            || (provider.into(), HealthHandles::new(provider)),
            f,
        )
    }

    /// An inference call finished: updates requests, duration, time to first token, tokens,
    /// token efficiency, cost, credits, and the provider's response time, errors and
    /// availability, consistently.
    pub fn inference_finished(&self, inference: &Inference<'_>) {
        let pair = Pair(inference.provider, inference.model);
        self.inner.inferences.with(
            &pair,
            || {
                let provider = self.provider(inference.provider);
                (
                    pair.to_key(),
                    InferenceHandles::new(provider, inference.provider, inference.model),
                )
            },
            |handles| handles.record(inference),
        );
    }

    /// A provider call that is not an inference (a model listing, an embedding) finished:
    /// response time, errors, availability. Inferences record this themselves.
    pub fn provider_call_finished(
        &self,
        provider: &str,
        duration: Duration,
        result: Result<(), ErrorKind>,
    ) {
        self.provider(provider).call(duration, result);
    }

    /// A health probe of `provider` got an answer (`true`) or not.
    pub fn provider_probed(&self, provider: &str, reachable: bool) {
        self.provider(provider).probe(reachable);
    }

    /// An HTTP request was served. `route` must be the route template (`/v1/models/{id}`),
    /// never the raw path; `method` outside the standard set is recorded as `other`.
    pub fn http_request_finished(
        &self,
        method: &str,
        route: &str,
        status: u16,
        duration: Duration,
    ) {
        let key = HttpRef::new(method, route, status);
        self.inner.http.with(
            &key,
            || (key.to_key(), HttpHandles::new(&key)),
            |handles| {
                handles.requests.increment(1);
                handles.duration.record(seconds(duration));
            },
        );
    }

    /// An HTTP request started; it counts as in flight until the guard is dropped.
    pub fn http_request_started(&self) -> InFlight {
        InFlight::start(&self.inner.in_flight)
    }

    /// Time the gateway spent on one proxied request outside provider calls.
    pub fn gateway_overhead(&self, duration: Duration) {
        self.inner.overhead.record(seconds(duration));
    }

    /// A database query finished.
    pub fn database_query_finished(&self, operation: &str, duration: Duration, ok: bool) {
        self.with_query(operation, |handles| handles.record(duration, ok));
    }

    /// Starts timing a database query; it is recorded when the timer is dropped.
    pub fn time_database_query(&self, operation: &str) -> QueryTimer {
        QueryTimer::start(self.with_query(operation, QueryHandles::clone))
    }

    fn with_query<R>(&self, operation: &str, f: impl FnOnce(&QueryHandles) -> R) -> R {
        self.inner.queries.with(
            operation,
            || (operation.into(), QueryHandles::new(operation)),
            f,
        )
    }

    /// Hit and miss counters for the cache named `cache`; resolve once and keep.
    pub fn cache(&self, cache: &str) -> CacheMetrics {
        CacheMetrics::new(cache)
    }

    /// Business numbers were collected.
    pub fn business_collected(&self, business: &Business) {
        let values = [
            business.active_api_keys,
            business.active_subscriptions,
            business.active_trials,
        ];
        for (gauge, value) in self.inner.business.iter().zip(values) {
            gauge.set(value as f64);
        }
    }

    /// A provider's health was recomputed.
    pub fn provider_health_computed(&self, provider: &str, report: &HealthReport) {
        self.with_health(provider, |h| h.report(report));
    }

    /// Publishes a circuit's current state (one-hot), without counting a transition.
    pub fn circuit_state(&self, provider: &str, state: CircuitState) {
        self.with_health(provider, |h| h.circuit(state));
    }

    /// A circuit changed state: counts the transition and publishes the new state.
    pub fn circuit_transitioned(&self, provider: &str, from: CircuitState, to: CircuitState) {
        health::transition(provider, from, to);
        self.circuit_state(provider, to);
    }

    /// A call was refused because the provider's circuit was open (or its probes spent).
    pub fn call_rejected(&self, provider: &str) {
        self.with_health(provider, HealthHandles::rejected);
    }

    /// A request moved on from `provider` to the next candidate because of `reason`.
    pub fn failed_over(&self, provider: &str, reason: ErrorKind) {
        self.with_health(provider, |h| h.failed_over(reason));
    }

    /// An anomaly became active: counts it and sets its active gauge.
    pub fn anomaly_started(&self, provider: &str, kind: AnomalyKind) {
        self.with_health(provider, |h| h.anomaly(kind, true));
    }

    /// An anomaly is over.
    pub fn anomaly_ended(&self, provider: &str, kind: AnomalyKind) {
        self.with_health(provider, |h| h.anomaly(kind, false));
    }
}
