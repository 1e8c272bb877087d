//! API key authentication through a cache of shared [`Account`]s.
//!
//! Each key has one [`Account`] in the cache, shared by all its requests, so they reserve and
//! spend one balance. It is loaded from the database on the key's first use (simultaneous first
//! uses wait for one load: single flight), and its row is read again when it is older than
//! `max_age` (one second by default), before the request that finds it so is served: a
//! revocation, an expiry or a top-up made with the `keys` CLI takes effect within `max_age`.
//! Those re-reads happen on the store's worker thread, in order with the charges it commits.
//!
//! Credits are held for a request by [`Keys::reserve`]: in the key's [`Account`] on one machine,
//! in the database when it is shared by replicas (see `reservations.rs`), so that no replica
//! spends what another holds. Either way the caller gets a [`Hold`] and charges through it.
//!
//! When the store cannot be read (its database is down), a request is refused with a 503
//! (`store_unavailable`) that tells the client to retry: never a 500, and nothing is sent
//! upstream that could not be charged.
//!
//! Unknown keys are not cached. The cache holds at most `capacity` keys: when full, keys with no
//! request in progress and no charge waiting to be written are dropped (they are read afresh on
//! their next use, which loses nothing: their balance is the database's).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use gatewayz_metrics::CacheMetrics;
use tokio::sync::OnceCell;

use crate::{
    account::{Account, Balance, Reservation, Status},
    openai::ApiError,
    reservations::RESERVATION_LIFETIME,
    store::{Store, hash_key, unix_now},
};

/// The cache of authenticated keys.
pub struct Keys {
    store: Arc<Store>,
    cached: Mutex<HashMap<String, Arc<Slot>>>,
    max_age: Duration,
    capacity: usize,
    metrics: CacheMetrics,
}

/// A key's place in the cache: its account once loaded, and the lock a refresh is made under.
#[derive(Default)]
struct Slot {
    /// `None`: no key has this hash (the slot is then removed).
    account: OnceCell<Option<Arc<Account>>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl Keys {
    /// A cache in front of `store` whose accounts are read again once older than `max_age`.
    pub fn new(store: Arc<Store>, max_age: Duration, metrics: CacheMetrics) -> Keys {
        Keys {
            store,
            cached: Mutex::new(HashMap::new()),
            max_age,
            capacity: 100_000,
            metrics,
        }
    }

    /// The store behind the cache.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// `account` was refused (402) for lack of credits: recorded as `credits_exhausted` in the
    /// database once per exhaustion (the first refusal since its balance last went up is sent;
    /// the database ignores it if that exhaustion is already recorded, by another replica
    /// say).
    pub fn exhausted(&self, account: &Account) {
        if account.first_exhaustion() {
            self.store.exhausted(account.id);
        }
    }

    /// Keys cached now.
    pub fn len(&self) -> usize {
        self.cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Authenticates the `Authorization` header's bearer key: 401 for a missing, unknown,
    /// revoked or expired key.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Arc<Account>, ApiError> {
        let hash = hash_key(bearer(authorization)?);
        let slot = self.slot(&hash);
        let mut loaded = false;
        let account = slot
            .account
            .get_or_try_init(|| {
                loaded = true;
                self.store.load(hash.clone())
            })
            .await
            .map_err(|error| {
                tracing::error!(%error, "API key lookup failed");
                ApiError::store_unavailable()
            })?
            .clone();
        let Some(account) = account else {
            self.forget(&hash, &slot);
            if loaded {
                self.metrics.miss();
            }
            return Err(ApiError::unauthorized(
                "invalid, revoked or expired API key",
            ));
        };
        if loaded {
            self.metrics.miss();
        } else if account.age() >= self.max_age {
            // One refresh at a time; those who waited for it find the account fresh.
            let _refreshing = slot.refreshing.lock().await;
            if account.age() >= self.max_age {
                self.metrics.miss();
                self.store
                    .refresh(Arc::clone(&account))
                    .await
                    .map_err(|error| {
                        tracing::error!(%error, "API key refresh failed");
                        ApiError::store_unavailable()
                    })?;
            } else {
                self.metrics.hit();
            }
        } else {
            self.metrics.hit();
        }
        match account.status(unix_now()) {
            Status::Active => Ok(account),
            Status::Inactive => Err(ApiError::key_inactive()),
        }
    }

    /// Holds `amount` nano-credits of `account`'s balance for one request: in the database
    /// when it is shared by replicas, in the account otherwise. Refused with the balance when
    /// that much is not free, with a 503 when the database cannot be reached.
    pub async fn reserve(&self, account: &Arc<Account>, amount: i64) -> Result<Hold, Refused> {
        if !self.store.is_shared() {
            return account
                .reserve(amount)
                .map(Hold::Local)
                .map_err(Refused::Insufficient);
        }
        let expires_at = unix_now() + RESERVATION_LIFETIME.as_secs() as i64;
        match self.store.reserve(account.id, amount, expires_at).await {
            Ok(Ok(id)) => Ok(Hold::Shared(SharedHold {
                account: Arc::clone(account),
                store: Arc::clone(&self.store),
                id: Some(id),
                amount: amount.max(0),
            })),
            Ok(Err(balance)) => Err(Refused::Insufficient(balance)),
            Err(error) => {
                tracing::error!(%error, key = %account.prefix, "reserving credits failed");
                Err(Refused::Unavailable)
            }
        }
    }

    /// The slot for `hash`, made if missing (dropping idle keys first when the cache is full).
    fn slot(&self, hash: &str) -> Arc<Slot> {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = cached.get(hash) {
            return Arc::clone(slot);
        }
        if cached.len() >= self.capacity {
            cached.retain(|_, slot| !idle(slot));
        }
        let slot = Arc::new(Slot::default());
        if cached.len() < self.capacity {
            cached.insert(hash.to_owned(), Arc::clone(&slot));
        } else {
            // Every cached key is busy: this one's requests do not share a balance with each
            // other, which the global cap on requests in flight (far below the capacity)
            // keeps from happening.
            tracing::warn!(
                capacity = self.capacity,
                "the API key cache is full of keys in use"
            );
        }
        slot
    }

    /// Removes `slot` (of an unknown key) from the cache, unless it was replaced meanwhile.
    fn forget(&self, hash: &str, slot: &Arc<Slot>) {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.get(hash).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            cached.remove(hash);
        }
    }
}

/// Why credits could not be held for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not that much is free: the key's balance.
    Insufficient(Balance),
    /// The database cannot be reached.
    Unavailable,
}

/// Credits held for one request until its charge replaces them; released if dropped unsettled.
#[derive(Debug)]
#[must_use = "credits are released as soon as they are dropped"]
pub enum Hold {
    /// In this replica's account.
    Local(Reservation),
    /// In the shared database.
    Shared(SharedHold),
}

/// Credits held in the shared database; released there (by the store's worker) if dropped
/// unsettled.
pub struct SharedHold {
    account: Arc<Account>,
    store: Arc<Store>,
    id: Option<i64>,
    amount: i64,
}

impl std::fmt::Debug for SharedHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedHold")
            .field("id", &self.id)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

/// What a settled [`Hold`] hands to its charge.
#[derive(Debug)]
pub struct Settlement {
    /// The account charged, and the credits it holds in memory for the request (released when
    /// the charge is committed).
    pub account: (Arc<Account>, i64),
    /// The reservation in the database the charge releases, on a shared store.
    pub reservation: Option<i64>,
}

impl Hold {
    /// Nano-credits held.
    pub fn amount(&self) -> i64 {
        match self {
            Hold::Local(reservation) => reservation.amount(),
            Hold::Shared(hold) => hold.amount,
        }
    }

    /// Ends the hold without releasing it: the charge that replaces it releases it when it is
    /// committed.
    pub fn settle(self) -> Settlement {
        match self {
            Hold::Local(reservation) => Settlement {
                account: reservation.settle(),
                reservation: None,
            },
            Hold::Shared(mut hold) => Settlement {
                account: (Arc::clone(&hold.account), 0),
                reservation: hold.id.take(),
            },
        }
    }
}

impl Drop for SharedHold {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.store.release(id);
        }
    }
}

/// Whether a cached key can be dropped: loaded, and held by nothing but the cache (no request,
/// no charge waiting to be written, no one waiting for it).
fn idle(slot: &Arc<Slot>) -> bool {
    Arc::strong_count(slot) == 1
        && slot
            .account
            .get()
            .is_some_and(|account| account.as_ref().is_none_or(|a| Arc::strong_count(a) == 1))
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
    use gatewayz_metrics::Metrics;

    use super::*;
    use crate::store::{Batching, Database, Plan};

    #[test]
    fn only_bearer_keys_are_read() {
        assert_eq!(bearer(Some("Bearer gwz_abc")).unwrap(), "gwz_abc");
        assert_eq!(bearer(Some("bearer   gwz_abc ")).unwrap(), "gwz_abc");
        assert!(bearer(None).is_err());
        assert!(bearer(Some("Basic dXNlcjpwYXNz")).is_err());
        assert!(bearer(Some("Bearer ")).is_err());
        assert!(bearer(Some(&format!("Bearer {}", "x".repeat(300)))).is_err());
    }

    #[test]
    fn simultaneous_first_uses_share_one_account_and_a_full_cache_drops_idle_keys() {
        let dir = std::env::temp_dir().join(format!("gatewayz-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let created: Vec<String> = (0..3)
            .map(|i| {
                db.create_key(&format!("k{i}"), Plan::Paid, 1.0, None)
                    .unwrap()
                    .0
            })
            .collect();
        let store = Arc::new(Store::start(db, Batching::durable()));
        let mut keys = Keys::new(
            Arc::clone(&store),
            Duration::from_secs(60),
            Metrics::new().cache("test"),
        );
        keys.capacity = 2;
        actix_web::rt::System::new().block_on(async {
            let header = format!("Bearer {}", created[0]);
            let accounts =
                futures_util::future::join_all((0..20).map(|_| keys.authenticate(Some(&header))))
                    .await;
            let first = accounts[0].as_ref().unwrap();
            assert!(
                accounts
                    .iter()
                    .all(|a| Arc::ptr_eq(a.as_ref().unwrap(), first))
            );
            drop(accounts);
            // An unknown key leaves nothing behind.
            assert!(keys.authenticate(Some("Bearer gwz_unknown")).await.is_err());
            assert_eq!(keys.len(), 1);
            let held = keys
                .authenticate(Some(&format!("Bearer {}", created[1])))
                .await
                .unwrap();
            // Full: the idle first key makes room, the held second one stays.
            keys.authenticate(Some(&format!("Bearer {}", created[2])))
                .await
                .unwrap();
            assert_eq!(keys.len(), 2);
            let again = keys
                .authenticate(Some(&format!("Bearer {}", created[1])))
                .await
                .unwrap();
            assert!(Arc::ptr_eq(&held, &again));
        });
        store.shutdown();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
