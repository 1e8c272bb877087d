//! The service level objectives as rules: each objective's SLI as good and total events, the
//! recording rules derived from it (error ratios over seven windows, burn rates, the error
//! budget remaining, the objective itself) and its multi-window, multi-burn-rate alerts, in
//! the manner of Sloth and Pyrra.
//!
//! Every ratio sums the counters across replicas first and divides after (never an average of
//! per-replica ratios), and has no sample without traffic. The error side falls back to 0 when
//! its series do not exist yet (no 5xx ever served), so that a healthy service shows an error
//! ratio of 0 and its whole budget left, not a gap.
//!
//! | series | meaning |
//! | --- | --- |
//! | `slo:gatewayz_sli_error:ratio_rate<w>` | error ratio over window `w` (5m … 3d), label `slo` |
//! | `slo:gatewayz_sli_error:burn_rate<w>` | that ratio over the error budget `1 − objective` |
//! | `slo:gatewayz_slo_error_budget_remaining:ratio` | `1 − ratio over the SLO window / budget` (negative: overspent) |
//! | `slo:gatewayz_slo_objective:ratio` | the objective, a constant for dashboards |
//! | `model_slo:...` | the same per `model`, for the per-model objective |

use gatewayz_catalogue::{HTTP_REQUESTS, MODEL_REQUESTS, TIME_TO_FIRST_TOKEN};

use super::{
    AlertRule, AlertTest, Case, Expected, InputSeries, Inputs, RecordingRule, Rule, RuleGroup,
    Severity, Step, humanize::humanize, samples::Samples,
};
use crate::{
    Deployment, Duration,
    config::{BurnWindows, PAGE, TICKET, WINDOWS},
    dashboards::{self, Board},
    expr::Scope,
    runbooks,
};

/// The recorded series of every objective, by what they hold.
pub mod names {
    /// The constant objective of each SLO, label `slo`.
    pub const OBJECTIVE: &str = "slo:gatewayz_slo_objective:ratio";

    /// The error ratio over `window`, at `level` (`slo` or `model_slo`).
    pub fn ratio(level: &str, window: &str) -> String {
        format!("{level}:gatewayz_sli_error:ratio_rate{window}")
    }

    /// The burn rate over `window`, at `level`.
    pub fn burn(level: &str, window: &str) -> String {
        format!("{level}:gatewayz_sli_error:burn_rate{window}")
    }

    /// The error budget remaining over the SLO window, at `level`.
    pub fn budget_remaining(level: &str) -> String {
        format!("{level}:gatewayz_slo_error_budget_remaining:ratio")
    }
}

/// Which SLO: the value of the `slo` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The client API's answers that are not 5xx.
    Availability,
    /// Inferences whose first token arrived within the threshold.
    Latency,
    /// Per model, the client requests a provider answered.
    ModelAvailability,
}

/// One objective, resolved from the configuration.
#[derive(Debug, Clone)]
pub struct Objective {
    /// Which.
    pub kind: Kind,
    /// The share of good events promised, e.g. 0.999.
    pub objective: f64,
    /// `1 − objective`, rounded to 12 significant digits: as the rules write it.
    pub budget: f64,
    /// The window the budget is counted over.
    pub window: Duration,
    /// For latency, the threshold in seconds.
    pub threshold_seconds: Option<f64>,
    /// For availability, the route regular expression.
    pub routes: Option<String>,
}

impl Kind {
    /// The `slo` label value and the configuration key.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Availability => "availability",
            Kind::Latency => "latency",
            Kind::ModelAvailability => "model_availability",
        }
    }

    /// Its name in titles.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Availability => "Availability",
            Kind::Latency => "Latency",
            Kind::ModelAvailability => "Model availability",
        }
    }

    /// The burn-rate alert's name.
    pub fn alert(self) -> &'static str {
        match self {
            Kind::Availability => "GatewayzAvailabilityErrorBudgetBurn",
            Kind::Latency => "GatewayzLatencyErrorBudgetBurn",
            Kind::ModelAvailability => "GatewayzModelErrorBudgetBurn",
        }
    }

    /// The level of its recorded series: `slo`, or `model_slo` (kept per model).
    pub fn level(self) -> &'static str {
        match self {
            Kind::ModelAvailability => "model_slo",
            _ => "slo",
        }
    }

    /// The labels its series keep besides the deployment's and `slo`.
    pub fn by(self) -> &'static str {
        match self {
            Kind::ModelAvailability => "model",
            _ => "",
        }
    }
}

/// `value` rounded to 12 significant digits: `1 − 0.999` as `0.001`, not
/// `0.0010000000000000009`.
pub(crate) fn decimal(value: f64) -> f64 {
    if value == 0.0 {
        return 0.0;
    }
    let digits = 11 - value.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Every objective of `deployment`, in the order availability, latency, per model.
pub fn objectives(deployment: &Deployment) -> Vec<Objective> {
    let slo = &deployment.slo;
    let objective = |kind: Kind, objective: f64, window: &Duration| Objective {
        kind,
        objective,
        budget: decimal(1.0 - objective),
        window: window.clone(),
        threshold_seconds: None,
        routes: None,
    };
    vec![
        Objective {
            routes: Some(slo.availability.routes.clone()),
            ..objective(
                Kind::Availability,
                slo.availability.objective,
                &slo.availability.window,
            )
        },
        Objective {
            threshold_seconds: Some(slo.latency.threshold_seconds),
            ..objective(Kind::Latency, slo.latency.objective, &slo.latency.window)
        },
        objective(
            Kind::ModelAvailability,
            slo.model_availability.objective,
            &slo.model_availability.window,
        ),
    ]
}

/// `0.999` as `99.9%`.
pub(crate) fn percent(share: f64) -> String {
    format!("{}%", decimal(share * 100.0))
}

impl Objective {
    /// What is promised, in words.
    pub fn promise(&self) -> String {
        let share = percent(self.objective);
        match self.kind {
            Kind::Availability => format!(
                "{share} of the client API's answers (routes `{}`) are not 5xx, over {}",
                self.routes.as_deref().unwrap_or_default(),
                self.window
            ),
            Kind::Latency => format!(
                "{share} of inferences have their first token within {} s (a stream's first \
                 token, a plain completion's whole answer), over {}",
                self.threshold_seconds.unwrap_or_default(),
                self.window
            ),
            Kind::ModelAvailability => format!(
                "{share} of each model's client requests are answered by a provider, over {}",
                self.window
            ),
        }
    }

    /// The catalogued counter the SLI is computed from.
    pub fn source(&self) -> &'static str {
        match self.kind {
            Kind::Availability => HTTP_REQUESTS.name,
            Kind::Latency => TIME_TO_FIRST_TOKEN.name,
            Kind::ModelAvailability => MODEL_REQUESTS.name,
        }
    }

    /// The `le` label value of the latency threshold, as the recorder renders bucket bounds.
    pub fn le(&self) -> Option<String> {
        self.threshold_seconds.map(|t| format!("{t}"))
    }

    /// The error ratio over `window` (a Prometheus duration), from `scope`'s series, kept by
    /// the scope's labels and [`Kind::by`]; no sample without traffic.
    pub(crate) fn error_ratio(&self, s: &Scope, window: &str) -> String {
        let by = self.kind.by();
        match self.kind {
            Kind::Availability | Kind::ModelAvailability => {
                let (def, api, bad) = match self.kind {
                    Kind::Availability => (
                        &HTTP_REQUESTS,
                        format!("route=~\"{}\"", self.routes.as_deref().unwrap_or_default()),
                        r#"status_class="5xx""#,
                    ),
                    _ => (&MODEL_REQUESTS, String::new(), r#"status="error""#),
                };
                let total = s.sum_rate(def, by, &api, window);
                let errors = s.sum_rate(def, by, &crate::expr::and(&[&api, bad]), window);
                format!("(\n  {errors}\n  or 0 * {total}\n)\n/ ({total} > 0)")
            }
            Kind::Latency => {
                let le = format!("le=\"{}\"", self.le().unwrap_or_default());
                let good = s.agg(
                    "sum",
                    by,
                    &format!(
                        "rate({}[{window}])",
                        s.series(TIME_TO_FIRST_TOKEN.name, "_bucket", &le)
                    ),
                );
                let total = s.agg(
                    "sum",
                    by,
                    &format!(
                        "rate({}[{window}])",
                        s.series(TIME_TO_FIRST_TOKEN.name, "_count", "")
                    ),
                );
                format!("1 - (\n  {good}\n  / ({total} > 0)\n)")
            }
        }
    }

    /// The `slo="..."` matcher of its recorded series.
    pub fn matcher(&self) -> String {
        format!("slo=\"{}\"", self.kind.key())
    }

    fn labels(&self) -> Vec<(String, String)> {
        vec![("slo".to_owned(), self.kind.key().to_owned())]
    }
}

fn record(record: String, expr: String, labels: Vec<(String, String)>, help: String) -> Rule {
    Rule::Record(RecordingRule {
        record,
        expr,
        labels,
        help,
    })
}

/// The recording groups: the short windows at the global interval, the day-long ones and the
/// budget once a minute.
pub(super) fn recording_groups(deployment: &Deployment) -> Vec<RuleGroup> {
    let s = &Scope::rules(&deployment.selector);
    let objectives = objectives(deployment);
    let (short, long): (Vec<&str>, Vec<&str>) = WINDOWS
        .iter()
        .partition(|w| crate::config::parse_millis(w).unwrap_or(0) < 86_400_000);
    let windows = |windows: &[&str]| -> Vec<Rule> {
        let mut rules = Vec::new();
        for o in &objectives {
            let level = o.kind.level();
            for window in windows {
                rules.push(record(
                    names::ratio(level, window),
                    o.error_ratio(s, window),
                    o.labels(),
                    format!(
                        "{} SLI: the share of bad events over {window} (0..1), from {} summed \
                         across replicas; no sample without traffic.",
                        o.kind.title(),
                        o.source()
                    ),
                ));
                rules.push(record(
                    names::burn(level, window),
                    format!(
                        "{} / {}",
                        s.series(&names::ratio(level, window), "", &o.matcher()),
                        o.budget
                    ),
                    // Already on the ratio; set again so that promtool sees the rules of two
                    // objectives as two rules, not one recorded twice.
                    o.labels(),
                    format!(
                        "{} burn rate over {window}: the error ratio over the error budget \
                         ({}); 1 spends exactly the budget over the SLO window.",
                        o.kind.title(),
                        o.budget
                    ),
                ));
            }
        }
        rules
    };
    let mut short_rules = windows(&short);
    for o in &objectives {
        let mut labels = o.labels();
        labels.extend(
            deployment
                .selector
                .pairs()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        short_rules.push(record(
            names::OBJECTIVE.to_owned(),
            format!("vector({})", o.objective),
            labels,
            format!(
                "The {} objective ({}), for dashboards.",
                o.kind.title().to_lowercase(),
                o.objective
            ),
        ));
    }
    let mut long_rules = windows(&long);
    for o in &objectives {
        let level = o.kind.level();
        long_rules.push(record(
            names::budget_remaining(level),
            format!(
                "1 - (\n  {}\n) / {}",
                o.error_ratio(s, o.window.as_str()),
                o.budget
            ),
            o.labels(),
            format!(
                "{} error budget remaining over {}: 1 is untouched, 0 spent, below 0 overspent.",
                o.kind.title(),
                o.window
            ),
        ));
    }
    vec![
        RuleGroup {
            name: "gatewayz-slo-recording",
            interval: None,
            rules: short_rules,
        },
        RuleGroup {
            name: "gatewayz-slo-recording-long",
            interval: Some("1m"),
            rules: long_rules,
        },
    ]
}

/// `(long > f and short > f) or (...)` for `pairs`, on `objective`'s burn rates.
pub(crate) fn burn_expr(s: &Scope, objective: &Objective, pairs: &[BurnWindows]) -> String {
    let level = objective.kind.level();
    let burn = |window: &str| s.series(&names::burn(level, window), "", &objective.matcher());
    pairs
        .iter()
        .map(|p| {
            format!(
                "(\n  {} > {}\n  and {} > {}\n)",
                burn(p.long),
                p.factor,
                burn(p.short),
                p.factor
            )
        })
        .collect::<Vec<_>>()
        .join("\nor\n")
}

/// Page or ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Wakes someone up: critical.
    Page,
    /// Needs attention within a working day: warning.
    Ticket,
}

impl Urgency {
    /// The `urgency` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Page => "page",
            Urgency::Ticket => "ticket",
        }
    }

    /// Its windows and factors.
    pub fn pairs(self) -> &'static [BurnWindows; 2] {
        match self {
            Urgency::Page => &PAGE,
            Urgency::Ticket => &TICKET,
        }
    }

    /// Its severity.
    pub fn severity(self) -> Severity {
        match self {
            Urgency::Page => Severity::Critical,
            Urgency::Ticket => Severity::Warning,
        }
    }
}

/// The SLO alert group: a page and a ticket per objective.
pub(super) fn alert_group(deployment: &Deployment) -> RuleGroup {
    let s = Scope::rules(&deployment.selector);
    let inputs = Inputs::new(&deployment.selector);
    let mut rules = Vec::new();
    for objective in objectives(deployment) {
        for urgency in [Urgency::Page, Urgency::Ticket] {
            rules.push(Rule::Alert(Box::new(burn_alert(
                deployment, &s, &inputs, &objective, urgency,
            ))));
        }
    }
    RuleGroup {
        name: "gatewayz-slo-alerts",
        interval: None,
        rules,
    }
}

/// What a burn-rate condition reads in words: `1h and 5m above 14.4×, or 6h and 30m above 6×`.
pub fn condition_in_words(urgency: Urgency) -> String {
    urgency
        .pairs()
        .iter()
        .map(|p| format!("{} and {} above {}×", p.long, p.short, p.factor))
        .collect::<Vec<_>>()
        .join(", or ")
}

fn burn_alert(
    deployment: &Deployment,
    s: &Scope,
    inputs: &Inputs,
    objective: &Objective,
    urgency: Urgency,
) -> AlertRule {
    let kind = objective.kind;
    let model = if kind == Kind::ModelAvailability {
        " of model {{ $labels.model }}"
    } else {
        ""
    };
    let what = match urgency {
        Urgency::Page => "fast enough to spend the month's budget in days: page",
        Urgency::Ticket => "faster than the budget allows: open a ticket",
    };
    let runbook = runbooks::render(
        kind.alert(),
        &[
            ("promise", objective.promise()),
            ("page", condition_in_words(Urgency::Page)),
            ("ticket", condition_in_words(Urgency::Ticket)),
            ("budget", percent(objective.budget)),
        ],
    );
    let pattern = &deployment.alerts.runbook_url;
    AlertRule {
        alert: kind.alert(),
        config_key: "slo",
        expr: burn_expr(s, objective, urgency.pairs()),
        for_: Duration::from_millis(0),
        keep_firing_for: None,
        severity: urgency.severity(),
        labels: vec![("urgency".to_owned(), urgency.as_str().to_owned())],
        summary: format!(
            "{} SLO{model}: error budget burning {{{{ $value | humanize }}}}× the sustainable rate",
            kind.title()
        ),
        description: format!(
            "The {} SLO{model} ({}) is burning its error budget {what} ({}; the value is the \
             long window's burn rate). Burn rate = error ratio / {}.",
            kind.title().to_lowercase(),
            objective.promise(),
            condition_in_words(urgency),
            objective.budget
        ),
        runbook_url: pattern
            .replace("{alert}", kind.alert())
            .replace("{anchor}", &kind.alert().to_lowercase()),
        runbook,
        thresholds: vec![(
            "burn rate (error ratio / budget)",
            condition_in_words(urgency),
        )],
        dashboard: dashboards::uid(deployment, Board::Slo),
        tests: burn_tests(inputs, objective, urgency),
    }
}

/// The minimal cases of a burn-rate alert: every event bad from the start fires the page (each
/// window holds only bad events: a burn rate of 1 / budget), four times the budget's rate
/// opens the ticket; no traffic, and a steady error ratio at half the budget's rate, keep both
/// quiet. The incident suite replays realistic incidents.
fn burn_tests(inputs: &Inputs, objective: &Objective, urgency: Urgency) -> Vec<AlertTest> {
    let minutes = 30;
    let eval = "25m".to_owned();
    // `per_minute` events a minute on each of two replicas, `bad` of them bad.
    let series = |per_minute: f64, bad: f64| -> Vec<InputSeries> {
        (0..2)
            .flat_map(|replica| {
                events(
                    inputs,
                    objective,
                    replica,
                    &Samples::steady(minutes, per_minute - bad),
                    &Samples::steady(minutes, bad),
                )
            })
            .collect()
    };
    let mut labels = inputs.labels();
    labels.push(("slo".to_owned(), objective.kind.key().to_owned()));
    if objective.kind == Kind::ModelAvailability {
        labels.push(("model".to_owned(), MODEL.to_owned()));
    }
    // 1000 events a minute: at the budget's own rate, a burn rate of 1 on every window.
    let at_budget = decimal(1000.0 * objective.budget);
    let (fires, value) = match urgency {
        Urgency::Page => (
            AlertTest {
                case: Case::Fires,
                step: Step::Minute,
                name: "every event bad from the start".to_owned(),
                series: series(60.0, 60.0),
                eval_time: eval.clone(),
                expected: Vec::new(),
            },
            1.0 / objective.budget,
        ),
        Urgency::Ticket => (
            AlertTest {
                case: Case::Fires,
                step: Step::Minute,
                name: format!(
                    "{} of the events bad: a burn rate of 4, a ticket and no page",
                    percent(4.0 * objective.budget)
                ),
                series: series(1000.0, 4.0 * at_budget),
                eval_time: eval.clone(),
                expected: Vec::new(),
            },
            (4.0 * at_budget / 1000.0) / objective.budget,
        ),
    };
    let mut expected = vec![Expected {
        labels: labels.clone(),
        value: humanize(value),
        severity: None,
    }];
    if urgency == Urgency::Page {
        // Every window burning at 1 / budget: the ticket's too (the page mutes it in
        // Alertmanager, not in Prometheus).
        expected.push(Expected {
            labels,
            value: humanize(value),
            severity: Some(Severity::Warning),
        });
    }
    vec![
        AlertTest { expected, ..fires },
        AlertTest {
            case: Case::ZeroTraffic,
            step: Step::Minute,
            name: "no traffic".to_owned(),
            series: series(0.0, 0.0),
            eval_time: eval.clone(),
            expected: Vec::new(),
        },
        AlertTest {
            case: Case::BelowThreshold,
            step: Step::Minute,
            name: format!(
                "{} of the events bad, half the budget's rate (burn rate 0.5)",
                percent(objective.budget / 2.0)
            ),
            series: series(1000.0, at_budget / 2.0),
            eval_time: eval,
            expected: Vec::new(),
        },
    ]
}

/// The model of the per-model cases.
pub(crate) const MODEL: &str = "gpt-4o-mini";

/// The input series of `objective`'s events on `replica`: `good` and `bad` events, counters.
pub(crate) fn events(
    inputs: &Inputs,
    objective: &Objective,
    replica: usize,
    good: &Samples,
    bad: &Samples,
) -> Vec<InputSeries> {
    match objective.kind {
        Kind::Availability => [("2xx", good), ("5xx", bad)]
            .into_iter()
            .map(|(class, values)| {
                inputs.metric(
                    &HTTP_REQUESTS,
                    replica,
                    &[
                        ("method", "POST"),
                        ("route", "/v1/chat/completions"),
                        ("status_class", class),
                    ],
                    values.notation(),
                )
            })
            .collect(),
        Kind::ModelAvailability => [("success", good), ("error", bad)]
            .into_iter()
            .map(|(status, values)| {
                inputs.metric(
                    &MODEL_REQUESTS,
                    replica,
                    &[("model", MODEL), ("status", status)],
                    values.notation(),
                )
            })
            .collect(),
        Kind::Latency => {
            // Good events in the threshold's bucket (and every one above), bad ones in +Inf
            // only; no sum (the rules do not read it).
            let threshold = objective.threshold_seconds.unwrap_or_default();
            let total = good.plus(bad);
            let none = Samples::steady(good.minutes(), 0.0);
            let pair = [("provider", "openrouter"), ("model", MODEL)];
            let mut out: Vec<InputSeries> = TIME_TO_FIRST_TOKEN
                .buckets
                .iter()
                .map(|le| {
                    let values = if *le >= threshold { good } else { &none };
                    (format!("{le}"), values)
                })
                .chain([("+Inf".to_owned(), &total)])
                .map(|(le, values)| {
                    let mut labels = pair.to_vec();
                    labels.push(("le", &le));
                    inputs.input(
                        &format!("{}_bucket", TIME_TO_FIRST_TOKEN.name),
                        replica,
                        &labels,
                        values.notation(),
                    )
                })
                .collect();
            out.push(inputs.input(
                &format!("{}_count", TIME_TO_FIRST_TOKEN.name),
                replica,
                &pair,
                total.notation(),
            ));
            out
        }
    }
}
