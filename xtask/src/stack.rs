//! The monitoring stack around the example gateway: its configuration (`prometheus.yml`,
//! `alertmanager.yml`, Grafana provisioning) and `cargo xtask stack`, which runs it.
//!
//! The defaults run everything on one machine: the gateway on `127.0.0.1:8080`, Prometheus on
//! `:9090`, Alertmanager on `:9093` posting to webhooks on `:9095`, Grafana reading the
//! dashboards from disk. [`prometheus_yml_for`] and [`alertmanager_yml_for`] write the same
//! files for other addresses and timings (the end-to-end test runs them on loopback ports with
//! one-second intervals); [`Webhooks`] receives Alertmanager's notifications.
//!
//! ```
//! use xtask::stack::{PrometheusSetup, prometheus_yml, prometheus_yml_for};
//!
//! assert_eq!(prometheus_yml(), prometheus_yml_for(&PrometheusSetup::default()));
//! let test = prometheus_yml_for(&PrometheusSetup {
//!     gateways: vec!["127.0.0.1:40001".into(), "127.0.0.1:40002".into()],
//!     interval: "1s".into(),
//!     scrape_timeout: "1s".into(),
//!     ..PrometheusSetup::default()
//! });
//! assert!(test.contains("127.0.0.1:40002") && test.contains("scrape_interval: 1s"));
//! ```

mod local;
mod webhook;

pub use local::run;
pub use webhook::{Notification, Webhooks};

use crate::{
    GENERATED_BY,
    rules::{self, JOB, Severity},
    yaml::{Yaml, document},
};

/// Where the example gateway listens.
pub const GATEWAY_TARGET: &str = "127.0.0.1:8080";
/// The path Prometheus scrapes: every category at once.
pub const METRICS_PATH: &str = "/prometheus/metrics/all";
/// Scrape (and rule evaluation) interval.
pub const SCRAPE_INTERVAL: &str = "15s";
/// Where Prometheus listens (Grafana's data source).
pub const PROMETHEUS_URL: &str = "http://127.0.0.1:9090";
/// Where Alertmanager listens.
pub const ALERTMANAGER_TARGET: &str = "127.0.0.1:9093";
/// Where Alertmanager's webhook receivers post (`/page`, `/chat`); `cargo xtask stack` prints
/// what arrives there.
pub const WEBHOOK_URL: &str = "http://127.0.0.1:9095";
/// Where Grafana's dashboard provider reads the JSON files.
pub const GRAFANA_DASHBOARDS_PATH: &str = "/var/lib/grafana/dashboards/gatewayz";

/// The Alertmanager receiver that pages.
pub const PAGER: &str = "pager";
/// The Alertmanager receiver that posts to the team's chat.
pub const CHAT: &str = "chat";

fn header(source: &str, about: &str) -> String {
    format!("{GENERATED_BY} from xtask/src/{source}; do not edit.\n{about}")
}

/// What a `prometheus.yml` scrapes, how often, and where it sends alerts.
///
/// [`Default`] is the shipped file; a test or a local stack changes the addresses and the
/// interval and keeps everything else (job name, metrics path, rule files under `rules/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusSetup {
    /// Gateway replicas, `host:port` each: one target per replica.
    pub gateways: Vec<String>,
    /// Scrape and rule evaluation interval.
    pub interval: String,
    /// Scrape timeout, at most `interval`.
    pub scrape_timeout: String,
    /// Where Prometheus itself listens (`host:port`), scraped as job `prometheus`.
    pub prometheus: String,
    /// Alertmanager's `host:port`; `None` sends alerts nowhere.
    pub alertmanager: Option<String>,
}

impl Default for PrometheusSetup {
    fn default() -> Self {
        PrometheusSetup {
            gateways: vec![GATEWAY_TARGET.to_owned()],
            interval: SCRAPE_INTERVAL.to_owned(),
            scrape_timeout: "10s".to_owned(),
            prometheus: PROMETHEUS_URL.trim_start_matches("http://").to_owned(),
            alertmanager: Some(ALERTMANAGER_TARGET.to_owned()),
        }
    }
}

/// `dashboards/prometheus/prometheus.yml`.
pub fn prometheus_yml() -> String {
    prometheus_yml_for(&PrometheusSetup::default())
}

/// A `prometheus.yml` for `setup`; the rule files are expected in `rules/` next to it.
pub fn prometheus_yml_for(setup: &PrometheusSetup) -> String {
    let alerting = match &setup.alertmanager {
        Some(target) => Yaml::Seq(vec![Yaml::map([(
            "static_configs",
            Yaml::Seq(vec![Yaml::map([("targets", Yaml::strs([target]))])]),
        )])]),
        None => Yaml::Seq(Vec::new()),
    };
    let root = Yaml::map([
        (
            "global",
            Yaml::map([
                ("scrape_interval", Yaml::str(&setup.interval)),
                ("scrape_timeout", Yaml::str(&setup.scrape_timeout)),
                ("evaluation_interval", Yaml::str(&setup.interval)),
            ]),
        ),
        (
            "rule_files",
            Yaml::strs(rules::files().iter().map(|f| format!("rules/{}", f.file))),
        ),
        ("alerting", Yaml::map([("alertmanagers", alerting)])),
        (
            "scrape_configs",
            Yaml::Seq(vec![
                Yaml::map([
                    ("job_name", Yaml::str(JOB)),
                    ("metrics_path", Yaml::str(METRICS_PATH)),
                    (
                        "static_configs",
                        Yaml::Seq(vec![Yaml::map([("targets", Yaml::strs(&setup.gateways))])]),
                    ),
                ])
                .commented(
                    "Every gateway replica, one target each. Prometheus adds `instance`; the \
                     alerts select job=\"gatewayz\".\nIf the metrics endpoints require a token, \
                     add `authorization: {credentials_file: /path/to/token}`.",
                ),
                Yaml::map([
                    ("job_name", Yaml::str("prometheus")),
                    (
                        "static_configs",
                        Yaml::Seq(vec![Yaml::map([(
                            "targets",
                            Yaml::strs([&setup.prometheus]),
                        )])]),
                    ),
                ]),
            ]),
        ),
    ]);
    if *setup != PrometheusSetup::default() {
        return document(
            "Prometheus for a gatewayz test or local stack, from xtask::stack::prometheus_yml_for;\n\
             the shipped file is dashboards/prometheus/prometheus.yml (`cargo xtask codegen`).",
            &root,
        );
    }
    let mut text = document(
        &header(
            "stack.rs",
            "Prometheus for the example gateway: scrapes /prometheus/metrics/all every 15 s, \
             loads the gatewayz rules,\nsends alerts to a local Alertmanager. Run from the \
             repository root:\n  prometheus --config.file=dashboards/prometheus/prometheus.yml \
             --storage.tsdb.path=/tmp/gatewayz-prometheus",
        ),
        &root,
    );
    text.push_str(
        "\n# Long-term storage and a global view across Prometheus servers: send everything (or \
         only the\n# recording rules, with write_relabel_configs) to Thanos Receive, Mimir or \
         VictoriaMetrics.\n# remote_write:\n#   - url: http://mimir.example:9009/api/v1/push\n",
    );
    text
}

/// An Alertmanager inhibition: while `source` fires, `targets` with the same `equal` labels
/// are muted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inhibition {
    /// The alert that mutes.
    pub source: &'static str,
    /// The alerts it mutes.
    pub targets: Vec<&'static str>,
    /// Labels that must be equal on both.
    pub equal: Vec<&'static str>,
}

/// The inhibition rules of `alertmanager.yml`.
pub fn inhibitions() -> Vec<Inhibition> {
    vec![
        Inhibition {
            source: "GatewayzProviderUnavailable",
            targets: vec![
                "GatewayzProviderHealthDegraded",
                "GatewayzProviderErrorSurge",
                "GatewayzProviderLatencySpike",
                "GatewayzCircuitOpenTooLong",
            ],
            equal: vec!["provider"],
        },
        Inhibition {
            source: "GatewayzMetricsAbsent",
            targets: vec!["GatewayzTargetDown"],
            equal: vec!["job"],
        },
    ]
}

/// Where Alertmanager's receivers post and how it batches: the shipped file, or a test's.
///
/// The routing tree, the matchers and the inhibitions are not settings: every setup shares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerSetup {
    /// Base URL of the webhooks: the pager posts to `{webhook}/page`, the chat to
    /// `{webhook}/chat`.
    pub webhook: String,
    /// How long a new group waits for more alerts before its first notification.
    pub group_wait: String,
    /// The same for critical alerts (the pager's route).
    pub critical_group_wait: String,
    /// How long a group waits before notifying about changes (new or resolved alerts).
    pub group_interval: String,
    /// How long before an unchanged, still firing group is notified again.
    pub repeat_interval: String,
    /// The same for critical alerts.
    pub critical_repeat_interval: String,
}

impl Default for AlertmanagerSetup {
    fn default() -> Self {
        AlertmanagerSetup {
            webhook: WEBHOOK_URL.to_owned(),
            group_wait: "30s".to_owned(),
            critical_group_wait: "10s".to_owned(),
            group_interval: "5m".to_owned(),
            repeat_interval: "4h".to_owned(),
            critical_repeat_interval: "1h".to_owned(),
        }
    }
}

/// `dashboards/alertmanager/alertmanager.yml`.
pub fn alertmanager_yml() -> String {
    alertmanager_yml_for(&AlertmanagerSetup::default())
}

/// An `alertmanager.yml` for `setup`: the shipped routing with other receivers and timings.
pub fn alertmanager_yml_for(setup: &AlertmanagerSetup) -> String {
    let matcher = |severity: Severity| format!("severity=\"{}\"", severity.as_str());
    let webhook = |path: &str| {
        Yaml::Seq(vec![Yaml::map([
            ("url", Yaml::str(format!("{}/{path}", setup.webhook))),
            ("send_resolved", Yaml::Bool(true)),
        ])])
    };
    let inhibit = inhibitions().into_iter().map(|i| {
        Yaml::map([
            (
                "source_matchers",
                Yaml::strs([format!("alertname=\"{}\"", i.source)]),
            ),
            (
                "target_matchers",
                Yaml::strs([format!("alertname=~\"{}\"", i.targets.join("|"))]),
            ),
            ("equal", Yaml::strs(i.equal)),
        ])
    });
    let root = Yaml::map([
        ("global", Yaml::map([("resolve_timeout", Yaml::str("5m"))])),
        (
            "route",
            Yaml::map([
                ("receiver", Yaml::str(CHAT)),
                ("group_by", Yaml::strs(["alertname", "provider", "model"])),
                ("group_wait", Yaml::str(&setup.group_wait)),
                ("group_interval", Yaml::str(&setup.group_interval)),
                ("repeat_interval", Yaml::str(&setup.repeat_interval)),
                (
                    "routes",
                    Yaml::Seq(vec![
                        Yaml::map([
                            ("receiver", Yaml::str(PAGER)),
                            ("matchers", Yaml::strs([matcher(Severity::Critical)])),
                            ("group_wait", Yaml::str(&setup.critical_group_wait)),
                            (
                                "repeat_interval",
                                Yaml::str(&setup.critical_repeat_interval),
                            ),
                            ("continue", Yaml::Bool(true)),
                        ])
                        .commented("Critical alerts page, and (continue) reach the chat too."),
                        Yaml::map([
                            ("receiver", Yaml::str(CHAT)),
                            (
                                "matchers",
                                Yaml::strs([format!(
                                    "severity=~\"{}|{}\"",
                                    Severity::Critical.as_str(),
                                    Severity::Warning.as_str()
                                )]),
                            ),
                        ]),
                    ]),
                ),
            ]),
        ),
        (
            "inhibit_rules",
            Yaml::Seq(inhibit.collect()).commented(
                "An unavailable provider explains its degraded score, errors, latency and open \
                 circuit;\nno metrics at all explains every target being down.",
            ),
        ),
        (
            "receivers",
            Yaml::Seq(vec![
                Yaml::map([
                    ("name", Yaml::str(PAGER)),
                    ("webhook_configs", webhook("page")),
                ])
                .commented(
                    "Replace with pagerduty_configs / opsgenie_configs (critical) and \
                     slack_configs or a chat webhook (all).",
                ),
                Yaml::map([
                    ("name", Yaml::str(CHAT)),
                    ("webhook_configs", webhook("chat")),
                ]),
            ]),
        ),
    ]);
    if *setup != AlertmanagerSetup::default() {
        return document(
            "Alertmanager for a gatewayz test or local stack, from \
             xtask::stack::alertmanager_yml_for;\nthe shipped file is \
             dashboards/alertmanager/alertmanager.yml (`cargo xtask codegen`).",
            &root,
        );
    }
    document(
        &header(
            "stack.rs",
            "Alertmanager (Debian's prometheus-alertmanager 0.25) for the gatewayz alerts: \
             critical pages, everything\ngoes to the chat webhook; grouped per alert and \
             provider. Check: amtool check-config dashboards/alertmanager/alertmanager.yml",
        ),
        &root,
    )
}

/// `dashboards/grafana/provisioning/dashboards/gatewayz.yml`: a file provider for the JSON
/// dashboards.
pub fn grafana_dashboards_yml() -> String {
    document(
        &header(
            "stack.rs",
            &format!(
                "Grafana dashboard provider: copy or mount dashboards/grafana/*.json at \
                 {GRAFANA_DASHBOARDS_PATH}\nand this file in /etc/grafana/provisioning/dashboards/."
            ),
        ),
        &Yaml::map([
            ("apiVersion", Yaml::Int(1)),
            (
                "providers",
                Yaml::Seq(vec![Yaml::map([
                    ("name", Yaml::str("gatewayz")),
                    ("orgId", Yaml::Int(1)),
                    ("folder", Yaml::str("Gatewayz")),
                    ("folderUid", Yaml::str("gatewayz")),
                    ("type", Yaml::str("file")),
                    ("disableDeletion", Yaml::Bool(false)),
                    ("allowUiUpdates", Yaml::Bool(false)),
                    ("updateIntervalSeconds", Yaml::Int(60)),
                    (
                        "options",
                        Yaml::map([
                            ("path", Yaml::str(GRAFANA_DASHBOARDS_PATH)),
                            ("foldersFromFilesStructure", Yaml::Bool(false)),
                        ]),
                    ),
                ])]),
            ),
        ]),
    )
}

/// `dashboards/grafana/provisioning/datasources/prometheus.yml`: the Prometheus data source.
///
/// The dashboards do not depend on its uid: they pick a data source through their `datasource`
/// variable, which defaults to the default data source.
pub fn grafana_datasource_yml() -> String {
    document(
        &header(
            "stack.rs",
            "Grafana data source for the local Prometheus; put it in \
             /etc/grafana/provisioning/datasources/.\ntimeInterval matches the scrape interval, \
             so $__rate_interval is at least four scrapes.",
        ),
        &Yaml::map([
            ("apiVersion", Yaml::Int(1)),
            (
                "datasources",
                Yaml::Seq(vec![Yaml::map([
                    ("name", Yaml::str("Prometheus")),
                    ("type", Yaml::str("prometheus")),
                    ("uid", Yaml::str("gatewayz-prometheus")),
                    ("access", Yaml::str("proxy")),
                    ("url", Yaml::str(PROMETHEUS_URL)),
                    ("isDefault", Yaml::Bool(true)),
                    ("editable", Yaml::Bool(false)),
                    (
                        "jsonData",
                        Yaml::map([
                            ("timeInterval", Yaml::str(SCRAPE_INTERVAL)),
                            ("httpMethod", Yaml::str("POST")),
                        ]),
                    ),
                ])]),
            ),
        ]),
    )
}
