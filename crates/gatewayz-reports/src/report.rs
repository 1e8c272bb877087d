//! The data model every source fills and every renderer reads: one period's figures, in
//! fixed-point money, with what the source could not know left out rather than set to zero.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{Nanos, Period};

/// What one period cost and earned, with the previous period beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The month or quarter.
    pub period: Period,
    /// Where the figures come from.
    pub source: Source,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// The figures cover the period up to here: its end, or earlier while it is in progress.
    pub as_of: DateTime<Utc>,
    /// The whole period.
    pub totals: Totals,
    /// The previous period, whole; `None` when the source has nothing for it.
    pub previous: Option<Totals>,
    /// Per provider, most expensive first.
    pub by_provider: Vec<Line>,
    /// Per model, most expensive first.
    pub by_model: Vec<Line>,
    /// Per customer (API key), most credits charged first; `None` when the source does not
    /// know customers (Prometheus never does: a key is not a label).
    pub customers: Option<Vec<Customer>>,
    /// Every day of the period up to `as_of`, in order.
    pub daily: Vec<Day>,
    /// Customer events over the period; `None` when the source has none.
    pub accounts: Option<Accounts>,
    /// Saved by routing over the period (reference cost minus cost); `None` where not recorded.
    pub routing_savings: Option<Nanos>,
    /// The monthly budget in dollars of upstream cost, if one is set.
    pub monthly_budget: Option<Nanos>,
}

/// Where a report's figures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A gateway's ledger: every charge as written, exact, for that gateway's database only.
    Ledger {
        /// The database, as the reader should recognise it (a path).
        database: String,
    },
    /// A Prometheus server: every instance the selector matches, from counters' `increase`.
    Prometheus {
        /// Its base URL.
        url: String,
        /// The matchers every query carried, e.g. `job="gatewayz"`.
        selector: String,
    },
}

/// Money and volume over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Upstream cost, what the providers charge: dollars.
    pub cost: Nanos,
    /// Credits charged to customers' keys.
    pub credits: Nanos,
    /// Requests answered (charged, for the ledger; successful inferences, for Prometheus).
    pub requests: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

impl Totals {
    /// Adds `other` in.
    pub fn add(&mut self, other: &Totals) {
        self.cost += other.cost;
        self.credits += other.credits;
        self.requests += other.requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }

    /// Input and output tokens.
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// One provider's or model's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The provider or model.
    pub name: String,
    /// This period.
    pub totals: Totals,
    /// The previous period; `None` when unknown (not when zero).
    pub previous: Option<Totals>,
}

/// One customer's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The customer's name.
    pub name: String,
    /// The key's recognisable prefix (never the key).
    pub key: String,
    /// `trial` or `paid`, now.
    pub plan: String,
    /// This period.
    pub totals: Totals,
    /// The previous period.
    pub previous: Option<Totals>,
}

/// One UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// The day.
    pub date: NaiveDate,
    /// Upstream cost that day.
    pub cost: Nanos,
    /// Credits charged that day.
    pub credits: Nanos,
}

/// Customer events over the period, and the paid base they changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accounts {
    /// Keys created.
    pub keys_created: u64,
    /// Keys revoked.
    pub keys_revoked: u64,
    /// Trials started.
    pub trials_started: u64,
    /// Trials converted to the paid plan.
    pub trials_converted: u64,
    /// Trials that ended: converted, lapsed, or revoked while active.
    pub trials_ended: u64,
    /// Paid subscriptions started: keys created paid, and conversions.
    pub subscriptions_started: u64,
    /// Paid subscriptions ended: cancelled (revoked while active) or lapsed.
    pub subscriptions_ended: u64,
    /// Paid subscriptions active when the period began; `None` when unknown.
    pub paid_at_start: Option<u64>,
    /// Top-ups.
    pub top_ups: u64,
    /// Credits they added.
    pub credits_topped_up: Nanos,
    /// Keys that ran out of credits.
    pub credits_exhausted: u64,
}

impl Accounts {
    /// Trials converted over trials ended; `None` when none ended.
    pub fn conversion_rate(&self) -> Option<f64> {
        ratio(self.trials_converted as f64, self.trials_ended as f64)
    }

    /// Paid subscriptions ended over those active at the start; `None` when that is unknown
    /// or zero.
    pub fn churn_rate(&self) -> Option<f64> {
        ratio(self.subscriptions_ended as f64, self.paid_at_start? as f64)
    }

    /// Paid subscriptions started minus ended.
    pub fn net_growth(&self) -> i64 {
        self.subscriptions_started as i64 - self.subscriptions_ended as i64
    }
}

pub(crate) fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// The period's spend projected to its end, against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forecast {
    /// Spend at the end of the period if it goes on at the average rate so far.
    pub spend: Nanos,
    /// Share of the period elapsed, in millionths (so the type stays exact and comparable).
    pub elapsed_millionths: u32,
}

impl Report {
    /// Whether the period was still running at `as_of`.
    pub fn in_progress(&self) -> bool {
        self.as_of.timestamp() < self.period.end_seconds()
    }

    /// The budget for the whole period: the monthly budget times its months.
    pub fn budget(&self) -> Option<Nanos> {
        self.monthly_budget
            .map(|monthly| Nanos(monthly.0.saturating_mul(i64::from(self.period.months()))))
    }

    /// Spend projected to the period's end at the average rate of the period so far (spend so
    /// far × period length ÷ time elapsed); `None` once the period is over (the spend is
    /// known) or before any of it has elapsed.
    pub fn forecast(&self) -> Option<Forecast> {
        let start = self.period.start_seconds();
        let length = self.period.end_seconds() - start;
        let elapsed = self.as_of.timestamp() - start;
        if !self.in_progress() || elapsed <= 0 {
            return None;
        }
        let spend = (i128::from(self.totals.cost.0) * i128::from(length)) / i128::from(elapsed);
        Some(Forecast {
            spend: Nanos(spend.clamp(0, i128::from(i64::MAX)) as i64),
            elapsed_millionths: ((i128::from(elapsed) * 1_000_000) / i128::from(length)) as u32,
        })
    }

    /// Spend at the period's end: the forecast while it runs, the spend once it is over.
    pub fn expected_spend(&self) -> Nanos {
        self.forecast().map_or(self.totals.cost, |f| f.spend)
    }
}

/// The change from `previous` to `now`, as a ratio: `None` when there is nothing to compare
/// with (unknown, or zero before).
pub fn change(now: i64, previous: Option<i64>) -> Option<f64> {
    let previous = previous?;
    ratio((now - previous) as f64, previous as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(as_of: &str, cost: i64) -> Report {
        Report {
            period: Period::Month(2026, 11),
            source: Source::Ledger {
                database: "test".into(),
            },
            generated_at: Utc::now(),
            as_of: DateTime::parse_from_rfc3339(as_of)
                .unwrap()
                .with_timezone(&Utc),
            totals: Totals {
                cost: Nanos(cost),
                ..Totals::default()
            },
            previous: None,
            by_provider: Vec::new(),
            by_model: Vec::new(),
            customers: None,
            daily: Vec::new(),
            accounts: None,
            routing_savings: None,
            monthly_budget: Some(Nanos(100 * crate::money::NANO)),
        }
    }

    #[test]
    fn the_forecast_extends_the_average_rate_to_the_end_of_the_period() {
        // A third of November (10 of 30 days) cost $40: $120 at this rate.
        let r = report("2026-11-11T00:00:00Z", 40 * crate::money::NANO);
        let forecast = r.forecast().unwrap();
        assert_eq!(forecast.spend, Nanos(120 * crate::money::NANO));
        assert_eq!(forecast.elapsed_millionths, 333_333);
        assert_eq!(r.budget(), Some(Nanos(100 * crate::money::NANO)));
        // Over: the spend is what it was.
        let over = report("2026-12-01T00:00:00Z", 40 * crate::money::NANO);
        assert_eq!(over.forecast(), None);
        assert_eq!(over.expected_spend(), Nanos(40 * crate::money::NANO));
        // A quarter's budget is three months'.
        let quarter = Report {
            period: Period::Quarter(2026, 4),
            ..over
        };
        assert_eq!(quarter.budget(), Some(Nanos(300 * crate::money::NANO)));
    }

    #[test]
    fn rates_are_unknown_without_a_denominator() {
        let mut accounts = Accounts::default();
        assert_eq!(accounts.conversion_rate(), None);
        assert_eq!(accounts.churn_rate(), None);
        accounts.paid_at_start = Some(0);
        assert_eq!(accounts.churn_rate(), None);
        accounts.paid_at_start = Some(20);
        accounts.subscriptions_ended = 2;
        assert_eq!(accounts.churn_rate(), Some(0.1));
        assert_eq!(change(150, Some(100)), Some(0.5));
        assert_eq!(change(150, Some(0)), None);
        assert_eq!(change(150, None), None);
    }
}
