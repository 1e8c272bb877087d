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

use gatewayz_registry::catalogue::{REFUSAL_REASON, REQUESTS_REFUSED};
use metrics::{Counter, Key, Label, Level, Metadata};

/// How often the summary line is written, at most.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// Why a request was refused; the values of the catalogue's closed `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 503 while the gateway drains at shutdown.
    ShuttingDown,
    /// 401: no key, a malformed one, or one the database does not know.
    Unauthenticated,
    /// 401: a revoked or expired key.
    KeyInactive,
    /// 402: the key has nothing left to spend.
    NoCredits,
    /// 429: the key's requests in flight are at their cap.
    KeyConcurrency,
    /// 503: the gateway's requests in flight are at their cap.
    GatewayConcurrency,
    /// 413: the body is over the limit.
    BodyTooLarge,
    /// 408: the body did not arrive within the time limit.
    BodyTimeout,
    /// 400: the body is not a valid chat request.
    InvalidRequest,
    /// 404: no provider serves the model.
    UnknownModel,
    /// 402: the request's worst-case cost does not fit the key's balance.
    InsufficientCredits,
    /// 401 on an admin endpoint.
    AdminUnauthorized,
}

impl Refusal {
    /// Every reason, in the catalogue's order.
    pub const ALL: [Refusal; 12] = [
        Refusal::ShuttingDown,
        Refusal::Unauthenticated,
        Refusal::KeyInactive,
        Refusal::NoCredits,
        Refusal::KeyConcurrency,
        Refusal::GatewayConcurrency,
        Refusal::BodyTooLarge,
        Refusal::BodyTimeout,
        Refusal::InvalidRequest,
        Refusal::UnknownModel,
        Refusal::InsufficientCredits,
        Refusal::AdminUnauthorized,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::ShuttingDown => "shutting_down",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::KeyInactive => "key_inactive",
            Refusal::NoCredits => "no_credits",
            Refusal::KeyConcurrency => "key_concurrency",
            Refusal::GatewayConcurrency => "gateway_concurrency",
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::InvalidRequest => "invalid_request",
            Refusal::UnknownModel => "unknown_model",
            Refusal::InsufficientCredits => "insufficient_credits",
            Refusal::AdminUnauthorized => "admin_unauthorized",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Refusal counters: the catalogue's, and the counts since the last summary.
pub struct Refusals {
    counters: [Counter; Refusal::ALL.len()],
    since_summary: [AtomicU64; Refusal::ALL.len()],
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

impl Refusals {
    /// Counters on the recorder installed now (every reason's series exists from the start, at 0).
    pub fn new() -> Refusals {
        let counters = Refusal::ALL.map(|reason| {
            let key = Key::from_parts(
                REQUESTS_REFUSED.name,
                vec![Label::new(REFUSAL_REASON.name, reason.as_str())],
            );
            metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA))
        });
        Refusals {
            counters,
            since_summary: Default::default(),
        }
    }

    /// Counts one refusal.
    pub fn record(&self, reason: Refusal) {
        self.counters[reason.index()].increment(1);
        self.since_summary[reason.index()].fetch_add(1, Relaxed);
    }

    /// The refusals since the last call, as `(total, "reason=count ...")`; `None` when there
    /// were none.
    pub fn summary(&self) -> Option<(u64, String)> {
        let mut total = 0;
        let mut by_reason = String::new();
        for reason in Refusal::ALL {
            let count = self.since_summary[reason.index()].swap(0, Relaxed);
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
    use gatewayz_registry::catalogue::Domain;

    use super::*;

    #[test]
    fn the_reasons_are_the_catalogues_closed_set_in_order() {
        let Domain::Closed(values) = REFUSAL_REASON.domain else {
            panic!("`reason` of refusals is a closed label");
        };
        let ours: Vec<&str> = Refusal::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(ours, values);
        for (i, reason) in Refusal::ALL.into_iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
    }

    #[test]
    fn a_summary_covers_the_refusals_since_the_last_one() {
        let refusals = Refusals::new();
        assert_eq!(refusals.summary(), None);
        for _ in 0..3 {
            refusals.record(Refusal::Unauthenticated);
        }
        refusals.record(Refusal::AdminUnauthorized);
        assert_eq!(
            refusals.summary(),
            Some((4, "unauthenticated=3 admin_unauthorized=1".to_owned()))
        );
        assert_eq!(refusals.summary(), None);
    }
}
