//! The deployment configuration: everything about one deployment that the artefacts depend on.
//!
//! Read from TOML (`deploy.toml`) with [`Deployment::from_toml`], or built in Rust from
//! [`Deployment::default`]. Every table and key is optional: what is left out keeps its
//! default, and the defaults describe the example gateway on this machine (job `gatewayz`,
//! scraped on `127.0.0.1:8080`), which is what this repository's `dashboards/` is generated
//! for. Unknown keys are refused, and so are values that would generate broken or misleading
//! artefacts; the error names the key and says why. `gatewayz-artefacts init` prints every
//! key with its default and what it does.
//!
//! ```
//! use gatewayz_artefacts::Deployment;
//!
//! let deployment = Deployment::from_toml(r#"
//!     [selector]
//!     job = "llm-gateway"
//!     matchers = { cluster = "eu-1" }
//!
//!     [alerts.provider_error_surge]
//!     ratio = 0.4
//! "#)?;
//! assert_eq!(deployment.selector.job, "llm-gateway");
//! assert_eq!(deployment.alerts.provider_error_surge.ratio, 0.4);
//! assert_eq!(deployment.alerts.provider_error_surge.for_.as_str(), "5m");
//!
//! let refused = Deployment::from_toml("[alerts.provider_error_surge]\nratio = 1.5").unwrap_err();
//! assert!(refused.to_string().contains("alerts.provider_error_surge.ratio"));
//! # Ok::<(), gatewayz_artefacts::Error>(())
//! ```

mod alerts;
mod duration;
mod slo;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use alerts::*;
pub use duration::Duration;
pub(crate) use duration::{format_millis, parse_millis};
pub use slo::*;

use crate::{Error, Problem};

/// One deployment of a gatewayz-instrumented service, as Prometheus, Alertmanager and Grafana
/// see it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deployment {
    /// Which series are this deployment's: every rule, alert and panel selects them.
    pub selector: Selector,
    /// How Prometheus scrapes the replicas (`prometheus.yml`).
    pub scrape: Scrape,
    /// The Prometheus server the generated `prometheus.yml` configures.
    pub prometheus: Prometheus,
    /// Alert thresholds and runbooks.
    pub alerts: Alerts,
    /// Money.
    pub cost: Cost,
    /// Grafana: data source, folder, dashboard uids.
    pub grafana: Grafana,
    /// Alertmanager: receivers and timings.
    pub alertmanager: Alertmanager,
    /// Service level objectives: the burn-rate alerts and the SLO dashboard.
    pub slo: Slo,
}

/// The deployment's series: `job="..."` and any extra exact matchers.
///
/// Every recording rule selects them and keeps them in its output (it aggregates
/// `by (job, <matcher labels>, ...)`), so the rules of two deployments in one Prometheus never
/// mix; every alert selects them; every dashboard has a variable for each, offering only the
/// configured value, and an `instance` variable for the replicas.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selector {
    /// The scrape job: `job_name` in `prometheus.yml` and `job="..."` everywhere else.
    pub job: String,
    /// Extra label matchers, e.g. `{ cluster = "eu-1", namespace = "llm" }`: label name to exact
    /// value. The generated `prometheus.yml` attaches them to its targets; with your own scrape
    /// configuration, make sure the series carry them (relabelling; `external_labels` are not
    /// visible to rules). Their dashboard variables come in alphabetical order.
    pub matchers: BTreeMap<String, String>,
}

impl Default for Selector {
    fn default() -> Self {
        Selector {
            job: "gatewayz".to_owned(),
            matchers: BTreeMap::new(),
        }
    }
}

impl Selector {
    /// The labels that identify the deployment: `job`, then the matchers' labels.
    pub fn labels(&self) -> Vec<&str> {
        std::iter::once("job")
            .chain(self.matchers.keys().map(String::as_str))
            .collect()
    }

    /// `(label, value)` for `job` and every matcher, in [`labels`](Self::labels) order.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        std::iter::once(("job", self.job.as_str()))
            .chain(
                self.matchers
                    .iter()
                    .map(|(label, value)| (label.as_str(), value.as_str())),
            )
            .collect()
    }

    /// The PromQL matchers, e.g. `job="gatewayz", cluster="eu-1"`.
    pub fn promql(&self) -> String {
        self.pairs()
            .iter()
            .map(|(label, value)| format!("{label}=\"{value}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How Prometheus scrapes the replicas.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scrape {
    /// Every replica, `host:port` each.
    pub targets: Vec<String>,
    /// The path that serves every metric.
    pub metrics_path: String,
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Scrape and rule evaluation interval (and Grafana's `timeInterval`).
    pub interval: Duration,
    /// Scrape timeout, at most the interval.
    pub timeout: Duration,
    /// A file holding the bearer token of the metrics endpoints, when they require one.
    pub credentials_file: Option<String>,
}

impl Default for Scrape {
    fn default() -> Self {
        Scrape {
            targets: vec!["127.0.0.1:8080".to_owned()],
            metrics_path: "/prometheus/metrics/all".to_owned(),
            scheme: Scheme::Http,
            interval: Duration::from_millis(15_000),
            timeout: Duration::from_millis(10_000),
            credentials_file: None,
        }
    }
}

/// A URL scheme for scrapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The Prometheus server of the generated `prometheus.yml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prometheus {
    /// Where it listens: Grafana's data source URL, and its own scrape target.
    pub url: String,
    /// Scrape Prometheus itself, as job `prometheus`.
    pub scrape_itself: bool,
    /// The Alertmanagers it sends alerts to, `host:port` each (none: alerts go nowhere).
    pub alertmanagers: Vec<String>,
}

impl Default for Prometheus {
    fn default() -> Self {
        Prometheus {
            url: "http://127.0.0.1:9090".to_owned(),
            scrape_itself: true,
            alertmanagers: vec!["127.0.0.1:9093".to_owned()],
        }
    }
}

impl Prometheus {
    /// `host:port` of [`url`](Self::url).
    pub fn target(&self) -> &str {
        host_port(&self.url)
    }
}

/// `host:port` of an `http(s)://host:port/...` URL.
fn host_port(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    rest.split('/').next().unwrap_or(rest)
}

/// Money.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cost {
    /// The monthly budget for upstream spend, in dollars. When set, Cost Analysis shows the
    /// month to date and the forecast against it.
    pub monthly_budget_usd: Option<f64>,
}

/// Grafana.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grafana {
    /// The Prometheus data source's name: provisioned, and selected by default by every
    /// dashboard's `datasource` variable.
    pub datasource: String,
    /// The provisioned data source's uid (the dashboards do not depend on it).
    pub datasource_uid: String,
    /// The folder the dashboards are provisioned into.
    pub folder: String,
    /// Prefix of every dashboard uid (`<prefix>-overview`, ...), of the folder's uid, and the
    /// tag that lists the deployment's dashboards: letters, digits, `-` and `_`, at most 22.
    pub uid_prefix: String,
    /// Where Grafana's dashboard provider reads the JSON files.
    pub dashboards_path: String,
}

impl Default for Grafana {
    fn default() -> Self {
        Grafana {
            datasource: "Prometheus".to_owned(),
            datasource_uid: "gatewayz-prometheus".to_owned(),
            folder: "Gatewayz".to_owned(),
            uid_prefix: "gatewayz".to_owned(),
            dashboards_path: "/var/lib/grafana/dashboards/gatewayz".to_owned(),
        }
    }
}

/// The longest uid suffix (`-model-performance`) plus the prefix stays within Grafana's 40.
const MAX_UID_PREFIX: usize = 22;

/// Alertmanager: where notifications go and how they are batched.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alertmanager {
    /// The webhook of the `pager` receiver (critical alerts). A placeholder by default: point it
    /// at your paging service, or replace the receiver in the generated file.
    pub pager_url: String,
    /// The webhook of the `chat` receiver (every alert). A placeholder by default.
    pub chat_url: String,
    /// How long a new group waits for more alerts before its first notification.
    pub group_wait: Duration,
    /// How long a group waits before notifying about changes.
    pub group_interval: Duration,
    /// How long before a still-firing group is notified again.
    pub repeat_interval: Duration,
    /// `group_wait` for critical alerts.
    pub critical_group_wait: Duration,
    /// `repeat_interval` for critical alerts.
    pub critical_repeat_interval: Duration,
    /// The webhook of the `deadman` receiver: a dead man's switch (healthchecks.io, Dead Man's
    /// Snitch, PagerDuty or Opsgenie heartbeats) that receives the always-firing
    /// `GatewayzWatchdog` every `deadman_repeat_interval` and raises its own alarm when the
    /// notifications stop, that is when Prometheus, its rules, Alertmanager or the path
    /// between them is broken. A placeholder by default.
    pub deadman_url: String,
    /// How often the dead man's switch hears from the Watchdog: shorter than the silence
    /// your switch tolerates.
    pub deadman_repeat_interval: Duration,
}

impl Default for Alertmanager {
    fn default() -> Self {
        let d = Duration::from_millis;
        Alertmanager {
            pager_url: "http://127.0.0.1:9095/page".to_owned(),
            chat_url: "http://127.0.0.1:9095/chat".to_owned(),
            group_wait: d(30_000),
            group_interval: d(300_000),
            repeat_interval: d(4 * 3_600_000),
            critical_group_wait: d(10_000),
            critical_repeat_interval: d(3_600_000),
            deadman_url: "http://127.0.0.1:9095/deadman".to_owned(),
            deadman_repeat_interval: d(300_000),
        }
    }
}

/// The problems found in a configuration, collected so that one run reports them all.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    pub(crate) fn add(&mut self, field: impl Into<String>, why: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            why: why.into(),
        });
    }
}

/// Labels the catalogue's metrics or Prometheus use: a matcher on one would filter (or clash
/// with) the metrics' own labels instead of selecting a deployment.
fn reserved_label(name: &str) -> bool {
    name.starts_with("__")
        || ["job", "instance", "le", "quantile", "alertname", "severity"].contains(&name)
        || gatewayz_catalogue::CATALOGUE
            .iter()
            .any(|def| def.label(name).is_some())
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Characters allowed in the job and matcher values: they are written into PromQL, YAML and
/// Grafana queries, and Grafana does not escape single-value variables.
fn is_selector_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/@+".contains(c))
}

fn is_host_port(target: &str) -> bool {
    match target.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains("://")
                && !host.contains('/')
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && !host_port(url).is_empty()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Deployment {
    /// Parses and validates a `deploy.toml`.
    ///
    /// # Errors
    /// [`Error::Toml`] when the text is not TOML of this shape (an unknown key, a string where a
    /// number belongs; the message shows the line), [`Error::Invalid`] when values are refused.
    pub fn from_toml(text: &str) -> Result<Deployment, Error> {
        let document = toml::Deserializer::parse(text).map_err(|e| Error::Toml(e.to_string()))?;
        let deployment: Deployment = serde_path_to_error::deserialize(document).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                Error::Toml(inner.to_string())
            } else {
                Error::Toml(format!("{path}: {inner}"))
            }
        })?;
        deployment.validate()?;
        Ok(deployment)
    }

    /// Checks every value; the error lists each refused key and why.
    ///
    /// # Errors
    /// [`Error::Invalid`], listing every problem found.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Problems::default();
        self.validate_selector(&mut problems);
        self.validate_scrape(&mut problems);
        self.validate_grafana(&mut problems);
        self.validate_alertmanager(&mut problems);
        self.alerts.validate(&mut problems);
        self.slo.validate(&mut problems);
        if let Some(budget) = self.cost.monthly_budget_usd
            && !(budget.is_finite() && budget > 0.0)
        {
            problems.add(
                "cost.monthly_budget_usd",
                format!("{budget} is not a budget: give dollars above 0, or leave it out"),
            );
        }
        if problems.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(problems.0))
        }
    }

    fn validate_selector(&self, problems: &mut Problems) {
        let job = &self.selector.job;
        if !is_selector_value(job) {
            problems.add(
                "selector.job",
                format!(
                    "`{job}` is not a job name this generator writes safely: use letters, \
                     digits and _ - . : / @ +"
                ),
            );
        }
        if self.prometheus.scrape_itself && job == "prometheus" {
            problems.add(
                "selector.job",
                "`prometheus` is the job of Prometheus's own scrape (prometheus.scrape_itself)",
            );
        }
        for (label, value) in &self.selector.matchers {
            let field = format!("selector.matchers.{label}");
            if !is_label_name(label) {
                problems.add(
                    &field,
                    format!("`{label}` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
                );
            } else if reserved_label(label) {
                problems.add(
                    &field,
                    format!(
                        "`{label}` is a label of the gatewayz metrics or of Prometheus itself, \
                         not one that tells deployments apart (use e.g. cluster, namespace, env)"
                    ),
                );
            }
            if !is_selector_value(value) {
                problems.add(
                    &field,
                    format!(
                        "`{value}` is not a value this generator writes safely: use letters, \
                         digits and _ - . : / @ +"
                    ),
                );
            }
        }
    }

    fn validate_scrape(&self, problems: &mut Problems) {
        let scrape = &self.scrape;
        if scrape.targets.is_empty() {
            problems.add(
                "scrape.targets",
                "list at least one replica as host:port (with service discovery instead, keep \
                 one and replace static_configs in the generated prometheus.yml)",
            );
        }
        for (i, target) in scrape.targets.iter().enumerate() {
            if !is_host_port(target) {
                problems.add(
                    format!("scrape.targets[{i}]"),
                    format!("`{target}` is not host:port (no scheme, no path)"),
                );
            }
        }
        if !scrape.metrics_path.starts_with('/') || scrape.metrics_path.contains(' ') {
            problems.add(
                "scrape.metrics_path",
                format!("`{}` is not an absolute path", scrape.metrics_path),
            );
        }
        if scrape.interval.millis() < 1_000 {
            problems.add(
                "scrape.interval",
                format!("{} is shorter than a second", scrape.interval),
            );
        }
        if scrape.timeout.millis() == 0 || scrape.timeout.millis() > scrape.interval.millis() {
            problems.add(
                "scrape.timeout",
                format!(
                    "{} must be above 0 and at most scrape.interval ({})",
                    scrape.timeout, scrape.interval
                ),
            );
        }
        if scrape
            .credentials_file
            .as_ref()
            .is_some_and(|f| f.trim().is_empty())
        {
            problems.add(
                "scrape.credentials_file",
                "empty: give a path, or leave it out",
            );
        }
        if !is_http_url(&self.prometheus.url) || !is_host_port(self.prometheus.target()) {
            problems.add(
                "prometheus.url",
                format!("`{}` is not http(s)://host:port", self.prometheus.url),
            );
        }
        for (i, target) in self.prometheus.alertmanagers.iter().enumerate() {
            if !is_host_port(target) {
                problems.add(
                    format!("prometheus.alertmanagers[{i}]"),
                    format!("`{target}` is not host:port"),
                );
            }
        }
    }

    fn validate_grafana(&self, problems: &mut Problems) {
        let grafana = &self.grafana;
        let prefix = &grafana.uid_prefix;
        let alphabet = prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if prefix.is_empty() || prefix.len() > MAX_UID_PREFIX || !alphabet {
            problems.add(
                "grafana.uid_prefix",
                format!(
                    "`{prefix}`: use 1 to {MAX_UID_PREFIX} letters, digits, - and _ (Grafana \
                     uids are at most 40 characters)"
                ),
            );
        }
        for (field, value) in [
            ("grafana.datasource", &grafana.datasource),
            ("grafana.datasource_uid", &grafana.datasource_uid),
            ("grafana.folder", &grafana.folder),
        ] {
            if value.trim().is_empty() || value.chars().any(char::is_control) {
                problems.add(field, "give a non-empty name on one line");
            }
        }
        if !grafana.dashboards_path.starts_with('/') {
            problems.add(
                "grafana.dashboards_path",
                format!("`{}` is not an absolute path", grafana.dashboards_path),
            );
        }
    }

    fn validate_alertmanager(&self, problems: &mut Problems) {
        let am = &self.alertmanager;
        for (field, url) in [
            ("alertmanager.pager_url", &am.pager_url),
            ("alertmanager.chat_url", &am.chat_url),
            ("alertmanager.deadman_url", &am.deadman_url),
        ] {
            if !is_http_url(url) {
                problems.add(field, format!("`{url}` is not an http(s) URL"));
            }
        }
        for (field, duration) in [
            ("alertmanager.group_wait", &am.group_wait),
            ("alertmanager.group_interval", &am.group_interval),
            ("alertmanager.repeat_interval", &am.repeat_interval),
            ("alertmanager.critical_group_wait", &am.critical_group_wait),
            (
                "alertmanager.critical_repeat_interval",
                &am.critical_repeat_interval,
            ),
            (
                "alertmanager.deadman_repeat_interval",
                &am.deadman_repeat_interval,
            ),
        ] {
            if duration.millis() == 0 {
                problems.add(field, "must be above 0");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(toml: &str) -> String {
        match Deployment::from_toml(toml) {
            Ok(d) => panic!("accepted {toml}: {d:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_empty_file_is_the_default_deployment() {
        assert_eq!(Deployment::from_toml("").unwrap(), Deployment::default());
        Deployment::default().validate().unwrap();
    }

    #[test]
    fn the_example_configuration_spells_out_the_defaults() {
        let example = crate::EXAMPLE_CONFIG;
        assert_eq!(
            Deployment::from_toml(example).unwrap(),
            Deployment::default()
        );
        // Every key is in it (commented keys aside): a default added without documenting it in
        // the example fails here, when a typo'd key makes the example refuse to parse above.
        for key in [
            "job =",
            "matchers =",
            "targets =",
            "metrics_path =",
            "scheme =",
            "interval =",
            "timeout =",
            "credentials_file =",
            "url =",
            "scrape_itself =",
            "alertmanagers =",
            "runbook_url =",
            "monthly_budget_usd =",
            "datasource =",
            "datasource_uid =",
            "folder =",
            "uid_prefix =",
            "dashboards_path =",
            "pager_url =",
            "chat_url =",
            "group_wait =",
            "group_interval =",
            "repeat_interval =",
            "critical_group_wait =",
            "critical_repeat_interval =",
            "deadman_url =",
            "deadman_repeat_interval =",
            "keep_firing_for =",
            "p95_seconds_per_token =",
            "reopenings_per_hour =",
            "min_requests_per_hour =",
            "min_refusals_per_second =",
            "min_usd_per_hour =",
            "[alerts.label_values_overflow]",
            "[alerts.metric_conflicts]",
            "[alerts.spend_above_budget_pace]",
            "[slo.availability]",
            "routes =",
            "[slo.latency]",
            "threshold_seconds =",
            "[slo.model_availability]",
            "objective =",
            "window =",
        ] {
            assert!(example.contains(key), "the example does not show `{key}`");
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_the_valid_ones() {
        let error = refused("[alerts.provider_error_surge]\nratoi = 0.3");
        assert!(
            error.contains("ratoi") && error.contains("ratio"),
            "{error}"
        );
        let error = refused("[selector]\njobs = \"x\"");
        assert!(error.contains("selector.jobs"), "{error}");
    }

    #[test]
    fn bad_values_name_the_field_and_say_why() {
        for (toml, field, why) in [
            (
                "[alerts.provider_error_surge]\nratio = 1.5",
                "alerts.provider_error_surge.ratio",
                "share",
            ),
            (
                "[alerts.target_down]\nfor = \"90s\"",
                "alerts.target_down.for",
                "whole number of minutes",
            ),
            (
                "[alerts.provider_latency_spike]\np95_seconds_per_token = 5",
                "alerts.provider_latency_spike.p95_seconds_per_token",
                "buckets",
            ),
            (
                "[alerts.provider_unavailable]\nkeep_firing_for = \"30s\"",
                "alerts.provider_unavailable.keep_firing_for",
                "whole number of minutes",
            ),
            (
                "[alerts.spend_above_last_week]\nratio = 0.5",
                "alerts.spend_above_last_week.ratio",
                "above 1",
            ),
            (
                "[slo.availability]\nobjective = 0.9",
                "slo.availability.objective",
                "above 0.9306",
            ),
            (
                "[slo.model_availability]\nobjective = 1",
                "slo.model_availability.objective",
                "no error budget",
            ),
            (
                "[slo.latency]\nthreshold_seconds = 1.8",
                "slo.latency.threshold_seconds",
                "0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60 s",
            ),
            (
                "[slo.latency]\nwindow = \"36h\"",
                "slo.latency.window",
                "whole number of days",
            ),
            (
                "[slo.availability]\nroutes = \"/v1/(chat\"",
                "slo.availability.routes",
                "balanced",
            ),
            (
                "[alertmanager]\ndeadman_url = \"snitch\"",
                "alertmanager.deadman_url",
                "URL",
            ),
            (
                "[alerts.cost_per_hour_high]\nusd_per_hour = 0",
                "alerts.cost_per_hour_high.usd_per_hour",
                "idle",
            ),
            (
                "[selector]\nmatchers = { provider = \"x\" }",
                "selector.matchers.provider",
                "not one that tells deployments apart",
            ),
            (
                "[selector]\nmatchers = { cluster = \"eu 1\" }",
                "selector.matchers.cluster",
                "letters",
            ),
            ("[selector]\njob = 'a\"b'", "selector.job", "letters"),
            (
                "[scrape]\ntargets = [\"http://gw:8080\"]",
                "scrape.targets[0]",
                "host:port",
            ),
            ("[scrape]\ntargets = []", "scrape.targets", "at least one"),
            (
                "[scrape]\ninterval = \"10s\"\ntimeout = \"20s\"",
                "scrape.timeout",
                "at most",
            ),
            (
                "[grafana]\nuid_prefix = \"a-very-long-prefix-for-uids\"",
                "grafana.uid_prefix",
                "40",
            ),
            (
                "[alertmanager]\npager_url = \"pagerduty\"",
                "alertmanager.pager_url",
                "URL",
            ),
            (
                "[alerts]\nrunbook_url = \"https://wiki.example/runbooks\"",
                "alerts.runbook_url",
                "{alert}",
            ),
            (
                "[cost]\nmonthly_budget_usd = -5",
                "cost.monthly_budget_usd",
                "above 0",
            ),
        ] {
            let error = refused(toml);
            assert!(
                error.contains(field) && error.contains(why),
                "{toml}\n→ {error}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let error =
            refused("[alerts.provider_error_surge]\nratio = 2\n[alerts.failover_storm]\nshare = 0");
        assert!(
            error.contains("provider_error_surge.ratio") && error.contains("failover_storm.share"),
            "{error}"
        );
    }

    #[test]
    fn a_duration_that_is_not_one_is_refused_with_its_key_and_line() {
        let error = refused("[alerts.target_down]\nfor = \"15 minutes\"");
        assert!(
            error.contains("alerts.target_down.for")
                && error.contains("line 2")
                && error.contains("`15 minutes` is not a Prometheus duration"),
            "{error}"
        );
        let error = refused("[scrape]\ninterval = 15");
        assert!(error.contains("scrape.interval"), "{error}");
    }
}
