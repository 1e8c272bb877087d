//! `metrics-util`'s [`Storage`]: what the registry stores for a key it has not seen before.

use std::sync::{Arc, atomic::AtomicU64};

use metrics::Key;
use metrics_util::registry::Storage;

use crate::{family::Value, histogram::AtomicHistogram, store::Store};

// The registry calls these only with canonical keys, whose family exists and has the right
// kind; the fallbacks keep a broken invariant from panicking inside a recording call.
impl Storage<Key> for Store {
    type Counter = Arc<AtomicU64>;
    type Gauge = Arc<AtomicU64>;
    type Histogram = Arc<AtomicHistogram>;

    fn counter(&self, key: &Key) -> Self::Counter {
        match self.create(key) {
            Some(Value::Counter(counter)) => counter,
            _ => Arc::new(AtomicU64::new(0)),
        }
    }

    fn gauge(&self, key: &Key) -> Self::Gauge {
        match self.create(key) {
            Some(Value::Gauge(gauge)) => gauge,
            _ => Arc::new(AtomicU64::new(0)),
        }
    }

    fn histogram(&self, key: &Key) -> Self::Histogram {
        match self.create(key) {
            Some(Value::Histogram(histogram)) => histogram,
            _ => Arc::new(AtomicHistogram::new(Arc::clone(&self.default_buckets))),
        }
    }
}
