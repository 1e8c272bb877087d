//! Customer events: what happened to each key, recorded once, durably, in the `events` table.
//!
//! The key store is the source of truth. Events happen in three places: the `keys` command
//! (created, converted, topped up, revoked: another process), the gateway (a request refused for
//! lack of credits) and the clock (a key reaching its expiry). Each is written in the same
//! transaction as the change it describes, and the table is append-only (triggers refuse
//! updates and deletes). The gateway exports the totals as counters set from the database
//! (`gatewayz_customer_events_total`), so they survive restarts and count what other processes
//! did; every replica on one database reports the same totals.
//!
//! | event | when | plan |
//! | --- | --- | --- |
//! | `key_created` | a key is created (with the credits it starts with) | its plan |
//! | `trial_started` | a key is created on the trial plan | `trial` |
//! | `trial_converted` | `keys convert` moves a trial to the paid plan | `trial` |
//! | `cancelled` | an active key is revoked | its plan |
//! | `lapsed` | a key reaches its expiry unrevoked (recorded at its expiry time) | its plan |
//! | `key_revoked` | any revocation | its plan |
//! | `credits_topped_up` | `keys top-up` (with the amount) | its plan |
//! | `credits_exhausted` | the first 402 for lack of credits (none left, or too few for the request's worst case) since creation or the last top-up | its plan |
//!
//! Lapses are found by time: whoever opens the database sweeps keys whose expiry has passed
//! (the gateway's business collection, every `keys` command, the report), and a unique index
//! makes a lapse recorded once however many sweep. A revocation or conversion sweeps its key
//! first, so a lapse that happened before it is never lost.

use gatewayz_metrics::{CustomerEvent, CustomerTotals};

use crate::{
    sql::{Sql, values},
    store::{Database, KeyRecord, MAX_CREDITS, NANO, Plan, StoreError},
};

/// Appends one event.
pub(crate) fn record_event(
    sql: &impl Sql,
    key_id: i64,
    at: i64,
    event: CustomerEvent,
    plan: Plan,
    credits_nano: i64,
) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO events (key_id, at, event, plan, credits_nano) VALUES (?1, ?2, ?3, ?4, ?5)",
        values![key_id, at, event.as_str(), plan.as_str(), credits_nano],
    )?;
    Ok(())
}

/// Records the lapse of every key (or of `key` alone) whose expiry is in `(since, now]` and
/// that was not revoked before it; lapses already recorded are left alone. Returns how many
/// were new.
pub(crate) fn sweep_lapses_of(
    sql: &impl Sql,
    key: Option<i64>,
    since: i64,
    now: i64,
) -> Result<usize, StoreError> {
    let inserted = sql.execute(
        "INSERT INTO events (key_id, at, event, plan)
         SELECT id, expires_at, 'lapsed', plan FROM api_keys
         WHERE expires_at IS NOT NULL AND expires_at > ?1 AND expires_at <= ?2
           AND (revoked_at IS NULL OR revoked_at > expires_at)
           AND (CAST(?3 AS BIGINT) IS NULL OR id = ?3)
         ON CONFLICT DO NOTHING",
        values![since, now, key],
    )?;
    Ok(inserted as usize)
}

impl Database {
    /// Records the lapse of every key whose expiry is in `(since, now]` and that was not
    /// revoked before it, once; returns how many were new. `since` 0 sweeps the whole history.
    pub fn sweep_lapses(&mut self, since: i64, now: i64) -> Result<usize, StoreError> {
        let timer = self.metrics.time_database_query("sweep_lapses");
        let result = sweep_lapses_of(&self.connection, None, since, now);
        timer.finish(result)
    }

    /// Moves the trial `which` (prefix or id) to the paid plan, ending its expiry:
    /// `trial_converted`. A trial that already lapsed may convert too (its lapse stays
    /// recorded); a revoked key may not.
    pub fn convert_key(&mut self, which: &str, now: i64) -> Result<KeyRecord, StoreError> {
        let record = self.find_key(which)?;
        if record.revoked_at.is_some() {
            return Err(StoreError::Revoked(record.prefix));
        }
        if record.plan == Plan::Paid {
            return Err(StoreError::AlreadyPaid(record.prefix));
        }
        let timer = self.metrics.time_database_query("convert_key");
        let result = self.connection.transaction(|transaction| {
            sweep_lapses_of(transaction, Some(record.id), 0, now)?;
            let changed = transaction.execute(
                "UPDATE api_keys SET plan = 'paid', expires_at = NULL
                 WHERE id = ?1 AND plan = 'trial' AND revoked_at IS NULL",
                values![record.id],
            )?;
            if changed != 1 {
                // Changed by another process since it was read.
                return Err(StoreError::AlreadyPaid(record.prefix.clone()));
            }
            record_event(
                transaction,
                record.id,
                now,
                CustomerEvent::TrialConverted,
                Plan::Trial,
                0,
            )
        });
        timer.finish(result)?;
        Ok(KeyRecord {
            plan: Plan::Paid,
            expires_at: None,
            ..record
        })
    }

    /// Adds `credits` to the key `which` (prefix or id): `credits_topped_up`, with the amount.
    /// The balance must stay within what can be stored; a revoked key is refused.
    pub fn top_up(&mut self, which: &str, credits: f64, now: i64) -> Result<KeyRecord, StoreError> {
        if !(credits.is_finite() && credits > 0.0 && credits <= MAX_CREDITS) {
            return Err(StoreError::InvalidTopUp(credits));
        }
        let amount = (credits * NANO).round() as i64;
        let record = self.find_key(which)?;
        if record.revoked_at.is_some() {
            return Err(StoreError::Revoked(record.prefix));
        }
        let ceiling = (MAX_CREDITS * NANO) as i64;
        let timer = self.metrics.time_database_query("top_up");
        let result = self.connection.transaction(|transaction| {
            // One conditional update: a charge committed by another replica meanwhile is
            // counted, never overwritten.
            let balance = transaction.query_opt(
                "UPDATE api_keys SET credits_nano = credits_nano + ?1
                 WHERE id = ?2 AND credits_nano + ?1 <= ?3 RETURNING credits_nano",
                values![amount, record.id, ceiling],
            )?;
            let Some(balance) = balance else {
                return Err(StoreError::InvalidTopUp(credits));
            };
            record_event(
                transaction,
                record.id,
                now,
                CustomerEvent::CreditsToppedUp,
                record.plan,
                amount,
            )?;
            balance.int(0)
        });
        let balance = timer.finish(result)?;
        Ok(KeyRecord {
            credits_nano: balance,
            ..record
        })
    }

    /// Records that key `key_id` was refused (402) for lack of credits, unless that is
    /// already recorded since its creation or its last top-up. Returns whether an event was
    /// written.
    pub fn record_exhausted(&mut self, key_id: i64, now: i64) -> Result<bool, StoreError> {
        let timer = self.metrics.time_database_query("record_exhausted");
        let result = self
            .connection
            .execute(
                "INSERT INTO events (key_id, at, event, plan)
                 SELECT id, CAST(?2 AS BIGINT), 'credits_exhausted', plan FROM api_keys
                 WHERE id = ?1
                   AND NOT EXISTS (
                     SELECT 1 FROM events e WHERE e.key_id = ?1 AND e.event = 'credits_exhausted'
                       AND e.id > COALESCE((SELECT MAX(t.id) FROM events t
                                            WHERE t.key_id = ?1 AND t.event = 'credits_topped_up'), 0))",
                values![key_id, now],
            )
            .map(|inserted| inserted == 1);
        timer.finish(result)
    }

    /// Every event total, and the credits topped up, per plan: what the gateway exports.
    pub fn customer_totals(&self) -> Result<CustomerTotals, StoreError> {
        let timer = self.metrics.time_database_query("customer_totals");
        let result = (|| {
            let mut totals = CustomerTotals::new();
            let rows = self.connection.query(
                "SELECT event, plan, COUNT(*), CAST(SUM(credits_nano) AS BIGINT)
                 FROM events GROUP BY event, plan",
                &[],
            )?;
            for row in rows {
                // An event a newer version recorded is not ours to count.
                let Some(event) = CustomerEvent::parse(&row.text(0)?) else {
                    continue;
                };
                let plan = Plan::parse(&row.text(1)?).into();
                totals.set_events(event, plan, row.int(2)?.max(0) as u64);
                if event == CustomerEvent::CreditsToppedUp {
                    totals.set_credits_topped_up_nano(plan, row.int(3)?.max(0) as u64);
                }
            }
            Ok(totals)
        })();
        timer.finish(result)
    }

    /// The events of key `key_id`, oldest first (for the CLI and tests).
    pub fn key_events(&self, key_id: i64) -> Result<Vec<(CustomerEvent, i64)>, StoreError> {
        let mut events = Vec::new();
        for row in self.connection.query(
            "SELECT event, at FROM events WHERE key_id = ?1 ORDER BY id",
            values![key_id],
        )? {
            events.extend(CustomerEvent::parse(&row.text(0)?).map(|e| Ok((e, row.int(1)?))));
        }
        events.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use gatewayz_metrics::{Metrics, Plan as Labelled};

    use super::*;
    use crate::store::{Charge, unix_now};

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gatewayz-events-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn events(db: &Database, key_id: i64) -> Vec<CustomerEvent> {
        db.key_events(key_id)
            .unwrap()
            .into_iter()
            .map(|(e, _)| e)
            .collect()
    }

    #[test]
    fn each_change_to_a_key_records_its_events_in_the_same_transaction() {
        use CustomerEvent::*;
        let dir = temp_dir("lifecycle");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let now = unix_now();
        let (_, trial) = db
            .create_key("t", Plan::Trial, 1.0, Some(now + 3600))
            .unwrap();
        let (_, paid) = db.create_key("p", Plan::Paid, 5.0, None).unwrap();
        assert_eq!(events(&db, trial.id), [KeyCreated, TrialStarted]);
        assert_eq!(events(&db, paid.id), [KeyCreated]);

        let converted = db.convert_key(&trial.prefix, now).unwrap();
        assert_eq!((converted.plan, converted.expires_at), (Plan::Paid, None));
        assert!(matches!(
            db.convert_key(&trial.prefix, now),
            Err(StoreError::AlreadyPaid(_))
        ));
        let topped = db.top_up(&paid.id.to_string(), 2.5, now).unwrap();
        assert_eq!(topped.credits_nano, 7_500_000_000);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_CREDITS] {
            assert!(
                matches!(
                    db.top_up(&paid.prefix, bad, now),
                    Err(StoreError::InvalidTopUp(_))
                ),
                "{bad}"
            );
        }
        db.revoke_key(&paid.prefix).unwrap();
        // Revoking twice records nothing more; a revoked key takes no top-up or conversion.
        db.revoke_key(&paid.prefix).unwrap();
        assert!(matches!(
            db.top_up(&paid.prefix, 1.0, now),
            Err(StoreError::Revoked(_))
        ));
        assert_eq!(
            events(&db, trial.id),
            [KeyCreated, TrialStarted, TrialConverted]
        );
        assert_eq!(
            events(&db, paid.id),
            [KeyCreated, CreditsToppedUp, Cancelled, KeyRevoked]
        );

        let totals = db.customer_totals().unwrap();
        assert_eq!(totals.events(KeyCreated, Labelled::Trial), 1);
        assert_eq!(totals.events(KeyCreated, Labelled::Paid), 1);
        // A conversion counts on the plan it ended.
        assert_eq!(totals.events(TrialConverted, Labelled::Trial), 1);
        assert_eq!(totals.events(Cancelled, Labelled::Paid), 1);
        assert_eq!(totals.credits_topped_up_nano(Labelled::Paid), 2_500_000_000);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_lapse_is_recorded_once_at_its_expiry_and_never_after_a_revocation() {
        use CustomerEvent::*;
        let dir = temp_dir("lapses");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let now = unix_now();
        let (_, lapsing) = db
            .create_key("a", Plan::Trial, 1.0, Some(now + 100))
            .unwrap();
        let (_, revoked_first) = db
            .create_key("b", Plan::Trial, 1.0, Some(now + 100))
            .unwrap();
        db.revoke_key(&revoked_first.prefix).unwrap();
        assert_eq!(db.sweep_lapses(0, now).unwrap(), 0, "nothing has expired");
        assert_eq!(db.sweep_lapses(0, now + 100).unwrap(), 1);
        // Any number of sweeps, from any process: once.
        assert_eq!(db.sweep_lapses(0, now + 200).unwrap(), 0);
        let lapses: Vec<(CustomerEvent, i64)> = db
            .key_events(lapsing.id)
            .unwrap()
            .into_iter()
            .filter(|(e, _)| *e == Lapsed)
            .collect();
        assert_eq!(lapses, [(Lapsed, now + 100)], "recorded at the expiry");
        assert_eq!(
            events(&db, revoked_first.id),
            [KeyCreated, TrialStarted, Cancelled, KeyRevoked]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_revocation_or_conversion_after_an_unswept_expiry_keeps_the_lapse() {
        use CustomerEvent::*;
        let dir = temp_dir("unswept");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let past = unix_now() - 10;
        let (_, revoked) = db.create_key("a", Plan::Trial, 1.0, Some(past)).unwrap();
        let (_, won_back) = db.create_key("b", Plan::Trial, 1.0, Some(past)).unwrap();
        db.revoke_key(&revoked.prefix).unwrap();
        db.convert_key(&won_back.prefix, unix_now()).unwrap();
        // Already lapsed when revoked: no cancellation.
        assert_eq!(
            events(&db, revoked.id),
            [KeyCreated, TrialStarted, Lapsed, KeyRevoked]
        );
        assert_eq!(
            events(&db, won_back.id),
            [KeyCreated, TrialStarted, Lapsed, TrialConverted]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_exhaustion_is_recorded_once_until_the_next_top_up() {
        use CustomerEvent::*;
        let dir = temp_dir("exhausted");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let now = unix_now();
        let (_, key) = db.create_key("a", Plan::Paid, 0.000001, None).unwrap();
        let charge = |credits_nano| Charge {
            id: crate::store::charge_id(),
            reservation: None,
            key_id: key.id,
            provider: "p".into(),
            model: "m".into(),
            input_tokens: 1,
            output_tokens: 1,
            cost_nano: 1000,
            credits_nano,
            at: now,
        };
        db.apply_charges([&charge(1000)]).unwrap();
        assert!(db.record_exhausted(key.id, now).unwrap());
        assert!(
            !db.record_exhausted(key.id, now).unwrap(),
            "the same exhaustion"
        );
        db.top_up(&key.prefix, 0.000001, now).unwrap();
        db.apply_charges([&charge(1000)]).unwrap();
        assert!(db.record_exhausted(key.id, now).unwrap(), "a new one");
        assert_eq!(
            db.customer_totals()
                .unwrap()
                .events(CreditsExhausted, Labelled::Paid),
            2
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn events_are_append_only() {
        let dir = temp_dir("append-only");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        db.create_key("a", Plan::Paid, 1.0, None).unwrap();
        for statement in ["UPDATE events SET at = 0", "DELETE FROM events"] {
            let error = db.connection.execute(statement, &[]).unwrap_err();
            assert!(error.to_string().contains("append-only"), "{error}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_version_1_database_gets_the_events_of_its_keys_on_migration() {
        use CustomerEvent::*;
        let dir = temp_dir("migration");
        std::fs::create_dir_all(&dir).unwrap();
        {
            // A database as version 1 left it: no events table.
            let connection =
                rusqlite::Connection::open(dir.join(crate::store::DATABASE_FILE)).unwrap();
            connection
                .execute_batch(&format!(
                    "{}; PRAGMA user_version = 1;
                     INSERT INTO api_keys (key_hash, prefix, name, plan, credits_nano, created_at, expires_at, revoked_at)
                     VALUES ('h1', 'gwz_a', 'a', 'trial', 400, 100, 1000, 500),
                            ('h2', 'gwz_b', 'b', 'paid', 700, 200, NULL, NULL);
                     INSERT INTO usage (key_id, at, provider, model, input_tokens, output_tokens, cost_nano, credits_nano)
                     VALUES (2, 300, 'p', 'm', 1, 1, 300, 300);",
                    crate::schema::schema_v1()
                ))
                .unwrap();
        }
        let db = Database::open(&dir, Metrics::new()).unwrap();
        assert_eq!(
            db.key_events(1).unwrap(),
            [
                (KeyCreated, 100),
                (TrialStarted, 100),
                (Cancelled, 500),
                (KeyRevoked, 500)
            ]
        );
        assert_eq!(db.key_events(2).unwrap(), [(KeyCreated, 200)]);
        // Created with what it had before its usage: 700 left + 300 used.
        let created = db
            .connection
            .query_one(
                "SELECT credits_nano FROM events WHERE key_id = 2 AND event = 'key_created'",
                &[],
            )
            .and_then(|row| row.int(0))
            .unwrap();
        assert_eq!(created, 1000);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
