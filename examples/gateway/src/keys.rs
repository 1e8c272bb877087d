//! API key authentication through a cache in front of the database.
//!
//! A key is looked up in SQLite (through the store's worker) on its first use and again after
//! `ttl`, so revocations and top-ups made with the `keys` CLI take effect within `ttl`. Between
//! lookups, the cached balance is debited in memory as requests are charged, so the 402 decision
//! never waits for the database. Only valid keys are cached; the cache stops growing at
//! `capacity` entries (further keys are looked up each time).

use std::{
    collections::HashMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicI64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use gatewayz_metrics::CacheMetrics;

use crate::{
    openai::ApiError,
    store::{Charge, KeyRecord, Store, hash_key, unix_now},
};

/// An authenticated key, shared by its in-flight requests.
#[derive(Debug)]
pub struct Key {
    /// Row id.
    pub id: i64,
    /// Recognisable prefix, for logs.
    pub prefix: String,
    credits_nano: AtomicI64,
    loaded: Instant,
}

impl Key {
    fn new(record: &KeyRecord) -> Key {
        Key {
            id: record.id,
            prefix: record.prefix.clone(),
            credits_nano: AtomicI64::new(record.credits_nano),
            loaded: Instant::now(),
        }
    }

    /// Remaining credits, in nano-credits.
    pub fn credits_nano(&self) -> i64 {
        self.credits_nano.load(Relaxed)
    }
}

/// The cache of authenticated keys.
pub struct Keys {
    store: Arc<Store>,
    cached: RwLock<HashMap<String, Arc<Key>>>,
    ttl: Duration,
    capacity: usize,
    metrics: CacheMetrics,
}

impl Keys {
    /// A cache in front of `store`.
    pub fn new(store: Arc<Store>, ttl: Duration, metrics: CacheMetrics) -> Keys {
        Keys {
            store,
            cached: RwLock::new(HashMap::new()),
            ttl,
            capacity: 100_000,
            metrics,
        }
    }

    /// Authenticates the `Authorization` header's bearer key.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Arc<Key>, ApiError> {
        let key = bearer(authorization)?;
        let hash = hash_key(key);
        let cached = self
            .cached
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&hash)
            .cloned();
        if let Some(key) = cached.filter(|k| k.loaded.elapsed() < self.ttl) {
            self.metrics.hit();
            return Ok(key);
        }
        self.metrics.miss();
        let record = self.store.lookup(hash.clone()).await.map_err(|error| {
            tracing::error!(%error, "API key lookup failed");
            ApiError::internal()
        })?;
        let Some(record) = record.filter(|r| r.active_at(unix_now())) else {
            self.cached
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&hash);
            return Err(ApiError::unauthorized(
                "invalid, revoked or expired API key",
            ));
        };
        let key = Arc::new(Key::new(&record));
        let mut cached = self.cached.write().unwrap_or_else(PoisonError::into_inner);
        if cached.len() < self.capacity || cached.contains_key(&hash) {
            cached.insert(hash, Arc::clone(&key));
        }
        Ok(key)
    }

    /// Debits the key now and queues the charge for the database.
    pub fn charge(&self, key: &Key, charge: Charge) {
        key.credits_nano.fetch_sub(charge.credits_nano, Relaxed);
        if let Err(error) = self.store.charge(charge) {
            tracing::error!(%error, key = %key.prefix, "a charge could not be queued");
        }
    }
}

/// The key of an `Authorization: Bearer <key>` header.
fn bearer(authorization: Option<&str>) -> Result<&str, ApiError> {
    let header = authorization.ok_or_else(|| {
        ApiError::unauthorized("missing API key; send it as `Authorization: Bearer <key>`")
    })?;
    let (scheme, key) = header.trim().split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized("use `Authorization: Bearer <key>`"));
    }
    let key = key.trim();
    if key.is_empty() || key.len() > 256 {
        return Err(ApiError::unauthorized(
            "invalid, revoked or expired API key",
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_keys_are_read() {
        assert_eq!(bearer(Some("Bearer gwz_abc")).unwrap(), "gwz_abc");
        assert_eq!(bearer(Some("bearer   gwz_abc ")).unwrap(), "gwz_abc");
        assert!(bearer(None).is_err());
        assert!(bearer(Some("Basic dXNlcjpwYXNz")).is_err());
        assert!(bearer(Some("Bearer ")).is_err());
        assert!(bearer(Some(&format!("Bearer {}", "x".repeat(300)))).is_err());
    }
}
