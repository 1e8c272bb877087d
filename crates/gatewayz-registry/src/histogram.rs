//! A fixed-bucket histogram on atomics.
//!
//! Samples land in their bucket as they are recorded, so a scrape reads `buckets + 1` counters
//! whatever the traffic since the last one, and nothing is buffered when nobody scrapes.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering::Relaxed},
};

use metrics::HistogramFn;

/// Bucket counts (not cumulative; the last one counts samples above every bound) and the sum.
#[derive(Debug)]
pub(crate) struct AtomicHistogram {
    bounds: Arc<[f64]>,
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// A consistent-enough read of a histogram: cumulative counts are derived from the same reads
/// as the total, so `_bucket{le="+Inf"}` always equals `_count`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HistogramTotals {
    pub(crate) count: u64,
    pub(crate) sum: f64,
}

impl AtomicHistogram {
    pub(crate) fn new(bounds: Arc<[f64]>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        AtomicHistogram {
            bounds,
            counts,
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Calls `f` with each bound's cumulative count, then returns the totals.
    pub(crate) fn visit_cumulative(&self, mut f: impl FnMut(usize, u64)) -> HistogramTotals {
        let mut cumulative = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Relaxed);
            if i < self.bounds.len() {
                f(i, cumulative);
            }
        }
        HistogramTotals {
            count: cumulative,
            sum: f64::from_bits(self.sum.load(Relaxed)),
        }
    }

    #[cfg_attr(not(feature = "summary"), allow(dead_code))]
    pub(crate) fn totals(&self) -> HistogramTotals {
        self.visit_cumulative(|_, _| {})
    }

    fn add(&self, value: f64, n: u64) {
        // Non-finite samples would poison `_sum` for the rest of the process's life.
        if !value.is_finite() || n == 0 {
            return;
        }
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        self.counts[bucket].fetch_add(n, Relaxed);
        let delta = value * n as f64;
        let mut current = self.sum.load(Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match self
                .sum
                .compare_exchange_weak(current, next, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
    }
}

impl HistogramFn for AtomicHistogram {
    fn record(&self, value: f64) {
        self.add(value, 1);
    }

    fn record_many(&self, value: f64, count: usize) {
        self.add(value, count as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cumulative(h: &AtomicHistogram) -> (Vec<u64>, HistogramTotals) {
        let mut counts = Vec::new();
        let totals = h.visit_cumulative(|_, c| counts.push(c));
        (counts, totals)
    }

    #[test]
    fn a_sample_equal_to_a_bound_lands_in_that_bucket() {
        let h = AtomicHistogram::new(Arc::from([1.0, 2.0]));
        h.record(1.0);
        h.record(2.0);
        h.record(2.5);
        let (counts, totals) = cumulative(&h);
        assert_eq!(counts, [1, 2]);
        assert_eq!(totals, HistogramTotals { count: 3, sum: 5.5 });
    }

    #[test]
    fn non_finite_samples_are_dropped() {
        let h = AtomicHistogram::new(Arc::from([1.0]));
        h.record(f64::NAN);
        h.record(f64::INFINITY);
        h.record(0.5);
        assert_eq!(h.totals(), HistogramTotals { count: 1, sum: 0.5 });
    }

    #[test]
    fn record_many_counts_each_sample() {
        let h = AtomicHistogram::new(Arc::from([1.0]));
        h.record_many(3.0, 4);
        let (counts, totals) = cumulative(&h);
        assert_eq!(counts, [0]);
        assert_eq!(
            totals,
            HistogramTotals {
                count: 4,
                sum: 12.0
            }
        );
    }
}
