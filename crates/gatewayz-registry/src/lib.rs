//! The metric catalogue and Prometheus exposition engine of the gatewayz monitoring stack.
//!
//! - [`catalogue`] (the `gatewayz-catalogue` crate, re-exported) declares every metric once, as
//!   data: name, kind, unit, help, labels, category, buckets. Everything else (HELP text,
//!   buckets, endpoints, docs, dashboards, alert rules) is derived from it.
//! - [`RecorderBuilder`] builds the `metrics` recorder that stores what services record through
//!   the `metrics` macros (or `gatewayz-metrics`), and [`Handle`] renders it as Prometheus text,
//!   one [`Category`] at a time or all at once, and (feature `summary`, on by default) as a
//!   JSON `Summary`.
//!
//! # Features
//!
//! - `summary` (default): [`Handle::summary`] and the summary types, with `serde` to serialise
//!   them. Without it the crate needs neither `serde` nor a date formatter.
//!
//! ```
//! use gatewayz_registry::{Category, RecorderBuilder, catalogue};
//!
//! let recorder = RecorderBuilder::new().build()?;
//! let handle = recorder.handle();
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::counter!(catalogue::MODEL_INFERENCE_REQUESTS.name,
//!         "provider" => "openrouter", "model" => "gpt-4o-mini", "status" => "success")
//!     .increment(1);
//! });
//! let text = handle.render(Category::Models);
//! assert!(text.contains(
//!     r#"model_inference_requests_total{provider="openrouter",model="gpt-4o-mini",status="success"} 1"#
//! ));
//! # Ok::<(), gatewayz_registry::Error>(())
//! ```
//!
//! # Behaviour
//!
//! - **Storage.** Counters and gauges are atomics; histograms are fixed buckets on atomics, so a
//!   sample costs a few atomic operations and a scrape reads `buckets + 2` numbers per series,
//!   however many samples arrived since the last one. Nothing is buffered and nothing needs
//!   upkeep when nobody scrapes.
//! - **Order.** Families are sorted by name and series by label values; two renders of the same
//!   state are byte-identical. Families without series are left out.
//! - **Cardinality.** Label values are trimmed, cut to 128 bytes and, for identifiers such as
//!   models and providers, lower-cased. Each label name has a cap on distinct values (500 models,
//!   100 providers, ... see [`catalogue::LABELS`]); past it new values are recorded as `other`,
//!   counted by `gatewayz_label_overflow_total`. Labels with a closed set of values (`status`,
//!   `token_type`, ...) fold anything else into `other` too. Labels a catalogued metric does not
//!   declare are dropped.
//! - **Conflicts.** A recording whose kind contradicts the catalogue (a gauge named
//!   `tokens_used_total`, say) is dropped and counted by `gatewayz_metric_conflicts_total`,
//!   instead of producing a second `# TYPE` line that would make Prometheus reject the scrape.
//! - **Uncatalogued metrics** are kept and rendered by [`Handle::render_all`] with their
//!   `describe_*` text or a placeholder help; their names are sanitised to the Prometheus
//!   alphabet.
//! - **Fractional counters.** Dollars and credits are counted in nano-units
//!   ([`catalogue::Scale::Nano`]) and rendered as exact decimals in the base unit. The recorder
//!   says so through the [`catalogue::handshake`], so that `gatewayz-metrics` records money only
//!   into a recorder that shows it in dollars.

mod admission;
mod builder;
mod canonical;
mod error;
mod family;
mod handle;
mod histogram;
mod recorder;
mod shared;
mod storage;
mod store;
#[cfg(feature = "summary")]
mod summary;
mod text;

pub use builder::{DEFAULT_BUCKETS, DEFAULT_LABEL_CAP, RecorderBuilder};
pub use error::Error;
/// The metric catalogue (the `gatewayz-catalogue` crate), re-exported for convenience.
pub use gatewayz_catalogue as catalogue;
pub use gatewayz_catalogue::{Category, MetricDef, MetricKind, Unit, docs};
pub use handle::Handle;
pub use recorder::GatewayzRecorder;
#[cfg(feature = "summary")]
pub use summary::{
    BusinessSummary, ModelSummary, ModelsSummary, PerformanceSummary, ProviderSummary,
    ProvidersSummary, RoutingSummary, Sections, Summary, SystemSummary,
};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
