//! Requests refused before any provider is called: counted by reason, logged as a summary.
//!
//! Anyone who can reach the port can be refused, as fast as they can send: a log line per
//! refusal would let an anonymous client fill the disk (29,000 refused admin requests a second
//! wrote 7 MB/s). So each refusal only increments `gatewayz_requests_refused_total{reason}` and
//! a count of its own; [`Refusals::summary`] turns the counts since the last call into one line,
//! which the server writes every [`SUMMARY_INTERVAL`] (and at shutdown) when anything was
//! refused.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use gatewayz_metrics::{
    RefusalReason,
    catalogue::{PerValue, REFUSAL_REASON, REQUESTS_REFUSED},
};
use metrics::{Counter, Key, Label, Level, Metadata};

/// How often the summary line is written, at most.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// Refusal counters: the catalogue's, and the counts since the last summary.
pub struct Refusals {
    counters: PerValue<RefusalReason, Counter>,
    since_summary: PerValue<RefusalReason, AtomicU64>,
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

impl Refusals {
    /// Counters on the recorder installed now (every reason's series exists from the start, at 0).
    pub fn new() -> Refusals {
        let counters = PerValue::new(|reason: RefusalReason| {
            let key = Key::from_parts(
                REQUESTS_REFUSED.name,
                vec![Label::new(REFUSAL_REASON.name, reason.as_str())],
            );
            metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA))
        });
        Refusals {
            counters,
            since_summary: PerValue::new(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one refusal.
    pub fn record(&self, reason: RefusalReason) {
        self.counters.get(reason).increment(1);
        self.since_summary.get(reason).fetch_add(1, Relaxed);
    }

    /// The refusals since the last call, as `(total, "reason=count ...")`; `None` when there
    /// were none.
    pub fn summary(&self) -> Option<(u64, String)> {
        let mut total = 0;
        let mut by_reason = String::new();
        for (reason, count) in self.since_summary.iter() {
            let count = count.swap(0, Relaxed);
            if count > 0 {
                total += count;
                if !by_reason.is_empty() {
                    by_reason.push(' ');
                }
                let _ = write!(by_reason, "{}={count}", reason.as_str());
            }
        }
        (total > 0).then_some((total, by_reason))
    }

    /// Writes the summary line, if anything was refused since the last one.
    pub fn log_summary(&self) {
        if let Some((total, by_reason)) = self.summary() {
            tracing::warn!(
                refused = total,
                by_reason = %by_reason,
                "requests refused since the last summary (one line every {} s at most)",
                SUMMARY_INTERVAL.as_secs()
            );
        }
    }
}

impl Default for Refusals {
    fn default() -> Self {
        Refusals::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_covers_the_refusals_since_the_last_one() {
        let refusals = Refusals::new();
        assert_eq!(refusals.summary(), None);
        for _ in 0..3 {
            refusals.record(RefusalReason::Unauthenticated);
        }
        refusals.record(RefusalReason::AdminUnauthorized);
        assert_eq!(
            refusals.summary(),
            Some((4, "unauthenticated=3 admin_unauthorized=1".to_owned()))
        );
        assert_eq!(refusals.summary(), None);
    }
}
