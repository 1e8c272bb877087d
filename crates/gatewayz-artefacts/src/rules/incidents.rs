//! The incident suite: whole incidents replayed against the rules with `promtool test rules`,
//! each on three replicas with steady traffic and six hours of healthy history (so that every
//! page window holds real history, as in production), asserting when each alert fires and when
//! it resolves.
//!
//! For every incident the generator computes, from the same input series and the configured
//! objectives, thresholds and `for`s, the minute at which each watched alert changes state
//! (the `timeline` module: the few PromQL functions and the alert state machine the rules
//! need); the promtool cases then check the minute before every change and the minute of it,
//! and every few minutes between, so a rule that fires a minute earlier or later, resolves in
//! the middle of one incident or fires twice fails the suite.
//! The alerts an incident must not raise are checked at the same minutes. `docs/alerts.md`
//! shows the table: each incident, what it must do, and the measured time to page.

use std::collections::{BTreeMap, BTreeSet};

use gatewayz_catalogue::{
    BUILD_INFO, CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRANSITIONS, COST_USD, CircuitState,
    ClosedValue, HTTP_REQUESTS, HealthStatus, MODEL_INFERENCE_REQUESTS, MODEL_REQUESTS, MetricDef,
    PROVIDER_HEALTH_SCORE, PROVIDER_RESPONSE_TIME, PROVIDER_STATUS,
};

use super::{
    AlertRule, Expected, InputSeries, Inputs, Severity, Step, expected_yaml,
    humanize::{humanize, humanize_percentage},
    samples::Samples,
    slo::{self, Kind, Objective},
    timeline::{self, Events, alert_states, changes},
};
use crate::{
    Deployment,
    config::{PAGE, TICKET},
    yaml::Yaml,
};

/// Gateway replicas in every incident.
const REPLICAS: usize = 3;
/// Minutes of healthy traffic before an incident: the longest page window.
const PREAMBLE: usize = 360;
/// Client requests a minute on each replica.
const PER_MINUTE: f64 = 600.0;
/// The share of them for the model the incidents take down.
const MODEL_SHARE: f64 = 0.2;
/// The model that only one provider serves, and that provider.
const SOLE_MODEL: &str = "gpt-4o-mini";
const SOLE_PROVIDER: &str = "openai";
/// A model two providers serve: failover hides either's outage.
const SHARED_MODEL: &str = "claude-3.5-sonnet";
const SHARED_PROVIDERS: [&str; 2] = ["anthropic", "openrouter"];
/// Client API routes the generator tries against `slo.availability.routes`.
const ROUTES: [&str; 4] = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
];

/// One incident and what the rules did with it.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Short name, for its test file: `incident-<slug>.yml`.
    pub slug: &'static str,
    /// What happens, as the table says it.
    pub title: String,
    /// What the alerts must do.
    pub must: &'static str,
    /// The step at which the incident starts (its first bad step ends at `start + 1`).
    pub start: usize,
    /// The step at which it ends.
    pub end: usize,
    /// Each watched alert's firing periods, in steps from the start of the input.
    pub outcomes: Vec<Outcome>,
    /// Alerts that must stay quiet throughout (besides the watched ones that never fire).
    pub quiet: Vec<&'static str>,
    /// How often its series are sampled and the rules evaluated.
    pub step: Step,
    minutes: usize,
    series: Vec<InputSeries>,
    watched: Vec<Watched>,
}

/// What one alert did during an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The alert's name.
    pub alert: &'static str,
    /// Its severity (page: critical).
    pub severity: Severity,
    /// `(fired at, resolved at)` in minutes from the start of the input; resolved `None`
    /// while still firing at the end.
    pub periods: Vec<(usize, Option<usize>)>,
}

impl Incident {
    /// Minutes from the incident's start to its first page, if it paged.
    pub fn time_to_page(&self) -> Option<usize> {
        self.first(Severity::Critical)
    }

    /// Minutes from the incident's start to the first alert of `severity`.
    pub fn first(&self, severity: Severity) -> Option<usize> {
        self.outcomes
            .iter()
            .filter(|o| o.severity == severity)
            .filter_map(|o| o.periods.first().map(|p| p.0))
            .min()
            .map(|t| (t * self.step.minutes()).saturating_sub(self.start * self.step.minutes()))
    }

    /// The alerts that fired, in words: `GatewayzX (critical) +3 min, resolved 12 min after
    /// the end`.
    pub fn results(&self) -> Vec<String> {
        let minutes = |steps: usize| steps * self.step.minutes();
        let mut out = Vec::new();
        for outcome in &self.outcomes {
            for (fired, resolved) in &outcome.periods {
                let since = minutes(*fired) as i64 - minutes(self.start) as i64;
                let after = match resolved {
                    Some(r) => format!(
                        "resolved {} min after the end",
                        minutes(*r) as i64 - minutes(self.end) as i64
                    ),
                    None => "still firing at the end of the replay".to_owned(),
                };
                out.push(format!(
                    "`{}` ({}) at {:+} min, {after}",
                    outcome.alert,
                    outcome.severity.as_str(),
                    since
                ));
            }
        }
        out
    }
}

/// An alert the incident watches: its rule, labels and state at every step.
#[derive(Debug, Clone)]
struct Watched {
    alert: &'static str,
    severity: Severity,
    labels: Vec<(String, String)>,
    states: Vec<Option<f64>>,
    render: fn(f64) -> String,
}

/// Everything the incidents of one deployment share.
struct Suite<'a> {
    deployment: &'a Deployment,
    inputs: Inputs,
    objectives: Vec<Objective>,
    /// The route client traffic uses: one the availability objective counts, if any.
    route: &'static str,
    /// Whether `slo.availability.routes` matches it.
    counted: bool,
}

/// A counter or gauge of the input, with its samples kept for the timeline.
struct Series {
    input: InputSeries,
    samples: Samples,
}

impl Suite<'_> {
    fn series(
        &self,
        name: &str,
        replica: usize,
        labels: &[(&str, &str)],
        samples: Samples,
    ) -> Series {
        Series {
            input: self.inputs.input(name, replica, labels, samples.notation()),
            samples,
        }
    }

    fn http(&self, replica: usize, class: &str, samples: Samples) -> Series {
        self.series(
            HTTP_REQUESTS.name,
            replica,
            &[
                ("method", "POST"),
                ("route", self.route),
                ("status_class", class),
            ],
            samples,
        )
    }

    fn model_requests(&self, replica: usize, model: &str, status: &str, s: Samples) -> Series {
        self.series(
            MODEL_REQUESTS.name,
            replica,
            &[("model", model), ("status", status)],
            s,
        )
    }

    fn attempts(
        &self,
        replica: usize,
        provider: &str,
        model: &str,
        status: &str,
        s: Samples,
    ) -> Series {
        self.series(
            MODEL_INFERENCE_REQUESTS.name,
            replica,
            &[("provider", provider), ("model", model), ("status", status)],
            s,
        )
    }

    /// The one-hot status series of `provider` on `replica`, `status(minute)` being 1.
    fn status(
        &self,
        replica: usize,
        provider: &str,
        minutes: usize,
        status: impl Fn(usize) -> HealthStatus,
    ) -> Vec<Series> {
        self.one_hot(
            (&PROVIDER_STATUS, "status"),
            replica,
            provider,
            minutes,
            status,
        )
    }

    /// The one-hot circuit state series of `provider` on `replica`.
    fn circuit(
        &self,
        replica: usize,
        provider: &str,
        minutes: usize,
        state: impl Fn(usize) -> CircuitState,
    ) -> Vec<Series> {
        self.one_hot(
            (&CIRCUIT_BREAKER_STATE, "state"),
            replica,
            provider,
            minutes,
            state,
        )
    }

    /// One series per value of a closed label of `provider` on `replica`, as the recorder
    /// exposes a status: the series of `current(minute)` is 1, every other 0.
    fn one_hot<V: ClosedValue>(
        &self,
        (metric, label): (&MetricDef, &str),
        replica: usize,
        provider: &str,
        minutes: usize,
        current: impl Fn(usize) -> V,
    ) -> Vec<Series> {
        V::ALL
            .iter()
            .map(|&value| {
                self.series(
                    metric.name,
                    replica,
                    &[("provider", provider), (label, value.as_str())],
                    Samples::gauge(minutes, |m| {
                        Some(if current(m) == value { 1.0 } else { 0.0 })
                    }),
                )
            })
            .collect()
    }

    fn objective(&self, kind: Kind) -> &Objective {
        self.objectives
            .iter()
            .find(|o| o.kind == kind)
            .expect("every objective is configured")
    }

    /// The page and the ticket of `kind` over `events`, with `labels` (the objective's `slo`
    /// added).
    fn burn_alerts(
        &self,
        kind: Kind,
        events: &Events,
        (steps, step): (usize, Step),
        labels: &[(&str, &str)],
    ) -> Vec<Watched> {
        let objective = self.objective(kind);
        let budget = objective.budget;
        let mut all_labels = self.inputs.labels();
        all_labels.push(("slo".to_owned(), kind.key().to_owned()));
        all_labels.extend(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        [(Severity::Critical, PAGE), (Severity::Warning, TICKET)]
            .into_iter()
            .map(|(severity, pairs)| {
                let values: Vec<Option<f64>> = (0..=steps)
                    .map(|t| {
                        pairs.iter().find_map(|pair| {
                            let long = events.burn(t, pair.long, budget, step.minutes())?;
                            let short = events.burn(t, pair.short, budget, step.minutes())?;
                            (long > pair.factor && short > pair.factor).then_some(long)
                        })
                    })
                    .collect();
                Watched {
                    alert: kind.alert(),
                    severity,
                    labels: all_labels.clone(),
                    states: alert_states(&values, 0, 0),
                    render: humanize,
                }
            })
            .collect()
    }

    /// `GatewayzProviderUnavailable` of `provider`, both rules: the share of judging replicas
    /// calling it unavailable at each minute, whether a model it served in the last hour burns
    /// its budget at the page rate over the short window.
    fn provider_unavailable(
        &self,
        provider: &str,
        status: &dyn Fn(usize, usize) -> HealthStatus,
        served: &[&Samples],
        model: &Events,
        minutes: usize,
    ) -> Vec<Watched> {
        let config = &self.deployment.alerts.provider_unavailable;
        let budget = self.objective(Kind::ModelAvailability).budget;
        let fast = PAGE[0];
        let share = |t: usize| {
            let judged: Vec<HealthStatus> = (0..REPLICAS)
                .map(|r| status(r, t))
                .filter(|s| *s != HealthStatus::Unknown)
                .collect();
            let unavailable = judged
                .iter()
                .filter(|s| **s == HealthStatus::Unavailable)
                .count();
            (!judged.is_empty()).then(|| unavailable as f64 / judged.len() as f64)
        };
        let felt = |t: usize| {
            timeline::increase(served, t, 60).is_some_and(|n| n > 0.0)
                && model
                    .burn(t, fast.short, budget, 1)
                    .is_some_and(|b| b > fast.factor)
        };
        let mut labels = self.inputs.labels();
        labels.push(("provider".to_owned(), provider.to_owned()));
        let for_minutes = (config.for_.millis() / 60_000) as usize;
        let keep = (config.keep_firing_for.millis() / 60_000) as usize;
        [Severity::Critical, Severity::Warning]
            .into_iter()
            .map(|severity| {
                let values: Vec<Option<f64>> = (0..=minutes)
                    .map(|t| {
                        share(t).filter(|s| {
                            *s >= config.replica_share
                                && felt(t) == (severity == Severity::Critical)
                        })
                    })
                    .collect();
                Watched {
                    alert: "GatewayzProviderUnavailable",
                    severity,
                    labels: labels.clone(),
                    states: alert_states(&values, for_minutes, keep),
                    render: humanize_percentage,
                }
            })
            .collect()
    }
}

/// Per-replica counters growing by `per_minute`, by `bad(minute)` minutes.
fn split(
    minutes: usize,
    per_minute: f64,
    share: f64,
    bad: &dyn Fn(usize) -> bool,
) -> (Samples, Samples) {
    (
        Samples::counter(minutes, |m| {
            if bad(m) {
                per_minute - per_minute * share
            } else {
                per_minute
            }
        }),
        Samples::counter(minutes, |m| if bad(m) { per_minute * share } else { 0.0 }),
    )
}

/// One counter's (good, bad) series on every replica.
type Pairs = Vec<(Series, Series)>;

/// Every replica's client-facing counters when each request for `model` fails while `down`:
/// the model's share of the HTTP answers is 5xx then, and each of its client requests an
/// error. Outside `down` everything succeeds.
fn model_clients(
    suite: &Suite,
    minutes: usize,
    model: &str,
    down: &dyn Fn(usize) -> bool,
) -> (Pairs, Pairs) {
    let model_rpm = PER_MINUTE * MODEL_SHARE;
    let http = (0..REPLICAS)
        .map(|r| {
            let (good, failed) = split(minutes, PER_MINUTE, MODEL_SHARE, down);
            (suite.http(r, "2xx", good), suite.http(r, "5xx", failed))
        })
        .collect();
    let requests = (0..REPLICAS)
        .map(|r| {
            let (good, failed) = split(minutes, model_rpm, 1.0, down);
            (
                suite.model_requests(r, model, "success", good),
                suite.model_requests(r, model, "error", failed),
            )
        })
        .collect();
    (http, requests)
}

/// Builds an incident from its series, watched alerts and quiet ones, sampled every minute.
fn incident(
    slug: &'static str,
    title: String,
    must: &'static str,
    (start, end, minutes): (usize, usize, usize),
    series: Vec<Series>,
    watched: Vec<Watched>,
    quiet: Vec<&'static str>,
) -> Incident {
    let outcomes = watched
        .iter()
        .map(|w| {
            let mut periods = Vec::new();
            for (t, firing) in changes(&w.states) {
                if firing {
                    periods.push((t, None));
                } else if let Some(last) = periods.last_mut() {
                    last.1 = Some(t);
                }
            }
            Outcome {
                alert: w.alert,
                severity: w.severity,
                periods,
            }
        })
        .collect();
    Incident {
        slug,
        title,
        must,
        start,
        end,
        outcomes,
        quiet,
        step: Step::Minute,
        minutes,
        series: series.into_iter().map(|s| s.input).collect(),
        watched,
    }
}

/// Every incident of the suite, for `deployment`.
pub fn incidents(deployment: &Deployment) -> Vec<Incident> {
    let regex = regex_lite::Regex::new(&format!("^(?:{})$", deployment.slo.availability.routes));
    let route = ROUTES
        .into_iter()
        .find(|r| regex.as_ref().is_ok_and(|re| re.is_match(r)));
    let suite = Suite {
        deployment,
        inputs: Inputs::new(&deployment.selector),
        objectives: slo::objectives(deployment),
        route: route.unwrap_or(ROUTES[0]),
        counted: route.is_some(),
    };
    let budget = suite.objective(Kind::Availability).budget;
    vec![
        client_failures(
            &suite,
            ("all-requests-fail", "100% of client requests fail"),
            1.0,
            20,
            "page within 5 minutes",
        ),
        client_failures(
            &suite,
            ("a-fifth-fail", "20% fail"),
            0.2,
            30,
            "page within 10 minutes",
        ),
        client_failures(
            &suite,
            ("three-percent-fail", "3% fail"),
            0.03,
            70,
            "page within 60 minutes",
        ),
        budget_rate(&suite, budget / 2.0),
        model_outage(&suite),
        hidden_provider_outage(&suite),
        provider_flapping(&suite),
        circuit_flapping(&suite),
        traffic_stops(&suite),
        replica_unscraped(&suite),
        spend_doubles(&suite),
        watchdog(&suite),
    ]
}

/// The availability objective's events over the client series of `http`.
fn availability<'a>(suite: &Suite, http: &'a [(Series, Series)]) -> Events<'a> {
    if !suite.counted {
        return Events {
            bad: Vec::new(),
            total: Vec::new(),
        };
    }
    Events {
        bad: http.iter().map(|(_, bad)| &bad.samples).collect(),
        total: http
            .iter()
            .flat_map(|(good, bad)| [&good.samples, &bad.samples])
            .collect(),
    }
}

fn model_events(requests: &[(Series, Series)]) -> Events<'_> {
    Events {
        bad: requests.iter().map(|(_, bad)| &bad.samples).collect(),
        total: requests
            .iter()
            .flat_map(|(good, bad)| [&good.samples, &bad.samples])
            .collect(),
    }
}

fn flatten(pairs: Vec<(Series, Series)>) -> Vec<Series> {
    pairs.into_iter().flat_map(|(a, b)| [a, b]).collect()
}

/// A share of every client request fails for `duration` minutes, after six healthy hours.
fn client_failures(
    suite: &Suite,
    (slug, title): (&'static str, &str),
    share: f64,
    duration: usize,
    must: &'static str,
) -> Incident {
    let (start, end) = (PREAMBLE, PREAMBLE + duration);
    let minutes = end + 45;
    let bad = |m: usize| m > start && m <= end;
    let http: Vec<(Series, Series)> = (0..REPLICAS)
        .map(|r| {
            let (good, failed) = split(minutes, PER_MINUTE, share, &bad);
            (suite.http(r, "2xx", good), suite.http(r, "5xx", failed))
        })
        .collect();
    let watched = suite.burn_alerts(
        Kind::Availability,
        &availability(suite, &http),
        (minutes, Step::Minute),
        &[],
    );
    incident(
        slug,
        format!("{title} (for {duration} minutes)"),
        must,
        (start, end, minutes),
        flatten(http),
        watched,
        Vec::new(),
    )
}

/// Half the error budget's rate for a whole day: never a page, never a ticket. Sampled every
/// five minutes: a day of minutes is the slowest case of the suite, and a steady rate has
/// nothing to show between them.
fn budget_rate(suite: &Suite, share: f64) -> Incident {
    let step = Step::FiveMinutes;
    let steps = 24 * 60 / step.minutes();
    let per_step = PER_MINUTE * step.minutes() as f64;
    let http: Vec<(Series, Series)> = (0..REPLICAS)
        .map(|r| {
            let (good, failed) = split(steps, per_step, share, &|_| true);
            (suite.http(r, "2xx", good), suite.http(r, "5xx", failed))
        })
        .collect();
    let watched = suite.burn_alerts(
        Kind::Availability,
        &availability(suite, &http),
        (steps, step),
        &[],
    );
    Incident {
        step,
        ..incident(
            "half-the-budget-for-a-day",
            format!(
                "{} fail for a day (half the budget's rate)",
                slo::percent(share)
            ),
            "never page, never ticket",
            (0, steps, steps),
            flatten(http),
            watched,
            Vec::new(),
        )
    }
}

/// The sole provider of a model fails every call for 30 minutes: its clients get errors.
fn model_outage(suite: &Suite) -> Incident {
    let (start, end) = (PREAMBLE, PREAMBLE + 30);
    let minutes = end + 45;
    let down = |m: usize| m > start && m <= end;
    let model_rpm = PER_MINUTE * MODEL_SHARE;
    let (http, requests) = model_clients(suite, minutes, SOLE_MODEL, &down);
    // The circuit opens after five failed calls, then only its probes reach the provider.
    let attempts: Vec<(Series, Series)> = (0..REPLICAS)
        .map(|r| {
            let ok = Samples::counter(minutes, |m| if down(m) { 0.0 } else { model_rpm });
            let failed = Samples::counter(minutes, |m| match m {
                _ if m == start + 1 => 5.0,
                _ if down(m) => 1.0,
                _ => 0.0,
            });
            (
                suite.attempts(r, SOLE_PROVIDER, SOLE_MODEL, "success", ok),
                suite.attempts(r, SOLE_PROVIDER, SOLE_MODEL, "error", failed),
            )
        })
        .collect();
    // Judged unavailable from the first bad minute, healthy a minute after the recovery
    // (its next probe succeeds).
    let status = |_: usize, m: usize| {
        if m > start && m <= end + 1 {
            HealthStatus::Unavailable
        } else {
            HealthStatus::Healthy
        }
    };
    let mut series: Vec<Series> = (0..REPLICAS)
        .flat_map(|r| suite.status(r, SOLE_PROVIDER, minutes, |m| status(r, m)))
        .collect();
    let served: Vec<&Samples> = attempts
        .iter()
        .flat_map(|(a, b)| [&a.samples, &b.samples])
        .collect();
    let model = model_events(&requests);
    let mut watched = suite.burn_alerts(
        Kind::ModelAvailability,
        &model,
        (minutes, Step::Minute),
        &[("model", SOLE_MODEL)],
    );
    watched.extend(suite.provider_unavailable(SOLE_PROVIDER, &status, &served, &model, minutes));
    watched.extend(suite.burn_alerts(
        Kind::Availability,
        &availability(suite, &http),
        (minutes, Step::Minute),
        &[],
    ));
    drop(served);
    series.extend(flatten(http));
    series.extend(flatten(requests));
    series.extend(flatten(attempts));
    incident(
        "model-outage",
        format!(
            "one model's every provider fails (`{SOLE_MODEL}`, {}% of the traffic, served by \
             `{SOLE_PROVIDER}` alone, down for 30 minutes)",
            MODEL_SHARE * 100.0
        ),
        "page within 5 minutes",
        (start, end, minutes),
        series,
        watched,
        Vec::new(),
    )
}

/// One of a model's two providers is down for 30 minutes; failover answers every client.
fn hidden_provider_outage(suite: &Suite) -> Incident {
    let (start, end) = (PREAMBLE, PREAMBLE + 30);
    let minutes = end + 30;
    let down = |m: usize| m > start && m <= end;
    let model_rpm = PER_MINUTE * MODEL_SHARE;
    let [failing, backup] = SHARED_PROVIDERS;
    let (http, requests) = model_clients(suite, minutes, SHARED_MODEL, &|_| false);
    // The failing provider took half the model's traffic; five failures open its circuit,
    // then its probes fail once a minute, and the backup answers everything.
    let attempts: Vec<Series> = (0..REPLICAS)
        .flat_map(|r| {
            let half = model_rpm / 2.0;
            [
                suite.attempts(
                    r,
                    failing,
                    SHARED_MODEL,
                    "success",
                    Samples::counter(minutes, |m| if down(m) { 0.0 } else { half }),
                ),
                suite.attempts(
                    r,
                    failing,
                    SHARED_MODEL,
                    "error",
                    Samples::counter(minutes, |m| match m {
                        _ if m == start + 1 => 5.0,
                        _ if down(m) => 1.0,
                        _ => 0.0,
                    }),
                ),
                suite.attempts(
                    r,
                    backup,
                    SHARED_MODEL,
                    "success",
                    Samples::counter(minutes, |m| if down(m) { model_rpm } else { half }),
                ),
            ]
        })
        .collect();
    let status = |_: usize, m: usize| {
        if m > start && m <= end + 1 {
            HealthStatus::Unavailable
        } else {
            HealthStatus::Healthy
        }
    };
    let mut series: Vec<Series> = (0..REPLICAS)
        .flat_map(|r| suite.status(r, failing, minutes, |m| status(r, m)))
        .collect();
    let served: Vec<&Samples> = attempts
        .iter()
        .filter(|s| s.input.series.contains(&format!("provider=\"{failing}\"")))
        .map(|s| &s.samples)
        .collect();
    let model = model_events(&requests);
    let mut watched = suite.provider_unavailable(failing, &status, &served, &model, minutes);
    watched.extend(suite.burn_alerts(
        Kind::ModelAvailability,
        &model,
        (minutes, Step::Minute),
        &[("model", SHARED_MODEL)],
    ));
    watched.extend(suite.burn_alerts(
        Kind::Availability,
        &availability(suite, &http),
        (minutes, Step::Minute),
        &[],
    ));
    drop(served);
    series.extend(flatten(http));
    series.extend(flatten(requests));
    series.extend(attempts);
    incident(
        "hidden-provider-outage",
        format!(
            "provider down, failover hides it from clients (`{failing}` down for 30 minutes, \
             `{backup}` answers `{SHARED_MODEL}`)"
        ),
        "warning, no page",
        (start, end, minutes),
        series,
        watched,
        Vec::new(),
    )
}

/// The sole provider of a model down four minutes, up two, for an hour.
fn provider_flapping(suite: &Suite) -> Incident {
    let (start, end) = (PREAMBLE, PREAMBLE + 60);
    let minutes = end + 60;
    let down = |m: usize| m > start && m <= end && (m - start - 1) % 6 < 4;
    let model_rpm = PER_MINUTE * MODEL_SHARE;
    let (http, requests) = model_clients(suite, minutes, SOLE_MODEL, &down);
    let attempts: Vec<(Series, Series)> = (0..REPLICAS)
        .map(|r| {
            (
                suite.attempts(
                    r,
                    SOLE_PROVIDER,
                    SOLE_MODEL,
                    "success",
                    Samples::counter(minutes, |m| if down(m) { 0.0 } else { model_rpm }),
                ),
                suite.attempts(
                    r,
                    SOLE_PROVIDER,
                    SOLE_MODEL,
                    "error",
                    Samples::counter(minutes, |m| if down(m) { 3.0 } else { 0.0 }),
                ),
            )
        })
        .collect();
    let status = |_: usize, m: usize| {
        if down(m) {
            HealthStatus::Unavailable
        } else {
            HealthStatus::Healthy
        }
    };
    let mut series: Vec<Series> = (0..REPLICAS)
        .flat_map(|r| suite.status(r, SOLE_PROVIDER, minutes, |m| status(r, m)))
        .collect();
    let served: Vec<&Samples> = attempts
        .iter()
        .flat_map(|(a, b)| [&a.samples, &b.samples])
        .collect();
    let model = model_events(&requests);
    let mut watched = suite.provider_unavailable(SOLE_PROVIDER, &status, &served, &model, minutes);
    watched.extend(suite.burn_alerts(
        Kind::ModelAvailability,
        &model,
        (minutes, Step::Minute),
        &[("model", SOLE_MODEL)],
    ));
    watched.extend(suite.burn_alerts(
        Kind::Availability,
        &availability(suite, &http),
        (minutes, Step::Minute),
        &[],
    ));
    drop(served);
    series.extend(flatten(http));
    series.extend(flatten(requests));
    series.extend(flatten(attempts));
    incident(
        "provider-flapping",
        format!(
            "provider flaps 4 min down / 2 min up for an hour (`{SOLE_PROVIDER}`, sole provider \
             of `{SOLE_MODEL}`)"
        ),
        "one page, resolved once after it ends",
        (start, end, minutes),
        series,
        watched,
        Vec::new(),
    )
}

/// A provider's circuit closes for one minute in ten, for an hour; failover hides it.
fn circuit_flapping(suite: &Suite) -> Incident {
    let (start, end) = (60, 120);
    let minutes = end + 45;
    let provider = SHARED_PROVIDERS[0];
    let during = |m: usize| m > start && m <= end;
    // Minute k of each ten: opens at 1; half-open at 2, 4, 6 and 8, its probe failing at 3, 5
    // and 7; the probe of 8 succeeds, and at 0 the circuit is closed, for that minute only.
    let phase = |m: usize| (m + 10 - start % 10) % 10;
    let open = |m: usize| during(m) && phase(m) != 0;
    let transition = |from: CircuitState, to: CircuitState, m: usize| -> bool {
        if !during(m) {
            return false;
        }
        use CircuitState::{Closed, HalfOpen, Open};
        matches!(
            (from, to, phase(m)),
            (Closed, Open, 1)
                | (Open, HalfOpen, 2 | 4 | 6 | 8)
                | (HalfOpen, Open, 3 | 5 | 7)
                | (HalfOpen, Closed, 0)
        )
    };
    let mut series = Vec::new();
    let mut reopenings = Vec::new();
    for r in 0..REPLICAS {
        series.extend(
            suite.circuit(r, provider, minutes, |m| match (open(m), phase(m)) {
                (false, _) => CircuitState::Closed,
                (true, 1 | 3 | 5 | 7) => CircuitState::Open,
                (true, _) => CircuitState::HalfOpen,
            }),
        );
        series.extend(suite.status(r, provider, minutes, |m| {
            if open(m) {
                HealthStatus::Unavailable
            } else {
                HealthStatus::Healthy
            }
        }));
        for &from in CircuitState::ALL {
            for &to in CircuitState::ALL {
                if from == to {
                    continue;
                }
                let samples =
                    Samples::counter(minutes, |m| if transition(from, to, m) { 1.0 } else { 0.0 });
                let s = suite.series(
                    CIRCUIT_BREAKER_TRANSITIONS.name,
                    r,
                    &[
                        ("provider", provider),
                        ("from", from.as_str()),
                        ("to", to.as_str()),
                    ],
                    samples,
                );
                if (from, to) == (CircuitState::Closed, CircuitState::Open) {
                    reopenings.push(s.samples.clone());
                }
                series.push(s);
            }
        }
    }
    let config = &suite.deployment.alerts.circuit_flapping;
    let mut labels = suite.inputs.labels();
    labels.push(("provider".to_owned(), provider.to_owned()));
    let values: Vec<Option<f64>> = (0..=minutes)
        .map(|t| {
            reopenings
                .iter()
                .filter_map(|s| timeline::increase(&[s], t, 60))
                .fold(None, |max: Option<f64>, v| {
                    Some(max.map_or(v, |m| m.max(v)))
                })
                .filter(|n| *n >= config.reopenings_per_hour)
        })
        .collect();
    let flapping = Watched {
        alert: "GatewayzCircuitFlapping",
        severity: Severity::Warning,
        labels: labels.clone(),
        states: alert_states(&values, (config.for_.millis() / 60_000) as usize, 0),
        render: humanize,
    };
    let too_long = &suite.deployment.alerts.circuit_open_too_long;
    let not_closed: Vec<Option<f64>> = (0..=minutes)
        .map(|t| open(t).then_some(REPLICAS as f64))
        .collect();
    let open_too_long = Watched {
        alert: "GatewayzCircuitOpenTooLong",
        severity: Severity::Warning,
        labels,
        states: alert_states(&not_closed, (too_long.for_.millis() / 60_000) as usize, 0),
        render: |v| format!("{v}"),
    };
    incident(
        "circuit-flapping",
        format!("circuit closes 1 minute in 10 (`{provider}`, for an hour)"),
        "flapping alert",
        (start, end, minutes),
        series,
        vec![flapping, open_too_long],
        Vec::new(),
    )
}

/// No client request at all for ten minutes.
fn traffic_stops(suite: &Suite) -> Incident {
    let (start, end) = (90, 100);
    let minutes = end + 20;
    let stopped = |m: usize| m > start && m <= end;
    let http: Vec<Series> = (0..REPLICAS)
        .map(|r| {
            suite.http(
                r,
                "2xx",
                Samples::counter(minutes, |m| if stopped(m) { 0.0 } else { PER_MINUTE }),
            )
        })
        .collect();
    let config = &suite.deployment.alerts.traffic_stopped;
    let counted: Vec<&Samples> = if suite.counted {
        http.iter().map(|s| &s.samples).collect()
    } else {
        Vec::new()
    };
    let values: Vec<Option<f64>> = (0..=minutes)
        .map(|t| {
            let recent = timeline::increase(&counted, t, 5)?;
            let hour = timeline::increase(&counted, t, 60)?;
            (recent == 0.0 && hour >= config.min_requests_per_hour).then_some(0.0)
        })
        .collect();
    let watched = vec![Watched {
        alert: "GatewayzTrafficStopped",
        severity: Severity::Warning,
        labels: suite.inputs.labels(),
        states: alert_states(&values, (config.for_.millis() / 60_000) as usize, 0),
        render: |_| "0".to_owned(),
    }];
    drop(counted);
    incident(
        "traffic-stops",
        "traffic drops to zero for 10 minutes".to_owned(),
        "warning",
        (start, end, minutes),
        http,
        watched,
        Vec::new(),
    )
}

/// One replica of three stops being scraped; the other two carry on as usual.
fn replica_unscraped(suite: &Suite) -> Incident {
    let start = 30;
    let minutes = start + 30;
    let gone = |r: usize, s: Samples| if r == 0 { s.until(start + 1) } else { s };
    let mut series = Vec::new();
    let [failing, backup] = SHARED_PROVIDERS;
    for r in 0..REPLICAS {
        series.push(suite.series(
            "up",
            r,
            &[],
            Samples::gauge(minutes, |m| {
                Some(if r == 0 && m > start { 0.0 } else { 1.0 })
            }),
        ));
        series.push(suite.series(
            BUILD_INFO.name,
            r,
            &[("version", "0.1.0")],
            gone(r, Samples::gauge(minutes, |_| Some(1.0))),
        ));
        series.push(suite.http(r, "2xx", gone(r, Samples::steady(minutes, PER_MINUTE))));
        series.push(suite.http(r, "5xx", gone(r, Samples::steady(minutes, 0.0))));
        series.push(suite.model_requests(
            r,
            SHARED_MODEL,
            "success",
            gone(r, Samples::steady(minutes, PER_MINUTE * MODEL_SHARE)),
        ));
        series.push(suite.model_requests(
            r,
            SHARED_MODEL,
            "error",
            gone(r, Samples::steady(minutes, 0.0)),
        ));
        for provider in [failing, backup] {
            series.push(suite.attempts(
                r,
                provider,
                SHARED_MODEL,
                "success",
                gone(r, Samples::steady(minutes, PER_MINUTE * MODEL_SHARE / 2.0)),
            ));
            series.push(suite.series(
                &format!("{}_count", PROVIDER_RESPONSE_TIME.name),
                r,
                &[("provider", provider)],
                gone(r, Samples::steady(minutes, PER_MINUTE * MODEL_SHARE / 2.0)),
            ));
            series.push(suite.series(
                PROVIDER_HEALTH_SCORE.name,
                r,
                &[("provider", provider)],
                gone(r, Samples::gauge(minutes, |_| Some(1.0))),
            ));
            for s in suite.status(r, provider, minutes, |_| HealthStatus::Healthy) {
                series.push(Series {
                    input: InputSeries {
                        values: gone(r, s.samples.clone()).notation(),
                        ..s.input
                    },
                    samples: s.samples,
                });
            }
            for s in suite.circuit(r, provider, minutes, |_| CircuitState::Closed) {
                series.push(Series {
                    input: InputSeries {
                        values: gone(r, s.samples.clone()).notation(),
                        ..s.input
                    },
                    samples: s.samples,
                });
            }
        }
        series.push(suite.series(
            COST_USD.name,
            r,
            &[("provider", backup), ("model", SHARED_MODEL)],
            gone(r, Samples::steady(minutes, 0.01)),
        ));
    }
    let for_minutes = (suite.deployment.alerts.target_down.for_.millis() / 60_000) as usize;
    let mut labels = suite.inputs.labels();
    labels.push(("instance".to_owned(), Inputs::replica(0)));
    let down: Vec<Option<f64>> = (0..=minutes).map(|t| (t > start).then_some(0.0)).collect();
    let watched = vec![Watched {
        alert: "GatewayzTargetDown",
        severity: Severity::Warning,
        labels,
        states: alert_states(&down, for_minutes, 0),
        render: |_| "0".to_owned(),
    }];
    // Every other alert stays quiet, the always-firing Watchdog aside.
    let quiet: Vec<&'static str> = super::alerts(suite.deployment)
        .iter()
        .map(|a| a.alert)
        .filter(|a| !["GatewayzTargetDown", crate::alertmanager::WATCHDOG].contains(a))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    incident(
        "replica-unscraped",
        "one replica of three stops being scraped".to_owned(),
        "the target alert, nothing else",
        (start, minutes, minutes),
        series,
        watched,
        quiet,
    )
}

/// A week of spend, then twice as much: hour by hour against the same hour last week.
fn spend_doubles(suite: &Suite) -> Incident {
    let week = 7 * 24;
    let (start, end) = (week, week + 6);
    let hours = end;
    let per_hour = 10.0;
    let cost: Vec<Series> = (0..REPLICAS)
        .map(|r| {
            suite.series(
                COST_USD.name,
                r,
                &[("provider", SOLE_PROVIDER), ("model", SOLE_MODEL)],
                Samples::counter(hours, |h| if h > start { 2.0 * per_hour } else { per_hour }),
            )
        })
        .collect();
    let config = &suite.deployment.alerts.spend_above_last_week;
    let all: Vec<&Samples> = cost.iter().map(|s| &s.samples).collect();
    let values: Vec<Option<f64>> = (0..=hours)
        .map(|t| {
            let now = timeline::increase(&all, t, 1)?;
            let before = timeline::increase(&all, t.checked_sub(week)?, 1)?;
            (now > config.ratio * before && now >= config.min_usd_per_hour).then_some(now)
        })
        .collect();
    let for_hours = config.for_.millis().div_ceil(3_600_000) as usize;
    let watched = vec![Watched {
        alert: "GatewayzSpendAboveLastWeek",
        severity: Severity::Warning,
        labels: suite.inputs.labels(),
        states: alert_states(&values, for_hours.max(1), 0),
        render: humanize,
    }];
    drop(all);
    Incident {
        step: Step::Hour,
        ..incident(
            "spend-doubles",
            format!(
                "spend doubles versus last week (${} an hour on each replica for a week, then \
                 twice that)",
                per_hour
            ),
            "warning",
            (start, end, hours),
            cost,
            watched,
            Vec::new(),
        )
    }
}

/// Nothing at all: the Watchdog fires anyway.
fn watchdog(suite: &Suite) -> Incident {
    let minutes = 60;
    // Whatever the traffic, here none at all.
    let _ = suite;
    incident(
        "watchdog",
        "Watchdog".to_owned(),
        "always firing",
        (0, minutes, minutes),
        Vec::new(),
        vec![Watched {
            alert: crate::alertmanager::WATCHDOG,
            severity: Severity::None,
            // The rule sets the deployment's labels itself.
            labels: Vec::new(),
            states: vec![Some(1.0); minutes + 1],
            render: |_| "1".to_owned(),
        }],
        Vec::new(),
    )
}

/// The `promtool test rules` case of each incident: `(slug, step, case)`.
pub(crate) fn tests(deployment: &Deployment) -> Vec<(&'static str, Step, Yaml)> {
    let alerts = super::alerts(deployment);
    incidents(deployment)
        .iter()
        .map(|i| (i.slug, i.step, i.to_yaml(&alerts)))
        .collect()
}

impl Incident {
    /// The steps checked: the one before and the one of every change of every watched alert,
    /// and every few steps from shortly before the incident (hourly before that).
    fn checks(&self) -> BTreeSet<usize> {
        let period = match self.step {
            Step::Minute => 5,
            Step::FiveMinutes => 12,
            Step::Hour => 1,
        };
        // Hourly through the quiet history before the incident, every `period` from then on.
        let from = self.start.saturating_sub(period);
        let mut at: BTreeSet<usize> = (0..from)
            .step_by(60 / self.step.minutes().min(60))
            .chain((from..=self.minutes).step_by(period))
            .collect();
        for watched in &self.watched {
            for (t, _) in changes(&watched.states) {
                at.insert(t.saturating_sub(1));
                at.insert(t);
            }
        }
        // Before the incident nothing fires (the Watchdog aside): the first minutes with a
        // window of data are checked too.
        at.retain(|t| *t > 0);
        at
    }

    fn to_yaml(&self, alerts: &[AlertRule]) -> Yaml {
        let mut names: BTreeMap<&str, ()> = BTreeMap::new();
        for w in &self.watched {
            names.insert(w.alert, ());
        }
        for q in &self.quiet {
            names.insert(q, ());
        }
        let mut cases = Vec::new();
        for t in self.checks() {
            for name in names.keys() {
                let rule = alerts
                    .iter()
                    .find(|a| a.alert == *name)
                    .unwrap_or_else(|| panic!("the incident suite watches {name}, not an alert"));
                let expected: Vec<Expected> = self
                    .watched
                    .iter()
                    .filter(|w| w.alert == *name)
                    .filter_map(|w| {
                        w.states[t].map(|value| Expected {
                            labels: w.labels.clone(),
                            value: (w.render)(value),
                            severity: Some(w.severity),
                        })
                    })
                    .collect();
                cases.push(Yaml::map([
                    (
                        "eval_time",
                        Yaml::str(format!("{}m", t * self.step.minutes())),
                    ),
                    ("alertname", Yaml::str(*name)),
                    ("exp_alerts", expected_yaml(rule, &expected, alerts)),
                ]));
            }
        }
        Yaml::map([
            ("name", Yaml::str(format!("incident: {}", self.title))),
            ("interval", Yaml::str(self.step.as_str())),
            ("input_series", super::series_yaml(&self.series)),
            ("alert_rule_test", Yaml::Seq(cases)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table, held for the default deployment: minutes to the first page (or
    /// warning), or none.
    #[test]
    fn the_default_deployment_does_what_every_incident_must() {
        let incidents = incidents(&Deployment::default());
        let page = |i: &Incident| i.time_to_page();
        let warning = |i: &Incident| i.first(Severity::Warning);
        let by = |title: &str| {
            incidents
                .iter()
                .find(|i| i.title.starts_with(title))
                .unwrap_or_else(|| panic!("no incident `{title}`"))
        };
        assert!(page(by("100%")).is_some_and(|t| t <= 5), "{:?}", by("100%"));
        assert!(page(by("20%")).is_some_and(|t| t <= 10));
        assert!(page(by("3%")).is_some_and(|t| t <= 60));
        let quiet = by("0.05%");
        assert!(
            quiet.outcomes.iter().all(|o| o.periods.is_empty()),
            "{quiet:?}"
        );
        let model = by("one model's");
        assert!(page(model).is_some_and(|t| t <= 5));
        // The model's own objective pages in time too, not only its provider's outage.
        let burn = model
            .outcomes
            .iter()
            .find(|o| o.alert == "GatewayzModelErrorBudgetBurn" && o.severity == Severity::Critical)
            .unwrap();
        assert!(
            burn.periods.first().is_some_and(|p| p.0 <= model.start + 5),
            "{burn:?}"
        );
        let hidden = by("provider down");
        assert!(
            page(hidden).is_none() && warning(hidden).is_some(),
            "{hidden:?}"
        );
        let flap = by("provider flaps");
        for outcome in flap
            .outcomes
            .iter()
            .filter(|o| o.severity == Severity::Critical)
        {
            assert!(outcome.periods.len() <= 1, "paged twice: {outcome:?}");
        }
        let unavailable = flap
            .outcomes
            .iter()
            .find(|o| o.alert == "GatewayzProviderUnavailable" && o.severity == Severity::Critical)
            .unwrap();
        assert!(
            matches!(unavailable.periods[..], [(_, Some(end))] if end > flap.end),
            "{unavailable:?}"
        );
        let circuit = by("circuit closes");
        let fired = |i: &Incident, alert: &str| {
            i.outcomes
                .iter()
                .any(|o| o.alert == alert && !o.periods.is_empty())
        };
        assert!(fired(circuit, "GatewayzCircuitFlapping"));
        assert!(!fired(circuit, "GatewayzCircuitOpenTooLong"));
        assert!(warning(by("traffic drops")).is_some_and(|t| t <= 10));
        assert!(fired(by("one replica"), "GatewayzTargetDown"));
        assert!(warning(by("spend doubles")).is_some());
        assert!(fired(by("Watchdog"), crate::alertmanager::WATCHDOG));
    }
}
