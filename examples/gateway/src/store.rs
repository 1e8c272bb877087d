//! API keys, plans, credits and usage in an embedded SQLite database.
//!
//! [`Database`] is the synchronous core, used directly by the `keys` CLI. The server talks to
//! it only through [`Store`]: one worker thread owns the connection and serves commands in
//! order, so the async request path never blocks on SQLite. Charges are queued and written in
//! batches (one transaction per batch); a lookup first flushes the queued charges, so it always
//! sees every charge made before it. Every query is timed into
//! `database_query_duration_seconds`.

use std::{
    fmt,
    path::Path,
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, RecvTimeoutError},
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use gatewayz_metrics::Metrics;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

/// Credits are stored in nano-credits, so that sums are exact.
pub const NANO: f64 = 1e9;

const SCHEMA: &[&str] = &[
    // Version 1.
    "CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        name TEXT NOT NULL,
        plan TEXT NOT NULL CHECK (plan IN ('trial', 'paid')),
        credits_nano INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
    );
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        key_id INTEGER NOT NULL REFERENCES api_keys(id),
        at INTEGER NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_nano INTEGER NOT NULL,
        credits_nano INTEGER NOT NULL
    );
    CREATE INDEX usage_by_key ON usage (key_id, at);",
];

/// A plan: what kind of customer a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Plan {
    /// A free trial, with an expiry date.
    Trial,
    /// A paid subscription.
    Paid,
}

impl Plan {
    fn as_str(self) -> &'static str {
        match self {
            Plan::Trial => "trial",
            Plan::Paid => "paid",
        }
    }

    fn parse(s: &str) -> Plan {
        if s == "paid" { Plan::Paid } else { Plan::Trial }
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
    /// The data directory cannot be created.
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The worker thread is gone (the gateway is shutting down).
    #[error("the database worker has stopped")]
    Stopped,
    /// No key matches.
    #[error("no API key matches `{0}`")]
    NoSuchKey(String),
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

/// A connection to the gateway's database, created and migrated on open.
pub struct Database {
    connection: Connection,
    metrics: Metrics,
}

impl Database {
    /// Opens (creating and migrating if needed) `dir/gatewayz.db`.
    pub fn open(dir: &Path, metrics: Metrics) -> Result<Database, StoreError> {
        std::fs::create_dir_all(dir)?;
        let connection = Connection::open(dir.join("gatewayz.db"))?;
        connection.busy_timeout(Duration::from_secs(5))?;
        // WAL lets the `keys` CLI read and write while the gateway runs.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let mut database = Database {
            connection,
            metrics,
        };
        database.migrate()?;
        Ok(database)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: usize = self
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        for (index, step) in SCHEMA.iter().enumerate().skip(version) {
            let transaction = self.connection.transaction()?;
            transaction.execute_batch(step)?;
            transaction.pragma_update(None, "user_version", index + 1)?;
            transaction.commit()?;
        }
        Ok(())
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
        let now = unix_now();
        let prefix: String = key.chars().take(10).collect();
        let credits_nano = (credits * NANO).round() as i64;
        self.connection.execute(
            "INSERT INTO api_keys (key_hash, prefix, name, plan, credits_nano, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![hash_key(key), prefix, name, plan.as_str(), credits_nano, now, expires_at],
        )?;
        Ok(KeyRecord {
            id: self.connection.last_insert_rowid(),
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
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"),
                [key_hash],
                key_record,
            )
            .optional()
            .map_err(StoreError::from);
        timer.finish(result)
    }

    /// Every key, oldest first.
    pub fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let timer = self.metrics.time_database_query("list_keys");
        let result = (|| {
            let mut statement = self
                .connection
                .prepare(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"))?;
            let rows = statement.query_map([], key_record)?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)
        })();
        timer.finish(result)
    }

    /// Revokes the key whose prefix (or row id) is `which`.
    pub fn revoke_key(&mut self, which: &str) -> Result<KeyRecord, StoreError> {
        let keys = self.list_keys()?;
        let matching: Vec<&KeyRecord> = keys
            .iter()
            .filter(|k| k.prefix == which || k.id.to_string() == which)
            .collect();
        let [record] = matching[..] else {
            return Err(StoreError::NoSuchKey(which.to_owned()));
        };
        let timer = self.metrics.time_database_query("revoke_key");
        let now = unix_now();
        let result = self
            .connection
            .execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                params![now, record.id],
            )
            .map_err(StoreError::from);
        timer.finish(result)?;
        Ok(KeyRecord {
            revoked_at: record.revoked_at.or(Some(now)),
            ..record.clone()
        })
    }

    /// Applies charges in one transaction: credits go down, usage rows are added.
    pub fn apply_charges(&mut self, charges: &[Charge]) -> Result<(), StoreError> {
        if charges.is_empty() {
            return Ok(());
        }
        let timer = self.metrics.time_database_query("apply_charges");
        let result = (|| {
            let transaction = self.connection.transaction()?;
            {
                let mut debit = transaction.prepare_cached(
                    "UPDATE api_keys SET credits_nano = credits_nano - ?1 WHERE id = ?2",
                )?;
                let mut usage = transaction.prepare_cached(
                    "INSERT INTO usage (key_id, at, provider, model, input_tokens, output_tokens, cost_nano, credits_nano)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for c in charges {
                    debit.execute(params![c.credits_nano, c.key_id])?;
                    usage.execute(params![
                        c.key_id,
                        c.at,
                        c.provider,
                        c.model,
                        c.input_tokens as i64,
                        c.output_tokens as i64,
                        c.cost_nano,
                        c.credits_nano
                    ])?;
                }
            }
            transaction.commit().map_err(StoreError::from)
        })();
        timer.finish(result)
    }

    /// Active keys, paid subscriptions and trials at `now`.
    pub fn business_counts(&self, now: i64) -> Result<BusinessCounts, StoreError> {
        let timer = self.metrics.time_database_query("business_counts");
        let result = self
            .connection
            .query_row(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE plan = 'paid'), COUNT(*) FILTER (WHERE plan = 'trial')
                 FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
                [now],
                |row| {
                    Ok(BusinessCounts {
                        active_keys: row.get::<_, i64>(0)? as u64,
                        paid: row.get::<_, i64>(1)? as u64,
                        trials: row.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .map_err(StoreError::from);
        timer.finish(result)
    }

    /// Total usage rows and credits charged for a key (for tests and the CLI).
    pub fn usage_totals(&self, key_id: i64) -> Result<(u64, i64), StoreError> {
        let timer = self.metrics.time_database_query("usage_totals");
        let result = self
            .connection
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(credits_nano), 0) FROM usage WHERE key_id = ?1",
                [key_id],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get(1)?)),
            )
            .map_err(StoreError::from);
        timer.finish(result)
    }
}

const KEY_COLUMNS: &str =
    "id, prefix, name, plan, credits_nano, created_at, expires_at, revoked_at";

fn key_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: row.get(0)?,
        prefix: row.get(1)?,
        name: row.get(2)?,
        plan: Plan::parse(&row.get::<_, String>(3)?),
        credits_nano: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        revoked_at: row.get(7)?,
    })
}

enum Command {
    Lookup(
        String,
        oneshot::Sender<Result<Option<KeyRecord>, StoreError>>,
    ),
    /// Charges are waiting in the shared queue.
    Charges,
    Business(oneshot::Sender<Result<BusinessCounts, StoreError>>),
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
    fn default() -> Self {
        Batching {
            max_charges: 256,
            max_delay: Duration::from_millis(500),
        }
    }
}

/// The asynchronous face of the database: a worker thread that owns the connection.
pub struct Store {
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    /// Charges not yet taken by the worker. The worker is woken for the first charge of a batch
    /// (and every `max_charges`), not for each: a wake-up per request cost the request path
    /// two context switches, about 15 µs of latency on two busy cores.
    queued: Arc<Mutex<Vec<Charge>>>,
    max_charges: usize,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Store {
    /// Starts the worker on `database`.
    pub fn start(database: Database, batching: Batching) -> Store {
        let (sender, receiver) = mpsc::channel();
        let queued = Arc::new(Mutex::new(Vec::new()));
        let worker_queue = Arc::clone(&queued);
        let worker = std::thread::Builder::new()
            .name("gatewayz-db".into())
            .spawn(move || run_worker(database, receiver, &worker_queue, batching))
            .expect("can spawn the database thread");
        Store {
            commands: Mutex::new(Some(sender)),
            queued,
            max_charges: batching.max_charges.max(1),
            worker: Mutex::new(Some(worker)),
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

    /// Queues a charge; it is written with the next batch.
    pub fn charge(&self, charge: Charge) -> Result<(), StoreError> {
        let commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = commands.as_ref().ok_or(StoreError::Stopped)?;
        let queued = {
            let mut queue = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
            queue.push(charge);
            queue.len()
        };
        if queued == 1 || queued % self.max_charges == 0 {
            sender
                .send(Command::Charges)
                .map_err(|_| StoreError::Stopped)?;
        }
        Ok(())
    }

    /// Counts for the business gauges.
    pub async fn business_counts(&self) -> Result<BusinessCounts, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Business(reply))?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Writes every queued charge now.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Flush(reply))?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Writes what is queued and stops the worker; later calls fail with `Stopped`.
    pub fn shutdown(&self) {
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

/// Writes the queued charges; on failure keeps them for the next attempt, so nothing charged is
/// dropped while the database can still be written.
fn flush(database: &mut Database, pending: &mut Vec<Charge>) -> Result<(), StoreError> {
    let result = database.apply_charges(pending);
    match &result {
        Ok(()) => pending.clear(),
        Err(e) => tracing::error!(error = %e, queued = pending.len(), "writing charges failed"),
    }
    result
}

fn run_worker(
    mut database: Database,
    commands: mpsc::Receiver<Command>,
    queued: &Mutex<Vec<Charge>>,
    batching: Batching,
) {
    let mut pending: Vec<Charge> = Vec::new();
    // Moves the queued charges behind those that failed to be written, keeping their order.
    let take = |pending: &mut Vec<Charge>| {
        pending.append(&mut queued.lock().unwrap_or_else(PoisonError::into_inner));
    };
    // When the oldest queued charge must be written, whatever other commands keep arriving.
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
                        if flush(&mut database, &mut pending).is_ok() {
                            due = None;
                        } else {
                            due = Some(Instant::now() + batching.max_delay);
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        match command {
            Command::Charges => {
                take(&mut pending);
                due.get_or_insert_with(|| Instant::now() + batching.max_delay);
                if pending.len() >= batching.max_charges
                    && flush(&mut database, &mut pending).is_ok()
                {
                    due = None;
                }
            }
            Command::Lookup(hash, reply) => {
                take(&mut pending);
                if flush(&mut database, &mut pending).is_ok() {
                    due = None;
                }
                let _ = reply.send(database.lookup(&hash));
            }
            Command::Business(reply) => {
                let _ = reply.send(database.business_counts(unix_now()));
            }
            Command::Flush(reply) => {
                take(&mut pending);
                let result = flush(&mut database, &mut pending);
                if result.is_ok() {
                    due = None;
                }
                let _ = reply.send(result);
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
        let stored: String = db
            .connection
            .query_row(
                "SELECT key_hash FROM api_keys WHERE id = ?1",
                [record.id],
                |r| r.get(0),
            )
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
                scope.spawn(|| (0..25).for_each(|_| store.charge(charge()).unwrap()));
            }
        });
        let found = actix_web::rt::System::new()
            .block_on(store.lookup(hash_key(&key)))
            .unwrap()
            .unwrap();
        assert_eq!(found.credits_nano, 10_000_000_000 - 100 * 1000);
        (0..3).for_each(|_| store.charge(charge()).unwrap());
        store.shutdown();
        assert!(matches!(store.charge(charge()), Err(StoreError::Stopped)));
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
}
