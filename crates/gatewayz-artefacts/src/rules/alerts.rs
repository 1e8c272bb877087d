//! Alerts: expressions, thresholds, runbooks and the promtool cases of each.
//!
//! Every alert is built on guarded recording rules or guarded expressions, so no traffic means
//! no sample, and no sample means no alert (never a NaN one). Every alert selects the
//! deployment and keeps its labels, so Alertmanager tells deployments apart. The thresholds and
//! `for` durations come from the configuration, and so do the promtool cases: each firing case
//! sits above its threshold, each quiet case below, each evaluation time after its `for`.

use gatewayz_catalogue::{
    BUILD_INFO, CIRCUIT_BREAKER_STATE, COST_USD, FAILOVERS, MODEL_INFERENCE_REQUESTS,
    PROVIDER_HEALTH_SCORE, PROVIDER_RESPONSE_TIME,
};

use super::{
    AlertRule, AlertTest, Case, Expected, InputSeries, Inputs, Rule, RuleGroup, Severity,
    humanize::{humanize, humanize_percentage},
    recording, repeat,
};
use crate::{
    Deployment, Duration,
    config::{DEGRADED_SCORES, FIRING_SHARES, QUIET_SHARES},
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
    let buckets = PROVIDER_RESPONSE_TIME.buckets;
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
            series,
            eval_time: at(eval_time),
            expected: vec![Expected { labels: all, value }],
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
            series,
            eval_time: at(eval_time),
            expected: Vec::new(),
        }
    }

    fn alert(&self, spec: Spec) -> Rule {
        let runbook = runbooks::render(spec.alert, &spec.runbook);
        let pattern = &self.deployment.alerts.runbook_url;
        Rule::Alert(AlertRule {
            alert: spec.alert,
            config_key: spec.config_key,
            expr: spec.expr,
            for_: spec.for_,
            severity: spec.severity,
            summary: spec.summary,
            description: spec.description,
            runbook_url: pattern
                .replace("{alert}", spec.alert)
                .replace("{anchor}", &spec.alert.to_lowercase()),
            runbook,
            thresholds: spec.thresholds,
            dashboard: dashboards::uid(self.deployment, spec.dashboard),
            tests: spec.tests,
        })
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
    severity: Severity,
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
    vec![
        RuleGroup {
            name: "gatewayz-providers-alerts",
            rules: vec![
                cx.alert(provider_unavailable(&cx)),
                cx.alert(health_degraded(&cx)),
                cx.alert(error_surge(&cx)),
                cx.alert(latency_spike(&cx)),
                cx.alert(circuit_open_too_long(&cx)),
                cx.alert(failover_storm(&cx)),
            ],
        },
        RuleGroup {
            name: "gatewayz-models-alerts",
            rules: vec![cx.alert(no_successful_inference(&cx))],
        },
        RuleGroup {
            name: "gatewayz-cost-alerts",
            rules: vec![cx.alert(cost_per_hour(&cx))],
        },
        RuleGroup {
            name: "gatewayz-scrape-alerts",
            rules: vec![cx.alert(target_down(&cx)), cx.alert(metrics_absent(&cx))],
        },
    ]
}

fn provider_unavailable(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.provider_unavailable;
    let share = config.replica_share;
    let eval = minutes(&config.for_) + 8;
    let status =
        |replica: usize, current: &str| cx.inputs.provider_status(replica, current, eval + 5);
    // The fewest replicas of which one is below the share.
    let replicas = (1.0 / share).floor() as usize + 1;
    Spec {
        alert: "GatewayzProviderUnavailable",
        config_key: "provider_unavailable",
        expr: format!(
            "{} >= {share}",
            cx.scope.series(recording::PROVIDER_UNAVAILABLE, "", "")
        ),
        for_: config.for_.clone(),
        severity: Severity::Critical,
        summary: format!("Provider {PROVIDER} is unavailable"),
        description: format!(
            "{PERCENT} of the gateway replicas with enough traffic to judge {PROVIDER} report it \
             unavailable (circuit open or half-open, or health score below the degraded \
             threshold). Requests fail over to other providers; models only {PROVIDER} serves \
             are failing."
        ),
        runbook: vec![
            ("replica_share", percent(share)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "share of judging replicas calling a provider unavailable",
            format!("≥ {share}"),
        )],
        dashboard: Board::ProviderHealth,
        tests: vec![
            cx.fires(
                "both replicas judge it unavailable".to_owned(),
                [status(0, "unavailable"), status(1, "unavailable")].concat(),
                eval,
                &[("provider", "openrouter")],
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
    }
}

fn health_degraded(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.provider_health_degraded;
    let threshold = config.score;
    let eval = minutes(&config.for_) + 10;
    let steps = eval + 10;
    let nan = || repeat("NaN", steps as usize + 1);
    let score = |replica: usize, values: String| {
        cx.inputs.metric(
            &PROVIDER_HEALTH_SCORE,
            replica,
            &[("provider", "openrouter")],
            values,
        )
    };
    let low = DEGRADED_SCORES
        .into_iter()
        .find(|s| *s < threshold)
        .unwrap_or(0.0);
    let (high, higher) = ((threshold + 0.05).min(1.0), (threshold + 0.1).min(1.0));
    Spec {
        alert: "GatewayzProviderHealthDegraded",
        config_key: "provider_health_degraded",
        expr: format!(
            "{} < {threshold}",
            cx.scope.series(recording::PROVIDER_SCORE_AVG, "", "")
        ),
        for_: config.for_.clone(),
        severity: Severity::Warning,
        summary: format!("Provider {PROVIDER} health is degraded"),
        description: format!(
            "The health score of {PROVIDER}, averaged across the replicas that can judge it, is \
             {PERCENT}, below {} for {}. Failover ranks it lower; requests still reach it.",
            percent(threshold),
            in_words(&config.for_)
        ),
        runbook: vec![("score", num(threshold)), ("for", in_words(&config.for_))],
        thresholds: vec![("degraded health score", format!("< {threshold}"))],
        dashboard: Board::ProviderHealth,
        tests: vec![
            cx.fires(
                format!(
                    "score {} on the replica that can judge, NaN on the other",
                    num(low)
                ),
                vec![score(0, nan()), score(1, format!("{}x{steps}", num(low)))],
                eval,
                &[("provider", "openrouter")],
                humanize_percentage(low),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "every replica publishes NaN (too few calls)".to_owned(),
                vec![score(0, nan()), score(1, nan())],
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("scores {} and {} are healthy", num(higher), num(high)),
                vec![
                    score(0, format!("{}x{steps}", num(higher))),
                    score(1, format!("{}x{steps}", num(high))),
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
    let threshold = config.p95_seconds;
    let eval = minutes(&config.for_) + 10;
    let steps = eval + 10;
    // The configuration refuses thresholds outside the buckets.
    let (quiet, (low, high)) = latency_spike_bucket(threshold).unwrap_or((0.1, (30.0, 60.0)));
    let latency = |bucket: f64, per_minute: f64| {
        cx.inputs.histogram(
            &PROVIDER_RESPONSE_TIME,
            0,
            &[("provider", "openrouter")],
            bucket,
            per_minute,
            steps,
        )
    };
    // histogram_quantile interpolates linearly within the bucket holding every call.
    let p95 = low + (high - low) * 0.95;
    Spec {
        alert: "GatewayzProviderLatencySpike",
        config_key: "provider_latency_spike",
        expr: format!(
            "{} > {threshold}",
            cx.scope.series(recording::PROVIDER_P95, "", "")
        ),
        for_: config.for_.clone(),
        severity: Severity::Warning,
        summary: format!("Provider {PROVIDER} p95 latency is {{{{ $value | humanize }}}}s"),
        description: format!(
            "The 95th percentile of upstream call latency to {PROVIDER}, from the histogram \
             summed across replicas over 5 minutes, is {{{{ $value | humanize }}}}s: above \
             {threshold}s for {}.",
            in_words(&config.for_)
        ),
        runbook: vec![
            ("p95_seconds", num(threshold)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![("p95 upstream latency", format!("> {threshold} s"))],
        dashboard: Board::ProviderHealth,
        tests: vec![
            cx.fires(
                format!("every call takes between {low} and {high} seconds"),
                latency(high, 10.0),
                eval,
                &[("provider", "openrouter")],
                humanize(p95),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no calls".to_owned(),
                latency(high, 0.0),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!("every call takes at most {quiet} seconds"),
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

fn no_successful_inference(cx: &Context) -> Spec {
    let config = &cx.deployment.alerts.model_no_successful_inference;
    let min_attempts = config.min_attempts;
    let eval = minutes(&config.for_) + 15;
    let steps = eval + 20;
    let s = &cx.scope;
    let requests = MODEL_INFERENCE_REQUESTS.name;
    // Attempts a minute on each of two providers: twice the minimum over 10 minutes.
    let per_provider = (min_attempts / 10.0).ceil().max(1.0);
    let trickle = min_attempts / 25.0;
    let grow = |per_minute: f64| format!("0+{}x{steps}", num(per_minute));
    Spec {
        alert: "GatewayzModelNoSuccessfulInference",
        config_key: "model_no_successful_inference",
        expr: format!(
            "{} >= {min_attempts}\nunless {} > 0",
            s.sum_increase(&MODEL_INFERENCE_REQUESTS, "model", "", "10m"),
            s.sum_increase(
                &MODEL_INFERENCE_REQUESTS,
                "model",
                r#"status="success""#,
                "10m"
            ),
        ),
        for_: config.for_.clone(),
        severity: Severity::Critical,
        summary: "No successful inference for model {{ $labels.model }}".to_owned(),
        description: format!(
            "{{{{ $value | humanize }}}} attempts to serve {{{{ $labels.model }}}} in the last 10 \
             minutes, across every provider and replica, and none succeeded ({requests}): clients \
             asking for this model get errors."
        ),
        runbook: vec![
            ("min_attempts", num(min_attempts)),
            ("for", in_words(&config.for_)),
        ],
        thresholds: vec![(
            "attempts on a model without success, 10 min",
            format!("≥ {min_attempts}"),
        )],
        dashboard: Board::ModelPerformance,
        tests: vec![
            cx.fires(
                "two providers, every attempt fails".to_owned(),
                [
                    cx.attempts_on(0, "openrouter", &format!("0x{steps}"), &grow(per_provider)),
                    cx.attempts_on(1, "groq", &format!("0x{steps}"), &grow(per_provider)),
                ]
                .concat(),
                eval,
                &[("model", "gpt-4o-mini")],
                humanize(20.0 * per_provider),
            ),
            cx.quiet(
                Case::ZeroTraffic,
                "no attempts".to_owned(),
                cx.attempts(&format!("0x{steps}"), &format!("0x{steps}")),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                "most attempts fail but some succeed".to_owned(),
                cx.attempts(&grow(per_provider), &grow(9.0 * per_provider)),
                eval,
            ),
            cx.quiet(
                Case::BelowThreshold,
                format!(
                    "every attempt fails but there are only {} in 10 minutes",
                    num(trickle * 10.0)
                ),
                cx.attempts(&format!("0x{steps}"), &grow(trickle)),
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
        assert_eq!(latency_spike_bucket(30.0), Some((30.0, (30.0, 60.0))));
        assert_eq!(latency_spike_bucket(45.0), Some((30.0, (60.0, 120.0))));
        assert_eq!(latency_spike_bucket(300.0), Some((300.0, (300.0, 600.0))));
        assert_eq!(latency_spike_bucket(301.0), None);
        assert_eq!(latency_spike_bucket(0.05), None);
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
