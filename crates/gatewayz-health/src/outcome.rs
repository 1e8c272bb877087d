//! What a call's end means: for the provider's health, for its circuit, and for the request
//! (move on to the next provider or not). Which failures count against a provider is
//! [`ErrorKind::counts_against_provider`]; which move a request on is [`should_fail_over`].

use std::time::Duration;

use gatewayz_metrics::{ErrorKind, Inference};

/// How one provider call that is not an inference (a model listing, an embedding) ended; see
/// [`Permit::finish_call`](crate::Permit::finish_call). Inferences are reported as an
/// [`Inference`] with [`Permit::finish`](crate::Permit::finish).
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
        Class::of(self.result)
    }
}

impl From<&Inference<'_>> for CallOutcome {
    fn from(inference: &Inference<'_>) -> CallOutcome {
        CallOutcome {
            duration: inference.duration,
            result: inference.outcome.result(),
        }
    }
}

/// What an outcome is for the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Served, or failed for a reason that is not the provider's fault: the provider answered
    /// properly, and is available.
    Good,
    /// Failed because of the provider ([`ErrorKind::counts_against_provider`]): not available.
    Failure,
}

impl Class {
    pub(crate) fn of(result: Result<(), ErrorKind>) -> Class {
        match result {
            Err(kind) if kind.counts_against_provider() => Class::Failure,
            _ => Class::Good,
        }
    }
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
/// | `bad_request` (400) | stop | every provider would reject the same request |
///
/// A call the circuit refused was not made; [`Route`](crate::Route) always moves on from it.
pub fn should_fail_over(kind: ErrorKind) -> Decision {
    match kind {
        ErrorKind::BadRequest => Decision::Stop,
        ErrorKind::RateLimited => Decision::FailOverKeepRetryAfter,
        ErrorKind::Timeout
        | ErrorKind::Connection
        | ErrorKind::ServerError
        | ErrorKind::Unauthorized
        | ErrorKind::PaymentRequired
        | ErrorKind::NotFound => Decision::FailOver,
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
        assert_eq!(class(401), Class::Good);
        assert_eq!(class(429), Class::Failure);
        assert_eq!(class(503), Class::Failure);
        let timeout = CallOutcome::failure(ErrorKind::Timeout, Duration::ZERO);
        assert_eq!(timeout.class(), Class::Failure);
    }
}
