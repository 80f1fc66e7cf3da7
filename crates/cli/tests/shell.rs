//! `memdb sql` driven through -c, -f and a pipe: embedded on a data
//! directory (what one run writes, the next reads), against a real server
//! with a password and over TLS, COPY in and out, meta commands, and the
//! exit codes scripts rely on (0 ok, 1 unreadable file, 2 no connection,
//! 3 a failed statement).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sql(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memdb")).arg("sql").args(args).stdin(Stdio::null()).output().expect("memdb runs")
}

fn sql_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_memdb"))
        .arg("sql")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("memdb runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn embedded_runs_keep_what_they_wrote_and_describe_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let first = sql(&[
        "--data-dir",
        data,
        "-c",
        "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric);
         CREATE INDEX items_name ON items (name);
         INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'pear', NULL)",
    ]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(stdout(&first), "CREATE TABLE\nCREATE INDEX\nINSERT 0 2\n");

    let second = sql(&["--data-dir", data, "-c", "SELECT * FROM items ORDER BY id", "-c", "\\d items", "-c", "\\dt"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let out = stdout(&second);
    assert!(
        out.starts_with(" id | name  | price\n----+-------+-------\n  1 | apple |   1.5\n  2 | pear  |\n(2 rows)\n"),
        "{out}"
    );
    assert!(out.contains("Table \"items\""), "{out}");
    assert!(out.contains(" name   | text    | not null |"), "{out}");
    assert!(out.contains("\"items_name\" CREATE INDEX items_name ON public.items"), "{out}");
    assert!(out.contains("List of tables") && out.contains(" public | items | table"), "{out}");

    let missing = sql(&["--data-dir", data, "-c", "\\d nothing"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(stderr(&missing).contains("Did not find any relation named \"nothing\""));
}

#[test]
fn scripts_stop_at_the_first_error_with_exit_code_3_unless_told_to_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.sql");
    std::fs::write(
        &script,
        "-- a comment; with a semicolon
CREATE TABLE t (id int PRIMARY KEY,
                note text);
INSERT INTO t VALUES (1, 'a;b'), (2, $$x;
y$$);
SELECT 1/0;
INSERT INTO t VALUES (3, 'after the error');
",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let stopped = sql(&["--memory", "-f", script, "-c", "SELECT 'after the file'"]);
    assert_eq!(stopped.status.code(), Some(3));
    assert_eq!(stdout(&stopped), "CREATE TABLE\nINSERT 0 2\n");
    assert!(
        stderr(&stopped).contains(&format!("{script}:6: ERROR:  division by zero (SQLSTATE 22012)")),
        "{}",
        stderr(&stopped)
    );

    let went_on = sql(&["--memory", "--continue-on-error", "-f", script, "-c", "SELECT count(*) FROM t", "-t", "-A"]);
    assert_eq!(went_on.status.code(), Some(3));
    assert_eq!(stdout(&went_on), "3\n");

    // -c and -f run in the order given.
    let ordered = sql(&["--memory", "-c", "CREATE TABLE t (id int)", "-f", script, "--continue-on-error", "-t"]);
    assert!(stderr(&ordered).contains("already exists"), "{}", stderr(&ordered));

    let unreadable = sql(&["--memory", "-f", "/no/such/file.sql"]);
    assert_eq!(unreadable.status.code(), Some(1));
    assert!(stderr(&unreadable).contains("/no/such/file.sql"));

    let bad_meta = sql(&["--memory", "-c", "\\frobnicate"]);
    assert_eq!(bad_meta.status.code(), Some(3));
    assert!(stderr(&bad_meta).contains("invalid command \\frobnicate"));
}

#[test]
fn piped_input_runs_like_a_file_with_copy_data_inline() {
    let input = "CREATE TABLE t (id int, name text);\nCOPY t FROM STDIN;\n1\tone\n2\t\\N\n\\.\n\
                 SELECT count(*) AS n FROM t;\nCOPY (SELECT * FROM t ORDER BY id) TO STDOUT;\n\\timing on\nSELECT 1\n";
    let output = sql_with_stdin(&["--memory"], input);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.starts_with("CREATE TABLE\nCOPY 2\n n\n---\n 2\n(1 row)\n\n1\tone\n2\t\\N\nTiming is on.\n"), "{out}");
    assert!(out.contains("Time: "), "{out}");
}

#[test]
fn against_a_server_with_a_password_and_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let port = common::free_port();
    let data = dir.path().join("data");
    let _server = common::start(
        &data,
        &["--durability", "memory-only", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
        "superuser_password = \"pw\"\n",
        port,
    );
    let url = format!("host=localhost port={port} user=memdb password=pw dbname=memdb sslmode=require");
    let cert = cert.to_str().unwrap();
    let ok = sql(&[
        &url,
        "--ca-cert",
        cert,
        "-c",
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2) RETURNING id",
        "-c",
        "\\conninfo",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(
        stdout(&ok),
        format!(
            "CREATE TABLE\n id\n----\n  1\n  2\n(2 rows)\n\nINSERT 0 2\n\
             You are connected to the server at localhost:{port} as user \"memdb\".\n"
        )
    );

    // A pg_dump-style script: comments before COPY, data inline.
    let script = dir.path().join("dump.sql");
    std::fs::write(
        &script,
        "--\n-- Data for Name: t; Type: TABLE DATA\n--\n\nCOPY public.t (id) FROM stdin;\n3\n4\n\\.\n\
         -- count them\nSELECT count(*) FROM t;\n",
    )
    .unwrap();
    let loaded = sql(&[&url, "--ca-cert", cert, "-f", script.to_str().unwrap(), "-t", "-A"]);
    assert_eq!(loaded.status.code(), Some(0), "{}", stderr(&loaded));
    assert_eq!(stdout(&loaded), "4\n");

    let wrong = sql(&[
        &format!("host=localhost port={port} user=memdb password=nope sslmode=require"),
        "--ca-cert",
        cert,
        "-c",
        "SELECT 1",
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("password authentication failed for user \"memdb\""), "{}", stderr(&wrong));

    // Without TLS the server (TLS required by default) refuses, and says how.
    let plain = sql(&[&format!("postgres://memdb:pw@localhost:{port}/memdb"), "-c", "SELECT 1"]);
    assert_eq!(plain.status.code(), Some(2));
    assert!(stderr(&plain).contains("sslmode=require"), "{}", stderr(&plain));

    let nobody = sql(&[&format!("postgres://127.0.0.1:{}/memdb", common::free_port()), "-c", "SELECT 1"]);
    assert_eq!(nobody.status.code(), Some(2));
    assert!(stderr(&nobody).contains("cannot connect"), "{}", stderr(&nobody));
}
