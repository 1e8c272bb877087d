//! A [`CircuitStore`] in memory, shared by trackers in one process: the reference for what a
//! store must do, and how tests drive a fleet (and its store going away) without a network.

use std::{
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use hashbrown::HashMap;

use crate::{
    Clock,
    shared::{CircuitStore, SharedCircuit, SharedPhase, SharedRecord, SharedStatus, Unreachable},
};

/// The fleet's store, in memory. Hand each replica's tracker its own [`replica`](Self::replica);
/// [`set_reachable`](Self::set_reachable) simulates the store going away and coming back
/// (coming back empty, like a restarted Redis without persistence).
#[derive(Debug, Clone)]
pub struct MemoryCircuitStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clock: Box<dyn Clock>,
    state: Mutex<State>,
    replicas: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    reachable: bool,
    version: u64,
    connection: u64,
    fallbacks: u64,
    records: HashMap<String, Record>,
    /// Probe slots claimed and probes succeeded, per provider and period.
    probes: HashMap<(String, u64), (u32, u32)>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    version: u64,
    origin: u64,
    /// Clock time the cool-down ends; `None` when forced open; unused when closed.
    until: Option<Duration>,
    open: bool,
    trips: u32,
}

/// One replica's handle on a [`MemoryCircuitStore`].
#[derive(Debug, Clone)]
pub struct MemoryReplica {
    store: MemoryCircuitStore,
    id: u64,
}

impl MemoryCircuitStore {
    /// An empty, reachable store whose cool-down deadlines are kept on `clock` (the fleet's
    /// shared time; give every replica's tracker a clone of the same clock).
    pub fn new(clock: impl Clock + 'static) -> Self {
        MemoryCircuitStore {
            inner: Arc::new(Inner {
                clock: Box::new(clock),
                state: Mutex::new(State {
                    reachable: true,
                    connection: 1,
                    ..State::default()
                }),
                replicas: AtomicU64::new(0),
            }),
        }
    }

    /// A handle for one more replica.
    pub fn replica(&self) -> MemoryReplica {
        MemoryReplica {
            store: self.clone(),
            id: self.inner.replicas.fetch_add(1, Relaxed) + 1,
        }
    }

    /// Makes the store unreachable (every replica falls back to its local breakers) or
    /// reachable again, empty, on a new connection.
    pub fn set_reachable(&self, reachable: bool) {
        let mut state = self.lock();
        if state.reachable == reachable {
            return;
        }
        state.reachable = reachable;
        if reachable {
            state.connection += 1;
            state.records.clear();
            state.probes.clear();
        } else {
            state.fallbacks += 1;
        }
    }

    /// Probe slots claimed in `provider`'s half-open period `period`, for tests.
    pub fn probes_claimed(&self, provider: &str, period: u64) -> u32 {
        let key = (provider.to_owned(), period);
        self.lock().probes.get(&key).map_or(0, |p| p.0)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The probe counters of a period, if the store is reachable.
    fn probes<R>(
        &self,
        provider: &str,
        period: u64,
        f: impl FnOnce(&mut (u32, u32)) -> R,
    ) -> Result<R, Unreachable> {
        let mut state = self.lock();
        if !state.reachable {
            return Err(Unreachable);
        }
        Ok(f(state
            .probes
            .entry((provider.to_owned(), period))
            .or_default()))
    }
}

impl CircuitStore for MemoryReplica {
    fn latest(&self, provider: &str) -> Option<SharedRecord> {
        let now = self.store.inner.clock.now();
        let record = *self.store.lock().records.get(provider)?;
        let phase = if record.open {
            SharedPhase::Open {
                cool_down_left: record.until.map(|until| until.saturating_sub(now)),
            }
        } else {
            SharedPhase::Closed
        };
        Some(SharedRecord {
            version: record.version,
            circuit: SharedCircuit {
                phase,
                trips: record.trips,
            },
            from_here: record.origin == self.id,
        })
    }

    fn publish(&self, provider: &str, circuit: SharedCircuit) {
        let now = self.store.inner.clock.now();
        let mut state = self.store.lock();
        if !state.reachable {
            return;
        }
        state.version += 1;
        let (open, until) = match circuit.phase {
            SharedPhase::Closed => (false, None),
            SharedPhase::Open { cool_down_left } => {
                (true, cool_down_left.map(|left| now.saturating_add(left)))
            }
        };
        let record = Record {
            version: state.version,
            origin: self.id,
            until,
            open,
            trips: circuit.trips,
        };
        state.records.insert(provider.to_owned(), record);
    }

    fn claim_probe(&self, provider: &str, period: u64, limit: u32) -> Result<bool, Unreachable> {
        self.store.probes(provider, period, |(claimed, _)| {
            let granted = *claimed < limit;
            *claimed += u32::from(granted);
            granted
        })
    }

    fn release_probe(&self, provider: &str, period: u64) {
        let _ = self.store.probes(provider, period, |(claimed, _)| {
            *claimed = claimed.saturating_sub(1);
        });
    }

    fn probe_succeeded(&self, provider: &str, period: u64) -> Result<u32, Unreachable> {
        self.store.probes(provider, period, |(_, succeeded)| {
            *succeeded += 1;
            *succeeded
        })
    }

    fn status(&self) -> SharedStatus {
        let state = self.store.lock();
        SharedStatus {
            in_use: state.reachable,
            fallbacks: state.fallbacks,
            connection: state.connection,
        }
    }
}
