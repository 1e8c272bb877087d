//! The deployments every test of this crate runs on: the default one (this repository's
//! `dashboards/`) and a second one that differs in everything the configuration offers.

#![allow(dead_code, unreachable_pub)]

use gatewayz_artefacts::Deployment;

/// A deployment unlike the default: another job, two extra matchers, other thresholds and
/// `for` durations, other objectives and windows, a budget, its own Grafana uids and receivers.
pub const SECOND: &str = r#"
[selector]
job = "llm-gateway"
matchers = { cluster = "eu-1", namespace = "llm" }

[scrape]
targets = ["10.0.0.11:9000", "10.0.0.12:9000"]
interval = "30s"
timeout = "20s"

[prometheus]
url = "http://prometheus.eu-1.internal:9090"
scrape_itself = false
alertmanagers = ["alertmanager.eu-1.internal:9093"]

[alerts]
runbook_url = "https://wiki.example.com/runbooks/{alert}"

[alerts.provider_unavailable]
replica_share = 0.2
for = "3m"
keep_firing_for = "15m"

[alerts.provider_health_degraded]
score = 0.73
for = "7m"

[alerts.provider_error_surge]
ratio = 0.6
min_requests_per_second = 1.5
for = "1m"

[alerts.provider_latency_spike]
p95_seconds_per_token = 0.2
for = "2h"

[alerts.circuit_open_too_long]
for = "1m"

[alerts.circuit_flapping]
reopenings_per_hour = 4
for = "3m"

[alerts.failover_storm]
share = 0.33
min_failovers_per_second = 0.2
for = "4m"

[alerts.traffic_stopped]
min_requests_per_hour = 500
for = "7m"

[alerts.requests_refused_surge]
share = 0.35
min_refusals_per_second = 0.5
for = "2m"

[alerts.spend_above_last_week]
ratio = 1.8
min_usd_per_hour = 5
for = "2h"

[alerts.spend_above_budget_pace]
for = "3h"

[alerts.label_values_overflow]
for = "2m"

[alerts.cost_per_hour_high]
usd_per_hour = 37
for = "15m"

[alerts.target_down]
for = "1m"

[alerts.metrics_absent]
for = "12m"

[cost]
monthly_budget_usd = 2500

[grafana]
datasource = "Mimir EU"
datasource_uid = "mimir-eu"
folder = "LLM gateway (eu-1)"
uid_prefix = "llm-eu1"
dashboards_path = "/etc/grafana/dashboards/llm-eu1"

[alertmanager]
pager_url = "https://events.pagerduty.example/v2/webhook"
chat_url = "https://hooks.slack.example/services/T000/B000"
group_wait = "1m"
deadman_url = "https://hc-ping.example/5f1c"
deadman_repeat_interval = "2m"

[slo.availability]
objective = 0.9995
window = "28d"
routes = "/(v1|api)/.*"

[slo.latency]
objective = 0.99
threshold_seconds = 5
window = "7d"

[slo.model_availability]
objective = 0.998
"#;

/// The second deployment.
pub fn second() -> Deployment {
    Deployment::from_toml(SECOND).unwrap_or_else(|e| panic!("{e}"))
}

/// Both deployments, named.
pub fn deployments() -> Vec<(&'static str, Deployment)> {
    vec![("default", Deployment::default()), ("second", second())]
}
