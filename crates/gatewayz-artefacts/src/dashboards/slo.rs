//! Service Levels: per objective, the error budget left, the burn rate over every alert
//! window, the SLI over time against the objective, and the state of the burn-rate alerts.
//!
//! Budgets and burn rates come from the SLO recording rules (a budget over 30 days cannot be
//! computed at every refresh), which are fleet-wide: those panels ignore `$instance`. The SLI
//! over time is computed live from the counters over `$__rate_interval`, so it follows
//! `$instance` too.

use gatewayz_catalogue::{HTTP_REQUESTS, MODEL_REQUESTS, TIME_TO_FIRST_TOKEN};

use super::{
    Board, Context, Dashboard, Layout, Panel, RATE, Unit, bargauge, stat, state_timeline, target,
    timeseries,
};
use crate::{
    config::{PAGE, TICKET, WINDOWS},
    expr::{Scope, and, ratio},
    rules::slo::{Kind, Objective, Urgency, names, objectives},
};

/// The model variable's matcher.
const BY_MODEL: &str = r#"model=~"$model""#;

/// The SLI (good events over all) over `$__rate_interval`, live from the counters.
fn sli(s: &Scope, objective: &Objective, extra: &str) -> String {
    let by = objective.kind.by();
    match objective.kind {
        Kind::Availability | Kind::ModelAvailability => {
            let (def, api, good) = match objective.kind {
                Kind::Availability => (
                    &HTTP_REQUESTS,
                    format!(
                        "route=~\"{}\"",
                        objective.routes.as_deref().unwrap_or_default()
                    ),
                    r#"status_class!="5xx""#,
                ),
                _ => (&MODEL_REQUESTS, String::new(), r#"status="success""#),
            };
            let api = and(&[&api, extra]);
            ratio(
                &s.sum_rate(def, by, &and(&[&api, good]), RATE),
                &s.sum_rate(def, by, &api, RATE),
            )
        }
        Kind::Latency => {
            let le = format!("le=\"{}\"", objective.le().unwrap_or_default());
            let rate = |suffix: &str, matchers: &str| {
                s.agg(
                    "sum",
                    by,
                    &format!(
                        "rate({}[{RATE}])",
                        s.series(TIME_TO_FIRST_TOKEN.name, suffix, matchers)
                    ),
                )
            };
            ratio(
                &rate("_bucket", &and(&[&le, extra])),
                &rate("_count", extra),
            )
        }
    }
}

/// Colours of an error budget: red when spent, orange under a quarter, green above.
const BUDGET_COLOURS: [(f64, &str); 2] = [(0.0, "orange"), (0.25, "green")];

fn row_title(objective: &Objective) -> String {
    format!("{}: {}", objective.kind.title(), objective.promise())
}

/// The burn-rate alert's state: 1 while firing, 0 otherwise, for the page and the ticket.
fn alerts_panel(cx: &Context, objective: &Objective) -> Panel {
    let f = &cx.fleet;
    let alert = objective.kind.alert();
    let model = if objective.kind == Kind::ModelAvailability {
        BY_MODEL
    } else {
        ""
    };
    state_timeline(
        "Burn-rate alerts",
        &format!(
            "{alert}: the page ({}) and the ticket ({}), firing or not, from Prometheus's ALERTS \
             series.",
            crate::rules::slo::condition_in_words(Urgency::Page),
            crate::rules::slo::condition_in_words(Urgency::Ticket),
        ),
        [Urgency::Page, Urgency::Ticket]
            .into_iter()
            .map(|urgency| {
                target(
                    format!(
                        "max({}) or vector(0)",
                        f.series(
                            "ALERTS",
                            "",
                            &and(&[
                                &format!(
                                    "alertname=\"{alert}\", alertstate=\"firing\", urgency=\"{}\"",
                                    urgency.as_str()
                                ),
                                model
                            ])
                        )
                    ),
                    urgency.as_str(),
                )
            })
            .collect(),
    )
    .mappings(&[(0, "ok", "green"), (1, "firing", "red")])
    .size(24, 5)
}

fn burn_panel(cx: &Context, objective: &Objective) -> Panel {
    let f = &cx.fleet;
    let level = objective.kind.level();
    let (by, legend, extra) = match objective.kind {
        Kind::ModelAvailability => ("model", "{{model}} ", BY_MODEL),
        _ => ("", "", ""),
    };
    let thresholds: Vec<String> = PAGE
        .iter()
        .chain(&TICKET)
        .map(|p| format!("{}× over {} and {}", p.factor, p.long, p.short))
        .collect();
    timeseries(
        "Burn rate by window",
        Unit::Times,
        &format!(
            "The error ratio over each window divided by the error budget ({}): 1 spends the \
             budget exactly over {}. The alerts compare pairs of windows: {}.",
            objective.budget,
            objective.window,
            thresholds.join("; ")
        ),
        WINDOWS
            .iter()
            .map(|window| {
                let series = f.series(
                    &names::burn(level, window),
                    "",
                    &and(&[&objective.matcher(), extra]),
                );
                let expr = if by.is_empty() {
                    series
                } else {
                    format!("max by ({by}) ({series})")
                };
                target(expr, &format!("{legend}{window}"))
            })
            .collect(),
    )
    .thresholds("green", &[(1.0, "orange"), (TICKET[0].factor, "red")])
}

pub(super) fn dashboard(cx: &Context) -> Dashboard {
    let s = &cx.scope;
    let f = &cx.fleet;
    let mut layout = Layout::new();
    for objective in objectives(cx.deployment) {
        let level = objective.kind.level();
        let matcher = objective.matcher();
        layout.row(&row_title(&objective));
        let budget_help = format!(
            "The share of the error budget ({} of the events over {}) not yet spent: 100% \
             untouched, 0 spent, below 0 overspent. From the SLO recording rules, the whole \
             fleet.",
            crate::rules::slo::percent(objective.budget),
            objective.window
        );
        if objective.kind == Kind::ModelAvailability {
            layout.add(
                bargauge(
                    "Error budget remaining by model",
                    Unit::PercentUnit,
                    &budget_help,
                    vec![target(
                        format!(
                            "sort(max by (model) ({}))",
                            f.series(
                                &names::budget_remaining(level),
                                "",
                                &and(&[&matcher, BY_MODEL])
                            )
                        ),
                        "{{model}}",
                    )],
                )
                .range(-1.0, 1.0)
                .thresholds("red", &BUDGET_COLOURS),
            );
        } else {
            layout.add(
                stat(
                    "Error budget remaining",
                    Unit::PercentUnit,
                    &budget_help,
                    vec![target(
                        f.series(&names::budget_remaining(level), "", &matcher),
                        "",
                    )],
                )
                .range(-1.0, 1.0)
                .thresholds("red", &BUDGET_COLOURS)
                .size(6, 8),
            );
            layout.add(
                stat(
                    "Objective",
                    Unit::PercentUnit,
                    &format!(
                        "The promise: {}. From the objective's recorded constant.",
                        objective.promise()
                    ),
                    vec![target(f.series(names::OBJECTIVE, "", &matcher), "")],
                )
                .size(6, 8),
            );
        }
        // The model variable filters the series that have a model: the per-model objective's,
        // and the latency SLI's (time to first token is recorded per model).
        let extra = match objective.kind {
            Kind::Availability => "",
            Kind::Latency | Kind::ModelAvailability => BY_MODEL,
        };
        layout.add(burn_panel(cx, &objective).size(12, 8));
        let legend = if objective.kind == Kind::ModelAvailability {
            "{{model}}"
        } else {
            "SLI"
        };
        layout.add(
            timeseries(
                "SLI over time",
                Unit::PercentUnit,
                &format!(
                    "The share of good events over the rate interval, live from {} (follows the \
                     instance filter{}), against the objective ({}).",
                    objective.source(),
                    if extra.is_empty() {
                        ""
                    } else {
                        " and the model filter"
                    },
                    crate::rules::slo::percent(objective.objective)
                ),
                vec![
                    target(sli(s, &objective, extra), legend),
                    target(
                        format!("max({})", f.series(names::OBJECTIVE, "", &matcher)),
                        "objective",
                    ),
                ],
            )
            .size(12, 8)
            .range(0.0, 1.0),
        );
        layout.add(alerts_panel(cx, &objective).size(12, 8));
    }
    cx.dashboard(
        Board::Slo,
        vec![cx.requested_model_variable()],
        cx.detail_links(),
        layout.finish(),
    )
}
