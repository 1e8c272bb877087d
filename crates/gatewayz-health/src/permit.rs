//! Admission to call a provider, and the one place an attempt is reported: [`Permit::finish`]
//! feeds the provider's health window and circuit and, through the tracker's `Metrics`, the
//! inference series, so the two can never disagree or count an attempt twice.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering::Relaxed},
    },
    time::Duration,
};

use gatewayz_catalogue::ClosedValue;
use gatewayz_metrics::{ErrorKind, Inference};

use crate::{CallOutcome, breaker::Refusal, provider::Provider};

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

/// The admission check of `provider`: a permit (reporting to `slot`, for a route), or the
/// refusal, already counted.
pub(crate) fn acquire(
    provider: &Arc<Provider>,
    slot: Option<Arc<Slot>>,
) -> Result<Permit, Rejected> {
    match provider.acquire() {
        Ok(probe) => Ok(Permit::new(Arc::clone(provider), probe, slot)),
        Err(Refusal::Open { retry_after }) => Err(Rejected::Open { retry_after }),
        Err(Refusal::ProbesBusy) => Err(Rejected::ProbesBusy),
    }
}

/// How the attempt of a [`Route`](crate::Route)'s candidate ended, so the route can count the
/// failover (with its reason) when the caller moves on.
#[derive(Debug, Default)]
pub(crate) struct Slot(AtomicU8);

const PENDING: u8 = 0;
const SUCCEEDED: u8 = 1;

impl Slot {
    fn set(&self, result: Result<(), ErrorKind>) {
        let code = match result {
            Ok(()) => SUCCEEDED,
            Err(kind) => 2 + kind.index() as u8,
        };
        self.0.store(code, Relaxed);
    }

    /// The failure the attempt ended with; `None` while pending or after a success.
    pub(crate) fn failure(&self) -> Option<ErrorKind> {
        match self.0.load(Relaxed) {
            PENDING | SUCCEEDED => None,
            code => ErrorKind::ALL.get(usize::from(code - 2)).copied(),
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
    slot: Option<Arc<Slot>>,
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
    pub(crate) fn new(
        provider: Arc<Provider>,
        probe: Option<u64>,
        slot: Option<Arc<Slot>>,
    ) -> Self {
        Permit {
            provider,
            probe,
            finished: false,
            slot,
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

    /// Reports the attempt: one call feeds the provider's health window and circuit and, when
    /// the tracker has a `Metrics` facade, records the inference there
    /// (`Metrics::inference_finished`). The provider is the permit's: `inference.provider` is
    /// replaced by it, so health and metrics always name the same provider.
    pub fn finish(mut self, inference: &Inference<'_>) {
        let outcome = CallOutcome::from(inference);
        self.report(outcome);
        if let Some(metrics) = &self.provider.shared.metrics {
            metrics.inference_finished(&Inference {
                provider: &self.provider.name,
                ..*inference
            });
        }
    }

    /// Reports a call that is not an inference (a model listing, an embedding): its health
    /// and, through the tracker's `Metrics`, the provider's response time, errors and
    /// availability (`Metrics::provider_call_finished`).
    pub fn finish_call(mut self, outcome: CallOutcome) {
        self.report(outcome);
        if let Some(metrics) = &self.provider.shared.metrics {
            metrics.provider_call_finished(&self.provider.name, outcome.duration, outcome.result);
        }
    }

    fn report(&mut self, outcome: CallOutcome) {
        self.finished = true;
        self.provider
            .record(outcome.class(), outcome.duration, self.probe);
        if let Some(slot) = &self.slot {
            slot.set(outcome.result);
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
