//! `alertmanager/alertmanager.yml`: critical alerts page, every alert reaches the chat, the
//! always-firing Watchdog goes to the dead man's switch alone, one notification per alert,
//! deployment and provider (or SLO and model), and the inhibitions between alerts.
//!
//! The receivers are webhooks at the configured URLs (local placeholders by default); replace
//! them with `pagerduty_configs`, `opsgenie_configs` or `slack_configs` as your team pages. The
//! routing tree, the grouping and the inhibitions are not settings: every deployment shares
//! them, each grouped and inhibited within its own labels.

use crate::{
    Deployment, generated_notice,
    rules::{Severity, slo::Kind},
    yaml::Yaml,
};

/// The receiver that pages.
pub const PAGER: &str = "pager";
/// The receiver that posts to the team's chat.
pub const CHAT: &str = "chat";
/// The dead man's switch: receives the Watchdog, and alarms when it stops.
pub const DEADMAN: &str = "deadman";
/// The always-firing alert of the dead man's switch.
pub const WATCHDOG: &str = "GatewayzWatchdog";

/// An inhibition: while `source` fires, `targets` with the same `equal` labels are muted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inhibition {
    /// The alert that mutes.
    pub source: &'static str,
    /// Further matchers on the source, e.g. `urgency="page"`.
    pub source_matchers: Vec<&'static str>,
    /// The alerts it mutes.
    pub targets: Vec<&'static str>,
    /// Further matchers on the targets.
    pub target_matchers: Vec<&'static str>,
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
    let mut inhibitions = vec![
        Inhibition {
            source: "GatewayzProviderUnavailable",
            source_matchers: Vec::new(),
            targets: vec![
                "GatewayzProviderHealthDegraded",
                "GatewayzProviderErrorSurge",
                "GatewayzProviderLatencySpike",
                "GatewayzCircuitOpenTooLong",
                "GatewayzCircuitFlapping",
            ],
            target_matchers: Vec::new(),
            equal: equal(&["provider"]),
        },
        Inhibition {
            source: "GatewayzMetricsAbsent",
            source_matchers: Vec::new(),
            targets: vec!["GatewayzTargetDown", "GatewayzTrafficStopped"],
            target_matchers: Vec::new(),
            equal: equal(&[]),
        },
    ];
    // A page says all a ticket of the same objective (and model) would.
    for kind in [Kind::Availability, Kind::Latency, Kind::ModelAvailability] {
        inhibitions.push(Inhibition {
            source: kind.alert(),
            source_matchers: vec![r#"urgency="page""#],
            targets: vec![kind.alert()],
            target_matchers: vec![r#"urgency="ticket""#],
            equal: equal(
                &[kind.by()]
                    .into_iter()
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>(),
            ),
        });
    }
    inhibitions
}

/// The labels notifications are grouped by: the alert, the deployment, the provider, the
/// model, and the urgency (a page and a ticket of one objective are two notifications).
pub fn group_by(deployment: &Deployment) -> Vec<String> {
    std::iter::once("alertname")
        .chain(deployment.selector.labels())
        .chain(["provider", "model", "urgency"])
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
        let source = std::iter::once(format!("alertname=\"{}\"", i.source))
            .chain(i.source_matchers.iter().map(|m| (*m).to_owned()));
        let targets = std::iter::once(format!("alertname=~\"{}\"", i.targets.join("|")))
            .chain(i.target_matchers.iter().map(|m| (*m).to_owned()));
        Yaml::map([
            ("source_matchers", Yaml::strs(source)),
            ("target_matchers", Yaml::strs(targets)),
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
                            ("receiver", Yaml::str(DEADMAN)),
                            (
                                "matchers",
                                Yaml::strs([format!("alertname=\"{WATCHDOG}\"")]),
                            ),
                            ("group_wait", Yaml::str("0s")),
                            ("group_interval", Yaml::str("1m")),
                            (
                                "repeat_interval",
                                Yaml::str(am.deadman_repeat_interval.as_str()),
                            ),
                        ])
                        .commented(
                            "The always-firing Watchdog feeds the dead man's switch, and only \
                             it (no continue).",
                        ),
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
                "An unavailable provider explains its degraded score, errors, latency and \
                 circuit;\nno metrics at all explains every target being down and no traffic; \
                 a page makes the ticket of\nthe same objective redundant. Only within one \
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
                Yaml::map([
                    ("name", Yaml::str(DEADMAN)),
                    (
                        "webhook_configs",
                        Yaml::Seq(vec![Yaml::map([
                            ("url", Yaml::str(&am.deadman_url)),
                            ("send_resolved", Yaml::Bool(false)),
                        ])]),
                    ),
                ])
                .commented(
                    "A dead man's switch (healthchecks.io, Dead Man's Snitch, PagerDuty or \
                     Opsgenie heartbeat): it alarms when the Watchdog stops arriving.",
                ),
            ]),
        ),
    ]);
    crate::yaml::document(
        &format!(
            "{}\nAlertmanager (0.25 and later) for the gatewayz alerts: critical pages, \
             everything goes to the chat, the Watchdog\nto the dead man's switch; grouped per \
             alert, deployment, provider and model. Check: amtool check-config alertmanager.yml",
            generated_notice(&deployment.selector)
        ),
        &root,
    )
}
