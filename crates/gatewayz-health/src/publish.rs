//! The health series, published by this crate alone: the score and its inputs, the status and
//! circuit state (one-hot), circuit transitions, refusals, failovers, anomalies, routing
//! decisions and the reference cost of routed calls.
//!
//! Handles are resolved when a provider is registered, with the recorder of the tracker's
//! `Metrics` facade, and the provider is published as unknown with a closed circuit at once, so
//! no score reads 0 before the first tick. `gatewayz-metrics` has no hook for any of these
//! series: there is one way to count a refusal or a failover, through the tracker.

use std::sync::{PoisonError, RwLock};

use gatewayz_catalogue::{
    ANOMALIES_ACTIVE, ANOMALIES_DETECTED, AnomalyKind, CIRCUIT_BREAKER_REJECTIONS,
    CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRANSITIONS, CircuitState, FAILOVERS, FailoverReason,
    HealthStatus, METRIC_CONFLICTS, MetricDef, PROVIDER_AVAILABILITY_RATIO, PROVIDER_ERROR_RATE,
    PROVIDER_HEALTH_SCORE, PROVIDER_LATENCY_P95, PROVIDER_LATENCY_SCORE, PROVIDER_STATUS, PerValue,
    ROUTING_DECISIONS, ROUTING_REFERENCE_COST, RoutingPolicy,
};
use gatewayz_metrics::Metrics;
use hashbrown::HashMap;
use metrics::{Counter, Gauge, Key, Label, Level, Metadata};

use crate::score::Report;

/// Most models per provider whose reference-cost handle is kept; past it the handle is resolved
/// per call (the recorder's cap on `model` values bounds the series either way).
const MAX_CACHED_MODELS: usize = 1024;

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The key of `def` with `values` for its labels, normalised as the catalogue says.
fn key(def: &'static MetricDef, values: &[&str]) -> Key {
    let labels: Vec<Label> = def
        .labels
        .iter()
        .zip(values)
        .map(|(label, value)| Label::new(label.name, label.normalise(value).into_owned()))
        .collect();
    Key::from_parts(def.name, labels)
}

pub(crate) fn counter(def: &'static MetricDef, values: &[&str]) -> Counter {
    metrics::with_recorder(|r| r.register_counter(&key(def, values), &METADATA))
}

pub(crate) fn gauge(def: &'static MetricDef, values: &[&str]) -> Gauge {
    metrics::with_recorder(|r| r.register_gauge(&key(def, values), &METADATA))
}

/// Sets the gauge of `current` to 1 and the others to 0.
fn one_hot<E: gatewayz_catalogue::ClosedValue>(gauges: &PerValue<E, Gauge>, current: E) {
    for (value, gauge) in gauges.iter() {
        gauge.set(if value == current { 1.0 } else { 0.0 });
    }
}

/// One provider's health series.
pub(crate) struct Published {
    metrics: Metrics,
    provider: Box<str>,
    score: Gauge,
    availability: Gauge,
    error_rate: Gauge,
    latency_score: Gauge,
    latency_p95: Gauge,
    status: PerValue<HealthStatus, Gauge>,
    circuit: PerValue<CircuitState, Gauge>,
    rejections: Counter,
    failovers: PerValue<FailoverReason, Counter>,
    anomalies: PerValue<AnomalyKind, Counter>,
    anomalies_active: PerValue<AnomalyKind, Gauge>,
    decisions: PerValue<RoutingPolicy, Counter>,
    references: References,
}

/// Where reference costs go.
enum References {
    /// One handle per model, when the recorder shows dollars.
    Scaled(RwLock<HashMap<Box<str>, Counter>>),
    /// The recorder cannot show dollars: each amount is counted as a conflict instead.
    Refused(Counter),
}

impl std::fmt::Debug for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Published")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl Published {
    /// Resolves `provider`'s handles with `metrics`'s recorder and publishes it as unknown,
    /// its circuit closed.
    pub(crate) fn register(metrics: &Metrics, provider: &str) -> Published {
        let published = metrics.in_scope(|| {
            let p = [provider];
            let with = |value: &'static str| [provider, value];
            Published {
                metrics: metrics.clone(),
                provider: provider.into(),
                score: gauge(&PROVIDER_HEALTH_SCORE, &p),
                availability: gauge(&PROVIDER_AVAILABILITY_RATIO, &p),
                error_rate: gauge(&PROVIDER_ERROR_RATE, &p),
                latency_score: gauge(&PROVIDER_LATENCY_SCORE, &p),
                latency_p95: gauge(&PROVIDER_LATENCY_P95, &p),
                status: PerValue::new(|s: HealthStatus| gauge(&PROVIDER_STATUS, &with(s.as_str()))),
                circuit: PerValue::new(|s: CircuitState| {
                    gauge(&CIRCUIT_BREAKER_STATE, &with(s.as_str()))
                }),
                rejections: counter(&CIRCUIT_BREAKER_REJECTIONS, &p),
                failovers: PerValue::new(|r: FailoverReason| {
                    counter(&FAILOVERS, &with(r.as_str()))
                }),
                anomalies: PerValue::new(|k: AnomalyKind| {
                    counter(&ANOMALIES_DETECTED, &with(k.as_str()))
                }),
                anomalies_active: PerValue::new(|k: AnomalyKind| {
                    gauge(&ANOMALIES_ACTIVE, &with(k.as_str()))
                }),
                decisions: PerValue::new(|policy: RoutingPolicy| {
                    counter(&ROUTING_DECISIONS, &with(policy.as_str()))
                }),
                references: if metrics.records_money() {
                    References::Scaled(RwLock::new(HashMap::new()))
                } else {
                    References::Refused(counter(&METRIC_CONFLICTS, &[ROUTING_REFERENCE_COST.name]))
                },
            }
        });
        published.report(&Report::unknown());
        published.circuit(CircuitState::Closed);
        for (_, active) in published.anomalies_active.iter() {
            active.set(0.0);
        }
        published
    }

    /// The score, its inputs and the status. An unknown figure is published as `NaN`: the
    /// `gatewayz-registry` exposition leaves NaN gauges out, so it has no sample (any other
    /// recorder shows NaN, which PromQL comparisons treat as false);
    /// `gatewayz_provider_status{status="unknown"}` says why.
    pub(crate) fn report(&self, report: &Report) {
        let or_nan = |value: Option<f64>| value.unwrap_or(f64::NAN);
        self.score.set(or_nan(report.score));
        self.availability.set(or_nan(report.availability));
        self.error_rate.set(or_nan(report.error_rate));
        self.latency_score.set(or_nan(report.latency_score));
        self.latency_p95
            .set(or_nan(report.latency_p95.map(|d| d.as_secs_f64())));
        one_hot(&self.status, report.status);
    }

    pub(crate) fn circuit(&self, state: CircuitState) {
        one_hot(&self.circuit, state);
    }

    /// A circuit changed state: counts the transition and publishes the new state.
    /// Transitions are rare, so their handles are resolved when they happen.
    pub(crate) fn transition(&self, from: CircuitState, to: CircuitState) {
        self.metrics.in_scope(|| {
            counter(
                &CIRCUIT_BREAKER_TRANSITIONS,
                &[&self.provider, from.as_str(), to.as_str()],
            )
            .increment(1);
        });
        self.circuit(to);
    }

    pub(crate) fn rejected(&self) {
        self.rejections.increment(1);
    }

    pub(crate) fn failed_over(&self, reason: FailoverReason) {
        self.failovers.get(reason).increment(1);
    }

    /// A route put this provider first under `policy`.
    pub(crate) fn decided(&self, policy: RoutingPolicy) {
        self.decisions.get(policy).increment(1);
    }

    /// A routed call of `model` would have cost `usd` at the reference price. Recorders that
    /// cannot show dollars get no series, and the amount is counted as a conflict, as
    /// `gatewayz-metrics` does for the cost itself.
    pub(crate) fn reference_cost(&self, model: &str, usd: f64) {
        let increment = ROUTING_REFERENCE_COST.scale.to_increment(usd);
        if increment == 0 {
            return;
        }
        let references = match &self.references {
            References::Scaled(references) => references,
            References::Refused(conflicts) => {
                conflicts.increment(1);
                return;
            }
        };
        let found = references
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(model)
            .cloned();
        if let Some(counter) = found {
            counter.increment(increment);
            return;
        }
        let counter = self
            .metrics
            .in_scope(|| counter(&ROUTING_REFERENCE_COST, &[&self.provider, model]));
        counter.increment(increment);
        let mut map = references.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() < MAX_CACHED_MODELS {
            map.insert(model.into(), counter);
        }
    }

    pub(crate) fn anomaly(&self, kind: AnomalyKind, active: bool) {
        if active {
            self.anomalies.get(kind).increment(1);
        }
        self.anomalies_active
            .get(kind)
            .set(if active { 1.0 } else { 0.0 });
    }
}
