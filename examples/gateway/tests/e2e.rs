//! End to end: three gateway replicas (simulated providers, demo traffic) scraped by a real
//! Prometheus running the shipped rules, alerting through a real Alertmanager with the shipped
//! routing, all on loopback ports in a temporary directory.
//!
//! What it proves, in order: the replicas' every metrics endpoint passes `promtool check
//! metrics`; the recording rules aggregate across the replicas; a provider taken down on every
//! replica is failed over (clients keep getting answers), judged unavailable, its circuit opens,
//! `GatewayzProviderUnavailable` and `GatewayzProviderErrorSurge` fire, and Alertmanager notifies
//! the outage once per receiver (one alert for the fleet, not one per replica); once the
//! provider is back the circuits close, the alert resolves and Alertmanager says so; every
//! recording rule and every PromQL target of every dashboard panel returns data.
//!
//! Timings. The shipped alerts judge 5-minute windows and wait minutes before firing; the test
//! loads the same rules from `xtask::rules` rendered with [`TimeScale::faster(10)`]: every
//! duration divided by ten (`[5m]` → `[30s]`, `for: 2m` → `for: 12s`), expressions, thresholds
//! and names unchanged. The replicas' health window and circuit cool-down are on the same
//! faster clock, and Prometheus scrapes and evaluates every second. The whole test takes a
//! minute to a minute and a half on two cores (the outage alone about 45 s: the error-surge
//! alert needs its 30 s window to fill with failures, then holds for 30 s).
//!
//! It needs Debian's `prometheus` (the server and `promtool`) and `prometheus-alertmanager`;
//! `cargo xtask test` installs them. Without them it fails, saying so: it never skips.
//!
//! [`TimeScale::faster(10)`]: xtask::rules::TimeScale::faster

#[path = "e2e/api.rs"]
mod api;
#[path = "e2e/processes.rs"]
mod processes;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
    time::{Duration, Instant},
};

use api::{Prometheus, eventually, get, now, post, until_ready};
use gatewayz_registry::Category;
use processes::{ADMIN_KEY, Replica, Server, free_port};
use serde_json::{Value, json};
use xtask::{
    dashboards::{self, Variable},
    promql::{Substitution, substitute},
    rules::{self, TimeScale},
    stack::{self, AlertmanagerSetup, Notification, PrometheusSetup, Webhooks},
    tools::{self, ALERTMANAGER, PROMETHEUS, PROMTOOL},
};

/// How much faster than the shipped rules the test runs them.
const SCALE: u32 = 10;

/// The provider the test takes down: it serves two models, each also served by `openrouter`.
const PROVIDER: &str = "anthropic";
/// The models it serves.
const MODELS: [&str; 2] = ["claude-3.5-sonnet", "claude-3-haiku"];

/// The replicas' configuration.
///
/// `anthropic` and `cerebras` are preferred for their models, `openrouter` serves them too and
/// never fails, so taking `anthropic` down costs clients nothing. `openai` alone serves
/// `gpt-4o-mini` and fails 5 % of its calls: with nowhere to fail over to, those are the
/// clients' 5xx that the HTTP error-ratio rule and panels need.
///
/// The health window (5 minutes in 30 s buckets by default), the anomaly windows and the
/// circuit cool-down are divided by ten like the rules; the cool-down's cap is lower still (6 s
/// rather than 30 s) so that, while the provider is down, half-open probes keep failing often
/// enough for every 30 s window to hold some attempts, as on a busy production fleet.
const CONFIG: &str = r#"
[server]
upstream_timeout_seconds = 10.0
health_tick_seconds = 0.5
business_collect_seconds = 1.0

[demo]
requests_per_second = 6.0
stream_share = 0.3

[health]
window = { length = "30s", buckets = 10 }
circuit = { cool_down = "3s", max_cool_down = "6s", rate_window = "6s", trip_reset = "60s" }
anomaly = { window = "6s", warmup = "30s", adapt_after = "180s" }

[[providers]]
name = "anthropic"
simulated = { latency_median_ms = 120, time_to_first_token_ms = 50, tokens_per_second = 1500, error_rate = 0.0 }
models = [
    { name = "claude-3.5-sonnet", input_price_per_million = 3.00, output_price_per_million = 15.00 },
    { name = "claude-3-haiku", input_price_per_million = 0.25, output_price_per_million = 1.25 },
]

[[providers]]
name = "cerebras"
simulated = { latency_median_ms = 40, time_to_first_token_ms = 20, tokens_per_second = 3000, error_rate = 0.0 }
models = [{ name = "llama-3.1-70b", input_price_per_million = 0.60, output_price_per_million = 0.60 }]

[[providers]]
name = "openrouter"
simulated = { latency_median_ms = 90, time_to_first_token_ms = 40, tokens_per_second = 1500, error_rate = 0.0 }
models = [
    { name = "claude-3.5-sonnet", input_price_per_million = 3.00, output_price_per_million = 15.00 },
    { name = "claude-3-haiku", input_price_per_million = 0.25, output_price_per_million = 1.25 },
    { name = "llama-3.1-70b", input_price_per_million = 0.40, output_price_per_million = 0.40 },
]

[[providers]]
name = "openai"
simulated = { latency_median_ms = 80, time_to_first_token_ms = 30, tokens_per_second = 2000, error_rate = 0.05 }
models = [{ name = "gpt-4o-mini", input_price_per_million = 0.15, output_price_per_million = 0.60 }]
"#;

/// Dashboard panels whose query legitimately returns nothing after a few minutes of history,
/// and why; the test still runs them (they must not fail) and runs them on a faster clock too.
const EMPTY_ON_A_SHORT_HISTORY: &[(&str, &str)] = &[(
    "Month-end forecast",
    "predict_linear over `[7d:1h]` needs two hourly points, so two hours of history; the same \
     expression with its durations divided by 720 (`[14m:5s]`) must return data",
)];

/// Seconds since the test started, for the progress lines (shown with `--nocapture`, and on
/// failure, to tell where the time went).
struct Clock(Instant);

impl Clock {
    fn start() -> Clock {
        Clock(Instant::now())
    }

    fn mark(&self, what: &str) {
        eprintln!("[{:>6.1}s] {what}", self.0.elapsed().as_secs_f64());
    }
}

#[actix_web::test]
async fn the_shipped_rules_dashboards_and_alerts_hold_on_a_real_prometheus() {
    let clock = Clock::start();
    let binary = |tool| tools::require(tool).unwrap_or_else(|why| panic!("{why}"));
    let (prometheus_binary, alertmanager_binary) = (binary(PROMETHEUS), binary(ALERTMANAGER));
    binary(PROMTOOL);
    let scale = TimeScale::faster(SCALE);
    let window = scale.duration("5m");

    // Declared first, dropped last: every process below is killed before its files go.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let hooks = Webhooks::start("127.0.0.1:0", false).unwrap();

    let starting: Vec<_> = (1..=3)
        .map(|i| Replica::start(dir.path(), &format!("gw-{i}"), CONFIG))
        .collect();
    let mut replicas: Vec<Replica> = starting.into_iter().map(|s| s.ready()).collect();
    clock.mark("three replicas serving");

    let alertmanager_port = free_port();
    let mut alertmanager = Server::alertmanager(
        &alertmanager_binary,
        &dir.path().join("alertmanager"),
        alertmanager_port,
        &stack::alertmanager_yml_for(&AlertmanagerSetup {
            webhook: hooks.url(),
            // Notifications within seconds; no repeat during the test, so one outage must make
            // exactly one firing notification per receiver.
            group_wait: "1s".into(),
            critical_group_wait: "1s".into(),
            group_interval: "2s".into(),
            repeat_interval: "1h".into(),
            critical_repeat_interval: "1h".into(),
        }),
    );
    let prometheus_dir = dir.path().join("prometheus");
    write_scaled_rules(&prometheus_dir, scale);
    let prometheus_port = free_port();
    let mut prometheus_server = Server::prometheus(
        &prometheus_binary,
        &prometheus_dir,
        prometheus_port,
        &stack::prometheus_yml_for(&PrometheusSetup {
            gateways: replicas.iter().map(|r| r.target().to_owned()).collect(),
            interval: "1s".into(),
            scrape_timeout: "1s".into(),
            prometheus: format!("127.0.0.1:{prometheus_port}"),
            alertmanager: Some(alertmanager.target().to_owned()),
        }),
    );
    until_ready("alertmanager", &alertmanager.url).await;
    until_ready("prometheus", &prometheus_server.url).await;
    let prometheus_started = now();
    let prom = Prometheus::new(&prometheus_server.url);
    clock.mark("Prometheus and Alertmanager ready");

    eventually(
        "Prometheus scrapes the three replicas",
        Duration::from_secs(30),
        async || {
            let targets = prom.targets(rules::JOB).await;
            let up = targets
                .iter()
                .filter(|(_, health, _)| health == "up")
                .count();
            if targets.len() == 3 && up == 3 {
                Ok(())
            } else {
                Err(format!("{targets:?}"))
            }
        },
    )
    .await;
    clock.mark("targets up");

    check_every_endpoint_with_promtool(&replicas).await;
    clock.mark("promtool check metrics passed on 18 endpoints");

    // The provider must be judged healthy everywhere first, so that what follows is a change.
    eventually(
        &format!("{PROVIDER} healthy on the three replicas"),
        Duration::from_secs(60),
        async || {
            let healthy = prom
                .query(&format!(
                    r#"gatewayz_provider_status{{provider="{PROVIDER}", status="healthy"}} == 1"#
                ))
                .await;
            if healthy.len() == 3 {
                Ok(())
            } else {
                Err(format!("healthy on {} replica(s)", healthy.len()))
            }
        },
    )
    .await;
    clock.mark(&format!("{PROVIDER} healthy on every replica"));

    check_fleet_view(&prom, &window).await;
    clock.mark("recording rules aggregate the three replicas");

    // ---- the outage ----------------------------------------------------------------------
    for replica in &replicas {
        simulate(replica, json!({"outage": true})).await;
    }
    clock.mark(&format!("{PROVIDER} down on every replica"));
    // The first requests meet refused connections and fail over; later ones skip the open
    // circuit. Either way the client gets an answer.
    assert_clients_get_answers(&replicas).await;

    for replica in &replicas {
        eventually(
            &format!(
                "{}: circuit of {PROVIDER} opens, status unavailable",
                replica.name
            ),
            Duration::from_secs(30),
            async || {
                let health = provider_health(replica).await;
                let opened = transitions(replica, "closed", "open").await;
                if health["status"] == "unavailable"
                    && health["circuit_state"] != "closed"
                    && opened >= 1.0
                {
                    Ok(())
                } else {
                    Err(format!("opened {opened} time(s); {health}"))
                }
            },
        )
        .await;
    }
    clock.mark("circuits open, status unavailable on every replica");

    eventually(
        "the fleet view: every replica calls the provider unavailable, none has its circuit closed",
        Duration::from_secs(30),
        async || {
            let ratio = value_of(&prom, &format!(
                r#"provider:gatewayz_provider_status_unavailable:ratio{{provider="{PROVIDER}"}}"#
            ))
            .await;
            let not_closed = value_of(
                &prom,
                &format!(
                    r#"provider:gatewayz_circuit_breaker_not_closed:count{{provider="{PROVIDER}"}}"#
                ),
            )
            .await;
            if ratio == Some(1.0) && not_closed == Some(3.0) {
                Ok(())
            } else {
                Err(format!(
                    "unavailable share {ratio:?}, circuits not closed {not_closed:?}"
                ))
            }
        },
    )
    .await;

    for alert in ["GatewayzProviderUnavailable", "GatewayzProviderErrorSurge"] {
        eventually(
            &format!("{alert} firing for {PROVIDER} in Prometheus"),
            Duration::from_secs(120),
            async || match prom.alert_state(alert, PROVIDER).await {
                Some(state) if state == "firing" => Ok(()),
                other => Err(format!("state {other:?}")),
            },
        )
        .await;
        clock.mark(&format!("{alert} firing"));
    }

    for receiver in ["/page", "/chat"] {
        eventually(
            &format!("Alertmanager notifies {receiver} of the outage"),
            Duration::from_secs(30),
            async || {
                let firing = unavailable_notifications(&hooks, receiver, "firing");
                if firing.is_empty() {
                    Err(describe_all(&hooks))
                } else {
                    Ok(())
                }
            },
        )
        .await;
    }
    clock.mark("Alertmanager notified the pager and the chat");

    // The shipped inhibition: an unavailable provider explains its error surge, so the surge,
    // firing in Prometheus, reaches no receiver. Give Alertmanager longer than its group wait
    // and interval to prove a negative.
    actix_web::rt::time::sleep(Duration::from_secs(4)).await;
    let surges: Vec<String> = hooks
        .received()
        .iter()
        .filter(|n| n.common_label("alertname") == Some("GatewayzProviderErrorSurge"))
        .map(Notification::describe)
        .collect();
    assert!(surges.is_empty(), "not inhibited: {surges:?}");

    let recorded = every_recording_rule_has_data(&prom).await;
    clock.mark(&format!("all {recorded} recording rules returned data"));

    assert_clients_get_answers(&replicas).await;

    // ---- the recovery --------------------------------------------------------------------
    for replica in &replicas {
        simulate(replica, json!({"outage": false})).await;
    }
    clock.mark(&format!("{PROVIDER} back on every replica"));

    for replica in &replicas {
        eventually(
            &format!(
                "{}: a half-open probe succeeds and the circuit closes",
                replica.name
            ),
            Duration::from_secs(30),
            async || {
                let closed = transitions(replica, "half_open", "closed").await;
                let health = provider_health(replica).await;
                if closed >= 1.0 && health["circuit_state"] == "closed" {
                    Ok(())
                } else {
                    Err(format!("closed {closed} time(s); {health}"))
                }
            },
        )
        .await;
    }
    clock.mark("circuits closed on every replica");

    eventually(
        "GatewayzProviderUnavailable resolves in Prometheus",
        Duration::from_secs(90),
        async || match prom
            .alert_state("GatewayzProviderUnavailable", PROVIDER)
            .await
        {
            None => Ok(()),
            Some(state) => Err(format!(
                "still {state}; unavailable share {:?}",
                value_of(&prom, "provider:gatewayz_provider_status_unavailable:ratio").await
            )),
        },
    )
    .await;
    clock.mark("GatewayzProviderUnavailable resolved");

    for replica in &replicas {
        // Each replica judges on its own window: one may still hold enough failed probes to
        // call the provider unavailable a little after the fleet-wide alert has resolved.
        eventually(
            &format!("{}: {PROVIDER} no longer unavailable", replica.name),
            Duration::from_secs(60),
            async || {
                let health = provider_health(replica).await;
                if health["status"] == "unavailable" {
                    Err(health.to_string())
                } else {
                    Ok(())
                }
            },
        )
        .await;
    }

    for receiver in ["/page", "/chat"] {
        eventually(
            &format!("Alertmanager tells {receiver} the outage is over"),
            Duration::from_secs(30),
            async || {
                if unavailable_notifications(&hooks, receiver, "resolved").is_empty() {
                    Err(describe_all(&hooks))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        let firing = unavailable_notifications(&hooks, receiver, "firing");
        assert_eq!(
            firing.len(),
            1,
            "{receiver}: one firing notification for the outage, not one per replica or a \
             repeat:\n{}",
            describe_all(&hooks)
        );
        let alerts = firing[0].alerts();
        assert_eq!(
            alerts.len(),
            1,
            "one alert for the fleet: {:?}",
            firing[0].body
        );
        let labels = &alerts[0]["labels"];
        assert_eq!(labels["provider"], PROVIDER);
        assert_eq!(labels["severity"], "critical");
        assert!(
            labels.get("instance").is_none() && labels.get("replica").is_none(),
            "the alert is about the fleet, not a replica: {labels}"
        );
    }
    clock.mark("Alertmanager sent the resolved notifications");

    // ---- every dashboard panel -----------------------------------------------------------
    let panels = check_every_panel(&prom, prometheus_started).await;
    assert!(
        panels.failures.is_empty(),
        "{} dashboard target(s) failed:\n{}",
        panels.failures.len(),
        panels.failures.join("\n")
    );
    clock.mark(&format!(
        "{} panel targets returned data ({} of them on a faster clock)",
        panels.checked, panels.faster_clock
    ));

    // Every shipped rule was loaded and none ever failed to evaluate.
    let loaded = prom.rules().await;
    let shipped: usize = rules::groups().iter().map(|g| g.rules.len()).sum();
    assert_eq!(loaded.len(), shipped, "rules loaded by Prometheus");
    for rule in &loaded {
        assert_eq!(rule["health"], "ok", "{rule}");
    }

    for replica in &mut replicas {
        replica.assert_running();
    }
    prometheus_server.assert_running();
    alertmanager.assert_running();
    clock.mark("done");
    eprintln!("notifications received:\n{}", describe_all(&hooks));
}

/// Writes the shipped rule files, durations scaled, where `prometheus.yml` looks for them.
fn write_scaled_rules(prometheus_dir: &Path, scale: TimeScale) {
    let rules_dir = prometheus_dir.join("rules");
    fs::create_dir_all(&rules_dir).unwrap();
    for file in rules::files() {
        fs::write(rules_dir.join(file.file), file.render_scaled(scale)).unwrap();
    }
}

/// `promtool check metrics` on every category endpoint (and `all`) of every replica.
async fn check_every_endpoint_with_promtool(replicas: &[Replica]) {
    let endpoints =
        std::iter::once("all").chain(Category::ALL.iter().map(|category| category.as_str()));
    for endpoint in endpoints {
        for replica in replicas {
            let url = format!("{}/prometheus/metrics/{endpoint}", replica.url);
            let (status, text) = get(&url, None).await;
            assert_eq!(status, 200, "{url}: {text}");
            assert!(text.contains("# TYPE "), "{url} has no metric: {text}");
            let complaints = gatewayz_testkit::promtool::check_metrics(&text);
            assert!(complaints.is_empty(), "{url}: {complaints}");
        }
    }
}

/// How a fleet-wide series combines the replicas' values.
#[derive(Debug, Clone, Copy)]
enum Combine {
    Sum,
    Average,
}

impl Combine {
    fn apply(self, values: &[f64]) -> f64 {
        let sum: f64 = values.iter().sum();
        match self {
            Combine::Sum => sum,
            Combine::Average => sum / values.len() as f64,
        }
    }
}

/// The recorded fleet-wide series equal the sum (or the average) of the replicas' own values,
/// computed at the instant the rule was evaluated.
async fn check_fleet_view(prom: &Prometheus, window: &str) {
    let replicas = prom
        .query(r#"count by (replica) (gatewayz_build_info{job="gatewayz"})"#)
        .await;
    assert_eq!(replicas.len(), 3, "replicas reporting: {replicas:?}");
    let only = format!(r#"{{provider="{PROVIDER}"}}"#);
    let requests = format!("rate(model_inference_requests_total{only}[{window}])");
    let checks = [
        (
            "job:http_requests:rate5m".to_owned(),
            format!(r#"sum by (instance) (rate(http_requests_total{{job="gatewayz"}}[{window}]))"#),
            Combine::Sum,
        ),
        (
            format!("provider:model_inference_requests:rate5m{only}"),
            format!("sum by (instance) ({requests})"),
            Combine::Sum,
        ),
        (
            format!("provider:gatewayz_provider_health_score:avg{only}"),
            format!("gatewayz_provider_health_score{only} >= 0"),
            Combine::Average,
        ),
    ];
    for (recorded, per_replica, combine) in checks {
        eventually(
            &format!("{recorded} equals its replicas' values combined ({combine:?})"),
            Duration::from_secs(30),
            async || {
                // A sample the rule wrote a few seconds ago: every scrape it could see has been
                // stored since, so the same query at the same instant sees the same data, or
                // one more sample (below).
                let stamp = prom
                    .query_at(&format!("timestamp({recorded})"), Some(now() - 3.0))
                    .await?;
                let [stamp] = stamp.as_slice() else {
                    return Err(format!("{recorded}: {stamp:?}"));
                };
                let at = Some(stamp.value);
                let fleet = prom.query_at(&recorded, at).await?;
                let [fleet] = fleet.as_slice() else {
                    return Err(format!("{recorded}: {fleet:?}"));
                };
                let parts = prom.query_at(&per_replica, at).await?;
                let values: Vec<f64> = parts.iter().map(|s| s.value).collect();
                let instances: BTreeSet<&str> = parts.iter().map(|s| s.label("instance")).collect();
                let combined = combine.apply(&values);
                // Not exact: a rule evaluation that runs while one replica's scrape is still
                // being stored sees that replica's previous sample, and as scrapes and
                // evaluations keep fixed phases it can do so at every evaluation (seen on a
                // clean clone: 4.7069 recorded against 4.6897). Over the rate window that moves
                // the fleet value by well under 1%; a real aggregation error (a replica left
                // out, an average for a sum) is off by a third or more. Prometheus 2.42
                // (Debian 12) has no `rule_query_offset` to wait for ingestion instead.
                let close = (fleet.value - combined).abs() <= 0.02 * combined.abs().max(1e-9);
                if instances.len() == 3 && values.iter().all(|v| *v > 0.0) && close {
                    Ok(())
                } else {
                    Err(format!(
                        "at {}: recorded {} but the replicas give {values:?} ({combined})",
                        stamp.value, fleet.value
                    ))
                }
            },
        )
        .await;
    }
}

/// Every recording rule's series returns data at some point while the provider is down (the
/// circuit-state rule has no sample while every circuit is closed, and the HTTP error ratio none
/// while no 5xx happened in the window).
async fn every_recording_rule_has_data(prom: &Prometheus) -> usize {
    let all = rules::recording_rules();
    let mut seen = BTreeSet::new();
    eventually(
        "every recording rule returns data",
        Duration::from_secs(30),
        async || {
            for rule in &all {
                if !seen.contains(&rule.record) {
                    let samples = prom.query(&rule.record).await;
                    if samples.iter().any(|s| s.value.is_finite()) {
                        seen.insert(rule.record.clone());
                    }
                }
            }
            let missing: Vec<&str> = all
                .iter()
                .map(|r| r.record.as_str())
                .filter(|r| !seen.contains(*r))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no data yet: {missing:?}"))
            }
        },
    )
    .await;
    all.len()
}

/// What [`check_every_panel`] found.
struct PanelReport {
    /// Targets run.
    checked: usize,
    /// Of which empty at the real durations and run again on a faster clock.
    faster_clock: usize,
    /// What failed, one entry each.
    failures: Vec<String>,
}

/// Runs every target of every dashboard panel, with the variables set to real values (read
/// through each variable's own `label_values` query) and to "All": range targets over the
/// whole test, instant ones now with `$__range` the whole test.
async fn check_every_panel(prom: &Prometheus, since: f64) -> PanelReport {
    let end = now();
    let range = format!("{}s", (end - since).ceil() as u64);
    // As Grafana sets them for a one-second scrape interval and a two-second step.
    let intervals = Substitution::default().intervals("4s", "2s", &range);
    let mut failures = Vec::new();
    let (mut checked, mut faster_clock) = (0, 0);
    for dashboard in dashboards::all() {
        let chosen = choose_variables(prom, &dashboard.variables).await;
        let mut selected = intervals.clone();
        for (name, value) in &chosen {
            selected = selected.with(name, &[value.as_str()]);
        }
        let described = format!("variables {chosen:?}");
        for (label, values) in [
            (described.as_str(), &selected),
            ("variables All", &intervals),
        ] {
            for panel in &dashboard.panels {
                for target in &panel.targets {
                    let expr = substitute(&target.expr, values).unwrap();
                    let result = if target.instant {
                        prom.query_at(&expr, Some(end)).await
                    } else {
                        prom.query_range(&expr, since, end, 2.0).await
                    };
                    checked += 1;
                    let what = format!(
                        "{} / {} [{}] ({label}): {expr}",
                        dashboard.title, panel.title, target.ref_id
                    );
                    match result {
                        Err(error) => failures.push(format!("{what}\n  error: {error}")),
                        Ok(series) if series.iter().any(|s| s.finite_points > 0) => {}
                        Ok(_) => {
                            let explained = EMPTY_ON_A_SHORT_HISTORY
                                .iter()
                                .find(|(title, _)| *title == panel.title);
                            match explained {
                                Some((_, reason)) => {
                                    faster_clock += 1;
                                    if let Err(why) =
                                        faster_clock_has_data(prom, &target.expr, values, end).await
                                    {
                                        failures.push(format!("{what}\n  {why} ({reason})"));
                                    }
                                }
                                None => failures.push(format!("{what}\n  no data")),
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} dashboard targets were run");
    PanelReport {
        checked,
        faster_clock,
        failures,
    }
}

/// The expression with its literal durations divided by 720 (a month-long view of a
/// few minutes), which must return data.
async fn faster_clock_has_data(
    prom: &Prometheus,
    expr: &str,
    values: &Substitution,
    at: f64,
) -> Result<(), String> {
    let scaled = substitute(&TimeScale::faster(720).expr(expr), values).unwrap();
    match prom.query_at(&scaled, Some(at)).await {
        Ok(series) if series.iter().any(|s| s.finite_points > 0) => Ok(()),
        Ok(_) => Err(format!("no data on a faster clock either: {scaled}")),
        Err(error) => Err(format!("{scaled}: {error}")),
    }
}

/// A real value for each query variable of a dashboard, read through its own `label_values`
/// query (chained variables see the values chosen before them); the taken-down provider and
/// its first model where offered.
async fn choose_variables(prom: &Prometheus, variables: &[Variable]) -> Vec<(String, String)> {
    let preferred = BTreeMap::from([
        ("provider", PROVIDER),
        ("model", MODELS[0]),
        ("route", "/v1/chat/completions"),
    ]);
    let mut chosen: Vec<(String, String)> = Vec::new();
    for variable in variables {
        let Variable::Query { name, query, .. } = variable else {
            continue;
        };
        let mut so_far = Substitution::default();
        for (n, v) in &chosen {
            so_far = so_far.with(n, &[v.as_str()]);
        }
        let query = substitute(query, &so_far).unwrap();
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{name}: not a label_values query: {query}"));
        let (selector, label) = inner.rsplit_once(',').unwrap();
        let values = prom.label_values(label.trim(), selector.trim()).await;
        let want = preferred.get(name).copied().unwrap_or_default();
        assert!(
            values.iter().any(|v| v == want),
            "variable {name} ({query}) offers {values:?}, not {want}"
        );
        chosen.push(((*name).to_owned(), want.to_owned()));
    }
    chosen
}

/// The single value of `expr` now, if it has exactly one sample.
async fn value_of(prom: &Prometheus, expr: &str) -> Option<f64> {
    match prom.query(expr).await.as_slice() {
        [one] => Some(one.value),
        _ => None,
    }
}

/// Changes the simulated provider on one replica through its admin endpoint.
async fn simulate(replica: &Replica, settings: Value) {
    let (status, body) = post(
        &format!("{}/admin/simulator/{PROVIDER}", replica.url),
        ADMIN_KEY,
        &settings,
    )
    .await;
    assert_eq!(status, 200, "{}: {body}", replica.name);
}

/// Completions for the provider's models, plain and streamed, on every replica: all answered.
async fn assert_clients_get_answers(replicas: &[Replica]) {
    for replica in replicas {
        for model in MODELS {
            for stream in [false, true] {
                let (status, body) = post(
                    &format!("{}/v1/chat/completions", replica.url),
                    &replica.demo_key,
                    &json!({"model": model, "stream": stream,
                        "messages": [{"role": "user", "content": "Are you there?"}]}),
                )
                .await;
                assert_eq!(
                    status, 200,
                    "{} {model} stream={stream}: {body}",
                    replica.name
                );
                if stream {
                    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
                } else {
                    let reply: Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(reply["object"], "chat.completion", "{body}");
                }
            }
        }
    }
}

/// The provider's entry in a replica's `/health/providers`.
async fn provider_health(replica: &Replica) -> Value {
    let (status, body) = get(&format!("{}/health/providers", replica.url), None).await;
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    health["providers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["provider"] == PROVIDER)
        .cloned()
        .unwrap_or_else(|| panic!("{} does not report {PROVIDER}: {body}", replica.name))
}

/// How many times the provider's circuit went `from` → `to` on a replica, from its own metrics.
async fn transitions(replica: &Replica, from: &str, to: &str) -> f64 {
    let url = format!("{}/prometheus/metrics/providers", replica.url);
    let (status, text) = get(&url, None).await;
    assert_eq!(status, 200, "{url}: {text}");
    let metrics = gatewayz_testkit::exposition::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    metrics
        .samples()
        .filter(|s| {
            s.name == "gatewayz_circuit_breaker_transitions_total"
                && s.label("provider") == Some(PROVIDER)
                && s.label("from") == Some(from)
                && s.label("to") == Some(to)
        })
        .map(|s| s.value)
        .sum()
}

/// The notifications to `receiver` about the provider being unavailable, of group `status`.
fn unavailable_notifications(hooks: &Webhooks, receiver: &str, status: &str) -> Vec<Notification> {
    hooks
        .received()
        .into_iter()
        .filter(|n| {
            n.path == receiver
                && n.status() == status
                && n.common_label("alertname") == Some("GatewayzProviderUnavailable")
                && n.common_label("provider") == Some(PROVIDER)
        })
        .collect()
}

/// Every notification received so far, one line each.
fn describe_all(hooks: &Webhooks) -> String {
    let lines: Vec<String> = hooks
        .received()
        .iter()
        .map(Notification::describe)
        .collect();
    if lines.is_empty() {
        "no notification received".to_owned()
    } else {
        lines.join("\n")
    }
}
