//! Reads of the metrics source: inline when they have proved cheap, otherwise on the blocking
//! pool and shared by the requests that wait for them.
//!
//! Each kind of read keeps an estimate of what it costs. One estimated under
//! [`INLINE_BUDGET`] runs inline, on the async worker: a thread hop would cost more than it
//! saves, and under load the two extra wake-ups dominate the latency. Any other (including the
//! first, whose cost is unknown) runs on the blocking pool, so a large render never holds up
//! the requests queued behind it on a worker.
//!
//! Requests for the same answer (the same category's text, the same summary) that arrive
//! while a read is in progress wait for it to end and share the next one; a request never
//! joins a read that started before it arrived, so no answer is older than its request. Each
//! answer therefore has at most one read in progress, however many scrapers arrive at once,
//! and a burst of N requests costs about two reads instead of N.

use std::{
    future::poll_fn,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    task::{Poll, Waker},
    time::{Duration, Instant},
};

use actix_web::web::Bytes;
use gatewayz_registry::Category;

use crate::{Error, MetricsSource};

/// What is read: each kind of answer, in each encoding, has its own flights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// Prometheus text of one category, or of all; gzipped or not.
    Text(Option<Category>, bool),
    /// The JSON summary of one category, or of all; gzipped or not.
    Summary(Option<Category>, bool),
    /// The per-provider health document.
    Providers,
}

/// Reads estimated to take less than this run inline, on the async worker.
pub(crate) const INLINE_BUDGET: Duration = Duration::from_micros(500);

/// `all` and each category.
const SCOPES: usize = Category::ALL.len() + 1;
/// Text and summary, each plain and gzipped, per scope; and the providers' health.
const READS: usize = 4 * SCOPES + 1;

impl Read {
    fn index(self) -> usize {
        let scope = |category: Option<Category>, gzip: bool| {
            category.map_or(0, |c| c as usize + 1) + usize::from(gzip) * SCOPES
        };
        match self {
            Read::Text(category, gzip) => scope(category, gzip),
            Read::Summary(category, gzip) => 2 * SCOPES + scope(category, gzip),
            Read::Providers => 4 * SCOPES,
        }
    }
}

/// The flights of every kind of read, what each last cost, and the outcome of the last read
/// for `/health`.
#[derive(Debug)]
pub(crate) struct Flights {
    slots: [Mutex<Slot>; READS],
    /// Estimated nanoseconds a read of each kind takes; `u64::MAX` before the first.
    costs: [AtomicU64; READS],
    last_failure: Mutex<Option<String>>,
}

impl Default for Flights {
    fn default() -> Self {
        Flights {
            slots: Default::default(),
            costs: std::array::from_fn(|_| AtomicU64::new(u64::MAX)),
            last_failure: Mutex::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// Number of the last flight started.
    started: u64,
    /// The flight in progress.
    pending: Option<Arc<Flight>>,
}

#[derive(Debug)]
struct Flight {
    number: u64,
    state: Mutex<FlightState>,
}

#[derive(Debug, Default)]
struct FlightState {
    result: Option<Result<Bytes, Error>>,
    wakers: Vec<Waker>,
}

enum Step {
    /// A flight that started after the request arrived: its answer will do.
    Join(Arc<Flight>),
    /// A flight that started before: wait for it to land, then look again.
    Wait(Arc<Flight>),
    /// No flight in progress: this request starts one.
    Lead(Arc<Flight>),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Flights {
    /// Reads `read` from `source`: inline if this kind of read proved cheap, else on the
    /// blocking pool, sharing the read with concurrent requests for the same answer.
    pub(crate) async fn read(
        self: &Arc<Self>,
        what: Read,
        source: &Arc<dyn MetricsSource>,
        read: impl FnOnce(&dyn MetricsSource) -> Result<Bytes, Error> + Send + 'static,
    ) -> Result<Bytes, Error> {
        let slot = what.index();
        if self.costs[slot].load(Relaxed) < INLINE_BUDGET.as_nanos() as u64 {
            let result = self.run(slot, &**source, read);
            self.record_outcome(&result);
            return result;
        }
        let arrived_after = lock(&self.slots[slot]).started;
        let mut read = Some(read);
        loop {
            let step = {
                let mut state = lock(&self.slots[slot]);
                match &state.pending {
                    Some(flight) if flight.number > arrived_after => Step::Join(Arc::clone(flight)),
                    Some(flight) => Step::Wait(Arc::clone(flight)),
                    None => {
                        state.started += 1;
                        let flight = Arc::new(Flight {
                            number: state.started,
                            state: Mutex::default(),
                        });
                        state.pending = Some(Arc::clone(&flight));
                        Step::Lead(flight)
                    }
                }
            };
            match step {
                Step::Join(flight) => return flight.landed().await,
                Step::Wait(flight) => {
                    let _ = flight.landed().await;
                }
                Step::Lead(flight) => {
                    let Some(read) = read.take() else {
                        unreachable!("a request leads at most once: it returns right after");
                    };
                    let landing = Landing {
                        flights: Arc::clone(self),
                        slot,
                        flight: Some(Arc::clone(&flight)),
                    };
                    let source = Arc::clone(source);
                    let flights = Arc::clone(self);
                    // Detached: the read lands for every waiter even if the request that
                    // started it is dropped (its client went away) in the meantime.
                    drop(actix_web::rt::task::spawn_blocking(move || {
                        landing.land(flights.run(slot, &*source, read));
                    }));
                    return flight.landed().await;
                }
            }
        }
    }

    /// Runs one read, catching a panic and timing it.
    fn run(
        &self,
        slot: usize,
        source: &dyn MetricsSource,
        read: impl FnOnce(&dyn MetricsSource) -> Result<Bytes, Error>,
    ) -> Result<Bytes, Error> {
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| read(source))).unwrap_or_else(|_| {
            Err(Error::Source {
                reason: "the metrics source panicked".to_owned(),
            })
        });
        let cost: u64 = start.elapsed().as_nanos().try_into().unwrap_or(u64::MAX);
        // A busy machine preempts reads and inflates single timings: the estimate follows a
        // cheaper read at once but a dearer one by at most a quarter per read, so one
        // preemption does not move a cheap read off the worker, while real growth of the
        // registry still does within a few reads.
        let estimate = self.costs[slot].load(Relaxed);
        let ceiling = estimate.saturating_add(estimate / 4);
        self.costs[slot].store(cost.min(ceiling), Relaxed);
        result
    }

    fn record_outcome(&self, result: &Result<Bytes, Error>) {
        match result {
            Ok(_) => {
                let mut last_failure = lock(&self.last_failure);
                if last_failure.is_some() {
                    *last_failure = None;
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "reading the metrics failed");
                *lock(&self.last_failure) = Some(err.to_string());
            }
        }
    }

    /// Why the last read failed, unless a later one succeeded.
    pub(crate) fn last_failure(&self) -> Option<String> {
        lock(&self.last_failure).clone()
    }
}

impl Flight {
    async fn landed(&self) -> Result<Bytes, Error> {
        poll_fn(|cx| {
            let mut state = lock(&self.state);
            if let Some(result) = &state.result {
                return Poll::Ready(result.clone());
            }
            if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                state.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// Lands a flight: with the read's result, or with an error if the read never ran.
struct Landing {
    flights: Arc<Flights>,
    slot: usize,
    flight: Option<Arc<Flight>>,
}

impl Landing {
    fn land(mut self, result: Result<Bytes, Error>) {
        self.finish(result);
    }

    fn finish(&mut self, result: Result<Bytes, Error>) {
        let Some(flight) = self.flight.take() else {
            return;
        };
        self.flights.record_outcome(&result);
        // Cleared before waking, so that woken requests start the next flight.
        lock(&self.flights.slots[self.slot]).pending = None;
        let wakers = {
            let mut state = lock(&flight.state);
            state.result = Some(result);
            std::mem::take(&mut state.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        // Only when the blocking task was dropped unrun (the runtime is shutting down).
        self.finish(Err(Error::Source {
            reason: "the read was cancelled because the server is shutting down".to_owned(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_read_has_its_own_slot() {
        let mut reads = vec![Read::Providers];
        for scope in std::iter::once(None).chain(Category::ALL.map(Some)) {
            for gzip in [false, true] {
                reads.push(Read::Text(scope, gzip));
                reads.push(Read::Summary(scope, gzip));
            }
        }
        let mut indices: Vec<usize> = reads.iter().map(|r| r.index()).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..READS).collect::<Vec<_>>());
    }
}
