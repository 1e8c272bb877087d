//! Typed instrumentation helpers for LLM API gateways, over the [`metrics`] facade.
//!
//! Every helper is named for what happened (an inference finished, a request was served, a
//! query ran) and takes typed arguments; metric names and label names come from the
//! [`catalogue`]. It works with whichever `metrics` recorder is installed:
//! `gatewayz-registry`'s, `metrics-exporter-prometheus`, or none (then every call is a no-op).
//! It depends on neither the recorder nor serde: a library that instruments itself pulls the
//! catalogue, `metrics` and a hash map.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use gatewayz_metrics::{Inference, Metrics, MetricsConfig, Outcome};
//!
//! let recorder = gatewayz_registry::RecorderBuilder::new().build()?;
//! let handle = recorder.handle();
//! // A service installs the recorder globally and uses `Metrics::new()`; a test binds one.
//! let metrics = Metrics::with_recorder(Arc::new(recorder), MetricsConfig::default());
//! metrics.inference_finished(&Inference {
//!     provider: "openrouter",
//!     model: "gpt-4o-mini",
//!     outcome: Outcome::Success,
//!     duration: Duration::from_millis(840),
//!     time_to_first_token: Some(Duration::from_millis(210)),
//!     input_tokens: 1200,
//!     output_tokens: 300,
//!     cost_usd: 0.00036,
//!     credits: 0.00036,
//! });
//! let summary = handle.summary(None);
//! assert_eq!(summary.metrics.models.unwrap().tokens_used_total, 1500);
//! # Ok::<(), gatewayz_registry::Error>(())
//! ```
//!
//! # One call per provider attempt
//!
//! Each upstream attempt is reported once. A service without provider health calls
//! [`Metrics::inference_finished`]; a service with `gatewayz-health` reports the attempt on its
//! permit (`Permit::finish`), which records the same [`Inference`] here and in the provider's
//! health window. Health scores, statuses, circuit states, refusals, failovers and anomalies
//! are published by `gatewayz-health` alone: this crate has no hook for them, so they cannot be
//! counted twice.
//!
//! # Behaviour
//!
//! - **Handles are resolved once.** The first call for a provider, a (provider, model) pair, a
//!   route or a database operation registers its handles with the facade's recorder: the one
//!   given to [`Metrics::with_recorder`], or else the one `metrics` says is current at that
//!   moment (so create [`Metrics::new`] after installing the global recorder). Later calls find
//!   them in a small concurrent map and cost a few atomic operations.
//! - **Bounded.** Label values are normalised as the catalogue says (trimmed, lower-cased
//!   identifiers, cut to 128 bytes). The cap on distinct values is the recorder's job
//!   (`gatewayz-registry` folds the excess into `other`); this crate's maps stop growing at
//!   [`MetricsConfig::cache_capacity`] entries each and resolve uncached keys per call.
//! - **Nothing personal.** No helper takes an API key, user id, e-mail or prompt: there is no
//!   way to make one a label.
//! - **Unknown is absent.** Gauges whose value comes from outside (business numbers,
//!   availability, token efficiency) are registered when the first value arrives, so nothing
//!   reads 0 before anything was collected. Customer-event counters likewise appear at the
//!   first collection ([`Metrics::customer_totals_collected`]), all at once.
//! - **Totals from the database.** Customer events (trials, conversions, cancellations, top-ups)
//!   happen in other processes and by time, so the service counts them in its database and the
//!   counters are set to its totals, not incremented: they survive restarts, and every replica
//!   on one database reports the same value (take `max` across replicas).
//! - **Money.** Dollars and credits are counted in nano-units on `u64` counters, which only a
//!   recorder that knows the catalogue's scales can show in dollars. When the facade is built it
//!   asks its recorder through the [`catalogue::handshake`]; `gatewayz-registry`'s answers. Any
//!   other recorder gets no `gatewayz_cost_usd_total` or `credits_used_total` series at all
//!   (never nano-dollars under a dollar name): each amount it could not take is counted in
//!   `gatewayz_metric_conflicts_total{metric="gatewayz_cost_usd_total"}` instead, and
//!   [`Metrics::records_money`] says so. The per-request cost histogram
//!   (`gatewayz_request_cost_usd`, in dollars as `f64`) is recorded under any recorder.

mod cache;
mod customers;
mod handles;
mod http;
mod inference;
mod labels;
mod storage;

use std::{
    fmt,
    sync::{Arc, OnceLock},
    time::Duration,
};

pub use customers::CustomerTotals;
/// The metric catalogue (the `gatewayz-catalogue` crate), re-exported.
pub use gatewayz_catalogue as catalogue;
pub use gatewayz_catalogue::{
    AnomalyKind, CircuitState, CustomerEvent, ErrorKind, FailoverReason, HealthStatus, HttpMethod,
    InferenceStatus, Plan, RefusalReason, StatusClass, TokenType,
};
pub use http::InFlight;
pub use inference::Inference;
pub use labels::Outcome;
pub use storage::{CacheMetrics, QueryTimer};

use gatewayz_catalogue::{
    ACTIVE_API_KEYS, ACTIVE_SUBSCRIPTIONS, CATALOGUE, GATEWAY_OVERHEAD, HTTP_REQUESTS_IN_FLIGHT,
    MODEL_REQUESTS, MetricKind, PerValue, TRIALS_ACTIVE, Unit, handshake,
};
use metrics::{Counter, Gauge, Histogram, KeyName, Recorder, SharedString};

use crate::{
    cache::Cache,
    customers::CustomerHandles,
    handles::{Binding, counter, gauge, histogram},
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
    binding: Binding,
    /// The recorder acknowledged the money handshake.
    money: bool,
    providers: Cache<Box<str>, Arc<ProviderHandles>>,
    inferences: Cache<PairKey, InferenceHandles>,
    models: Cache<Box<str>, PerValue<InferenceStatus, Counter>>,
    http: Cache<HttpKey, HttpHandles>,
    queries: Cache<Box<str>, QueryHandles>,
    overhead: Histogram,
    in_flight: Gauge,
    /// Registered at the first collection: before it the numbers are unknown, not 0.
    business: OnceLock<[Gauge; 3]>,
    /// Registered at the first collection, for the same reason.
    customers: OnceLock<CustomerHandles>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("recorder", &self.inner.binding)
            .field("records_money", &self.inner.money)
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
    /// A facade over the current recorder (the thread's local one, else the global one), with
    /// default cache sizes.
    pub fn new() -> Self {
        Metrics::with_config(MetricsConfig::default())
    }

    /// A facade over the current recorder. Also describes the catalogue to it, so recorders
    /// that take help text from `describe_*` show the catalogue's.
    pub fn with_config(config: MetricsConfig) -> Self {
        Metrics::build(Binding::default(), config)
    }

    /// A facade that records into `recorder`, whatever recorder is installed: for tests, and for
    /// services that keep more than one recorder.
    pub fn with_recorder(recorder: Arc<dyn Recorder + Send + Sync>, config: MetricsConfig) -> Self {
        Metrics::build(Binding::to(recorder), config)
    }

    fn build(binding: Binding, config: MetricsConfig) -> Self {
        let capacity = config.cache_capacity;
        let money = binding.with(|r| {
            describe_catalogue(r);
            handshake::ask(|| {
                r.describe_counter(
                    KeyName::from_const_str(handshake::PROBE),
                    None,
                    SharedString::const_str(""),
                );
            })
        });
        let (overhead, in_flight) = binding.with(|r| {
            (
                histogram(r, &GATEWAY_OVERHEAD, &[]),
                gauge(r, &HTTP_REQUESTS_IN_FLIGHT, &[]),
            )
        });
        Metrics {
            inner: Arc::new(Inner {
                binding,
                money,
                providers: Cache::new(capacity),
                inferences: Cache::new(capacity),
                models: Cache::new(capacity),
                http: Cache::new(capacity),
                queries: Cache::new(capacity),
                overhead,
                in_flight,
                business: OnceLock::new(),
                customers: OnceLock::new(),
            }),
        }
    }

    /// Whether dollars and credits are recorded: the recorder said, through the
    /// [`catalogue::handshake`], that it shows them in dollars. See the crate docs.
    pub fn records_money(&self) -> bool {
        self.inner.money
    }

    /// Runs `f` with the facade's recorder as the current one for the `metrics` macros and
    /// for `metrics::with_recorder`: how a crate that publishes catalogued series of its own
    /// (such as `gatewayz-health`) registers them with the same recorder.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.inner.binding.scope(f)
    }

    /// Handle sets held in the caches, across providers, pairs, routes and operations; bounded
    /// by [`MetricsConfig::cache_capacity`] per map.
    pub fn cached_entries(&self) -> usize {
        let inner = &self.inner;
        inner.providers.len()
            + inner.inferences.len()
            + inner.models.len()
            + inner.http.len()
            + inner.queries.len()
    }

    fn provider(&self, provider: &str) -> Arc<ProviderHandles> {
        let binding = &self.inner.binding;
        self.inner.providers.with(
            provider,
            || {
                let handles = binding.with(|r| ProviderHandles::new(r, binding, provider));
                (provider.into(), Arc::new(handles))
            },
            Arc::clone,
        )
    }

    /// An inference call finished: updates requests, duration, time to first token (a plain
    /// completion's duration when it succeeded), time per output token (streams), tokens,
    /// token efficiency, cost, credits, and the provider's response time, errors and
    /// availability, consistently.
    ///
    /// A service that tracks provider health reports the attempt on its permit instead
    /// (`gatewayz_health::Permit::finish`), which calls this.
    pub fn inference_finished(&self, inference: &Inference<'_>) {
        let pair = Pair(inference.provider, inference.model);
        self.inner.inferences.with(
            &pair,
            || {
                let provider = self.provider(inference.provider);
                let handles = self.inner.binding.with(|r| {
                    InferenceHandles::new(
                        r,
                        self.inner.money,
                        provider,
                        inference.provider,
                        inference.model,
                    )
                });
                (pair.to_key(), handles)
            },
            |handles| handles.record(inference),
        );
    }

    /// Registers the series of a (provider, model) pair before its first call, counters at 0,
    /// so that Prometheus sees them start from zero: `increase()` over a period then counts the
    /// pair's first calls too, where a counter that appears with its first call loses whatever
    /// it counted before its first scrape. A service calls this at start for every pair it
    /// routes; pairs it did not expect are registered on their first call as before. Gauges
    /// stay absent until a call sets them. The model's client requests
    /// ([`model_request_finished`](Self::model_request_finished)) start at zero too.
    pub fn expect_inferences(&self, provider: &str, model: &str) {
        let pair = Pair(provider, model);
        self.inner.inferences.with(
            &pair,
            || {
                let provider_handles = self.provider(provider);
                let handles = self.inner.binding.with(|r| {
                    InferenceHandles::new(r, self.inner.money, provider_handles, provider, model)
                });
                (pair.to_key(), handles)
            },
            |_| (),
        );
        self.inner
            .models
            .with(model, || (model.into(), self.model_requests(model)), |_| ());
    }

    /// A client's request for `model` has been answered (`Success`: a provider's answer is on
    /// its way) or given up (`Error`: every candidate provider failed or was refused by its
    /// circuit): `gatewayz_model_requests_total`, once per request, however many attempts it
    /// took.
    ///
    /// This is the client's view that the per-model availability objective reads: with
    /// failover, attempts and requests differ (a request rescued by the second provider is one
    /// failed attempt and one success), and while a circuit is open a failing request makes no
    /// attempt at all. Call it where the request's route ends; do not call it for requests
    /// refused before routing (unknown model, no credits) or rejected by the provider as
    /// invalid, which are the client's doing.
    pub fn model_request_finished(&self, model: &str, status: InferenceStatus) {
        self.inner.models.with(
            model,
            || (model.into(), self.model_requests(model)),
            |handles| handles.get(status).increment(1),
        );
    }

    fn model_requests(&self, model: &str) -> PerValue<InferenceStatus, Counter> {
        self.inner.binding.with(|r| {
            PerValue::new(|s: InferenceStatus| counter(r, &MODEL_REQUESTS, &[model, s.as_str()]))
        })
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

    /// A health probe of `provider` was answered properly (`true`) or not: sets
    /// `provider_availability`.
    pub fn provider_probed(&self, provider: &str, available: bool) {
        self.provider(provider).probe(available);
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
            || {
                let handles = self.inner.binding.with(|r| HttpHandles::new(r, &key));
                (key.to_key(), handles)
            },
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
            || {
                let handles = self.inner.binding.with(|r| QueryHandles::new(r, operation));
                (operation.into(), handles)
            },
            f,
        )
    }

    /// Hit and miss counters for the cache named `cache`; resolve once and keep.
    pub fn cache(&self, cache: &str) -> CacheMetrics {
        self.inner.binding.with(|r| CacheMetrics::new(r, cache))
    }

    /// Business numbers were collected. Until the first collection the business gauges do not
    /// exist: the summary says `null`, the exposition has no series.
    pub fn business_collected(&self, business: &Business) {
        let gauges = self.inner.business.get_or_init(|| {
            self.inner.binding.with(|r| {
                [&ACTIVE_API_KEYS, &ACTIVE_SUBSCRIPTIONS, &TRIALS_ACTIVE]
                    .map(|def| gauge(r, def, &[]))
            })
        });
        let values = [
            business.active_api_keys,
            business.active_subscriptions,
            business.active_trials,
        ];
        for (gauge, value) in gauges.iter().zip(values) {
            gauge.set(value as f64);
        }
    }

    /// Customer events and top-ups were collected from the service's database: sets
    /// `gatewayz_customer_events_total` and `gatewayz_credits_topped_up_total` to its totals
    /// (`Counter::absolute`: a total never goes down, and a stale or smaller one is ignored).
    ///
    /// Until the first collection the counters do not exist; from it, every (event, plan) pair
    /// that can happen exists, at 0 until its first event. Top-up amounts are recorded only
    /// under a recorder that shows credits in their unit ([`Metrics::records_money`]).
    pub fn customer_totals_collected(&self, totals: &CustomerTotals) {
        self.inner
            .customers
            .get_or_init(|| {
                self.inner
                    .binding
                    .with(|r| CustomerHandles::new(r, self.inner.money))
            })
            .set(totals);
    }
}

/// Declares every catalogued metric to `recorder` (`describe_*`), so that other recorders, such
/// as `metrics-exporter-prometheus`, show the catalogue's help text and units.
fn describe_catalogue(recorder: &dyn Recorder) {
    for def in CATALOGUE {
        let unit = (def.unit == Unit::Seconds).then_some(metrics::Unit::Seconds);
        let name = KeyName::from_const_str(def.name);
        let help = SharedString::const_str(def.help);
        match def.kind {
            MetricKind::Counter => recorder.describe_counter(name, unit, help),
            MetricKind::Gauge => recorder.describe_gauge(name, unit, help),
            MetricKind::Histogram => recorder.describe_histogram(name, unit, help),
        }
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
