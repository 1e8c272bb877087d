//! The background thread that writes what the request path queued (a circuit decided here, a
//! probe slot given back), so that path never waits on Redis. While Redis is unreachable a
//! write waits for the next attempt to connect (one per `retry`) and is dropped if it fails:
//! rejoining reconciles the circuits.

use std::{
    sync::{Arc, mpsc::Receiver},
    thread,
    time::Instant,
};

use redis::{Connection, RedisResult};

use crate::inner::Inner;

/// Takes the next version, stores the record under it and announces it, atomically.
/// KEYS: version, records, changes; ARGV: provider, the record after its version.
const PUBLISH: &str = "\
local v = redis.call('INCR', KEYS[1])
local line = v .. ' ' .. ARGV[2]
redis.call('HSET', KEYS[2], ARGV[1], line)
redis.call('PUBLISH', KEYS[3], line .. ' ' .. ARGV[1])
return v";

/// Gives a probe slot back, never below zero. KEYS: the slots.
const RELEASE: &str = "\
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0";

/// A write queued by the request path.
#[derive(Debug)]
pub(crate) enum Job {
    /// Share a circuit: the provider, and the record after its version.
    Publish { provider: String, line: String },
    /// Give back a probe slot (its key).
    Release { key: String },
}

/// Runs until the store is dropped (the queue's sender with it).
pub(crate) fn run(inner: Arc<Inner>, jobs: Receiver<Job>) {
    let mut con: Option<Connection> = None;
    let mut next_attempt = Instant::now();
    while let Ok(job) = jobs.recv() {
        if con.is_none() {
            // At most one attempt per `retry`; a write waits for it rather than being dropped
            // just after Redis came back.
            thread::sleep(next_attempt.saturating_duration_since(Instant::now()));
            con = inner.connect().ok();
            if con.is_none() {
                next_attempt = Instant::now() + inner.config.retry;
            }
        }
        let Some(connection) = con.as_mut() else {
            continue;
        };
        if write(&inner, connection, &job).is_ok() {
            continue;
        }
        // The connection may be one Redis dropped while idle (a restart): one more try on a
        // fresh one before the write is lost.
        con = inner.connect().ok();
        let result = match con.as_mut() {
            Some(connection) => write(&inner, connection, &job),
            None => Ok(()),
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, ?job, "a circuit write to Redis was lost");
            con = None;
        }
        if con.is_none() {
            next_attempt = Instant::now() + inner.config.retry;
        }
    }
}

fn write(inner: &Inner, con: &mut Connection, job: &Job) -> RedisResult<()> {
    match job {
        Job::Publish { provider, line } => {
            let keys = &inner.keys;
            redis::cmd("EVAL")
                .arg(PUBLISH)
                .arg(3)
                .arg(&keys.version)
                .arg(&keys.records)
                .arg(&keys.changes)
                .arg(provider)
                .arg(line)
                .query::<u64>(con)?;
        }
        Job::Release { key } => {
            redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(key)
                .query::<u64>(con)?;
        }
    }
    Ok(())
}
