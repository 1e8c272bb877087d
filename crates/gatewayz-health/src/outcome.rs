//! What a call's end means: for the provider's health, for its circuit, and for the request
//! (move on to the next provider or not). Both tables are fixed here, in one place.

use std::time::Duration;

use gatewayz_metrics::ErrorKind;

/// How one provider call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallOutcome {
    /// Time from sending the request until the response (or the error) was complete.
    pub duration: Duration,
    /// `Ok` if the provider served the call, else why not.
    pub result: Result<(), ErrorKind>,
}

impl CallOutcome {
    /// The provider served the call.
    pub fn success(duration: Duration) -> Self {
        CallOutcome {
            duration,
            result: Ok(()),
        }
    }

    /// The call failed for `kind`.
    pub fn failure(kind: ErrorKind, duration: Duration) -> Self {
        CallOutcome {
            duration,
            result: Err(kind),
        }
    }

    /// The provider answered HTTP `status` (classified by [`ErrorKind::from_status`]).
    pub fn from_status(status: u16, duration: Duration) -> Self {
        CallOutcome {
            duration,
            result: ErrorKind::from_status(status).map_or(Ok(()), Err),
        }
    }

    pub(crate) fn class(&self) -> Class {
        match self.result {
            Ok(()) => Class::Good,
            Err(ErrorKind::CircuitOpen) => Class::NotMade,
            Err(kind) if counts_against_provider(kind) => Class::Failure {
                answered: kind.provider_answered(),
            },
            Err(_) => Class::Good,
        }
    }
}

/// What an outcome is for the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Served, or failed for a reason that is not the provider's fault.
    Good,
    /// Failed because of the provider.
    Failure { answered: bool },
    /// Never sent (refused by the circuit); the tracker counted it when it refused it.
    NotMade,
}

/// Whether a failure of this kind counts against the provider: in its error rate, its
/// circuit's failure counts and its anomaly detection.
///
/// | kind | counts | why |
/// | --- | --- | --- |
/// | `timeout`, `connection` | yes | the provider is unreachable or too slow |
/// | `server_error` (5xx) | yes | the provider is failing |
/// | `rate_limited` (429) | yes | the provider cannot take our load right now |
/// | `unauthorized` (401/403), `payment_required` (402) | no | our account with it is wrong; waiting will not fix it, the provider errors counter and an alert will |
/// | `not_found` (404) | no | the provider does not serve that model; it says nothing about the others |
/// | `bad_request` (400, other 4xx) | no | the client's own request is wrong |
/// | `circuit_open` | no | the call was never made |
///
/// Calls that do not count are still calls: they count in the window's volume, as answered
/// for availability and, like successes, their latency counts.
pub fn counts_against_provider(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Timeout
            | ErrorKind::Connection
            | ErrorKind::ServerError
            | ErrorKind::RateLimited
    )
}

/// What the gateway should do with a request whose call to one provider failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Try the next provider in the failover order.
    FailOver,
    /// Try the next provider; if none serves the request, answer the client 429 with this
    /// provider's `Retry-After`.
    FailOverKeepRetryAfter,
    /// Do not try another provider: it would answer the same. Return the error to the client.
    Stop,
}

impl Decision {
    /// Whether the request moves on to the next provider.
    pub fn fails_over(self) -> bool {
        !matches!(self, Decision::Stop)
    }
}

/// The failover table: which failures move a request on to the next provider.
///
/// | kind | decision | why |
/// | --- | --- | --- |
/// | `timeout`, `connection`, `server_error` | fail over | another provider may be up |
/// | `rate_limited` (429) | fail over, keep `Retry-After` | another provider has its own limits; if all are limited, the client learns when to retry |
/// | `unauthorized` (401/403), `payment_required` (402) | fail over | our account with this provider is the problem, not the request (never answer the client 5xx or 401 for it) |
/// | `not_found` (404) | fail over | another provider may serve the model |
/// | `circuit_open` | fail over | the call was not made |
/// | `bad_request` (400) | stop | every provider would reject the same request |
pub fn should_fail_over(kind: ErrorKind) -> Decision {
    match kind {
        ErrorKind::BadRequest => Decision::Stop,
        ErrorKind::RateLimited => Decision::FailOverKeepRetryAfter,
        ErrorKind::Timeout
        | ErrorKind::Connection
        | ErrorKind::ServerError
        | ErrorKind::Unauthorized
        | ErrorKind::PaymentRequired
        | ErrorKind::NotFound
        | ErrorKind::CircuitOpen => Decision::FailOver,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify_for_health() {
        let class = |status| CallOutcome::from_status(status, Duration::ZERO).class();
        assert_eq!(class(200), Class::Good);
        assert_eq!(class(400), Class::Good);
        assert_eq!(class(404), Class::Good);
        assert_eq!(class(429), Class::Failure { answered: true });
        assert_eq!(class(503), Class::Failure { answered: true });
        let timeout = CallOutcome::failure(ErrorKind::Timeout, Duration::ZERO);
        assert_eq!(timeout.class(), Class::Failure { answered: false });
        let refused = CallOutcome::failure(ErrorKind::CircuitOpen, Duration::ZERO);
        assert_eq!(refused.class(), Class::NotMade);
    }
}
