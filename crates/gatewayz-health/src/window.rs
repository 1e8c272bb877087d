//! The sliding window: a ring of fixed time buckets, each with counts and small latency
//! histograms (every call for the health score; and, for the `fastest` routing policy, plain
//! calls and the time to first token of streams apart), so recording is O(1) and memory per
//! provider is constant.
//!
//! Latency buckets are log-linear in milliseconds: exact below 8 ms, then 8 buckets per power
//! of two up to 2^20 ms (about 17.5 minutes; longer calls land in the last bucket). A quantile
//! is interpolated linearly inside its bucket, so it is off by at most one bucket width: 12.5%
//! of the value.

use std::time::Duration;

/// Number of latency buckets.
pub(crate) const LATENCY_BUCKETS: usize = 144;

/// Latency bucket of a duration.
pub(crate) fn latency_index(duration: Duration) -> usize {
    let ms = u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .min((1 << 20) - 1);
    if ms < 8 {
        return ms as usize;
    }
    let exponent = 63 - ms.leading_zeros();
    let sub = (ms >> (exponent - 3)) & 7;
    (exponent as usize - 2) * 8 + sub as usize
}

/// `[lower, upper)` of a latency bucket, in milliseconds.
fn latency_bounds(index: usize) -> (f64, f64) {
    if index < 8 {
        return (index as f64, index as f64 + 1.0);
    }
    let shift = index / 8 - 1;
    let lower = ((8 + index % 8) as u64) << shift;
    (lower as f64, (lower + (1 << shift)) as f64)
}

/// The `q` quantile of a latency histogram, interpolated inside its bucket; `None` if empty.
pub(crate) fn quantile(histogram: &[f64; LATENCY_BUCKETS], q: f64) -> Option<Duration> {
    let total: f64 = histogram.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let target = q * total;
    let mut below = 0.0;
    for (index, &count) in histogram.iter().enumerate() {
        if count > 0.0 && below + count >= target {
            let (lower, upper) = latency_bounds(index);
            let within = ((target - below) / count).clamp(0.0, 1.0);
            return Some(Duration::from_secs_f64(
                (lower + within * (upper - lower)) / 1e3,
            ));
        }
        below += count;
    }
    // Rounding can leave `target` a hair above the total: the answer is the last used bucket.
    let last = histogram.iter().rposition(|&c| c > 0.0)?;
    Some(Duration::from_secs_f64(latency_bounds(last).1 / 1e3))
}

/// One bucket of the window.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// Which bucket of time this is (`now / width`); `u64::MAX` when never used.
    epoch: u64,
    /// Calls made.
    pub(crate) calls: u32,
    /// Calls refused by the circuit.
    pub(crate) rejected: u32,
    /// Calls that failed and count against the provider.
    pub(crate) failures: u32,
    /// Calls and probes the provider answered properly: not a failure that counts against it.
    pub(crate) available: u32,
    /// Health probes.
    pub(crate) probes: u32,
    /// Latency of calls that did not fail, by latency bucket.
    latency: [u32; LATENCY_BUCKETS],
    /// The slowest of those calls: quantiles never exceed it.
    slowest: Duration,
    /// Duration of the calls among them that did not stream.
    pub(crate) plain: Latencies,
    /// Time to first token of the streamed calls among them.
    pub(crate) ttft: Latencies,
}

/// A latency histogram and its slowest value.
#[derive(Debug, Clone)]
pub(crate) struct Latencies {
    counts: [u32; LATENCY_BUCKETS],
    slowest: Duration,
}

impl Latencies {
    const EMPTY: Latencies = Latencies {
        counts: [0; LATENCY_BUCKETS],
        slowest: Duration::ZERO,
    };

    pub(crate) fn record(&mut self, duration: Duration) {
        let slot = &mut self.counts[latency_index(duration)];
        *slot = slot.saturating_add(1);
        self.slowest = self.slowest.max(duration);
    }
}

impl Bucket {
    fn empty(epoch: u64) -> Self {
        Bucket {
            epoch,
            calls: 0,
            rejected: 0,
            failures: 0,
            available: 0,
            probes: 0,
            latency: [0; LATENCY_BUCKETS],
            slowest: Duration::ZERO,
            plain: Latencies::EMPTY,
            ttft: Latencies::EMPTY,
        }
    }

    /// Adds the latency of a call that did not fail.
    pub(crate) fn latency(&mut self, duration: Duration) {
        let slot = &mut self.latency[latency_index(duration)];
        *slot = slot.saturating_add(1);
        self.slowest = self.slowest.max(duration);
    }
}

/// Sums over some buckets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Totals {
    pub(crate) calls: u64,
    pub(crate) rejected: u64,
    pub(crate) failures: u64,
    pub(crate) available: u64,
    pub(crate) probes: u64,
    pub(crate) latency: [f64; LATENCY_BUCKETS],
    slowest: Duration,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            calls: 0,
            rejected: 0,
            failures: 0,
            available: 0,
            probes: 0,
            latency: [0.0; LATENCY_BUCKETS],
            slowest: Duration::ZERO,
        }
    }
}

impl Totals {
    fn add(&mut self, bucket: &Bucket) {
        self.calls += u64::from(bucket.calls);
        self.rejected += u64::from(bucket.rejected);
        self.failures += u64::from(bucket.failures);
        self.available += u64::from(bucket.available);
        self.probes += u64::from(bucket.probes);
        for (sum, &count) in self.latency.iter_mut().zip(&bucket.latency) {
            *sum += f64::from(count);
        }
        self.slowest = self.slowest.max(bucket.slowest);
    }

    /// p95 latency of the calls that did not fail, never above the slowest of them (so that
    /// calls all at the latency target do not read as slower through interpolation).
    pub(crate) fn p95(&self) -> Option<Duration> {
        quantile(&self.latency, 0.95).map(|p95| p95.min(self.slowest))
    }

    /// Requests for the provider: calls made plus calls refused.
    pub(crate) fn demand(&self) -> u64 {
        self.calls + self.rejected
    }

    /// Calls that did not fail.
    pub(crate) fn good(&self) -> u64 {
        self.calls - self.failures
    }
}

/// A ring of `buckets` buckets of `width` each.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    width: u64,
    buckets: Box<[Bucket]>,
}

impl Window {
    pub(crate) fn new(width: Duration, buckets: u32) -> Self {
        Window {
            width: u64::try_from(width.as_nanos()).unwrap_or(u64::MAX).max(1),
            buckets: (0..buckets.max(1))
                .map(|_| Bucket::empty(u64::MAX))
                .collect(),
        }
    }

    pub(crate) fn epoch(&self, now: Duration) -> u64 {
        u64::try_from(now.as_nanos()).unwrap_or(u64::MAX) / self.width
    }

    pub(crate) fn len(&self) -> u64 {
        self.buckets.len() as u64
    }

    /// The bucket `now` falls in, emptied first if it last held an older epoch.
    pub(crate) fn current(&mut self, now: Duration) -> &mut Bucket {
        let epoch = self.epoch(now);
        let len = self.len();
        let slot = &mut self.buckets[(epoch % len) as usize];
        if slot.epoch != epoch {
            *slot = Bucket::empty(epoch);
        }
        slot
    }

    /// Sums the buckets of epochs `first..=last` that are still in the ring; epochs without a
    /// bucket had no activity.
    pub(crate) fn totals(&self, first: u64, last: u64) -> Totals {
        let mut totals = Totals::default();
        let len = self.len();
        for epoch in first.max(last.saturating_sub(len - 1))..=last {
            let slot = &self.buckets[(epoch % len) as usize];
            if slot.epoch == epoch {
                totals.add(slot);
            }
        }
        totals
    }

    /// The p95 of one of the buckets' routing histograms (`which`) over the whole window as of
    /// `now`, never above the slowest value; `None` if empty.
    pub(crate) fn p95_of(
        &self,
        now: Duration,
        which: impl Fn(&Bucket) -> &Latencies,
    ) -> Option<Duration> {
        let last = self.epoch(now);
        let len = self.len();
        let mut histogram = [0.0; LATENCY_BUCKETS];
        let mut slowest = Duration::ZERO;
        for epoch in last.saturating_sub(len - 1)..=last {
            let slot = &self.buckets[(epoch % len) as usize];
            if slot.epoch == epoch {
                let latencies = which(slot);
                for (sum, &count) in histogram.iter_mut().zip(&latencies.counts) {
                    *sum += f64::from(count);
                }
                slowest = slowest.max(latencies.slowest);
            }
        }
        quantile(&histogram, 0.95).map(|p95| p95.min(slowest))
    }

    /// The whole window as of `now`: the current bucket and the `buckets - 1` before it.
    pub(crate) fn window_totals(&self, now: Duration) -> Totals {
        let last = self.epoch(now);
        self.totals(last.saturating_sub(self.len() - 1), last)
    }

    pub(crate) fn clear(&mut self) {
        for slot in self.buckets.iter_mut() {
            *slot = Bucket::empty(u64::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_cover_the_range_without_gaps() {
        for index in 1..LATENCY_BUCKETS {
            assert_eq!(
                latency_bounds(index - 1).1,
                latency_bounds(index).0,
                "{index}"
            );
        }
        for ms in [
            0, 1, 7, 8, 9, 15, 16, 17, 999, 1000, 1023, 1024, 2000, 30_000, 1_048_575,
        ] {
            let (lower, upper) = latency_bounds(latency_index(Duration::from_millis(ms)));
            assert!(
                lower <= ms as f64 && (ms as f64) < upper,
                "{ms} in [{lower}, {upper})"
            );
            assert!(
                upper - lower <= (lower / 8.0).max(1.0),
                "{ms}: bucket wider than 12.5%"
            );
        }
        assert_eq!(
            latency_index(Duration::from_secs(86_400)),
            LATENCY_BUCKETS - 1
        );
    }

    #[test]
    fn p95_is_within_a_bucket_of_the_truth() {
        let mut histogram = [0.0; LATENCY_BUCKETS];
        for ms in 1..=1000u64 {
            histogram[latency_index(Duration::from_millis(ms * 10))] += 1.0;
        }
        let p95 = quantile(&histogram, 0.95).unwrap().as_secs_f64();
        assert!((p95 - 9.5).abs() <= 9.5 / 8.0, "{p95}");
    }

    #[test]
    fn p95_never_exceeds_the_slowest_call() {
        let mut window = Window::new(Duration::from_secs(30), 10);
        for _ in 0..20 {
            window
                .current(Duration::ZERO)
                .latency(Duration::from_millis(2000));
        }
        let totals = window.window_totals(Duration::ZERO);
        assert!(quantile(&totals.latency, 0.95).unwrap() > Duration::from_millis(2000));
        assert_eq!(totals.p95(), Some(Duration::from_millis(2000)));
    }

    #[test]
    fn the_window_learns_time_to_first_token_apart_from_duration() {
        let mut window = Window::new(Duration::from_secs(30), 10);
        fn ttft(b: &Bucket) -> &Latencies {
            &b.ttft
        }
        assert_eq!(window.p95_of(Duration::ZERO, ttft), None);
        for i in 0..100u64 {
            let bucket = window.current(Duration::from_secs(i));
            bucket.latency(Duration::from_secs(4));
            bucket.ttft.record(Duration::from_millis(100 + i));
        }
        let now = Duration::from_secs(100);
        let p95 = window.p95_of(now, ttft).unwrap().as_secs_f64();
        assert!((p95 - 0.195).abs() <= 0.195 / 8.0, "{p95}");
        assert_eq!(
            window.window_totals(now).p95(),
            Some(Duration::from_secs(4))
        );
        assert_eq!(window.p95_of(now, |b| &b.plain), None);
        // Out of the window, forgotten.
        assert_eq!(window.p95_of(Duration::from_secs(1000), ttft), None);
    }

    #[test]
    fn a_bucket_is_reused_only_for_its_own_epoch() {
        let mut window = Window::new(Duration::from_secs(30), 10);
        window.current(Duration::from_secs(5)).calls += 1;
        window.current(Duration::from_secs(29)).calls += 1;
        assert_eq!(window.window_totals(Duration::from_secs(299)).calls, 2);
        window.current(Duration::from_secs(305)).calls += 1;
        assert_eq!(window.window_totals(Duration::from_secs(305)).calls, 1);
        assert_eq!(window.window_totals(Duration::from_secs(900)).calls, 0);
    }
}
