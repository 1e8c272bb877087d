//! The ledger, read: usage by day, model, provider or key over a time range, each key's
//! overview, and customer events, from the `usage` and `events` tables. Exact: sums of the
//! charges as written, in nano-units, never Prometheus's view of them.
//!
//! Days are UTC days. Unix time has no leap seconds, so `at / 86400` is the UTC day of a
//! charge, and every query over days groups by that number.
//!
//! The HTTP handlers and the business collection read through [`Ledger`], a thread with a
//! connection of its own: a long admin export, or a count over every key and event, never
//! holds up the worker that commits charges, nor the thread that loads keys.

use std::{
    sync::{Mutex, PoisonError, mpsc},
    thread::JoinHandle,
};

use chrono::{Datelike, NaiveDate};
use gatewayz_metrics::{CustomerEvent, CustomerTotals};
use tokio::sync::oneshot;

use crate::{
    sql::{Row, Sql, values},
    store::{BusinessCounts, Database, KeyRecord, Plan, StoreError},
};

/// Seconds in a UTC day.
pub const DAY: i64 = 86_400;

/// Sums of charges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Charged requests.
    pub requests: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Credits charged, nano-credits.
    pub credits_nano: i64,
    /// Upstream cost, nano-dollars.
    pub cost_nano: i64,
}

impl Usage {
    fn add(&mut self, other: &Usage) {
        self.requests += other.requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.credits_nano += other.credits_nano;
        self.cost_nano += other.cost_nano;
    }
}

/// How usage rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One row per UTC day that has usage.
    Day,
    /// One row per model.
    Model,
    /// One row per provider.
    Provider,
    /// One row per API key.
    Key,
}

impl GroupBy {
    /// The column grouped on (a fixed expression, never client text).
    fn column(self) -> &'static str {
        match self {
            GroupBy::Day => "u.at / 86400",
            GroupBy::Model => "u.model",
            GroupBy::Provider => "u.provider",
            GroupBy::Key => "u.key_id",
        }
    }
}

/// What one row is the usage of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// A UTC day.
    Day(NaiveDate),
    /// A model, as clients named it.
    Model(String),
    /// A provider.
    Provider(String),
    /// An API key.
    Key {
        /// Row id.
        id: i64,
        /// Recognisable prefix.
        prefix: String,
        /// Its name.
        name: String,
    },
}

/// Usage of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    /// The day, model, provider or key.
    pub group: Group,
    /// Its sums.
    pub usage: Usage,
}

/// Which charges to sum: one key's (or every key's) in `[start, end)`, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageFilter {
    /// One key, or every key.
    pub key_id: Option<i64>,
    /// First second included.
    pub start: i64,
    /// First second excluded.
    pub end: i64,
}

/// A key as its owner sees it: balance, and what it spent today, this week, this month, ever.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOverview {
    /// The key's row.
    pub record: KeyRecord,
    /// Credits charged ever, nano-credits.
    pub lifetime_nano: i64,
    /// Since 00:00 UTC today.
    pub daily_nano: i64,
    /// Since Monday 00:00 UTC.
    pub weekly_nano: i64,
    /// Since the 1st of the month, 00:00 UTC.
    pub monthly_nano: i64,
}

/// The Unix second at which UTC day `date` begins.
pub fn day_start(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()
}

/// The UTC date of Unix second `at`.
pub fn date_of(at: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp(at.div_euclid(DAY) * DAY, 0)
        .map_or(NaiveDate::MIN, |t| t.date_naive())
}

/// The usage query: `?1`, `?2` the time range, `?3` the key (or NULL for every key).
///
/// Two statements rather than one with `(?3 IS NULL OR key_id = ?3)`, which would keep SQLite
/// from the `(key_id, at)` index: one key's range reads that key's rows only, every key's range
/// the rows of that time (`usage_by_time`).
fn usage_sql(by: GroupBy, one_key: bool) -> String {
    let group = by.column();
    let key = if one_key {
        "u.key_id = ?3"
    } else {
        "CAST(?3 AS BIGINT) IS NULL"
    };
    // The key's prefix and name are the same on every row of a key's group; `MIN` makes that
    // valid SQL for both engines whatever the grouping.
    format!(
        "SELECT {group}, COUNT(*), CAST(SUM(u.input_tokens) AS BIGINT),
                CAST(SUM(u.output_tokens) AS BIGINT), CAST(SUM(u.credits_nano) AS BIGINT),
                CAST(SUM(u.cost_nano) AS BIGINT), MIN(k.prefix), MIN(k.name)
         FROM usage u JOIN api_keys k ON k.id = u.key_id
         WHERE {key} AND u.at >= ?1 AND u.at < ?2
         GROUP BY {group}"
    )
}

impl Database {
    /// The usage matching `filter`, grouped: days in order, the rest by credits charged (most
    /// first), then name.
    pub fn usage(&self, filter: &UsageFilter, by: GroupBy) -> Result<Vec<UsageRow>, StoreError> {
        let timer = self.metrics.time_database_query("usage");
        let result = (|| {
            let sql = usage_sql(by, filter.key_id.is_some());
            let read = |row: &Row| -> Result<UsageRow, StoreError> {
                let usage = Usage {
                    requests: row.int(1)?.max(0) as u64,
                    input_tokens: row.int(2)?.max(0) as u64,
                    output_tokens: row.int(3)?.max(0) as u64,
                    credits_nano: row.int(4)?,
                    cost_nano: row.int(5)?,
                };
                let group = match by {
                    GroupBy::Day => Group::Day(date_of(row.int(0)? * DAY)),
                    GroupBy::Model => Group::Model(row.text(0)?),
                    GroupBy::Provider => Group::Provider(row.text(0)?),
                    GroupBy::Key => Group::Key {
                        id: row.int(0)?,
                        prefix: row.text(6)?,
                        name: row.text(7)?,
                    },
                };
                Ok(UsageRow { group, usage })
            };
            let mut rows = self
                .connection
                .query(&sql, values![filter.start, filter.end, filter.key_id])?
                .iter()
                .map(read)
                .collect::<Result<Vec<_>, _>>()?;
            if by == GroupBy::Day {
                rows.sort_by(|a, b| a.group.cmp(&b.group));
            } else {
                rows.sort_by(|a, b| {
                    b.usage
                        .credits_nano
                        .cmp(&a.usage.credits_nano)
                        .then_with(|| a.group.cmp(&b.group))
                });
            }
            Ok(rows)
        })();
        timer.finish(result)
    }

    /// The usage matching `filter`, summed.
    pub fn usage_total(&self, filter: &UsageFilter) -> Result<Usage, StoreError> {
        let mut total = Usage::default();
        for row in self.usage(filter, GroupBy::Provider)? {
            total.add(&row.usage);
        }
        Ok(total)
    }

    /// Key `key_id`'s balance and spend, read in one transaction so that balance and spend
    /// agree (`now` in Unix seconds decides today, this week and this month, in UTC).
    pub fn key_overview(&mut self, key_id: i64, now: i64) -> Result<KeyOverview, StoreError> {
        let today = date_of(now);
        let week = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()));
        let month = today.with_day(1).unwrap_or(today);
        let timer = self.metrics.time_database_query("key_overview");
        let result = self.connection.transaction(|transaction| {
            let record = crate::store::key_record(&transaction.query_one(
                &format!(
                    "SELECT {} FROM api_keys WHERE id = ?1",
                    crate::store::KEY_COLUMNS
                ),
                values![key_id],
            )?)?;
            let spent = transaction.query_one(
                "SELECT COALESCE(CAST(SUM(credits_nano) AS BIGINT), 0),
                        COALESCE(CAST(SUM(credits_nano) FILTER (WHERE at >= ?2) AS BIGINT), 0),
                        COALESCE(CAST(SUM(credits_nano) FILTER (WHERE at >= ?3) AS BIGINT), 0),
                        COALESCE(CAST(SUM(credits_nano) FILTER (WHERE at >= ?4) AS BIGINT), 0)
                 FROM usage WHERE key_id = ?1",
                values![key_id, day_start(today), day_start(week), day_start(month)],
            )?;
            Ok(KeyOverview {
                record,
                lifetime_nano: spent.int(0)?,
                daily_nano: spent.int(1)?,
                weekly_nano: spent.int(2)?,
                monthly_nano: spent.int(3)?,
            })
        });
        timer.finish(result)
    }

    /// How many times each event happened to keys on each plan, in `[start, end)`.
    pub fn event_counts(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<(CustomerEvent, Plan, u64)>, StoreError> {
        let mut counts = Vec::new();
        for row in self.connection.query(
            "SELECT event, plan, COUNT(*) FROM events WHERE at >= ?1 AND at < ?2
             GROUP BY event, plan",
            values![start, end],
        )? {
            if let Some(event) = CustomerEvent::parse(&row.text(0)?) {
                counts.push((event, Plan::parse(&row.text(1)?), row.int(2)?.max(0) as u64));
            }
        }
        Ok(counts)
    }

    /// Keys on the paid plan and active at Unix second `at`: created by then, not revoked or
    /// expired by then, and paid by then (created paid, or converted at or before `at`).
    pub fn paid_active_at(&self, at: i64) -> Result<u64, StoreError> {
        self.connection
            .query_one(
                "SELECT COUNT(*) FROM api_keys k
                 WHERE k.plan = 'paid' AND k.created_at <= ?1
                   AND (k.revoked_at IS NULL OR k.revoked_at > ?1)
                   AND (k.expires_at IS NULL OR k.expires_at > ?1)
                   AND NOT EXISTS (SELECT 1 FROM events e WHERE e.key_id = k.id
                                   AND e.event = 'trial_converted' AND e.at > ?1)",
                values![at],
            )?
            .int(0)
            .map(|n| n.max(0) as u64)
    }
}

/// What the business collection reads: the gauges' counts and the customer events' totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    /// Active keys, subscriptions and trials.
    pub counts: BusinessCounts,
    /// Customer events and top-ups, ever.
    pub customers: CustomerTotals,
}

impl Database {
    /// Records the lapses of expiries in `(since, now]` and returns expired reservations'
    /// credits (on a shared store), then reads the business gauges' counts
    /// and the customer events' totals.
    pub fn collect_business(&mut self, since: i64, now: i64) -> Result<Collected, StoreError> {
        self.sweep_lapses(since, now)?;
        // Credits held by replicas that died holding them (see `reservations.rs`); only a
        // shared store holds reservations, so SQLite's writer is not taken every collection.
        if self.is_shared() {
            let expired = self.sweep_reservations(now)?;
            if expired > 0 {
                tracing::warn!(expired, "returned the credits of expired reservations");
            }
        }
        Ok(Collected {
            counts: self.business_counts(now)?,
            customers: self.customer_totals()?,
        })
    }
}

/// A read waiting for the ledger's thread.
type Read = Box<dyn FnOnce(&mut Database) + Send>;

/// The ledger's reader: a thread with its own connection, serving reads in order.
pub struct Ledger {
    reads: Mutex<Option<mpsc::Sender<Read>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Ledger {
    /// Starts the reader on another connection to `database`'s file.
    pub fn start(database: &Database) -> Result<Ledger, StoreError> {
        let mut connection = database.reopen()?;
        let (reads, requests) = mpsc::channel::<Read>();
        let thread = std::thread::Builder::new()
            .name("gatewayz-ledger".into())
            .spawn(move || {
                for read in requests {
                    read(&mut connection);
                }
            })?;
        Ok(Ledger {
            reads: Mutex::new(Some(reads)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `read` on the ledger's connection and returns what it returns.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let reads = self.reads.lock().unwrap_or_else(PoisonError::into_inner);
            reads
                .as_ref()
                .ok_or(StoreError::Stopped)?
                .send(Box::new(move |database| {
                    let _ = reply.send(read(database));
                }))
                .map_err(|_| StoreError::Stopped)?;
        }
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Stops the thread once the reads queued are done.
    pub fn shutdown(&self) {
        drop(
            self.reads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if let Some(thread) = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use gatewayz_metrics::Metrics;

    use super::*;

    #[test]
    fn usage_queries_read_through_the_indexes() {
        let dir = std::env::temp_dir().join(format!("gatewayz-ledger-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Database::open(&dir, Metrics::new()).unwrap();
        let plan = |sql: &str| -> String {
            db.connection
                .query(&format!("EXPLAIN QUERY PLAN {sql}"), values![0, 1, 1])
                .unwrap()
                .iter()
                .map(|row| row.text(3).unwrap())
                .collect::<Vec<_>>()
                .join("; ")
        };
        for by in [
            GroupBy::Day,
            GroupBy::Model,
            GroupBy::Provider,
            GroupBy::Key,
        ] {
            let one = plan(&usage_sql(by, true));
            assert!(
                one.contains("usage_by_key (key_id=? AND at>? AND at<?)"),
                "{by:?}: {one}"
            );
            let all = plan(&usage_sql(by, false));
            assert!(
                all.contains("usage_by_time (at>? AND at<?)"),
                "{by:?}: {all}"
            );
        }
        drop(db);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
