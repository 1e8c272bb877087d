//! The ledger as a report source: `gatewayz-gateway report --period 2026-11 --out DIR`.
//!
//! Exact: sums of the charges as written (nano-dollars of upstream cost, nano-credits charged),
//! for every key of this database, whatever replicas wrote them. It knows what Prometheus
//! cannot: customers, and the paid base at any instant. It does not know the routing reference
//! cost (only Prometheus has it), so a ledger report shows no savings from routing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gatewayz_metrics::CustomerEvent;
use gatewayz_reports::{Accounts, Customer, Day, Line, Nanos, Period, Report, Source, Totals};

use crate::{
    ledger::{Group, GroupBy, Usage, UsageFilter, UsageRow, day_start},
    sql::{Sql, values},
    store::{Database, Plan, StoreError},
};

/// Why the ledger report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The period has not begun.
    #[error(transparent)]
    Report(#[from] gatewayz_reports::Error),
}

fn totals(usage: &Usage) -> Totals {
    Totals {
        cost: Nanos(usage.cost_nano),
        credits: Nanos(usage.credits_nano),
        requests: usage.requests,
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
    }
}

/// The report of `period` from the ledger in `database` (named `name` in the report), as of
/// `now`, with the monthly budget in dollars of upstream cost. Lapses due by `now` are
/// recorded first, so the conversion and churn figures count them.
pub fn ledger_report(
    database: &mut Database,
    name: &str,
    period: Period,
    now: DateTime<Utc>,
    monthly_budget: Option<Nanos>,
) -> Result<Report, ReportError> {
    let start = period.start_seconds();
    let end = period.end_seconds();
    let as_of = now.timestamp().min(end);
    if as_of <= start {
        return Err(gatewayz_reports::Error::NotBegun(period.title()).into());
    }
    database.sweep_lapses(0, now.timestamp())?;
    let filter = UsageFilter {
        key_id: None,
        start,
        end: as_of,
    };
    let previous = period.previous();
    let before = UsageFilter {
        key_id: None,
        start: previous.start_seconds(),
        end: previous.end_seconds(),
    };
    // The ledger knows a period only from the first key on: before it, unknown, not zero.
    let first_key = database
        .list_keys()?
        .iter()
        .map(|k| k.created_at)
        .min()
        .unwrap_or(i64::MAX);
    let known_before = first_key < before.end;

    let lines = |by: GroupBy, name: fn(&Group) -> String| -> Result<Vec<Line>, StoreError> {
        let now = database.usage(&filter, by)?;
        let then: BTreeMap<String, Totals> = database
            .usage(&before, by)?
            .iter()
            .map(|row| (name(&row.group), totals(&row.usage)))
            .collect();
        Ok(now
            .iter()
            .map(|row| {
                let key = name(&row.group);
                Line {
                    previous: known_before.then(|| then.get(&key).copied().unwrap_or_default()),
                    name: key,
                    totals: totals(&row.usage),
                }
            })
            .collect())
    };
    let mut by_provider = lines(GroupBy::Provider, group_name)?;
    let mut by_model = lines(GroupBy::Model, group_name)?;
    for list in [&mut by_provider, &mut by_model] {
        list.sort_by(|a, b| b.totals.cost.cmp(&a.totals.cost).then(a.name.cmp(&b.name)));
    }

    let previous_customers: BTreeMap<i64, Totals> = database
        .usage(&before, GroupBy::Key)?
        .iter()
        .filter_map(|row| match row.group {
            Group::Key { id, .. } => Some((id, totals(&row.usage))),
            _ => None,
        })
        .collect();
    let mut customers = Vec::new();
    for row in database.usage(&filter, GroupBy::Key)? {
        if let Group::Key { id, prefix, name } = &row.group {
            let plan = database.find_key(&id.to_string())?.plan;
            customers.push(Customer {
                name: name.clone(),
                key: prefix.clone(),
                plan: plan.as_str().to_owned(),
                totals: totals(&row.usage),
                previous: known_before
                    .then(|| previous_customers.get(id).copied().unwrap_or_default()),
            });
        }
    }

    let per_day: BTreeMap<chrono::NaiveDate, Usage> = database
        .usage(&filter, GroupBy::Day)?
        .into_iter()
        .filter_map(|UsageRow { group, usage }| match group {
            Group::Day(day) => Some((day, usage)),
            _ => None,
        })
        .collect();
    let daily = period
        .dates()
        .take_while(|date| day_start(*date) < as_of)
        .map(|date| {
            let usage = per_day.get(&date).copied().unwrap_or_default();
            Day {
                date,
                cost: Nanos(usage.cost_nano),
                credits: Nanos(usage.credits_nano),
            }
        })
        .collect();

    let mut total = Totals::default();
    for line in &by_provider {
        total.add(&line.totals);
    }
    let previous_total = known_before
        .then(|| database.usage_total(&before))
        .transpose()?
        .map(|usage| totals(&usage));

    Ok(Report {
        period,
        source: Source::Ledger {
            database: name.to_owned(),
        },
        generated_at: Utc::now(),
        as_of: DateTime::from_timestamp(as_of, 0).unwrap_or(now),
        totals: total,
        previous: previous_total,
        by_provider,
        by_model,
        customers: Some(customers),
        daily,
        accounts: Some(accounts(database, start, as_of)?),
        routing_savings: None,
        monthly_budget,
    })
}

fn group_name(group: &Group) -> String {
    match group {
        Group::Model(name) | Group::Provider(name) => name.clone(),
        Group::Day(day) => day.to_string(),
        Group::Key { prefix, .. } => prefix.clone(),
    }
}

/// Customer events of `[start, end)`, and the paid base at `start`.
fn accounts(database: &Database, start: i64, end: i64) -> Result<Accounts, StoreError> {
    let counts = database.event_counts(start, end)?;
    let get = |event: CustomerEvent, plan: Plan| {
        counts
            .iter()
            .filter(|(e, p, _)| *e == event && *p == plan)
            .map(|(_, _, n)| n)
            .sum::<u64>()
    };
    let both = |event| get(event, Plan::Trial) + get(event, Plan::Paid);
    use CustomerEvent::*;
    let converted = get(TrialConverted, Plan::Trial);
    let topped_up = database
        .connection
        .query_one(
            "SELECT COALESCE(CAST(SUM(credits_nano) AS BIGINT), 0) FROM events
             WHERE event = 'credits_topped_up' AND at >= ?1 AND at < ?2",
            values![start, end],
        )?
        .int(0)?;
    Ok(Accounts {
        keys_created: both(KeyCreated),
        keys_revoked: both(KeyRevoked),
        trials_started: get(TrialStarted, Plan::Trial),
        trials_converted: converted,
        trials_ended: converted + get(Lapsed, Plan::Trial) + get(Cancelled, Plan::Trial),
        subscriptions_started: get(KeyCreated, Plan::Paid) + converted,
        subscriptions_ended: get(Cancelled, Plan::Paid) + get(Lapsed, Plan::Paid),
        paid_at_start: Some(database.paid_active_at(start)?),
        top_ups: both(CreditsToppedUp),
        credits_topped_up: Nanos(topped_up),
        credits_exhausted: both(CreditsExhausted),
    })
}
