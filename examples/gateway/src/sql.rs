//! One SQL face over the two key stores: SQLite (one machine) and PostgreSQL (a fleet).
//!
//! Every query of the gateway is written once, in the SQL both engines speak, with `?1`, `?2`
//! placeholders (rewritten to `$1`, `$2` for PostgreSQL) and the three kinds of value the
//! schema holds: 64-bit integers, text and NULL ([`Value`]). What the engines do not share is
//! spelled so that both accept it (the few statements on the request path that PostgreSQL runs
//! as one data-modifying `WITH`, which SQLite lacks, are written for each, side by side, and
//! `tests/postgres_store.rs` checks that both give the same answers): `CAST(SUM(x) AS BIGINT)` (PostgreSQL sums `BIGINT` into
//! `NUMERIC`), `CAST(?3 AS BIGINT) IS NULL` (PostgreSQL cannot guess a parameter's type from
//! `IS NULL` alone), `ON CONFLICT DO NOTHING` and `RETURNING` (SQLite has both since 3.35; the
//! bundled one is newer). Only the schema differs, in `schema.rs`.
//!
//! Results come back as owned [`Row`]s: the gateway reads a handful of rows per query, and one
//! shape for both engines keeps every caller free of either driver.

use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::{postgres::Postgres, store::StoreError};

/// A value bound to a placeholder or read from a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (`INTEGER` in SQLite, `BIGINT` in PostgreSQL).
    Int(i64),
    /// Text.
    Text(String),
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<Option<i64>> for Value {
    fn from(value: Option<i64>) -> Self {
        value.map_or(Value::Null, Value::Int)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(value)
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Value::Text(value.clone())
    }
}

/// The parameters of a statement: `values![a, b, c]`.
macro_rules! values {
    ($($value:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($value)),*][..]
    };
}
pub(crate) use values;

/// One row of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(Vec<Value>);

impl Row {
    fn at(&self, column: usize) -> Result<&Value, StoreError> {
        self.0
            .get(column)
            .ok_or_else(|| StoreError::Schema(format!("no column {column} in the result")))
    }

    /// Column `column` as an integer; NULL is an error.
    pub fn int(&self, column: usize) -> Result<i64, StoreError> {
        self.opt_int(column)?
            .ok_or_else(|| StoreError::Schema(format!("column {column} is NULL")))
    }

    /// Column `column` as an integer or NULL.
    pub fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        match self.at(column)? {
            Value::Int(value) => Ok(Some(*value)),
            Value::Null => Ok(None),
            Value::Text(_) => Err(StoreError::Schema(format!(
                "column {column} is text, not an integer"
            ))),
        }
    }

    /// Column `column` as text; NULL is an error.
    pub fn text(&self, column: usize) -> Result<String, StoreError> {
        match self.at(column)? {
            Value::Text(value) => Ok(value.clone()),
            _ => Err(StoreError::Schema(format!("column {column} is not text"))),
        }
    }
}

/// What runs statements: a connection, or a transaction on one.
pub trait Sql {
    /// Runs a statement; returns how many rows it changed.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;

    /// Runs a query; returns every row.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;

    /// Runs one statement once for each set of parameters, in order. PostgreSQL sends them all
    /// before it waits for the first answer (pipelining): one network round trip for the lot,
    /// which is what keeps a group commit of many charges as cheap as one.
    fn execute_each(&self, sql: &str, params: &[Vec<Value>]) -> Result<Vec<u64>, StoreError> {
        params.iter().map(|p| self.execute(sql, p)).collect()
    }

    /// Runs a query that returns at most one row.
    fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs a query that returns exactly one row.
    fn query_one(&self, sql: &str, params: &[Value]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Schema("a query returned no row".into()))
    }
}

/// A connection to either engine.
pub enum Connection {
    /// An embedded SQLite database (its own connection).
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server, through a pool shared by every thread of the process.
    Postgres(Postgres),
}

/// A transaction on either engine; rolled back if dropped uncommitted.
pub enum Transaction<'a> {
    /// On SQLite.
    Sqlite(rusqlite::Transaction<'a>),
    /// On PostgreSQL.
    Postgres(crate::postgres::Transaction<'a>),
}

impl Connection {
    /// Runs `work` in a transaction, committed if it returns `Ok` and rolled back otherwise.
    pub fn transaction<T>(
        &mut self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Connection::Sqlite(connection) => {
                let transaction = Transaction::Sqlite(connection.transaction()?);
                let result = work(&transaction)?;
                if let Transaction::Sqlite(transaction) = transaction {
                    transaction.commit()?;
                }
                Ok(result)
            }
            Connection::Postgres(postgres) => {
                postgres.transaction(|transaction| work(&Transaction::Postgres(transaction)))
            }
        }
    }

    /// Whether this is PostgreSQL, shared by every replica.
    pub fn is_shared(&self) -> bool {
        matches!(self, Connection::Postgres(_))
    }
}

impl Sql for Connection {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        match self {
            Connection::Sqlite(connection) => sqlite_execute(connection, sql, params),
            Connection::Postgres(postgres) => postgres.execute(&numbered(sql), params),
        }
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self {
            Connection::Sqlite(connection) => sqlite_query(connection, sql, params),
            Connection::Postgres(postgres) => postgres.query(&numbered(sql), params),
        }
    }
}

impl Sql for Transaction<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        match self {
            Transaction::Sqlite(transaction) => sqlite_execute(transaction, sql, params),
            Transaction::Postgres(transaction) => transaction.execute(&numbered(sql), params),
        }
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self {
            Transaction::Sqlite(transaction) => sqlite_query(transaction, sql, params),
            Transaction::Postgres(transaction) => transaction.query(&numbered(sql), params),
        }
    }

    fn execute_each(&self, sql: &str, params: &[Vec<Value>]) -> Result<Vec<u64>, StoreError> {
        match self {
            Transaction::Sqlite(transaction) => params
                .iter()
                .map(|p| sqlite_execute(transaction, sql, p))
                .collect(),
            Transaction::Postgres(transaction) => transaction.execute_each(&numbered(sql), params),
        }
    }
}

/// `?N` placeholders as PostgreSQL's `$N`. The gateway's SQL has no `?` anywhere else (no
/// string literal holds one), which the tests of every query on PostgreSQL keep true.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(value) => ValueRef::Integer(*value),
            Value::Text(value) => ValueRef::Text(value.as_bytes()),
        }))
    }
}

fn sqlite_execute(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> Result<u64, StoreError> {
    let changed = connection
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))?;
    Ok(changed as u64)
}

fn sqlite_query(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let columns = statement.column_count();
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns);
        for column in 0..columns {
            values.push(match row.get_ref(column)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(value) => Value::Int(value),
                ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
                ValueRef::Real(_) | ValueRef::Blob(_) => {
                    return Err(StoreError::Schema(format!(
                        "column {column} of `{sql}` is neither an integer nor text"
                    )));
                }
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}

/// A row read by the PostgreSQL driver, as values.
pub(crate) fn row_of(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    use tokio_postgres::types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(index)?.into(),
            Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(i64::from).into(),
            Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map(i64::from).into(),
            Type::TEXT | Type::VARCHAR | Type::NAME => row
                .try_get::<_, Option<String>>(index)?
                .map_or(Value::Null, Value::Text),
            ref other => {
                return Err(StoreError::Schema(format!(
                    "column `{}` is of type {other}, neither an integer nor text",
                    column.name()
                )));
            }
        };
        values.push(value);
    }
    Ok(Row(values))
}

impl tokio_postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(value) => match *ty {
                Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
                _ => value.to_sql(ty, out),
            },
            Value::Text(value) => value.to_sql(ty, out),
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        use tokio_postgres::types::Type;
        matches!(
            *ty,
            Type::INT8 | Type::INT4 | Type::INT2 | Type::TEXT | Type::VARCHAR
        )
    }

    tokio_postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("SELECT ?1, ?12 WHERE x = ?2 AND y = '?'"),
            "SELECT $1, $12 WHERE x = $2 AND y = '?'"
        );
    }

    #[test]
    fn sqlite_rows_come_back_as_values() {
        let connection = Connection::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        connection
            .execute("CREATE TABLE t (a INTEGER, b TEXT)", &[])
            .unwrap();
        assert_eq!(
            connection
                .execute(
                    "INSERT INTO t VALUES (?1, ?2), (?3, NULL)",
                    values![7, "seven", None::<i64>]
                )
                .unwrap(),
            2
        );
        let rows = connection
            .query("SELECT a, b FROM t ORDER BY a NULLS LAST", &[])
            .unwrap();
        assert_eq!(rows[0].int(0).unwrap(), 7);
        assert_eq!(rows[0].text(1).unwrap(), "seven");
        assert_eq!(rows[1].opt_int(0).unwrap(), None);
        assert!(rows[1].text(1).is_err());
    }
}
