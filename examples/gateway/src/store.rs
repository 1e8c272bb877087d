//! API keys, plans, credits and usage in an embedded SQLite database.
//!
//! [`Database`] is the synchronous core, used directly by the `keys` CLI. The server talks to
//! it only through [`Store`]: one worker thread owns the connection and serves commands in
//! order, so the async request path never blocks on SQLite. Every query is timed into
//! `database_query_duration_seconds`.
//!
//! # Charges
//!
//! [`Store::charge`] queues a charge and returns a [`Committed`] future that resolves once the
//! charge is in the database. With [`Batching::durable`] (the gateway's default) the worker
//! commits as soon as it is woken, and every charge queued while it commits goes into the next
//! transaction (group commit): one transaction per charge when the gateway is quiet, one per
//! group under load. With [`Batching::default`] it waits up to 500 ms or 256 charges, as the
//! gateway used to: cheaper, but a crash loses what is queued.
//!
//! After a commit the worker settles each charge's [`Account`] (credits down, reservation
//! released), and it is also the only place a cached key's row is read again
//! ([`Store::refresh`]): both happen in the worker's order, so an account counts every charge
//! exactly once (see `account.rs`). Keys used for the first time, and keys that do not exist,
//! are read by a thread of their own ([`Store::load`]), so that a client trying made-up keys
//! keeps that thread busy rather than the one committing charges.
//!
//! # Durability
//!
//! The database is in WAL mode. [`Synchronous::Normal`] (the default) makes a commit durable
//! against the process being killed (`kill -9`, the OOM killer): the WAL is written before the
//! commit returns, and the operating system keeps it. [`Synchronous::Full`] also survives a
//! power loss or kernel crash, at the price of an `fsync` per commit (per group of charges).
//!
//! # Files
//!
//! The data directory is created `0700` and the database files (`gatewayz.db`, and the `-wal`
//! and `-shm` files SQLite makes beside it with the same mode) `0600`; existing ones are
//! tightened when opened. They hold key hashes and every customer's usage.

use std::{
    fmt,
    future::Future,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::Path,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, RecvTimeoutError},
    },
    task::{Context, Poll},
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use gatewayz_metrics::Metrics;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::{
    account::Account,
    events::{record_event, sweep_lapses_of},
    postgres::Postgres,
    reservations::release_reservation,
    schema,
    sql::{Connection, Row, Sql, Value, values},
};
use gatewayz_metrics::CustomerEvent;

/// Credits are stored in nano-credits, so that sums are exact.
pub const NANO: f64 = 1e9;

/// Most credits a key can be given: a billion, so that every balance and sum of charges fits
/// the database's 64-bit nano-credits with room to spare.
pub const MAX_CREDITS: f64 = 1e9;

/// The database file in the data directory.
pub const DATABASE_FILE: &str = "gatewayz.db";

/// A plan: what kind of customer a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Plan {
    /// A free trial, with an expiry date.
    Trial,
    /// A paid subscription.
    Paid,
}

impl Plan {
    /// Its name in the database and in the `plan` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Trial => "trial",
            Plan::Paid => "paid",
        }
    }

    /// The plan stored as `s`: anything but `paid` is a trial.
    pub fn parse(s: &str) -> Plan {
        if s == "paid" { Plan::Paid } else { Plan::Trial }
    }
}

impl From<Plan> for gatewayz_metrics::Plan {
    fn from(plan: Plan) -> Self {
        match plan {
            Plan::Trial => gatewayz_metrics::Plan::Trial,
            Plan::Paid => gatewayz_metrics::Plan::Paid,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key as stored (never the key itself: only its SHA-256).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Row id.
    pub id: i64,
    /// The first characters of the key, to recognise it in listings.
    pub prefix: String,
    /// Free-form name.
    pub name: String,
    /// Trial or paid.
    pub plan: Plan,
    /// Remaining credits, in nano-credits; may go below zero by the last request's charge.
    pub credits_nano: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; trials expire.
    pub expires_at: Option<i64>,
    /// Unix seconds.
    pub revoked_at: Option<i64>,
}

impl KeyRecord {
    /// Whether the key may be used at `now` (Unix seconds).
    pub fn active_at(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| expiry > now)
    }
}

/// One request's charge.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Random, unique: a charge whose write is retried is stored once.
    pub id: i64,
    /// The reservation in the database it replaces (a shared store's), released with it.
    pub reservation: Option<i64>,
    /// Key row id.
    pub key_id: i64,
    /// Provider that served the request.
    pub provider: String,
    /// Model as the client named it.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Upstream cost, nano-dollars.
    pub cost_nano: i64,
    /// Credits charged, nano-credits.
    pub credits_nano: i64,
    /// Unix seconds.
    pub at: i64,
}

/// Counts for the business gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusinessCounts {
    /// Keys neither revoked nor expired.
    pub active_keys: u64,
    /// Of which on the paid plan.
    pub paid: u64,
    /// Of which on a trial.
    pub trials: u64,
}

/// What went wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed or cannot be reached.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The database does not hold what this gateway expects.
    #[error("database schema: {0}")]
    Schema(String),
    /// The data directory cannot be created.
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The worker thread is gone (the gateway is shutting down).
    #[error("the database worker has stopped")]
    Stopped,
    /// No key matches.
    #[error("no API key matches `{0}`")]
    NoSuchKey(String),
    /// An amount of credits that cannot be stored.
    #[error("credits must be a number from 0 to {MAX_CREDITS:.0}, not {0}")]
    InvalidCredits(f64),
    /// More than one key matches.
    #[error("`{0}` matches more than one key; use the key's id")]
    Ambiguous(String),
    /// The key is revoked: nothing can be done to it any more.
    #[error("key {0} is revoked")]
    Revoked(String),
    /// Only a trial converts to the paid plan.
    #[error("key {0} is already on the paid plan")]
    AlreadyPaid(String),
    /// A top-up that would take the balance past what can be stored.
    #[error(
        "a top-up must be more than 0 credits and leave the balance at most {MAX_CREDITS:.0}; {0} credits would not"
    )]
    InvalidTopUp(f64),
}

/// How hard a commit tries to survive a crash: SQLite's `synchronous` setting, in WAL mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// A committed charge survives the process being killed (`kill -9`, the OOM killer), not a
    /// power loss or kernel crash. No `fsync` on the request path.
    #[default]
    Normal,
    /// A committed charge survives a power loss too: one `fsync` per commit.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The SHA-256 of a key, hex; what the database stores and the cache is keyed by.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random charge id (see [`Charge::id`]).
pub fn charge_id() -> i64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    i64::from_le_bytes(bytes)
}

/// A new random key: `gwz_` and 40 base-62 characters from the OS's secure generator.
pub fn generate_key() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 40];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    // 62 does not divide 256; the bias (256 mod 62 = 8 values) is irrelevant at 40 characters.
    let suffix: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("gwz_{suffix}")
}

/// A connection to the gateway's database, created and migrated on open: SQLite in a data
/// directory (one machine), or PostgreSQL (a fleet's shared store).
pub struct Database {
    pub(crate) connection: Connection,
    pub(crate) metrics: Metrics,
}

impl Database {
    /// Opens (creating and migrating if needed) `dir/gatewayz.db`, with
    /// [`Synchronous::Normal`]; the directory and files are made owner-only.
    pub fn open(dir: &Path, metrics: Metrics) -> Result<Database, StoreError> {
        Database::open_with(dir, metrics, Synchronous::default())
    }

    /// As [`Database::open`], with commits as durable as `synchronous` says.
    pub fn open_with(
        dir: &Path,
        metrics: Metrics,
        synchronous: Synchronous,
    ) -> Result<Database, StoreError> {
        private_directory(dir)?;
        let path = dir.join(DATABASE_FILE);
        // Created owner-only before SQLite opens it: SQLite gives its -wal and -shm files the
        // database file's mode.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        let connection = rusqlite::Connection::open(&path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        // WAL lets the `keys` CLI read and write while the gateway runs.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", synchronous.pragma())?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("{DATABASE_FILE}{suffix}"));
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        let mut connection = connection;
        migrate_sqlite(&mut connection)?;
        Ok(Database {
            connection: Connection::Sqlite(connection),
            metrics,
        })
    }

    /// Connects to the PostgreSQL database at `url` and migrates it: the store every replica
    /// of a fleet shares.
    pub fn open_postgres(url: &str, metrics: Metrics) -> Result<Database, StoreError> {
        let postgres = Postgres::connect(url)?;
        postgres.migrate(schema::POSTGRES)?;
        Ok(Database {
            connection: Connection::Postgres(postgres),
            metrics,
        })
    }

    /// Whether every replica shares this database (PostgreSQL): credits are then reserved in
    /// it rather than in each replica's memory.
    pub fn is_shared(&self) -> bool {
        self.connection.is_shared()
    }

    /// Creates a key and returns it; the key itself is shown only this once.
    pub fn create_key(
        &mut self,
        name: &str,
        plan: Plan,
        credits: f64,
        expires_at: Option<i64>,
    ) -> Result<(String, KeyRecord), StoreError> {
        let key = generate_key();
        let timer = self.metrics.time_database_query("create_key");
        let record = timer.finish(self.insert_key(&key, name, plan, credits, expires_at))?;
        Ok((key, record))
    }

    /// Stores a key chosen by the caller (the demo key, kept in the data directory).
    pub fn insert_key(
        &mut self,
        key: &str,
        name: &str,
        plan: Plan,
        credits: f64,
        expires_at: Option<i64>,
    ) -> Result<KeyRecord, StoreError> {
        if !(credits.is_finite() && (0.0..=MAX_CREDITS).contains(&credits)) {
            return Err(StoreError::InvalidCredits(credits));
        }
        let now = unix_now();
        let prefix: String = key.chars().take(10).collect();
        let credits_nano = (credits * NANO).round() as i64;
        let id = self.connection.transaction(|transaction| {
            let id = transaction
                .query_one(
                    "INSERT INTO api_keys (key_hash, prefix, name, plan, credits_nano, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                    values![hash_key(key), &prefix, name, plan.as_str(), credits_nano, now, expires_at],
                )?
                .int(0)?;
            record_event(
                transaction,
                id,
                now,
                CustomerEvent::KeyCreated,
                plan,
                credits_nano,
            )?;
            if plan == Plan::Trial {
                record_event(transaction, id, now, CustomerEvent::TrialStarted, plan, 0)?;
            }
            Ok(id)
        })?;
        Ok(KeyRecord {
            id,
            prefix,
            name: name.to_owned(),
            plan,
            credits_nano,
            created_at: now,
            expires_at,
            revoked_at: None,
        })
    }

    /// The key with this hash, if any.
    pub fn lookup(&self, key_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        let timer = self.metrics.time_database_query("lookup_key");
        let result = self
            .connection
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"),
                values![key_hash],
            )
            .and_then(|row| row.as_ref().map(key_record).transpose());
        timer.finish(result)
    }

    /// Every key, oldest first.
    pub fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let timer = self.metrics.time_database_query("list_keys");
        let result = self
            .connection
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"),
                &[],
            )
            .and_then(|rows| rows.iter().map(key_record).collect());
        timer.finish(result)
    }

    /// The one key whose prefix (or row id) is `which`.
    pub fn find_key(&self, which: &str) -> Result<KeyRecord, StoreError> {
        let shown = || which.chars().take(64).collect::<String>();
        let id: Option<i64> = which.parse().ok();
        let matching = self
            .connection
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE prefix = ?1 OR id = ?2 LIMIT 2"),
                values![which, id],
            )?
            .iter()
            .map(key_record)
            .collect::<Result<Vec<_>, _>>()?;
        match <[KeyRecord; 1]>::try_from(matching) {
            Ok([record]) => Ok(record),
            Err(matching) if matching.is_empty() => Err(StoreError::NoSuchKey(shown())),
            Err(_) => Err(StoreError::Ambiguous(shown())),
        }
    }

    /// Revokes the key whose prefix (or row id) is `which`: `key_revoked`, and `cancelled` if
    /// it was active (a key revoked after its expiry had already lapsed).
    pub fn revoke_key(&mut self, which: &str) -> Result<KeyRecord, StoreError> {
        let record = self.find_key(which)?;
        if record.revoked_at.is_some() {
            return Ok(record);
        }
        let timer = self.metrics.time_database_query("revoke_key");
        let now = unix_now();
        let result = self.connection.transaction(|transaction| {
            // A lapse not yet swept happened before this revocation: recorded first, in order.
            sweep_lapses_of(transaction, Some(record.id), 0, now)?;
            let changed = transaction.execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                values![now, record.id],
            )?;
            if changed == 1 {
                if record.active_at(now) {
                    record_event(
                        transaction,
                        record.id,
                        now,
                        CustomerEvent::Cancelled,
                        record.plan,
                        0,
                    )?;
                }
                record_event(
                    transaction,
                    record.id,
                    now,
                    CustomerEvent::KeyRevoked,
                    record.plan,
                    0,
                )?;
            }
            Ok(())
        });
        timer.finish(result)?;
        Ok(KeyRecord {
            revoked_at: Some(now),
            ..record
        })
    }

    /// Applies charges in one transaction: credits go down, usage rows are added, and the
    /// reservations they replace are released. A charge already written (its transaction
    /// committed, but the answer lost with the connection, then tried again) is skipped whole,
    /// so none is counted twice.
    pub fn apply_charges<'a>(
        &mut self,
        charges: impl IntoIterator<Item = &'a Charge>,
    ) -> Result<(), StoreError> {
        let charges: Vec<&Charge> = charges.into_iter().collect();
        if charges.is_empty() {
            return Ok(());
        }
        let timer = self.metrics.time_database_query("apply_charges");
        if self.is_shared() {
            // One statement per charge (atomic on its own, and written once: see `charge_id`),
            // all sent at once. A lone charge (a quiet gateway) is one round trip; a group is
            // one transaction, so one WAL flush, of three round trips whatever its size.
            let params: Vec<_> = charges.iter().map(|c| charge_values(c).to_vec()).collect();
            let result = if let [one] = &params[..] {
                self.connection.execute(CHARGE_ON_POSTGRES, one).map(drop)
            } else {
                self.connection.transaction(|transaction| {
                    transaction
                        .execute_each(CHARGE_ON_POSTGRES, &params)
                        .map(drop)
                })
            };
            return timer.finish(result);
        }
        let result = self.connection.transaction(|transaction| {
            for c in charges {
                let values = charge_values(c);
                let inserted = transaction.execute(
                    "INSERT INTO usage (key_id, at, provider, model, input_tokens, output_tokens, cost_nano, credits_nano, charge_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
                    &values[..9],
                )?;
                if inserted == 0 {
                    continue;
                }
                transaction.execute(
                    "UPDATE api_keys SET credits_nano = credits_nano - ?1 WHERE id = ?2",
                    values![c.credits_nano, c.key_id],
                )?;
                if let Some(reservation) = c.reservation {
                    release_reservation(transaction, reservation)?;
                }
            }
            Ok(())
        });
        timer.finish(result)
    }

    /// Active keys, paid subscriptions and trials at `now`.
    pub fn business_counts(&self, now: i64) -> Result<BusinessCounts, StoreError> {
        let timer = self.metrics.time_database_query("business_counts");
        let result = self
            .connection
            .query_one(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE plan = 'paid'), COUNT(*) FILTER (WHERE plan = 'trial')
                 FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
                values![now],
            )
            .and_then(|row| {
                Ok(BusinessCounts {
                    active_keys: row.int(0)?.max(0) as u64,
                    paid: row.int(1)?.max(0) as u64,
                    trials: row.int(2)?.max(0) as u64,
                })
            });
        timer.finish(result)
    }

    /// Total usage rows and credits charged for a key (for tests and the CLI).
    pub fn usage_totals(&self, key_id: i64) -> Result<(u64, i64), StoreError> {
        let timer = self.metrics.time_database_query("usage_totals");
        let result = self
            .connection
            .query_one(
                "SELECT COUNT(*), COALESCE(CAST(SUM(credits_nano) AS BIGINT), 0) FROM usage WHERE key_id = ?1",
                values![key_id],
            )
            .and_then(|row| Ok((row.int(0)?.max(0) as u64, row.int(1)?)));
        timer.finish(result)
    }
}

/// A charge on PostgreSQL, in one statement (parameters: [`charge_values`]): its usage row,
/// unless a charge of that id is written already, and only then the debit and the release of
/// its reservation.
const CHARGE_ON_POSTGRES: &str = "
    WITH written AS (
        INSERT INTO usage (key_id, at, provider, model, input_tokens, output_tokens, cost_nano, credits_nano, charge_id)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING
        RETURNING key_id, credits_nano),
    released AS (
        DELETE FROM reservations WHERE id = ?10 AND EXISTS (SELECT 1 FROM written)
        RETURNING amount_nano)
    UPDATE api_keys SET
        credits_nano = credits_nano - (SELECT credits_nano FROM written),
        reserved_nano = reserved_nano - COALESCE((SELECT amount_nano FROM released), 0)
    WHERE id = (SELECT key_id FROM written)";

/// A charge's row in `usage` (`?1`..`?9`), then the reservation it releases (`?10`).
fn charge_values(c: &Charge) -> [Value; 10] {
    [
        c.key_id.into(),
        c.at.into(),
        c.provider.as_str().into(),
        c.model.as_str().into(),
        (c.input_tokens as i64).into(),
        (c.output_tokens as i64).into(),
        c.cost_nano.into(),
        c.credits_nano.into(),
        c.id.into(),
        c.reservation.into(),
    ]
}

/// Runs SQLite's migrations not yet run, each in its own transaction.
fn migrate_sqlite(connection: &mut rusqlite::Connection) -> Result<(), StoreError> {
    let version: usize = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > schema::SQLITE.len() {
        return Err(StoreError::Schema(format!(
            "the database is at schema version {version}, newer than this gateway's {}; run \
             the newer gateway",
            schema::SQLITE.len()
        )));
    }
    for (index, step) in schema::SQLITE.iter().enumerate().skip(version) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(step)?;
        transaction.pragma_update(None, "user_version", index + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

/// Creates `dir` (and its parents) if needed, and makes it owner-only (`0700`).
fn private_directory(dir: &Path) -> Result<(), StoreError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

pub(crate) const KEY_COLUMNS: &str =
    "id, prefix, name, plan, credits_nano, created_at, expires_at, revoked_at";

pub(crate) fn key_record(row: &Row) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        id: row.int(0)?,
        prefix: row.text(1)?,
        name: row.text(2)?,
        plan: Plan::parse(&row.text(3)?),
        credits_nano: row.int(4)?,
        created_at: row.int(5)?,
        expires_at: row.opt_int(6)?,
        revoked_at: row.opt_int(7)?,
    })
}

enum Command {
    Lookup(
        String,
        oneshot::Sender<Result<Option<KeyRecord>, StoreError>>,
    ),
    Load(
        String,
        oneshot::Sender<Result<Option<Arc<Account>>, StoreError>>,
    ),
    Refresh(Arc<Account>, oneshot::Sender<Result<(), StoreError>>),
    /// Charges are waiting in the shared queue.
    Charges,
    /// A key was refused for lack of credits.
    Exhausted(i64),
    /// A reservation in the database to release (its request ended without a charge).
    Release(i64),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// How the worker batches charges.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Most charges held before a write.
    pub max_charges: usize,
    /// Longest a charge waits before a write.
    pub max_delay: Duration,
}

impl Default for Batching {
    /// Batches of up to 256 charges or 500 ms: what is queued is lost if the process dies.
    fn default() -> Self {
        Batching {
            max_charges: 256,
            max_delay: Duration::from_millis(500),
        }
    }
}

impl Batching {
    /// Group commit: every charge is written as soon as the worker is free, together with
    /// those queued while it was busy.
    pub fn durable() -> Batching {
        Batching {
            max_charges: 1,
            max_delay: Duration::ZERO,
        }
    }
}

/// After a failed write, the worker tries again this much later at the earliest.
const RETRY_DELAY: Duration = Duration::from_millis(100);

/// A charge waiting to be written, with what to settle and whom to tell once it is.
struct Queued {
    charge: Charge,
    settle: Option<(Arc<Account>, i64)>,
    done: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// Resolves when a charge is in the database (`Ok`), or when writing it failed (`Err`: it stays
/// queued and is tried again).
#[derive(Debug)]
#[must_use = "a charge may not be written yet"]
pub struct Committed(oneshot::Receiver<Result<(), StoreError>>);

impl Future for Committed {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(StoreError::Stopped)))
    }
}

/// The asynchronous face of the database: a worker thread that owns the connection.
pub struct Store {
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    /// Charges not yet taken by the worker. The worker is woken for the first charge queued
    /// while it is idle (and every `max_charges`), not for each: a wake-up per request cost the
    /// request path two context switches, about 15 µs of latency on two busy cores.
    queued: Arc<Mutex<Vec<Queued>>>,
    max_charges: usize,
    worker: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<Checkpointer>>,
    reader: Mutex<Option<Reader>>,
    /// A shared store's pool, for the calls a request makes in the moment (reservations) on
    /// blocking threads; `None` on one machine.
    shared: Option<(Postgres, Metrics)>,
}

/// How often the WAL is checkpointed into the database file, off the commit path.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// The thread that checkpoints the WAL; stops when `stop` is dropped.
struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// A key load waiting for the reader.
type Load = (
    String,
    oneshot::Sender<Result<Option<Arc<Account>>, StoreError>>,
);

/// The thread that loads keys on a connection of its own; stops when `loads` is dropped.
///
/// First uses of a key are read here, and so is every made-up key a client tries: a flood of
/// those keeps this thread busy, never the worker that commits charges. A key not in the
/// gateway's cache has no charge waiting to be written (a cached key with one is never dropped),
/// so reading it away from the worker's order counts nothing twice.
struct Reader {
    loads: mpsc::Sender<Load>,
    thread: JoinHandle<()>,
}

impl Database {
    /// The account of the key with this hash, read now.
    fn account(&self, hash: String) -> Result<Option<Arc<Account>>, StoreError> {
        Ok(self.lookup(&hash)?.map(|r| {
            Arc::new(Account::new(
                r.id,
                r.prefix,
                hash,
                r.credits_nano,
                r.revoked_at.is_some(),
                r.expires_at,
            ))
        }))
    }

    /// Another connection to the same database, for another thread (PostgreSQL: the same
    /// pool).
    pub(crate) fn reopen(&self) -> Result<Database, StoreError> {
        let connection = match &self.connection {
            Connection::Sqlite(connection) => {
                let path = connection.path().ok_or(StoreError::Stopped)?;
                let connection = rusqlite::Connection::open(path)?;
                connection.busy_timeout(Duration::from_secs(5))?;
                Connection::Sqlite(connection)
            }
            Connection::Postgres(postgres) => Connection::Postgres(postgres.clone()),
        };
        Ok(Database {
            connection,
            metrics: self.metrics.clone(),
        })
    }

    /// Starts the key reader on another connection; `None` (loads then go to the worker) if it
    /// cannot open one.
    fn reader(&self) -> Option<Reader> {
        let database = self
            .reopen()
            .map_err(|error| tracing::warn!(%error, "cannot open a connection to read keys"))
            .ok()?;
        let (loads, requests) = mpsc::channel::<Load>();
        let thread = std::thread::Builder::new()
            .name("gatewayz-db-read".into())
            .spawn(move || {
                for (hash, reply) in requests {
                    let _ = reply.send(database.account(hash));
                }
            })
            .ok()?;
        Some(Reader { loads, thread })
    }

    /// Starts a thread that checkpoints this database's WAL every [`CHECKPOINT_INTERVAL`], on a
    /// connection of its own; `None` (checkpoints then happen at close) if it cannot open one.
    fn checkpointer(&self) -> Option<Checkpointer> {
        let Connection::Sqlite(connection) = &self.connection else {
            return None;
        };
        let path = connection.path()?.to_owned();
        let connection = rusqlite::Connection::open(&path)
            .and_then(|c| c.busy_timeout(Duration::from_secs(5)).map(|()| c))
            .map_err(|error| tracing::warn!(%error, "cannot open a connection to checkpoint"))
            .ok()?;
        let metrics = self.metrics.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("gatewayz-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    let timer = metrics.time_database_query("checkpoint");
                    let result = connection
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                        .map_err(StoreError::from);
                    if let Err(error) = timer.finish(result) {
                        tracing::warn!(%error, "checkpointing the database failed");
                    }
                }
            })
            .ok()?;
        Some(Checkpointer { stop, thread })
    }
}

impl Store {
    /// Starts the worker on `database`.
    ///
    /// The worker's connection never checkpoints the WAL itself: a checkpoint `fsync`s, and on
    /// the worker it would hold up every charge committed meanwhile (it made one commit in a
    /// few hundred wait milliseconds). A second thread checkpoints every
    /// [`CHECKPOINT_INTERVAL`] on a connection of its own instead, alongside the commits.
    pub fn start(database: Database, batching: Batching) -> Store {
        let (sender, receiver) = mpsc::channel();
        let queued = Arc::new(Mutex::new(Vec::new()));
        let worker_queue = Arc::clone(&queued);
        let checkpointer = database.checkpointer();
        let reader = database.reader();
        let shared = match &database.connection {
            Connection::Postgres(postgres) => Some((postgres.clone(), database.metrics.clone())),
            Connection::Sqlite(_) => None,
        };
        if let Connection::Sqlite(connection) = &database.connection
            && let Err(error) = connection.pragma_update(None, "wal_autocheckpoint", 0)
        {
            tracing::warn!(%error, "cannot move WAL checkpoints off the commit path");
        }
        let worker = std::thread::Builder::new()
            .name("gatewayz-db".into())
            .spawn(move || run_worker(database, receiver, &worker_queue, batching))
            .expect("can spawn the database thread");
        Store {
            commands: Mutex::new(Some(sender)),
            queued,
            max_charges: batching.max_charges.max(1),
            worker: Mutex::new(Some(worker)),
            checkpointer: Mutex::new(checkpointer),
            reader: Mutex::new(reader),
            shared,
        }
    }

    /// Whether the database is shared by replicas (PostgreSQL): credits are then reserved in
    /// it ([`Store::reserve`]).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Reserves credits in a shared database (see [`Database::reserve`]), on a blocking thread:
    /// requests reserve concurrently, each on a connection of the pool.
    pub async fn reserve(
        &self,
        key_id: i64,
        amount: i64,
        expires_at: i64,
    ) -> Result<Result<i64, crate::account::Balance>, StoreError> {
        let (postgres, metrics) = self.shared.as_ref().ok_or(StoreError::Stopped)?;
        let mut database = Database {
            connection: Connection::Postgres(postgres.clone()),
            metrics: metrics.clone(),
        };
        tokio::task::spawn_blocking(move || database.reserve(key_id, amount, expires_at))
            .await
            .map_err(|_| StoreError::Stopped)?
    }

    /// Why `/health` should say `degraded`: a shared database that cannot be reached.
    pub fn unreachable(&self) -> Option<String> {
        let (postgres, _) = self.shared.as_ref()?;
        (!postgres.is_reachable()).then(|| {
            format!(
                "the key store (PostgreSQL at {}) is unreachable: requests are refused with 503 \
                 until it returns",
                postgres.place
            )
        })
    }

    /// Releases a reservation in the database, after the charges queued before it; does not
    /// wait. If that fails, the reservation's expiry returns its credits.
    pub fn release(&self, reservation: i64) {
        if let Err(error) = self.send(Command::Release(reservation)) {
            tracing::debug!(%error, "a reservation was left to expire");
        }
    }

    fn send(&self, command: Command) -> Result<(), StoreError> {
        let commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        commands
            .as_ref()
            .ok_or(StoreError::Stopped)?
            .send(command)
            .map_err(|_| StoreError::Stopped)
    }

    /// Looks a key up by hash, after every charge queued before this call is written.
    pub async fn lookup(&self, key_hash: String) -> Result<Option<KeyRecord>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Lookup(key_hash, reply))?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// The account of the key with this hash, read now; `None` when no key has it.
    pub async fn load(&self, key_hash: String) -> Result<Option<Arc<Account>>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let sent = {
            let reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
            match reader.as_ref() {
                Some(reader) => reader
                    .loads
                    .send((key_hash, reply))
                    .map_err(|_| StoreError::Stopped),
                None => self.send(Command::Load(key_hash, reply)),
            }
        };
        sent?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Reads an account's row again (balance, revocation, expiry), after every charge queued
    /// before this call is written.
    pub async fn refresh(&self, account: Arc<Account>) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Refresh(account, reply))?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Queues a charge. Once it is written, `settle`'s account is charged and its reservation
    /// released, and the returned future resolves.
    pub fn charge(
        &self,
        charge: Charge,
        settle: Option<(Arc<Account>, i64)>,
    ) -> Result<Committed, StoreError> {
        let commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = commands.as_ref() else {
            if let Some((account, reserved)) = settle {
                account.release(reserved);
            }
            return Err(StoreError::Stopped);
        };
        let (done, committed) = oneshot::channel();
        let queued = {
            let mut queue = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
            queue.push(Queued {
                charge,
                settle,
                done: Some(done),
            });
            queue.len()
        };
        if queued == 1 || (self.max_charges > 1 && queued % self.max_charges == 0) {
            sender
                .send(Command::Charges)
                .map_err(|_| StoreError::Stopped)?;
        }
        Ok(Committed(committed))
    }

    /// Records, after the key's queued charges, that it was refused for lack of credits (once
    /// per exhaustion: see [`Database::record_exhausted`]). Does not wait.
    pub fn exhausted(&self, key_id: i64) {
        if let Err(error) = self.send(Command::Exhausted(key_id)) {
            tracing::debug!(%error, "an exhausted key was not recorded");
        }
    }

    /// Writes every queued charge now.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Flush(reply))?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Writes what is queued and stops the worker; later calls fail with `Stopped`.
    pub fn shutdown(&self) {
        let checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Checkpointer { stop, thread }) = checkpointer {
            drop(stop);
            let _ = thread.join();
        }
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Reader { loads, thread }) = reader {
            drop(loads);
            let _ = thread.join();
        }
        drop(
            self.commands
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if let Some(worker) = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            && worker.join().is_err()
        {
            tracing::error!("the database worker panicked; queued charges may be lost");
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Writes the pending charges in one transaction, then settles their accounts and tells their
/// waiters. On failure they stay pending, for the next attempt, so nothing charged is dropped
/// while the database can still be written; their waiters are told at once.
fn flush(database: &mut Database, pending: &mut Vec<Queued>) -> Result<(), StoreError> {
    if pending.is_empty() {
        return Ok(());
    }
    let charges: Vec<&Charge> = pending.iter().map(|q| &q.charge).collect();
    let result = database.apply_charges(charges);
    match &result {
        Ok(()) => {
            for queued in pending.drain(..) {
                if let Some((account, reserved)) = queued.settle {
                    account.committed(queued.charge.credits_nano, reserved);
                }
                if let Some(done) = queued.done {
                    let _ = done.send(Ok(()));
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, queued = pending.len(), "writing charges failed");
            for queued in pending.iter_mut() {
                if let Some(done) = queued.done.take() {
                    let _ = done.send(Err(StoreError::Stopped));
                }
            }
        }
    }
    result
}

fn run_worker(
    mut database: Database,
    commands: mpsc::Receiver<Command>,
    queued: &Mutex<Vec<Queued>>,
    batching: Batching,
) {
    let mut pending: Vec<Queued> = Vec::new();
    // Moves the queued charges behind those that failed to be written, keeping their order.
    let take = |pending: &mut Vec<Queued>| {
        pending.append(&mut queued.lock().unwrap_or_else(PoisonError::into_inner));
    };
    let retry = batching.max_delay.max(RETRY_DELAY);
    // When the oldest pending charge must be written, whatever other commands keep arriving.
    let mut due: Option<Instant> = None;
    loop {
        let command = match due {
            None => match commands.recv() {
                Ok(command) => command,
                Err(_) => break,
            },
            Some(due_at) => {
                match commands.recv_timeout(due_at.saturating_duration_since(Instant::now())) {
                    Ok(command) => command,
                    Err(RecvTimeoutError::Timeout) => {
                        take(&mut pending);
                        due = flush(&mut database, &mut pending)
                            .err()
                            .map(|_| Instant::now() + retry);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        // Writes what is pending before a read, so that the read sees every charge queued
        // before it.
        let mut write_pending = |pending: &mut Vec<Queued>, due: &mut Option<Instant>| {
            take(pending);
            let result = flush(&mut database, pending);
            *due = result.as_ref().err().map(|_| Instant::now() + retry);
            result
        };
        match command {
            Command::Charges => {
                take(&mut pending);
                if pending.len() >= batching.max_charges {
                    due = flush(&mut database, &mut pending)
                        .err()
                        .map(|_| Instant::now() + retry);
                } else {
                    due.get_or_insert_with(|| Instant::now() + batching.max_delay);
                }
            }
            Command::Lookup(hash, reply) => {
                let _ = write_pending(&mut pending, &mut due);
                let _ = reply.send(database.lookup(&hash));
            }
            Command::Load(hash, reply) => {
                let _ = write_pending(&mut pending, &mut due);
                let _ = reply.send(database.account(hash));
            }
            Command::Refresh(account, reply) => {
                let _ = write_pending(&mut pending, &mut due);
                let result = database.lookup(&account.hash).map(|record| {
                    account.refreshed(
                        record.map(|r| (r.credits_nano, r.revoked_at.is_some(), r.expires_at)),
                    );
                });
                let _ = reply.send(result);
            }
            Command::Exhausted(key_id) => {
                // Its pending charges first: the database decides whether credits are left.
                let _ = write_pending(&mut pending, &mut due);
                if let Err(error) = database.record_exhausted(key_id, unix_now()) {
                    tracing::warn!(%error, "recording an exhausted key failed");
                }
            }
            Command::Release(reservation) => {
                if let Err(error) = database.release(reservation) {
                    tracing::warn!(%error, "releasing a reservation failed; it will expire");
                }
            }
            Command::Flush(reply) => {
                let _ = reply.send(write_pending(&mut pending, &mut due));
            }
        }
    }
    take(&mut pending);
    if flush(&mut database, &mut pending).is_err() {
        tracing::error!(
            lost = pending.len(),
            "charges could not be written at shutdown"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gatewayz-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn keys_are_stored_hashed_and_found_by_hash() {
        let dir = temp_dir("hash");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let (key, record) = db.create_key("alice", Plan::Paid, 5.0, None).unwrap();
        assert!(key.starts_with("gwz_") && key.len() == 44);
        assert_eq!(db.lookup(&hash_key(&key)).unwrap(), Some(record.clone()));
        assert_eq!(db.lookup(&hash_key("gwz_wrong")).unwrap(), None);
        let stored = db
            .connection
            .query_one(
                "SELECT key_hash FROM api_keys WHERE id = ?1",
                values![record.id],
            )
            .and_then(|row| row.text(0))
            .unwrap();
        assert_ne!(stored, key);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn charges_persist_across_reopening() {
        let dir = temp_dir("persist");
        let key_id = {
            let mut db = Database::open(&dir, Metrics::new()).unwrap();
            let (_, record) = db
                .create_key("bob", Plan::Trial, 1.0, Some(unix_now() + 3600))
                .unwrap();
            let charge = |credits_nano| Charge {
                id: charge_id(),
                reservation: None,
                key_id: record.id,
                provider: "p".into(),
                model: "m".into(),
                input_tokens: 10,
                output_tokens: 5,
                cost_nano: credits_nano,
                credits_nano,
                at: unix_now(),
            };
            db.apply_charges(&[charge(250_000_000), charge(1)]).unwrap();
            record.id
        };
        let db = Database::open(&dir, Metrics::new()).unwrap();
        let keys = db.list_keys().unwrap();
        assert_eq!(keys[0].credits_nano, 1_000_000_000 - 250_000_001);
        assert_eq!(db.usage_totals(key_id).unwrap(), (2, 250_000_001));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn queued_charges_are_written_before_a_lookup_and_at_shutdown() {
        let dir = temp_dir("queued");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let (key, record) = db.create_key("carol", Plan::Paid, 10.0, None).unwrap();
        // Batches of 7 and no timer in sight: only the batch size, a lookup and the shutdown
        // write charges.
        let batching = Batching {
            max_charges: 7,
            max_delay: Duration::from_secs(3600),
        };
        let store = Store::start(db, batching);
        let charge = || Charge {
            id: charge_id(),
            reservation: None,
            key_id: record.id,
            provider: "p".into(),
            model: "m".into(),
            input_tokens: 1,
            output_tokens: 1,
            cost_nano: 1000,
            credits_nano: 1000,
            at: unix_now(),
        };
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| (0..25).for_each(|_| drop(store.charge(charge(), None).unwrap())));
            }
        });
        let found = actix_web::rt::System::new()
            .block_on(store.lookup(hash_key(&key)))
            .unwrap()
            .unwrap();
        assert_eq!(found.credits_nano, 10_000_000_000 - 100 * 1000);
        (0..3).for_each(|_| drop(store.charge(charge(), None).unwrap()));
        store.shutdown();
        assert!(matches!(
            store.charge(charge(), None),
            Err(StoreError::Stopped)
        ));
        let db = Database::open(&dir, Metrics::new()).unwrap();
        assert_eq!(
            db.list_keys().unwrap()[0].credits_nano,
            10_000_000_000 - 103 * 1000
        );
        assert_eq!(db.usage_totals(record.id).unwrap(), (103, 103 * 1000));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn business_counts_skip_revoked_and_expired_keys() {
        let dir = temp_dir("business");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let now = unix_now();
        db.create_key("a", Plan::Paid, 1.0, None).unwrap();
        db.create_key("b", Plan::Trial, 1.0, Some(now + 100))
            .unwrap();
        db.create_key("c", Plan::Trial, 1.0, Some(now - 1)).unwrap();
        let (_, revoked) = db.create_key("d", Plan::Paid, 1.0, None).unwrap();
        db.revoke_key(&revoked.prefix).unwrap();
        assert_eq!(
            db.business_counts(now).unwrap(),
            BusinessCounts {
                active_keys: 2,
                paid: 1,
                trials: 1
            }
        );
        assert!(matches!(
            db.revoke_key("nope"),
            Err(StoreError::NoSuchKey(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn charge_of(key_id: i64, credits_nano: i64) -> Charge {
        Charge {
            id: charge_id(),
            reservation: None,
            key_id,
            provider: "p".into(),
            model: "m".into(),
            input_tokens: 1,
            output_tokens: 1,
            cost_nano: credits_nano,
            credits_nano,
            at: unix_now(),
        }
    }

    #[test]
    fn a_durable_charge_is_in_the_database_when_its_future_resolves() {
        let dir = temp_dir("durable");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let (key, record) = db.create_key("dave", Plan::Paid, 1.0, None).unwrap();
        let store = Store::start(db, Batching::durable());
        let system = actix_web::rt::System::new();
        let account = system
            .block_on(store.load(hash_key(&key)))
            .unwrap()
            .unwrap();
        let held = account.reserve(500).unwrap();
        let committed = store
            .charge(charge_of(record.id, 300), Some(held.settle()))
            .unwrap();
        system.block_on(committed).unwrap();
        // Read by another connection, as after a crash: the charge is there.
        let other = Database::open(&dir, Metrics::new()).unwrap();
        assert_eq!(other.usage_totals(record.id).unwrap(), (1, 300));
        // The account was charged and its reservation released, once.
        assert_eq!(account.balance().settled, 1_000_000_000 - 300);
        assert_eq!(account.balance().reserved, 0);
        system
            .block_on(store.refresh(Arc::clone(&account)))
            .unwrap();
        assert_eq!(account.balance().settled, 1_000_000_000 - 300);
        store.shutdown();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refreshes_and_commits_count_every_charge_once_in_any_interleaving() {
        let dir = temp_dir("interleaving");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        let (key, record) = db.create_key("erin", Plan::Paid, 1.0, None).unwrap();
        let store = Store::start(db, Batching::durable());
        let system = actix_web::rt::System::new();
        let account = system
            .block_on(store.load(hash_key(&key)))
            .unwrap()
            .unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            // Refreshes on another thread, interleaved with the commits however they fall.
            scope.spawn(|| {
                let system = actix_web::rt::System::new();
                let mut refreshes = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || refreshes == 0 {
                    system
                        .block_on(store.refresh(Arc::clone(&account)))
                        .unwrap();
                    refreshes += 1;
                }
            });
            system.block_on(async {
                let mut waits = Vec::new();
                for _ in 0..200 {
                    let held = account.reserve(10).unwrap();
                    waits.push(
                        store
                            .charge(charge_of(record.id, 7), Some(held.settle()))
                            .unwrap(),
                    );
                }
                for wait in waits {
                    wait.await.unwrap();
                }
            });
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        system
            .block_on(store.refresh(Arc::clone(&account)))
            .unwrap();
        assert_eq!(
            account.balance(),
            crate::account::Balance {
                settled: 1_000_000_000 - 200 * 7,
                reserved: 0
            }
        );
        store.shutdown();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_data_directory_and_database_files_are_owner_only() {
        let dir = temp_dir("modes");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        drop(Database::open(&dir, Metrics::new()).unwrap());
        // Files left readable by an older version are tightened on open.
        let db_file = dir.join(DATABASE_FILE);
        std::fs::set_permissions(&db_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let db = Database::open(&dir, Metrics::new()).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("{DATABASE_FILE}{suffix}"));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        drop(db);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_database_newer_than_the_gateway_is_refused_and_left_alone() {
        let dir = temp_dir("newer");
        drop(Database::open(&dir, Metrics::new()).unwrap());
        let newer = schema::SQLITE.len() + 1;
        rusqlite::Connection::open(dir.join(DATABASE_FILE))
            .unwrap()
            .pragma_update(None, "user_version", newer)
            .unwrap();
        let error = Database::open(&dir, Metrics::new()).err().expect("refused");
        assert!(
            error.to_string().contains("newer than this gateway"),
            "{error}"
        );
        let version: usize = rusqlite::Connection::open(dir.join(DATABASE_FILE))
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, newer);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn credits_that_cannot_be_stored_are_refused() {
        let dir = temp_dir("credits");
        let mut db = Database::open(&dir, Metrics::new()).unwrap();
        for credits in [f64::NAN, f64::INFINITY, -1.0, 1e300, MAX_CREDITS * 1.01] {
            assert!(
                matches!(
                    db.create_key("x", Plan::Paid, credits, None),
                    Err(StoreError::InvalidCredits(_))
                ),
                "{credits}"
            );
        }
        let (_, record) = db.create_key("x", Plan::Paid, MAX_CREDITS, None).unwrap();
        assert_eq!(record.credits_nano, 1_000_000_000_000_000_000);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
