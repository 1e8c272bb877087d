//! The crate's error type.

/// Everything that can go wrong when configuring the tracker or naming a provider.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The three score weights do not add up to 1.
    #[error(
        "health score weights sum to {sum}, not 1; set `{scope}weights.availability`, \
         `weights.error_rate` and `weights.latency` so that they add up to 1"
    )]
    WeightsDoNotSumToOne {
        /// Where the weights were given (empty for the top level).
        scope: String,
        /// Their sum.
        sum: f64,
    },
    /// The three routing weights do not add up to 1.
    #[error(
        "routing weights sum to {sum}, not 1; set `routing.weights.health`, \
         `routing.weights.price` and `routing.weights.latency` so that they add up to 1"
    )]
    RoutingWeightsDoNotSumToOne {
        /// Their sum.
        sum: f64,
    },
    /// A per-model routing policy for an empty model name.
    #[error("`routing.models` names a model {given:?}; use the model name as requests give it")]
    EmptyModelName {
        /// The name given.
        given: String,
    },
    /// A number outside the range it must lie in.
    #[error("`{field}` is {value}; set it between {min} and {max}")]
    OutOfRange {
        /// The configuration field, as a dotted path.
        field: String,
        /// The value given.
        value: f64,
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// Two settings that must be ordered are not.
    #[error(
        "`{lower}` ({lower_value}) must be below `{upper}` ({upper_value}); lower the first or raise the second"
    )]
    NotOrdered {
        /// The field that must be smaller.
        lower: String,
        /// Its value, as written.
        lower_value: String,
        /// The field that must be larger.
        upper: String,
        /// Its value, as written.
        upper_value: String,
    },
    /// A duration or count that must be greater than zero.
    #[error(
        "`{field}` must be greater than zero; give it a positive value, or omit it for the default"
    )]
    NotPositive {
        /// The configuration field, as a dotted path.
        field: String,
    },
    /// A duration that must be a whole number of health-window buckets.
    #[error(
        "`{field}` ({value}) must be a whole number of health-window buckets ({bucket} each); \
         round it to a multiple of `window.length / window.buckets`"
    )]
    NotWholeBuckets {
        /// The configuration field, as a dotted path.
        field: String,
        /// Its value, as written.
        value: String,
        /// One bucket's width, as written.
        bucket: String,
    },
    /// An empty provider name.
    #[error("a provider name is empty; use the provider's id, as in the `provider` metric label")]
    EmptyProviderName,
    /// A provider registered twice.
    #[error(
        "provider `{provider}` is already registered; register each provider once, at start-up"
    )]
    AlreadyRegistered {
        /// The provider.
        provider: String,
    },
    /// A provider the tracker does not know.
    #[error(
        "provider `{provider}` is not registered; register it with `HealthTracker::register` (or \
         list it under `providers` in the configuration) before recording its calls"
    )]
    UnknownProvider {
        /// The provider.
        provider: String,
    },
}
