//! The SQL layer's embedded figures (issue: SQL engine), against SQLite in
//! memory through prepared statements on both sides.
//!
//! * `sql_point_select`: `SELECT … FROM t WHERE id = $1` on random ids;
//! * `sql_insert`: single-row `INSERT` in autocommit;
//! * `sql_groupby`: `SELECT k % 100, count(*), sum(length(c)) FROM t GROUP BY 1`;
//! * `sql_join`: `SELECT count(*) FROM t JOIN u ON t.k = u.id` (u: 100k rows);
//! * `tpch_q1`, `tpch_q6`: TPC-H queries 1 and 6 over a generated `lineitem`.
//!
//! Both systems get the same rows; memdb loads through its engine API (the
//! figures measure queries, not loading).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use memdb_engine::{Config, Database, Value};
use memdb_sql::Session;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;

use crate::embedded::text;
use crate::report::Figure;

/// Rows of the join's small side.
const JOIN_ROWS: u64 = 100_000;

/// A `lineitem` row, generated the way TPC-H's dbgen draws the columns
/// Q1 and Q6 read.
struct LineItem {
    quantity: i64,
    price_cents: i64,
    discount: i64,
    tax: i64,
    returnflag: &'static str,
    linestatus: &'static str,
    shipdate: String,
}

fn lineitem(i: u64) -> LineItem {
    let mut rng = SmallRng::seed_from_u64(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let quantity = rng.random_range(1..=50);
    let part_price = rng.random_range(90_000..=200_000i64); // cents
    let ship_day = rng.random_range(0..2526i64); // 1992-01-02 .. 1998-12-01
    let date = chrono::NaiveDate::from_ymd_opt(1992, 1, 2).unwrap_or_default() + chrono::Duration::days(ship_day);
    let received = ship_day + rng.random_range(1..=30);
    let returnflag = if received <= 1263 { if rng.random_bool(0.5) { "R" } else { "A" } } else { "N" };
    LineItem {
        quantity,
        price_cents: quantity * part_price / 100,
        discount: rng.random_range(0..=10),
        tax: rng.random_range(0..=8),
        returnflag,
        linestatus: if ship_day > 1263 { "O" } else { "F" },
        shipdate: date.format("%Y-%m-%d").to_string(),
    }
}

const Q1: &str = "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price, \
    sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price, sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge, \
    avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc, count(*) AS count_order \
    FROM lineitem WHERE l_shipdate <= DATE '1998-09-02' GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus";

const Q6: &str = "SELECT sum(l_extendedprice * l_discount) AS revenue FROM lineitem \
    WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24";

/// memdb with the benchmark tables, reached through SQL sessions.
pub struct MemdbSql {
    db: Arc<Database>,
    session: Session,
}

impl MemdbSql {
    /// Creates and loads the tables: `t` (`rows` rows), `u`, `lineitem`.
    pub fn open(rows: u64, lineitems: u64, k: impl Fn(u64) -> i32) -> Result<MemdbSql> {
        let db = Arc::new(Database::open(Config::memory())?);
        let mut session = Session::new(db.clone(), "bench");
        for ddl in [
            "CREATE TABLE t (id bigint PRIMARY KEY, k integer, c text, pad text)",
            "CREATE INDEX t_k ON t (k)",
            "CREATE TABLE t_ins (id bigint PRIMARY KEY, k integer, c text, pad text)",
            "CREATE TABLE u (id integer PRIMARY KEY, v integer)",
            "CREATE TABLE lineitem (l_orderkey bigint, l_quantity numeric(15,2), l_extendedprice numeric(15,2), \
             l_discount numeric(15,2), l_tax numeric(15,2), l_returnflag char(1), l_linestatus char(1), l_shipdate date)",
        ] {
            session.execute(ddl).with_context(|| ddl.to_owned())?;
        }
        let mut txn = db.begin()?;
        let t = txn.table("t")?;
        for id in 0..rows {
            txn.insert(
                &t,
                vec![
                    Value::Int8(id as i64),
                    Value::Int4(k(id)),
                    Value::Text(text(id, 100, 1)),
                    Value::Text(text(id, 60, 2)),
                ],
            )?;
        }
        let u = txn.table("u")?;
        for id in 0..JOIN_ROWS {
            txn.insert(&u, vec![Value::Int4(id as i32), Value::Int4((id % 7) as i32)])?;
        }
        let l = txn.table("lineitem")?;
        let cents = |c: i64| Value::Numeric(rust_decimal::Decimal::new(c, 2));
        let ty = memdb_engine::DataType::Date;
        for i in 0..lineitems {
            let li = lineitem(i);
            txn.insert(
                &l,
                vec![
                    Value::Int8(i as i64 / 4),
                    cents(li.quantity * 100),
                    cents(li.price_cents),
                    cents(li.discount),
                    cents(li.tax),
                    Value::Text(li.returnflag.into()),
                    Value::Text(li.linestatus.into()),
                    Value::parse(&li.shipdate, &ty)?,
                ],
            )?;
        }
        txn.commit()?;
        Ok(MemdbSql { db, session })
    }

    /// Seconds for `reads` point selects by primary key.
    pub fn point_selects(&mut self, rows: u64, reads: u64) -> Result<f64> {
        let mut stmt = self.session.prepare("SELECT id, k, c, pad FROM t WHERE id = $1")?;
        let mut rng = SmallRng::seed_from_u64(42);
        self.session.execute("BEGIN")?;
        let start = Instant::now();
        for _ in 0..reads {
            let id = rng.random_range(0..rows) as i64;
            let r = self.session.execute_prepared(&mut stmt, &[Value::Int8(id)])?;
            anyhow::ensure!(r.rows.len() == 1, "memdb point select found {} rows", r.rows.len());
        }
        let secs = start.elapsed().as_secs_f64();
        self.session.execute("COMMIT")?;
        Ok(secs)
    }

    /// Seconds for `count` single-row autocommit inserts.
    pub fn inserts(&mut self, count: u64) -> Result<f64> {
        let mut stmt = self.session.prepare("INSERT INTO t_ins VALUES ($1, $2, $3, $4)")?;
        let rows: Vec<Vec<Value>> = (0..count)
            .map(|id| {
                vec![
                    Value::Int8(id as i64),
                    Value::Int4(id as i32),
                    Value::Text(text(id, 100, 1)),
                    Value::Text(text(id, 60, 2)),
                ]
            })
            .collect();
        let start = Instant::now();
        for row in &rows {
            self.session.execute_prepared(&mut stmt, row)?;
        }
        Ok(start.elapsed().as_secs_f64())
    }

    /// Seconds for one run of `sql`, returning its rows' count.
    pub fn query(&mut self, sql: &str) -> Result<(f64, usize)> {
        let start = Instant::now();
        let r = self.session.execute(sql).with_context(|| sql.to_owned())?;
        Ok((start.elapsed().as_secs_f64(), r.rows.len()))
    }

    /// The best of `runs` runs of `sql`, in seconds.
    pub fn best_of(&mut self, sql: &str, runs: usize) -> Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..runs {
            best = best.min(self.query(sql)?.0);
        }
        Ok(best)
    }

    /// The database (for figures that use the engine directly).
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }
}

/// SQLite with the same tables.
pub struct SqliteSql {
    conn: Connection,
}

impl SqliteSql {
    /// Creates and loads the tables.
    pub fn open(rows: u64, lineitems: u64, k: impl Fn(u64) -> i32) -> Result<SqliteSql> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "PRAGMA synchronous = OFF;
             CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, c TEXT, pad TEXT);
             CREATE INDEX t_k ON t(k);
             CREATE TABLE t_ins (id INTEGER PRIMARY KEY, k INTEGER, c TEXT, pad TEXT);
             CREATE TABLE u (id INTEGER PRIMARY KEY, v INTEGER);
             CREATE TABLE lineitem (l_orderkey INTEGER, l_quantity REAL, l_extendedprice REAL, l_discount REAL, l_tax REAL,
                                    l_returnflag TEXT, l_linestatus TEXT, l_shipdate TEXT);
             BEGIN;",
        )?;
        {
            let mut st = conn.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4)")?;
            for id in 0..rows {
                st.execute(rusqlite::params![id as i64, k(id), text(id, 100, 1), text(id, 60, 2)])?;
            }
            let mut su = conn.prepare("INSERT INTO u VALUES (?1, ?2)")?;
            for id in 0..JOIN_ROWS {
                su.execute(rusqlite::params![id as i64, (id % 7) as i64])?;
            }
            let mut sl = conn.prepare("INSERT INTO lineitem VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
            for i in 0..lineitems {
                let li = lineitem(i);
                sl.execute(rusqlite::params![
                    i as i64 / 4,
                    li.quantity as f64,
                    li.price_cents as f64 / 100.0,
                    li.discount as f64 / 100.0,
                    li.tax as f64 / 100.0,
                    li.returnflag,
                    li.linestatus,
                    li.shipdate
                ])?;
            }
        }
        conn.execute_batch("COMMIT")?;
        Ok(SqliteSql { conn })
    }

    /// Seconds for `reads` point selects by primary key.
    pub fn point_selects(&self, rows: u64, reads: u64) -> Result<f64> {
        let mut rng = SmallRng::seed_from_u64(42);
        let mut stmt = self.conn.prepare("SELECT id, k, c, pad FROM t WHERE id = ?1")?;
        self.conn.execute_batch("BEGIN")?;
        let start = Instant::now();
        for _ in 0..reads {
            let id = rng.random_range(0..rows) as i64;
            let mut r = stmt.query([id])?;
            let row = r.next()?.context("sqlite point select found no row")?;
            let _: (i64, i32, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        }
        let secs = start.elapsed().as_secs_f64();
        self.conn.execute_batch("COMMIT")?;
        Ok(secs)
    }

    /// Seconds for `count` single-row autocommit inserts.
    pub fn inserts(&self, count: u64) -> Result<f64> {
        let rows: Vec<(i64, i32, String, String)> =
            (0..count).map(|id| (id as i64, id as i32, text(id, 100, 1), text(id, 60, 2))).collect();
        let mut stmt = self.conn.prepare("INSERT INTO t_ins VALUES (?1, ?2, ?3, ?4)")?;
        let start = Instant::now();
        for (id, k, c, pad) in &rows {
            stmt.execute(rusqlite::params![id, k, c, pad])?;
        }
        Ok(start.elapsed().as_secs_f64())
    }

    /// The best of `runs` runs of `sql`, in seconds (rows are read to the end).
    pub fn best_of(&self, sql: &str, runs: usize) -> Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..runs {
            let start = Instant::now();
            let mut stmt = self.conn.prepare(sql)?;
            let columns = stmt.column_count();
            let mut r = stmt.query([])?;
            while let Some(row) = r.next()? {
                for i in 0..columns {
                    let _: rusqlite::types::Value = row.get(i)?;
                }
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(best)
    }
}

/// The SQL figures, as rows for the report.
pub fn figures(
    rows: u64,
    reads: u64,
    inserts: u64,
    lineitems: u64,
    wants: &dyn Fn(&str) -> bool,
    k: &dyn Fn(u64) -> i32,
) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    let any =
        ["sql_point_select", "sql_insert", "sql_groupby", "sql_join", "tpch_q1", "tpch_q6"].iter().any(|f| wants(f));
    if !any {
        return Ok(out);
    }
    eprintln!("sql: loading memdb ({rows} rows, {lineitems} lineitems)");
    let mut memdb = MemdbSql::open(rows, lineitems, k)?;
    eprintln!("sql: loading sqlite");
    let sqlite = SqliteSql::open(rows, lineitems, k)?;
    let fig = |name: &str, unit: &'static str, m: f64, s: f64, target: &'static str| Figure {
        name: name.into(),
        unit,
        memdb: m,
        baseline: "sqlite",
        baseline_value: s,
        target,
    };
    let per_sec = |n: u64, secs: f64| n as f64 / secs.max(1e-9);
    if wants("sql_point_select") {
        eprintln!("sql: point selects");
        let m = memdb.point_selects(rows, reads)?;
        let s = sqlite.point_selects(rows, reads)?;
        out.push(fig("sql_point_select", "queries/s", per_sec(reads, m), per_sec(reads, s), ">= 1.5"));
    }
    if wants("sql_insert") {
        eprintln!("sql: inserts");
        let m = memdb.inserts(inserts)?;
        let s = sqlite.inserts(inserts)?;
        out.push(fig("sql_insert", "txn/s", per_sec(inserts, m), per_sec(inserts, s), ">= 1.5"));
    }
    let queries: [(&str, &str, &'static str); 4] = [
        ("sql_groupby", "SELECT k % 100, count(*), sum(length(c)) FROM t GROUP BY k % 100", ">= 5"),
        ("sql_join", "SELECT count(*) FROM t JOIN u ON t.k = u.id", ">= 5"),
        ("tpch_q1", Q1, "report"),
        ("tpch_q6", Q6, "report"),
    ];
    for (name, sql, target) in queries {
        if !wants(name) {
            continue;
        }
        eprintln!("sql: {name}");
        let m = memdb.best_of(sql, 3)?;
        // SQLite has no DATE literals; its dates are ISO text.
        let s = sqlite.best_of(&sql.replace("DATE '", "'"), 3)?;
        out.push(fig(name, "queries/s", 1.0 / m, 1.0 / s, target));
    }
    drop(memdb.database().clone());
    Ok(out)
}
