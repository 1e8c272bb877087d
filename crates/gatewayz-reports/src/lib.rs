//! Monthly and quarterly finance reports for LLM gateways instrumented with the gatewayz
//! crates: spend by provider, model and customer, the daily trend, the change from the
//! previous period, the forecast to the period's end against the monthly budget, tokens,
//! trial conversion and churn, and savings from routing where they are recorded.
//!
//! One data model ([`Report`]), two sources, two renderings:
//!
//! - [`PrometheusSource`] reads a Prometheus server's HTTP API: the whole fleet of any service
//!   on the crates, from the counters' `increase` over the period. Customers are not in
//!   Prometheus, and that report says so.
//! - A service's own ledger fills the same [`Report`] exactly; the example gateway's
//!   `gatewayz-gateway report` does, from its database.
//! - [`markdown`] and [`html`] write it out: Markdown for a wiki or a pull request, and one
//!   self-contained HTML file with inline SVG charts (no script, no CDN, no font) for people.
//!
//! Periods are calendar months and quarters in UTC ([`Period`]), and the reports say so.
//! Money is fixed-point ([`Nanos`], nano-dollars) until it is rendered, rounded to the cent.
//!
//! ```
//! use gatewayz_reports::{Nanos, Period, Report, Source, Totals, html, markdown};
//!
//! let period: Period = "2026-10".parse()?;
//! let report = Report {
//!     period,
//!     source: Source::Ledger { database: "gatewayz.db".into() },
//!     generated_at: chrono::Utc::now(),
//!     as_of: chrono::DateTime::from_timestamp(period.end_seconds(), 0).unwrap(),
//!     totals: Totals { cost: Nanos(12_345_000_000), ..Totals::default() },
//!     previous: None,
//!     by_provider: Vec::new(),
//!     by_model: Vec::new(),
//!     customers: Some(Vec::new()),
//!     daily: Vec::new(),
//!     accounts: None,
//!     routing_savings: None,
//!     monthly_budget: Some(Nanos(20_000_000_000)),
//! };
//! assert!(markdown(&report).contains("| Upstream cost | $12.35 |"));
//! assert!(html(&report).starts_with("<!doctype html>"));
//! # Ok::<(), gatewayz_reports::Error>(())
//! ```

mod document;
mod error;
mod html;
mod markdown;
mod markup;
mod money;
mod period;
mod prometheus;
mod report;
mod svg;

use std::path::{Path, PathBuf};

pub use error::Error;
pub use html::html;
pub use markdown::markdown;
pub use money::{NANO, Nanos};
pub use period::Period;
pub use prometheus::PrometheusSource;
pub use report::{Accounts, Customer, Day, Forecast, Line, Report, Source, Totals, change};

/// Writes `report` into `dir` (created if needed) as `gatewayz-report-<period>.md` and
/// `gatewayz-report-<period>.html`, and returns their paths.
pub fn write(report: &Report, dir: &Path) -> Result<[PathBuf; 2], Error> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let stem = format!("gatewayz-report-{}", report.period);
    let md = dir.join(format!("{stem}.md"));
    let page = dir.join(format!("{stem}.html"));
    std::fs::write(&md, markdown(report)).map_err(failed(&md))?;
    std::fs::write(&page, html(report)).map_err(failed(&page))?;
    Ok([md, page])
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
