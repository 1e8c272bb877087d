//! A provider's last calls: which of them failed (for a reason that counts against it), in a
//! 64-bit word, so that it can be judged on what it did lately (probation, in the crate docs)
//! and not only over its window, where calls from before an incident outvote it.
//!
//! Two spans are read: the last `judged` calls (`status.min_calls`, as few as the window needs
//! for a score), which put a provider on probation and judge it quickly; and all the calls
//! kept, twice as many, which it must also pass to end its probation. Ten calls are too few
//! for that alone: a provider failing 60% of its calls at random has at most two failures in
//! ten consecutive calls about once in 80, and, trial after trial, it would now and then be
//! let back on a chance run; at most four in twenty comes once in 3,000.

/// Whether each of the last calls failed, newest in the lowest bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recent {
    failed: u64,
    len: u32,
    /// The short span.
    judged: u32,
    /// The most calls kept: twice `judged`, at most 64.
    capacity: u32,
}

impl Recent {
    /// The most calls kept.
    pub(crate) const MAX: u32 = 64;

    /// A record judged over its last `judged` calls (1 to 64) and over twice as many (at most
    /// 64).
    pub(crate) fn new(judged: u64) -> Recent {
        let judged = judged.clamp(1, u64::from(Self::MAX)) as u32;
        Recent {
            failed: 0,
            len: 0,
            judged,
            capacity: judged.saturating_mul(2).min(Self::MAX),
        }
    }

    /// Adds a call; the oldest is forgotten once `capacity` are kept.
    pub(crate) fn push(&mut self, failed: bool) {
        let mask = u64::MAX >> (64 - self.capacity);
        self.failed = ((self.failed << 1) | u64::from(failed)) & mask;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// `(calls, failures)` of the last `judged` calls; `None` until as many are kept.
    pub(crate) fn latest(&self) -> Option<(u32, u32)> {
        (self.len >= self.judged).then(|| {
            let mask = u64::MAX >> (64 - self.judged);
            (self.judged, (self.failed & mask).count_ones())
        })
    }

    /// `(calls, failures)` of every call kept.
    pub(crate) fn kept(&self) -> (u32, u32) {
        (self.len, self.failed.count_ones())
    }

    /// Whether at least `rate` of the last `judged` calls failed (fewer kept: no).
    pub(crate) fn failing(&self, rate: f64) -> bool {
        self.latest()
            .is_some_and(|(calls, failures)| f64::from(failures) >= rate * f64::from(calls))
    }

    pub(crate) fn clear(&mut self) {
        self.failed = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_the_last_calls_and_keeps_twice_as_many() {
        let mut recent = Recent::new(5);
        assert!(!recent.failing(0.5));
        assert_eq!(recent.latest(), None);
        for _ in 0..3 {
            recent.push(true);
        }
        assert_eq!(recent.latest(), None, "too few to judge");
        assert!(!recent.failing(0.5));
        for _ in 0..2 {
            recent.push(false);
        }
        assert_eq!(recent.latest(), Some((5, 3)));
        assert!(recent.failing(0.5) && !recent.failing(0.7));
        for _ in 0..3 {
            recent.push(false);
        }
        // The short span has forgotten the failures; the long one keeps them.
        assert_eq!((recent.latest(), recent.kept()), (Some((5, 0)), (8, 3)));
        for _ in 0..2 {
            recent.push(false);
        }
        assert_eq!(recent.kept(), (10, 3));
        recent.push(false);
        assert_eq!(recent.kept(), (10, 2), "the oldest failure is pushed out");
        recent.clear();
        assert_eq!((recent.latest(), recent.kept()), (None, (0, 0)));
    }

    #[test]
    fn holds_sixty_four_calls_at_most() {
        let mut recent = Recent::new(1000);
        for i in 0..200 {
            recent.push(i % 2 == 0);
        }
        assert_eq!((recent.latest(), recent.kept()), (Some((64, 32)), (64, 32)));
        let mut big = Recent::new(40);
        for i in 0..200 {
            big.push(i % 4 == 0);
        }
        assert_eq!((big.latest(), big.kept()), (Some((40, 10)), (64, 16)));
        let mut one = Recent::new(0);
        one.push(true);
        one.push(false);
        assert_eq!((one.latest(), one.kept()), (Some((1, 0)), (2, 1)));
    }
}
