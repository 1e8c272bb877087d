//! Configuration of the monitoring stack around the example gateway: `prometheus.yml`,
//! `alertmanager.yml` and Grafana provisioning.
//!
//! The defaults run everything on one machine: the gateway on `127.0.0.1:8080`, Prometheus on
//! `:9090`, Alertmanager on `:9093`, Grafana reading the dashboards from disk.

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
/// Where Grafana's dashboard provider reads the JSON files.
pub const GRAFANA_DASHBOARDS_PATH: &str = "/var/lib/grafana/dashboards/gatewayz";

/// The Alertmanager receiver that pages.
pub const PAGER: &str = "pager";
/// The Alertmanager receiver that posts to the team's chat.
pub const CHAT: &str = "chat";

fn header(source: &str, about: &str) -> String {
    format!("{GENERATED_BY} from xtask/src/{source}; do not edit.\n{about}")
}

/// `dashboards/prometheus/prometheus.yml`.
pub fn prometheus_yml() -> String {
    let root = Yaml::map([
        (
            "global",
            Yaml::map([
                ("scrape_interval", Yaml::str(SCRAPE_INTERVAL)),
                ("scrape_timeout", Yaml::str("10s")),
                ("evaluation_interval", Yaml::str(SCRAPE_INTERVAL)),
            ]),
        ),
        (
            "rule_files",
            Yaml::strs(rules::files().iter().map(|f| format!("rules/{}", f.file))),
        ),
        (
            "alerting",
            Yaml::map([(
                "alertmanagers",
                Yaml::Seq(vec![Yaml::map([(
                    "static_configs",
                    Yaml::Seq(vec![Yaml::map([(
                        "targets",
                        Yaml::strs([ALERTMANAGER_TARGET]),
                    )])]),
                )])]),
            )]),
        ),
        (
            "scrape_configs",
            Yaml::Seq(vec![
                Yaml::map([
                    ("job_name", Yaml::str(JOB)),
                    ("metrics_path", Yaml::str(METRICS_PATH)),
                    (
                        "static_configs",
                        Yaml::Seq(vec![Yaml::map([("targets", Yaml::strs([GATEWAY_TARGET]))])]),
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
                            Yaml::strs([PROMETHEUS_URL.trim_start_matches("http://")]),
                        )])]),
                    ),
                ]),
            ]),
        ),
    ]);
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

/// `dashboards/alertmanager/alertmanager.yml`.
pub fn alertmanager_yml() -> String {
    let matcher = |severity: Severity| format!("severity=\"{}\"", severity.as_str());
    let webhook = |path: &str| {
        Yaml::Seq(vec![Yaml::map([
            ("url", Yaml::str(format!("http://127.0.0.1:9095/{path}"))),
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
                ("group_wait", Yaml::str("30s")),
                ("group_interval", Yaml::str("5m")),
                ("repeat_interval", Yaml::str("4h")),
                (
                    "routes",
                    Yaml::Seq(vec![
                        Yaml::map([
                            ("receiver", Yaml::str(PAGER)),
                            ("matchers", Yaml::strs([matcher(Severity::Critical)])),
                            ("group_wait", Yaml::str("10s")),
                            ("repeat_interval", Yaml::str("1h")),
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
