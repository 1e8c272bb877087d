//! Circuit breakers shared by the replicas of a fleet through Redis: a
//! [`CircuitStore`](gatewayz_health::CircuitStore) for `gatewayz-health`.
//!
//! ```
//! use std::time::Duration;
//! use gatewayz_health::{CircuitStore, HealthConfig, HealthTracker};
//! use gatewayz_health_redis::{RedisCircuitStore, RedisStoreConfig};
//!
//! let config = RedisStoreConfig { key_prefix: "gateway-eu:circuits".into(), ..Default::default() };
//! // Nothing listens on port 1: the replica falls back to its local breakers, and says so.
//! let store = RedisCircuitStore::open_with("redis://127.0.0.1:1", config)?;
//! assert!(!store.wait_in_use(Duration::from_millis(200)));
//! let tracker = HealthTracker::builder(HealthConfig::default()).circuit_store(store).build()?;
//! let status = tracker.shared_status().expect("a store");
//! assert!(!status.in_use);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # In Redis
//!
//! Under `key_prefix` (default `gatewayz:circuits`): `:records`, a hash of one line per
//! provider (`version origin state until_ms trips`: `closed`, `open` until a Unix time in
//! milliseconds, or `forced` open); `:version`, the counter that versions them; `:changes`, the
//! channel each new record is announced on; `:probes:<period>:<provider>` and
//! `:successes:<period>:<provider>`, the half-open counters, expiring after `probe_slot_ttl`.
//! A record is written, versioned and announced by one Lua script, so they never disagree.
//! Deadlines are wall-clock times: keep the replicas' clocks synchronised (NTP); skew shifts
//! a cool-down's end by as much.
//!
//! # Behaviour
//!
//! - **Following.** A background thread listens on the channel and reads every record each
//!   `refresh` (500 ms), so a replica follows a change at once, and within `refresh` if it
//!   missed the message. The request path reads that copy: no call waits on Redis, except a
//!   half-open probe's claim and success (at most `timeout`, 100 ms, each).
//! - **Writing.** Circuits decided here and probe slots given back are queued to a second
//!   thread; the request path never waits for them.
//! - **Unreachable.** A reset connection, or a read or write taking longer than `timeout`,
//!   makes the store unreachable: [`status`](gatewayz_health::CircuitStore::status) says so
//!   (`in_use` false, one more `fallbacks`), the tracker acts on its local breakers, and
//!   writes are dropped. The store tries again every `retry` (250 ms); once connected and the
//!   records read, it is in use again on a new connection, and each tracker reconciles (the
//!   stricter circuit wins). A Redis restarted empty starts the versions again: the new
//!   connection tells the trackers to forget the old ones.
//!
//! Keep Redis close to the replicas (same network): `timeout` bounds what a probe waits, and a
//! Redis slower than that reads as unreachable.

mod config;
mod follower;
mod inner;
mod record;
mod store;
mod writer;

pub use config::RedisStoreConfig;
pub use store::RedisCircuitStore;

/// Why a store could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a Redis URL (the URL itself is left out: it may hold a password).
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// A setting is out of range.
    #[error("invalid Redis store setting: {0}")]
    Config(String),
    /// A background thread could not be started.
    #[error("cannot start the Redis store's thread: {0}")]
    Thread(String),
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
