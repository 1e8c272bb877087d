//! The circuit breaker state machine, without locking, clocks or metrics: the tracker holds
//! one per provider behind the provider's mutex, passes the time in and publishes the
//! transitions this returns.

use std::time::Duration;

use gatewayz_catalogue::CircuitState;

use crate::{
    config::CircuitConfig,
    outcome::Class,
    shared::{SharedCircuit, SharedPhase},
};

/// A state change: `(from, to)`.
pub(crate) type Transition = (CircuitState, CircuitState);

/// Buckets of the rate rules' window.
const RATE_BUCKETS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Closed,
    /// `until: None` when an operator forced it open: it stays open until forced closed.
    Open {
        until: Option<Duration>,
    },
    HalfOpen {
        /// Probe permits handed out and not released (in flight or finished).
        admitted: u32,
        successes: u32,
    },
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Open { retry_after: Option<Duration> },
    ProbesBusy,
}

#[derive(Debug, Clone, Copy, Default)]
struct RateBucket {
    epoch: u64,
    calls: u32,
    failures: u32,
    slow: u32,
}

/// Calls, failures and slow calls over the last `rate_window`, in six buckets.
#[derive(Debug, Clone)]
struct Rates {
    width: u64,
    buckets: [RateBucket; RATE_BUCKETS],
}

impl Rates {
    fn new(window: Duration) -> Self {
        let nanos = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        Rates {
            width: (nanos / RATE_BUCKETS as u64).max(1),
            buckets: [RateBucket {
                epoch: u64::MAX,
                ..RateBucket::default()
            }; RATE_BUCKETS],
        }
    }

    fn epoch(&self, now: Duration) -> u64 {
        u64::try_from(now.as_nanos()).unwrap_or(u64::MAX) / self.width
    }

    fn add(&mut self, now: Duration, failure: bool, slow: bool) {
        let epoch = self.epoch(now);
        let slot = &mut self.buckets[(epoch % RATE_BUCKETS as u64) as usize];
        if slot.epoch != epoch {
            *slot = RateBucket {
                epoch,
                ..RateBucket::default()
            };
        }
        slot.calls = slot.calls.saturating_add(1);
        slot.failures = slot.failures.saturating_add(u32::from(failure));
        slot.slow = slot.slow.saturating_add(u32::from(slow));
    }

    /// `(calls, failures, slow)` over the window ending at `now`.
    fn totals(&self, now: Duration) -> (u64, u64, u64) {
        let last = self.epoch(now);
        let first = last.saturating_sub(RATE_BUCKETS as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| (first..=last).contains(&b.epoch))
            .fold((0, 0, 0), |(c, f, s), b| {
                (
                    c + u64::from(b.calls),
                    f + u64::from(b.failures),
                    s + u64::from(b.slow),
                )
            })
    }

    fn clear(&mut self) {
        for bucket in &mut self.buckets {
            bucket.epoch = u64::MAX;
        }
    }
}

/// One circuit.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    phase: Phase,
    /// Bumped on every change of phase, so that a probe permit from an earlier half-open
    /// period cannot spend or free a slot of a later one.
    generation: u64,
    consecutive: u32,
    trips: u32,
    closed_since: Duration,
    rates: Rates,
}

/// The cool-down after the `trips`-th consecutive trip: `cool_down × 2^(trips − 1)`, capped.
pub(crate) fn cool_down(trips: u32, config: &CircuitConfig) -> Duration {
    let doublings = trips.saturating_sub(1).min(31);
    config
        .cool_down
        .saturating_mul(1 << doublings)
        .min(config.max_cool_down)
}

impl Breaker {
    pub(crate) fn new(now: Duration, config: &CircuitConfig) -> Self {
        Breaker {
            phase: Phase::Closed,
            generation: 0,
            consecutive: 0,
            trips: 0,
            closed_since: now,
            rates: Rates::new(config.rate_window),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn state(&self) -> CircuitState {
        match self.phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open { .. } => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    fn enter(&mut self, phase: Phase, now: Duration) -> Option<Transition> {
        let from = self.state();
        self.phase = phase;
        self.generation += 1;
        self.consecutive = 0;
        self.rates.clear();
        if phase == Phase::Closed {
            self.closed_since = now;
        }
        let to = self.state();
        (from != to).then_some((from, to))
    }

    fn trip(&mut self, now: Duration, config: &CircuitConfig) -> Option<Transition> {
        self.forget_old_trips(now, config);
        self.trips = self.trips.saturating_add(1);
        let until = now.saturating_add(cool_down(self.trips, config));
        self.enter(Phase::Open { until: Some(until) }, now)
    }

    fn forget_old_trips(&mut self, now: Duration, config: &CircuitConfig) {
        if self.phase == Phase::Closed && now.saturating_sub(self.closed_since) >= config.trip_reset
        {
            self.trips = 0;
        }
    }

    /// Time-driven changes: an open circuit whose cool-down is over becomes half-open; a
    /// circuit closed long enough forgets its trips.
    pub(crate) fn poll(&mut self, now: Duration, config: &CircuitConfig) -> Option<Transition> {
        match self.phase {
            Phase::Open { until: Some(until) } if now >= until => self.enter(
                Phase::HalfOpen {
                    admitted: 0,
                    successes: 0,
                },
                now,
            ),
            Phase::Closed => {
                self.forget_old_trips(now, config);
                None
            }
            _ => None,
        }
    }

    /// The admission check. `Ok(Some(generation))` admits a half-open probe.
    pub(crate) fn acquire(
        &mut self,
        now: Duration,
        config: &CircuitConfig,
    ) -> (Result<Option<u64>, Refusal>, Option<Transition>) {
        let transition = self.poll(now, config);
        let admission = match &mut self.phase {
            Phase::Closed => Ok(None),
            Phase::Open { until } => Err(Refusal::Open {
                retry_after: until.map(|until| until.saturating_sub(now)),
            }),
            Phase::HalfOpen { admitted, .. } if *admitted < config.half_open_probes => {
                *admitted += 1;
                Ok(Some(self.generation))
            }
            Phase::HalfOpen { .. } => Err(Refusal::ProbesBusy),
        };
        (admission, transition)
    }

    /// A probe permit of `generation` was dropped without an outcome: frees its slot.
    pub(crate) fn release(&mut self, generation: u64) {
        if generation == self.generation
            && let Phase::HalfOpen { admitted, .. } = &mut self.phase
        {
            *admitted = admitted.saturating_sub(1);
        }
    }

    /// A call finished. `probe` is the generation of its probe permit, if it had one.
    pub(crate) fn record(
        &mut self,
        now: Duration,
        config: &CircuitConfig,
        class: Class,
        duration: Duration,
        probe: Option<u64>,
    ) -> Option<Transition> {
        let failure = class == Class::Failure;
        match &mut self.phase {
            Phase::HalfOpen {
                successes,
                admitted: _,
            } if probe == Some(self.generation) => {
                if failure {
                    return self.trip(now, config);
                }
                *successes += 1;
                if *successes >= config.half_open_successes {
                    return self.enter(Phase::Closed, now);
                }
                None
            }
            Phase::Closed => {
                let slow = duration >= config.slow_call_duration;
                self.rates.add(now, failure, slow);
                if failure {
                    self.consecutive = self.consecutive.saturating_add(1);
                } else {
                    // A call the provider served properly ends a run of failures.
                    self.consecutive = 0;
                }
                if self.consecutive >= config.consecutive_failures {
                    return self.trip(now, config);
                }
                if failure || slow {
                    let (calls, failures, slow) = self.rates.totals(now);
                    let rate = |n: u64| n as f64 / calls as f64;
                    if calls >= config.min_calls
                        && (rate(failures) >= config.failure_rate
                            || rate(slow) >= config.slow_call_rate)
                    {
                        return self.trip(now, config);
                    }
                }
                None
            }
            // Calls admitted before the circuit opened, and probes of an earlier half-open
            // period, say nothing about the current state.
            Phase::Open { .. } | Phase::HalfOpen { .. } => None,
        }
    }

    pub(crate) fn force_open(&mut self, now: Duration) -> Option<Transition> {
        self.enter(Phase::Open { until: None }, now)
    }

    pub(crate) fn force_close(&mut self, now: Duration) -> Option<Transition> {
        self.trips = 0;
        self.enter(Phase::Closed, now)
    }

    /// The current half-open period's generation, or `None` outside half-open.
    pub(crate) fn half_open_generation(&self) -> Option<u64> {
        matches!(self.phase, Phase::HalfOpen { .. }).then_some(self.generation)
    }

    /// The circuit as the fleet shares it, as of `now`: half-open is not shared (every
    /// replica reaches it from the shared cool-down), so it reads as open with no time left.
    pub(crate) fn shared(&self, now: Duration) -> SharedCircuit {
        let phase = match self.phase {
            Phase::Closed => SharedPhase::Closed,
            Phase::Open { until } => SharedPhase::Open {
                cool_down_left: until.map(|until| until.saturating_sub(now)),
            },
            Phase::HalfOpen { .. } => SharedPhase::Open {
                cool_down_left: Some(Duration::ZERO),
            },
        };
        SharedCircuit {
            phase,
            trips: self.trips,
        }
    }

    /// Takes the fleet's circuit, made by another replica: its phase (an open one with the
    /// cool-down left) and its trip count, so the next cool-down doubles as everywhere.
    pub(crate) fn follow(&mut self, now: Duration, circuit: SharedCircuit) -> Option<Transition> {
        self.trips = circuit.trips;
        match circuit.phase {
            SharedPhase::Closed if self.phase == Phase::Closed => None,
            SharedPhase::Closed => self.enter(Phase::Closed, now),
            SharedPhase::Open { cool_down_left } => {
                let until = cool_down_left.map(|left| now.saturating_add(left));
                self.enter(Phase::Open { until }, now)
            }
        }
    }

    /// The fleet's probes of half-open period `generation` succeeded often enough: closes.
    pub(crate) fn close_after_probes(
        &mut self,
        now: Duration,
        generation: u64,
    ) -> Option<Transition> {
        (self.half_open_generation() == Some(generation))
            .then(|| self.enter(Phase::Closed, now))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cool_down_doubles_and_caps() {
        let config = CircuitConfig::default();
        let secs = |trips| cool_down(trips, &config).as_secs();
        assert_eq!(
            [1, 2, 3, 4, 5, 6, 100].map(secs),
            [30, 60, 120, 240, 300, 300, 300]
        );
    }
}
