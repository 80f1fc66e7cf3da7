//! The engine's embedded figures (issue: engine), against SQLite in memory.
//!
//! Data, for both systems: `rows` rows of (id BIGINT primary key, k INTEGER,
//! c TEXT of 100 bytes, pad TEXT of 60 bytes) with a secondary index on k.
//! `k` is a permutation of the ids, so a range of 100 consecutive k values
//! holds exactly 100 rows. SQLite runs in memory with prepared statements;
//! its table uses `INTEGER PRIMARY KEY` (the rowid, its fastest layout).

use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use memdb_engine::{Column, Config, DataType, Database, IndexSpec, ScanRange, TableSchema, TxnOptions, Value};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;

use crate::report::{self, Figure};

/// Options of `memdb-bench embedded`.
#[derive(Args)]
pub struct Options {
    /// Rows in the table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Random point reads.
    #[arg(long, default_value_t = 1_000_000)]
    reads: u64,
    /// Single-row insert+commit transactions.
    #[arg(long, default_value_t = 100_000)]
    commits: u64,
    /// 100-row range scans.
    #[arg(long, default_value_t = 20_000)]
    scans: u64,
    /// Rows of the generated TPC-H `lineitem` (Q1, Q6).
    #[arg(long, default_value_t = 1_000_000)]
    lineitems: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Run only these figures (comma-separated: memory, bulk_insert,
    /// point_read, range_scan, insert_commit, scaling, sql_point_select,
    /// sql_insert, sql_groupby, sql_join, tpch_q1, tpch_q6); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Options {
    fn wants(&self, figure: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == figure)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
}

/// Bytes of one row's raw data: 8 (id) + 4 (k) + 100 (c) + 60 (pad).
const RAW_ROW_BYTES: f64 = 172.0;
const PRIME: u64 = 1_000_003;

struct Data {
    rows: u64,
}

impl Data {
    fn k(&self, id: u64) -> i32 {
        // A permutation of 0..rows when rows < PRIME and gcd(step, rows) = 1.
        ((id.wrapping_mul(PRIME)) % self.rows) as i32
    }
}

/// Deterministic digit text of `len` characters for row `id` (the `c` and
/// `pad` columns of every benchmark table).
pub(crate) fn text(id: u64, len: usize, salt: u64) -> String {
    let mut rng = SmallRng::seed_from_u64(id ^ (salt << 40));
    (0..len).map(|i| if i % 12 == 11 { '-' } else { char::from(b'0' + rng.random_range(0..10u8)) }).collect()
}

fn rate(count: u64, seconds: f64) -> f64 {
    count as f64 / seconds.max(1e-9)
}

/// Resident set size of the process, after asking the allocator to hand
/// freed memory back, so transient buffers do not count.
fn resident_bytes() -> u64 {
    // SAFETY: mi_collect has no preconditions; it only walks the allocator's
    // own free lists.
    unsafe { libmimalloc_sys::mi_collect(true) };
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// Runs the figures and prints them.
pub fn run(options: &Options) -> Result<()> {
    let rows = options.rows.max(1000);
    anyhow::ensure!(rows < PRIME, "--rows must be below {PRIME}");
    let data = Data { rows };
    let mut figures = Vec::new();

    // Memory first, on its own database, generating rows as they are
    // inserted so no input buffers inflate the resident size.
    let bytes_per_row = if !options.wants("memory") {
        f64::NAN
    } else {
        eprintln!("memdb: measuring memory of {rows} rows");
        let memdb = Memdb::open()?;
        let rss_before = resident_bytes();
        memdb.load_streaming(&data)?;
        let rss_after = resident_bytes();
        rss_after.saturating_sub(rss_before) as f64 / rows as f64
    };

    let engine_figures = ["bulk_insert", "point_read", "range_scan", "insert_commit", "scaling"];
    if engine_figures.iter().any(|f| options.wants(f)) {
        engine(options, &data, &mut figures)?;
    }

    if options.wants("memory") {
        figures.push(Figure {
            name: "bytes_per_row".into(),
            unit: "bytes",
            memdb: bytes_per_row,
            baseline: "raw_data",
            baseline_value: RAW_ROW_BYTES,
            target: "<= 1.5",
        });
    }

    let wants = |f: &str| options.wants(f);
    let k = |id: u64| data.k(id);
    figures.extend(crate::sql::figures(rows, options.reads, options.commits, options.lineitems, &wants, &k)?);

    match options.format {
        Format::Table => print!("{}", report::table(&figures)),
        Format::Csv => print!("{}", report::csv(&figures)),
    }
    Ok(())
}

/// The engine figures, on one loaded database per system.
fn engine(options: &Options, data: &Data, figures: &mut Vec<Figure>) -> Result<()> {
    let rows = data.rows;
    eprintln!("memdb: loading {rows} rows");
    let memdb = Memdb::open()?;
    let memdb_load = memdb.bulk_insert(data)?;
    eprintln!("sqlite: loading {rows} rows");
    let sqlite = Sqlite::open()?;
    let sqlite_load = sqlite.bulk_insert(data)?;
    if options.wants("bulk_insert") {
        figures.push(figure("bulk_insert", "rows/s", rate(rows, memdb_load), rate(rows, sqlite_load)));
    }
    let reads = options.reads;
    if options.wants("point_read") {
        eprintln!("point reads");
        let memdb_read = memdb.point_reads(data, reads, 1)?;
        let sqlite_read = sqlite.point_reads(data, reads)?;
        figures.push(figure("point_read", "reads/s", rate(reads, memdb_read), rate(reads, sqlite_read)));
    }

    if options.wants("range_scan") {
        eprintln!("range scans");
        let scans = options.scans;
        let memdb_scan = memdb.range_scans(data, scans)?;
        let sqlite_scan = sqlite.range_scans(data, scans)?;
        figures.push(figure("range_scan_100", "scans/s", rate(scans, memdb_scan), rate(scans, sqlite_scan)));
    }

    if options.wants("insert_commit") {
        eprintln!("insert+commit");
        let commits = options.commits;
        let memdb_commit = memdb.insert_commits(data, commits)?;
        let sqlite_commit = sqlite.insert_commits(data, commits)?;
        figures.push(figure("insert_commit", "txn/s", rate(commits, memdb_commit), rate(commits, sqlite_commit)));
    }

    if options.wants("scaling") {
        eprintln!("scaling");
        let one = rate(reads, memdb.point_reads(data, reads, 1)?);
        let two = rate(2 * reads, memdb.point_reads(data, reads, 2)?);
        figures.push(Figure {
            name: "scaling_point_read_2t".into(),
            unit: "reads/s",
            memdb: two,
            baseline: "memdb_1t",
            baseline_value: one,
            target: ">= 1.8",
        });
    }

    Ok(())
}

fn figure(name: &str, unit: &'static str, memdb: f64, sqlite: f64) -> Figure {
    let target = match name {
        "point_read" => ">= 3",
        _ => ">= 2",
    };
    Figure { name: name.into(), unit, memdb, baseline: "sqlite", baseline_value: sqlite, target }
}

struct Memdb {
    db: Database,
}

impl Memdb {
    fn open() -> Result<Memdb> {
        let db = Database::open(Config::memory())?;
        let mut txn = db.begin()?;
        for name in ["t", "t2"] {
            txn.create_table(
                TableSchema::new(name)
                    .column(Column::new("id", DataType::Int8))
                    .column(Column::new("k", DataType::Int4))
                    .column(Column::new("c", DataType::Text))
                    .column(Column::new("pad", DataType::Text))
                    .primary_key(["id"]),
            )?;
            txn.create_index(IndexSpec::new(name, ["k"]).named(&format!("{name}_k")))?;
        }
        txn.commit()?;
        Ok(Memdb { db })
    }

    fn row(data: &Data, id: u64) -> Vec<Value> {
        vec![
            Value::Int8(id as i64),
            Value::Int4(data.k(id)),
            Value::Text(text(id, 100, 1)),
            Value::Text(text(id, 60, 2)),
        ]
    }

    fn load_streaming(&self, data: &Data) -> Result<()> {
        let mut txn = self.db.begin()?;
        let t = txn.table("t")?;
        for id in 0..data.rows {
            txn.insert(&t, Self::row(data, id))?;
        }
        txn.commit()?;
        Ok(())
    }

    fn bulk_insert(&self, data: &Data) -> Result<f64> {
        let rows: Vec<Vec<Value>> = (0..data.rows).map(|id| Self::row(data, id)).collect();
        let start = Instant::now();
        let mut txn = self.db.begin()?;
        let t = txn.table("t")?;
        for row in rows {
            txn.insert(&t, row)?;
        }
        txn.commit()?;
        Ok(start.elapsed().as_secs_f64())
    }

    fn point_reads(&self, data: &Data, reads: u64, threads: u64) -> Result<f64> {
        let start = Instant::now();
        std::thread::scope(|scope| -> Result<()> {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let db = self.db.clone();
                    scope.spawn(move || -> Result<()> {
                        let mut rng = SmallRng::seed_from_u64(42 + t);
                        let mut txn = db.begin_with(TxnOptions::read_only(Default::default()))?;
                        let table = txn.table("t")?;
                        let mut found = 0u64;
                        for _ in 0..reads {
                            let id = rng.random_range(0..data.rows) as i64;
                            if txn.get(&table, &[Value::Int8(id)])?.is_some() {
                                found += 1;
                            }
                        }
                        anyhow::ensure!(found == reads, "memdb found {found} of {reads} rows");
                        txn.commit()?;
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| anyhow::anyhow!("reader thread panicked"))??;
            }
            Ok(())
        })?;
        Ok(start.elapsed().as_secs_f64())
    }

    fn range_scans(&self, data: &Data, scans: u64) -> Result<f64> {
        let mut rng = SmallRng::seed_from_u64(7);
        let start = Instant::now();
        let mut txn = self.db.begin_with(TxnOptions::read_only(Default::default()))?;
        let table = txn.table("t")?;
        for _ in 0..scans {
            let lo = rng.random_range(0..data.rows - 100) as i32;
            let range = ScanRange::Index {
                index: "t_k".into(),
                lower: std::ops::Bound::Included(vec![Value::Int4(lo)]),
                upper: std::ops::Bound::Excluded(vec![Value::Int4(lo + 100)]),
            };
            let mut n = 0;
            for row in txn.scan(&table, range, false)? {
                row?;
                n += 1;
            }
            anyhow::ensure!(n == 100, "memdb range scan returned {n} rows");
        }
        txn.commit()?;
        Ok(start.elapsed().as_secs_f64())
    }

    fn insert_commits(&self, data: &Data, commits: u64) -> Result<f64> {
        let rows: Vec<Vec<Value>> = (0..commits).map(|id| Self::row(data, id)).collect();
        let start = Instant::now();
        for row in rows {
            let mut txn = self.db.begin()?;
            let t = txn.table("t2")?;
            txn.insert(&t, row)?;
            txn.commit()?;
        }
        Ok(start.elapsed().as_secs_f64())
    }
}

struct Sqlite {
    conn: Connection,
}

impl Sqlite {
    fn open() -> Result<Sqlite> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "PRAGMA synchronous = OFF;
             CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, c TEXT, pad TEXT);
             CREATE INDEX t_k ON t(k);
             CREATE TABLE t2 (id INTEGER PRIMARY KEY, k INTEGER, c TEXT, pad TEXT);
             CREATE INDEX t2_k ON t2(k);",
        )?;
        Ok(Sqlite { conn })
    }

    fn bulk_insert(&self, data: &Data) -> Result<f64> {
        let rows: Vec<(i64, i32, String, String)> =
            (0..data.rows).map(|id| (id as i64, data.k(id), text(id, 100, 1), text(id, 60, 2))).collect();
        let start = Instant::now();
        self.conn.execute_batch("BEGIN")?;
        {
            let mut stmt = self.conn.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4)")?;
            for (id, k, c, pad) in &rows {
                stmt.execute(rusqlite::params![id, k, c, pad])?;
            }
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(start.elapsed().as_secs_f64())
    }

    fn point_reads(&self, data: &Data, reads: u64) -> Result<f64> {
        let mut rng = SmallRng::seed_from_u64(42);
        let start = Instant::now();
        self.conn.execute_batch("BEGIN")?;
        {
            let mut stmt = self.conn.prepare("SELECT id, k, c, pad FROM t WHERE id = ?1")?;
            let mut found = 0u64;
            for _ in 0..reads {
                let id = rng.random_range(0..data.rows) as i64;
                let mut rows = stmt.query([id])?;
                if let Some(row) = rows.next()? {
                    let _: (i64, i32, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                    found += 1;
                }
            }
            anyhow::ensure!(found == reads, "sqlite found {found} of {reads} rows");
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(start.elapsed().as_secs_f64())
    }

    fn range_scans(&self, data: &Data, scans: u64) -> Result<f64> {
        let mut rng = SmallRng::seed_from_u64(7);
        let start = Instant::now();
        self.conn.execute_batch("BEGIN")?;
        {
            let mut stmt = self.conn.prepare("SELECT id, k, c, pad FROM t WHERE k >= ?1 AND k < ?2")?;
            for _ in 0..scans {
                let lo = rng.random_range(0..data.rows - 100) as i64;
                let mut rows = stmt.query([lo, lo + 100])?;
                let mut n = 0;
                while let Some(row) = rows.next()? {
                    let _: (i64, i32, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                    n += 1;
                }
                anyhow::ensure!(n == 100, "sqlite range scan returned {n} rows");
            }
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(start.elapsed().as_secs_f64())
    }

    fn insert_commits(&self, data: &Data, commits: u64) -> Result<f64> {
        let rows: Vec<(i64, i32, String, String)> =
            (0..commits).map(|id| (id as i64, data.k(id), text(id, 100, 1), text(id, 60, 2))).collect();
        let start = Instant::now();
        let mut stmt = self.conn.prepare("INSERT INTO t2 VALUES (?1, ?2, ?3, ?4)").context("prepare")?;
        for (id, k, c, pad) in &rows {
            stmt.execute(rusqlite::params![id, k, c, pad])?;
        }
        Ok(start.elapsed().as_secs_f64())
    }
}
