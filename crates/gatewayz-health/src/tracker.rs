//! The tracker: its configuration, clock and facade, the registered providers, and the
//! operations on them.

use std::{
    fmt,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use gatewayz_metrics::Metrics;
use hashbrown::HashMap;

use crate::{
    AnomalyEvent, Clock, Error, HealthConfig, Permit, ProviderConfig, Rejected, SystemClock,
    anomaly::Geometry,
    models::Models,
    permit,
    provider::{Admin, Provider, Shared, read},
    shared::{CircuitStore, SharedSeries, SharedStatus},
};

/// Health, circuits and anomalies of a set of providers. Hold it in an `Arc` and share it
/// between the request path ([`route`](Self::route), [`Permit::finish`]), a periodic task
/// ([`tick`](Self::tick)) and the admin endpoints ([`force_open`](Self::force_open), ...).
pub struct HealthTracker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) providers: Providers,
}

/// The registered providers by name, shared with the routes that hand them out.
pub(crate) type Providers = Arc<RwLock<HashMap<Box<str>, Arc<Provider>>>>;

impl fmt::Debug for HealthTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthTracker")
            .field("providers", &read(&self.providers).len())
            .field("clock", &self.shared.clock)
            .finish_non_exhaustive()
    }
}

/// Builds a [`HealthTracker`]: the configuration, and optionally a clock and a metrics facade.
#[derive(Debug)]
#[must_use]
pub struct HealthTrackerBuilder {
    config: HealthConfig,
    clock: Box<dyn Clock>,
    metrics: Option<Metrics>,
    store: Option<Box<dyn CircuitStore>>,
}

impl HealthTrackerBuilder {
    /// Reads time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Records every attempt reported on a permit through `metrics` too, and publishes the
    /// health series (scores, states, refusals, failovers, anomalies) with its recorder.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Shares the circuits with the other replicas of a fleet through `store` (see
    /// [`CircuitStore`] for what is shared and how a replica falls back when the store is
    /// unreachable). Without one, each breaker acts alone, at no cost.
    pub fn circuit_store(mut self, store: impl CircuitStore + 'static) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// Validates the configuration and registers the providers it lists.
    pub fn build(self) -> Result<HealthTracker, Error> {
        self.config.validate()?;
        let width = self.config.window.bucket_width();
        let geometry = Geometry {
            observed: (self.config.anomaly.window.as_nanos() / width.as_nanos()) as u64,
            warmup: self
                .config
                .anomaly
                .warmup
                .as_nanos()
                .div_ceil(width.as_nanos()) as u64,
        };
        // Published from the start, so a fallback before the first tick shows.
        let shared_series =
            self.store
                .as_ref()
                .zip(self.metrics.as_ref())
                .map(|(store, metrics)| {
                    let series = SharedSeries::register(metrics);
                    series.publish(store.status());
                    series
                });
        let tracker = HealthTracker {
            shared: Arc::new(Shared {
                config: self.config,
                clock: self.clock,
                metrics: self.metrics,
                geometry,
                models: Models::default(),
                shared_series,
                store: self.store,
            }),
            providers: Arc::new(RwLock::new(HashMap::new())),
        };
        for (name, overrides) in &tracker.shared.config.providers {
            tracker.register(name, *overrides)?;
        }
        Ok(tracker)
    }
}

impl HealthTracker {
    /// A tracker on the system clock, publishing nothing.
    pub fn new(config: HealthConfig) -> Result<Self, Error> {
        HealthTracker::builder(config).build()
    }

    /// A builder, to give a clock or a metrics facade.
    pub fn builder(config: HealthConfig) -> HealthTrackerBuilder {
        HealthTrackerBuilder {
            config,
            clock: Box::new(SystemClock::new()),
            metrics: None,
            store: None,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &HealthConfig {
        &self.shared.config
    }

    /// Starts tracking `provider` (spelled as its metric label) with `overrides`. With a
    /// `Metrics` facade, its health series are registered now and published as unknown, its
    /// circuit closed.
    pub fn register(&self, provider: &str, overrides: ProviderConfig) -> Result<(), Error> {
        let settings = self.shared.config.resolve_provider(provider, &overrides)?;
        let mut providers = self
            .providers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if providers.contains_key(provider) {
            return Err(Error::AlreadyRegistered {
                provider: provider.to_owned(),
            });
        }
        let entry = Provider::new(provider, settings, Arc::clone(&self.shared));
        providers.insert(provider.into(), Arc::new(entry));
        Ok(())
    }

    pub(crate) fn get(&self, provider: &str) -> Option<Arc<Provider>> {
        read(&self.providers).get(provider).cloned()
    }

    fn known(&self, provider: &str) -> Result<Arc<Provider>, Error> {
        self.get(provider).ok_or_else(|| Error::UnknownProvider {
            provider: provider.to_owned(),
        })
    }

    /// The admission check for one call to `provider`: a permit, or why not.
    ///
    /// Closed circuits admit every call. Open ones refuse until their cool-down ends; the
    /// first check after that moves them to half-open, where at most `half_open_probes`
    /// permits are out at once, however many threads ask. A refusal is not an attempt: it is
    /// counted in `gatewayz_circuit_breaker_rejections_total` and in the window (as a request
    /// the provider did not serve), never as an inference. A request that may fail over uses
    /// [`route`](Self::route), which calls this for each candidate.
    pub fn try_acquire(&self, provider: &str) -> Result<Permit, Rejected> {
        let provider = self.get(provider).ok_or(Rejected::Unregistered)?;
        permit::acquire(&provider, None)
    }

    /// Records a health probe (a cheap request made only to see whether the provider
    /// answers): it counts towards availability only, as available when the provider answered
    /// properly. Also sets `provider_availability` through the tracker's `Metrics`.
    pub fn probed(&self, provider: &str, available: bool) -> Result<(), Error> {
        self.known(provider)?.probed(available);
        Ok(())
    }

    /// Recomputes every provider's score, status and anomalies from its window as of now,
    /// moves open circuits whose cool-down is over to half-open, and publishes it all. Call it
    /// periodically (every 10 to 30 s; at least once per window). Returns the anomalies that
    /// started or ended, by provider name.
    pub fn tick(&self) -> Vec<AnomalyEvent> {
        let mut events = Vec::new();
        let mut providers: Vec<Arc<Provider>> = read(&self.providers).values().cloned().collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        for provider in providers {
            provider.tick(&mut events);
        }
        if let (Some(series), Some(status)) = (&self.shared.shared_series, self.shared_status()) {
            series.publish(status);
        }
        events
    }

    /// Whether the circuits are shared through the tracker's [`CircuitStore`] right now;
    /// `None` without a store.
    pub fn shared_status(&self) -> Option<SharedStatus> {
        self.shared.store.as_ref().map(|store| store.status())
    }

    /// Opens the circuit until [`force_close`](Self::force_close) or [`reset`](Self::reset):
    /// an operator takes the provider out of rotation.
    pub fn force_open(&self, provider: &str) -> Result<(), Error> {
        self.known(provider)?.admin(Admin::ForceOpen);
        Ok(())
    }

    /// Closes the circuit and forgets its trips, keeping the window and baselines.
    pub fn force_close(&self, provider: &str) -> Result<(), Error> {
        self.known(provider)?.admin(Admin::ForceClose);
        Ok(())
    }

    /// Forgets everything about the provider: circuit, window, baselines, anomalies (ending
    /// the active ones). Its status is unknown until enough new calls arrive.
    pub fn reset(&self, provider: &str) -> Result<(), Error> {
        self.known(provider)?.admin(Admin::Reset);
        Ok(())
    }

    pub(crate) fn now(&self) -> Duration {
        self.shared.clock.now()
    }
}
