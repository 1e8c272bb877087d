//! Configuration: every threshold, weight and window, with documented defaults, built in code
//! or deserialised with serde, and validated once when the tracker is built.
//!
//! Durations are written as humantime strings (`"30s"`, `"5m"`, `"1m 30s"`) or as a number of
//! seconds. Omitted fields take their defaults; unknown fields are rejected so that a typo does
//! not silently leave a default in place.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

pub use gatewayz_catalogue::RoutingPolicy;

use crate::Error;

/// Everything the tracker can be told. `HealthConfig::default()` is the documented default;
/// change fields on it, or deserialise it (omitted fields keep their defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HealthConfig {
    /// The sliding window scores are computed over.
    pub window: WindowConfig,
    /// Weights of the three score inputs.
    pub weights: Weights,
    /// How p95 latency maps to the latency score.
    pub latency: LatencyConfig,
    /// How the score maps to a status.
    pub status: StatusConfig,
    /// When circuits open and close.
    pub circuit: CircuitConfig,
    /// When an anomaly is detected.
    pub anomaly: AnomalyConfig,
    /// How candidates are ordered for failover.
    pub failover: FailoverConfig,
    /// Which candidate a request tries first.
    pub routing: RoutingConfig,
    /// Providers registered when the tracker is built, with their overrides.
    pub providers: BTreeMap<String, ProviderConfig>,
}

/// The sliding health window: `buckets` fixed buckets covering `length`, so memory per provider
/// is constant whatever the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WindowConfig {
    /// Span of the window. Default 5 minutes.
    #[serde(with = "duration")]
    pub length: Duration,
    /// Number of buckets; the window slides one bucket (`length / buckets`) at a time.
    /// Default 10 (30 s buckets).
    pub buckets: u32,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            length: Duration::from_secs(300),
            buckets: 10,
        }
    }
}

impl WindowConfig {
    /// Width of one bucket.
    pub fn bucket_width(&self) -> Duration {
        self.length / self.buckets.max(1)
    }
}

/// Weights of the score inputs; they must add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Weights {
    /// Weight of availability. Default 0.4.
    pub availability: f64,
    /// Weight of `1 - error rate`. Default 0.3.
    pub error_rate: f64,
    /// Weight of the latency score. Default 0.3.
    pub latency: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            availability: 0.4,
            error_rate: 0.3,
            latency: 0.3,
        }
    }
}

/// How the window's p95 latency becomes a score: 1 at or below `target`, 0 at or above `max`,
/// linear between.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LatencyConfig {
    /// p95 at or below which the latency score is 1. Default 2 s.
    #[serde(with = "duration")]
    pub target: Duration,
    /// p95 at or above which the latency score is 0. Default 30 s.
    #[serde(with = "duration")]
    pub max: Duration,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            target: Duration::from_secs(2),
            max: Duration::from_secs(30),
        }
    }
}

/// How the score becomes a status.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StatusConfig {
    /// Score at or above which a provider is healthy. Default 0.8.
    pub healthy: f64,
    /// Score at or above which a provider is degraded (below: unavailable). Default 0.5.
    pub degraded: f64,
    /// Hysteresis: a provider moves to a better status only once its score is this far above
    /// that status's threshold. Default 0.05.
    pub margin: f64,
    /// Fewest requests (calls made plus calls refused by the circuit) in the window for a
    /// score; below it the status is `unknown`. Default 10.
    pub min_calls: u64,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            healthy: 0.8,
            degraded: 0.5,
            margin: 0.05,
            min_calls: 10,
        }
    }
}

/// When a circuit opens, how long it stays open and how it closes again.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CircuitConfig {
    /// Consecutive failures that open a closed circuit. Default 5.
    pub consecutive_failures: u32,
    /// Failure rate over `rate_window` at or above which the circuit opens, once the window
    /// holds `min_calls` calls. Default 0.5.
    pub failure_rate: f64,
    /// Share of slow calls over `rate_window` at or above which the circuit opens, once the
    /// window holds `min_calls` calls. Default 0.8.
    pub slow_call_rate: f64,
    /// A call at least this long is slow. Default 60 s.
    #[serde(with = "duration")]
    pub slow_call_duration: Duration,
    /// Fewest calls in `rate_window` before the rate rules apply. Default 20.
    pub min_calls: u64,
    /// Span of the rate rules' window (six fixed buckets). Default 60 s.
    #[serde(with = "duration")]
    pub rate_window: Duration,
    /// Cool-down after the first trip; it doubles on each further trip. Default 30 s.
    #[serde(with = "duration")]
    pub cool_down: Duration,
    /// Longest cool-down. Default 5 minutes.
    #[serde(with = "duration")]
    pub max_cool_down: Duration,
    /// A circuit that stayed closed this long forgets its earlier trips, so the next cool-down
    /// starts again from `cool_down`. Default 10 minutes.
    #[serde(with = "duration")]
    pub trip_reset: Duration,
    /// Probe calls a half-open circuit lets through. Default 3.
    pub half_open_probes: u32,
    /// Successful probes that close a half-open circuit; at most `half_open_probes`. Default 3.
    pub half_open_successes: u32,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        CircuitConfig {
            consecutive_failures: 5,
            failure_rate: 0.5,
            slow_call_rate: 0.8,
            slow_call_duration: Duration::from_secs(60),
            min_calls: 20,
            rate_window: Duration::from_secs(60),
            cool_down: Duration::from_secs(30),
            max_cool_down: Duration::from_secs(300),
            trip_reset: Duration::from_secs(600),
            half_open_probes: 3,
            half_open_successes: 3,
        }
    }
}

/// Anomaly detection against a baseline learnt from earlier buckets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AnomalyConfig {
    /// The observed window: the latest completed buckets spanning this long. A whole number of
    /// health-window buckets. Default 60 s.
    #[serde(with = "duration")]
    pub window: Duration,
    /// EWMA weight of each bucket folded into the baseline. Default 0.1 (with 30 s buckets, a
    /// time constant of about 5 minutes).
    pub alpha: f64,
    /// History needed before anything is detected. Default 5 minutes.
    #[serde(with = "duration")]
    pub warmup: Duration,
    /// Fewest calls in the observed window for a latency spike or an error surge. Default 10.
    pub min_calls: u64,
    /// A latency spike needs p95 above this multiple of the baseline p95... Default 3.
    pub latency_factor: f64,
    /// ...and above this floor. Default 5 s.
    #[serde(with = "duration")]
    pub latency_floor: Duration,
    /// An error surge needs an error rate above the baseline plus this... Default 0.2.
    pub error_rate_increase: f64,
    /// ...and above this multiple of the baseline. Default 2.
    pub error_rate_factor: f64,
    /// A traffic drop is traffic below this share of the baseline... Default 0.2.
    pub traffic_drop_ratio: f64,
    /// ...when the baseline is at least this many requests per observed window. Default 20.
    pub traffic_min_baseline: f64,
    /// While an anomaly is active its baseline is frozen, so an incident does not become the
    /// new normal; after this long it learns again, so a lasting change does. Default 30 min.
    #[serde(with = "duration")]
    pub adapt_after: Duration,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            window: Duration::from_secs(60),
            alpha: 0.1,
            warmup: Duration::from_secs(300),
            min_calls: 10,
            latency_factor: 3.0,
            latency_floor: Duration::from_secs(5),
            error_rate_increase: 0.2,
            error_rate_factor: 2.0,
            traffic_drop_ratio: 0.2,
            traffic_min_baseline: 20.0,
            adapt_after: Duration::from_secs(1800),
        }
    }
}

/// How [`failover_order`](crate::HealthTracker::failover_order) ranks candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct FailoverConfig {
    /// Put half-open candidates with a free probe slot first, so that a recovered provider is
    /// noticed (a failed probe just moves on to the next candidate). Default true.
    pub probe_first: bool,
    /// Score assumed for a provider whose status is `unknown`. Default 0.75: after every
    /// healthy provider, before most degraded ones.
    pub unknown_score: f64,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            probe_first: true,
            unknown_score: 0.75,
        }
    }
}

/// Which provider a request tries first: the [`RoutingPolicy`] for every model and per model,
/// the exploration share, and the weights of `weighted`. See the crate docs, "Routing
/// policies".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RoutingConfig {
    /// The policy of every model without one of its own. Default `spread`.
    #[serde(with = "policy")]
    pub policy: RoutingPolicy,
    /// Policies per model, by the model name given to
    /// [`route_request`](crate::HealthTracker::route_request). Default none.
    #[serde(with = "policies")]
    pub models: BTreeMap<String, RoutingPolicy>,
    /// Share of requests that `cheapest`, `fastest` and `weighted` send to a healthy candidate
    /// drawn at random (as `spread` would) instead of their pick, so that the others keep being
    /// measured: their latency stays known and a recovery is noticed. Also, under every policy,
    /// the share of the routes offering a provider on probation that try it first (its trials,
    /// see the crate docs; 0: none). Default 0.05.
    pub exploration: f64,
    /// Weights of the `weighted` policy.
    pub weights: RoutingWeights,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            policy: RoutingPolicy::Spread,
            models: BTreeMap::new(),
            exploration: 0.05,
            weights: RoutingWeights::default(),
        }
    }
}

impl RoutingConfig {
    /// The policy for `model`: its own, else the default.
    pub fn policy_for(&self, model: &str) -> RoutingPolicy {
        self.models.get(model).copied().unwrap_or(self.policy)
    }

    /// A provider on probation is first on one in this many of the routes that offer it:
    /// `1 / exploration`, rounded; 0 (never) without exploration.
    pub(crate) fn trial_every(&self) -> u32 {
        if self.exploration > 0.0 {
            (1.0 / self.exploration)
                .round()
                .clamp(1.0, f64::from(u32::MAX)) as u32
        } else {
            0
        }
    }
}

/// How `weighted` blends its three terms, each in [0, 1] with 1 the best among the healthy
/// candidates: the health score, the price (the cheapest expected price over this one's) and
/// the latency (the lowest p95 over this one's). The weights must add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RoutingWeights {
    /// Weight of the health score. Default 0.2.
    pub health: f64,
    /// Weight of the price term. Default 0.4.
    pub price: f64,
    /// Weight of the latency term. Default 0.4.
    pub latency: f64,
}

impl Default for RoutingWeights {
    fn default() -> Self {
        RoutingWeights {
            health: 0.2,
            price: 0.4,
            latency: 0.4,
        }
    }
}

/// Per-provider overrides; a field left `None` takes the tracker-wide value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ProviderConfig {
    /// Overrides `latency.target`.
    #[serde(with = "option_duration", skip_serializing_if = "Option::is_none")]
    pub latency_target: Option<Duration>,
    /// Overrides `latency.max`.
    #[serde(with = "option_duration", skip_serializing_if = "Option::is_none")]
    pub latency_max: Option<Duration>,
    /// Overrides `status.healthy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_threshold: Option<f64>,
    /// Overrides `status.degraded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded_threshold: Option<f64>,
    /// Overrides `circuit.consecutive_failures`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    /// Overrides `circuit.slow_call_duration`.
    #[serde(with = "option_duration", skip_serializing_if = "Option::is_none")]
    pub slow_call_duration: Option<Duration>,
}

impl ProviderConfig {
    /// Overrides the latency target and maximum.
    pub fn with_latency(mut self, target: Duration, max: Duration) -> Self {
        self.latency_target = Some(target);
        self.latency_max = Some(max);
        self
    }

    /// Overrides the status thresholds.
    pub fn with_thresholds(mut self, healthy: f64, degraded: f64) -> Self {
        self.healthy_threshold = Some(healthy);
        self.degraded_threshold = Some(degraded);
        self
    }

    /// Overrides the consecutive failures that open the circuit.
    pub fn with_consecutive_failures(mut self, failures: u32) -> Self {
        self.consecutive_failures = Some(failures);
        self
    }

    /// Overrides the duration from which a call is slow.
    pub fn with_slow_call_duration(mut self, duration: Duration) -> Self {
        self.slow_call_duration = Some(duration);
        self
    }
}

/// The settings one provider runs with: the tracker-wide sections with its overrides applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Resolved {
    pub(crate) latency: LatencyConfig,
    pub(crate) status: StatusConfig,
    pub(crate) circuit: CircuitConfig,
}

impl HealthConfig {
    /// Checks every rule; the tracker calls this when it is built.
    pub fn validate(&self) -> Result<(), Error> {
        let window = &self.window;
        positive_duration("window.length", window.length)?;
        range("window.buckets", f64::from(window.buckets), 1.0, 1000.0)?;
        if window.bucket_width() < Duration::from_millis(1) {
            return Err(Error::OutOfRange {
                field: "window.length".into(),
                value: window.length.as_secs_f64(),
                min: f64::from(window.buckets) / 1000.0,
                max: f64::INFINITY,
            });
        }

        let w = &self.weights;
        for (field, value) in [
            ("weights.availability", w.availability),
            ("weights.error_rate", w.error_rate),
            ("weights.latency", w.latency),
        ] {
            range(field, value, 0.0, 1.0)?;
        }
        let sum = w.availability + w.error_rate + w.latency;
        if (sum - 1.0).abs() > 1e-9 {
            return Err(Error::WeightsDoNotSumToOne {
                scope: String::new(),
                sum,
            });
        }

        self.resolve(&ProviderConfig::default(), "")?;

        let a = &self.anomaly;
        whole_buckets("anomaly.window", a.window, window)?;
        if a.window > window.length {
            return Err(not_ordered(
                "anomaly.window",
                &fmt_duration(a.window),
                "window.length",
                &fmt_duration(window.length),
            ));
        }
        range_open_low("anomaly.alpha", a.alpha, 0.0, 1.0)?;
        positive_count("anomaly.min_calls", a.min_calls)?;
        range("anomaly.latency_factor", a.latency_factor, 1.0, f64::MAX)?;
        range_open_low(
            "anomaly.error_rate_increase",
            a.error_rate_increase,
            0.0,
            1.0,
        )?;
        range(
            "anomaly.error_rate_factor",
            a.error_rate_factor,
            1.0,
            f64::MAX,
        )?;
        range_open_low("anomaly.traffic_drop_ratio", a.traffic_drop_ratio, 0.0, 1.0)?;
        range_open_low(
            "anomaly.traffic_min_baseline",
            a.traffic_min_baseline,
            0.0,
            f64::MAX,
        )?;
        positive_duration("anomaly.adapt_after", a.adapt_after)?;

        let f = &self.failover;
        range("failover.unknown_score", f.unknown_score, 0.0, 1.0)?;

        let r = &self.routing;
        range("routing.exploration", r.exploration, 0.0, 1.0)?;
        let w = &r.weights;
        for (field, value) in [
            ("routing.weights.health", w.health),
            ("routing.weights.price", w.price),
            ("routing.weights.latency", w.latency),
        ] {
            range(field, value, 0.0, 1.0)?;
        }
        let sum = w.health + w.price + w.latency;
        if (sum - 1.0).abs() > 1e-9 {
            return Err(Error::RoutingWeightsDoNotSumToOne { sum });
        }
        if let Some(model) = r.models.keys().find(|m| m.trim().is_empty()) {
            return Err(Error::EmptyModelName {
                given: model.clone(),
            });
        }

        for (name, overrides) in &self.providers {
            self.resolve_provider(name, overrides)?;
        }
        Ok(())
    }

    /// The settings of provider `name` with `overrides`, validated.
    pub(crate) fn resolve_provider(
        &self,
        name: &str,
        overrides: &ProviderConfig,
    ) -> Result<Resolved, Error> {
        if name.trim().is_empty() {
            return Err(Error::EmptyProviderName);
        }
        self.resolve(overrides, &format!("providers.{name}."))
    }

    fn resolve(&self, o: &ProviderConfig, scope: &str) -> Result<Resolved, Error> {
        let mut resolved = Resolved {
            latency: self.latency,
            status: self.status,
            circuit: self.circuit,
        };
        // Overridden fields are reported under their override name, the others under their
        // section's, so that the message names the line to change.
        let name = |overridden: bool, flat: &str, section: &str| {
            if overridden && !scope.is_empty() {
                format!("{scope}{flat}")
            } else {
                section.to_owned()
            }
        };
        let latency = &mut resolved.latency;
        latency.target = o.latency_target.unwrap_or(latency.target);
        latency.max = o.latency_max.unwrap_or(latency.max);
        let target = name(
            o.latency_target.is_some(),
            "latency_target",
            "latency.target",
        );
        let max = name(o.latency_max.is_some(), "latency_max", "latency.max");
        positive_duration(&target, latency.target)?;
        if latency.target >= latency.max {
            return Err(not_ordered(
                &target,
                &fmt_duration(latency.target),
                &max,
                &fmt_duration(latency.max),
            ));
        }

        let status = &mut resolved.status;
        status.healthy = o.healthy_threshold.unwrap_or(status.healthy);
        status.degraded = o.degraded_threshold.unwrap_or(status.degraded);
        let healthy = name(
            o.healthy_threshold.is_some(),
            "healthy_threshold",
            "status.healthy",
        );
        let degraded = name(
            o.degraded_threshold.is_some(),
            "degraded_threshold",
            "status.degraded",
        );
        range_open_low(&degraded, status.degraded, 0.0, 1.0)?;
        range(&healthy, status.healthy, 0.0, 1.0)?;
        if status.degraded >= status.healthy {
            return Err(not_ordered(
                &degraded,
                &status.degraded.to_string(),
                &healthy,
                &status.healthy.to_string(),
            ));
        }
        range("status.margin", status.margin, 0.0, 1.0 - status.healthy)?;
        positive_count("status.min_calls", status.min_calls)?;

        let circuit = &mut resolved.circuit;
        circuit.consecutive_failures = o
            .consecutive_failures
            .unwrap_or(circuit.consecutive_failures);
        circuit.slow_call_duration = o.slow_call_duration.unwrap_or(circuit.slow_call_duration);
        positive_count(
            &name(
                o.consecutive_failures.is_some(),
                "consecutive_failures",
                "circuit.consecutive_failures",
            ),
            u64::from(circuit.consecutive_failures),
        )?;
        positive_duration(
            &name(
                o.slow_call_duration.is_some(),
                "slow_call_duration",
                "circuit.slow_call_duration",
            ),
            circuit.slow_call_duration,
        )?;
        range_open_low("circuit.failure_rate", circuit.failure_rate, 0.0, 1.0)?;
        range_open_low("circuit.slow_call_rate", circuit.slow_call_rate, 0.0, 1.0)?;
        positive_count("circuit.min_calls", circuit.min_calls)?;
        positive_duration("circuit.rate_window", circuit.rate_window)?;
        positive_duration("circuit.cool_down", circuit.cool_down)?;
        if circuit.max_cool_down < circuit.cool_down {
            return Err(not_ordered(
                "circuit.cool_down",
                &fmt_duration(circuit.cool_down),
                "circuit.max_cool_down",
                &fmt_duration(circuit.max_cool_down),
            ));
        }
        positive_duration("circuit.trip_reset", circuit.trip_reset)?;
        range(
            "circuit.half_open_probes",
            f64::from(circuit.half_open_probes),
            1.0,
            1_000_000.0,
        )?;
        range(
            "circuit.half_open_successes",
            f64::from(circuit.half_open_successes),
            1.0,
            f64::from(circuit.half_open_probes),
        )?;
        Ok(resolved)
    }
}

fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn not_ordered(lower: &str, lower_value: &str, upper: &str, upper_value: &str) -> Error {
    Error::NotOrdered {
        lower: lower.into(),
        lower_value: lower_value.into(),
        upper: upper.into(),
        upper_value: upper_value.into(),
    }
}

/// `value` in `[min, max]`.
fn range(field: &str, value: f64, min: f64, max: f64) -> Result<(), Error> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            field: field.into(),
            value,
            min,
            max,
        })
    }
}

/// `value` in `(min, max]`.
fn range_open_low(field: &str, value: f64, min: f64, max: f64) -> Result<(), Error> {
    if value > min && value <= max {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            field: field.into(),
            value,
            min,
            max,
        })
    }
}

fn positive_duration(field: &str, value: Duration) -> Result<(), Error> {
    if value.is_zero() {
        Err(Error::NotPositive {
            field: field.into(),
        })
    } else {
        Ok(())
    }
}

fn positive_count(field: &str, value: u64) -> Result<(), Error> {
    if value == 0 {
        Err(Error::NotPositive {
            field: field.into(),
        })
    } else {
        Ok(())
    }
}

fn whole_buckets(field: &str, value: Duration, window: &WindowConfig) -> Result<(), Error> {
    let bucket = window.bucket_width().as_nanos();
    if value.is_zero() {
        return Err(Error::NotPositive {
            field: field.into(),
        });
    }
    if !value.as_nanos().is_multiple_of(bucket) {
        return Err(Error::NotWholeBuckets {
            field: field.into(),
            value: fmt_duration(value),
            bucket: fmt_duration(window.bucket_width()),
        });
    }
    Ok(())
}

/// Serde for [`Duration`]: humantime strings or seconds in, humantime strings out.
mod duration {
    use std::{fmt, time::Duration};

    use serde::{Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*value))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(Visitor)
    }

    struct Visitor;

    impl de::Visitor<'_> for Visitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"a duration such as "30s" or "5m", or a number of seconds"#)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            humantime::parse_duration(v).map_err(|e| E::custom(format!("{e} in {v:?}")))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_secs)
                .map_err(|_| E::custom("a duration cannot be negative"))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
            Duration::try_from_secs_f64(v).map_err(|e| E::custom(format!("{e}: {v}")))
        }
    }
}

/// Serde for [`RoutingPolicy`] (the catalogue's enum, which has no serde of its own): its label
/// value, such as `"cheapest"`.
mod policy {
    use gatewayz_catalogue::RoutingPolicy;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(value: &RoutingPolicy, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RoutingPolicy, D::Error> {
        let given = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        RoutingPolicy::parse(&given).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown routing policy {given:?}; the policies are {}",
                RoutingPolicy::VALUES.join(", ")
            ))
        })
    }
}

/// Serde for the per-model policies: a table of model names to policy names.
mod policies {
    use std::collections::BTreeMap;

    use gatewayz_catalogue::RoutingPolicy;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Wrapped(#[serde(with = "super::policy")] RoutingPolicy);

    pub(super) fn serialize<S: Serializer>(
        value: &BTreeMap<String, RoutingPolicy>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(
            value
                .iter()
                .map(|(model, &policy)| (model, Wrapped(policy))),
        )
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, RoutingPolicy>, D::Error> {
        let wrapped = BTreeMap::<String, Wrapped>::deserialize(d)?;
        Ok(wrapped.into_iter().map(|(m, w)| (m, w.0)).collect())
    }
}

/// Serde for `Option<Duration>`, as [`duration`] with `null` or absence for `None`.
mod option_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Wrapped(#[serde(with = "super::duration")] Duration);

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(Wrapped).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(HealthConfig::default().validate(), Ok(()));
        assert_eq!(
            HealthConfig::default().window.bucket_width(),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn an_override_error_names_the_override() {
        let mut config = HealthConfig::default();
        config.providers.insert(
            "groq".into(),
            ProviderConfig::default()
                .with_latency(Duration::from_secs(40), Duration::from_secs(30)),
        );
        let err = config.validate().unwrap_err();
        assert_eq!(
            err,
            not_ordered(
                "providers.groq.latency_target",
                "40s",
                "providers.groq.latency_max",
                "30s"
            )
        );
    }
}
