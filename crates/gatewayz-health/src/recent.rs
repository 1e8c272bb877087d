//! A provider's last calls: which of them failed (for a reason that counts against it), in a
//! 64-bit word, so that it can be judged on what it did lately (probation, in the crate docs)
//! and not only over its window, where calls from before an incident outvote it.

/// Whether each of the last `len` calls failed, newest in the lowest bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recent {
    failed: u64,
    len: u32,
    capacity: u32,
}

impl Recent {
    /// The most calls kept.
    pub(crate) const MAX: u64 = 64;

    /// A record of the last `capacity` calls (1 to 64).
    pub(crate) fn new(capacity: u64) -> Recent {
        Recent {
            failed: 0,
            len: 0,
            capacity: capacity.clamp(1, Self::MAX) as u32,
        }
    }

    fn mask(&self) -> u64 {
        u64::MAX >> (64 - self.capacity)
    }

    /// Adds a call; the oldest is forgotten once `capacity` are kept.
    pub(crate) fn push(&mut self, failed: bool) {
        self.failed = ((self.failed << 1) | u64::from(failed)) & self.mask();
        self.len = (self.len + 1).min(self.capacity);
    }

    /// Calls kept.
    pub(crate) fn calls(&self) -> u32 {
        self.len
    }

    /// Whether as many calls are kept as it holds: enough to judge (`status.min_calls`).
    pub(crate) fn full(&self) -> bool {
        self.len == self.capacity
    }

    /// Calls kept that failed.
    pub(crate) fn failures(&self) -> u32 {
        self.failed.count_ones()
    }

    /// Whether at least `rate` of the calls kept failed (none kept: no).
    pub(crate) fn failing(&self, rate: f64) -> bool {
        self.len > 0 && f64::from(self.failures()) >= rate * f64::from(self.len)
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
    fn keeps_the_last_calls_only() {
        let mut recent = Recent::new(10);
        assert!(!recent.failing(0.5));
        for _ in 0..5 {
            recent.push(true);
        }
        assert_eq!((recent.calls(), recent.failures()), (5, 5));
        assert!(!recent.full());
        for _ in 0..5 {
            recent.push(false);
        }
        assert_eq!((recent.calls(), recent.failures()), (10, 5));
        assert!(recent.full() && recent.failing(0.5));
        // The oldest failure is pushed out.
        recent.push(false);
        assert_eq!((recent.calls(), recent.failures()), (10, 4));
        assert!(!recent.failing(0.5));
        recent.clear();
        assert_eq!((recent.calls(), recent.failures()), (0, 0));
    }

    #[test]
    fn holds_sixty_four_calls_at_most() {
        let mut recent = Recent::new(1000);
        for i in 0..200 {
            recent.push(i % 2 == 0);
        }
        assert_eq!((recent.calls(), recent.failures()), (64, 32));
        let mut one = Recent::new(0);
        one.push(true);
        one.push(false);
        assert_eq!((one.calls(), one.failures()), (1, 0));
    }
}
