//! Provider health for LLM API gateways: a composite health score, circuit breakers, routing
//! with failover, and anomaly detection, as pure logic over an injected clock.
//!
//! A gateway holds one [`HealthTracker`] in an `Arc`, built with its `Metrics` facade. For each
//! request it asks for a [`Route`] over the providers that can serve it and walks it: each
//! [`Candidate`] comes with a [`Permit`] (or the reason its circuit refused the call), and each
//! attempt is reported once, on its permit, with [`Permit::finish`], which feeds the provider's
//! health window and circuit and records the inference through `gatewayz-metrics`. Moving on
//! to the next candidate counts the failover. A periodic task calls
//! [`tick`](HealthTracker::tick), which recomputes scores and anomalies and publishes them;
//! admin endpoints call [`force_open`](HealthTracker::force_open),
//! [`force_close`](HealthTracker::force_close) and [`reset`](HealthTracker::reset). What the
//! tracker knows is read back from the metrics it publishes (the registry's gauges): there is
//! one read model of provider health.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use gatewayz_health::{
//!     ErrorKind, HealthConfig, HealthTracker, Inference, ManualClock, Metrics, Outcome,
//!     ProviderConfig,
//! };
//! use gatewayz_registry::{Category, RecorderBuilder};
//!
//! let recorder = RecorderBuilder::new().build()?;
//! let handle = recorder.handle();
//! let metrics = Metrics::with_recorder(Arc::new(recorder), Default::default());
//! let clock = ManualClock::new();
//! let tracker = HealthTracker::builder(HealthConfig::default())
//!     .clock(clock.clone())
//!     .metrics(metrics)
//!     .build()?;
//! tracker.register("groq", ProviderConfig::default())?;
//! tracker.register("openrouter", ProviderConfig::default())?;
//! let attempt = |outcome, ms| Inference {
//!     model: "llama-3.1-70b",
//!     outcome,
//!     duration: Duration::from_millis(ms),
//!     ..Inference::default()
//! };
//!
//! // Five timeouts in a row open groq's circuit.
//! for _ in 0..5 {
//!     let permit = tracker.try_acquire("groq").expect("closed");
//!     permit.finish(&attempt(Outcome::Error(ErrorKind::Timeout), 30_000));
//! }
//! assert!(tracker.try_acquire("groq").is_err());
//! // Requests routed over both go to openrouter: groq's open circuit leaves it out.
//! for _ in 0..20 {
//!     for candidate in tracker.route(&["groq", "openrouter"]) {
//!         if let Ok(permit) = candidate.admission {
//!             permit.finish(&attempt(Outcome::Success, 900));
//!             break;
//!         }
//!     }
//! }
//!
//! clock.advance(Duration::from_secs(10));
//! tracker.tick();
//! let summary = handle.summary(Some(Category::Providers));
//! let providers = summary.metrics.providers.unwrap();
//! let [groq, openrouter] = &providers.by_provider[..] else { unreachable!() };
//! assert_eq!(groq.status.as_deref(), Some("unavailable"));
//! assert_eq!((groq.circuit_state.as_deref(), groq.health_score), (Some("open"), Some(0.0)));
//! assert_eq!((openrouter.status.as_deref(), openrouter.health_score), (Some("healthy"), Some(1.0)));
//! assert_eq!((openrouter.requests_total, groq.requests_total), (20, 5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Behaviour
//!
//! - **Time.** Nothing sleeps and nothing reads the system time directly: every decision uses
//!   the [`Clock`] given to the builder ([`SystemClock`] by default, [`ManualClock`] in tests).
//!   Clock times are durations since the clock's origin.
//! - **Cost.** Recording an outcome and the admission check take the provider's own mutex for
//!   a few dozen nanoseconds of O(1) work; the provider map is read under a read lock.
//!   Ordering candidates reads atomics only, no lock per provider. A tick holds each
//!   provider's mutex for O(buckets × 144) work, well under a microsecond with the defaults.
//!   Measured by `cargo bench -p gatewayz-health` (without a `Metrics` facade): about 100 ns
//!   to acquire and report an attempt, 250 ns to order 20 providers, 850 ns to route a
//!   request over 20 providers and report its first attempt.
//! - **Memory.** Constant per provider: `window.buckets` buckets of counters and a 144-slot
//!   latency histogram each (about 6 KB with the defaults), the same again for the baseline.
//!   Providers are never forgotten: register the
//!   ones the gateway routes to, not names taken from requests.
//! - **Scores move only on `tick`,** so they do not random-walk with each request. Before the
//!   first tick every provider is `unknown`.
//! - **Unregistered providers** are refused by `try_acquire` ([`Rejected::Unregistered`]) and
//!   left out of routes and the failover order.
//!
//! # The window
//!
//! Scores are computed over the last `window.length` (5 minutes), kept as `window.buckets`
//! (10) buckets of `length / buckets` (30 s): the window at a tick is the current, partial
//! bucket and the nine before it, so it covers between 4.5 and 5 minutes. Each bucket counts
//! calls made, calls refused by the circuit, failures, available answers and health probes, and holds a
//! latency histogram of the calls that did not fail (log-linear: exact below 8 ms, 8 buckets
//! per power of two up to about 17.5 minutes). The p95 is interpolated inside its histogram
//! bucket and never exceeds the slowest call: it is within 12.5% of the true value, and exact
//! when the calls above it all take the same time.
//!
//! # The score
//!
//! `score = 0.4 × availability + 0.3 × (1 − error_rate) + 0.3 × latency_score` (weights in
//! [`Weights`]), each input in [0, 1]:
//!
//! | input | definition |
//! | --- | --- |
//! | availability | share of attempts the provider answered properly, where attempts are calls made, calls refused by its circuit (while the circuit is open the provider is unavailable to us) and health probes ([`probed`](HealthTracker::probed)); answered properly means any answer but one that counts against the provider ([`ErrorKind::counts_against_provider`]): not a timeout, a connection failure, a 5xx, a 429 or a refusal |
//! | error rate | calls that failed for a reason counted against the provider over calls made |
//! | latency score | from the p95 of calls that did not fail: 1 at or below `latency.target` (2 s), 0 at or above `latency.max` (30 s), linear between; 0 if no call succeeded |
//!
//! With fewer than `status.min_calls` (10) requests (calls made plus calls refused) in the
//! window the status is `unknown` and the score is unknown: published as `NaN`, which the
//! `gatewayz-registry` exposition leaves out (no sample, so PromQL sees no value rather than
//! a NaN); the inputs are still reported where defined. If every request was refused, the missing error rate and
//! latency count as their worst.
//!
//! While the circuit is open or half-open the score is 0: the provider takes no traffic (only
//! probes reach it), so it can never score in the healthy band while its status says
//! unavailable. A provider failing every call in the window scores 0 too (no availability, an
//! error rate of 1, no latency from a success).
//!
//! With the default weights a provider that answers every call fast but fails a share `e` of
//! them (for a reason that counts against it) scores `1 − 0.7 e`: healthy up to `e ≈ 0.29`,
//! degraded up to `e ≈ 0.71`, unavailable above. The circuit's failure-rate rule (50%) usually
//! acts first.
//!
//! # Status
//!
//! | status | when |
//! | --- | --- |
//! | `healthy` | score ≥ `status.healthy` (0.8) |
//! | `degraded` | `status.degraded` (0.5) ≤ score < `status.healthy` |
//! | `unavailable` | score < `status.degraded`, or the circuit is open or half-open (score 0) |
//! | `unknown` | fewer than `status.min_calls` requests in the window |
//!
//! Hysteresis: a provider falls to a worse status as soon as its score is below the
//! threshold, and rises to a better one only once the score is at least the threshold plus
//! `status.margin` (0.05); so a score hovering at 0.8 does not flap. The circuit overrides the
//! score, being the faster signal: open or half-open (only probes get through) means
//! `unavailable`, so an outage does not flap the status at every probe.
//!
//! # Circuit breaker
//!
//! | from | to | when |
//! | --- | --- | --- |
//! | closed | open | `circuit.consecutive_failures` (5) counted failures in a row; or, with at least `circuit.min_calls` (20) calls in the last `circuit.rate_window` (60 s), a failure rate ≥ `circuit.failure_rate` (0.5) or a share of calls lasting `circuit.slow_call_duration` (60 s) or more ≥ `circuit.slow_call_rate` (0.8) |
//! | open | half-open | the cool-down is over (checked by `try_acquire` and `tick`) |
//! | half-open | closed | `circuit.half_open_successes` (3) probes succeeded |
//! | half-open | open | one probe failed |
//! | any | open / closed | `force_open` (stays open until `force_close` or `reset`) / `force_close`, `reset` |
//!
//! - The cool-down is `circuit.cool_down × 2^(trips − 1)` (30 s, 60 s, 2 min, 4 min), capped at
//!   `circuit.max_cool_down` (5 min), where trips counts openings since the circuit last
//!   stayed closed for `circuit.trip_reset` (10 min).
//! - Half-open admits at most `circuit.half_open_probes` (3) probe permits, also under
//!   concurrent callers (the check and the count are one critical section). A probe permit
//!   dropped without an outcome gives its slot back, so a cancelled request cannot wedge the
//!   circuit; permits of an earlier half-open period cannot touch a later one.
//! - A call that does not count against the provider (400, 401, 402, 403, 404) ends a run of
//!   failures and counts as a successful probe: the provider answered properly.
//! - Calls admitted before the circuit opened finish without effect on it.
//! - The breaker is per registered name. For per-model circuits, register one name per
//!   provider and model (`openrouter/gpt-4o`); it is then also the `provider` label.
//!
//! # Routing and failover
//!
//! [`route`](HealthTracker::route) orders a request's candidates and hands them out one at a
//! time, each with its admission. The order starts from
//! [`failover_order`](HealthTracker::failover_order) (open circuits skipped, half-open ones
//! first while they have a probe slot, then by score, ties in the caller's order; if every
//! circuit is open, the candidate whose cool-down ends first), and the routing policy
//! ([`RoutingPolicy`], `failover.policy`) decides the first choice: `spread` (the default)
//! draws it at random among the leading healthy or unknown candidates, so every healthy
//! provider gets traffic and stays measured; `priority` keeps the best score first.
//! [`should_fail_over`] is the table of which failures move a request on;
//! [`ErrorKind::counts_against_provider`] the table of which failures count against a provider.
//! Asking the route for the next candidate counts the failover away from the previous one,
//! with its reason (`circuit_open` for a refusal).
//!
//! # Anomalies
//!
//! Each tick compares the observed window (the last completed buckets spanning
//! `anomaly.window`, 60 s) with a baseline learnt from the buckets before it, once
//! `anomaly.warmup` (5 min) of history is in. The baseline is an EWMA (`anomaly.alpha`, 0.1
//! per 30 s bucket) of requests, of failed requests and of the latency histogram; it stops
//! learning a signal while that signal's anomaly is active, for up to `anomaly.adapt_after`
//! (30 min), so an incident does not become the new normal but a lasting change does.
//!
//! | kind | starts when (defaults) |
//! | --- | --- |
//! | `latency_spike` | at least 10 successful calls, and p95 > 3 × baseline p95 and > 5 s |
//! | `error_surge` | at least 10 requests, and the share failed (failures counted against the provider plus refusals) > baseline + 0.2 and > 2 × baseline |
//! | `traffic_drop` | baseline ≥ 20 requests per observed window, and requests < 0.2 × baseline |
//!
//! An anomaly ends at the first tick where its condition no longer holds, including when the
//! minimum volume is no longer met (no evidence either way). Starts and ends are
//! [`AnomalyEvent`]s returned by `tick`, and published as `gatewayz_anomalies_detected_total` and
//! `gatewayz_anomalies_active`.
//!
//! # Publishing
//!
//! With a [`Metrics`] facade given to the builder, the tracker publishes, with that facade's
//! recorder: at registration, the provider as unknown with a closed circuit; on every
//! [`tick`](HealthTracker::tick), each provider's score, its three inputs, p95 and status
//! (one-hot) and its circuit state (one-hot), and anomaly starts and ends; circuit transitions
//! and refusals when they happen; failovers when a [`Route`] moves on. Each attempt reported on
//! a permit is recorded by the facade too (requests, latency, tokens, cost, provider errors and
//! availability). These health series have no other public way in: nothing can count a refusal
//! or a failover twice.
//!
//! A **refused call** (circuit open, or half-open with every probe out) is not an attempt:
//! [`try_acquire`](HealthTracker::try_acquire) counts it once, in
//! `gatewayz_circuit_breaker_rejections_total` and in the window as a request the provider did
//! not serve; it is never an [`Inference`] (an [`Outcome`] has no "refused" value) and never a
//! provider error.

mod anomaly;
mod breaker;
mod clock;
mod config;
mod error;
mod failover;
mod outcome;
mod permit;
mod provider;
mod publish;
mod route;
mod score;
mod tracker;
mod window;

pub use anomaly::{AnomalyEvent, AnomalyPhase};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AnomalyConfig, CircuitConfig, FailoverConfig, HealthConfig, LatencyConfig, ProviderConfig,
    RoutingPolicy, StatusConfig, Weights, WindowConfig,
};
pub use error::Error;
/// The types this crate's API takes and returns, from `gatewayz-metrics` and the catalogue, so
/// a service needs no other import for them.
pub use gatewayz_metrics::{
    AnomalyKind, CircuitState, ErrorKind, FailoverReason, HealthStatus, Inference, Metrics,
    MetricsConfig, Outcome,
};
pub use outcome::{CallOutcome, Decision, should_fail_over};
pub use permit::{Permit, Rejected};
pub use route::{Candidate, Route};
pub use tracker::{HealthTracker, HealthTrackerBuilder};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
