//! How one inference call ended, and the duration unit.

use std::time::Duration;

use gatewayz_catalogue::{ErrorKind, InferenceStatus};

/// How one inference call ended.
///
/// There is no "refused" outcome: a call the circuit breaker refused was never made, so it is
/// not an inference (see `gatewayz_circuit_breaker_rejections_total`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The provider returned a completion.
    #[default]
    Success,
    /// The call failed.
    Error(ErrorKind),
}

impl Outcome {
    /// The `status` label value: success or error.
    pub fn status(self) -> InferenceStatus {
        match self {
            Outcome::Success => InferenceStatus::Success,
            Outcome::Error(_) => InferenceStatus::Error,
        }
    }

    /// `Ok` for a success, the failure class otherwise.
    pub fn result(self) -> Result<(), ErrorKind> {
        match self {
            Outcome::Success => Ok(()),
            Outcome::Error(kind) => Err(kind),
        }
    }

    /// The outcome of a call that answered HTTP `status` (classified by
    /// [`ErrorKind::from_status`]).
    pub fn from_status(status: u16) -> Outcome {
        ErrorKind::from_status(status).map_or(Outcome::Success, Outcome::Error)
    }
}

/// Seconds as `f64`, the unit every duration metric is exposed in.
pub(crate) fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_their_status() {
        assert_eq!(Outcome::Success.status(), InferenceStatus::Success);
        assert_eq!(
            Outcome::Error(ErrorKind::Timeout).status(),
            InferenceStatus::Error
        );
        assert_eq!(Outcome::from_status(204), Outcome::Success);
        assert_eq!(
            Outcome::from_status(503),
            Outcome::Error(ErrorKind::ServerError)
        );
    }
}
