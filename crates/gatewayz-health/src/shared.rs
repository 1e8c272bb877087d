//! Circuit state shared by the replicas of a fleet, behind [`CircuitStore`]: what one replica's
//! breaker decides (open with its cool-down, closed, an operator's forcing) the others follow,
//! and the half-open probes are counted for the fleet, not per replica.
//!
//! The tracker does no I/O: a store keeps a local copy of the shared records in step in the
//! background (the Redis store of `gatewayz-health-redis` with pub/sub and a periodic read),
//! and the request path reads that copy. Only a half-open circuit asks the store itself,
//! once per probe, with a bounded wait. Without a store (the default) none of this runs.

use std::{fmt, time::Duration};

use gatewayz_catalogue::{CIRCUIT_SHARED_FALLBACKS, CIRCUIT_SHARED_STATE};
use gatewayz_metrics::Metrics;
use metrics::{Counter, Gauge};

use crate::publish::{counter, gauge};

/// A circuit as the fleet shares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedPhase {
    /// Calls go through.
    Closed,
    /// Calls are refused until the cool-down is over (then the circuit is half-open), or until
    /// an operator closes it (`cool_down_left: None`, forced open).
    Open {
        /// Time left of the cool-down when the record was read; `None` when forced open.
        cool_down_left: Option<Duration>,
    },
}

/// The shared part of one provider's circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedCircuit {
    /// Open or closed.
    pub phase: SharedPhase,
    /// Openings since the circuit last stayed closed for `circuit.trip_reset`: the next
    /// cool-down is `cool_down × 2^trips`, the same on every replica.
    pub trips: u32,
}

/// The store's latest record of a provider's circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedRecord {
    /// Increases with every record the store takes (per store, across providers).
    pub version: u64,
    /// The circuit.
    pub circuit: SharedCircuit,
    /// Whether this replica published it (its content is then already applied here).
    pub from_here: bool,
}

/// Whether a store is in use, for the metrics and a health endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SharedStatus {
    /// The store answers: circuits are shared. While false, this replica's breakers act alone.
    pub in_use: bool,
    /// Times the store became unreachable since start.
    pub fallbacks: u64,
    /// Number of the current connection, changed on every (re)connection once the local copy
    /// reflects the store; replicas reconcile when it changes.
    pub connection: u64,
}

/// The store could not answer in time: act on the local breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable;

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the shared circuit store is unreachable")
    }
}

impl std::error::Error for Unreachable {}

/// Where a fleet's replicas share their circuits.
///
/// `latest`, `publish`, `release_probe` and `status` are on the request path and must never
/// wait on the network: read a local copy, queue a write. `claim_probe` and `probe_succeeded`
/// happen only while a circuit is half-open and may make one call with a short timeout.
///
/// # Contract
///
/// - Only **open** (with the cool-down left, or forced) and **closed** are shared, with the
///   trip count that sets the next cool-down. Half-open is reached by every replica from the
///   shared cool-down, on its own clock: no message is needed, and the half-open **period** is
///   named by the version of the open record it follows.
/// - Records carry a **version**, increasing per store; a replica applies a record newer than
///   the last it applied, and skips the content of its own ([`SharedRecord::from_here`]).
/// - **Probes**: a replica entering a probe asks [`claim_probe`](CircuitStore::claim_probe) for
///   one of the period's `half_open_probes` slots, and counts each successful probe with
///   [`probe_succeeded`](CircuitStore::probe_succeeded); the replica whose success brings the
///   fleet's count to `half_open_successes` closes the circuit and publishes it. A failed
///   probe opens the circuit (a local transition, published).
/// - **Unreachable**: a store that cannot answer says so ([`Unreachable`], and
///   [`SharedStatus::in_use`] false). The replica then acts on its local breaker alone,
///   without failing a call: probes are counted locally, transitions are not shared.
/// - **Rejoining**: each (re)connection has a new [`SharedStatus::connection`] number, given
///   only once the local copy reflects the store. A replica that sees a new connection forgets
///   the versions it applied and reconciles: the stricter circuit wins, so a circuit open here
///   and closed (or unknown) in the store is published; otherwise the store's is followed.
pub trait CircuitStore: Send + Sync + fmt::Debug {
    /// The latest record of `provider`'s circuit, from the local copy; `None` if the store has
    /// none.
    fn latest(&self, provider: &str) -> Option<SharedRecord>;

    /// Shares a circuit decided here. Never waits; dropped while the store is unreachable
    /// (rejoining reconciles).
    fn publish(&self, provider: &str, circuit: SharedCircuit);

    /// Claims one of `limit` probe slots of `provider`'s half-open period `period`:
    /// `Ok(false)` when the fleet's slots are taken.
    fn claim_probe(&self, provider: &str, period: u64, limit: u32) -> Result<bool, Unreachable>;

    /// Gives back a slot claimed in `period` by a probe that was not made. Never waits.
    fn release_probe(&self, provider: &str, period: u64);

    /// Counts a successful probe of `period`; returns the fleet's count so far.
    fn probe_succeeded(&self, provider: &str, period: u64) -> Result<u32, Unreachable>;

    /// Whether the store is in use.
    fn status(&self) -> SharedStatus;
}

/// The fleet series of a tracker with a store: whether shared state is in use, and the
/// fallbacks to local breakers.
#[derive(Debug)]
pub(crate) struct SharedSeries {
    in_use: Gauge,
    fallbacks: Counter,
}

impl SharedSeries {
    pub(crate) fn register(metrics: &Metrics) -> Self {
        metrics.in_scope(|| SharedSeries {
            in_use: gauge(&CIRCUIT_SHARED_STATE, &[]),
            fallbacks: counter(&CIRCUIT_SHARED_FALLBACKS, &[]),
        })
    }

    pub(crate) fn publish(&self, status: SharedStatus) {
        self.in_use.set(if status.in_use { 1.0 } else { 0.0 });
        self.fallbacks.absolute(status.fallbacks);
    }
}
