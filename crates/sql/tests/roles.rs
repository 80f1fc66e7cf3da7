//! Users, roles and privileges through SQL: CREATE/ALTER/DROP ROLE|USER,
//! GRANT/REVOKE of table privileges and memberships, the predefined roles,
//! sessions acting for a role, API keys, and pg_roles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memdb_engine::{Config, Database, Value};
use memdb_sql::Session;

fn admin() -> (Arc<Database>, Session) {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db.clone(), "memdb");
    s.execute("CREATE ROLE memdb SUPERUSER LOGIN PASSWORD 'root'").unwrap();
    s.act_as(Some("memdb"));
    s.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").unwrap();
    s.execute("CREATE TABLE secret (id int PRIMARY KEY)").unwrap();
    s.execute("INSERT INTO t VALUES (1, 'a')").unwrap();
    (db, s)
}

fn session_as(db: &Arc<Database>, user: &str) -> Session {
    let mut s = Session::new(db.clone(), user);
    s.act_as(Some(user));
    s
}

fn code(s: &mut Session, sql: &str) -> String {
    match s.execute(sql) {
        Ok(r) => format!("ok {}", r.tag),
        Err(e) => e.sqlstate().to_owned(),
    }
}

#[test]
fn grants_decide_what_a_role_may_read_and_write() {
    let (db, mut admin) = admin();
    admin.execute("CREATE USER alice WITH PASSWORD 'pw'").unwrap();
    admin.execute("GRANT SELECT, INSERT ON t TO alice").unwrap();
    let mut alice = session_as(&db, "alice");
    assert_eq!(alice.execute("SELECT v FROM t").unwrap().rows, vec![vec![Value::Text("a".into())]]);
    assert_eq!(code(&mut alice, "INSERT INTO t VALUES (2, 'b')"), "ok INSERT 0 1");
    assert_eq!(code(&mut alice, "UPDATE t SET v = 'x'"), "42501");
    assert_eq!(code(&mut alice, "DELETE FROM t"), "42501");
    assert_eq!(code(&mut alice, "SELECT * FROM secret"), "42501");
    assert_eq!(code(&mut alice, "SELECT * FROM t JOIN secret USING (id)"), "42501");
    assert_eq!(code(&mut alice, "CREATE TABLE mine (a int)"), "42501");
    assert_eq!(code(&mut alice, "DROP TABLE t"), "42501");
    assert_eq!(code(&mut alice, "CREATE ROLE eve"), "42501");
    assert_eq!(code(&mut alice, "GRANT ALL ON secret TO alice"), "42501");
    // The error names the table, as PostgreSQL's does.
    let e = alice.execute("SELECT * FROM secret").unwrap_err();
    assert_eq!(e.to_string(), "permission denied for table secret");

    admin.execute("REVOKE INSERT ON t FROM alice").unwrap();
    assert_eq!(code(&mut alice, "INSERT INTO t VALUES (3, 'c')"), "42501");
    admin.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO alice").unwrap();
    assert_eq!(code(&mut alice, "DELETE FROM secret"), "ok DELETE 0");
    admin.execute("REVOKE ALL ON secret FROM alice").unwrap();
    admin.execute("GRANT SELECT ON secret TO PUBLIC").unwrap();
    assert_eq!(code(&mut alice, "SELECT * FROM secret"), "ok SELECT 0");
}

#[test]
fn predefined_roles_and_memberships() {
    let (db, mut admin) = admin();
    admin.execute("CREATE ROLE reader LOGIN PASSWORD 'pw' IN ROLE pg_read_all_data").unwrap();
    admin.execute("CREATE ROLE writers").unwrap();
    admin.execute("CREATE USER bob PASSWORD 'pw'").unwrap();
    admin.execute("GRANT writers TO bob").unwrap();
    admin.execute("GRANT pg_write_all_data, pg_read_all_data TO writers").unwrap();

    let mut reader = session_as(&db, "reader");
    assert_eq!(code(&mut reader, "SELECT * FROM secret"), "ok SELECT 0");
    assert_eq!(code(&mut reader, "INSERT INTO secret VALUES (1)"), "42501");

    let mut bob = session_as(&db, "bob");
    assert_eq!(code(&mut bob, "INSERT INTO secret VALUES (1)"), "ok INSERT 0 1");
    admin.execute("REVOKE writers FROM bob").unwrap();
    assert_eq!(code(&mut bob, "INSERT INTO secret VALUES (2)"), "42501");
    assert_eq!(code(&mut admin, "GRANT bob TO writers"), "ok GRANT ROLE");
    assert_eq!(code(&mut admin, "GRANT writers TO bob"), "0LP01", "membership loop");
    assert_eq!(code(&mut admin, "GRANT nobody TO bob"), "42704");
    assert_eq!(code(&mut admin, "GRANT SELECT ON t TO nobody"), "42704");
    assert_eq!(code(&mut admin, "GRANT SELECT ON missing TO bob"), "42P01");
    assert_eq!(code(&mut admin, "CREATE ROLE bob"), "42710");
    assert_eq!(code(&mut admin, "CREATE ROLE pg_mine"), "22023");
    assert_eq!(code(&mut admin, "DROP ROLE pg_read_all_data"), "42501");
}

#[test]
fn roles_are_listed_altered_and_dropped() {
    let (db, mut admin) = admin();
    admin.execute("CREATE USER carol PASSWORD 'one' VALID UNTIL '2100-01-01'").unwrap();
    admin.execute("CREATE ROLE team").unwrap();
    let rows = admin
        .execute("SELECT rolname, rolsuper, rolcanlogin, rolpassword FROM pg_roles ORDER BY rolname")
        .unwrap()
        .rows;
    let names: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(names, ["carol", "memdb", "pg_read_all_data", "pg_write_all_data", "team"]);
    assert_eq!(rows[0][2], Value::Bool(true), "CREATE USER can log in");
    assert_eq!(rows[4][2], Value::Bool(false), "CREATE ROLE cannot by default");
    assert_eq!(rows[0][3], Value::Text("********".into()));

    // Stored as a SCRAM verifier, or md5 when asked.
    let verifier = |db: &Arc<Database>, name: &str| {
        db.begin().unwrap().security().role(name).unwrap().password.clone().unwrap_or_default()
    };
    assert!(verifier(&db, "carol").starts_with("SCRAM-SHA-256$4096:"));
    assert!(memdb_auth::check_password(&verifier(&db, "carol"), "carol", "one"));
    admin.execute("SET password_encryption = 'md5'").unwrap();
    admin.execute("ALTER USER carol WITH PASSWORD 'two'").unwrap();
    assert!(verifier(&db, "carol").starts_with("md5"));
    assert!(memdb_auth::check_password(&verifier(&db, "carol"), "carol", "two"));
    assert_eq!(code(&mut admin, "SET password_encryption = 'plain'"), "22023");

    // A role may change its own password, not another's.
    let mut carol = session_as(&db, "carol");
    assert_eq!(code(&mut carol, "ALTER ROLE carol PASSWORD 'three'"), "ok ALTER ROLE");
    assert!(memdb_auth::check_password(&verifier(&db, "carol"), "carol", "three"));
    assert_eq!(code(&mut carol, "ALTER ROLE memdb PASSWORD 'x'"), "42501");
    assert_eq!(code(&mut carol, "ALTER ROLE carol SUPERUSER"), "42501");

    admin.execute("ALTER ROLE team RENAME TO crew").unwrap();
    admin.execute("ALTER ROLE crew LOGIN").unwrap();
    assert!(db.begin().unwrap().security().role("crew").unwrap().login);
    assert_eq!(code(&mut admin, "DROP ROLE memdb"), "55006", "the current user");
    admin.execute("DROP USER carol, crew").unwrap();
    assert_eq!(code(&mut admin, "DROP ROLE carol"), "42704");
    assert_eq!(code(&mut admin, "DROP ROLE IF EXISTS carol"), "ok DROP ROLE");
}

#[test]
fn role_changes_roll_back_with_their_transaction() {
    let (db, mut admin) = admin();
    admin.execute("BEGIN").unwrap();
    admin.execute("CREATE ROLE temp").unwrap();
    admin.execute("GRANT SELECT ON t TO temp").unwrap();
    admin.execute("ROLLBACK").unwrap();
    assert!(db.begin().unwrap().security().role("temp").is_none());
}

#[test]
fn api_keys_are_shown_once_and_stored_hashed() {
    let (db, mut admin) = admin();
    admin.execute("CREATE ROLE service").unwrap();
    let r = admin.execute("CALL memdb_create_api_key('service', 'ci', '30 days')").unwrap();
    let [Value::Text(id), Value::Text(key), Value::Text(role), Value::TimestampTz(_)] = r.rows[0].as_slice() else {
        panic!("{:?}", r.rows)
    };
    assert_eq!(role, "service");
    let (kid, secret) = memdb_auth::apikey::parse(key).unwrap();
    assert_eq!(kid, id);
    let stored = db.begin().unwrap().security().api_key(id).unwrap().clone();
    assert!(!stored.hash.contains(secret));
    assert!(memdb_auth::apikey::verify_secret(&stored.hash, secret));
    assert_eq!(code(&mut admin, "CALL memdb_create_api_key('nobody')"), "42704");
    let mut service = session_as(&db, "service");
    assert_eq!(code(&mut service, "CALL memdb_create_api_key('service')"), "42501");
    admin.execute(&format!("CALL memdb_drop_api_key('{id}')")).unwrap();
    assert!(db.begin().unwrap().security().api_key(id).is_none());
    assert_eq!(code(&mut admin, &format!("CALL memdb_drop_api_key('{id}')")), "42704");
}

#[test]
fn pg_stats_shows_only_tables_the_role_may_read() {
    let (db, mut admin) = admin();
    admin.execute("INSERT INTO secret SELECT g FROM generate_series(1, 50) g").unwrap();
    admin.execute("ANALYZE").unwrap();
    admin.execute("CREATE USER alice WITH PASSWORD 'pw'").unwrap();
    admin.execute("GRANT SELECT ON t TO alice").unwrap();
    let tables = |s: &mut Session| {
        let r = s.execute("SELECT DISTINCT tablename FROM pg_stats ORDER BY 1").unwrap();
        r.rows.into_iter().map(|row| row[0].to_string()).collect::<Vec<_>>()
    };
    assert_eq!(tables(&mut admin), ["secret", "t"]);
    let mut alice = session_as(&db, "alice");
    assert_eq!(tables(&mut alice), ["t"]);
    // Analyzing a table the role may not read is skipped with a warning.
    assert_eq!(code(&mut alice, "ANALYZE secret"), "ok ANALYZE");
    assert!(alice.take_notices().iter().any(|(_, n)| n.message.contains("skipping")));
}
