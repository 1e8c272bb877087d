//! Admission to call a provider, and the one place an attempt is reported: [`Permit::finish`]
//! feeds the provider's health window and circuit and, through the tracker's `Metrics`, the
//! inference series, so the two can never disagree or count an attempt twice.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering::Relaxed},
    },
    time::Duration,
};

use gatewayz_catalogue::ClosedValue;
use gatewayz_metrics::{ErrorKind, Inference};

use crate::{CallOutcome, Price, breaker::Refusal, provider::Provider};

/// Why a provider refused a call. A refusal is not an attempt: it is counted as a rejection
/// (and, by [`Route`](crate::Route), as a failover with reason `circuit_open` when the request
/// moves on), never as an inference or a provider error.
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

/// The admission check of `provider`: a permit (reporting to `slot` as attempt `attempt`, for a
/// route), or the refusal, already counted.
pub(crate) fn acquire(provider: &Arc<Provider>, route: Option<Routed>) -> Result<Permit, Rejected> {
    match provider.acquire() {
        Ok(probe) => Ok(Permit::new(Arc::clone(provider), probe, route)),
        Err(Refusal::Open { retry_after }) => Err(Rejected::Open { retry_after }),
        Err(Refusal::ProbesBusy) => Err(Rejected::ProbesBusy),
    }
}

/// What a permit handed out by a [`Route`](crate::Route) carries back to it.
#[derive(Debug)]
pub(crate) struct Routed {
    /// Where the attempt's end is written, for the route to read when the caller moves on.
    pub(crate) slot: Arc<Slot>,
    /// The attempt's number in its route: the slot holds one attempt at a time.
    pub(crate) attempt: u32,
    /// The reference price of the route, for the reference cost.
    pub(crate) reference: Option<Price>,
}

/// How the latest attempt of a [`Route`](crate::Route) ended, so the route can count the
/// failover (with its reason) when the caller moves on. One per route, shared by its permits
/// one attempt at a time: the attempt number is kept with the result, so a permit of an earlier
/// attempt finishing late cannot write over a later one.
#[derive(Debug, Default)]
pub(crate) struct Slot(AtomicU32);

const PENDING: u32 = 0;
const SUCCEEDED: u32 = 1;

impl Slot {
    /// Attempt `attempt` is about to be handed out.
    pub(crate) fn arm(&self, attempt: u32) {
        self.0.store(attempt << 8 | PENDING, Relaxed);
    }

    fn set(&self, attempt: u32, result: Result<(), ErrorKind>) {
        let code = match result {
            Ok(()) => SUCCEEDED,
            Err(kind) => 2 + kind.index() as u32,
        };
        // Only while this attempt is the pending one.
        let _ = self.0.compare_exchange(
            attempt << 8 | PENDING,
            attempt << 8 | code,
            Relaxed,
            Relaxed,
        );
    }

    /// The failure attempt `attempt` ended with; `None` while pending or after a success.
    pub(crate) fn failure(&self, attempt: u32) -> Option<ErrorKind> {
        let value = self.0.load(Relaxed);
        if value >> 8 != attempt {
            return None;
        }
        match value & 0xff {
            PENDING | SUCCEEDED => None,
            code => ErrorKind::ALL.get((code - 2) as usize).copied(),
        }
    }
}

/// Admission to call one provider, once. Report how the call ended with [`finish`](Self::finish)
/// (an inference) or [`finish_call`](Self::finish_call) (any other call), which consume it; a
/// permit dropped without either (a cancelled request, a call never sent) gives its probe slot
/// back and records nothing.
#[must_use = "report the attempt with `Permit::finish`, or drop the permit if the call was not made"]
pub struct Permit {
    provider: Arc<Provider>,
    probe: Option<u64>,
    finished: bool,
    route: Option<Routed>,
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
    pub(crate) fn new(provider: Arc<Provider>, probe: Option<u64>, route: Option<Routed>) -> Self {
        Permit {
            provider,
            probe,
            finished: false,
            route,
        }
    }

    /// The provider this permit is for.
    pub fn provider(&self) -> &str {
        &self.provider.name
    }

    /// Whether this call is a half-open probe: its outcome decides whether the circuit closes.
    pub fn is_probe(&self) -> bool {
        self.probe.is_some()
    }

    /// Reports the attempt: one call feeds the provider's health window (its duration, and
    /// its time to first token if it streamed) and circuit and, when the tracker has a
    /// `Metrics` facade, records the inference there (`Metrics::inference_finished`). The
    /// provider is the permit's: `inference.provider` is replaced by it, so health and metrics
    /// always name the same provider.
    ///
    /// A success also teaches routing the model's output/input token ratio; on a permit of a
    /// route made with prices ([`route_request`](crate::HealthTracker::route_request)), the
    /// call's tokens at the route's reference price are added to
    /// `gatewayz_routing_reference_cost_usd_total`.
    pub fn finish(mut self, inference: &Inference<'_>) {
        let outcome = CallOutcome::from(inference);
        self.report(outcome, inference.time_to_first_token);
        let shared = &self.provider.shared;
        if outcome.result.is_ok() {
            shared.models.learn(
                inference.model,
                inference.input_tokens,
                inference.output_tokens,
            );
        }
        if let Some(metrics) = &shared.metrics {
            metrics.inference_finished(&Inference {
                provider: &self.provider.name,
                ..*inference
            });
            let reference = self.route.as_ref().and_then(|r| r.reference);
            if let (Some(price), Some(published)) = (reference, &self.provider.published) {
                let usd = price.cost(inference.input_tokens, inference.output_tokens);
                published.reference_cost(inference.model, usd);
            }
        }
    }

    /// Reports a call that is not an inference (a model listing, an embedding): its health
    /// and, through the tracker's `Metrics`, the provider's response time, errors and
    /// availability (`Metrics::provider_call_finished`).
    pub fn finish_call(mut self, outcome: CallOutcome) {
        self.report(outcome, None);
        if let Some(metrics) = &self.provider.shared.metrics {
            metrics.provider_call_finished(&self.provider.name, outcome.duration, outcome.result);
        }
    }

    fn report(&mut self, outcome: CallOutcome, ttft: Option<Duration>) {
        self.finished = true;
        self.provider
            .record(outcome.class(), outcome.duration, ttft, self.probe);
        if let Some(route) = &self.route {
            route.slot.set(route.attempt, outcome.result);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.finished
            && let Some(generation) = self.probe
        {
            self.provider.release(generation);
        }
    }
}
