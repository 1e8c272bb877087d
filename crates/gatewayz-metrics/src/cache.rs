//! A small bounded concurrent map from label values to resolved metric handles.
//!
//! Reads take a shared lock and hash borrowed strings, so a hit allocates nothing. When the map
//! is full, new keys are not cached: their handles are resolved for the one call and dropped,
//! which is slower but keeps memory bounded however many distinct values clients send.

use std::{
    hash::Hash,
    sync::{PoisonError, RwLock},
};

use hashbrown::{Equivalent, HashMap};

pub(crate) struct Cache<K, V> {
    map: RwLock<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Hash + Eq, V> Cache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Cache {
            map: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// Runs `f` on the value for `query`, creating it with `make` on a miss.
    pub(crate) fn with<Q, R>(
        &self,
        query: &Q,
        make: impl FnOnce() -> (K, V),
        f: impl FnOnce(&V) -> R,
    ) -> R
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        {
            let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(value) = map.get(query) {
                return f(value);
            }
        }
        let (key, value) = make();
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.capacity && !map.contains_key(query) {
            drop(map);
            return f(&value);
        }
        f(map.entry(key).or_insert(value))
    }

    pub(crate) fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
