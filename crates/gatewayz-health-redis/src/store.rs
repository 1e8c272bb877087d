//! [`RedisCircuitStore`]: the [`CircuitStore`] of a fleet on Redis.

use std::{
    hash::{BuildHasher, RandomState},
    sync::{
        Arc,
        atomic::Ordering::SeqCst,
        mpsc::{self, Sender},
    },
    thread,
    time::{Duration, Instant},
};

use gatewayz_health::{CircuitStore, SharedCircuit, SharedRecord, SharedStatus, Unreachable};
use redis::{Client, Connection, RedisResult};

use crate::{
    Error, RedisStoreConfig, follower,
    inner::Inner,
    record::{State, now_ms},
    writer::{self, Job},
};

/// Takes one of `ARGV[1]` probe slots; the counter lives `ARGV[2]` ms. KEYS: the slots.
const CLAIM: &str = "\
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
return 1";

/// Counts a successful probe; the counter lives `ARGV[1]` ms. KEYS: the successes.
const SUCCEEDED: &str = "\
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n";

/// Circuits shared through Redis; give one to each replica's tracker
/// ([`HealthTrackerBuilder::circuit_store`](gatewayz_health::HealthTrackerBuilder::circuit_store)).
///
/// Two background threads do the I/O: one keeps the local copy of the records in step
/// (pub/sub, and a full read every `refresh`), one writes what the request path queued. The
/// request path reads the copy and queues writes; only a half-open probe's claim and success
/// call Redis, waiting at most `timeout`. Dropping the store stops both threads.
#[derive(Debug)]
pub struct RedisCircuitStore {
    inner: Arc<Inner>,
    jobs: Sender<Job>,
}

impl RedisCircuitStore {
    /// A store on the Redis at `url` (`redis://[:password@]host:port[/db]`) with the default
    /// settings. Redis need not be up: until it is, the replica uses its local breakers.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn open(url: &str) -> Result<RedisCircuitStore, Error> {
        RedisCircuitStore::open_with(url, RedisStoreConfig::default())
    }

    /// A store on the Redis at `url` with `config`.
    ///
    /// # Errors
    /// When `url` is not a Redis URL, or a duration in `config` is zero.
    pub fn open_with(url: &str, config: RedisStoreConfig) -> Result<RedisCircuitStore, Error> {
        // The URL may hold a password: it is never part of an error.
        let client = Client::open(url).map_err(|e| Error::Url(format!("{:?}", e.kind())))?;
        let durations = [
            ("refresh", config.refresh),
            ("timeout", config.timeout),
            ("retry", config.retry),
            ("probe_slot_ttl", config.probe_slot_ttl),
        ];
        if let Some((name, _)) = durations.iter().find(|(_, d)| d.is_zero()) {
            return Err(Error::Config(format!("{name} must be more than zero")));
        }
        let origin = RandomState::new().hash_one(std::process::id());
        let inner = Arc::new(Inner::new(client, config, origin));
        let (jobs, queue) = mpsc::channel();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            thread::Builder::new()
                .name(name.to_owned())
                .spawn(f)
                .map_err(|e| Error::Thread(e.to_string()))
        };
        let follower_inner = Arc::clone(&inner);
        spawn(
            "circuits-follow",
            Box::new(move || follower::run(follower_inner)),
        )?;
        let writer_inner = Arc::clone(&inner);
        spawn(
            "circuits-write",
            Box::new(move || writer::run(writer_inner, queue)),
        )?;
        Ok(RedisCircuitStore { inner, jobs })
    }

    /// Waits up to `timeout` for Redis to be in use (connected, records read): for start-up
    /// and tests, never the request path. Returns whether it is.
    pub fn wait_in_use(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.inner.in_use.load(SeqCst) {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// One bounded call on the direct connection; an error drops the connection.
    fn call<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Result<T, Unreachable> {
        let mut direct = self.inner.direct();
        if direct.is_none() {
            *direct = Some(self.inner.connect().map_err(|_| Unreachable)?);
        }
        let con = direct.as_mut().ok_or(Unreachable)?;
        f(con).map_err(|e| {
            tracing::debug!(error = %e, "a probe call to Redis failed");
            *direct = None;
            Unreachable
        })
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.inner.config.probe_slot_ttl.as_millis()).unwrap_or(u64::MAX)
    }
}

impl Drop for RedisCircuitStore {
    fn drop(&mut self) {
        // The follower stops at its next wake-up (within `refresh`); the writer when the
        // queue's sender, dropped with the store, is gone.
        self.inner.stop();
    }
}

impl CircuitStore for RedisCircuitStore {
    fn latest(&self, provider: &str) -> Option<SharedRecord> {
        let record = self.inner.record(provider)?;
        Some(SharedRecord {
            version: record.version,
            circuit: SharedCircuit {
                phase: record.state.phase(now_ms()),
                trips: record.trips,
            },
            from_here: record.origin == self.inner.origin,
        })
    }

    fn publish(&self, provider: &str, circuit: SharedCircuit) {
        let state = State::of(circuit, now_ms());
        let line = format!("{} {} {}", self.inner.origin, state.encode(), circuit.trips);
        let _ = self.jobs.send(Job::Publish {
            provider: provider.to_owned(),
            line,
        });
    }

    fn claim_probe(&self, provider: &str, period: u64, limit: u32) -> Result<bool, Unreachable> {
        let key = self.inner.keys.probes(provider, period);
        let granted: u32 = self.call(|con| {
            redis::cmd("EVAL")
                .arg(CLAIM)
                .arg(1)
                .arg(&key)
                .arg(limit)
                .arg(self.ttl_ms())
                .query(con)
        })?;
        Ok(granted == 1)
    }

    fn release_probe(&self, provider: &str, period: u64) {
        let key = self.inner.keys.probes(provider, period);
        let _ = self.jobs.send(Job::Release { key });
    }

    fn probe_succeeded(&self, provider: &str, period: u64) -> Result<u32, Unreachable> {
        let key = self.inner.keys.successes(provider, period);
        self.call(|con| {
            redis::cmd("EVAL")
                .arg(SUCCEEDED)
                .arg(1)
                .arg(&key)
                .arg(self.ttl_ms())
                .query(con)
        })
    }

    fn status(&self) -> SharedStatus {
        SharedStatus {
            in_use: self.inner.in_use.load(SeqCst),
            fallbacks: self.inner.fallbacks.load(SeqCst),
            connection: self.inner.connection.load(SeqCst),
        }
    }
}
