//! Shared fixtures: a tracker on a manual clock, outcome shorthands and a driver that plays
//! calls through the admission check as a gateway would.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use gatewayz_health::{
    CallOutcome, HealthConfig, HealthTracker, ManualClock, ProviderConfig, Rejected,
};
use gatewayz_metrics::{CircuitState, ErrorKind, Metrics};

/// A tracker on a manual clock with `providers` registered with no overrides.
pub struct Fixture {
    pub clock: ManualClock,
    pub tracker: HealthTracker,
}

pub fn fixture(config: HealthConfig, providers: &[&str]) -> Fixture {
    build(config, providers, None)
}

pub fn fixture_with_metrics(config: HealthConfig, providers: &[&str], metrics: Metrics) -> Fixture {
    build(config, providers, Some(metrics))
}

fn build(config: HealthConfig, providers: &[&str], metrics: Option<Metrics>) -> Fixture {
    let clock = ManualClock::new();
    let mut builder = HealthTracker::builder(config).clock(clock.clone());
    if let Some(metrics) = metrics {
        builder = builder.metrics(metrics);
    }
    let tracker = builder.build().expect("valid configuration");
    for provider in providers {
        tracker
            .register(provider, ProviderConfig::default())
            .expect("new provider");
    }
    Fixture { clock, tracker }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

pub fn ok(duration: Duration) -> CallOutcome {
    CallOutcome::success(duration)
}

pub fn fail(kind: ErrorKind) -> CallOutcome {
    CallOutcome::failure(kind, Duration::from_secs(1))
}

pub fn timeout() -> CallOutcome {
    CallOutcome::failure(ErrorKind::Timeout, Duration::from_secs(30))
}

impl Fixture {
    /// Acquires a permit and records `outcome` on it; `Ok(is_probe)` if admitted.
    pub fn call(&self, provider: &str, outcome: CallOutcome) -> Result<bool, Rejected> {
        let permit = self.tracker.try_acquire(provider)?;
        let probe = permit.is_probe();
        permit.record(outcome);
        Ok(probe)
    }

    /// `n` admitted calls with `outcome`; panics if one is refused.
    pub fn calls(&self, provider: &str, n: usize, outcome: CallOutcome) {
        for i in 0..n {
            if let Err(rejected) = self.call(provider, outcome) {
                panic!("call {i} of {n} to {provider} refused: {rejected}");
            }
        }
    }

    pub fn state(&self, provider: &str) -> CircuitState {
        self.tracker
            .provider(provider)
            .expect("registered")
            .circuit
            .state
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}
