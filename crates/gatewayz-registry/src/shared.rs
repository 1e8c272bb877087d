//! The state a recorder and its handles share: the registry of series, and what rendering and
//! the summary need besides.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use metrics::{Key, Label as MetricsLabel};

use crate::{
    catalogue::MetricDef,
    store::{Registry, Store},
};

/// Behind an `Arc`, held by the recorder and by every handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    /// Unix time the recorder was built, in seconds.
    #[cfg_attr(not(feature = "summary"), allow(dead_code))]
    pub(crate) start_time: f64,
    /// Length of the previous render per scope (index 5: all), to allocate once.
    pub(crate) size_hints: [AtomicUsize; 6],
}

impl Shared {
    pub(crate) fn store(&self) -> &Store {
        self.registry.storage()
    }

    pub(crate) fn set_gauge(&self, def: &'static MetricDef, labels: Vec<MetricsLabel>, value: f64) {
        let key = Key::from_parts(def.name, labels);
        self.registry
            .get_or_create_gauge(&key, |g| g.store(value.to_bits(), Relaxed));
    }
}
