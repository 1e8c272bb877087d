//! The tracker: providers, their windows, circuits and anomaly detectors, and publishing.

use std::{
    fmt,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, RwLock,
        atomic::{
            AtomicU64,
            Ordering::{Acquire, Relaxed, Release},
        },
    },
    time::Duration,
};

use gatewayz_metrics::{ErrorKind, HealthReport, HealthStatus, Metrics};
use hashbrown::HashMap;

use crate::{
    AnomalyEvent, AnomalyPhase, CallOutcome, CircuitSnapshot, Clock, Error, HealthConfig,
    ProviderConfig, ProviderSnapshot, SystemClock,
    anomaly::{Detector, Geometry},
    breaker::{Breaker, Phase, Refusal, Transition},
    config::Resolved,
    outcome::Class,
    score::{assess, next_status, with_circuit},
    window::Window,
};

/// Health, circuits and anomalies of a set of providers. Hold it in an `Arc` and share it
/// between the request path (`try_acquire`, `Permit::record`), a periodic task (`tick`) and
/// the admin and health endpoints (`snapshot`, `force_open`, ...).
pub struct HealthTracker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) providers: RwLock<HashMap<Box<str>, Arc<Provider>>>,
}

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
}

impl HealthTrackerBuilder {
    /// Reads time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Publishes scores, states and events through `metrics`.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
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
        let tracker = HealthTracker {
            shared: Arc::new(Shared {
                config: self.config,
                clock: self.clock,
                metrics: self.metrics,
                geometry,
            }),
            providers: RwLock::new(HashMap::new()),
        };
        for (name, overrides) in &tracker.shared.config.providers {
            tracker.register(name, *overrides)?;
        }
        Ok(tracker)
    }
}

/// What every provider shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: HealthConfig,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) metrics: Option<Metrics>,
    pub(crate) geometry: Geometry,
}

/// One provider. Everything mutable is behind `state`, a mutex held for a few dozen
/// nanoseconds per call (under a microsecond per tick); `view` mirrors what failover ordering
/// reads, so ordering takes no lock.
#[derive(Debug)]
pub(crate) struct Provider {
    pub(crate) name: Box<str>,
    settings: Resolved,
    shared: Arc<Shared>,
    state: Mutex<State>,
    pub(crate) view: View,
}

#[derive(Debug)]
struct State {
    window: Window,
    breaker: Breaker,
    detector: Detector,
    /// Status from the score alone, before the circuit rule: what hysteresis starts from.
    score_status: HealthStatus,
    report: HealthReport,
    requests: u64,
}

/// Lock-free mirror of the circuit and score, written under the state lock.
#[derive(Debug)]
pub(crate) struct View {
    /// Phase in the low byte (0 closed, 1 open, 2 half-open), probes admitted above it.
    circuit: AtomicU64,
    /// Clock time (ns) an open circuit lets a probe through; `u64::MAX` if forced open.
    open_until: AtomicU64,
    /// `f64` bits of the score used for ordering.
    score: AtomicU64,
}

/// The circuit as failover ordering sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Routing {
    Closed,
    Open { until_nanos: u64 },
    HalfOpen { admitted: u32 },
}

impl View {
    fn new(score: f64) -> Self {
        View {
            circuit: AtomicU64::new(0),
            open_until: AtomicU64::new(u64::MAX),
            score: AtomicU64::new(score.to_bits()),
        }
    }

    fn store(&self, breaker: &Breaker) {
        let (code, until) = match breaker.phase() {
            Phase::Closed => (0, u64::MAX),
            Phase::Open { until } => (
                1,
                until.map_or(u64::MAX, |u| {
                    u64::try_from(u.as_nanos()).unwrap_or(u64::MAX)
                }),
            ),
            Phase::HalfOpen { admitted, .. } => (2 | u64::from(admitted) << 8, u64::MAX),
        };
        self.open_until.store(until, Relaxed);
        // Release pairs with the Acquire in `routing`: a reader that sees this phase also
        // sees its deadline, never the one of an earlier phase.
        self.circuit.store(code, Release);
    }

    pub(crate) fn routing(&self) -> Routing {
        let code = self.circuit.load(Acquire);
        match code & 0xff {
            0 => Routing::Closed,
            1 => Routing::Open {
                until_nanos: self.open_until.load(Relaxed),
            },
            _ => Routing::HalfOpen {
                admitted: (code >> 8) as u32,
            },
        }
    }

    pub(crate) fn score(&self) -> f64 {
        f64::from_bits(self.score.load(Relaxed))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding a lock, and a half-applied update would still be a
    // consistent state; recover rather than cascade a panic onto the request path.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn unknown_report() -> HealthReport {
    HealthReport {
        status: HealthStatus::Unknown,
        score: None,
        availability: None,
        error_rate: None,
        latency_score: None,
        latency_p95: None,
    }
}

/// Why [`HealthTracker::try_acquire`] refused a call. The gateway moves on to the next
/// candidate, counting a failover with reason `circuit_open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The circuit is open; `retry_after` is the time left of its cool-down (`None` when an
    /// operator forced it open).
    Open {
        /// Time until the circuit lets a probe through.
        retry_after: Option<Duration>,
    },
    /// The circuit is half-open and every probe slot is taken.
    ProbesBusy,
    /// The provider is not registered.
    Unregistered,
}

impl Rejected {
    /// Time until a call may be admitted, when known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Rejected::Open { retry_after } => *retry_after,
            Rejected::ProbesBusy | Rejected::Unregistered => None,
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Open {
                retry_after: Some(after),
            } => write!(
                f,
                "circuit open; try another provider, or this one in {:.1} s",
                after.as_secs_f64()
            ),
            Rejected::Open { retry_after: None } => {
                f.write_str("circuit forced open by an operator; try another provider")
            }
            Rejected::ProbesBusy => {
                f.write_str("circuit half-open and its probe calls are taken; try another provider")
            }
            Rejected::Unregistered => f.write_str(
                "provider not registered with the health tracker; register it at start-up",
            ),
        }
    }
}

impl std::error::Error for Rejected {}

/// Admission to call a provider. Record the call's outcome with [`Permit::record`]; a permit
/// dropped without an outcome (a cancelled request) gives its probe slot back.
#[must_use = "record the call's outcome with `Permit::record`, or drop the permit if the call was not made"]
pub struct Permit {
    provider: Arc<Provider>,
    probe: Option<u64>,
    finished: bool,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("provider", &self.provider.name)
            .field("probe", &self.is_probe())
            .finish()
    }
}

impl Permit {
    /// The provider this permit is for.
    pub fn provider(&self) -> &str {
        &self.provider.name
    }

    /// Whether this call is a half-open probe: its outcome decides whether the circuit closes.
    pub fn is_probe(&self) -> bool {
        self.probe.is_some()
    }

    /// Records how the call ended.
    pub fn record(mut self, outcome: CallOutcome) {
        self.finished = true;
        self.provider.record(outcome, self.probe);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.finished
            && let Some(generation) = self.probe
        {
            let mut state = lock(&self.provider.state);
            state.breaker.release(generation);
            self.provider.view.store(&state.breaker);
        }
    }
}

impl Provider {
    fn new(name: &str, settings: Resolved, shared: Arc<Shared>) -> Self {
        let now = shared.clock.now();
        let config = &shared.config;
        let window = Window::new(config.window.bucket_width(), config.window.buckets);
        // The baseline starts with the first whole bucket after registration.
        let partial = now.as_nanos() % config.window.bucket_width().as_nanos() != 0;
        let first = window.epoch(now) + u64::from(partial);
        Provider {
            name: name.into(),
            settings,
            view: View::new(config.failover.unknown_score),
            state: Mutex::new(State {
                window,
                breaker: Breaker::new(now, &settings.circuit),
                detector: Detector::new(first),
                score_status: HealthStatus::Unknown,
                report: unknown_report(),
                requests: 0,
            }),
            shared,
        }
    }

    fn publish(&self, transition: Option<Transition>) {
        if let (Some((from, to)), Some(metrics)) = (transition, &self.shared.metrics) {
            metrics.circuit_transitioned(&self.name, from, to);
        }
    }

    fn acquire(self: &Arc<Self>) -> Result<Permit, Rejected> {
        let (admission, transition) = {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let (admission, transition) = state.breaker.acquire(now, &self.settings.circuit);
            if admission.is_err() {
                let bucket = state.window.current(now);
                bucket.rejected = bucket.rejected.saturating_add(1);
            }
            self.view.store(&state.breaker);
            (admission, transition)
        };
        self.publish(transition);
        match admission {
            Ok(probe) => Ok(Permit {
                provider: Arc::clone(self),
                probe,
                finished: false,
            }),
            Err(refusal) => {
                if let Some(metrics) = &self.shared.metrics {
                    metrics.call_rejected(&self.name);
                }
                Err(match refusal {
                    Refusal::Open { retry_after } => Rejected::Open { retry_after },
                    Refusal::ProbesBusy => Rejected::ProbesBusy,
                })
            }
        }
    }

    fn record(&self, outcome: CallOutcome, probe: Option<u64>) {
        let class = outcome.class();
        let transition = {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            if class != Class::NotMade {
                let bucket = state.window.current(now);
                bucket.calls = bucket.calls.saturating_add(1);
                match class {
                    Class::Failure { answered } => {
                        bucket.failures = bucket.failures.saturating_add(1);
                        bucket.answered = bucket.answered.saturating_add(u32::from(answered));
                    }
                    _ => {
                        bucket.answered = bucket.answered.saturating_add(1);
                        bucket.latency(outcome.duration);
                    }
                }
            }
            let transition =
                state
                    .breaker
                    .record(now, &self.settings.circuit, class, outcome.duration, probe);
            self.view.store(&state.breaker);
            transition
        };
        self.publish(transition);
    }

    fn probed(&self, reachable: bool) {
        let mut state = lock(&self.state);
        let now = self.shared.clock.now();
        let bucket = state.window.current(now);
        bucket.probes = bucket.probes.saturating_add(1);
        bucket.answered = bucket.answered.saturating_add(u32::from(reachable));
    }

    fn tick(&self, events: &mut Vec<AnomalyEvent>) {
        let config = &self.shared.config;
        let (transition, report, circuit, found) = {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let transition = state.breaker.poll(now, &self.settings.circuit);
            let totals = state.window.window_totals(now);
            let mut report = assess(
                &totals,
                &config.weights,
                &self.settings.latency,
                &self.settings.status,
            );
            state.score_status =
                next_status(report.score, state.score_status, &self.settings.status);
            let circuit = state.breaker.state();
            report.status = with_circuit(state.score_status, circuit);
            state.report = report;
            state.requests = totals.demand();
            let State {
                detector, window, ..
            } = &mut *state;
            let found = detector.detect(
                &self.name,
                window,
                now,
                self.shared.geometry,
                &config.anomaly,
            );
            let routing = report.score.unwrap_or(config.failover.unknown_score);
            self.view.score.store(routing.to_bits(), Relaxed);
            self.view.store(&state.breaker);
            (transition, report, circuit, found)
        };
        self.publish(transition);
        if let Some(metrics) = &self.shared.metrics {
            metrics.provider_health_computed(&self.name, &report);
            metrics.circuit_state(&self.name, circuit);
            for event in &found {
                match event.phase {
                    AnomalyPhase::Started => metrics.anomaly_started(&self.name, event.kind),
                    AnomalyPhase::Ended => metrics.anomaly_ended(&self.name, event.kind),
                }
            }
        }
        events.extend(found);
    }

    fn status(&self) -> HealthStatus {
        let state = lock(&self.state);
        with_circuit(state.score_status, state.breaker.state())
    }

    fn snapshot(&self) -> ProviderSnapshot {
        let state = lock(&self.state);
        let now = self.shared.clock.now();
        let report = state.report;
        let phase = state.breaker.phase();
        ProviderSnapshot {
            provider: self.name.to_string(),
            status: with_circuit(state.score_status, state.breaker.state()),
            score: report.score,
            availability: report.availability,
            error_rate: report.error_rate,
            latency_score: report.latency_score,
            latency_p95: report.latency_p95,
            requests: state.requests,
            circuit: CircuitSnapshot {
                state: state.breaker.state(),
                forced: phase == Phase::Open { until: None },
                consecutive_failures: state.breaker.consecutive_failures(),
                trips: state.breaker.trips(),
                retry_after: match phase {
                    Phase::Open { until: Some(until) } => Some(until.saturating_sub(now)),
                    _ => None,
                },
                probes_admitted: match phase {
                    Phase::HalfOpen { admitted, .. } => admitted,
                    _ => 0,
                },
            },
            anomalies: state.detector.active().collect(),
            recent_events: state.detector.recent().cloned().collect(),
        }
    }

    fn admin(&self, action: Admin) {
        let (transition, ended, circuit) = {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let mut ended = Vec::new();
            let transition = match action {
                Admin::ForceOpen => state.breaker.force_open(now),
                Admin::ForceClose => state.breaker.force_close(now),
                Admin::Reset => {
                    let transition = state.breaker.force_close(now);
                    state.window.clear();
                    let first = state.window.epoch(now) + 1;
                    ended = state.detector.clear(first);
                    state.score_status = HealthStatus::Unknown;
                    state.report = unknown_report();
                    state.requests = 0;
                    let unknown = self.shared.config.failover.unknown_score;
                    self.view.score.store(unknown.to_bits(), Relaxed);
                    transition
                }
            };
            self.view.store(&state.breaker);
            (transition, ended, state.breaker.state())
        };
        self.publish(transition);
        if let Some(metrics) = &self.shared.metrics {
            metrics.circuit_state(&self.name, circuit);
            for kind in ended {
                metrics.anomaly_ended(&self.name, kind);
            }
            if action == Admin::Reset {
                metrics.provider_health_computed(&self.name, &unknown_report());
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admin {
    ForceOpen,
    ForceClose,
    Reset,
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
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &HealthConfig {
        &self.shared.config
    }

    /// Starts tracking `provider` (spelled as its metric label) with `overrides`.
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

    /// The admission check of the request path: a permit to call `provider`, or why not.
    ///
    /// Closed circuits admit every call. Open ones refuse until their cool-down ends; the
    /// first check after that moves them to half-open, where at most `half_open_probes`
    /// permits are out at once, however many threads ask. Refusals are counted (published as
    /// rejections, and in the window as requests that did not reach the provider).
    pub fn try_acquire(&self, provider: &str) -> Result<Permit, Rejected> {
        self.get(provider).ok_or(Rejected::Unregistered)?.acquire()
    }

    /// Records a call that was not admitted through [`try_acquire`](Self::try_acquire). It
    /// counts in the window and, while the circuit is closed, towards opening it; it is never
    /// a half-open probe.
    pub fn record(&self, provider: &str, outcome: CallOutcome) -> Result<(), Error> {
        self.known(provider)?.record(outcome, None);
        Ok(())
    }

    /// Records a health probe (a cheap request made only to see whether the provider
    /// answers): it counts towards availability only.
    pub fn probed(&self, provider: &str, reachable: bool) -> Result<(), Error> {
        self.known(provider)?.probed(reachable);
        Ok(())
    }

    /// The gateway moved a request on from `provider` because of `reason`: publishes it (for
    /// any provider name; nothing is kept).
    pub fn failed_over(&self, provider: &str, reason: ErrorKind) {
        if let Some(metrics) = &self.shared.metrics {
            metrics.failed_over(provider, reason);
        }
    }

    /// Recomputes every provider's score, status and anomalies from its window as of now,
    /// moves open circuits whose cool-down is over to half-open, and publishes it all. Call it
    /// periodically (every 10 to 30 s; at least once per window). Returns the anomalies that
    /// started or ended, by provider name.
    pub fn tick(&self) -> Vec<AnomalyEvent> {
        let mut events = Vec::new();
        for provider in self.sorted() {
            provider.tick(&mut events);
        }
        events
    }

    fn sorted(&self) -> Vec<Arc<Provider>> {
        let mut providers: Vec<Arc<Provider>> = read(&self.providers).values().cloned().collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        providers
    }

    /// Every provider's state, by provider name.
    pub fn snapshot(&self) -> Vec<ProviderSnapshot> {
        self.sorted().iter().map(|p| p.snapshot()).collect()
    }

    /// One provider's state.
    pub fn provider(&self, provider: &str) -> Option<ProviderSnapshot> {
        self.get(provider).map(|p| p.snapshot())
    }

    /// One provider's status, as [`provider`](Self::provider) reports it, without building
    /// the whole snapshot: cheap enough for the request path.
    pub fn status(&self, provider: &str) -> Option<HealthStatus> {
        self.get(provider).map(|p| p.status())
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
