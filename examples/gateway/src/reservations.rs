//! Credits reserved in the database, for a store every replica shares.
//!
//! On one machine a key's reservations live in its [`Account`](crate::account::Account), in
//! memory. Replicas share no memory, so on a shared store (PostgreSQL) each request reserves its
//! worst-case cost in the database instead, with one conditional update:
//! `reserved_nano + amount` only where `credits_nano - reserved_nano >= amount`. Concurrent
//! reservations on any replicas serialise on the key's row, and each sees the others' (in
//! PostgreSQL's `READ COMMITTED`, an update that waited for the row's lock re-checks its
//! condition on the row as committed), so the credits held never exceed the balance. The
//! charge that replaces a reservation releases it in the same transaction
//! (`release_reservation`), and a request that ends without a charge releases it alone.
//!
//! Hence the bound across replicas: a key's balance goes below zero only by what its requests
//! in flight cost beyond what they reserved, exactly as on one machine.
//!
//! A reservation whose replica died before releasing it would hold credits forever: each
//! carries an expiry ([`RESERVATION_LIFETIME`] after it was made, longer than any request may
//! last), and the business collection of every replica returns expired ones
//! ([`Database::sweep_reservations`]). A release and a sweep of the same reservation cannot both
//! return its credits: each deletes its row first, and only the one that deleted it returns
//! them.

use std::time::Duration;

use crate::{
    account::Balance,
    sql::{Sql, values},
    store::{Database, StoreError},
};

/// How long a reservation holds credits if nothing releases it: longer than any request (a
/// request's answer must start within the upstream timeout, and a stream that runs longer
/// still has its charge written in full; only its reservation's hold ends).
pub const RESERVATION_LIFETIME: Duration = Duration::from_secs(600);

impl Database {
    /// Holds `amount` nano-credits of key `key_id` until Unix second `expires_at`, if that much
    /// is not yet held: the reservation's id, or the key's balance when it does not fit.
    pub fn reserve(
        &mut self,
        key_id: i64,
        amount: i64,
        expires_at: i64,
    ) -> Result<Result<i64, Balance>, StoreError> {
        let amount = amount.max(0);
        let timer = self.metrics.time_database_query("reserve_credits");
        if self.is_shared() {
            // One statement, one round trip: a reservation is on every request's path.
            let result = (|| {
                let held = self.connection.query_opt(
                    "WITH held AS (
                         UPDATE api_keys SET reserved_nano = reserved_nano + ?2
                         WHERE id = ?1 AND credits_nano - reserved_nano >= ?2 RETURNING id)
                     INSERT INTO reservations (key_id, amount_nano, expires_at)
                     SELECT id, ?2, ?3 FROM held RETURNING id",
                    values![key_id, amount, expires_at],
                )?;
                match held {
                    Some(row) => Ok(Ok(row.int(0)?)),
                    None => Ok(Err(balance_of(&self.connection, key_id)?)),
                }
            })();
            return timer.finish(result);
        }
        let result = self.connection.transaction(|transaction| {
            let held = transaction.execute(
                "UPDATE api_keys SET reserved_nano = reserved_nano + ?2
                 WHERE id = ?1 AND credits_nano - reserved_nano >= ?2",
                values![key_id, amount],
            )?;
            if held == 0 {
                return Ok(Err(balance_of(transaction, key_id)?));
            }
            let id = transaction
                .query_one(
                    "INSERT INTO reservations (key_id, amount_nano, expires_at)
                     VALUES (?1, ?2, ?3) RETURNING id",
                    values![key_id, amount, expires_at],
                )?
                .int(0)?;
            Ok(Ok(id))
        });
        timer.finish(result)
    }

    /// Releases reservation `id` without charging anything (nothing if it is gone already).
    pub fn release(&mut self, id: i64) -> Result<(), StoreError> {
        let timer = self.metrics.time_database_query("release_credits");
        let result = if self.is_shared() {
            self.connection
                .execute(
                    "WITH released AS (
                         DELETE FROM reservations WHERE id = ?1 RETURNING key_id, amount_nano)
                     UPDATE api_keys SET reserved_nano = reserved_nano - released.amount_nano
                     FROM released WHERE api_keys.id = released.key_id",
                    values![id],
                )
                .map(drop)
        } else {
            self.connection
                .transaction(|transaction| release_reservation(transaction, id))
        };
        timer.finish(result)
    }

    /// Returns the credits of every reservation expired by Unix second `now` (their replica
    /// died holding them); how many there were.
    pub fn sweep_reservations(&mut self, now: i64) -> Result<u64, StoreError> {
        let timer = self.metrics.time_database_query("sweep_reservations");
        let result = self.connection.transaction(|transaction| {
            let expired = transaction.query(
                "DELETE FROM reservations WHERE expires_at <= ?1 RETURNING key_id, amount_nano",
                values![now],
            )?;
            for row in &expired {
                transaction.execute(
                    "UPDATE api_keys SET reserved_nano = reserved_nano - ?1 WHERE id = ?2",
                    values![row.int(1)?, row.int(0)?],
                )?;
            }
            Ok(expired.len() as u64)
        });
        timer.finish(result)
    }

    /// Credits held by reservations of key `key_id` (for tests and the CLI).
    pub fn reserved(&self, key_id: i64) -> Result<i64, StoreError> {
        self.connection
            .query_one(
                "SELECT reserved_nano FROM api_keys WHERE id = ?1",
                values![key_id],
            )?
            .int(0)
    }
}

/// Key `key_id`'s balance as the database holds it (zero when it is gone).
fn balance_of(sql: &impl Sql, key_id: i64) -> Result<Balance, StoreError> {
    let row = sql.query_opt(
        "SELECT credits_nano, reserved_nano FROM api_keys WHERE id = ?1",
        values![key_id],
    )?;
    Ok(match row {
        Some(row) => Balance {
            settled: row.int(0)?,
            reserved: row.int(1)?,
        },
        None => Balance {
            settled: 0,
            reserved: 0,
        },
    })
}

/// Releases reservation `id` in `transaction`: deletes it and, if it was still there, returns
/// its credits to its key.
pub(crate) fn release_reservation(transaction: &impl Sql, id: i64) -> Result<(), StoreError> {
    if let Some(row) = transaction.query_opt(
        "DELETE FROM reservations WHERE id = ?1 RETURNING key_id, amount_nano",
        values![id],
    )? {
        transaction.execute(
            "UPDATE api_keys SET reserved_nano = reserved_nano - ?1 WHERE id = ?2",
            values![row.int(1)?, row.int(0)?],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use gatewayz_metrics::Metrics;

    use super::*;
    use crate::store::{Charge, Plan, charge_id};

    fn database(name: &str) -> (Database, i64) {
        let dir = std::env::temp_dir().join(format!(
            "gatewayz-reservations-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let (_, record) = db.create_key("r", Plan::Paid, 1e-6, None).unwrap(); // 1,000 nano
        (db, record.id)
    }

    #[test]
    fn reservations_never_hold_more_than_the_balance() {
        let (mut db, key) = database("hold");
        let a = db.reserve(key, 600, i64::MAX).unwrap().unwrap();
        assert_eq!(
            db.reserve(key, 500, i64::MAX).unwrap(),
            Err(Balance {
                settled: 1_000,
                reserved: 600
            })
        );
        db.reserve(key, 400, i64::MAX).unwrap().unwrap();
        db.release(a).unwrap();
        db.release(a).unwrap(); // a second release returns nothing
        assert_eq!(db.reserved(key).unwrap(), 400);
    }

    #[test]
    fn a_charge_releases_its_reservation_once_however_often_it_is_written() {
        let (mut db, key) = database("charge");
        let held = db.reserve(key, 700, i64::MAX).unwrap().unwrap();
        let charge = Charge {
            id: charge_id(),
            reservation: Some(held),
            key_id: key,
            provider: "p".into(),
            model: "m".into(),
            input_tokens: 1,
            output_tokens: 1,
            cost_nano: 1,
            credits_nano: 250,
            at: 1,
        };
        db.apply_charges([&charge]).unwrap();
        db.apply_charges([&charge]).unwrap(); // retried after a lost acknowledgement
        assert_eq!(db.reserved(key).unwrap(), 0);
        assert_eq!(db.usage_totals(key).unwrap(), (1, 250));
        assert_eq!(db.find_key(&key.to_string()).unwrap().credits_nano, 750);
    }

    #[test]
    fn expired_reservations_return_their_credits() {
        let (mut db, key) = database("sweep");
        db.reserve(key, 300, 100).unwrap().unwrap();
        let live = db.reserve(key, 200, 200).unwrap().unwrap();
        assert_eq!(db.sweep_reservations(150).unwrap(), 1);
        assert_eq!(db.reserved(key).unwrap(), 200);
        db.release(live).unwrap();
        assert_eq!(db.sweep_reservations(i64::MAX).unwrap(), 0);
        assert_eq!(db.reserved(key).unwrap(), 0);
    }
}
