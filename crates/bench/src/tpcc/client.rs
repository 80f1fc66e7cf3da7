//! One SQL connection for the TPC-C terminals, the same to the driver
//! whether it is a memdb session in this process or a PostgreSQL-protocol
//! connection (memdb or PostgreSQL). Parameters and results travel as
//! small enums converted to whatever type the server declared, so the
//! transactions are written once.

use std::error::Error as StdError;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use memdb_engine::{DataType, Database, Value};
use memdb_sql::{PreparedStatement, Session, SqlError};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::wire::PgClient;

/// A statement parameter.
#[derive(Clone, Debug)]
pub enum Param {
    /// An integer (any integer or numeric column).
    Int(i64),
    /// A decimal amount.
    Dec(Decimal),
    /// Text.
    Text(String),
}

/// A result value.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A decimal (numeric and floating-point columns).
    Dec(Decimal),
    /// Text, and the text form of every other type.
    Text(String),
}

impl Cell {
    /// The value as an integer.
    pub fn int(&self) -> Result<i64> {
        match self {
            Cell::Int(i) => Ok(*i),
            Cell::Dec(d) => d.to_i64().context("decimal out of integer range"),
            other => bail!("expected an integer, got {other:?}"),
        }
    }

    /// The value as a decimal.
    pub fn dec(&self) -> Result<Decimal> {
        match self {
            Cell::Int(i) => Ok(Decimal::from(*i)),
            Cell::Dec(d) => Ok(*d),
            other => bail!("expected a number, got {other:?}"),
        }
    }

    /// The value as text.
    pub fn text(&self) -> Result<&str> {
        match self {
            Cell::Text(s) => Ok(s),
            other => bail!("expected text, got {other:?}"),
        }
    }
}

/// A prepared statement's handle on its connection.
pub type StatementId = usize;

/// A connection the terminals drive.
pub trait SqlConnection: Send {
    /// Prepares `sql`, returning its handle.
    fn prepare(&mut self, sql: &str) -> Result<StatementId>;
    /// Runs a prepared query and returns its rows.
    fn query(&mut self, statement: StatementId, params: &[Param]) -> Result<Vec<Vec<Cell>>>;
    /// Runs a prepared statement and returns the rows it affected.
    fn execute(&mut self, statement: StatementId, params: &[Param]) -> Result<u64>;
    /// Runs prepared statements in order and returns each one's rows;
    /// stops at the first error. A pipelining connection sends them in one
    /// round trip; the others run them one by one.
    fn pipeline(&mut self, runs: &[(StatementId, Vec<Param>)]) -> Result<Vec<Vec<Vec<Cell>>>> {
        one_by_one(self, runs)
    }
    /// [`SqlConnection::pipeline`] for a transaction's last statements: a
    /// pipelining connection sends the COMMIT with them, and
    /// [`SqlConnection::commit`] then has nothing left to send.
    fn pipeline_then_commit(&mut self, runs: &[(StatementId, Vec<Param>)]) -> Result<Vec<Vec<Vec<Cell>>>> {
        self.pipeline(runs)
    }
    /// Opens a transaction block (a pipelining connection sends the BEGIN
    /// with the block's first statements).
    fn begin(&mut self) -> Result<()> {
        self.batch("BEGIN")
    }
    /// Commits the open block.
    fn commit(&mut self) -> Result<()> {
        self.batch("COMMIT")
    }
    /// Rolls the open block back.
    fn rollback(&mut self) -> Result<()> {
        self.batch("ROLLBACK")
    }
    /// Runs SQL text (no parameters, no rows): transaction control, DDL,
    /// the loader's multi-row inserts.
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Runs a query from SQL text and returns its rows (the consistency
    /// checks).
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>>;
}

/// Runs statements one round trip each (a connection that does not
/// pipeline).
fn one_by_one<C: SqlConnection + ?Sized>(
    conn: &mut C,
    runs: &[(StatementId, Vec<Param>)],
) -> Result<Vec<Vec<Vec<Cell>>>> {
    runs.iter().map(|(statement, params)| conn.query(*statement, params)).collect()
}

/// Whether an error means "roll back and retry the transaction"
/// (serialization failure or deadlock, from either kind of connection).
pub fn is_retryable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<SqlError>().is_some_and(SqlError::is_retryable)
            || cause.downcast_ref::<tokio_postgres::Error>().is_some_and(crate::wire::is_retryable)
    })
}

/// memdb in this process: a session and its prepared statements.
pub struct EmbeddedConnection {
    session: Session,
    statements: Vec<(PreparedStatement, Vec<DataType>)>,
}

impl EmbeddedConnection {
    /// A new session on `db`.
    pub fn new(db: Arc<Database>) -> EmbeddedConnection {
        EmbeddedConnection { session: Session::new(db, "bench"), statements: Vec::new() }
    }

    fn run(&mut self, statement: StatementId, params: &[Param]) -> Result<memdb_sql::QueryResult> {
        let (prepared, types) = self.statements.get_mut(statement).context("unknown statement")?;
        let values = params.iter().zip(types.iter()).map(|(p, ty)| param_value(p, ty)).collect::<Result<Vec<_>>>()?;
        Ok(self.session.execute_prepared(prepared, &values)?)
    }
}

/// Converts a parameter to the type the statement declared.
fn param_value(param: &Param, ty: &DataType) -> Result<Value> {
    Ok(match (param, ty) {
        (Param::Int(i), DataType::Int2) => Value::Int2(i16::try_from(*i)?),
        (Param::Int(i), DataType::Int4) => Value::Int4(i32::try_from(*i)?),
        (Param::Int(i), DataType::Int8) => Value::Int8(*i),
        (Param::Int(i), DataType::Numeric { .. }) => Value::Numeric(Decimal::from(*i)),
        (Param::Int(i), DataType::Float8) => Value::Float8(*i as f64),
        (Param::Dec(d), DataType::Numeric { .. }) => Value::Numeric(*d),
        (Param::Dec(d), DataType::Float8) => Value::Float8(d.to_f64().unwrap_or(0.0)),
        (Param::Text(s), _) => Value::parse(s, ty)?,
        (Param::Int(i), _) => Value::parse(&i.to_string(), ty)?,
        (Param::Dec(d), _) => Value::parse(&d.to_string(), ty)?,
    })
}

fn value_cell(value: &Value) -> Cell {
    match value {
        Value::Null => Cell::Null,
        Value::Int2(i) => Cell::Int(i64::from(*i)),
        Value::Int4(i) => Cell::Int(i64::from(*i)),
        Value::Int8(i) => Cell::Int(*i),
        Value::Numeric(d) => Cell::Dec(*d),
        Value::Float8(f) => Cell::Dec(Decimal::from_f64(*f).unwrap_or_default()),
        Value::Float4(f) => Cell::Dec(Decimal::from_f32(*f).unwrap_or_default()),
        Value::Text(s) => Cell::Text(s.clone()),
        other => Cell::Text(other.to_string()),
    }
}

fn rows_of(result: &memdb_sql::QueryResult) -> Vec<Vec<Cell>> {
    result.rows.iter().map(|row| row.iter().map(value_cell).collect()).collect()
}

/// The affected-row count at the end of a command tag (`UPDATE 3`).
fn tag_count(tag: &str) -> u64 {
    tag.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

impl SqlConnection for EmbeddedConnection {
    fn prepare(&mut self, sql: &str) -> Result<StatementId> {
        let prepared = self.session.prepare_described(sql, Vec::new()).with_context(|| format!("preparing {sql}"))?;
        let types = prepared.parameter_types();
        self.statements.push((prepared, types));
        Ok(self.statements.len() - 1)
    }

    fn query(&mut self, statement: StatementId, params: &[Param]) -> Result<Vec<Vec<Cell>>> {
        Ok(rows_of(&self.run(statement, params)?))
    }

    fn execute(&mut self, statement: StatementId, params: &[Param]) -> Result<u64> {
        Ok(tag_count(&self.run(statement, params)?.tag))
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        for result in self.session.run(sql) {
            result?;
        }
        Ok(())
    }

    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>> {
        Ok(rows_of(&self.session.execute(sql)?))
    }
}

/// A PostgreSQL-protocol connection and its prepared statements.
pub struct WireConnection {
    client: PgClient,
    statements: Vec<tokio_postgres::Statement>,
    /// `BEGIN` and `COMMIT` prepared, when statements are pipelined
    /// ([`SqlConnection::pipeline`] sends its statements together, the
    /// block's BEGIN with the first ones and its COMMIT with the last).
    pipelined: Option<(tokio_postgres::Statement, tokio_postgres::Statement)>,
    /// A BEGIN not sent yet.
    begin_pending: bool,
    /// The open block's COMMIT already went with its last statements.
    committed: bool,
}

impl WireConnection {
    /// Connects to `url`; `pipelined`: see [`SqlConnection::pipeline`].
    pub fn connect(url: &str, pipelined: bool) -> Result<WireConnection> {
        let client = PgClient::connect(url)?;
        let pipelined = match pipelined {
            true => Some((client.prepare("BEGIN")?, client.prepare("COMMIT")?)),
            false => None,
        };
        Ok(WireConnection { client, statements: Vec::new(), pipelined, begin_pending: false, committed: false })
    }

    /// Sends a BEGIN that is still pending on its own.
    fn send_begin(&mut self) -> Result<()> {
        if std::mem::take(&mut self.begin_pending) {
            self.client.batch("BEGIN")?;
        }
        Ok(())
    }

    /// Runs `runs` in one round trip, behind the pending BEGIN and ahead of
    /// the COMMIT when `commit`; returns the rows of `runs` only.
    fn run_group(&mut self, runs: &[(StatementId, Vec<Param>)], commit: bool) -> Result<Vec<Vec<Vec<Cell>>>> {
        let Some((begin, end)) = &self.pipelined else { bail!("the connection does not pipeline") };
        let mut requests: Vec<(&tokio_postgres::Statement, Vec<&(dyn ToSql + Sync)>)> = Vec::new();
        let began = std::mem::take(&mut self.begin_pending);
        if began {
            requests.push((begin, Vec::new()));
        }
        for (statement, params) in runs {
            requests.push((self.statements.get(*statement).context("unknown statement")?, sql_params(params)));
        }
        if commit {
            requests.push((end, Vec::new()));
        }
        let replies = self.client.query_pipelined(&requests)?;
        self.committed = commit;
        let ours = replies.iter().skip(usize::from(began)).take(runs.len());
        ours.map(|rows| rows.iter().map(row_cells).collect()).collect()
    }
}

/// A result row as cells.
fn row_cells(row: &tokio_postgres::Row) -> Result<Vec<Cell>> {
    (0..row.len()).map(|i| Ok(row.try_get::<_, Cell>(i)?)).collect()
}

fn sql_params(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl SqlConnection for WireConnection {
    fn prepare(&mut self, sql: &str) -> Result<StatementId> {
        self.statements.push(self.client.prepare(sql)?);
        Ok(self.statements.len() - 1)
    }

    fn query(&mut self, statement: StatementId, params: &[Param]) -> Result<Vec<Vec<Cell>>> {
        if self.begin_pending {
            let mut rows = self.run_group(&[(statement, params.to_vec())], false)?;
            return rows.pop().context("no reply");
        }
        let statement = self.statements.get(statement).context("unknown statement")?;
        let rows = self.client.query(statement, &sql_params(params))?;
        rows.iter().map(row_cells).collect()
    }

    fn pipeline(&mut self, runs: &[(StatementId, Vec<Param>)]) -> Result<Vec<Vec<Vec<Cell>>>> {
        if self.pipelined.is_none() {
            return one_by_one(self, runs);
        }
        self.run_group(runs, false)
    }

    fn pipeline_then_commit(&mut self, runs: &[(StatementId, Vec<Param>)]) -> Result<Vec<Vec<Vec<Cell>>>> {
        if self.pipelined.is_none() {
            return one_by_one(self, runs);
        }
        self.run_group(runs, true)
    }

    fn begin(&mut self) -> Result<()> {
        self.committed = false;
        match self.pipelined {
            Some(_) => {
                self.begin_pending = true;
                Ok(())
            }
            None => self.batch("BEGIN"),
        }
    }

    fn commit(&mut self) -> Result<()> {
        // A block that ran nothing, or whose COMMIT already went out.
        if std::mem::take(&mut self.begin_pending) || std::mem::take(&mut self.committed) {
            return Ok(());
        }
        self.batch("COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        self.committed = false;
        if std::mem::take(&mut self.begin_pending) {
            return Ok(());
        }
        self.batch("ROLLBACK")
    }

    fn execute(&mut self, statement: StatementId, params: &[Param]) -> Result<u64> {
        self.send_begin()?;
        let statement = self.statements.get(statement).context("unknown statement")?;
        Ok(self.client.execute(statement, &sql_params(params))?)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.send_begin()?;
        Ok(self.client.batch(sql)?)
    }

    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>> {
        self.send_begin()?;
        let statement = self.client.prepare(sql)?;
        let rows = self.client.query(&statement, &[])?;
        rows.iter().map(row_cells).collect()
    }
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match (self, ty) {
            (Param::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Param::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Param::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Param::Int(i), &Type::NUMERIC) => Decimal::from(*i).to_sql(ty, out),
            (Param::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Param::Dec(d), &Type::NUMERIC) => d.to_sql(ty, out),
            (Param::Dec(d), &Type::FLOAT8) => d.to_f64().unwrap_or(0.0).to_sql(ty, out),
            (Param::Text(s), _) => s.as_str().to_sql(ty, out),
            (Param::Int(i), _) => i.to_string().as_str().to_sql(ty, out),
            (Param::Dec(d), _) => d.to_string().as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::NUMERIC
                | Type::FLOAT8
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
        )
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, BoxError> {
        Ok(match *ty {
            Type::INT2 => Cell::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Cell::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Cell::Int(i64::from_sql(ty, raw)?),
            Type::NUMERIC => Cell::Dec(Decimal::from_sql(ty, raw)?),
            Type::FLOAT8 => Cell::Dec(Decimal::from_f64(f64::from_sql(ty, raw)?).unwrap_or_default()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Cell::Text(String::from_sql(ty, raw)?),
            // Timestamps and the rest: the driver only displays them.
            _ => Cell::Text(format!("<{} bytes>", raw.len())),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Cell, BoxError> {
        Ok(Cell::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memdb_engine::Config;

    #[test]
    fn embedded_parameters_take_the_declared_types() {
        let db = Arc::new(Database::open(Config::memory()).unwrap());
        let mut c = EmbeddedConnection::new(db);
        c.batch("CREATE TABLE t (id int PRIMARY KEY, amount numeric(12,2), name varchar(16))").unwrap();
        let insert = c.prepare("INSERT INTO t VALUES ($1, $2, $3)").unwrap();
        assert_eq!(c.execute(insert, &[Param::Int(1), Param::Int(5), Param::Text("x".into())]).unwrap(), 1);
        let update = c.prepare("UPDATE t SET amount = amount + $1 WHERE id = $2").unwrap();
        assert_eq!(c.execute(update, &[Param::Dec(Decimal::new(250, 2)), Param::Int(1)]).unwrap(), 1);
        let rows = c.query_text("SELECT id, amount, name FROM t").unwrap();
        assert_eq!(rows, vec![vec![Cell::Int(1), Cell::Dec(Decimal::new(750, 2)), Cell::Text("x".into())]]);
    }

    #[test]
    fn conflicts_are_retryable_and_syntax_errors_are_not() {
        let db = Arc::new(Database::open(Config::memory()).unwrap());
        let mut a = EmbeddedConnection::new(db.clone());
        let mut b = EmbeddedConnection::new(db);
        a.batch("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)").unwrap();
        a.batch("BEGIN; UPDATE t SET v = 1 WHERE id = 1").unwrap();
        b.batch("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1").unwrap();
        a.batch("COMMIT").unwrap();
        let conflict = b.batch("UPDATE t SET v = 2 WHERE id = 1").unwrap_err();
        assert!(is_retryable(&conflict), "{conflict:#}");
        assert!(!is_retryable(&b.batch("SELEC").unwrap_err()));
    }
}
