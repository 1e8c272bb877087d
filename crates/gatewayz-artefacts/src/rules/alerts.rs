//! Alerts: expressions, thresholds, runbooks and the promtool cases of each.
//!
//! Every alert is built on guarded recording rules or guarded expressions, so no traffic means
//! no sample, and no sample means no alert (never a NaN one). Every alert selects the
//! deployment and keeps its labels, so Alertmanager tells deployments apart. The thresholds and
//! `for` durations come from the configuration, and so do the promtool cases: each firing case
//! sits above its threshold, each quiet case below, each evaluation time after its `for`.

use gatewayz_catalogue::{
    BUILD_INFO, CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRANSITIONS, COST_USD, FAILOVERS,
    HTTP_REQUESTS, LABEL_OVERFLOW, METRIC_CONFLICTS, MODEL_INFERENCE_REQUESTS,
    PROVIDER_HEALTH_SCORE, PROVIDER_RESPONSE_TIME, REQUESTS_REFUSED, TIME_PER_OUTPUT_TOKEN,
    TOKENS_USED,
};

use super::{
    AlertRule, AlertTest, Case, Expected, InputSeries, Inputs, Rule, RuleGroup, Severity, Step,
    humanize::{humanize, humanize_percentage},
    recording,
    samples::Samples,
    slo,
};
use crate::{
    Deployment, Duration,
    config::{DEGRADED_SCORES, FIRING_SHARES, PAGE, QUIET_SHARES},
    dashboards::{self, Board},
    expr::Scope,
    runbooks,
};

const PROVIDER: &str = "{{ $labels.provider }}";
const PERCENT: &str = "{{ $value | humanizePercentage }}";

/// The shares of attempts that fail over in the storm alert's firing case: the first one above
/// the threshold.
const FAILOVER_SHARES: [f64; 5] = [0.2, 0.5, 0.75, 0.9, 1.0];

/// `0.25` as `25%`, for descriptions.
fn percent(ratio: f64) -> String {
    format!("{}%", (ratio * 10_000.0).round() / 100.0)
}

/// A number for promtool's input notation and for text: rounded to a millionth, shortest form.
fn num(value: f64) -> String {
    let rounded = (value * 1e6).round() / 1e6;
    format!("{rounded}")
}

/// Whole minutes of an alert's `for` (the configuration refuses anything else).
fn minutes(duration: &Duration) -> u64 {
    (duration.millis() / 60_000).max(1)
}

/// `n` minutes as promtool writes a time.
fn at(n: u64) -> String {
    format!("{n}m")
}

/// A `for` in words, for the runbooks: `2 minutes`, `1 hour`.
fn in_words(duration: &Duration) -> String {
    let m = minutes(duration);
    let (n, unit) = if m.is_multiple_of(60) {
        (m / 60, "hour")
    } else {
        (m, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The smallest "nice" amount (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × a power of ten) at
/// least 5 % above `value`: a firing case that reads well and renders exactly.
fn nice_above(value: f64) -> f64 {
    let target = value * 1.05;
    let mut power = 10f64.powi(target.log10().floor() as i32 - 1);
    loop {
        for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0] {
            let candidate = m * power;
            if candidate > target {
                return candidate;
            }
        }
        power *= 10.0;
    }
}

/// For a latency threshold, the bucket bounds of the promtool cases: `(quiet, (low, high))`.
/// Every call in the bucket ending at `quiet` (≤ the threshold) keeps p95 at or below it; every
/// call in `(low, high]` with `low` ≥ the threshold puts p95 above it. `None` when the
/// histogram's buckets cannot express one of the two.
pub(crate) fn latency_spike_bucket(threshold: f64) -> Option<(f64, (f64, f64))> {
    let buckets = TIME_PER_OUTPUT_TOKEN.buckets;
    let quiet = buckets.iter().copied().rfind(|b| *b <= threshold)?;
    let firing = buckets
        .windows(2)
        .find(|pair| pair[0] >= threshold)
        .map(|pair| (pair[0], pair[1]))?;
    Some((quiet, firing))
}

/// What every alert of one deployment shares.
struct Context<'a> {
    deployment: &'a Deployment,
    scope: Scope,
    inputs: Inputs,
}

impl Context<'_> {
    fn fires(
        &self,
        name: String,
        series: Vec<InputSeries>,
        eval_time: u64,
        labels: &[(&str, &str)],
        value: String,
    ) -> AlertTest {
        let mut all = self.inputs.labels();
        all.extend(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        AlertTest {
            case: Case::Fires,
            name,
            step: Step::Minute,
            series,
            eval_time: at(eval_time),
            expected: vec![Expected {
                labels: all,
                value,
                severity: None,
            }],
        }
    }

    fn quiet(
        &self,
        case: Case,
        name: String,
        series: Vec<InputSeries>,
        eval_time: u64,
    ) -> AlertTest {
        AlertTest {
            case,
            name,
            step: Step::Minute,
            series,
            eval_time: at(eval_time),
            expected: Vec::new(),
        }
    }

    fn alert(&self, spec: Spec) -> Rule {
        let runbook = runbooks::render(spec.alert, &spec.runbook);
        let pattern = &self.deployment.alerts.runbook_url;
        Rule::Alert(Box::new(AlertRule {
            alert: spec.alert,
            config_key: spec.config_key,
            expr: spec.expr,
            for_: spec.for_,
            keep_firing_for: spec.keep_firing_for,
            severity: spec.severity,
            labels: spec.labels,
            summary: spec.summary,
            description: spec.description,
            runbook_url: pattern
                .replace("{alert}", spec.alert)
                .replace("{anchor}", &spec.alert.to_lowercase()),
            runbook,
            thresholds: spec.thresholds,
            dashboard: dashboards::uid(self.deployment, spec.dashboard),
            tests: spec.tests,
        }))
    }

    /// Inference counters of (`provider`, gpt-4o-mini) on `replica`.
    fn attempts_on(
        &self,
        replica: usize,
        provider: &str,
        success: &str,
        error: &str,
    ) -> Vec<InputSeries> {
        [("success", success), ("error", error)]
            .into_iter()
            .map(|(status, values)| {
                self.inputs.metric(
                    &MODEL_INFERENCE_REQUESTS,
                    replica,
                    &[
                        ("provider", provider),
                        ("model", "gpt-4o-mini"),
                        ("status", status),
                    ],
                    values,
                )
            })
            .collect()
    }

    /// Inference counters of (openrouter, gpt-4o-mini) on replica 0.
    fn attempts(&self, success: &str, error: &str) -> Vec<InputSeries> {
        self.attempts_on(0, "openrouter", success, error)
    }
}

/// An alert before the context fills in its runbook, URL and dashboard.
struct Spec {
    alert: &'static str,
    config_key: &'static str,
    expr: String,
    for_: Duration,
    keep_firing_for: Option<Duration>,
    severity: Severity,
    labels: Vec<(String, String)>,
    summary: String,
    description: String,
    runbook: Vec<(&'static str, String)>,
    thresholds: Vec<(&'static str, String)>,
    dashboard: Board,
    tests: Vec<AlertTest>,
}

pub(super) fn groups(deployment: &Deployment) -> Vec<RuleGroup> {
    let cx = Context {
        deployment,
        scope: Scope::rules(&deployment.selector),
        inputs: Inputs::new(&deployment.selector),
    };
    let group = |name: &'static str, rules: Vec<Rule>| RuleGroup {
        name,
        interval: None,
        rules,
    };
    let mut cost = vec![
        cx.alert(cost_per_hour(&cx)),
        cx.alert(spend_above_last_week(&cx)),
    ];
    if let Some(budget) = deployment.cost.monthly_budget_usd {
        cost.push(cx.alert(spend_above_budget_pace(&cx, budget)));
    }
    vec![
        group(
            "gatewayz-providers-alerts",
            vec![
                cx.alert(provider_unavailable(&cx, Severity::Critical)),
                cx.alert(provider_unavailable(&cx, Severity::Warning)),
                cx.alert(health_degraded(&cx)),
                cx.alert(error_surge(&cx)),
                cx.alert(latency_spike(&cx)),
                cx.alert(circuit_open_too_long(&cx)),
                cx.alert(circuit_flapping(&cx)),
                cx.alert(failover_storm(&cx)),
            ],
        ),
        group(
            "gatewayz-traffic-alerts",
            vec![
                cx.alert(traffic_stopped(&cx)),
                cx.alert(requests_refused_surge(&cx)),
            ],
        ),
        group("gatewayz-cost-alerts", cost),
        group(
            "gatewayz-monitoring-alerts",
            vec![
                cx.alert(target_down(&cx)),
                cx.alert(metrics_absent(&cx)),
                cx.alert(instrumentation_loss(&cx, &LABEL_OVERFLOW)),
                cx.alert(instrumentation_loss(&cx, &METRIC_CONFLICTS)),
                cx.alert(watchdog(&cx)),
            ],
        ),
    ]
}

/// `GatewayzProviderUnavailable`, twice: a page while clients feel it (a model the provider
/// served in the last hour burns its availability budget at the page rate over the short
/// window), a warning while failover hides it. Both hold `keep_firing_for`, so a flapping
/// provider is one incident.
fn provider_unavailable(cx: &Context, severity: Severity) -> Spec {
    let config = &cx.deployment.alerts.provider_unavailable;
    let share = config.replica_share;
    let eval = minutes(&config.for_) + 8;
    let steps = eval + 5;
    let s = &cx.scope;
    let status = |replica: usize, current: &str| cx.inputs.provider_status(replica, current, steps);
    // The fewest replicas of which one is below the share.
    let replicas = (1.0 / share).floor() as usize + 1;
    let fast = PAGE[0];
    let felt = format!(
        "(\n  {} > 0\n  and on ({}) {} > {}\n)",
        s.series(recording::PROVIDER_MODEL_ATTEMPTS_HOUR, "", ""),
        s.by("model"),
        s.series(
            &slo::names::burn(slo::Kind::ModelAvailability.level(), fast.short),
            "",
            ""
        ),
        fast.factor
    );
    let unavailable = format!(
        "{} >= {share}",
        s.series(recording::PROVIDER_UNAVAILABLE, "", "")
    );
    let (join, how) = match severity {
        Severity::Critical => ("and", "clients feel it"),
        _ => ("unless", "failover hides it"),
    };
    // Clients of gpt-4o-mini, served by openrouter, see `bad` of their 60 requests a minute
    // fail on each replica; openrouter made attempts for it.
    let clients = |bad: f64| -> Vec<InputSeries> {
        let model = &slo::objectives(cx.deployment)[2];
        (0..2)
            .flat_map(|replica| {
                let mut series = slo::events(
                    &cx.inputs,
                    model,
                    replica,
                    &Samples::steady(steps as usize, 60.0 - bad),
                    &Samples::steady(steps as usize, bad),
                );
                series.extend(cx.attempts_on(
                    replica,
                    "openrouter",
                    &format!("0+{}x{steps}", num(60.0 - bad)),
                    &format!("0+{}x{steps}", num(bad)),
                ));
                series
            })
            .collect()
    };
    let both_unavailable = [status(0, "unavailable"), status(1, "unavailable")].concat();
    let labels = [("provider", "openrouter")];
    let tests = match severity {
        Severity::Critical => vec![
            cx.fires(
                "both replicas judge it unavailable and every request for its model fails"
                    .to_owned(),
                [both_unavailable.clone(), clients(60.0)].concat(),
                eval,
                &labels,
                humanize_percentage(1.0),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no replica has enough traffic to judge (status unknown)".to_owned(),
                [status(0, "unknown"), status(1, "unknown"), clients(0.0)].concat(),
                eval,
            ),
            AlertTest {
                expected: vec![Expected {
                    labels: cx
                        .inputs
                        .labels()
                        .into_iter()
                        .chain([("provider".to_owned(), "openrouter".to_owned())])
                        .collect(),
                    value: humanize_percentage(1.0),
                    severity: Some(Severity::Warning),
                }],
                ..cx.quiet(
                    Case::BelowThreshold,
                    "both replicas judge it unavailable but failover answers every client: \
                     the warning, not the page"
                        .to_owned(),
                    [both_unavailable, clients(0.0)].concat(),
                    eval,
                )
            },
        ],
        _ => vec![
            cx.fires(
                "both replicas judge it unavailable, clients are answered".to_owned(),
                [both_unavailable, clients(0.0)].concat(),
                eval,
                &labels,
                humanize_percentage(1.0),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no replica has enough traffic to judge (status unknown)".to_owned(),
                [status(0, "unknown"), status(1, "unknown")].concat(),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("one replica of {replicas} judges it unavailable"),
                (0..replicas)
                    .flat_map(|r| status(r, if r == 0 { "unavailable" } else { "healthy" }))
                    .collect(),
                eval,
            ),
        ],
    };
    Spec {
        alert: "GatewayzProviderUnavailable",
        config_key: "provider_unavailable",
        expr: format!("{unavailable}\n{join} on ({}) {felt}", s.by("provider")),
        for_: config.for_.clone(),
        keep_firing_for: Some(config.keep_firing_for.clone()),
        labels: Vec::new(),
        severity,
        summary: format!("Provider {PROVIDER} is unavailable and {how}"),
        description: match severity {
            Severity::Critical => format!(
                "{PERCENT} of the gateway replicas with enough traffic to judge {PROVIDER} \
                 report it unavailable (circuit open or half-open, or health score below the \
                 unavailable threshold), and its clients feel it: a model it served in the last \
                 hour is failing its clients fast enough to burn that model's availability \
                 budget {}× over {}. Held for {} after it looks available again.",
                fast.factor,
                fast.short,
                in_words(&config.keep_firing_for)
            ),
            _ => format!(
                "{PERCENT} of the gateway replicas with enough traffic to judge {PROVIDER} \
                 report it unavailable (circuit open or half-open, or health score below the \
                 unavailable threshold). Failover answers its clients: no model it serves is \
                 failing them. Held for {} after it looks available again.",
                in_words(&config.keep_firing_for)
            ),
        },
        runbook: vec![
            ("replica_share", percent(share)),
            ("for", in_words(&config.for_)),
            ("keep_firing_for", in_words(&config.keep_firing_for)),
            ("factor", format!("{}", fast.factor)),
            ("short", fast.short.to_owned()),
        ],
        thresholds: vec![(
            "share of judging replicas calling a provider unavailable",
            format!(
                "≥ {share}; page while a model it serves burns > {}× over {}",
                fast.factor, fast.short
            ),
        )],
        dashboard: Board::ProviderHealth,
        tests,
    }
}

fn health_degraded(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.provider_health_degraded;
    let threshold = config.score;
    let eval = minutes(&config.for_) + 10;
    let steps = eval + 10;
    let score = |replica: usize, value: f64| {
        cx.inputs.metric(
            &PROVIDER_HEALTH_SCORE,
            replica,
            &[("provider", "openrouter")],
            format!("{}x{steps}", num(value)),
        )
    };
    let calls = |replica: usize, per_minute: f64| {
        cx.inputs.input(
            &format!("{}_count", PROVIDER_RESPONSE_TIME.name),
            replica,
            &[("provider", "openrouter")],
            format!("0+{}x{steps}", num(per_minute)),
        )
    };
    let low = DEGRADED_SCORES
        .into_iter()
        .find(|s| *s < threshold)
        .unwrap_or(0.0);
    let high = (threshold + 0.05).min(1.0);
    Spec {
        alert: "GatewayzProviderHealthDegraded",
        config_key: "provider_health_degraded",
        expr: format!(
            "{} < {threshold}",
            cx.scope.series(recording::PROVIDER_SCORE, "", "")
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: format!("Provider {PROVIDER} health is degraded"),
        description: format!(
            "The health score of {PROVIDER} across the replicas that can judge it, each \
             weighted by the attempts it made, is {PERCENT}, below {} for {}. Failover ranks it \
             lower; requests still reach it.",
            percent(threshold),
            in_words(&config.for_)
        ),
        runbook: vec![("score", num(threshold)), ("for", in_words(&config.for_))],
        thresholds: vec![("degraded health score", format!("< {threshold}"))],
        dashboard: Board::ProviderHealth,
        tests: vec![
            cx.fires(
                format!(
                    "score {} on both replicas, 60 calls a minute each",
                    num(low)
                ),
                vec![score(0, low), calls(0, 60.0), score(1, low), calls(1, 60.0)],
                eval,
                &[("provider", "openrouter")],
                humanize_percentage(low),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no replica has a score (too few calls to judge)".to_owned(),
                vec![calls(0, 0.0), calls(1, 0.0)],
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!(
                    "score {} on a replica with 3 calls a minute, {} on one with 597: weighted, \
                     not averaged",
                    num(low),
                    num(high)
                ),
                vec![
                    score(0, low),
                    calls(0, 3.0),
                    score(1, high),
                    calls(1, 597.0),
                ],
                eval,
            ),
        ],
    }
}

fn error_surge(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.provider_error_surge;
    let (threshold, min_rate) = (config.ratio, config.min_requests_per_second);
    let eval = minutes(&config.for_) + 10;
    let steps = eval + 15;
    // Attempts a minute: at least twice the minimum rate.
    let total = (min_rate * 120.0).ceil().max(12.0);
    let split = |share: f64| {
        let errors = total * share;
        (
            format!("0+{}x{steps}", num(total - errors)),
            format!("0+{}x{steps}", num(errors)),
        )
    };
    let firing = FIRING_SHARES
        .into_iter()
        .find(|s| *s > threshold)
        .unwrap_or(1.0);
    let quiet = QUIET_SHARES
        .into_iter()
        .find(|s| *s < threshold)
        .unwrap_or(0.0);
    let trickle = (min_rate * 30.0).min(1.0);
    let (fire_ok, fire_err) = split(firing);
    let (quiet_ok, quiet_err) = split(quiet);
    Spec {
        alert: "GatewayzProviderErrorSurge",
        config_key: "provider_error_surge",
        expr: format!(
            "{} > {threshold}\n  and {} >= {min_rate}",
            cx.scope.series(recording::PROVIDER_ERROR_RATIO, "", ""),
            cx.scope.series(recording::PROVIDER_REQUESTS, "", "")
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: format!("Provider {PROVIDER} fails {PERCENT} of inference calls"),
        description: format!(
            "{PERCENT} of inference attempts to {PROVIDER} failed over the last 5 minutes, across \
             every replica (threshold {}, judged from {min_rate} attempts per second). \
             Failover hides most failures from clients at the cost of latency.",
            percent(threshold)
        ),
        runbook: vec![
            ("ratio", percent(threshold)),
            ("min_requests_per_second", num(min_rate)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "error ratio of inference attempts",
            format!("> {threshold} (from {min_rate} attempts/s)"),
        )],
        dashboard: Board::ProviderHealth,
        tests: vec![
            cx.fires(
                format!(
                    "{} of the attempts fail at {} a minute",
                    percent(firing),
                    num(total)
                ),
                cx.attempts(&fire_ok, &fire_err),
                eval,
                &[("provider", "openrouter")],
                humanize_percentage(firing),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no attempts at all".to_owned(),
                cx.attempts(&format!("0x{steps}"), &format!("0x{steps}")),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("{} of the attempts fail", percent(quiet)),
                cx.attempts(&quiet_ok, &quiet_err),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!(
                    "every attempt fails but there are only {} a minute",
                    num(trickle)
                ),
                cx.attempts(
                    &format!("0x{steps}"),
                    &format!("0+{}x{steps}", num(trickle)),
                ),
                eval,
            ),
        ],
    }
}

fn latency_spike(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.provider_latency_spike;
    let threshold = config.p95_seconds_per_token;
    let eval = minutes(&config.for_) + 10;
    let steps = eval + 10;
    // The configuration refuses thresholds outside the buckets.
    let (quiet, (low, high)) = latency_spike_bucket(threshold).unwrap_or((0.01, (0.25, 0.5)));
    let latency = |bucket: f64, per_minute: f64| {
        cx.inputs.histogram(
            &TIME_PER_OUTPUT_TOKEN,
            0,
            &[("provider", "openrouter"), ("model", "gpt-4o-mini")],
            bucket,
            per_minute,
            steps,
        )
    };
    // histogram_quantile interpolates linearly within the bucket holding every stream.
    let p95 = low + (high - low) * 0.95;
    Spec {
        alert: "GatewayzProviderLatencySpike",
        config_key: "provider_latency_spike",
        expr: format!(
            "{} > {threshold}",
            cx.scope.series(recording::PROVIDER_TPOT_P95, "", "")
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: format!(
            "Provider {PROVIDER} generates slowly: p95 {{{{ $value | humanize }}}}s per token"
        ),
        description: format!(
            "The 95th percentile time per output token of {PROVIDER}'s streams (after the \
             first token), from the histogram summed across replicas over 5 minutes, is \
             {{{{ $value | humanize }}}}s: above {threshold}s for {}. Per token, so long answers \
             do not trip it; slow first tokens show in the latency SLO.",
            in_words(&config.for_)
        ),
        runbook: vec![
            ("p95_seconds_per_token", num(threshold)),
            ("tokens_per_second", num(1.0 / threshold)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![("p95 time per output token", format!("> {threshold} s"))],
        dashboard: Board::ModelPerformance,
        tests: vec![
            cx.fires(
                format!("every stream takes between {low} and {high} s per token"),
                latency(high, 10.0),
                eval,
                &[("provider", "openrouter")],
                humanize(p95),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no streams".to_owned(),
                latency(high, 0.0),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("every stream takes at most {quiet} s per token"),
                latency(quiet, 10.0),
                eval,
            ),
        ],
    }
}

fn circuit_open_too_long(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.circuit_open_too_long;
    let for_minutes = minutes(&config.for_);
    let eval = for_minutes + 10;
    let steps = eval + 10;
    let alternate = |first: &str, second: &str| {
        (0..=steps)
            .map(|i| if i % 2 == 0 { first } else { second })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let circuit = |closed: &str, open: &str, half_open: &str| -> Vec<InputSeries> {
        [("closed", closed), ("open", open), ("half_open", half_open)]
            .into_iter()
            .map(|(state, values)| {
                cx.inputs.metric(
                    &CIRCUIT_BREAKER_STATE,
                    0,
                    &[("provider", "openrouter"), ("state", state)],
                    values,
                )
            })
            .collect()
    };
    // Open at `brief` evaluations, which span one minute less than the `for`.
    let brief = for_minutes.min(6);
    let rest = steps - brief;
    Spec {
        alert: "GatewayzCircuitOpenTooLong",
        config_key: "circuit_open_too_long",
        expr: format!(
            "{} > 0",
            cx.scope.series(recording::PROVIDER_NOT_CLOSED, "", "")
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: format!(
            "Circuit breaker for {PROVIDER} has not closed for {}",
            in_words(&config.for_)
        ),
        description: format!(
            "{{{{ $value }}}} replica(s) have kept the circuit breaker of {PROVIDER} open or \
             half-open for {}: the provider keeps failing its half-open probes and gets no \
             regular traffic from them.",
            in_words(&config.for_)
        ),
        runbook: vec![("for", in_words(&config.for_))],
        thresholds: vec![],
        dashboard: Board::ProviderHealth,
        tests: vec![
            cx.fires(
                format!("open and half-open in turn, never closed, for {steps} minutes"),
                circuit(
                    &format!("0x{steps}"),
                    &alternate("1", "0"),
                    &alternate("0", "1"),
                ),
                eval,
                &[("provider", "openrouter")],
                "1".to_owned(),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "closed, as without any traffic".to_owned(),
                circuit(
                    &format!("1x{steps}"),
                    &format!("0x{steps}"),
                    &format!("0x{steps}"),
                ),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("open for {brief} minutes, then closed"),
                circuit(
                    &format!("0x{} 1x{}", brief - 1, rest),
                    &format!("1x{} 0x{}", brief - 1, rest),
                    &format!("0x{steps}"),
                ),
                brief + 2,
            ),
        ],
    }
}

fn failover_storm(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.failover_storm;
    let (threshold, min_rate) = (config.share, config.min_failovers_per_second);
    let eval = minutes(&config.for_) + 10;
    let steps = eval + 20;
    let s = &cx.scope;
    let failovers_rate = s.agg("sum", "", &s.series(recording::PROVIDER_FAILOVERS, "", ""));
    let firing = FAILOVER_SHARES
        .into_iter()
        .find(|f| *f > threshold)
        .unwrap_or(1.0);
    let quiet = QUIET_SHARES
        .into_iter()
        .find(|f| *f < threshold)
        .unwrap_or(0.0);
    // Attempts a minute, so that the firing share is at least twice the minimum rate.
    let total = (min_rate * 120.0 / firing).ceil().max(30.0);
    let failovers = |values: String| {
        cx.inputs.metric(
            &FAILOVERS,
            0,
            &[("provider", "openrouter"), ("reason", "timeout")],
            values,
        )
    };
    let storm = |share: f64, total: f64| {
        let moved = total * share;
        [
            cx.attempts(
                &format!("0+{}x{steps}", num(total - moved)),
                &format!("0+{}x{steps}", num(moved)),
            ),
            vec![failovers(format!("0+{}x{steps}", num(moved)))],
        ]
        .concat()
    };
    Spec {
        alert: "GatewayzFailoverStorm",
        config_key: "failover_storm",
        expr: format!(
            "(\n  {failovers_rate}\n    / ({} > 0)\n) > {threshold}\nand {failovers_rate} > {min_rate}",
            s.agg("sum", "", &s.series(recording::PROVIDER_REQUESTS, "", ""))
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: format!("{PERCENT} of upstream attempts fail over"),
        description: format!(
            "Across the deployment, {PERCENT} of upstream inference attempts ended with the \
             request moving on to another provider, for {} (threshold {}, judged from \
             {min_rate} failovers per second). Requests are slower and the remaining providers \
             carry extra load.",
            in_words(&config.for_),
            percent(threshold)
        ),
        runbook: vec![
            ("share", percent(threshold)),
            ("min_failovers_per_second", num(min_rate)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "share of attempts failing over",
            format!("> {threshold} (from {min_rate} failovers/s)"),
        )],
        dashboard: Board::ProviderHealth,
        tests: vec![
            cx.fires(
                format!(
                    "{} of the attempts fail over, {} a minute",
                    percent(firing),
                    num(total * firing)
                ),
                storm(firing, total),
                eval,
                &[],
                humanize_percentage(firing),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no attempts, no failovers".to_owned(),
                storm(0.0, 0.0),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("{} of the attempts fail over", percent(quiet)),
                storm(quiet, total),
                eval,
            ),
        ],
    }
}

fn cost_per_hour(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.cost_per_hour_high;
    let budget = config.usd_per_hour;
    let eval = 60 + minutes(&config.for_) + 5;
    let steps = eval + 30;
    let s = &cx.scope;
    let firing = nice_above(budget);
    let quiet = budget * 0.9;
    let cost = |replica: usize, per_minute: f64| {
        cx.inputs.metric(
            &COST_USD,
            replica,
            &[("provider", "openrouter"), ("model", "gpt-4o-mini")],
            if per_minute > 0.0 {
                format!("0+{}x{steps}", num(per_minute))
            } else {
                format!("0x{steps}")
            },
        )
    };
    // Two replicas, each spending half of the hourly amount.
    let per_replica = |per_hour: f64| per_hour / 120.0;
    Spec {
        alert: "GatewayzCostPerHourHigh",
        config_key: "cost_per_hour_high",
        expr: format!(
            "{} > {budget}",
            s.agg("sum", "", &s.series(recording::PROVIDER_COST_HOUR, "", ""))
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: "Upstream spend is ${{ $value | humanize }} in the last hour".to_owned(),
        description: format!(
            "The deployment spent ${{{{ $value | humanize }}}} on providers in the trailing \
             hour, above the ${budget} per hour threshold ({} increase over 1h, summed across \
             providers and replicas).",
            COST_USD.name
        ),
        runbook: vec![
            ("usd_per_hour", num(budget)),
            ("usd_per_minute", format!("{:.2}", budget / 60.0)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "upstream spend, trailing hour",
            format!("> ${budget} per hour"),
        )],
        dashboard: Board::CostAnalysis,
        tests: vec![
            cx.fires(
                format!(
                    "${} a minute on each of two replicas is ${} an hour",
                    num(per_replica(firing)),
                    num(firing)
                ),
                vec![cost(0, per_replica(firing)), cost(1, per_replica(firing))],
                eval,
                &[],
                humanize(firing),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no spend".to_owned(),
                vec![cost(0, 0.0), cost(1, 0.0)],
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!(
                    "${} a minute on each of two replicas is ${} an hour",
                    num(per_replica(quiet)),
                    num(quiet)
                ),
                vec![cost(0, per_replica(quiet)), cost(1, per_replica(quiet))],
                eval,
            ),
        ],
    }
}

fn circuit_flapping(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.circuit_flapping;
    let threshold = config.reopenings_per_hour;
    let s = &cx.scope;
    // Reopened every ten minutes (at 1, 11, 21, ...), closed for the minute before each: the
    // circuit that `GatewayzCircuitOpenTooLong` never sees.
    let eval = 10 * (threshold.floor() as u64 + 1) + minutes(&config.for_) + 2;
    let steps = eval as usize + 5;
    // The reopenings in the hour before the evaluation: `increase` over `[1h]`.
    let reopenings = (1..=eval).filter(|m| m % 10 == 1 && m + 60 > eval).count();
    let transitions = |from: &str, to: &str, at: &dyn Fn(usize) -> bool| {
        cx.inputs.metric(
            &CIRCUIT_BREAKER_TRANSITIONS,
            0,
            &[("provider", "openrouter"), ("from", from), ("to", to)],
            Samples::counter(steps, |m| if at(m) { 1.0 } else { 0.0 }).notation(),
        )
    };
    // Opens at minute 1, 11, 21, ...; probes fail at 3, 5, 7; the last probe (9) closes it.
    let flapping = vec![
        transitions("closed", "open", &|m| m % 10 == 1),
        transitions("open", "half_open", &|m| m % 10 != 1 && m % 2 == 0 && m > 0),
        transitions("half_open", "open", &|m| matches!(m % 10, 3 | 5 | 7)),
        transitions("half_open", "closed", &|m| m % 10 == 9),
    ];
    // One long outage: opened once, its probes failing for the whole hour.
    let outage = vec![
        transitions("closed", "open", &|m| m == 1),
        transitions("open", "half_open", &|m| m > 1 && m % 2 == 0),
        transitions("half_open", "open", &|m| m > 1 && m % 2 == 1),
        transitions("half_open", "closed", &|_| false),
    ];
    let quiet: Vec<InputSeries> = ["closed", "open", "half_open"]
        .iter()
        .flat_map(|from| {
            ["open", "half_open", "closed"]
                .iter()
                .filter(move |to| *to != from)
                .map(move |to| transitions(from, to, &|_| false))
        })
        .collect();
    Spec {
        alert: "GatewayzCircuitFlapping",
        config_key: "circuit_flapping",
        expr: format!(
            "{} >= {threshold}",
            s.agg(
                "max",
                "provider",
                &format!(
                    "increase({}[1h])",
                    s.sel(&CIRCUIT_BREAKER_TRANSITIONS, r#"from="closed", to="open""#)
                )
            )
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: format!(
            "Circuit breaker for {PROVIDER} reopened {{{{ $value | humanize }}}} times in an hour"
        ),
        description: format!(
            "On at least one replica the circuit breaker of {PROVIDER} went from closed to open \
             {{{{ $value | humanize }}}} times in the last hour (threshold {threshold}): the \
             provider fails, recovers long enough for a probe to close the circuit, and fails \
             again. Every reopening costs the requests that met the failures before it."
        ),
        runbook: vec![
            ("reopenings_per_hour", num(threshold)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "closed → open transitions on one replica in 1 h",
            format!("≥ {threshold}"),
        )],
        dashboard: Board::ProviderHealth,
        tests: vec![
            cx.fires(
                format!("closed for one minute in ten, {reopenings} reopenings"),
                flapping,
                eval,
                &[("provider", "openrouter")],
                humanize(reopenings as f64),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no transition at all".to_owned(),
                quiet,
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                "one long outage: opened once, every probe failing".to_owned(),
                outage,
                eval,
            ),
        ],
    }
}

/// The client API's requests, the selector of `slo.availability.routes`.
fn api(cx: &Context) -> String {
    format!("route=~\"{}\"", cx.deployment.slo.availability.routes)
}

/// Client requests on `replica`, answered 2xx.
fn requests(cx: &Context, replica: usize, values: &Samples) -> InputSeries {
    cx.inputs.metric(
        &HTTP_REQUESTS,
        replica,
        &[
            ("method", "POST"),
            ("route", "/v1/chat/completions"),
            ("status_class", "2xx"),
        ],
        values.notation(),
    )
}

fn traffic_stopped(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.traffic_stopped;
    let min = config.min_requests_per_hour;
    let s = &cx.scope;
    let for_minutes = minutes(&config.for_);
    // An hour of traffic, then none: the five-minute window is empty from 5 minutes after
    // the last request, the alert fires `for` later.
    let stop = 60;
    let eval = stop + 5 + for_minutes + 1;
    let steps = eval as usize + 5;
    let per_minute = (min / 30.0).ceil().max(1.0);
    let traffic = |until: usize, resume: usize| {
        Samples::counter(steps, move |m| {
            if m <= until || m > resume {
                per_minute
            } else {
                0.0
            }
        })
    };
    let increase = |window: &str| {
        s.agg(
            "sum",
            "",
            &format!("increase({}[{window}])", s.sel(&HTTP_REQUESTS, &api(cx))),
        )
    };
    let pause = (for_minutes + 4).min(8) as usize;
    Spec {
        alert: "GatewayzTrafficStopped",
        config_key: "traffic_stopped",
        expr: format!("{} == 0\nand {} >= {min}", increase("5m"), increase("1h")),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: "No client request reached {{ $labels.job }} for minutes".to_owned(),
        description: format!(
            "Not one request on the client API (routes `{}`) in the last 5 minutes, for {}, \
             across every replica, after an hour with at least {min}. The gateway may be \
             healthy and unreachable: look in front of it (load balancer, DNS, certificates).",
            cx.deployment.slo.availability.routes,
            in_words(&config.for_)
        ),
        runbook: vec![
            ("min_requests_per_hour", num(min)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "client requests in 5 min, after an hour with traffic",
            format!("0, after ≥ {min} in 1 h"),
        )],
        dashboard: Board::Overview,
        tests: vec![
            cx.fires(
                format!(
                    "{} requests a minute on each of two replicas, then none from minute {stop}",
                    num(per_minute)
                ),
                vec![
                    requests(cx, 0, &traffic(stop as usize, steps)),
                    requests(cx, 1, &traffic(stop as usize, steps)),
                ],
                eval,
                &[],
                "0".to_owned(),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "a gateway that has had no traffic at all".to_owned(),
                vec![requests(cx, 0, &Samples::steady(steps, 0.0))],
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("a pause of {pause} minutes"),
                vec![requests(
                    cx,
                    0,
                    &traffic(stop as usize, stop as usize + pause),
                )],
                stop + pause as u64,
            ),
        ],
    }
}

fn requests_refused_surge(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.requests_refused_surge;
    let (threshold, min_rate) = (config.share, config.min_refusals_per_second);
    let s = &cx.scope;
    let eval = minutes(&config.for_) + 10;
    let steps = eval as usize + 10;
    // Requests a minute: enough for the firing share to be twice the minimum rate.
    let total = (min_rate * 120.0 / threshold).ceil().max(100.0);
    let firing = FIRING_SHARES
        .into_iter()
        .find(|f| *f > threshold)
        .unwrap_or(1.0);
    let quiet = QUIET_SHARES
        .into_iter()
        .find(|f| *f < threshold)
        .unwrap_or(0.0);
    let refused = |share: f64, total: f64| {
        vec![
            requests(cx, 0, &Samples::steady(steps, total)),
            cx.inputs.metric(
                &REQUESTS_REFUSED,
                0,
                &[("reason", "no_credits")],
                Samples::steady(steps, total * share).notation(),
            ),
        ]
    };
    let reason_rate = s.sum_rate(&REQUESTS_REFUSED, "reason", "", "5m");
    Spec {
        alert: "GatewayzRequestsRefusedSurge",
        config_key: "requests_refused_surge",
        expr: format!(
            "{reason_rate}\n  / on ({}) group_left () ({} > 0)\n> {threshold}\nand {reason_rate} >= {min_rate}",
            s.by(""),
            s.sum_rate(&HTTP_REQUESTS, "", &api(cx), "5m"),
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary:
            "{{ $value | humanizePercentage }} of client requests refused: {{ $labels.reason }}"
                .to_owned(),
        description: format!(
            "{PERCENT} of the client API's requests (routes `{}`) were refused before any \
             provider was called, for reason {{{{ $labels.reason }}}}, over the last 5 minutes \
             (threshold {}, from {min_rate} refusals per second).",
            cx.deployment.slo.availability.routes,
            percent(threshold)
        ),
        runbook: vec![
            ("share", percent(threshold)),
            ("min_refusals_per_second", num(min_rate)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "share of client requests refused for one reason",
            format!("> {threshold} (from {min_rate} refusals/s)"),
        )],
        dashboard: Board::Overview,
        tests: vec![
            cx.fires(
                format!(
                    "{} of {} requests a minute refused for lack of credits",
                    percent(firing),
                    num(total)
                ),
                refused(firing, total),
                eval,
                &[("reason", "no_credits")],
                humanize_percentage(firing),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no requests".to_owned(),
                refused(0.0, 0.0),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("{} of the requests refused", percent(quiet)),
                refused(quiet, total),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                "every request refused, but only one a minute".to_owned(),
                refused(1.0, 1.0),
                eval,
            ),
        ],
    }
}

/// Hours in a week.
const WEEK: usize = 7 * 24;

/// `case`, sampled and evaluated hourly, evaluated at hour `eval`.
fn hourly(case: AlertTest, eval: usize) -> AlertTest {
    AlertTest {
        step: Step::Hour,
        eval_time: format!("{eval}h"),
        ..case
    }
}

/// Whole hours of a `for` (at least one).
fn hours(duration: &Duration) -> usize {
    (duration.millis().div_ceil(3_600_000) as usize).max(1)
}

fn spend_above_last_week(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.spend_above_last_week;
    let (ratio, min) = (config.ratio, config.min_usd_per_hour);
    let s = &cx.scope;
    let spend = |offset: &str| {
        s.agg(
            "sum",
            "",
            &format!("increase({}[1h]{offset})", s.sel(&COST_USD, "")),
        )
    };
    // A week at `usual` dollars an hour, then `times` that: hour by hour against the same hour
    // a week earlier. Sampled hourly: a week of minutes is ten thousand evaluations.
    let usual = nice_above(min * 2.0);
    let eval = WEEK + 1 + hours(&config.for_) + 1;
    let steps = eval + 3;
    let week = |times: f64, usual: f64| {
        vec![cx.inputs.metric(
            &COST_USD,
            0,
            &[("provider", "openrouter"), ("model", "gpt-4o-mini")],
            Samples::counter(steps, |h| if h <= WEEK { usual } else { usual * times }).notation(),
        )]
    };
    let firing = (ratio * 1.5).max(ratio + 1.0);
    let quiet = (1.0 + ratio) / 2.0;
    Spec {
        alert: "GatewayzSpendAboveLastWeek",
        config_key: "spend_above_last_week",
        expr: format!(
            "{}\n  > {ratio} * {}\nand {} >= {min}",
            spend(""),
            spend(" offset 1w"),
            spend("")
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: format!(
            "Upstream spend ${{{{ $value | humanize }}}} in the last hour, over {ratio}× the same \
             hour last week"
        ),
        description: format!(
            "The deployment spent ${{{{ $value | humanize }}}} on providers in the trailing \
             hour, more than {ratio} times what it spent in the same hour a week ago ({} \
             increase over 1h, summed across providers and replicas), for {}.",
            COST_USD.name,
            in_words(&config.for_)
        ),
        runbook: vec![
            ("ratio", num(ratio)),
            ("min_usd_per_hour", num(min)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "spend in the trailing hour over the same hour last week",
            format!("> {ratio}× (from ${min} an hour)"),
        )],
        dashboard: Board::CostAnalysis,
        tests: vec![
            hourly(
                cx.fires(
                    format!(
                        "${} an hour for a week, then {}× that",
                        num(usual),
                        num(firing)
                    ),
                    week(firing, usual),
                    0,
                    &[],
                    humanize(usual * firing),
                ),
                eval,
            ),
            hourly(
                cx.quiet(Case::ZeroTraffic, "no spend".to_owned(), week(1.0, 0.0), 0),
                eval,
            ),
            hourly(
                cx.quiet(
                    Case::BelowThreshold,
                    format!("{}× last week's spend", num(quiet)),
                    week(quiet, usual),
                    0,
                ),
                eval,
            ),
        ],
    }
}

fn spend_above_budget_pace(cx: &Context, budget: f64) -> Spec {
    let config = &cx.deployment.alerts.spend_above_budget_pace;
    let s = &cx.scope;
    let eval = 24 + hours(&config.for_) + 1;
    let steps = eval + 3;
    // promtool's clock starts on 1 January 1970: a 31-day month. Dollars an hour at the
    // budget's pace, and at 1.5 times it (rounded so that the input reads well).
    let pace = budget / 31.0 / 24.0;
    let firing: f64 = num(pace * 1.5).parse().unwrap_or_default();
    let spend = |per_hour: f64| {
        vec![cx.inputs.metric(
            &COST_USD,
            0,
            &[("provider", "openrouter"), ("model", "gpt-4o-mini")],
            Samples::steady(steps, per_hour).notation(),
        )]
    };
    // What the rule computes at `eval`: the day's increase (24 hourly additions) × 31.
    let projected = {
        let day = Samples::steady(eval, firing);
        (day.at(eval).unwrap_or_default() - day.at(eval - 24).unwrap_or_default()) * 31.0
    };
    Spec {
        alert: "GatewayzSpendAboveBudgetPace",
        config_key: "spend_above_budget_pace",
        expr: format!(
            "{}\n  * scalar(days_in_month())\n> {budget}",
            s.sum_increase(&COST_USD, "", "", "1d")
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: "Spending at ${{ $value | humanize }} a month, above the budget".to_owned(),
        description: format!(
            "At the pace of the last 24 hours the deployment would spend ${{{{ $value | humanize \
             }}}} on providers this month, above the monthly budget of ${budget} \
             (cost.monthly_budget_usd), for {}.",
            in_words(&config.for_)
        ),
        runbook: vec![("budget", num(budget)), ("for", in_words(&config.for_))],
        thresholds: vec![(
            "trailing day's spend × days in the month",
            format!("> ${budget}"),
        )],
        dashboard: Board::CostAnalysis,
        tests: vec![
            hourly(
                cx.fires(
                    "a day at 1.5 times the budget's pace".to_owned(),
                    spend(firing),
                    0,
                    &[],
                    humanize(projected),
                ),
                eval,
            ),
            hourly(
                cx.quiet(Case::ZeroTraffic, "no spend".to_owned(), spend(0.0), 0),
                eval,
            ),
            hourly(
                cx.quiet(
                    Case::BelowThreshold,
                    "a day at 0.8 times the budget's pace".to_owned(),
                    spend(pace * 0.8),
                    0,
                ),
                eval,
            ),
        ],
    }
}

/// `GatewayzLabelValuesOverflow` and `GatewayzMetricConflicts`: any loss in the last 15
/// minutes, including the first one (the counter is created by it, which `increase` alone
/// cannot see).
fn instrumentation_loss(cx: &Context, def: &'static gatewayz_catalogue::MetricDef) -> Spec {
    let overflow = def.name == LABEL_OVERFLOW.name;
    let (alert, config_key, config, by, labels): (_, _, _, &str, &[(&str, &str)]) = if overflow {
        (
            "GatewayzLabelValuesOverflow",
            "label_values_overflow",
            &cx.deployment.alerts.label_values_overflow,
            "metric, label",
            &[
                ("metric", MODEL_INFERENCE_REQUESTS.name),
                ("label", "model"),
            ],
        )
    } else {
        (
            "GatewayzMetricConflicts",
            "metric_conflicts",
            &cx.deployment.alerts.metric_conflicts,
            "metric",
            &[("metric", TOKENS_USED.name)],
        )
    };
    let s = &cx.scope;
    let eval = 20 + minutes(&config.for_);
    let steps = eval as usize + 5;
    let counter = |values: Samples| vec![cx.inputs.metric(def, 0, labels, values.notation())];
    // Created by its first loss, at minute 10, with the value 1.
    let first = Samples::gauge(steps, |m| (m >= 10).then_some(1.0));
    let (what, summary) = if overflow {
        (
            "label values folded into `other` (a cardinality cap reached, or a value outside a \
             closed set)",
            "Label {{ $labels.label }} of {{ $labels.metric }} folds values into other",
        )
    } else {
        (
            "recordings dropped because they contradict the catalogue (a kind conflict, or money \
             under a recorder that cannot show it)",
            "Recordings of {{ $labels.metric }} are dropped",
        )
    };
    Spec {
        alert,
        config_key,
        expr: format!(
            "{} > 0\nor {}",
            s.agg("sum", by, &format!("increase({}[15m])", s.sel(def, ""))),
            s.agg(
                "count",
                by,
                &format!("{sel} unless {sel} offset 15m", sel = s.sel(def, ""))
            ),
        ),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: summary.to_owned(),
        description: format!(
            "{{{{ $value | humanize }}}} {what} in the last 15 minutes ({}), for {}: the \
             dashboards and alerts built on these series are missing data.",
            def.name,
            in_words(&config.for_)
        ),
        runbook: vec![("for", in_words(&config.for_))],
        thresholds: vec![],
        dashboard: Board::Overview,
        tests: vec![
            cx.fires(
                "a loss every minute".to_owned(),
                counter(Samples::steady(steps, 1.0)),
                eval,
                labels,
                "15".to_owned(),
            ),
            cx.fires(
                "the first loss ever, which creates the counter".to_owned(),
                counter(first),
                10 + minutes(&config.for_),
                labels,
                "1".to_owned(),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "counter at 0".to_owned(),
                counter(Samples::steady(steps, 0.0)),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                "one loss, more than 15 minutes ago".to_owned(),
                counter(Samples::gauge(steps + 20, |m| (m >= 2).then_some(1.0))),
                eval + 15,
            ),
        ],
    }
}

fn watchdog(cx: &Context) -> Spec {
    let labels: Vec<(String, String)> = cx
        .deployment
        .selector
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let always = |name: &str, series: Vec<InputSeries>| AlertTest {
        case: Case::Fires,
        name: name.to_owned(),
        step: Step::Minute,
        series,
        eval_time: "5m".to_owned(),
        // The deployment's labels are the rule's own: nothing else.
        expected: vec![Expected {
            labels: Vec::new(),
            value: "1".to_owned(),
            severity: None,
        }],
    };
    Spec {
        alert: "GatewayzWatchdog",
        config_key: "watchdog",
        expr: "vector(1)".to_owned(),
        for_: Duration::from_millis(0),
        keep_firing_for: None,
        labels,
        severity: Severity::None,
        summary: "The alerting pipeline is alive (Prometheus, its rules, Alertmanager)".to_owned(),
        description: "Always firing, by design: Alertmanager sends it to the dead man's switch \
                      (receiver `deadman`), which raises its own alarm when it stops hearing \
                      from it. If you read this anywhere else, the routing is wrong."
            .to_owned(),
        runbook: vec![("receiver", format!("`{}`", crate::alertmanager::DEADMAN))],
        thresholds: vec![],
        dashboard: Board::Overview,
        tests: vec![
            always("fires with no series at all", Vec::new()),
            always(
                "fires whatever the traffic",
                vec![requests(cx, 0, &Samples::steady(10, 60.0))],
            ),
        ],
    }
}

fn target_down(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.target_down;
    let for_minutes = minutes(&config.for_);
    let eval = for_minutes + 5;
    let steps = eval + 5;
    let up = |replica: usize, values: String| cx.inputs.input("up", replica, &[], values);
    let brief = for_minutes.min(2);
    let replica = Inputs::replica(0);
    Spec {
        alert: "GatewayzTargetDown",
        config_key: "target_down",
        expr: format!("{} == 0", cx.scope.series("up", "", "")),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Warning,
        summary: "Replica {{ $labels.instance }} of {{ $labels.job }} cannot be scraped".to_owned(),
        description: format!(
            "Prometheus has failed to scrape {{{{ $labels.instance }}}} (job \
             {{{{ $labels.job }}}}) for {}: the replica is down, unreachable, or its metrics \
             endpoint fails. Its metrics are missing from every dashboard and alert.",
            in_words(&config.for_)
        ),
        runbook: vec![("for", in_words(&config.for_))],
        thresholds: vec![],
        dashboard: Board::Overview,
        tests: vec![
            cx.fires(
                format!("one of two replicas down for {steps} minutes"),
                vec![up(0, format!("0x{steps}")), up(1, format!("1x{steps}"))],
                eval,
                &[("instance", &replica)],
                "0".to_owned(),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "replicas up and idle".to_owned(),
                vec![
                    up(0, format!("1x{steps}")),
                    up(1, format!("1x{steps}")),
                    cx.inputs.metric(
                        &BUILD_INFO,
                        0,
                        &[("version", "0.1.0")],
                        format!("1x{steps}"),
                    ),
                ],
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("a replica down for {brief} minutes only"),
                vec![
                    up(0, format!("1x5 0x{} 1x8", brief - 1)),
                    up(1, format!("1x{steps}")),
                ],
                6 + brief,
            ),
        ],
    }
}

fn metrics_absent(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.metrics_absent;
    let for_minutes = minutes(&config.for_);
    let eval = for_minutes + 5;
    let up = |values: String| cx.inputs.input("up", 0, &[], values);
    let build_info = |values: &str| {
        cx.inputs
            .metric(&BUILD_INFO, 0, &[("version", "0.1.0")], values)
    };
    // Gone after 4 minutes: `absent` holds once the last sample is older than the 5-minute
    // lookback, at 9 minutes at the earliest, so the alert cannot fire before 9m + for.
    let gone_eval = for_minutes + 7;
    Spec {
        alert: "GatewayzMetricsAbsent",
        config_key: "metrics_absent",
        expr: format!("absent({})", cx.scope.sel(&BUILD_INFO, "")),
        for_: config.for_.clone(),
        keep_firing_for: None,
        labels: Vec::new(),
        severity: Severity::Critical,
        summary: "No metrics at all from {{ $labels.job }}".to_owned(),
        description: format!(
            "Prometheus has had no {} series from job {{{{ $labels.job }}}} for {}: every \
             replica is down, service discovery lost them, or the scrape path is wrong. The \
             dashboards and every other gatewayz alert are blind.",
            BUILD_INFO.name,
            in_words(&config.for_)
        ),
        runbook: vec![
            ("for", in_words(&config.for_)),
            ("selector", format!("`{}`", cx.deployment.selector.promql())),
            ("build_info", format!("`{}`", BUILD_INFO.name)),
        ],
        thresholds: vec![],
        dashboard: Board::Overview,
        tests: vec![
            cx.fires(
                "the only target is down".to_owned(),
                vec![up(format!("0x{}", eval + 5))],
                eval,
                &[],
                "1".to_owned(),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "an idle replica still exposes its build info".to_owned(),
                [
                    vec![
                        up(format!("1x{}", eval + 5)),
                        build_info(&format!("1x{}", eval + 5)),
                    ],
                    cx.attempts(&format!("0x{}", eval + 5), &format!("0x{}", eval + 5)),
                ]
                .concat(),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("metrics gone for less than {}", in_words(&config.for_)),
                vec![up(format!("1x4 0x{}", gone_eval)), build_info("1x4")],
                gone_eval,
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_amounts_sit_just_above_the_threshold() {
        assert_eq!(nice_above(100.0), 120.0);
        assert_eq!(nice_above(37.0), 40.0);
        assert_eq!(nice_above(1.0), 1.2);
        assert_eq!(nice_above(5000.0), 6000.0);
        assert_eq!(nice_above(0.3), 0.4);
    }

    #[test]
    fn latency_buckets_bracket_the_threshold() {
        assert_eq!(latency_spike_bucket(0.25), Some((0.25, (0.25, 0.5))));
        assert_eq!(latency_spike_bucket(0.2), Some((0.1, (0.25, 0.5))));
        assert_eq!(latency_spike_bucket(0.5), Some((0.5, (0.5, 1.0))));
        assert_eq!(latency_spike_bucket(1.0), None);
        assert_eq!(latency_spike_bucket(0.0005), None);
    }

    #[test]
    fn for_durations_read_as_words() {
        assert_eq!(in_words(&"2m".parse().unwrap()), "2 minutes");
        assert_eq!(in_words(&"1m".parse().unwrap()), "1 minute");
        assert_eq!(in_words(&"2h".parse().unwrap()), "2 hours");
    }

    #[test]
    fn every_runbook_placeholder_is_filled_for_the_defaults() {
        // `runbooks::render` panics on a placeholder left unfilled.
        assert_eq!(groups(&Deployment::default()).len(), 4);
    }
}
