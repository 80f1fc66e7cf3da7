//! `COPY … FROM STDIN` through the session with large chunks (as the
//! server hands over gathered CopyData): every record loads in order,
//! records torn across chunks included, and an error anywhere in a chunk
//! fails the whole load with the record's line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memdb_engine::{Config, Database, Value};
use memdb_sql::Session;

fn session() -> Session {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE t (a int PRIMARY KEY, b text, c char(5))").unwrap();
    s
}

/// Records `from..to` as COPY text, `c` left empty (padded on store).
fn records(from: i64, to: i64) -> Vec<u8> {
    (from..to).flat_map(|i| format!("{i}\tvalue number {i}\t\n").into_bytes()).collect()
}

fn start_copy(s: &mut Session) {
    let outcomes = s.run_outcomes("COPY t FROM STDIN");
    assert!(outcomes.into_iter().all(|o| o.is_ok()));
    assert!(s.copy_in_progress());
}

fn count(s: &mut Session) -> Value {
    s.execute("SELECT count(*) FROM t").unwrap().rows[0][0].clone()
}

#[test]
fn large_chunks_load_every_record_in_order() {
    let mut s = session();
    start_copy(&mut s);
    let data = records(0, 60_000);
    // Three large chunks, each cutting a record in two, then a small one.
    let cuts = [0, 200_001, 700_003, data.len() - 10, data.len()];
    for w in cuts.windows(2) {
        s.copy_data(&data[w[0]..w[1]]).unwrap();
    }
    assert_eq!(s.copy_done().unwrap().tag, "COPY 60000");
    let row = &s.execute("SELECT count(*), sum(a), min(b), max(length(b)) FROM t").unwrap().rows[0];
    assert_eq!(row[0], Value::Int8(60_000));
    assert_eq!(row[1], Value::Int8(1_799_970_000));
    assert_eq!(row[2], Value::Text("value number 0".into()));
    let last = &s.execute("SELECT b, c, octet_length(c) FROM t WHERE a = 59999").unwrap().rows[0];
    assert_eq!(last[0], Value::Text("value number 59999".into()));
    assert_eq!(last[2], Value::Int4(5), "char(5) is stored padded");
}

#[test]
fn an_error_deep_in_a_large_chunk_fails_the_whole_load_with_its_line() {
    let mut s = session();
    start_copy(&mut s);
    s.copy_data(&records(0, 20_000)).unwrap();
    let mut bad = records(20_000, 40_000);
    bad.extend_from_slice(b"40000\tno third field\n");
    bad.extend_from_slice(&records(40_001, 50_000));
    let err = s.copy_data(&bad).unwrap_err();
    assert_eq!(err.sqlstate(), "22P04");
    assert!(err.to_string().contains("line 40001"), "{err}");
    assert!(!s.copy_in_progress());
    assert_eq!(count(&mut s), Value::Int8(0), "nothing of a failed COPY stays");

    // A value of the wrong type, and a duplicate key, in large chunks.
    start_copy(&mut s);
    let mut bad = records(0, 30_000);
    bad.extend_from_slice(b"not-a-number\tx\t\n");
    assert_eq!(s.copy_data(&bad).unwrap_err().sqlstate(), "22P02");
    start_copy(&mut s);
    let mut dup = records(0, 30_000);
    dup.extend_from_slice(&records(29_999, 30_000));
    assert_eq!(s.copy_data(&dup).unwrap_err().sqlstate(), "23505");
    assert_eq!(count(&mut s), Value::Int8(0));

    // The session goes on.
    start_copy(&mut s);
    s.copy_data(&records(0, 30_000)).unwrap();
    assert_eq!(s.copy_done().unwrap().tag, "COPY 30000");
    assert_eq!(count(&mut s), Value::Int8(30_000));
}

/// A table without indexes or constraints takes each record straight
/// from its text (the bulk path): values, padding, a dropped column, NOT
/// NULL and bad values behave as on the usual path, and an index built
/// afterwards finds every row.
#[test]
fn unindexed_tables_load_from_text_with_the_usual_rules() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE u (a int NOT NULL, gone text, b bigint, c char(4), d varchar(3), e numeric(6,2), f date)")
        .unwrap();
    s.execute("ALTER TABLE u DROP COLUMN gone").unwrap();
    let outcomes = s.run_outcomes("COPY u FROM STDIN");
    assert!(outcomes.into_iter().all(|o| o.is_ok()));
    s.copy_data(b"1\t-9000000000\tab\txy \t12.345\t2024-02-29\n2\t\\N\t\\N\t\\N\t\\N\t\\N\n").unwrap();
    s.copy_data(b" 3 \t+7\t\xc3\xa9t\xc3\xa9\tz\t-1\t1999-12-31\n").unwrap();
    assert_eq!(s.copy_done().unwrap().tag, "COPY 3");
    let rows = s.execute("SELECT a, b, c, octet_length(c), d, e, f::text FROM u ORDER BY a").unwrap().rows;
    assert_eq!(
        rows[0],
        vec![
            Value::Int4(1),
            Value::Int8(-9_000_000_000),
            Value::Text("ab  ".into()),
            Value::Int4(4),
            Value::Text("xy ".into()),
            Value::Numeric("12.35".parse().unwrap()),
            Value::Text("2024-02-29".into()),
        ]
    );
    assert_eq!(rows[1][1..], vec![Value::Null; 6][..]);
    assert_eq!(
        rows[2][..5],
        [Value::Int4(3), Value::Int8(7), Value::Text("été ".into()), Value::Int4(6), Value::Text("z".into())]
    );

    for (data, code) in [
        (&b"\\N\t1\ta\tb\t1\t2000-01-01\n"[..], "23502"),
        (b"4\t1\ta\tlong\t1\t2000-01-01\n", "22001"),
        (b"4\tx\ta\tb\t1\t2000-01-01\n", "22P02"),
        (b"4\t1\ta\tb\t10000\t2000-01-01\n", "22003"),
    ] {
        assert!(s.run_outcomes("COPY u FROM STDIN").into_iter().all(|o| o.is_ok()));
        s.copy_data(b"5\t5\ta\tb\t1\t2000-01-01\n").unwrap();
        let err = s.copy_data(data).and_then(|()| s.copy_done().map(|_| ())).unwrap_err();
        assert_eq!(err.sqlstate(), code, "{err}");
    }
    assert_eq!(s.execute("SELECT count(*) FROM u").unwrap().rows[0][0], Value::Int8(3), "failed loads left nothing");

    s.execute("CREATE INDEX u_b ON u (b)").unwrap();
    let found = s.execute("SELECT a FROM u WHERE b = 7").unwrap().rows;
    assert_eq!(found, vec![vec![Value::Int4(3)]]);
}

/// Columns left out of the load take their defaults, also those only SQL
/// computes (a random uuid per record, date arithmetic).
#[test]
fn defaults_the_engine_cannot_compute_are_filled_per_record() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE d (n int, id uuid DEFAULT gen_random_uuid(), due date DEFAULT CURRENT_DATE + 7)").unwrap();
    let outcomes = s.run_outcomes("COPY d (n) FROM STDIN");
    assert!(outcomes.into_iter().all(|o| o.is_ok()));
    s.copy_data(b"1\n2\n3\n").unwrap();
    assert_eq!(s.copy_done().unwrap().tag, "COPY 3");
    let r = s.execute("SELECT count(DISTINCT id), min(due - CURRENT_DATE), max(due - CURRENT_DATE) FROM d").unwrap();
    assert_eq!(r.rows, vec![vec![Value::Int8(3), Value::Int4(7), Value::Int4(7)]]);
}
