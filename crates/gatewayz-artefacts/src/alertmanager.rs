//! `alertmanager/alertmanager.yml`: critical alerts page, every alert reaches the chat, one
//! notification per alert, deployment and provider, and the inhibitions between alerts.
//!
//! The receivers are webhooks at the configured URLs (local placeholders by default); replace
//! them with `pagerduty_configs`, `opsgenie_configs` or `slack_configs` as your team pages. The
//! routing tree, the grouping and the inhibitions are not settings: every deployment shares
//! them, each grouped and inhibited within its own labels.

use crate::{Deployment, generated_notice, rules::Severity, yaml::Yaml};

/// The receiver that pages.
pub const PAGER: &str = "pager";
/// The receiver that posts to the team's chat.
pub const CHAT: &str = "chat";

/// An inhibition: while `source` fires, `targets` with the same `equal` labels are muted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inhibition {
    /// The alert that mutes.
    pub source: &'static str,
    /// The alerts it mutes.
    pub targets: Vec<&'static str>,
    /// Labels that must be equal on both: the deployment's labels first, so that one
    /// deployment's alert never mutes another's.
    pub equal: Vec<String>,
}

/// The inhibition rules of `deployment`.
pub fn inhibitions(deployment: &Deployment) -> Vec<Inhibition> {
    let equal = |extra: &[&str]| -> Vec<String> {
        deployment
            .selector
            .labels()
            .into_iter()
            .chain(extra.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    vec![
        Inhibition {
            source: "GatewayzProviderUnavailable",
            targets: vec![
                "GatewayzProviderHealthDegraded",
                "GatewayzProviderErrorSurge",
                "GatewayzProviderLatencySpike",
                "GatewayzCircuitOpenTooLong",
            ],
            equal: equal(&["provider"]),
        },
        Inhibition {
            source: "GatewayzMetricsAbsent",
            targets: vec!["GatewayzTargetDown"],
            equal: equal(&[]),
        },
    ]
}

/// The labels notifications are grouped by: the alert, the deployment, the provider and model.
pub fn group_by(deployment: &Deployment) -> Vec<String> {
    std::iter::once("alertname")
        .chain(deployment.selector.labels())
        .chain(["provider", "model"])
        .map(str::to_owned)
        .collect()
}

/// `alertmanager.yml` for `deployment`.
pub fn config(deployment: &Deployment) -> String {
    let am = &deployment.alertmanager;
    let matcher = |severity: Severity| format!("severity=\"{}\"", severity.as_str());
    let webhook = |url: &str| {
        Yaml::Seq(vec![Yaml::map([
            ("url", Yaml::str(url)),
            ("send_resolved", Yaml::Bool(true)),
        ])])
    };
    let inhibit = inhibitions(deployment).into_iter().map(|i| {
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
                ("group_by", Yaml::strs(group_by(deployment))),
                ("group_wait", Yaml::str(am.group_wait.as_str())),
                ("group_interval", Yaml::str(am.group_interval.as_str())),
                ("repeat_interval", Yaml::str(am.repeat_interval.as_str())),
                (
                    "routes",
                    Yaml::Seq(vec![
                        Yaml::map([
                            ("receiver", Yaml::str(PAGER)),
                            ("matchers", Yaml::strs([matcher(Severity::Critical)])),
                            ("group_wait", Yaml::str(am.critical_group_wait.as_str())),
                            (
                                "repeat_interval",
                                Yaml::str(am.critical_repeat_interval.as_str()),
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
                 circuit;\nno metrics at all explains every target being down. Only within one \
                 deployment.",
            ),
        ),
        (
            "receivers",
            Yaml::Seq(vec![
                Yaml::map([
                    ("name", Yaml::str(PAGER)),
                    ("webhook_configs", webhook(&am.pager_url)),
                ])
                .commented(
                    "Replace with pagerduty_configs / opsgenie_configs (critical) and \
                     slack_configs or a chat webhook (all).",
                ),
                Yaml::map([
                    ("name", Yaml::str(CHAT)),
                    ("webhook_configs", webhook(&am.chat_url)),
                ]),
            ]),
        ),
    ]);
    crate::yaml::document(
        &format!(
            "{}\nAlertmanager (0.25 and later) for the gatewayz alerts: critical pages, \
             everything goes to the chat;\ngrouped per alert, deployment and provider. Check: \
             amtool check-config alertmanager.yml",
            generated_notice(&deployment.selector)
        ),
        &root,
    )
}
