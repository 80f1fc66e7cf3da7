//! Real PostgreSQL clients against the server: `pgbench` (initialization
//! with COPY, then the built-in scripts in every query mode), `sysbench`'s
//! pgsql driver (prepare, run and cleanup of its OLTP workloads) and `psql`.
//! Each test says so and passes vacuously when its client is not
//! installed (`.ci/run` installs them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::TestServer;

/// Whether a program is on the PATH.
fn have(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn run(server: &TestServer, program: &str, args: &[&str]) -> Output {
    let port = server.addr.port().to_string();
    let mut cmd = Command::new(program);
    cmd.args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"]).args(args).env("PGCONNECT_TIMEOUT", "10");
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The "number of failed transactions" pgbench reports.
fn failed_transactions(output: &Output) -> u64 {
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("pgbench summary")
}

#[test]
fn pgbench_initializes_and_runs_every_builtin_script_in_every_mode() {
    if !have("pgbench") {
        eprintln!("SKIPPED: pgbench is not installed (apt-get install postgresql-client)");
        return;
    }
    let server = TestServer::start();
    run(&server, "pgbench", &["-i", "-s", "1", "postgres"]);
    // Server-side generation goes through INSERT … SELECT generate_series.
    run(&server, "pgbench", &["-i", "-I", "dtGvp", "-s", "1", "postgres"]);
    // One run with pgbench's own vacuum/truncate steps, then `-n` runs, so
    // that the history keeps every transaction for the check below.
    run(&server, "pgbench", &["-c", "2", "-t", "10", "postgres"]);
    run(
        &server,
        "psql",
        &[
            "-c",
            "truncate pgbench_history; update pgbench_accounts set abalance = 0; update pgbench_tellers set tbalance = 0; update pgbench_branches set bbalance = 0",
            "postgres",
        ],
    );
    for script in ["tpcb-like", "simple-update", "select-only"] {
        for mode in ["simple", "extended", "prepared"] {
            let out = run(
                &server,
                "pgbench",
                &["-n", "-b", script, "-M", mode, "-c", "4", "-j", "2", "-t", "50", "postgres"],
            );
            assert_eq!(failed_transactions(&out), 0, "{script} -M {mode}");
        }
    }
    // The balances add up: every transaction recorded its delta in the
    // history and applied it to an account (tpcb-like also to a teller and
    // its branch).
    let out = run(
        &server,
        "psql",
        &[
            "-At",
            "-c",
            "select (select sum(abalance) from pgbench_accounts) = (select sum(delta) from pgbench_history) \
             and (select sum(tbalance) from pgbench_tellers) = (select sum(bbalance) from pgbench_branches)",
            "postgres",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t");
}

/// A figure from sysbench's summary, e.g. `transactions:` or `ignored errors:`.
fn sysbench_count(text: &str, label: &str) -> u64 {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no '{label}' in sysbench's output:\n{text}"))
}

#[test]
fn sysbench_prepares_runs_and_cleans_up_its_oltp_workloads() {
    if !have("sysbench") {
        eprintln!("SKIPPED: sysbench is not installed (apt-get install sysbench)");
        return;
    }
    let server = TestServer::start();
    let port = server.addr.port().to_string();
    let sysbench = |workload: &str, step: &str, extra: &[&str]| {
        let out = Command::new("sysbench")
            .args(["--db-driver=pgsql", "--pgsql-host=127.0.0.1", "--pgsql-user=postgres", "--pgsql-db=postgres"])
            .arg(format!("--pgsql-port={port}"))
            .args(["--tables=2", "--table-size=10000"])
            .args(extra)
            .args([workload, step])
            .output()
            .expect("run sysbench");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "sysbench {workload} {step} failed:\n{text}");
        text
    };
    for workload in ["oltp_point_select", "oltp_read_only", "oltp_read_write", "oltp_insert"] {
        sysbench(workload, "prepare", &[]);
        // A failed query that sysbench does not count as ignorable (its
        // pgsql driver ignores only deadlocks and duplicate keys, which
        // concurrent writers of the same rows meet on PostgreSQL too)
        // fails the run.
        let text = sysbench(workload, "run", &["--threads=4", "--time=2"]);
        assert!(sysbench_count(&text, "transactions:") > 0, "{workload}:\n{text}");
        assert_eq!(sysbench_count(&text, "reconnects:"), 0, "{workload}:\n{text}");
        if workload != "oltp_read_write" {
            assert_eq!(sysbench_count(&text, "ignored errors:"), 0, "{workload}:\n{text}");
        }
        sysbench(workload, "cleanup", &[]);
        let out = run(
            &server,
            "psql",
            &["-At", "-c", "select count(*) from pg_class where relname like 'sbtest%'", "postgres"],
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0", "{workload} cleanup dropped its tables");
    }
}

#[test]
fn psql_runs_scripts_with_copy_and_reports_errors() {
    if !have("psql") {
        eprintln!("SKIPPED: psql is not installed (apt-get install postgresql-client)");
        return;
    }
    let server = TestServer::start();
    let script = "create table t (id int primary key, name text);\n\
                  copy t from stdin with (format csv);\n1,one\n2,\"two, too\"\n\\.\n\
                  select name from t order by id;\n";
    let dir = std::env::temp_dir().join(format!("memdb-psql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script.sql");
    std::fs::write(&file, script).unwrap();
    let out = run(&server, "psql", &["-At", "-v", "ON_ERROR_STOP=1", "-f", file.to_str().unwrap(), "postgres"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("one\ntwo, too"), "{stdout}");

    let port = server.addr.port().to_string();
    let bad = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c", "select * from nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("does not exist"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A plain-format `pg_dump` of a PostgreSQL 15 database (serial and
/// identity columns, a sequence, a view, COPY data, constraints and indexes
/// added after the data, `OWNER TO` on everything), restored with psql as
/// a user would restore it: every statement must succeed, and the restored
/// tables must keep working (defaults draw from the restored sequences).
#[test]
fn psql_restores_a_pg_dump() {
    if !have("psql") {
        eprintln!("SKIPPED: psql is not installed (apt-get install postgresql-client)");
        return;
    }
    let server = TestServer::start();
    let dump = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pg_dump.sql");
    run(&server, "psql", &["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", dump, "postgres"]);
    let query = |sql: &str| {
        let out = run(&server, "psql", &["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, "postgres"]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(query("SELECT count(*) FROM customers"), "3");
    assert_eq!(query("SELECT string_agg(email, ',' ORDER BY id) FROM big_orders"), "a@x.org,a@x.org");
    assert_eq!(query("INSERT INTO customers (email) VALUES ('d@x.org') RETURNING id"), "4");
    assert_eq!(query("INSERT INTO orders (customer_id, total) VALUES (4, 1) RETURNING id"), "4");
    assert_eq!(query("SELECT nextval('invoice_seq')"), "1005");
    assert_eq!(query("SELECT meta->'nested'->'a'->>1 FROM orders WHERE id = 3"), "2");
    // The constraints restored after the data hold.
    let port = server.addr.port().to_string();
    let duplicate = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-X", "-c"])
        .arg("INSERT INTO customers (email) VALUES ('a@x.org')")
        .arg("postgres")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("customers_email_key"), "{duplicate:?}");
}

#[test]
fn psql_describe_commands_show_the_catalog() {
    if !have("psql") {
        eprintln!("SKIPPED: psql is not installed (apt-get install postgresql-client)");
        return;
    }
    let server = TestServer::start();
    run(
        &server,
        "psql",
        &[
            "-c",
            "create table parent (id int primary key, name varchar(20) not null default 'x', qty int unique, \
             check (qty > 0)); create index parent_name on parent (name); \
             create table child (id serial primary key, pid int references parent(id) on delete cascade); \
             create view v as select id from parent",
            "postgres",
        ],
    );
    let describe = |command: &str| -> String {
        let out = run(&server, "psql", &["-X", "-c", command, "postgres"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("ERROR"), "{command}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tables = describe("\\dt");
    assert!(tables.contains("parent") && tables.contains("child") && tables.contains("table"), "{tables}");
    let all = describe("\\d");
    assert!(all.contains("child_id_seq") && all.contains("sequence") && all.contains("view"), "{all}");
    let parent = describe("\\d parent");
    for expected in [
        "Table \"public.parent\"",
        "character varying(20)",
        "'x'::",
        "not null",
        "\"parent_pkey\" PRIMARY KEY, btree (id)",
        "\"parent_qty_key\" UNIQUE CONSTRAINT, btree (qty)",
        "\"parent_name\" btree (name)",
        "CHECK ((qty > 0))",
        "Referenced by:",
        "TABLE \"child\" CONSTRAINT \"child_pid_fkey\" FOREIGN KEY (pid) REFERENCES parent(id) ON DELETE CASCADE",
    ] {
        assert!(parent.contains(expected), "missing {expected:?} in:\n{parent}");
    }
    let child = describe("\\d child");
    assert!(child.contains("nextval('child_id_seq'::regclass)"), "{child}");
    assert!(child.contains("Foreign-key constraints:"), "{child}");
    let indexes = describe("\\di");
    assert!(indexes.contains("parent_name") && indexes.contains("child_pkey"), "{indexes}");
    assert!(describe("\\l").contains("UTF8"));
    assert!(describe("\\du").contains("Superuser"));
    assert!(describe("\\dn").contains("public"));
    assert!(describe("\\d parent_pkey").contains("primary key, btree, for table \"public.parent\""));
}
