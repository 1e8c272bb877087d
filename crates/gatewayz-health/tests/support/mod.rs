//! Shared fixtures: a tracker on a manual clock that publishes into a recorder of its own, a
//! reader of what it published (the one read model of provider health), outcome shorthands,
//! and a driver that plays calls through the admission check as a gateway would.

#![allow(dead_code, unreachable_pub)]

use std::{sync::Arc, time::Duration};

use gatewayz_health::{
    AnomalyKind, CallOutcome, CircuitState, ErrorKind, HealthConfig, HealthStatus, HealthTracker,
    Inference, ManualClock, MemoryReplica, Metrics, MetricsConfig, Outcome, ProviderConfig,
    Rejected,
};
use gatewayz_registry::{Handle, RecorderBuilder};
use gatewayz_testkit::exposition::{Exposition, parse};

/// A tracker on a manual clock with `providers` registered with no overrides, publishing into a
/// recorder read through `handle`.
pub struct Fixture {
    pub clock: ManualClock,
    pub tracker: HealthTracker,
    pub handle: Handle,
}

pub fn fixture(config: HealthConfig, providers: &[&str]) -> Fixture {
    fixture_on(config, providers, ManualClock::new(), None)
}

/// A fixture on `clock`, sharing its circuits through `store` if given: one replica of a
/// fleet.
pub fn fixture_on(
    config: HealthConfig,
    providers: &[&str],
    clock: ManualClock,
    store: Option<MemoryReplica>,
) -> Fixture {
    let recorder = RecorderBuilder::new().build().expect("default recorder");
    let handle = recorder.handle();
    let metrics = Metrics::with_recorder(Arc::new(recorder), MetricsConfig::default());
    let mut builder = HealthTracker::builder(config)
        .clock(clock.clone())
        .metrics(metrics);
    if let Some(store) = store {
        builder = builder.circuit_store(store);
    }
    let tracker = builder.build().expect("valid configuration");
    for provider in providers {
        tracker
            .register(provider, ProviderConfig::default())
            .expect("new provider");
    }
    Fixture {
        clock,
        tracker,
        handle,
    }
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

/// The inference a gateway reports for a call that ended as `outcome`.
pub fn inference(outcome: CallOutcome) -> Inference<'static> {
    Inference {
        model: "m",
        outcome: outcome
            .result
            .map_or_else(Outcome::Error, |()| Outcome::Success),
        duration: outcome.duration,
        ..Inference::default()
    }
}

/// A provider's health as published: the gauges `/health/providers` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub status: HealthStatus,
    pub score: Option<f64>,
    pub availability: Option<f64>,
    pub error_rate: Option<f64>,
    pub latency_score: Option<f64>,
    pub latency_p95: Option<Duration>,
    pub circuit: CircuitState,
    pub anomalies: Vec<AnomalyKind>,
    /// Inference attempts reported since start.
    pub calls: u64,
    /// Calls refused by the circuit since start.
    pub rejections: u64,
    /// Failovers away from it since start, all reasons.
    pub failovers: u64,
}

impl Fixture {
    /// Acquires a permit and reports `outcome` on it; `Ok(is_probe)` if admitted.
    pub fn call(&self, provider: &str, outcome: CallOutcome) -> Result<bool, Rejected> {
        let permit = self.tracker.try_acquire(provider)?;
        let probe = permit.is_probe();
        permit.finish(&inference(outcome));
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

    /// What the recorder holds now.
    pub fn exposition(&self) -> Exposition {
        let text = self.handle.render_all();
        parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// The provider's published health.
    pub fn health(&self, provider: &str) -> Health {
        let e = self.exposition();
        let p = ("provider", provider);
        // An unknown figure is absent from the exposition (the recorder leaves NaN out).
        let gauge = |name: &str| {
            let values: Vec<f64> = e
                .samples()
                .filter(|s| s.name == name && s.label(p.0) == Some(p.1))
                .map(|s| s.value)
                .collect();
            assert!(values.len() <= 1, "{name} of {provider}: {values:?}");
            let value = values.first().copied();
            assert!(value.is_none_or(f64::is_finite), "{name}: {value:?}");
            value
        };
        let hot = |name: &str, label: &str| -> Vec<String> {
            e.samples()
                .filter(|s| {
                    s.name == name && s.label("provider") == Some(provider) && s.value == 1.0
                })
                .map(|s| s.label(label).unwrap().to_owned())
                .collect()
        };
        let one = |name: &str, label: &str| {
            let hot = hot(name, label);
            assert_eq!(hot.len(), 1, "{name} of {provider} is not one-hot: {hot:?}");
            hot.into_iter().next().unwrap()
        };
        Health {
            status: HealthStatus::parse(&one("gatewayz_provider_status", "status")).unwrap(),
            score: gauge("gatewayz_provider_health_score"),
            availability: gauge("gatewayz_provider_availability_ratio"),
            error_rate: gauge("provider_error_rate"),
            latency_score: gauge("gatewayz_provider_latency_score"),
            latency_p95: gauge("gatewayz_provider_latency_p95_seconds")
                .map(Duration::from_secs_f64),
            circuit: CircuitState::parse(&one("gatewayz_circuit_breaker_state", "state")).unwrap(),
            anomalies: hot("gatewayz_anomalies_active", "kind")
                .iter()
                .map(|k| AnomalyKind::parse(k).unwrap())
                .collect(),
            calls: e.sum("model_inference_requests_total", &[p]) as u64,
            rejections: e.sum("gatewayz_circuit_breaker_rejections_total", &[p]) as u64,
            failovers: e.sum("gatewayz_failovers_total", &[p]) as u64,
        }
    }

    /// The provider's published circuit state.
    pub fn state(&self, provider: &str) -> CircuitState {
        self.health(provider).circuit
    }

    /// Ticks, then reads the provider's published health.
    pub fn tick(&self, provider: &str) -> Health {
        self.tracker.tick();
        self.health(provider)
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}
