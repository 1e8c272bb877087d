//! One provider: its window, circuit, anomaly detector and published series, behind one mutex,
//! and the lock-free view of its circuit, score, status and latency that routing reads.

use std::{
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, RwLock,
        atomic::{
            AtomicBool, AtomicU32, AtomicU64,
            Ordering::{Acquire, Relaxed, Release},
        },
    },
    time::Duration,
};

use gatewayz_catalogue::{CircuitState, HealthStatus};
use gatewayz_metrics::Metrics;

use crate::{
    AnomalyEvent, AnomalyPhase, Clock, HealthConfig,
    anomaly::{Detector, Geometry},
    breaker::{Breaker, Phase, Refusal, Transition},
    config::Resolved,
    models::Models,
    outcome::Class,
    publish::Published,
    recent::Recent,
    score::{Report, assess, assess_recent, next_status, score_with_circuit, with_circuit, worse},
    shared::{CircuitStore, SharedPhase, SharedSeries, Unreachable},
    window::Window,
};

/// What every provider shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: HealthConfig,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) metrics: Option<Metrics>,
    pub(crate) geometry: Geometry,
    /// What is learnt per model (the output/input token ratio).
    pub(crate) models: Models,
    /// Where the fleet shares its circuits; `None` (the default): each breaker acts alone.
    pub(crate) store: Option<Box<dyn CircuitStore>>,
    /// Whether the store is in use, when there is one and a `Metrics` facade.
    pub(crate) shared_series: Option<SharedSeries>,
}

impl Shared {
    /// The circuit store, while it answers.
    fn store_in_use(&self) -> Option<&dyn CircuitStore> {
        self.store.as_deref().filter(|store| store.status().in_use)
    }
}

/// One provider. Everything mutable is behind `state`, a mutex held for a few dozen
/// nanoseconds per call (under a microsecond per tick); `view` mirrors what failover ordering
/// reads, so ordering takes no lock.
#[derive(Debug)]
pub(crate) struct Provider {
    pub(crate) name: Box<str>,
    settings: Resolved,
    pub(crate) shared: Arc<Shared>,
    state: Mutex<State>,
    pub(crate) view: View,
    /// The health series, when the tracker has a `Metrics` facade.
    pub(crate) published: Option<Published>,
}

#[derive(Debug)]
struct State {
    window: Window,
    breaker: Breaker,
    detector: Detector,
    /// Status from the score alone, before the circuit rule: what hysteresis starts from.
    score_status: HealthStatus,
    /// The last tick's report, before the circuit rule.
    report: Report,
    /// Whether each of its last calls failed (twice `status.min_calls` of them, at most 64).
    recent: Recent,
    /// On probation: since its circuit opened, or since its last calls failed at the circuit's
    /// failure rate, until it is judged healthy again (see the crate docs).
    probation: bool,
    /// Where the circuit stands with the fleet's store.
    fleet: Fleet,
}

/// What this replica applied of the fleet's records of one circuit.
#[derive(Debug, Default, Clone, Copy)]
struct Fleet {
    /// Version of the last record applied (or published here and read back).
    applied: u64,
    /// The store connection those versions belong to: a new one starts them again.
    connection: u64,
    /// Version of the open record the current (or next) half-open period follows, which names
    /// the period's probe slots in the store; 0 while unknown (probes are then counted here).
    period: u64,
    /// Probe slots of `period` this replica claimed in the store and has not used yet: only
    /// those are given back when a probe permit is dropped unused.
    claimed: u32,
}

impl State {
    /// Puts the provider on probation at once, between ticks: no longer a policy's choice, and
    /// tried on trials if its window still lets it be chosen (which is why it is on probation
    /// rather than out). Its first trial comes a whole trial period later.
    fn begin_probation(&mut self, view: &View) {
        if !self.probation {
            self.probation = true;
            view.trials.store(0, Relaxed);
            if view.eligible.swap(false, Relaxed) {
                view.trial.store(true, Relaxed);
            }
        }
    }

    /// The health as published: the last tick's report with the live circuit's rule applied,
    /// so a circuit that opens between ticks reads unavailable, score 0, at once.
    fn published(&self) -> Report {
        let circuit = self.breaker.state();
        Report {
            status: with_circuit(self.score_status, circuit),
            score: score_with_circuit(self.report.score, circuit),
            ..self.report
        }
    }
}

/// A circuit transition, with the health to publish along with it.
type Change = Option<(Transition, Report)>;

/// Lock-free mirror of the circuit and score, written under the state lock.
#[derive(Debug)]
pub(crate) struct View {
    /// Phase in the low byte (0 closed, 1 open, 2 half-open), probes admitted above it.
    circuit: AtomicU64,
    /// Clock time (ns) an open circuit lets a probe through; `u64::MAX` if forced open.
    open_until: AtomicU64,
    /// `f64` bits of the score used for ordering.
    score: AtomicU64,
    /// Whether a policy may choose the provider, as far as its health says: not on probation,
    /// and healthy, or unknown without failing calls (see [`View::eligible`]).
    eligible: AtomicBool,
    /// On probation, with a window that alone would let it be chosen: first on its trials
    /// (see [`View::trial`]).
    trial: AtomicBool,
    /// Routes that offered it with a closed circuit since its probation began.
    trials: AtomicU32,
    /// The window's p95 duration of plain (not streamed) calls at the last tick, in
    /// nanoseconds; `u64::MAX` if unknown.
    p95: AtomicU64,
    /// The window's p95 time to first token of streams at the last tick, likewise.
    ttft_p95: AtomicU64,
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
            eligible: AtomicBool::new(true),
            trial: AtomicBool::new(false),
            trials: AtomicU32::new(0),
            p95: AtomicU64::new(u64::MAX),
            ttft_p95: AtomicU64::new(u64::MAX),
        }
    }

    /// Publishes what routing reads of a tick (or a reset): the score for ordering, whether a
    /// policy may choose it or it gets trials, and the latencies.
    fn store_health(
        &self,
        score: f64,
        (eligible, trial): (bool, bool),
        p95: Option<Duration>,
        ttft: Option<Duration>,
    ) {
        let nanos = |d: Option<Duration>| {
            d.map_or(u64::MAX, |d| {
                u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
            })
        };
        self.score.store(score.to_bits(), Relaxed);
        self.eligible.store(eligible, Relaxed);
        self.trial.store(trial, Relaxed);
        self.p95.store(nanos(p95), Relaxed);
        self.ttft_p95.store(nanos(ttft), Relaxed);
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

    /// Whether the provider may be a policy's first choice: its circuit is closed, it is not on
    /// probation, and its status is healthy, or unknown (too few calls to judge) while those
    /// few calls did not fail at the rate that opens a circuit (`circuit.failure_rate`).
    /// Without that last rule, a failing provider that policies had stopped choosing would,
    /// once its calls grew too few to judge, be chosen again.
    pub(crate) fn eligible(&self) -> bool {
        matches!(self.routing(), Routing::Closed) && self.eligible.load(Relaxed)
    }

    /// For a route that offers the provider with a closed circuit: whether this route is a
    /// trial of its probation, one in `every` (0: never) of those routes since the probation
    /// began. Counted, not drawn: drawn at random, a share of 5% would now and then give it
    /// several requests in a row.
    pub(crate) fn trial(&self, every: u32) -> bool {
        every > 0
            && self.trial.load(Relaxed)
            && self
                .trials
                .fetch_add(1, Relaxed)
                .wrapping_add(1)
                .is_multiple_of(every)
    }

    /// The p95 that `fastest` compares, in seconds: time to first token for a stream, the
    /// duration of plain calls otherwise; `None` until a tick has seen such a call in the window.
    pub(crate) fn latency(&self, stream: bool) -> Option<f64> {
        let nanos = if stream { &self.ttft_p95 } else { &self.p95 }.load(Relaxed);
        (nanos != u64::MAX).then(|| nanos as f64 / 1e9)
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

impl Provider {
    pub(crate) fn new(name: &str, settings: Resolved, shared: Arc<Shared>) -> Self {
        let now = shared.clock.now();
        let config = &shared.config;
        let window = Window::new(config.window.bucket_width(), config.window.buckets);
        // The baseline starts with the first whole bucket after registration.
        let partial = !now
            .as_nanos()
            .is_multiple_of(config.window.bucket_width().as_nanos());
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
                report: Report::unknown(),
                recent: Recent::new(settings.status.min_calls),
                probation: false,
                // Rejoining reconciles; joining has nothing to reconcile.
                fleet: Fleet {
                    connection: shared.store.as_ref().map_or(0, |s| s.status().connection),
                    ..Fleet::default()
                },
            }),
            published: shared
                .metrics
                .as_ref()
                .map(|m| Published::register(m, name)),
            shared,
        }
    }

    fn publish(&self, change: Change) {
        if let (Some(((from, to), report)), Some(published)) = (change, &self.published) {
            published.transition(from, to);
            published.report(&report);
        }
    }

    /// The admission check: `Ok(Some(generation))` admits a half-open probe. A refusal is
    /// counted here, once, in the window and as a rejection.
    pub(crate) fn acquire(&self) -> Result<Option<u64>, Refusal> {
        let (admission, changes, period) = {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let followed = self.follow(&mut state, now);
            let (admission, polled) = state.breaker.acquire(now, &self.settings.circuit);
            if admission.is_err() {
                let bucket = state.window.current(now);
                bucket.rejected = bucket.rejected.saturating_add(1);
            }
            self.view.store(&state.breaker);
            let report = state.published();
            let changes = [followed, polled].map(|t| t.map(|t| (t, report)));
            (admission, changes, state.fleet.period)
        };
        for change in changes {
            self.publish(change);
        }
        let admission = match admission {
            Ok(Some(generation)) => self.claim_probe(generation, period),
            other => other,
        };
        if admission.is_err()
            && let Some(published) = &self.published
        {
            published.rejected();
        }
        admission
    }

    /// A half-open probe admitted here takes one of the fleet's probe slots of `period` too,
    /// outside the state lock (the store may make one bounded call). Without a store, while it
    /// is unreachable, or before the period is known, the local count alone decides.
    fn claim_probe(&self, generation: u64, period: u64) -> Result<Option<u64>, Refusal> {
        let Some(store) = self.shared.store_in_use().filter(|_| period != 0) else {
            return Ok(Some(generation));
        };
        let limit = self.settings.circuit.half_open_probes;
        match store.claim_probe(&self.name, period, limit) {
            Ok(true) => {
                let mut state = lock(&self.state);
                if state.fleet.period == period {
                    state.fleet.claimed += 1;
                }
                Ok(Some(generation))
            }
            Err(Unreachable) => Ok(Some(generation)),
            Ok(false) => {
                let mut state = lock(&self.state);
                let now = self.shared.clock.now();
                state.breaker.release(generation);
                let bucket = state.window.current(now);
                bucket.rejected = bucket.rejected.saturating_add(1);
                self.view.store(&state.breaker);
                Err(Refusal::ProbesBusy)
            }
        }
    }

    /// Brings the breaker in step with the fleet: after a (re)connection, reconciles (the
    /// stricter circuit wins); then applies the store's latest record if it is newer than the
    /// last applied. Reads the store's local copy only.
    fn follow(&self, state: &mut State, now: Duration) -> Option<Transition> {
        let store = self.shared.store.as_deref()?;
        let status = store.status();
        if !status.in_use {
            return None;
        }
        let latest = store.latest(&self.name);
        if status.connection != state.fleet.connection {
            state.fleet = Fleet {
                connection: status.connection,
                ..Fleet::default()
            };
            let shared_open = latest
                .is_some_and(|record| matches!(record.circuit.phase, SharedPhase::Open { .. }));
            if state.breaker.phase() != Phase::Closed && !shared_open {
                store.publish(&self.name, state.breaker.shared(now));
                return None;
            }
        }
        let record = latest.filter(|record| record.version > state.fleet.applied)?;
        state.fleet.applied = record.version;
        if matches!(record.circuit.phase, SharedPhase::Open { .. }) {
            state.fleet.period = record.version;
            state.fleet.claimed = 0;
        }
        let same = |a: SharedPhase, b: SharedPhase| {
            matches!(
                (a, b),
                (SharedPhase::Closed, SharedPhase::Closed)
                    | (SharedPhase::Open { .. }, SharedPhase::Open { .. })
            )
        };
        // A record of ours is already applied, unless this breaker has moved on since and
        // another replica's record overtook it.
        if record.from_here && same(state.breaker.shared(now).phase, record.circuit.phase) {
            return None;
        }
        state.breaker.follow(now, record.circuit)
    }

    /// Shares a transition made here to open or closed (half-open is not shared).
    fn share(&self, state: &State, transition: Option<Transition>, now: Duration) {
        if let (Some(store), Some((_, to))) = (&self.shared.store, transition)
            && to != CircuitState::HalfOpen
        {
            store.publish(&self.name, state.breaker.shared(now));
        }
    }

    /// A call admitted with probe generation `probe` ended as `class` after `duration`, its
    /// first token (of a stream) after `ttft`.
    pub(crate) fn record(
        &self,
        class: Class,
        duration: Duration,
        ttft: Option<Duration>,
        probe: Option<u64>,
    ) {
        let (transition, fleet_probe) = {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let bucket = state.window.current(now);
            bucket.calls = bucket.calls.saturating_add(1);
            match class {
                Class::Failure => bucket.failures = bucket.failures.saturating_add(1),
                Class::Good => {
                    bucket.available = bucket.available.saturating_add(1);
                    bucket.latency(duration);
                    // A stream's length depends on its answer: `fastest` compares streams by
                    // their first token and plain calls by their duration, apart.
                    match ttft {
                        Some(ttft) => bucket.ttft.record(ttft),
                        None => bucket.plain.record(duration),
                    }
                }
            }
            if probe.is_some_and(|g| state.breaker.half_open_generation() == Some(g)) {
                // The probe was made: its fleet slot (if it had one) is used, not given back.
                state.fleet.claimed = state.fleet.claimed.saturating_sub(1);
            }
            // A successful probe counts for the fleet: the store says when enough did.
            let period = state.fleet.period;
            let fleet_probe = match (probe, self.shared.store_in_use()) {
                (Some(generation), Some(store))
                    if class == Class::Good
                        && period != 0
                        && state.breaker.half_open_generation() == Some(generation) =>
                {
                    Some((store, generation))
                }
                _ => None,
            };
            let failed = class == Class::Failure;
            state.recent.push(failed);
            let transition = match fleet_probe {
                Some(_) => None,
                None => state
                    .breaker
                    .record(now, &self.settings.circuit, class, duration, probe),
            };
            self.share(&state, transition, now);
            // What it did before it failed no longer vouches for it: from its circuit opening,
            // or from the failure that brings its last calls to the circuit's failure rate,
            // it is judged on its last calls too.
            let tripped = matches!(transition, Some((_, CircuitState::Open)));
            if tripped || (failed && state.recent.failing(self.settings.circuit.failure_rate)) {
                state.begin_probation(&self.view);
            }
            self.view.store(&state.breaker);
            (
                transition.map(|t| (t, state.published())),
                fleet_probe.map(|(store, generation)| (store, generation, period)),
            )
        };
        self.publish(transition);
        if let Some((store, generation, period)) = fleet_probe {
            let succeeded = store.probe_succeeded(&self.name, period);
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let config = &self.settings.circuit;
            let transition = match succeeded {
                Ok(n) if n >= config.half_open_successes => {
                    state.breaker.close_after_probes(now, generation)
                }
                Ok(_) => None,
                Err(Unreachable) => state.breaker.record(now, config, class, duration, probe),
            };
            self.share(&state, transition, now);
            self.view.store(&state.breaker);
            let change = transition.map(|t| (t, state.published()));
            drop(state);
            self.publish(change);
        }
    }

    /// A probe permit of `generation` was dropped without an outcome: frees its slot.
    pub(crate) fn release(&self, generation: u64) {
        let mut state = lock(&self.state);
        if state.breaker.half_open_generation() == Some(generation)
            && state.fleet.claimed > 0
            && let Some(store) = self.shared.store_in_use()
        {
            state.fleet.claimed -= 1;
            store.release_probe(&self.name, state.fleet.period);
        }
        state.breaker.release(generation);
        self.view.store(&state.breaker);
    }

    pub(crate) fn probed(&self, available: bool) {
        {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let bucket = state.window.current(now);
            bucket.probes = bucket.probes.saturating_add(1);
            bucket.available = bucket.available.saturating_add(u32::from(available));
        }
        if let Some(metrics) = &self.shared.metrics {
            metrics.provider_probed(&self.name, available);
        }
    }

    pub(crate) fn tick(&self, events: &mut Vec<AnomalyEvent>) {
        let config = &self.shared.config;
        let (transition, report, circuit, found) = {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let followed = self.follow(&mut state, now);
            let transition = state.breaker.poll(now, &self.settings.circuit);
            let circuit = state.breaker.state();
            let totals = state.window.window_totals(now);
            if circuit == CircuitState::Closed && totals.calls == 0 {
                // No call left in the window: nothing it did is left to judge it on, for or
                // against (without trials, this is how a provider on probation comes back).
                state.recent.clear();
                state.probation = false;
            }
            let over_window = assess(
                &totals,
                &config.weights,
                &self.settings.latency,
                &self.settings.status,
            );
            // While the circuit is open or half-open it decides (score 0, unavailable); on
            // probation the last calls count once it is closed again.
            state.report = if state.probation && circuit == CircuitState::Closed {
                let recent = assess_recent(&state.recent, &over_window, &config.weights);
                worse(over_window, recent)
            } else {
                over_window
            };
            let score = score_with_circuit(state.report.score, circuit);
            state.score_status = next_status(score, state.score_status, &self.settings.status);
            if state.probation
                && circuit == CircuitState::Closed
                && state.score_status == HealthStatus::Healthy
            {
                state.probation = false;
            }
            let choosable = |status: HealthStatus, report: &Report| match status {
                HealthStatus::Healthy => true,
                HealthStatus::Unknown => report
                    .error_rate
                    .is_none_or(|rate| rate < self.settings.circuit.failure_rate),
                HealthStatus::Degraded | HealthStatus::Unavailable => false,
            };
            let routing_health = if state.probation {
                // Trials only while its window alone would let it be chosen (healthy coming
                // from below, or unknown without failing calls): what keeps it out is its last
                // calls, which trials can outweigh. A provider whose window says degraded too
                // is only failed over to, as any degraded provider.
                let status = &self.settings.status;
                let by_window = match over_window.score {
                    Some(s) if s >= status.healthy + status.margin => HealthStatus::Healthy,
                    Some(_) => HealthStatus::Degraded,
                    None => HealthStatus::Unknown,
                };
                (false, choosable(by_window, &over_window))
            } else {
                (choosable(state.score_status, &state.report), false)
            };
            let report = state.published();
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
            let plain = state.window.p95_of(now, |b| &b.plain);
            let ttft = state.window.p95_of(now, |b| &b.ttft);
            self.view.store_health(routing, routing_health, plain, ttft);
            self.view.store(&state.breaker);
            (
                followed.into_iter().chain(transition),
                report,
                circuit,
                found,
            )
        };
        if let Some(published) = &self.published {
            for (from, to) in transition {
                published.transition(from, to);
            }
        }
        if let Some(published) = &self.published {
            published.report(&report);
            published.circuit(circuit);
            for event in &found {
                published.anomaly(event.kind, event.phase == AnomalyPhase::Started);
            }
        }
        events.extend(found);
    }

    pub(crate) fn admin(&self, action: Admin) {
        let (transition, ended, circuit, report) = {
            let mut state = lock(&self.state);
            let now = self.shared.clock.now();
            let mut ended = Vec::new();
            let followed = self.follow(&mut state, now);
            let transition = match action {
                Admin::ForceOpen => state.breaker.force_open(now),
                Admin::ForceClose => {
                    // The operator vouches for it: its last calls no longer hold it back (the
                    // next tick judges it on its window).
                    state.recent.clear();
                    state.probation = false;
                    self.view.trial.store(false, Relaxed);
                    state.breaker.force_close(now)
                }
                Admin::Reset => {
                    state.recent.clear();
                    state.probation = false;
                    let transition = state.breaker.force_close(now);
                    state.window.clear();
                    let first = state.window.epoch(now) + 1;
                    ended = state.detector.clear(first);
                    state.score_status = HealthStatus::Unknown;
                    state.report = Report::unknown();
                    let unknown = self.shared.config.failover.unknown_score;
                    self.view.store_health(unknown, (true, false), None, None);
                    transition
                }
            };
            // An operator's action acts on the whole fleet, whatever this breaker was.
            if let Some(store) = &self.shared.store {
                store.publish(&self.name, state.breaker.shared(now));
            }
            self.view.store(&state.breaker);
            let transitions = followed.into_iter().chain(transition);
            (transitions, ended, state.breaker.state(), state.published())
        };
        if let Some(published) = &self.published {
            for (from, to) in transition {
                published.transition(from, to);
            }
            published.circuit(circuit);
            published.report(&report);
            for kind in ended {
                published.anomaly(kind, false);
            }
        }
    }
}

/// An operator's action on a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admin {
    ForceOpen,
    ForceClose,
    Reset,
}
