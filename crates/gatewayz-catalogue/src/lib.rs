//! The metric catalogue of the gatewayz monitoring stack: every metric it emits, declared
//! once, as data, with the vocabulary of its labels.
//!
//! Everything else is derived from this table: the recorder's bucket layout and label rules, the
//! category endpoints, the JSON summary, the Markdown reference ([`docs`]), the Grafana
//! dashboards and the Prometheus rules. Code that records a metric refers to its [`MetricDef`]
//! (for example [`MODEL_INFERENCE_REQUESTS`]) and never spells the name again; code that sets a
//! label with a closed set of values uses its enum ([`ErrorKind`], [`HealthStatus`], ...), which
//! is declared in the same place as the label's values, so the two cannot drift apart.
//!
//! The crate has no dependencies: a library that only needs names and labels (an artefact
//! generator, a facade) builds it in a second.
//!
//! ```
//! use gatewayz_catalogue::{CATALOGUE, Category, ErrorKind, PROVIDER_ERRORS, find};
//!
//! assert_eq!(PROVIDER_ERRORS.name, "gatewayz_provider_errors_total");
//! assert_eq!(PROVIDER_ERRORS.category, Category::Providers);
//! assert!(std::ptr::eq(find(PROVIDER_ERRORS.name).unwrap(), &PROVIDER_ERRORS));
//! assert_eq!(ErrorKind::from_status(503), Some(ErrorKind::ServerError));
//! assert_eq!(ErrorKind::ServerError.as_str(), "server_error");
//! assert!(CATALOGUE.windows(2).all(|w| w[0].name < w[1].name));
//! ```

pub mod docs;
pub mod handshake;
mod labels;
mod table;

use std::{error::Error as StdError, fmt, str::FromStr};

pub use labels::*;
pub use table::*;

/// The five groups of metrics, each served by its own endpoint.
///
/// Every catalogued metric belongs to exactly one category. Metrics recorded through the facade
/// that are not in the catalogue belong to none: they are rendered only by
/// the recorder's "all" rendering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Provider health, circuit breakers, failover and anomalies.
    Providers,
    /// Inference requests, latency and token usage per provider and model.
    Models,
    /// Money and customers: cost, credits, keys, subscriptions, trials.
    Business,
    /// Latency of the gateway itself: HTTP, overhead, database, cache.
    Performance,
    /// Process-level facts: request totals, in-flight requests, build, self-monitoring.
    System,
}

impl Category {
    /// Every category, in endpoint order.
    pub const ALL: [Category; 5] = [
        Category::Providers,
        Category::Models,
        Category::Business,
        Category::Performance,
        Category::System,
    ];

    /// The lower-case name used in URLs and in the JSON summary.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Providers => "providers",
            Category::Models => "models",
            Category::Business => "business",
            Category::Performance => "performance",
            Category::System => "system",
        }
    }

    /// The catalogued metrics of this category, sorted by name.
    pub fn metrics(self) -> impl Iterator<Item = &'static MetricDef> {
        CATALOGUE
            .iter()
            .copied()
            .filter(move |def| def.category == self)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, UnknownCategory> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCategory {
                given: s.chars().take(64).collect(),
            })
    }
}

/// A category name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCategory {
    /// What was asked for (cut to 64 characters).
    pub given: String,
}

impl fmt::Display for UnknownCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown category `{}`; valid categories are ",
            self.given
        )?;
        for (i, category) in Category::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(category.as_str())?;
        }
        Ok(())
    }
}

impl StdError for UnknownCategory {}

/// The Prometheus metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A monotonically increasing total; its name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution in fixed, cumulative buckets.
    Histogram,
}

impl MetricKind {
    /// The name used in `# TYPE` lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit a metric is exposed in. Always a base unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Seconds (durations, and Unix timestamps).
    Seconds,
    /// A dimensionless ratio. Rates, shares and scores lie in 0..=1; a quotient such as token
    /// efficiency (output per input tokens) can exceed 1.
    Ratio,
    /// 1 when a condition holds, 0 otherwise.
    Boolean,
    /// US dollars.
    Dollars,
    /// Gateway credits, as charged to API keys.
    Credits,
    /// LLM tokens.
    Tokens,
    /// A plain count of things (requests, keys, events).
    Count,
    /// An `_info` metric: always 1, the information is in its labels.
    Info,
}

impl Unit {
    /// The unit's name as written in the docs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Ratio => "ratio",
            Unit::Boolean => "boolean",
            Unit::Dollars => "dollars",
            Unit::Credits => "credits",
            Unit::Tokens => "tokens",
            Unit::Count => "count",
            Unit::Info => "info",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a counter's integer increments map to the exposed value.
///
/// `metrics` counters only take `u64`, but dollars and credits are fractional. A scaled counter is
/// incremented in fixed-point units (nano-dollars, say) and rendered as an exact decimal in the
/// base unit, so `gatewayz_cost_usd_total` is exposed in dollars with no floating-point drift.
///
/// Only a recorder that knows the scale may be given these increments: `gatewayz-metrics` asks
/// the installed recorder through the [`handshake`] and, when it does not answer, records no
/// scaled counter at all rather than nano-dollars under a name that says dollars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scale {
    /// The increment is the value.
    One,
    /// One increment is 10⁻⁹ of the unit.
    Nano,
}

impl Scale {
    /// Number of decimal digits one increment stands for.
    pub const fn decimals(self) -> u32 {
        match self {
            Scale::One => 0,
            Scale::Nano => 9,
        }
    }

    /// Converts a value in the base unit to the counter increment that represents it.
    ///
    /// Negative, NaN and infinite amounts become 0: a counter never goes down, and a corrupt
    /// price must not turn into `u64::MAX` dollars.
    pub fn to_increment(self, value: f64) -> u64 {
        let raw = value * 10f64.powi(self.decimals() as i32);
        if raw.is_finite() && raw > 0.0 {
            raw.round() as u64
        } else {
            0
        }
    }

    /// Converts a raw counter value back to the base unit (lossy above 2⁵³ units).
    pub fn to_value(self, raw: u64) -> f64 {
        raw as f64 / 10f64.powi(self.decimals() as i32)
    }
}

/// One metric: everything there is to know about it, in one place.
#[derive(Debug)]
#[non_exhaustive]
pub struct MetricDef {
    /// The exposed name, following Prometheus conventions.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The base unit of the exposed value.
    pub unit: Unit,
    /// One sentence for `# HELP`.
    pub help: &'static str,
    /// Label names, in the order they are rendered.
    pub labels: &'static [&'static Label],
    /// The endpoint that shows it.
    pub category: Category,
    /// Upper bounds of the histogram buckets, ascending, without `+Inf`; empty for other kinds.
    pub buckets: &'static [f64],
    /// Fixed-point scale of a counter's increments.
    pub scale: Scale,
    /// The name the original Gatewayz backend used, when it had to change.
    pub renamed_from: Option<&'static str>,
}

impl MetricDef {
    /// Looks up a label of this metric by name.
    pub fn label(&self, name: &str) -> Option<&'static Label> {
        self.labels.iter().copied().find(|l| l.name == name)
    }
}

/// Looks up a catalogued metric by its exposed name.
pub fn find(name: &str) -> Option<&'static MetricDef> {
    CATALOGUE
        .binary_search_by(|def| def.name.cmp(name))
        .ok()
        .map(|i| CATALOGUE[i])
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
