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
//!   to acquire and report an attempt, 250 to 400 ns to order 20 providers, 550 to 650 ns for
//!   a routing decision over 20 providers (route and first candidate, any policy), 600 ns to
//!   route a request over 20 providers and report its first attempt.
//! - **Memory.** Constant per provider: `window.buckets` buckets of counters and three 144-slot
//!   latency histograms each (every call, plain calls, streams' first tokens: about 18 KB with
//!   the defaults), and a baseline of one histogram.
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
//! After an incident the score is also that of the provider's last calls until it is healthy
//! again: see [Probation](#probation).
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
//! # A fleet
//!
//! Replicas of one gateway share their circuits through a [`CircuitStore`] given to the
//! builder ([`circuit_store`](HealthTrackerBuilder::circuit_store); a Redis store is in
//! `gatewayz-health-redis`, an in-memory one, [`MemoryCircuitStore`], for tests). Open (with
//! its cool-down and trip count), closed and an operator's forcing are shared: a circuit one
//! replica opens is refused by the others on their next call, as soon as the store's local copy
//! has the record. Half-open is reached by every replica from the shared cool-down, and its
//! probes are counted for the fleet: `circuit.half_open_probes` calls per cool-down across all
//! replicas, `circuit.half_open_successes` successes among them close the circuit everywhere.
//! The window, score, status and anomalies stay per replica (`reset` resets the circuit
//! everywhere, the window here). If the store is unreachable each replica acts on its own
//! breaker, without failing a call, and says so in `gatewayz_circuit_shared_state` (0) and
//! `gatewayz_circuit_shared_fallbacks_total`; when it returns, the stricter circuit wins (one
//! open here and closed or unknown in the store is shared). Without a store nothing is shared
//! and nothing of this runs. The contract a store keeps is in [`CircuitStore`]. With a store,
//! an admission reads the store's local copy, never the network (about 1.4× the local cost of
//! reporting an attempt in `cargo bench -p gatewayz-health`); only a half-open probe's admission
//! and success call the store, with its bounded wait.
//!
//! # Probation
//!
//! A provider that has just failed is judged on what it did lately, not only over its window:
//! the window (5 minutes) still holds its good calls from before, which would outvote its
//! failures and let the policies choose it again. A provider failing 60% of its calls passes
//! the circuit's three probes about once in 16 cool-downs; without probation its window then
//! read healthy and `spread` sent it a third of the traffic until the circuit opened again.
//!
//! - **It begins** when its circuit opens, or when a failed call makes `circuit.failure_rate`
//!   (50%) or more of its last `status.min_calls` (10) calls failures (a provider failing most
//!   of its calls but never five in a row, whose circuit's rate rule still sees enough good
//!   calls from before): at once, between ticks, it stops being eligible.
//! - **While its circuit is closed**, its score and status (and the availability and error
//!   rate published) are the worse of its window's and those of its last calls: its last
//!   `status.min_calls` calls, and its last twice as many (at most 64), each scored with the
//!   window's latency score, the worse counting. The longer record keeps a chance run of good
//!   calls from ending the probation: a provider failing 60% has at most two failures in ten
//!   calls about once in 80 runs of ten, at most four in twenty once in 3,000.
//! - **It is never a policy's choice** (not eligible) but on its **trials**: while its window
//!   alone would let it be chosen (healthy, or not judged and not failing), one in
//!   `1 / routing.exploration` (20) of the routes that offer it with a closed circuit puts it
//!   first, whatever the policy (after a probe). Counted, not drawn, so that it never gets
//!   several in a row. Those calls are how it is judged again. A provider whose window says
//!   degraded too is only failed over to, as any degraded provider.
//! - **It ends** at the tick where its status, judged so, is healthy (with the default
//!   weights and fast answers: at most two failures in its last ten calls and four in its last
//!   twenty); when its window holds no call any more (nothing is left to judge it on, for or
//!   against: how it comes back without exploration); or on `force_close` and `reset` (the
//!   operator vouches for it).
//!
//! # Routing and failover
//!
//! [`route_request`](HealthTracker::route_request) orders a request's candidates
//! ([`RouteRequest`]: the model, whether it streams, each candidate's [`Price`]) and hands them
//! out one at a time, each with its admission. The first is the routing policy's choice; the
//! others follow the [failover order](HealthTracker::failover_order) (open circuits skipped,
//! half-open ones first while they have a probe slot, then by score, ties in the caller's
//! order; if every circuit is open, the candidate whose cool-down ends first).
//! [`route`](HealthTracker::route) does the same knowing only the candidates' names.
//! [`should_fail_over`] is the table of which failures move a request on;
//! [`ErrorKind::counts_against_provider`] the table of which failures count against a provider.
//! Asking the route for the next candidate counts the failover away from the previous one,
//! with its reason (`circuit_open` for a refusal).
//!
//! # Routing policies
//!
//! A policy ([`RoutingPolicy`]) is chosen for the whole tracker (`routing.policy`) and per
//! model (`routing.models`), and chooses among the **eligible** candidates: circuit closed,
//! not on [probation](#probation), status healthy or not judged yet (unless the few calls it
//! had failed at the circuit's `failure_rate` or more: a failing provider the policies stopped
//! choosing is not chosen again just because its calls became too few to judge). Degraded and
//! unavailable providers, providers on probation, and open circuits, are never first while an
//! eligible candidate exists: they are only failed over to. Three things come before any
//! policy: a half-open circuit's probe (with `failover.probe_first`, at most
//! `circuit.half_open_probes` calls per cool-down: how a recovered provider is noticed), a
//! provider's probation trial (how it is judged again), and, when no candidate is eligible, the
//! failover order's first.
//!
//! | policy | first choice | choose it when |
//! | --- | --- | --- |
//! | `spread` (default) | at random among the eligible | providers are alike, or you want every one measured all the time |
//! | `priority` | the best health score | one provider is preferred and the others are backups |
//! | `cheapest` | the lowest expected price per request | prices differ and latency matters less |
//! | `fastest` | the lowest recent p95: time to first token for streams, the whole call otherwise | latency is what clients notice |
//! | `weighted` | the best blend of health, price and latency ([`RoutingWeights`]) | you want a balance, tuned by weights |
//!
//! - **Expected price** of a candidate: `input price + output price × r`, per million tokens,
//!   where `r` is the model's output tokens per input token, learnt from the successful
//!   attempts reported on permits (exponentially weighted over about the last 64; 1 before any,
//!   for at most 1,024 models). The request's own size is the same for every candidate, so it
//!   does not change the ranking. An unknown price never wins.
//! - **Latency** is a p95 over the provider's health window at the last tick: of the time to
//!   first token of streamed calls ([`Inference::time_to_first_token`]) for a stream, of the
//!   duration of plain calls otherwise (a stream's duration depends on its answer's length). Per provider, not per model:
//!   register one name per provider and model when a provider's models differ much in speed.
//!   An unknown latency never wins; with no latency known at all, `fastest` spreads.
//! - **Weighted** maximises `w_health × score + w_price × (cheapest / price) + w_latency ×
//!   (fastest / latency)` over the eligible: each term 1 for the best candidate, less for the
//!   others in proportion (twice the price: 0.5); unknown terms count 0. Defaults 0.2, 0.4, 0.4.
//! - **Ties** go to the better failover rank: the higher score, then the caller's order.
//! - **Exploration**: `cheapest`, `fastest` and `weighted` send a share of requests
//!   (`routing.exploration`, 5%) to an eligible candidate drawn at random, so the others keep
//!   being measured: their latency stays known and their recovery is seen. It costs that share
//!   of requests at the average price and speed instead of the best: with three candidates and
//!   5%, about 3.3% of requests go elsewhere than the pick. The draws use `fastrand`'s
//!   per-thread generator (`fastrand::seed` makes a test reproducible).
//! - **Decisions** are counted in `gatewayz_routing_decisions_total{provider, policy}` when a
//!   route hands out its first candidate.
//! - **Reference cost**: permits of a route made with prices add the call's tokens at the
//!   *reference price* to `gatewayz_routing_reference_cost_usd_total{provider, model}`: the
//!   mean input and output prices of the eligible candidates (those `spread` draws from), or of
//!   the failover order's first when none is eligible. It is what the traffic would have cost
//!   on average under `spread`, so `reference − gatewayz_cost_usd_total` is what routing saved
//!   (negative when it spent more, as `fastest` may).
//! - **Cost**: a decision reads each candidate's circuit, score, status and latency from
//!   atomics (no lock per provider) and picks in one or two passes: O(candidates); a candidate
//!   on probation also counts the route (one atomic add). Up to 8 candidates stay inline in the
//!   route; a routed request allocates one 24-byte slot.
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
mod models;
mod outcome;
mod permit;
mod policy;
mod price;
mod provider;
mod publish;
mod recent;
mod route;
mod score;
mod shared;
mod shared_memory;
mod tracker;
mod window;

pub use anomaly::{AnomalyEvent, AnomalyPhase};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AnomalyConfig, CircuitConfig, FailoverConfig, HealthConfig, LatencyConfig, ProviderConfig,
    RoutingConfig, RoutingPolicy, RoutingWeights, StatusConfig, Weights, WindowConfig,
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
pub use price::Price;
pub use route::{Candidate, Offer, Route, RouteRequest};
pub use shared::{
    CircuitStore, SharedCircuit, SharedPhase, SharedRecord, SharedStatus, Unreachable,
};
pub use shared_memory::{MemoryCircuitStore, MemoryReplica};
pub use tracker::{HealthTracker, HealthTrackerBuilder};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
