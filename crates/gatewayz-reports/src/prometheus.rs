//! A Prometheus server's HTTP API as a report source: the fleet's figures for any service
//! instrumented with the gatewayz crates.
//!
//! Every figure is an `increase()` of a catalogued counter over the period (or the part of it
//! that has passed), summed across the instances the selector matches; `increase` counts
//! through counter resets (a restarted replica). Two caveats of `increase`, both small over a
//! month: it extrapolates the first and last samples towards the range's edges (at most half a
//! scrape interval's worth each), and a series that appears with its first increment loses
//! what it counted before its first scrape unless the service registers it at zero first
//! (`Metrics::expect_inferences` in `gatewayz-metrics`; the example gateway does it for every
//! pair it routes).
//!
//! Customer events are totals of a database that every replica on it reports alike: they are
//! aggregated with `max` across instances, not summed. Customers themselves are not in
//! Prometheus (a key is never a label), so this source has none.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use gatewayz_catalogue::{
    ACTIVE_SUBSCRIPTIONS, COST_USD, CREDITS_TOPPED_UP, CREDITS_USED, CUSTOMER_EVENTS,
    CustomerEvent, MODEL_INFERENCE_REQUESTS, MetricDef, Plan, ROUTING_REFERENCE_COST, TOKENS_USED,
    TokenType,
};
use serde_json::Value;

use crate::{
    Error, Nanos, Period, Report, Source,
    period::{date_of, midnight},
    report::{Accounts, Day, Line, Totals},
};

/// Where a money counter's increase goes in [`Totals`].
type MoneyField = fn(&mut Totals) -> &mut Nanos;

/// One series of an instant query: its labels and its value.
type Sample = (BTreeMap<String, String>, f64);

/// A Prometheus server to read reports from.
///
/// ```no_run
/// use gatewayz_reports::{Nanos, Period, PrometheusSource};
///
/// let source = PrometheusSource::new("http://127.0.0.1:9090")
///     .selector(r#"job="gatewayz""#);
/// let report = source.report("2026-11".parse()?, chrono::Utc::now(), Some(Nanos(500_000_000_000)))?;
/// println!("{}", gatewayz_reports::markdown(&report));
/// # Ok::<(), gatewayz_reports::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PrometheusSource {
    url: String,
    selector: String,
    bearer: Option<String>,
    reference_cost: Option<String>,
    agent: ureq::Agent,
}

impl PrometheusSource {
    /// The server at `url` (e.g. `http://127.0.0.1:9090`), every series of every job.
    pub fn new(url: &str) -> PrometheusSource {
        let agent = ureq::Agent::config_builder()
            // Prometheus explains a refused query in a JSON body with a 4xx status.
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        PrometheusSource {
            url: url.trim_end_matches('/').to_owned(),
            selector: String::new(),
            bearer: None,
            reference_cost: Some(ROUTING_REFERENCE_COST.name.to_owned()),
            agent,
        }
    }

    /// Label matchers every query carries, e.g. `job="gatewayz", cluster="eu-1"`: the
    /// deployment's series only, in a Prometheus other services share.
    pub fn selector(mut self, matchers: &str) -> PrometheusSource {
        self.selector = matchers.trim().to_owned();
        self
    }

    /// A bearer token for a Prometheus behind an authenticating proxy.
    pub fn bearer_token(mut self, token: &str) -> PrometheusSource {
        self.bearer = Some(token.to_owned());
        self
    }

    /// The counter of what requests would have cost without routing (in dollars, with the
    /// cost counter's labels; by default the catalogue's, which `gatewayz-health` records): the
    /// report shows the savings, reference minus cost, when Prometheus has that counter; when
    /// it has no such series, the report shows no savings at all (never a zero).
    pub fn reference_cost_metric(mut self, name: &str) -> PrometheusSource {
        self.reference_cost = Some(name.trim().to_owned());
        self
    }

    /// `name{selector, matchers}`.
    fn sel(&self, name: &str, matchers: &str) -> String {
        let all: Vec<&str> = [self.selector.as_str(), matchers]
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect();
        format!("{name}{{{}}}", all.join(", "))
    }

    fn increase(&self, def: &MetricDef, matchers: &str, seconds: i64) -> String {
        format!("increase({}[{seconds}s])", self.sel(def.name, matchers))
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Prometheus {
            url: self.url.clone(),
            reason: reason.into(),
        }
    }

    /// `POST /api/v1/<path>`; the `data` of a successful answer.
    fn call(&self, path: &str, form: &[(&str, String)]) -> Result<Value, Error> {
        let url = format!("{}/api/v1/{path}", self.url);
        let mut request = self.agent.post(&url);
        if let Some(token) = &self.bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request
            .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
            .map_err(|e| self.error(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| self.error(format!("reading the answer: {e}")))?;
        let answer: Value = serde_json::from_str(&text).map_err(|_| {
            let start: String = text.chars().take(200).collect();
            self.error(format!("answered {status} with no API JSON: {start}"))
        })?;
        if answer["status"] == "success" {
            Ok(answer["data"].clone())
        } else {
            Err(self.error(format!(
                "{} ({}): {}",
                answer["errorType"].as_str().unwrap_or("error"),
                status,
                answer["error"].as_str().unwrap_or("no reason given")
            )))
        }
    }

    /// An instant query at Unix millisecond `at_ms` (a report as of now must not lose the
    /// last fraction of a second): each series' labels and finite value.
    fn instant(&self, expr: &str, at_ms: i64) -> Result<Vec<Sample>, Error> {
        let time = format!("{}.{:03}", at_ms.div_euclid(1000), at_ms.rem_euclid(1000));
        let data = self.call("query", &[("query", expr.to_owned()), ("time", time)])?;
        let mut samples = Vec::new();
        for series in data["result"].as_array().into_iter().flatten() {
            let value = series["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite());
            if let Some(value) = value {
                samples.push((labels(&series["metric"]), value));
            }
        }
        Ok(samples)
    }

    /// A range query: the first series' finite values by Unix second.
    fn range(&self, expr: &str, start: i64, end: i64, step: i64) -> Result<Vec<(i64, f64)>, Error> {
        let data = self.call(
            "query_range",
            &[
                ("query", expr.to_owned()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ],
        )?;
        let mut points = Vec::new();
        for series in data["result"].as_array().into_iter().flatten().take(1) {
            for point in series["values"].as_array().into_iter().flatten() {
                let at = point[0].as_f64().map(|t| t.round() as i64);
                let value = point[1].as_str().and_then(|v| v.parse::<f64>().ok());
                if let (Some(at), Some(value)) = (at, value.filter(|v| v.is_finite())) {
                    points.push((at, value));
                }
            }
        }
        Ok(points)
    }

    /// Cost, credits, requests and tokens of `[end - seconds, end]` (`end` in milliseconds),
    /// per value of `by`; `None` when Prometheus has no series at all for it.
    fn lines(
        &self,
        by: &str,
        end: i64,
        seconds: i64,
    ) -> Result<Option<BTreeMap<String, Totals>>, Error> {
        let mut lines: BTreeMap<String, Totals> = BTreeMap::new();
        let mut seen = false;
        let money: [(&MetricDef, MoneyField); 2] = [
            (&COST_USD, |t| &mut t.cost),
            (&CREDITS_USED, |t| &mut t.credits),
        ];
        for (def, field) in money {
            for (labels, value) in self.instant(
                &format!("sum by ({by}) ({})", self.increase(def, "", seconds)),
                end,
            )? {
                seen = true;
                *field(lines.entry(label(&labels, by)).or_default()) = Nanos::from_units(value);
            }
        }
        for (labels, value) in self.instant(
            &format!(
                "sum by ({by}) ({})",
                self.increase(&MODEL_INFERENCE_REQUESTS, r#"status="success""#, seconds)
            ),
            end,
        )? {
            seen = true;
            lines.entry(label(&labels, by)).or_default().requests = value.round() as u64;
        }
        for (labels, value) in self.instant(
            &format!(
                "sum by ({by}, token_type) ({})",
                self.increase(&TOKENS_USED, "", seconds)
            ),
            end,
        )? {
            let line = lines.entry(label(&labels, by)).or_default();
            let tokens = value.round() as u64;
            match labels.get("token_type").and_then(|t| TokenType::parse(t)) {
                Some(TokenType::Input) => line.input_tokens += tokens,
                Some(TokenType::Output) => line.output_tokens += tokens,
                None => {}
            }
        }
        Ok(seen.then_some(lines))
    }

    /// The report of `period` as of `now` (its end, if it is over), with `monthly_budget`
    /// (dollars of upstream cost per month).
    pub fn report(
        &self,
        period: Period,
        now: DateTime<Utc>,
        monthly_budget: Option<Nanos>,
    ) -> Result<Report, Error> {
        let start = period.start_seconds();
        // In milliseconds: the queries are evaluated at the very instant of the report.
        let as_of = now.timestamp_millis().min(period.end_seconds() * 1000);
        if as_of <= start * 1000 {
            return Err(Error::NotBegun(period.title()));
        }
        // Whole seconds back to the period's start (a fraction of a second before it at most).
        let seconds = (as_of - start * 1000 + 999) / 1000;
        let previous = period.previous();
        let previous_seconds = previous.end_seconds() - previous.start_seconds();

        let by = |label: &str| -> Result<(Vec<Line>, Option<Totals>), Error> {
            let now = self.lines(label, as_of, seconds)?.unwrap_or_default();
            let before = self.lines(label, previous.end_seconds() * 1000, previous_seconds)?;
            let mut lines: Vec<Line> = now
                .into_iter()
                .filter(|(_, totals)| *totals != Totals::default())
                .map(|(name, totals)| Line {
                    previous: before
                        .as_ref()
                        .map(|b| b.get(&name).copied().unwrap_or_default()),
                    name,
                    totals,
                })
                .collect();
            lines.sort_by(|a, b| b.totals.cost.cmp(&a.totals.cost).then(a.name.cmp(&b.name)));
            let previous_total = before.map(|b| {
                b.values().fold(Totals::default(), |mut sum, t| {
                    sum.add(t);
                    sum
                })
            });
            Ok((lines, previous_total))
        };
        let (by_provider, previous_totals) = by("provider")?;
        let (by_model, _) = by("model")?;
        let mut totals = Totals::default();
        for line in &by_provider {
            totals.add(&line.totals);
        }

        let as_of_time = DateTime::from_timestamp_millis(as_of).unwrap_or(now);
        Ok(Report {
            period,
            source: Source::Prometheus {
                url: self.url.clone(),
                selector: self.selector.clone(),
            },
            generated_at: Utc::now(),
            as_of: as_of_time,
            totals,
            previous: previous_totals,
            by_provider,
            by_model,
            customers: None,
            daily: self.daily(period, as_of)?,
            accounts: self.accounts(as_of, seconds)?,
            routing_savings: self.savings(as_of, seconds, totals.cost)?,
            monthly_budget,
        })
    }

    /// Cost and credits of each UTC day of `period` up to `as_of_ms`.
    fn daily(&self, period: Period, as_of_ms: i64) -> Result<Vec<Day>, Error> {
        let as_of = as_of_ms.div_euclid(1000);
        let mut days = Vec::new();
        let complete: Vec<_> = period
            .dates()
            .filter(|d| midnight(*d) + 86_400 <= as_of)
            .collect();
        let money = |def: &MetricDef| -> Result<BTreeMap<i64, Nanos>, Error> {
            let mut by_end = BTreeMap::new();
            if let (Some(first), Some(last)) = (complete.first(), complete.last()) {
                let expr = format!("sum({})", self.increase(def, "", 86_400));
                for (at, value) in self.range(
                    &expr,
                    midnight(*first) + 86_400,
                    midnight(*last) + 86_400,
                    86_400,
                )? {
                    by_end.insert(at, Nanos::from_units(value));
                }
            }
            // The day in progress, from its midnight to `as_of`.
            let today = midnight(date_of(as_of));
            if today >= period.start_seconds() && as_of_ms > today * 1000 && as_of < today + 86_400
            {
                let seconds = (as_of_ms - today * 1000 + 999) / 1000;
                let expr = format!("sum({})", self.increase(def, "", seconds));
                if let Some((_, value)) = self.instant(&expr, as_of_ms)?.first() {
                    by_end.insert(today + 86_400, Nanos::from_units(*value));
                }
            }
            Ok(by_end)
        };
        let cost = money(&COST_USD)?;
        let credits = money(&CREDITS_USED)?;
        for date in period.dates() {
            let start = midnight(date);
            if start * 1000 >= as_of_ms {
                break;
            }
            let end = start + 86_400;
            days.push(Day {
                date,
                cost: cost.get(&end).copied().unwrap_or_default(),
                credits: credits.get(&end).copied().unwrap_or_default(),
            });
        }
        Ok(days)
    }

    /// Customer events over the period, `max` across instances; `None` when the service
    /// exports none.
    fn accounts(&self, as_of: i64, seconds: i64) -> Result<Option<Accounts>, Error> {
        let events = self.instant(
            &format!(
                "max by (event, plan) ({})",
                self.increase(&CUSTOMER_EVENTS, "", seconds)
            ),
            as_of,
        )?;
        if events.is_empty() {
            return Ok(None);
        }
        let mut n: BTreeMap<(CustomerEvent, Plan), u64> = BTreeMap::new();
        for (labels, value) in events {
            let event = labels.get("event").and_then(|e| CustomerEvent::parse(e));
            let plan = labels.get("plan").and_then(|p| Plan::parse(p));
            if let (Some(event), Some(plan)) = (event, plan) {
                *n.entry((event, plan)).or_default() += value.round().max(0.0) as u64;
            }
        }
        let get = |event, plan| n.get(&(event, plan)).copied().unwrap_or(0);
        let both = |event| get(event, Plan::Trial) + get(event, Plan::Paid);
        use CustomerEvent::*;
        let converted = get(TrialConverted, Plan::Trial);
        let started = get(KeyCreated, Plan::Paid) + converted;
        let ended = get(Cancelled, Plan::Paid) + get(Lapsed, Plan::Paid);
        // Active at the start: active at the end of the data, less the net growth since (as
        // the Business dashboard computes it; the gauge may not reach back to the start).
        let paid_at_start = self
            .instant(
                &format!("max({})", self.sel(ACTIVE_SUBSCRIPTIONS.name, "")),
                as_of,
            )?
            .first()
            .map(|(_, v)| (v.round() as i64 - started as i64 + ended as i64).max(0) as u64);
        let topped_up = self.instant(
            &format!(
                "sum(max by (plan) ({}))",
                self.increase(&CREDITS_TOPPED_UP, "", seconds)
            ),
            as_of,
        )?;
        Ok(Some(Accounts {
            keys_created: both(KeyCreated),
            keys_revoked: both(KeyRevoked),
            trials_started: get(TrialStarted, Plan::Trial),
            trials_converted: converted,
            trials_ended: converted + get(Lapsed, Plan::Trial) + get(Cancelled, Plan::Trial),
            subscriptions_started: started,
            subscriptions_ended: ended,
            paid_at_start,
            top_ups: both(CreditsToppedUp),
            credits_topped_up: topped_up
                .first()
                .map_or(Nanos::ZERO, |(_, v)| Nanos::from_units(*v)),
            credits_exhausted: both(CreditsExhausted),
        }))
    }

    /// Reference cost minus cost, when a reference-cost counter is named and has series.
    fn savings(&self, as_of: i64, seconds: i64, cost: Nanos) -> Result<Option<Nanos>, Error> {
        let Some(reference) = &self.reference_cost else {
            return Ok(None);
        };
        let expr = format!("sum(increase({}[{seconds}s]))", self.sel(reference, ""));
        Ok(self
            .instant(&expr, as_of)?
            .first()
            .map(|(_, value)| Nanos::from_units(*value) - cost))
    }
}

fn labels(metric: &Value) -> BTreeMap<String, String> {
    metric
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The value of label `name`, or `unknown` when the series has none.
fn label(labels: &BTreeMap<String, String>, name: &str) -> String {
    labels
        .get(name)
        .cloned()
        .unwrap_or_else(|| "unknown".into())
}
