//! The background thread that keeps the local copy of the records in step with Redis: it
//! listens on the changes channel and reads every record each `refresh`, so a missed message
//! costs at most that; it notices Redis going away (a reset connection, a read timing out) and
//! comes back, reading everything before saying the store is in use again.

use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering::SeqCst},
    thread,
    time::Instant,
};

use redis::{Connection, RedisResult};

use crate::{inner::Inner, record::Record};

/// Runs until the store is dropped.
pub(crate) fn run(inner: Arc<Inner>) {
    // `None` before the first attempt: failing to reach Redis at start is a fallback too.
    let mut was_in_use: Option<bool> = None;
    while !inner.stopped() {
        let result = session(&inner, &mut was_in_use);
        if inner.stopped() {
            break;
        }
        let lost = inner.in_use.swap(false, SeqCst);
        if lost || was_in_use.is_none() {
            inner.fallbacks.fetch_add(1, SeqCst);
            let why = result.err().map(|e| e.to_string()).unwrap_or_default();
            tracing::warn!(error = %why, "Redis unreachable: circuits fall back to this replica's breakers");
        }
        was_in_use = Some(false);
        thread::sleep(inner.config.retry);
    }
}

/// One connection's life: subscribe, read everything, then follow until an error.
fn session(inner: &Inner, was_in_use: &mut Option<bool>) -> RedisResult<()> {
    let mut listen = inner.connect()?;
    let mut read = inner.connect()?;
    let mut pubsub = listen.as_pubsub();
    // Subscribed before the first read, so no change falls between the two.
    pubsub.subscribe(&inner.keys.changes)?;
    pubsub.set_read_timeout(Some(inner.config.refresh))?;
    let records = read_all(inner, &mut read)?;
    *inner.copy_mut() = records;
    inner.connection.fetch_add(1, SeqCst);
    inner.in_use.store(true, SeqCst);
    if *was_in_use == Some(false) {
        tracing::info!("Redis reachable again: circuits are shared");
    }
    *was_in_use = Some(true);
    let mut last_read = Instant::now();
    while !inner.stopped() {
        match pubsub.get_message() {
            Ok(message) => {
                let payload: String = message.get_payload()?;
                if let Some((provider, record)) = Record::parse_message(&payload) {
                    merge(&mut inner.copy_mut(), provider, record);
                }
            }
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e),
        }
        if last_read.elapsed() >= inner.config.refresh {
            let records = read_all(inner, &mut read)?;
            let mut copy = inner.copy_mut();
            for (provider, record) in records {
                merge(&mut copy, &provider, record);
            }
            last_read = Instant::now();
        }
    }
    Ok(())
}

fn read_all(inner: &Inner, con: &mut Connection) -> RedisResult<HashMap<String, Record>> {
    let lines: HashMap<String, String> =
        redis::cmd("HGETALL").arg(&inner.keys.records).query(con)?;
    Ok(lines
        .into_iter()
        .filter_map(|(provider, line)| Some((provider, Record::parse(&line)?)))
        .collect())
}

/// Keeps the newer of two records of a provider.
fn merge(copy: &mut HashMap<String, Record>, provider: &str, record: Record) {
    match copy.get_mut(provider) {
        Some(known) if known.version >= record.version => {}
        Some(known) => *known = record,
        None => {
            copy.insert(provider.to_owned(), record);
        }
    }
}
