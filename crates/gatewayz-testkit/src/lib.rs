//! Test support for the gatewayz crates' tests and benchmarks, and for services that adopt the
//! stack and want to test what they expose: a dev-dependency, never a dependency of run-time
//! code. It is published so that the published crates' own tests build from their packages.
//!
//! - [`bench`](mod@bench): the `BENCH {json}` result lines the benchmarks print for
//!   `cargo xtask bench`.
//! - [`chromium`]: headless Chromium driven through chromedriver, for browser tests of the
//!   status page; fails with the fix when it is not installed.
//! - [`fuzz`]: a seeded random source for fuzz-style request tests, so a failure replays.
//! - [`exposition`]: a strict parser for the Prometheus text format as our renderer writes it,
//!   so tests assert values, not substrings.
//! - [`process`]: child processes started with a log, waited for until they serve, stopped
//!   with their descendants when dropped, explained by their log when they die.
//! - [`http`]: a blocking HTTP client (on `ureq`) for JSON APIs, probes and scrapes.
//! - [`prometheus`] and [`alertmanager`]: a real Prometheus or Alertmanager on a loopback
//!   port, and a client for Prometheus's query API; [`webhook`]: a receiver of Alertmanager's
//!   notifications.
//! - [`redis`] and [`postgres`]: a real Redis or PostgreSQL on a loopback port in a directory
//!   of its own, that a test can kill and start again, for what a fleet of replicas shares.
//! - [`promtool`]: runs Prometheus's own `promtool`, the judge of what a real server accepts;
//!   fails with the fix when it is not installed. [`tools`]: every tool the tests need and
//!   its Debian package.
//! - `serve` (feature `actix`): an actix-web app on an ephemeral loopback port, on a thread
//!   of its own.
//! - [`workload`]: every catalogued metric over a number of providers and models, the shared
//!   workload of the benchmarks.
//!
//! ```
//! let text = "# HELP up Whether it is up.\n# TYPE up gauge\nup 1\n";
//! let exposition = gatewayz_testkit::exposition::parse(text).unwrap();
//! assert_eq!(exposition.value("up", &[]), 1.0);
//! ```

pub mod alertmanager;
pub mod bench;
pub mod chromium;
pub mod exposition;
pub mod fuzz;
pub mod http;
pub mod postgres;
pub mod process;
pub mod prometheus;
pub mod promtool;
pub mod redis;
#[cfg(feature = "actix")]
pub mod serve;
pub mod tools;
pub mod webhook;
pub mod workload;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
