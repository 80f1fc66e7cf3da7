//! The systems YCSB runs against, behind one record-store interface.
//!
//! SQL systems hold YCSB's `usertable` (`ycsb_key VARCHAR(255) PRIMARY
//! KEY`, `field0`…`field9 TEXT`), as YCSB's JDBC binding creates it, and
//! are driven by prepared statements. Key-value systems hold one string per
//! field (`<key>:f<i>`): memdb's RESP front end has strings and lists, not
//! hashes, so a record read is one `MGET` of its ten fields, a field update
//! one `SET`, an insert one `MSET` — the same round trips YCSB's Redis
//! binding makes with `HGETALL`/`HMSET`.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use memdb_engine::{Config, Database, Value};
use memdb_sql::{PreparedStatement, Session};
use parking_lot::Mutex;
use rusqlite::Connection;
use tokio_postgres::Statement;

use crate::wire::PgClient;

/// Fields per record (YCSB's `fieldcount`).
pub const FIELDS: usize = 10;
/// Bytes per field (YCSB's `fieldlength`).
pub const FIELD_BYTES: usize = 100;

const CREATE_TABLE: &str = "CREATE TABLE usertable (ycsb_key VARCHAR(255) PRIMARY KEY, \
    field0 TEXT, field1 TEXT, field2 TEXT, field3 TEXT, field4 TEXT, \
    field5 TEXT, field6 TEXT, field7 TEXT, field8 TEXT, field9 TEXT)";
const READ: &str = "SELECT field0, field1, field2, field3, field4, field5, field6, field7, field8, field9 \
    FROM usertable WHERE ycsb_key = $1";
const INSERT: &str = "INSERT INTO usertable VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const SCAN: &str = "SELECT ycsb_key, field0, field1, field2, field3, field4, field5, field6, field7, field8, field9 \
    FROM usertable WHERE ycsb_key >= $1 ORDER BY ycsb_key LIMIT $2";

fn update_sql(field: usize) -> String {
    format!("UPDATE usertable SET field{field} = $1 WHERE ycsb_key = $2")
}

/// Where the benchmark runs, from `--target`.
#[derive(Clone, Debug)]
pub enum Target {
    /// memdb in this process, through SQL sessions.
    Embedded,
    /// SQLite in memory (rusqlite), one connection shared under a lock.
    Sqlite,
    /// A PostgreSQL-protocol server (memdb or PostgreSQL).
    Postgres(String),
    /// A RESP server (memdb or Redis).
    Redis(String),
}

impl Target {
    /// Parses `embedded`, `sqlite`, `postgres://…` / `postgresql://…` or
    /// `redis://…`.
    pub fn parse(text: &str) -> Result<Target> {
        Ok(match text {
            "embedded" => Target::Embedded,
            "sqlite" => Target::Sqlite,
            t if t.starts_with("postgres://") || t.starts_with("postgresql://") => Target::Postgres(t.to_owned()),
            t if t.starts_with("redis://") => Target::Redis(t.to_owned()),
            t => bail!("unknown target {t:?}: expected embedded, sqlite, postgres://… or redis://…"),
        })
    }
}

/// One thread's connection to the system under test.
pub trait Store: Send {
    /// Reads every field of `key`; false when the record is missing.
    fn read(&mut self, key: &str) -> Result<bool>;
    /// Overwrites one field; false when the record is missing.
    fn update(&mut self, key: &str, field: usize, value: &str) -> Result<bool>;
    /// Inserts a new record.
    fn insert(&mut self, key: &str, fields: &[String]) -> Result<()>;
    /// Reads up to `count` records from `start` on in key order; returns
    /// how many it read.
    fn scan(&mut self, start: &str, count: usize) -> Result<usize>;
    /// Inserts many records at once (the load phase).
    fn load(&mut self, records: &[(String, Vec<String>)]) -> Result<()>;
}

/// The system under test, shared by the threads: opens their connections.
pub enum System {
    /// memdb embedded: the database all sessions share.
    Embedded(Arc<Database>),
    /// SQLite: the one in-memory connection.
    Sqlite(Arc<Mutex<Connection>>),
    /// A PostgreSQL-protocol server.
    Postgres(String),
    /// A RESP server.
    Redis(redis::Client),
}

impl System {
    /// Connects to `target` and creates an empty `usertable` (dropping an
    /// old one) or flushes the key space.
    pub fn create(target: &Target) -> Result<System> {
        match target {
            Target::Embedded => {
                let db = Arc::new(Database::open(Config::memory())?);
                Session::new(db.clone(), "bench").execute(CREATE_TABLE)?;
                Ok(System::Embedded(db))
            }
            Target::Sqlite => {
                let conn = Connection::open_in_memory()?;
                conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY;")?;
                conn.execute_batch(CREATE_TABLE)?;
                Ok(System::Sqlite(Arc::new(Mutex::new(conn))))
            }
            Target::Postgres(url) => {
                let client = PgClient::connect(url)?;
                client.batch("DROP TABLE IF EXISTS usertable")?;
                client.batch(CREATE_TABLE)?;
                Ok(System::Postgres(url.clone()))
            }
            Target::Redis(url) => {
                let client = redis::Client::open(url.as_str()).with_context(|| format!("bad Redis URL {url}"))?;
                let mut conn = client.get_connection().with_context(|| format!("connecting to {url}"))?;
                redis::cmd("FLUSHDB").query::<()>(&mut conn)?;
                Ok(System::Redis(client))
            }
        }
    }

    /// The product behind the target, for the results (`memdb (pgwire)`,
    /// `postgresql 15.4`, `redis 7.0.15`, …).
    pub fn describe(&self) -> Result<String> {
        Ok(match self {
            System::Embedded(_) => "memdb (embedded)".into(),
            System::Sqlite(_) => format!("sqlite {}", rusqlite::version()),
            System::Postgres(url) => {
                let version = PgClient::connect(url)?.scalar_text("SELECT version()")?.unwrap_or_default();
                if version.contains("memdb") {
                    "memdb (pgwire)".into()
                } else {
                    let number = version.split_whitespace().nth(1).unwrap_or("");
                    format!("postgresql {number}")
                }
            }
            System::Redis(client) => {
                let mut conn = client.get_connection()?;
                let info: String = redis::cmd("INFO").arg("server").query(&mut conn)?;
                let field = |name: &str| {
                    info.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned())).unwrap_or_default()
                };
                if info.contains("memdb_version") {
                    "memdb (resp)".into()
                } else {
                    format!("redis {}", field("redis_version:"))
                }
            }
        })
    }

    /// Whether the system can run range scans (workload E).
    pub fn scans(&self) -> bool {
        !matches!(self, System::Redis(_))
    }

    /// Opens one thread's connection.
    pub fn connect(&self) -> Result<Box<dyn Store>> {
        Ok(match self {
            System::Embedded(db) => Box::new(EmbeddedStore::new(db.clone())?),
            System::Sqlite(conn) => Box::new(SqliteStore { conn: conn.clone() }),
            System::Postgres(url) => Box::new(PgStore::new(url)?),
            System::Redis(client) => Box::new(RedisStore { conn: client.get_connection()?, keys: Vec::new() }),
        })
    }
}

/// memdb in-process through a SQL session and prepared statements.
struct EmbeddedStore {
    session: Session,
    read: PreparedStatement,
    updates: Vec<PreparedStatement>,
    insert: PreparedStatement,
    scan: PreparedStatement,
}

impl EmbeddedStore {
    fn new(db: Arc<Database>) -> Result<EmbeddedStore> {
        let mut session = Session::new(db, "bench");
        let read = session.prepare(READ)?;
        let updates = (0..FIELDS).map(|f| session.prepare(&update_sql(f))).collect::<Result<Vec<_>, _>>()?;
        let insert = session.prepare(INSERT)?;
        let scan = session.prepare(SCAN)?;
        Ok(EmbeddedStore { session, read, updates, insert, scan })
    }
}

fn record_values(key: &str, fields: &[String]) -> Vec<Value> {
    std::iter::once(Value::Text(key.to_owned())).chain(fields.iter().map(|f| Value::Text(f.clone()))).collect()
}

impl Store for EmbeddedStore {
    fn read(&mut self, key: &str) -> Result<bool> {
        let r = self.session.execute_prepared(&mut self.read, &[Value::Text(key.to_owned())])?;
        Ok(r.rows.first().is_some_and(|row| row.len() == FIELDS))
    }

    fn update(&mut self, key: &str, field: usize, value: &str) -> Result<bool> {
        let statement = self.updates.get_mut(field).context("field out of range")?;
        let r =
            self.session.execute_prepared(statement, &[Value::Text(value.to_owned()), Value::Text(key.to_owned())])?;
        Ok(r.tag == "UPDATE 1")
    }

    fn insert(&mut self, key: &str, fields: &[String]) -> Result<()> {
        self.session.execute_prepared(&mut self.insert, &record_values(key, fields))?;
        Ok(())
    }

    fn scan(&mut self, start: &str, count: usize) -> Result<usize> {
        let r = self
            .session
            .execute_prepared(&mut self.scan, &[Value::Text(start.to_owned()), Value::Int8(count as i64)])?;
        Ok(r.rows.len())
    }

    fn load(&mut self, records: &[(String, Vec<String>)]) -> Result<()> {
        self.session.execute("BEGIN")?;
        for (key, fields) in records {
            self.session.execute_prepared(&mut self.insert, &record_values(key, fields))?;
        }
        self.session.execute("COMMIT")?;
        Ok(())
    }
}

/// SQLite in memory: one connection, prepared statements from its cache.
/// SQLite serializes writers to one database anyway; the lock makes the
/// connection usable from the driver's threads.
struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

/// SQLite spells parameters `?N`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl Store for SqliteStore {
    fn read(&mut self, key: &str) -> Result<bool> {
        let conn = self.conn.lock();
        let mut st = conn.prepare_cached(&sqlite_sql(READ))?;
        let mut rows = st.query([key])?;
        let Some(row) = rows.next()? else { return Ok(false) };
        for i in 0..FIELDS {
            let _: String = row.get(i)?;
        }
        Ok(true)
    }

    fn update(&mut self, key: &str, field: usize, value: &str) -> Result<bool> {
        let conn = self.conn.lock();
        let mut st = conn.prepare_cached(&sqlite_sql(&update_sql(field)))?;
        Ok(st.execute([value, key])? == 1)
    }

    fn insert(&mut self, key: &str, fields: &[String]) -> Result<()> {
        let conn = self.conn.lock();
        let mut st = conn.prepare_cached(&sqlite_sql(INSERT))?;
        st.execute(rusqlite::params_from_iter(std::iter::once(key).chain(fields.iter().map(String::as_str))))?;
        Ok(())
    }

    fn scan(&mut self, start: &str, count: usize) -> Result<usize> {
        let conn = self.conn.lock();
        let mut st = conn.prepare_cached(&sqlite_sql(SCAN))?;
        let mut rows = st.query(rusqlite::params![start, count as i64])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            for i in 0..=FIELDS {
                let _: String = row.get(i)?;
            }
            n += 1;
        }
        Ok(n)
    }

    fn load(&mut self, records: &[(String, Vec<String>)]) -> Result<()> {
        let conn = self.conn.lock();
        conn.execute_batch("BEGIN")?;
        {
            let mut st = conn.prepare_cached(&sqlite_sql(INSERT))?;
            for (key, fields) in records {
                st.execute(rusqlite::params_from_iter(
                    std::iter::once(key.as_str()).chain(fields.iter().map(String::as_str)),
                ))?;
            }
        }
        conn.execute_batch("COMMIT")?;
        Ok(())
    }
}

/// A PostgreSQL-protocol connection with the statements prepared once.
struct PgStore {
    client: PgClient,
    read: Statement,
    updates: Vec<Statement>,
    insert: Statement,
    scan: Statement,
    /// Multi-row insert for the load, by row count.
    bulk: Option<(usize, Statement)>,
}

impl PgStore {
    fn new(url: &str) -> Result<PgStore> {
        let client = PgClient::connect(url)?;
        let read = client.prepare(READ)?;
        let updates = (0..FIELDS).map(|f| client.prepare(&update_sql(f))).collect::<Result<Vec<_>>>()?;
        let insert = client.prepare(INSERT)?;
        let scan = client.prepare(SCAN)?;
        Ok(PgStore { client, read, updates, insert, scan, bulk: None })
    }
}

impl Store for PgStore {
    fn read(&mut self, key: &str) -> Result<bool> {
        let rows = self.client.query(&self.read, &[&key])?;
        let Some(row) = rows.first() else { return Ok(false) };
        for i in 0..FIELDS {
            let _: &str = row.try_get(i)?;
        }
        Ok(true)
    }

    fn update(&mut self, key: &str, field: usize, value: &str) -> Result<bool> {
        let statement = self.updates.get(field).context("field out of range")?;
        Ok(self.client.execute(statement, &[&value, &key])? == 1)
    }

    fn insert(&mut self, key: &str, fields: &[String]) -> Result<()> {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&key];
        params.extend(fields.iter().map(|f| f as &(dyn tokio_postgres::types::ToSql + Sync)));
        self.client.execute(&self.insert, &params)?;
        Ok(())
    }

    fn scan(&mut self, start: &str, count: usize) -> Result<usize> {
        let rows = self.client.query(&self.scan, &[&start, &(count as i64)])?;
        for row in &rows {
            for i in 0..=FIELDS {
                let _: &str = row.try_get(i)?;
            }
        }
        Ok(rows.len())
    }

    fn load(&mut self, records: &[(String, Vec<String>)]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.bulk.as_ref().is_none_or(|(n, _)| *n != records.len()) {
            let width = FIELDS + 1;
            let rows: Vec<String> = (0..records.len())
                .map(|r| {
                    let params: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            let sql = format!("INSERT INTO usertable VALUES {}", rows.join(", "));
            self.bulk = Some((records.len(), self.client.prepare(&sql)?));
        }
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
        for (key, fields) in records {
            params.push(key);
            params.extend(fields.iter().map(|f| f as &(dyn tokio_postgres::types::ToSql + Sync)));
        }
        let Some((_, statement)) = &self.bulk else { bail!("bulk insert statement missing") };
        self.client.execute(statement, &params)?;
        Ok(())
    }
}

/// A RESP connection; a record is ten string keys.
struct RedisStore {
    conn: redis::Connection,
    /// Reused buffer of field key names.
    keys: Vec<String>,
}

fn field_key(key: &str, field: usize) -> String {
    format!("{key}:f{field}")
}

impl Store for RedisStore {
    fn read(&mut self, key: &str) -> Result<bool> {
        self.keys.clear();
        self.keys.extend((0..FIELDS).map(|f| field_key(key, f)));
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&self.keys).query(&mut self.conn)?;
        Ok(values.len() == FIELDS && values.iter().all(Option::is_some))
    }

    fn update(&mut self, key: &str, field: usize, value: &str) -> Result<bool> {
        // YCSB's Redis binding overwrites the field whether or not the
        // record exists; XX keeps a missing record missing and reports it.
        let done: Option<String> =
            redis::cmd("SET").arg(field_key(key, field)).arg(value).arg("XX").query(&mut self.conn)?;
        Ok(done.is_some())
    }

    fn insert(&mut self, key: &str, fields: &[String]) -> Result<()> {
        let mut cmd = redis::cmd("MSET");
        for (f, value) in fields.iter().enumerate() {
            cmd.arg(field_key(key, f)).arg(value);
        }
        cmd.query::<()>(&mut self.conn)?;
        Ok(())
    }

    fn scan(&mut self, _start: &str, _count: usize) -> Result<usize> {
        bail!("range scans (workload E) need a SQL target: the key-value model has no ordered key index")
    }

    fn load(&mut self, records: &[(String, Vec<String>)]) -> Result<()> {
        let mut pipe = redis::pipe();
        for (key, fields) in records {
            let cmd = pipe.cmd("MSET");
            for (f, value) in fields.iter().enumerate() {
                cmd.arg(field_key(key, f)).arg(value);
            }
            cmd.ignore();
        }
        pipe.query::<()>(&mut self.conn)?;
        Ok(())
    }
}
