//! Test support shared by the gatewayz crates' tests and benchmarks, never by their code.
//!
//! - [`chromium`]: headless Chromium driven through chromedriver, for browser tests of the
//!   status page; fails with the fix when it is not installed.
//! - [`exposition`]: a strict parser for the Prometheus text format as our renderer writes it,
//!   so tests assert values, not substrings.
//! - [`promtool`]: runs Prometheus's own `promtool`, the judge of what a real server accepts;
//!   fails with the fix when it is not installed.
//! - [`workload`]: every catalogued metric over a number of providers and models, the shared
//!   workload of the benchmarks.
//!
//! ```
//! let text = "# HELP up Whether it is up.\n# TYPE up gauge\nup 1\n";
//! let exposition = gatewayz_testkit::exposition::parse(text).unwrap();
//! assert_eq!(exposition.value("up", &[]), 1.0);
//! ```

pub mod chromium;
pub mod exposition;
pub mod promtool;
pub mod workload;
