//! Injected time: every decision the tracker makes reads the clock it was given, so tests drive
//! every transition with a [`ManualClock`] instead of sleeping.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// A monotonic source of time for the tracker.
///
/// Times are durations since the clock's own origin (its creation, for [`SystemClock`]), so
/// they can be compared, stored in atomics and printed without a wall clock. They must never
/// decrease.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time elapsed since this clock's origin.
    fn now(&self) -> Duration;
}

/// The production clock: [`Instant`] elapsed since the clock was created.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to. Clones share the same time, so a test keeps one clone
/// and hands another to the tracker.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// A clock at `start`.
    pub fn starting_at(start: Duration) -> Self {
        let clock = ManualClock::new();
        clock.advance(start);
        clock
    }

    /// Moves the clock forward by `by` (saturating at about 584 years).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update instead of fetch_add so that an absurd advance saturates, not wraps.
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_of_a_manual_clock_share_their_time() {
        let clock = ManualClock::starting_at(Duration::from_secs(5));
        let other = clock.clone();
        clock.advance(Duration::from_millis(250));
        assert_eq!(other.now(), Duration::from_millis(5250));
    }

    #[test]
    fn the_system_clock_does_not_go_backwards() {
        let clock = SystemClock::new();
        let first = clock.now();
        assert!(clock.now() >= first);
    }
}
