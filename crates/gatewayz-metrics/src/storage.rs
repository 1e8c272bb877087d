//! Database queries and cache lookups.

use std::time::{Duration, Instant};

use gatewayz_catalogue::{
    CACHE_HITS, CACHE_MISSES, DATABASE_QUERY_DURATION, DATABASE_QUERY_ERRORS,
};
use metrics::{Counter, Histogram, Recorder};

use crate::{
    handles::{counter, histogram},
    labels::seconds,
};

#[derive(Clone)]
pub(crate) struct QueryHandles {
    duration: Histogram,
    errors: Counter,
}

impl QueryHandles {
    pub(crate) fn new(r: &dyn Recorder, operation: &str) -> Self {
        QueryHandles {
            duration: histogram(r, &DATABASE_QUERY_DURATION, &[operation]),
            errors: counter(r, &DATABASE_QUERY_ERRORS, &[operation]),
        }
    }

    pub(crate) fn record(&self, duration: Duration, ok: bool) {
        self.duration.record(seconds(duration));
        if !ok {
            self.errors.increment(1);
        }
    }
}

/// Times one database query and records it when dropped, as failed unless
/// [`succeeded`](QueryTimer::succeeded) was called: a query abandoned by `?` or a panic counts as
/// an error.
#[must_use = "the query is timed until this guard is dropped"]
pub struct QueryTimer {
    handles: QueryHandles,
    start: Instant,
    ok: bool,
}

impl QueryTimer {
    pub(crate) fn start(handles: QueryHandles) -> Self {
        QueryTimer {
            handles,
            start: Instant::now(),
            ok: false,
        }
    }

    /// Marks the query as successful; it is recorded when the timer is dropped.
    pub fn succeeded(&mut self) {
        self.ok = true;
    }

    /// Records `result`'s success or failure and passes it through.
    pub fn finish<T, E>(mut self, result: Result<T, E>) -> Result<T, E> {
        self.ok = result.is_ok();
        result
    }
}

impl Drop for QueryTimer {
    fn drop(&mut self) {
        self.handles.record(self.start.elapsed(), self.ok);
    }
}

/// Hit and miss counters of one named cache, resolved once; keep it next to the cache.
#[derive(Clone, Debug)]
pub struct CacheMetrics {
    hits: Counter,
    misses: Counter,
}

impl CacheMetrics {
    pub(crate) fn new(r: &dyn Recorder, cache: &str) -> Self {
        CacheMetrics {
            hits: counter(r, &CACHE_HITS, &[cache]),
            misses: counter(r, &CACHE_MISSES, &[cache]),
        }
    }

    /// A lookup that found its entry.
    pub fn hit(&self) {
        self.hits.increment(1);
    }

    /// A lookup that did not find its entry.
    pub fn miss(&self) {
        self.misses.increment(1);
    }

    /// A lookup; `found` says whether it hit.
    pub fn lookup(&self, found: bool) {
        if found { self.hit() } else { self.miss() }
    }
}
