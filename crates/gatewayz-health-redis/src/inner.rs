//! What a store and its two threads share: the connection settings, the local copy of the
//! records, the status, and the connection of probe calls.

use std::{
    collections::HashMap,
    sync::{
        Mutex, MutexGuard, PoisonError, RwLock, RwLockWriteGuard,
        atomic::{AtomicBool, AtomicU64, Ordering::SeqCst},
    },
};

use redis::{Client, Connection, RedisResult};

use crate::{RedisStoreConfig, config::Keys, record::Record};

/// What the store and its threads share.
pub(crate) struct Inner {
    client: Client,
    pub(crate) config: RedisStoreConfig,
    pub(crate) keys: Keys,
    /// This store's name in the records it publishes.
    pub(crate) origin: u64,
    copy: RwLock<HashMap<String, Record>>,
    pub(crate) in_use: AtomicBool,
    pub(crate) fallbacks: AtomicU64,
    pub(crate) connection: AtomicU64,
    stop: AtomicBool,
    /// The connection of probe claims, made on first use and after an error.
    direct: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("keys", &self.keys)
            .field("in_use", &self.in_use)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl Inner {
    pub(crate) fn new(client: Client, config: RedisStoreConfig, origin: u64) -> Inner {
        Inner {
            client,
            keys: Keys::new(&config.key_prefix),
            config,
            origin,
            copy: RwLock::new(HashMap::new()),
            in_use: AtomicBool::new(false),
            fallbacks: AtomicU64::new(0),
            connection: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            direct: Mutex::new(None),
        }
    }

    /// The local copy's record of `provider`.
    pub(crate) fn record(&self, provider: &str) -> Option<Record> {
        self.copy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(provider)
            .copied()
    }

    /// Tells the threads to end.
    pub(crate) fn stop(&self) {
        self.stop.store(true, SeqCst);
    }

    /// A connection whose every wait is bounded by `timeout`.
    pub(crate) fn connect(&self) -> RedisResult<Connection> {
        let timeout = self.config.timeout;
        let con = self.client.get_connection_with_timeout(timeout)?;
        con.set_read_timeout(Some(timeout))?;
        con.set_write_timeout(Some(timeout))?;
        Ok(con)
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(SeqCst)
    }

    pub(crate) fn copy_mut(&self) -> RwLockWriteGuard<'_, HashMap<String, Record>> {
        self.copy.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn direct(&self) -> MutexGuard<'_, Option<Connection>> {
        self.direct.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
