//! Typed label values: every label with a closed set of values is an enum here.
//!
//! The strings come from the catalogue's label declarations (by position), so a value is
//! spelled once, in `gatewayz-registry`; the tests check each variant lands on its own name.

use std::time::Duration;

use gatewayz_registry::catalogue::{
    ANOMALY_KIND, CIRCUIT_STATE, HEALTH_STATUS, INFERENCE_STATUS, Label, REASON, STATUS_CLASS,
    TOKEN_TYPE,
};

/// The `index`-th value of a closed label.
fn value(label: &'static Label, index: usize) -> &'static str {
    label.values().expect("closed label")[index]
}

macro_rules! closed_label {
    ($(#[$meta:meta])* $name:ident from $label:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in the catalogue's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label value, as the catalogue spells it.
            pub fn as_str(self) -> &'static str {
                value(&$label, self as usize)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_label! {
    /// Direction of LLM tokens.
    TokenType from TOKEN_TYPE {
        /// Prompt tokens.
        Input,
        /// Completion tokens.
        Output,
    }
}

closed_label! {
    /// Why a provider call failed, or why the gateway moved on to another provider.
    ErrorKind from REASON {
        /// No answer in time.
        Timeout,
        /// Could not connect, or the connection broke.
        Connection,
        /// The provider answered 5xx.
        ServerError,
        /// The provider answered 429.
        RateLimited,
        /// The provider answered 401 or 403 (our key for it is wrong or lacks access).
        Unauthorized,
        /// The provider answered 402 (our account with it is out of funds).
        PaymentRequired,
        /// The provider answered 404 (it does not serve the model).
        NotFound,
        /// The provider answered 400 (the request itself is wrong).
        BadRequest,
        /// Not attempted: the provider's circuit was open.
        CircuitOpen,
    }
}

impl ErrorKind {
    /// Classifies an HTTP status from a provider; `None` for success (1xx–3xx).
    pub fn from_status(status: u16) -> Option<ErrorKind> {
        Some(match status {
            100..=399 => return None,
            400 => ErrorKind::BadRequest,
            401 | 403 => ErrorKind::Unauthorized,
            402 => ErrorKind::PaymentRequired,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::ServerError,
            // Other 4xx say the request was wrong, not the provider.
            _ => ErrorKind::BadRequest,
        })
    }

    /// Whether the provider answered at all (any HTTP status), as opposed to a timeout,
    /// a connection failure or a call we did not make.
    pub fn provider_answered(self) -> bool {
        !matches!(
            self,
            ErrorKind::Timeout | ErrorKind::Connection | ErrorKind::CircuitOpen
        )
    }
}

/// How one inference call ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The provider returned a completion.
    #[default]
    Success,
    /// The call failed.
    Error(ErrorKind),
}

impl Outcome {
    /// The `status` label value: `success` or `error`.
    pub fn status(self) -> &'static str {
        value(
            &INFERENCE_STATUS,
            matches!(self, Outcome::Error(_)) as usize,
        )
    }
}

closed_label! {
    /// Health status of a provider.
    HealthStatus from HEALTH_STATUS {
        /// Score at or above the healthy threshold.
        Healthy,
        /// Score between the thresholds.
        Degraded,
        /// Score below the degraded threshold, or the circuit is open.
        Unavailable,
        /// Too few calls in the window to judge.
        Unknown,
    }
}

closed_label! {
    /// State of a circuit breaker.
    CircuitState from CIRCUIT_STATE {
        /// Calls flow.
        Closed,
        /// Calls are refused until the cool-down ends.
        Open,
        /// A limited number of probe calls may pass.
        HalfOpen,
    }
}

closed_label! {
    /// Kind of anomaly detected for a provider.
    AnomalyKind from ANOMALY_KIND {
        /// p95 latency far above its baseline.
        LatencySpike,
        /// Error rate far above its baseline.
        ErrorSurge,
        /// Call volume far below its baseline.
        TrafficDrop,
    }
}

/// The `status_class` label value of an HTTP status: `2xx`, `4xx`, ...; `other` outside 100–599.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=599 => value(&STATUS_CLASS, usize::from(status / 100 - 1)),
        _ => gatewayz_registry::catalogue::OTHER,
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
    fn every_variant_maps_to_its_catalogue_value() {
        let names = |all: &[&str]| all.join(",");
        assert_eq!(
            names(
                &TokenType::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            ),
            "input,output"
        );
        assert_eq!(
            names(
                &ErrorKind::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            ),
            "timeout,connection,server_error,rate_limited,unauthorized,payment_required,not_found,\
             bad_request,circuit_open"
        );
        assert_eq!(
            names(
                &HealthStatus::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            ),
            "healthy,degraded,unavailable,unknown"
        );
        assert_eq!(
            names(
                &CircuitState::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            ),
            "closed,open,half_open"
        );
        assert_eq!(
            names(
                &AnomalyKind::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            ),
            "latency_spike,error_surge,traffic_drop"
        );
        assert_eq!(
            (
                Outcome::Success.status(),
                Outcome::Error(ErrorKind::Timeout).status()
            ),
            ("success", "error")
        );
    }

    #[test]
    fn every_enum_covers_its_whole_closed_set() {
        assert_eq!(TokenType::ALL.len(), TOKEN_TYPE.values().unwrap().len());
        assert_eq!(ErrorKind::ALL.len(), REASON.values().unwrap().len());
        assert_eq!(
            HealthStatus::ALL.len(),
            HEALTH_STATUS.values().unwrap().len()
        );
        assert_eq!(
            CircuitState::ALL.len(),
            CIRCUIT_STATE.values().unwrap().len()
        );
        assert_eq!(AnomalyKind::ALL.len(), ANOMALY_KIND.values().unwrap().len());
    }

    #[test]
    fn http_statuses_classify() {
        assert_eq!(ErrorKind::from_status(200), None);
        assert_eq!(ErrorKind::from_status(400), Some(ErrorKind::BadRequest));
        assert_eq!(ErrorKind::from_status(403), Some(ErrorKind::Unauthorized));
        assert_eq!(ErrorKind::from_status(429), Some(ErrorKind::RateLimited));
        assert_eq!(ErrorKind::from_status(503), Some(ErrorKind::ServerError));
        assert_eq!(ErrorKind::from_status(422), Some(ErrorKind::BadRequest));
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(599), "5xx");
        assert_eq!(status_class(99), "other");
        assert_eq!(status_class(600), "other");
    }
}
