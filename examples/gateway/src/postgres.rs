//! The PostgreSQL key store's connections: an async client (`tokio-postgres`) and its pool
//! (`deadpool-postgres`), on a runtime of their own.
//!
//! The gateway's database work happens on threads of its own (the worker that commits charges,
//! the key reader, the ledger; see `store.rs`), written once for both engines as synchronous
//! calls (`sql.rs`). Those calls run the pool's futures to completion on this module's runtime,
//! which also drives every connection's socket; a request that needs the database in the
//! moment (a credit reservation) runs its call on a blocking thread. One runtime per process,
//! never dropped: connections outlive any one caller.
//!
//! Every wait is bounded, so that a PostgreSQL that is down or unreachable costs a request a
//! clear error within a few seconds, never a hang: connecting ([`CONNECT_TIMEOUT`]), waiting for
//! a free connection ([`WAIT_TIMEOUT`]) and each statement (`statement_timeout`,
//! [`STATEMENT_TIMEOUT`]). A connection broken by a restart is dropped when it is next taken
//! from the pool, and a new one is made: service resumes by itself.
//!
//! The URL's password never reaches a log or an error: errors name the host, not the URL.

use std::{
    future::Future,
    str::FromStr,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::Duration,
};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, types::ToSql};

use crate::{
    sql::{Row, Value, row_of},
    store::StoreError,
};

/// Longest wait for a new connection to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for a connection of the pool to be free.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a statement may run on the server.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections each replica holds at most.
pub const POOL_SIZE: usize = 16;

/// A pool of connections to one PostgreSQL database; cheap to clone (the clones share it).
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    /// Where it is, for messages: `host:port/database`, never the password.
    pub place: String,
    /// Whether the last attempt to take a connection succeeded.
    reachable: Arc<AtomicBool>,
}

/// A transaction on one pooled connection.
pub struct Transaction<'a> {
    postgres: &'a Postgres,
    inner: &'a deadpool_postgres::Transaction<'a>,
}

/// The runtime every connection runs on.
fn runtime() -> Result<&'static tokio::runtime::Runtime, StoreError> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("gatewayz-postgres")
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| runtime))
}

fn postgres_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Postgres(error.to_string())
}

/// An error and its causes, `: `-separated (the driver's own message leaves the cause out:
/// "error connecting to server", not why).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let more = error.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = error.source();
    }
    text
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        StoreError::Postgres(with_causes(&error))
    }
}

impl Postgres {
    /// A pool of up to [`POOL_SIZE`] connections to the database at `url`
    /// (`postgres://user[:password]@host[:port]/database`). Connects once, so that a wrong URL
    /// or an unreachable server is said at start.
    pub fn connect(url: &str) -> Result<Postgres, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|_| {
            StoreError::Postgres(
                "the database URL is not a PostgreSQL URL \
                 (postgres://user[:password]@host[:port]/database)"
                    .into(),
            )
        })?;
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name("gatewayz-gateway")
            .options(format!(
                "-c statement_timeout={}",
                STATEMENT_TIMEOUT.as_millis()
            ));
        let place = place(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection closed by a restart is replaced when taken; a live one is used
                // without a round trip.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(postgres_error)?;
        let postgres = Postgres {
            pool,
            place,
            reachable: Arc::new(AtomicBool::new(true)),
        };
        postgres.query("SELECT 1", &[])?;
        Ok(postgres)
    }

    /// Runs `future` to completion on the connections' runtime, from a thread that is not
    /// running async code (a database thread, or a blocking one).
    fn block<F: Future>(&self, future: F) -> Result<F::Output, StoreError> {
        Ok(runtime()?.block_on(future))
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        let client = self.pool.get().await;
        self.reachable.store(client.is_ok(), Relaxed);
        client.map_err(|error| {
            let why = match error {
                deadpool_postgres::PoolError::Backend(error) => with_causes(&error),
                deadpool_postgres::PoolError::Timeout(_) => "timed out".to_owned(),
                other => other.to_string(),
            };
            StoreError::Postgres(format!("no connection to {}: {why}", self.place))
        })
    }

    /// Whether the last attempt to take a connection succeeded (a connection is taken for every
    /// statement or transaction, so this follows the server within one request).
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Relaxed)
    }

    /// Runs a statement on a pooled connection.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await?;
            Ok(client.execute(&statement, &bound(params)).await?)
        })?
    }

    /// Runs a query on a pooled connection.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await?;
            let rows = client.query(&statement, &bound(params)).await?;
            rows.iter().map(row_of).collect()
        })?
    }

    /// Runs statements in one transaction (`READ COMMITTED`, PostgreSQL's default: every
    /// statement that must see the others' writes is a single conditional update), committed
    /// if `work` returns `Ok`, rolled back otherwise.
    pub fn transaction<T>(
        &self,
        work: impl FnOnce(Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.block(self.client())??;
        let transaction = self.block(client.transaction())??;
        let result = work(Transaction {
            postgres: self,
            inner: &transaction,
        })?;
        self.block(transaction.commit())??;
        Ok(result)
    }

    /// Runs a script of statements (a migration) in one transaction, after taking the
    /// migrations' advisory lock, so that replicas starting together migrate once.
    pub fn migrate(&self, steps: &[&str]) -> Result<(), StoreError> {
        self.block(async {
            let mut client = self.client().await?;
            client
                .batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                         version BIGINT PRIMARY KEY,
                         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                     )",
                )
                .await
                .or_else(|error| {
                    // Two replicas creating it at once: one wins, the other finds it made.
                    if error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                        Ok(())
                    } else {
                        Err(error)
                    }
                })?;
            for (index, step) in steps.iter().enumerate() {
                let version = index as i64 + 1;
                let transaction = client.transaction().await?;
                // Held until the commit: one replica migrates, the others wait and skip.
                transaction
                    .execute("SELECT pg_advisory_xact_lock(7247172511)", &[])
                    .await?;
                let applied = transaction
                    .query_opt(
                        "SELECT 1 FROM schema_migrations WHERE version = $1",
                        &[&version],
                    )
                    .await?
                    .is_some();
                if !applied {
                    transaction.batch_execute(step).await?;
                    transaction
                        .execute(
                            "INSERT INTO schema_migrations (version) VALUES ($1)",
                            &[&version],
                        )
                        .await?;
                }
                transaction.commit().await?;
            }
            let newest: Option<i64> = client
                .query_one("SELECT MAX(version) FROM schema_migrations", &[])
                .await?
                .get(0);
            if newest.unwrap_or(0) > steps.len() as i64 {
                return Err(StoreError::Schema(format!(
                    "the database is at schema version {}, newer than this gateway's {}; \
                     run the newer gateway",
                    newest.unwrap_or(0),
                    steps.len()
                )));
            }
            Ok(())
        })?
    }
}

impl Transaction<'_> {
    /// Runs a statement in the transaction.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.postgres.block(async {
            let statement = self.inner.prepare_cached(sql).await?;
            Ok(self.inner.execute(&statement, &bound(params)).await?)
        })?
    }

    /// Runs a statement once per set of parameters, pipelined: all are sent before the first
    /// answer is awaited.
    pub fn execute_each(&self, sql: &str, params: &[Vec<Value>]) -> Result<Vec<u64>, StoreError> {
        self.postgres.block(async {
            let statement = self.inner.prepare_cached(sql).await?;
            let bound: Vec<_> = params.iter().map(|p| bound(p)).collect();
            let each = bound.iter().map(|b| self.inner.execute(&statement, b));
            Ok(futures_util::future::try_join_all(each).await?)
        })?
    }

    /// Runs a query in the transaction.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.postgres.block(async {
            let statement = self.inner.prepare_cached(sql).await?;
            let rows = self.inner.query(&statement, &bound(params)).await?;
            rows.iter().map(row_of).collect()
        })?
    }
}

fn bound(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// `host:port/database` of a PostgreSQL URL, or `None` when it is not one: what messages may
/// say of it (never the user or the password).
pub fn place_of(url: &str) -> Option<String> {
    tokio_postgres::Config::from_str(url)
        .ok()
        .map(|c| place(&c))
}

/// `host:port/database` of a configuration.
fn place(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().unwrap_or("postgres");
    format!("{host}:{port}/{database}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let error = Postgres::connect("postgres://user:s3cret@[not a host")
            .err()
            .expect("refused");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn an_unreachable_server_is_said_by_place_never_with_the_password() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let error = Postgres::connect("postgres://user:s3cret@127.0.0.1:1/ledger")
            .err()
            .expect("refused");
        let message = error.to_string();
        assert!(message.contains("127.0.0.1:1/ledger"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
