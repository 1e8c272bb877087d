//! Grafana dashboards, Prometheus rules, Alertmanager routing and runbooks for a deployment of
//! a gatewayz-instrumented service, generated from the metric catalogue and one deployment
//! configuration.
//!
//! A [`Deployment`] says which series are the deployment's (its `job` and any extra matchers
//! such as a cluster), how Prometheus scrapes it, the service level objectives, the threshold
//! and `for` of every alert, the monthly budget, the Grafana data source, folder and uids, and
//! where Alertmanager sends notifications. [`generate`] turns it into every file a monitoring stack reads:
//!
//! - `grafana/*.json`: seven dashboards, every query selecting the deployment through its `job`,
//!   matcher and `instance` variables, and Grafana provisioning under `grafana/provisioning/`;
//! - `prometheus/prometheus.yml`, the recording and alerting rules under `prometheus/rules/`
//!   (every rule selects the deployment and keeps its labels, so two deployments sharing a
//!   Prometheus never mix), among them the service level objectives' burn-rate alerts, and
//!   `promtool test rules` cases under `prometheus/tests/`, derived from the configured
//!   thresholds, with the incident suite (whole incidents, the minute each alert fires checked);
//! - `alertmanager/alertmanager.yml`: critical alerts page, everything reaches the chat, the
//!   Watchdog feeds a dead man's switch;
//! - `docs/`: the metrics reference, the PromQL library, and the alerts with their runbooks.
//!
//! Operators run the `gatewayz-artefacts` command (`generate --config deploy.toml --out DIR`,
//! then `check DIR`); a Rust service can call the library from its own `xtask`:
//!
//! ```
//! use gatewayz_artefacts::{Deployment, generate};
//!
//! let deployment = Deployment::from_toml(r#"
//!     [selector]
//!     job = "llm-gateway"
//!     matchers = { cluster = "eu-1" }
//!     [alerts.provider_error_surge]
//!     ratio = 0.4
//! "#)?;
//! let artefacts = generate(&deployment)?;
//! let alerts = &artefacts.get("prometheus/rules/alerts.yml").unwrap().contents;
//! assert!(alerts.contains(r#"{job="llm-gateway", cluster="eu-1"} > 0.4"#));
//! # let dir = tempfile::tempdir().unwrap();
//! artefacts.write(dir.path())?;
//! # Ok::<(), gatewayz_artefacts::Error>(())
//! ```
//!
//! The data behind the files is public too, for tests that hold the artefacts against a real
//! Prometheus: [`dashboards::all`] (every panel and target), [`rules::groups`] (each alert with
//! its runbook and promtool cases), [`promql::library`] and [`promql::substitute`], which turns
//! Grafana variables into concrete PromQL.

pub mod alertmanager;
pub mod check;
pub mod config;
mod customers;
pub mod dashboards;
pub mod docs;
mod error;
mod expr;
mod files;
pub mod grafana;
pub mod prometheus;
pub mod promql;
pub mod rules;
pub mod runbooks;
mod yaml;

pub use config::{Deployment, Duration, Selector};
pub use error::{Error, Problem};
pub use files::{Artefacts, CONFIG_FILE, File, GENERATED_BY, generate, says_generated};

/// A `deploy.toml` with every setting at its default, each explained: what `gatewayz-artefacts
/// init` prints.
pub const EXAMPLE_CONFIG: &str = include_str!("../deploy.example.toml");

/// The notice at the top of every generated file.
pub(crate) fn generated_notice(selector: &Selector) -> String {
    format!(
        "{GENERATED_BY} for {{{}}} from {CONFIG_FILE}; do not edit.",
        selector.promql()
    )
}
