//! What can go wrong making a report, in words that say what to do.

use std::path::PathBuf;

/// Why a report could not be made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A period that is neither `YYYY-MM` nor `YYYY-Qn`.
    #[error(
        "`{0}` is not a period; write a month as YYYY-MM (2026-11) or a quarter as YYYY-Qn (2026-Q4)"
    )]
    InvalidPeriod(String),
    /// The period starts after the time the report is made at.
    #[error("{0} has not begun yet (all times UTC); ask for a period that has")]
    NotBegun(String),
    /// Prometheus could not be reached, or answered something other than its API's JSON.
    #[error("Prometheus at {url}: {reason}")]
    Prometheus {
        /// The server's base URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A setting is unusable.
    #[error("{0}")]
    Invalid(String),
    /// Writing a report file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
