//! The crate's error type.

/// Everything that can go wrong when configuring the recorder or asking it for data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Buckets were given for a catalogued metric that is not a histogram.
    #[error("`{metric}` is a {kind}, not a histogram; only histograms take buckets")]
    NotAHistogram {
        /// The metric name.
        metric: String,
        /// Its catalogued kind.
        kind: &'static str,
    },
    /// A bucket list that cannot describe a histogram.
    #[error("invalid buckets for `{metric}`: {reason}")]
    InvalidBuckets {
        /// The metric name, or `default` for the default buckets.
        metric: String,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A global label name that Prometheus would reject or that would clash.
    #[error("invalid global label `{name}`: {reason}")]
    InvalidGlobalLabel {
        /// The label name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cap of zero distinct values would fold every value into `other`.
    #[error("the cap on distinct values of label `{label}` must be at least 1")]
    ZeroLabelCap {
        /// The label name.
        label: String,
    },
    /// `install` was called while another global recorder was installed.
    #[error(
        "a global metrics recorder is already installed; install the gatewayz recorder once, at \
         start-up, or use `RecorderBuilder::build` with `metrics::with_local_recorder` in tests"
    )]
    AlreadyInstalled,
}
