//! Provider health for LLM API gateways: a composite health score, circuit breakers, the
//! failover order and anomaly detection, as pure logic over an injected clock.
//!
//! A gateway holds one [`HealthTracker`] in an `Arc`. On the request path it asks
//! [`failover_order`](HealthTracker::failover_order) which providers to try, takes a
//! [`Permit`] from [`try_acquire`](HealthTracker::try_acquire) before each call and records
//! the outcome on it; [`should_fail_over`] says whether a failure moves the request on. A
//! periodic task calls [`tick`](HealthTracker::tick), which recomputes scores and anomalies
//! and publishes them through `gatewayz-metrics`. The health endpoints read
//! [`snapshot`](HealthTracker::snapshot); admin endpoints call
//! [`force_open`](HealthTracker::force_open), [`force_close`](HealthTracker::force_close) and
//! [`reset`](HealthTracker::reset).
//!
//! ```
//! use std::time::Duration;
//! use gatewayz_health::{
//!     CallOutcome, Decision, HealthConfig, HealthTracker, ManualClock, ProviderConfig,
//!     should_fail_over,
//! };
//! use gatewayz_metrics::{CircuitState, ErrorKind, HealthStatus};
//!
//! let clock = ManualClock::new();
//! let tracker = HealthTracker::builder(HealthConfig::default()).clock(clock.clone()).build()?;
//! tracker.register("openrouter", ProviderConfig::default())?;
//! tracker.register("groq", ProviderConfig::default())?;
//!
//! // Five timeouts in a row open groq's circuit.
//! for _ in 0..5 {
//!     let permit = tracker.try_acquire("groq").expect("closed");
//!     permit.record(CallOutcome::failure(ErrorKind::Timeout, Duration::from_secs(30)));
//! }
//! assert!(tracker.try_acquire("groq").is_err());
//! assert_eq!(should_fail_over(ErrorKind::Timeout), Decision::FailOver);
//! for _ in 0..20 {
//!     tracker.try_acquire("openrouter").unwrap().record(CallOutcome::success(Duration::from_millis(900)));
//! }
//!
//! clock.advance(Duration::from_secs(10));
//! tracker.tick();
//! assert_eq!(tracker.failover_order(&["groq", "openrouter"]), ["openrouter"]);
//! let snapshot = tracker.provider("openrouter").unwrap();
//! assert_eq!((snapshot.status, snapshot.score), (HealthStatus::Healthy, Some(1.0)));
//! assert_eq!(tracker.provider("groq").unwrap().circuit.state, CircuitState::Open);
//! # Ok::<(), gatewayz_health::Error>(())
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
//!   Measured by `cargo bench -p gatewayz-health`: about 120 ns to acquire and record, 300 ns
//!   to order 20 providers.
//! - **Memory.** Constant per provider: `window.buckets` buckets of counters and a 144-slot
//!   latency histogram each (about 6 KB with the defaults), the same again for the baseline,
//!   and at most `anomaly.recent_events` events. Providers are never forgotten: register the
//!   ones the gateway routes to, not names taken from requests.
//! - **Scores move only on `tick`,** so they do not random-walk with each request. Before the
//!   first tick every provider is `unknown`.
//! - **Unregistered providers** are refused by `try_acquire` ([`Rejected::Unregistered`]),
//!   errors for `record`, and left out of the failover order.
//!
//! # The window
//!
//! Scores are computed over the last `window.length` (5 minutes), kept as `window.buckets`
//! (10) buckets of `length / buckets` (30 s): the window at a tick is the current, partial
//! bucket and the nine before it, so it covers between 4.5 and 5 minutes. Each bucket counts
//! calls made, calls refused by the circuit, failures, answers and health probes, and holds a
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
//! | availability | share of attempts that got any answer from the provider, where attempts are calls made, calls refused by its circuit (while the circuit is open the provider is unreachable for us) and health probes ([`probed`](HealthTracker::probed)); an answer is any HTTP response, as opposed to a timeout, a connection failure or a refusal |
//! | error rate | calls that failed for a reason counted against the provider ([`counts_against_provider`]) over calls made |
//! | latency score | from the p95 of calls that did not fail: 1 at or below `latency.target` (2 s), 0 at or above `latency.max` (30 s), linear between; 0 if no call succeeded |
//!
//! With fewer than `status.min_calls` (10) requests (calls made plus calls refused) in the
//! window the status is `unknown` and the score is `None` (published as `NaN`); the inputs are
//! still reported where defined. If every request was refused, the missing error rate and
//! latency count as their worst.
//!
//! With the default weights a provider that answers every call fast but fails a share `e` of
//! them scores `1 − 0.3 e`, so it stays healthy up to `e = 2/3`: the circuit's failure-rate
//! rule (50%) acts first. Raise `weights.error_rate` for a status that reacts sooner.
//!
//! # Status
//!
//! | status | when |
//! | --- | --- |
//! | `healthy` | score ≥ `status.healthy` (0.8) |
//! | `degraded` | `status.degraded` (0.5) ≤ score < `status.healthy` |
//! | `unavailable` | score < `status.degraded`, or the circuit is open or half-open |
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
//! # Failover
//!
//! [`failover_order`](HealthTracker::failover_order) ranks candidates (open circuits skipped,
//! half-open ones first while they have a probe slot, then by score, ties in the caller's
//! order, optionally weighted by cost); if every circuit is open it returns the candidate
//! whose cool-down ends first. [`should_fail_over`] is the table of which failures move a
//! request on; [`counts_against_provider`] the table of which failures count.
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
//! [`AnomalyEvent`]s returned by `tick` and kept (the last 16) in the snapshot.
//!
//! # Publishing
//!
//! With a [`Metrics`](gatewayz_metrics::Metrics) facade given to the builder, `tick` publishes
//! each provider's score, its three inputs, p95 and status (one-hot) and its circuit state
//! (one-hot), and anomaly starts and ends; circuit transitions and rejections are published
//! when they happen; failovers when the gateway calls
//! [`failed_over`](HealthTracker::failed_over). The tracker does not record raw calls: the
//! gateway does that through the facade, which owns the request and latency series.

mod anomaly;
mod breaker;
mod clock;
mod config;
mod error;
mod failover;
mod outcome;
mod score;
mod snapshot;
mod tracker;
mod window;

pub use anomaly::{AnomalyEvent, AnomalyPhase};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AnomalyConfig, CircuitConfig, FailoverConfig, HealthConfig, LatencyConfig, ProviderConfig,
    StatusConfig, Weights, WindowConfig,
};
pub use error::Error;
pub use outcome::{CallOutcome, Decision, counts_against_provider, should_fail_over};
pub use snapshot::{CircuitSnapshot, ProviderSnapshot};
pub use tracker::{HealthTracker, HealthTrackerBuilder, Permit, Rejected};
